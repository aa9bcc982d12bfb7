// One Kubernetes resource kept in sync with the API server, whatever the
// network and the server do.
//
// What @kubernetes/client-node 1.4 already does (used as designed):
// - ListWatch: list, then watch from the list's resourceVersion; an object
//   cache; on a relist, DELETE callbacks for objects that vanished and
//   ADD/UPDATE for the rest (unchanged resourceVersions are skipped); the
//   resourceVersion follows every event and bookmark; a 410 (an HTTP 410 on
//   the watch, or an ERROR event with code 410) empties it, so the next
//   round relists; a watch the server closes cleanly is resumed at once from
//   the last resourceVersion.
// - Watch: the HTTP streaming protocol (URL, auth, TLS from the KubeConfig,
//   one JSON event per line, TCP keep-alive on the socket).
// - The generated list APIs: typed lists with limit/continue.
//
// What the library leaves to the caller, added here:
// - Errors: ListWatch stops on any error other than 410 and only reports it.
//   We restart it after an exponential backoff with jitter, capped, reset
//   once the server answers again.
// - Dead connections, without relying on bookmarks (a real API server sends
//   none on a watch of a resource that does not change: a quiet watch is
//   silent for many minutes, and that is no failure):
//   - TCP keep-alive on every watch connection, probes after `keepAliveMs`
//     idle, then every second, ten of them (libuv's setting): a peer that
//     vanished (node or API server gone, a NAT or load balancer that lost
//     the connection) is noticed within keepAliveMs + ~10 s. The library
//     sets its own 30 s once the response is in; ours is set after it.
//   - Each watch asks the server to end it after `timeoutSeconds` (a random
//     session length, as client-go does) and is given up if the server has
//     not ended it `graceMs` later: a connection that still answers TCP but
//     whose stream is stuck (a hung server) is left within a session.
//   Bookmarks are still asked for: they keep the resume point fresh, an
//   optimisation only. Waiting for response headers is bounded by
//   node-fetch's `timeout`, lists by an abort signal.
// - A 410 Gone (resume point too old) is logged at info with the resource
//   and both resourceVersions once the relist is done.
// - Hammering: a watch that the server ends at once without a single event
//   counts as a failure (backoff), instead of the library's immediate retry.
// - Big lists are read in pages (limit/continue); an expired continue token
//   (410) restarts the list.
// - A resource that is not served (404: a CRD not installed) counts as
//   "no objects": it does not hold up the first sync, and is retried.
// - whenSynced(): resolves after the first full list is in the cache.
// - The cache holds each object in the caller's compact form (`compact`,
//   client-go's transform), not as the API server sent it.
import {
  ApiException,
  KubeConfig,
  ListWatch,
  Watch,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type http from 'node:http';
import type https from 'node:https';
import type net from 'node:net';
import type { Logger } from 'pino';

/** One page of a list, as the table's list functions return it. */
export interface RawList {
  items: KubernetesObject[];
  resourceVersion: string;
  continueToken?: string;
}

export interface ListPage {
  limit: number;
  _continue?: string;
  /** Called (at most once) with the page's continue token as soon as it is
   *  known, before the page's items are in: the next page can be asked for
   *  while this one is still read (listAll). The token the page returns
   *  decides; this is a hint. */
  onContinue?: (token: string) => void;
}

export type CacheEvent = 'add' | 'update' | 'delete' | 'reset';

/** Lists one page; `signal` aborts the request (timeout, stop). */
export type ListFn = (page: ListPage, signal: AbortSignal) => Promise<RawList>;

/** A page asked for by listAll: for `token` (undefined: the first page). */
interface PageRequest {
  token: string | undefined;
  page: Promise<RawList>;
  abort: AbortController;
  /** this page's continue token, once it is known before the page is in */
  early?: string;
  /** called with it then */
  onToken?: (token: string) => void;
}

export interface InformerOptions {
  kind: string;
  /** collection path, all namespaces, e.g. /api/v1/pods */
  path: string;
  list: ListFn;
  /** 404 means "not installed" (a CRD): no objects, retried */
  optional: boolean;
  kubeConfig: KubeConfig;
  log: Logger;
  /** bound on one list request, and on the wait for a watch's response headers;
   *  also how long after its timeoutSeconds a watch the server has not ended is given up */
  requestTimeoutMs: number;
  /** TCP keep-alive idle time on watch connections (probes every 1 s, 10 of them, after it) */
  keepAliveMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  pageSize: number;
  /** the server ends each watch after this long (timeoutSeconds, randomized between 1x and 2x) */
  watchSessionSeconds: number;
  /** the cache changed: an object added, replaced or deleted, or all of them
   *  dropped ('reset': the resource is not served any more) */
  onChange: (event: CacheEvent) => void;
  /** What the cache keeps of each listed or watched object (client-go's
   *  transform): the caller's compact form, so the full objects the API
   *  server sends are garbage as soon as they are read. Must keep
   *  metadata.name, namespace and resourceVersion (the cache's keys and its
   *  resume point). Default: the object as sent. */
  compact?: (obj: KubernetesObject) => KubernetesObject;
}

/**
 * Exponential backoff, capped, with "equal jitter": half of the delay is
 * fixed (never an instant retry), half random (agents on many nodes do not
 * retry in step after an API server restart).
 */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return ceiling / 2 + (this.random() * ceiling) / 2;
  }

  reset(): void {
    this.failures = 0;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }
}

