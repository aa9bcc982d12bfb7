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
// - Silent connections: the library's watch has no timeout (its 30 s
//   AbortSignal is built but never used). A watchdog aborts a watch after
//   `watchTimeoutMs` without any line; bookmarks are requested so that a
//   healthy but quiet watch still speaks. Waiting for response headers is
//   bounded by node-fetch's `timeout`, lists by an abort signal.
// - Hammering: a watch that the server ends at once without a single event
//   counts as a failure (backoff), instead of the library's immediate retry.
// - Big lists are read in pages (limit/continue); an expired continue token
//   (410) restarts the list.
// - A resource that is not served (404: a CRD not installed) counts as
//   "no objects": it does not hold up the first sync, and is retried.
// - whenSynced(): resolves after the first full list is in the cache.
import {
  ApiException,
  KubeConfig,
  ListWatch,
  Watch,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type https from 'node:https';
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
}

/** Lists one page; `signal` aborts the request (timeout, stop). */
export type ListFn = (page: ListPage, signal: AbortSignal) => Promise<RawList>;

export interface InformerOptions {
  kind: string;
  /** collection path, all namespaces, e.g. /api/v1/pods */
  path: string;
  list: ListFn;
  /** 404 means "not installed" (a CRD): no objects, retried */
  optional: boolean;
  kubeConfig: KubeConfig;
  log: Logger;
  /** a watch silent (no event, no bookmark) this long is restarted */
  watchTimeoutMs: number;
  /** bound on one list request, and on the wait for a watch's response headers */
  requestTimeoutMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  pageSize: number;
  /** the server ends each watch after this long (randomized between 1x and 2x) */
  watchSessionSeconds: number;
  /** the cache changed */
  onChange: () => void;
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
 * only (the stream itself is watched by the watchdog).
 */
class HeaderTimeoutConfig extends KubeConfig {
  constructor(
    base: KubeConfig,
    private readonly timeoutMs: number,
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
    return { ...(await super.applyToFetchOptions(opts)), timeout: this.timeoutMs };
  }
}

type WatchCallback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;
type WatchParams = Record<string, string | number | boolean | undefined>;

interface WatchHooks {
  /** called as a watch starts, before any request: delay (ms) before it may connect */
  beforeConnect(): number;
  /** a line arrived (event, bookmark or error) */
  onLine(): void;
  /** the watch ended; `lines` events or bookmarks were received during `ms` */
  onEnd(err: unknown, lines: number, ms: number): void;
}

/** The library's Watch with bookmarks, a server-side session length and a watchdog. */
class GuardedWatch extends Watch {
  private closed = false;
  private current: { controller?: AbortController; timer?: NodeJS.Timeout } | undefined;

  constructor(
    config: KubeConfig,
    private readonly opts: { watchTimeoutMs: number; sessionSeconds: number; log: Logger; kind: string },
    private readonly hooks: WatchHooks,
  ) {
    super(config);
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
    let lines = 0;
    let ended = false;
    const arm = (): void => {
      clearTimeout(session.timer);
      session.timer = setTimeout(() => {
        this.opts.log.warn({ kind: this.opts.kind, silentMs: this.opts.watchTimeoutMs }, 'watch silent; restarting it');
        session.controller?.abort();
      }, this.opts.watchTimeoutMs);
      session.timer.unref();
    };
    // Sessions of random length, as client-go does, so that watches of many
    // agents do not all end together.
    const timeoutSeconds = Math.round(this.opts.sessionSeconds * (1 + Math.random()));
    const params: WatchParams = { ...queryParams, allowWatchBookmarks: true, timeoutSeconds };
    const controller = await super.watch(
      path,
      params,
      (phase, obj, raw) => {
        if (phase !== 'ERROR') lines++; // an ERROR alone is no progress (e.g. a 410 on every try)
        arm();
        this.hooks.onLine();
        callback(phase, obj, raw);
      },
      (err) => {
        ended = true;
        clearTimeout(session.timer);
        this.hooks.onEnd(err, lines, Date.now() - t0);
        done(err);
      },
    );
    session.controller = controller;
    if (!ended) arm();
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

  constructor(private readonly o: InformerOptions) {
    this.backoff = new Backoff(o.retryMinMs, o.retryMaxMs);
    this.watch = new GuardedWatch(
      new HeaderTimeoutConfig(o.kubeConfig, o.requestTimeoutMs),
      { watchTimeoutMs: o.watchTimeoutMs, sessionSeconds: o.watchSessionSeconds, log: o.log, kind: o.kind },
      {
        beforeConnect: () => this.beforeConnect(),
        onLine: () => this.healthy(),
        onEnd: (err, lines, ms) => this.watchEnded(err, lines, ms),
      },
    );
    this.lw = new ListWatch(o.path, this.watch, () => this.listAll(), false);
    const changed = (): void => o.onChange();
    this.lw.on('add', changed);
    this.lw.on('update', changed);
    this.lw.on('delete', changed);
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

  /** All pages of one consistent list. */
  private async listAll(): Promise<KubernetesListObject<KubernetesObject>> {
    const attempts = 3;
    for (let attempt = 1; ; attempt++) {
      const items: KubernetesObject[] = [];
      let page: RawList;
      let token: string | undefined;
      try {
        do {
          const signal = AbortSignal.any([AbortSignal.timeout(this.o.requestTimeoutMs), this.stopSignal.signal]);
          page = await this.o.list({ limit: this.o.pageSize, ...(token !== undefined ? { _continue: token } : {}) }, signal);
          items.push(...page.items);
          token = page.continueToken || undefined;
        } while (token !== undefined);
      } catch (e) {
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
      return { metadata: { resourceVersion: page.resourceVersion }, items };
    }
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
        this.o.onChange();
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