/** HTTP status carried by an error of the library (list: ApiException.code; watch: statusCode). */
export function errorStatus(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  if (typeof err === 'object' && err !== null) {
    const { statusCode, code } = err as { statusCode?: unknown; code?: unknown };
    if (typeof statusCode === 'number') return statusCode;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

function errorText(err: unknown): string {
  if (err instanceof ApiException) return `HTTP ${err.code}`;
  if (err instanceof Error) return err.message.split('\n', 1)[0] ?? err.name;
  return String(err);
}

/**
 * The library's Watch takes its fetch options from the KubeConfig; this one
 * adds node-fetch's `timeout`, which bounds the wait for the response headers
 * only, and TCP keep-alive on the connections it opens (reported to
 * `onSocket`, for the watch to set it again after the library).
 */
class WatchConfig extends KubeConfig {
  onSocket: ((socket: net.Socket) => void) | undefined;

  constructor(
    base: KubeConfig,
    private readonly timeoutMs: number,
    private readonly keepAliveMs: number,
  ) {
    super();
    this.loadFromOptions({
      clusters: base.clusters,
      users: base.users,
      contexts: base.contexts,
      currentContext: base.currentContext,
    });
  }

  override async applyToFetchOptions(opts: https.RequestOptions): ReturnType<KubeConfig['applyToFetchOptions']> {
    const out = await super.applyToFetchOptions(opts);
    const agent = out.agent as (http.Agent & { createConnection?: AgentConnect }) | undefined;
    const create = agent?.createConnection;
    if (agent !== undefined && typeof create === 'function') {
      // One agent per watch (the library makes a new one per call): this
      // wraps only the connections of this watch.
      agent.createConnection = (options, callback) => {
        const socket = create.call(agent, options, callback);
        socket.setKeepAlive(true, this.keepAliveMs);
        this.onSocket?.(socket);
        return socket;
      };
    }
    return { ...out, timeout: this.timeoutMs };
  }
}

type AgentConnect = (options: object, callback?: (err: Error | null, socket: net.Socket) => void) => net.Socket;

type WatchCallback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;
type WatchParams = Record<string, string | number | boolean | undefined>;

interface WatchHooks {
  /** called as a watch starts, before any request: delay (ms) before it may connect */
  beforeConnect(): number;
  /** a line arrived (event, bookmark or error) */
  onLine(): void;
  /** the server refused the resume point (410): `from` is the resourceVersion the watch asked for */
  onExpired(from: string, reason: string): void;
  /** the watch ended; `lines` events or bookmarks were received during `ms` */
  onEnd(err: unknown, lines: number, ms: number): void;
}

/** The library's Watch with bookmarks, TCP keep-alive, a server-side session length and a deadline on it. */
class GuardedWatch extends Watch {
  private closed = false;
  private current: { controller?: AbortController; timer?: NodeJS.Timeout } | undefined;

  constructor(
    private readonly watchConfig: WatchConfig,
    private readonly opts: { sessionSeconds: number; graceMs: number; keepAliveMs: number; log: Logger; kind: string },
    private readonly hooks: WatchHooks,
    private readonly compact: (obj: KubernetesObject) => KubernetesObject,
  ) {
    super(watchConfig);
  }

  override async watch(
    path: string,
    queryParams: WatchParams,
    callback: WatchCallback,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const delay = this.hooks.beforeConnect();
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (this.closed) return abortedController(); // stopped meanwhile: done is never called, ListWatch stays idle

    const session: { controller?: AbortController; timer?: NodeJS.Timeout } = {};
    this.current = session;
    const t0 = Date.now();
    const from = String(queryParams.resourceVersion ?? '');
    let lines = 0;
    let ended = false;
    // Sessions of random length, as client-go does, so that watches of many
    // agents do not all end together.
    const timeoutSeconds = Math.max(1, Math.round(this.opts.sessionSeconds * (1 + Math.random())));
    const params: WatchParams = { ...queryParams, allowWatchBookmarks: true, timeoutSeconds };
    const sockets: net.Socket[] = [];
    this.watchConfig.onSocket = (s) => sockets.push(s);
    let controller: AbortController;
    try {
      controller = await super.watch(
        path,
        params,
        (phase, obj, raw) => {
          if (phase === 'ERROR') {
            // An ERROR alone is no progress (e.g. a 410 on every try).
            const status = obj as { code?: unknown; message?: unknown } | null;
            if (status?.code === 410) this.hooks.onExpired(from, typeof status.message === 'string' ? status.message : 'ERROR event 410');
          } else {
            lines++;
          }
          this.hooks.onLine();
          const kept = phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' ? this.compact(obj as KubernetesObject) : obj;
          callback(phase, kept, raw);
        },
        (err) => {
          ended = true;
          clearTimeout(session.timer);
          if (errorStatus(err) === 410) this.hooks.onExpired(from, 'HTTP 410 Gone');
          this.hooks.onEnd(err, lines, Date.now() - t0);
          done(err);
        },
      );
    } finally {
      this.watchConfig.onSocket = undefined;
    }
    session.controller = controller;
    // The library has set its 30 s keep-alive on the connection by now: ours again.
    for (const s of sockets) if (!s.destroyed) s.setKeepAlive(true, this.opts.keepAliveMs);
    if (!ended) {
      const deadline = t0 + timeoutSeconds * 1000 + this.opts.graceMs;
      session.timer = setTimeout(() => {
        this.opts.log.warn({ kind: this.opts.kind, timeoutSeconds, graceMs: this.opts.graceMs }, 'watch not ended by the server at its timeoutSeconds; giving it up');
        controller.abort();
      }, Math.max(0, deadline - Date.now()));
      session.timer.unref();
    }
    if (this.closed) controller.abort();
    return controller;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.current?.timer);
    this.current?.controller?.abort();
  }
}

function abortedController(): AbortController {
  const c = new AbortController();
  c.abort();
  return c;
}

export class ResilientInformer {
  private readonly lw: ListWatch<KubernetesObject>;
  private readonly watch: GuardedWatch;
  private readonly backoff: Backoff;
  private readonly stopSignal = new AbortController();
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private synced = false;
  private readonly syncWaiters: (() => void)[] = [];
  /** a list just went into the cache; the library calls watch() right after applying it */
  private listApplied = false;
  /** optional resource answered 404 */
  private missing = false;
  private failingSince: number | undefined;
  private lastErrorText = '';
  /** delay before the next watch connects (set when one ended at once) */
  private watchDelay = 0;
  /** a watch's resume point was refused (410): logged with the relist's version */
  private expired: { from: string; reason: string } | undefined;

  private readonly compact: (obj: KubernetesObject) => KubernetesObject;

  constructor(private readonly o: InformerOptions) {
    this.compact = o.compact ?? ((obj) => obj);
    this.backoff = new Backoff(o.retryMinMs, o.retryMaxMs);
    this.watch = new GuardedWatch(
      new WatchConfig(o.kubeConfig, o.requestTimeoutMs, o.keepAliveMs),
      { sessionSeconds: o.watchSessionSeconds, graceMs: o.requestTimeoutMs, keepAliveMs: o.keepAliveMs, log: o.log, kind: o.kind },
      {
        beforeConnect: () => this.beforeConnect(),
        onLine: () => this.healthy(),
        onExpired: (from, reason) => (this.expired ??= { from, reason }),
        onEnd: (err, lines, ms) => this.watchEnded(err, lines, ms),
      },
      this.compact,
    );
    this.lw = new ListWatch(o.path, this.watch, () => this.listAll(), false);
    this.lw.on('add', () => o.onChange('add'));
    this.lw.on('update', () => o.onChange('update'));
    this.lw.on('delete', () => o.onChange('delete'));
    this.lw.on('error', (err: unknown) => this.failed(err));
  }

  get kind(): string {
    return this.o.kind;
  }

  start(): void {
    this.run();
  }

  /** Resolves once the first full list is in the cache (or the resource is not served). */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  isSynced(): boolean {
    return this.synced;
  }

  /** The last failure, while the resource is failing. */
  get lastError(): string | undefined {
    return this.failingSince === undefined ? undefined : this.lastErrorText;
  }

  /** The cached objects (none while the resource is not served). */
  objects(): readonly KubernetesObject[] {
    return this.missing ? [] : this.lw.list();
  }

  /** One cached object (namespace undefined for cluster-scoped kinds). */
  get(name: string, namespace?: string): KubernetesObject | undefined {
    return this.missing ? undefined : this.lw.get(name, namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopSignal.abort();
    this.watch.close();
    await this.lw.stop();
  }

  private run(): void {
    if (this.stopped) return;
    // ListWatch reports failures through its error callback; a throw here is
    // a failure before any request (e.g. no current cluster).
    this.lw.start().catch((e: unknown) => this.failed(e));
  }

  /** All pages of one consistent list. The next page is asked for as soon as
   *  this one's continue token is in (the server puts it before the items):
   *  the server builds and sends page n+1 while page n is parsed and
   *  compacted here. One page ahead at most; a prefetch whose token is not
   *  the one its page returned is dropped. */
  private async listAll(): Promise<KubernetesListObject<KubernetesObject>> {
    const attempts = 3;
    for (let attempt = 1; ; attempt++) {
      const items: KubernetesObject[] = [];
      let page: RawList;
      let token: string | undefined;
      const ahead: PageRequest[] = [];
      try {
        let current = this.requestPage(undefined);
        ahead.push(current);
        for (;;) {
          // When this page's token arrives (maybe already), the next page is asked for.
          current.onToken = (t) => {
            if (ahead.length < 2 && !this.stopped) ahead.push(this.requestPage(t));
          };
          if (current.early !== undefined) current.onToken(current.early);
          page = await current.page;
          ahead.shift();
          for (const item of page.items) items.push(this.compact(item));
          page.items = []; // the page's full objects are garbage from here on
          token = page.continueToken || undefined;
          const next = ahead[0];
          if (next !== undefined && next.token !== token) {
            next.abort.abort(); // a hint that was wrong: its answer is not this list's next page
            ahead.shift();
          }
          if (token === undefined) break;
          current = ahead[0] ?? this.requestPage(token);
          if (ahead.length === 0) ahead.push(current);
        }
      } catch (e) {
        for (const r of ahead) r.abort.abort();
        // An expired continue token: the consistent snapshot is gone, start over.
        if (errorStatus(e) === 410 && token !== undefined && attempt < attempts) {
          this.o.log.info({ kind: this.o.kind }, 'list continue token expired; listing again');
          continue;
        }
        throw e;
      }
      this.missing = false;
      this.listApplied = true;
      this.healthy();
      if (this.expired !== undefined) {
        const { from, reason } = this.expired;
        this.expired = undefined;
        this.o.log.info(
          { kind: this.o.kind, path: this.o.path, expiredVersion: from, listedVersion: page.resourceVersion, objects: items.length, reason },
          'watch resume point expired (410 Gone); listed again',
        );
      }
      return { metadata: { resourceVersion: page.resourceVersion }, items };
    }
  }

  /** One page asked for; its early token (ListPage.onContinue) is kept and passed on. */
  private requestPage(token: string | undefined): PageRequest {
    const abort = new AbortController();
    const signal = AbortSignal.any([AbortSignal.timeout(this.o.requestTimeoutMs), this.stopSignal.signal, abort.signal]);
    const r: PageRequest = { token, abort, page: undefined as unknown as Promise<RawList> };
    const onContinue = (t: string): void => {
      r.early = t;
      r.onToken?.(t);
    };
    r.page = this.o.list({ limit: this.o.pageSize, ...(token !== undefined ? { _continue: token } : {}), onContinue }, signal);
    r.page.catch(() => undefined); // a dropped prefetch's failure is nobody's; an awaited one's is thrown there
    return r;
  }

  private beforeConnect(): number {
    if (this.listApplied) {
      this.listApplied = false;
      this.markSynced();
    }
    const delay = this.watchDelay;
    this.watchDelay = 0;
    return delay;
  }

  private watchEnded(err: unknown, lines: number, ms: number): void {
    if (err !== null && err !== undefined) return; // reported through the error callback
    // A clean end: the library reconnects (or relists after a 410) at once.
    // Fine after a long session; a server that ends every watch right away
    // must not be hammered.
    if (lines === 0 && ms < 1000) {
      this.watchDelay = this.backoff.next();
      this.o.log.debug({ kind: this.o.kind, delayMs: Math.round(this.watchDelay) }, 'watch ended at once; waiting');
    }
  }

  private healthy(): void {
    if (this.failingSince !== undefined) {
      this.o.log.info({ kind: this.o.kind, downMs: Date.now() - this.failingSince }, 'API server reachable again');
      this.failingSince = undefined;
    }
    this.backoff.reset();
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    this.o.log.info({ kind: this.o.kind, objects: this.objects().length }, 'first list done');
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  private failed(err: unknown): void {
    if (this.stopped || this.retryTimer !== undefined) return;
    const status = errorStatus(err);
    this.lastErrorText = errorText(err);
    if (status === 404 && this.o.optional) {
      if (!this.missing) {
        this.o.log.warn({ kind: this.o.kind, path: this.o.path }, 'resource not served (CRD not installed?); treating it as empty and retrying');
        this.missing = true;
        this.o.onChange('reset');
      }
      this.markSynced();
    } else if (this.failingSince === undefined) {
      this.failingSince = Date.now();
      this.o.log.warn({ kind: this.o.kind, err: errorText(err), status }, 'list/watch failed; retrying with backoff');
    } else {
      this.o.log.debug({ kind: this.o.kind, err: errorText(err), status }, 'list/watch failed again');
    }
    const delay = this.backoff.next();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.run();
    }, delay);
    this.retryTimer.unref();
  }
}
