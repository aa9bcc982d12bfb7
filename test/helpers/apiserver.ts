// A Kubernetes API server for tests, on plain node:http, speaking the
// list/watch protocol the way the real one does, so that the real client
// library (@kubernetes/client-node) can be pointed at it with a kubeconfig:
//
// - one global, increasing resourceVersion (etcd's revision); every object
//   carries the one of its last change; a multi-version store keeps the
//   history until it is compacted;
// - list: {kind: XList, metadata: {resourceVersion, continue}, items}; items
//   of built-in kinds without kind/apiVersion (as the real server sends
//   typed lists), custom objects with them; limit/continue with consistent
//   snapshots; an expired continue token is an HTTP 410 (reason Expired);
//   resourceVersionMatch=Exact too;
// - watch (?watch=true&resourceVersion=N): a chunked stream of JSON lines
//   {type, object}, ADDED/MODIFIED/DELETED after N; no or "0" version:
//   synthetic ADDED for what exists, then changes; timeoutSeconds ends it;
//   a version older than the compacted one is, like the watch cache does it,
//   HTTP 200 with one ERROR event (Status code 410, reason Expired) and the
//   end of the stream -- or an HTTP 410 (expiredWatch: 'http');
// - BOOKMARKs as the 1.28 watch cache sends them: only when asked for
//   (allowWatchBookmarks=true), about once a minute per watch (bookmarkMs)
//   and 2 s before its timeoutSeconds, carrying the resourceVersion of the
//   last change the cache saw of that resource -- and none at all while the
//   resource has not changed since the server (its cache) started: a quiet
//   watch hears nothing, for minutes;
// - POST/PUT/PATCH (merge and strategic merge)/GET/DELETE of objects (the
//   agent writes Events); 404 Status for unknown paths and for custom
//   resources not "installed";
// - authorization: every request is checked against RBAC rules, by default
//   those of the ClusterRole shipped in deploy/rbac.yaml (the agent's
//   identity); what they do not grant is a 403 Forbidden, as the real server
//   answers it, and is counted in stats.forbidden. Objects set up by tests
//   (apply, remove) are not requests and are not checked.
//
// Fault injection: dropConnections, stallStreams/resumeStreams, hangRequests
// (stalled and hung connections stay open until the client gives up: counted),
// expire (compact the history, optionally breaking open watches with a 410),
// restart (everything closed, watches lost, connections refused or reset for
// a while, history compacted as a restarted watch cache would have it).
// Objects can be changed at any time, also while the server is "down".
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { withNetns } from './netns.js';

export type JsonObject = { [key: string]: unknown };

export interface KObject extends JsonObject {
  apiVersion: string;
  kind: string;
  metadata: JsonObject & { name: string; namespace?: string; resourceVersion?: string; uid?: string };
}

export interface ResourceInfo {
  group: string; // '' for core
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** custom resources are served only while "installed" */
  custom: boolean;
}

export const TEST_RESOURCES: readonly ResourceInfo[] = [
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, custom: false },
  { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false, custom: false },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, custom: false },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', namespaced: true, custom: false },
  { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, custom: false },
  { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', kind: 'EndpointSlice', namespaced: true, custom: false },
  { group: 'vrfwall.dev', version: 'v1alpha1', plural: 'virtualnetworks', kind: 'VirtualNetwork', namespaced: true, custom: true },
  { group: 'vrfwall.dev', version: 'v1alpha1', plural: 'virtualnetworkrouters', kind: 'VirtualNetworkRouter', namespaced: true, custom: true },
  { group: 'k8s.cni.cncf.io', version: 'v1', plural: 'network-attachment-definitions', kind: 'NetworkAttachmentDefinition', namespaced: true, custom: true },
  { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true, custom: false },
];

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface Version {
  rv: number;
  type: EventType;
  object: KObject;
}

export interface ServerStats {
  /** requests by "<verb> <plural>", verb one of list, watch, create, update, patch, get, delete (also those refused) */
  requests: Map<string, number>;
  /** requests the RBAC rules refused (403), as "<verb> <resource> <namespace>/<name>" */
  forbidden: string[];
  /** BOOKMARK events sent, all watches */
  bookmarks: number;
  /** TCP connections accepted (also those reset while down) */
  connections: number;
  /** query strings of list and watch requests, last 200 */
  queries: { verb: 'list' | 'watch'; plural: string; query: URLSearchParams }[];
  /** unanswered requests and stalled watches that the client gave up on (closed its end) */
  abandoned: { hung: number; stalled: number };
}

/** One rule of an RBAC (Cluster)Role. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

export interface ApiServerOptions {
  /** listen inside this vrfwall-* network namespace (its loopback) instead of 127.0.0.1 of this one */
  netns?: string;
  /** period of bookmarks on a watch that asked for them (default 60 s, the watch cache's) */
  bookmarkMs?: number;
  /** how a watch from a compacted version is refused (default: 'event', as the watch cache does) */
  expiredWatch?: 'event' | 'http';
  /** what requests may do (default: the shipped ClusterRole, shippedClusterRole()) */
  rules?: readonly PolicyRule[];
}

/** The user the test kubeconfig stands for: the agent's ServiceAccount. */
export const AGENT_USER = 'system:serviceaccount:vrfwall-system:vrfwall-agent';

const RBAC_FILE = path.resolve(import.meta.dirname, '../../deploy/rbac.yaml');

/** The rules of the ClusterRole in deploy/rbac.yaml: what the agent may do in a real cluster. */
export function shippedClusterRole(file = RBAC_FILE): PolicyRule[] {
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS() as unknown);
  const roles = docs.filter((d): d is { rules: PolicyRule[] } => isObject(d) && d.kind === 'ClusterRole' && Array.isArray(d.rules));
  if (roles.length !== 1) throw new Error(`${file}: expected one ClusterRole, found ${roles.length}`);
  return roles[0]!.rules;
}

/** Whether the rules grant verb on group/resource (resource may be "plural/subresource"), as RBAC decides it. */
export function rbacAllows(rules: readonly PolicyRule[], verb: string, group: string, resource: string, name?: string): boolean {
  const has = (list: readonly string[] | undefined, v: string): boolean => list !== undefined && (list.includes(v) || list.includes('*'));
  return rules.some(
    (r) =>
      has(r.verbs, verb) &&
      has(r.apiGroups, group) &&
      has(r.resources, resource) &&
      // resourceNames restrict requests that name an object; create and collection requests carry none
      (r.resourceNames === undefined || r.resourceNames.length === 0 || (name !== undefined && r.resourceNames.includes(name))),
  );
}

interface Watcher {
  res: http.ServerResponse;
  info: ResourceInfo;
  namespace?: string;
  /** the resourceVersion it started from (the current one for a watch without) */
  fromRv: number;
  stalled: boolean;
  queue: string[];
  timers: NodeJS.Timeout[];
  closed: boolean;
}

const START_RV = 1000;

export class TestApiServer {
  private rv = START_RV;
  private compactedRv = START_RV;
  private readonly store = new Map<string, Map<string, Version[]>>(); // plural -> key -> versions, oldest first
  private readonly installed = new Set<string>(TEST_RESOURCES.filter((r) => !r.custom).map((r) => r.plural));
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<net.Socket>();
  private readonly hung = new Set<http.ServerResponse>();
  private server: http.Server | undefined;
  private downServer: net.Server | undefined;
  private hanging = false;
  private portNumber = 0;
  private readonly bookmarkMs: number;
  /** per resource, the last listed snapshot (see listSnapshot) */
  private readonly listCache = new Map<string, { rv: number; namespace: string | undefined; items: KObject[]; keys: string[] }>();
  /** per resource, the resourceVersion of the last change since the server (its watch cache) started */
  private readonly lastChange = new Map<string, number>();
  rules: readonly PolicyRule[];
  expiredWatch: 'event' | 'http';
  readonly stats: ServerStats = { requests: new Map(), forbidden: [], bookmarks: 0, connections: 0, queries: [], abandoned: { hung: 0, stalled: 0 } };

  constructor(private readonly opts: ApiServerOptions = {}) {
    this.bookmarkMs = opts.bookmarkMs ?? 60_000;
    this.expiredWatch = opts.expiredWatch ?? 'event';
    this.rules = opts.rules ?? shippedClusterRole();
  }

  get port(): number {
    return this.portNumber;
  }

  get url(): string {
    return `http://127.0.0.1:${this.portNumber}`;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  /** Open watch streams right now. */
  get watchCount(): number {
    return this.watchers.size;
  }

  /** Client-side ports of the open watch streams' connections. */
  watchClientPorts(): number[] {
    return [...this.watchers].flatMap((w) => (w.res.socket?.remotePort !== undefined ? [w.res.socket.remotePort] : []));
  }

  async start(): Promise<void> {
    await this.listen(0);
  }

  async close(): Promise<void> {
    this.disconnectAll();
    await Promise.all([closeServer(this.server), closeServer(this.downServer)]);
    this.server = undefined;
    this.downServer = undefined;
  }

  /** A kubeconfig for the real client library (plain http needs insecure-skip-tls-verify). */
  writeKubeconfig(file: string): void {
    const text = [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: test',
      '  cluster:',
      `    server: ${this.url}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: test',
      '  user:',
      '    token: test-token',
      'contexts:',
      '- name: test',
      '  context: {cluster: test, user: test}',
      'current-context: test',
      '',
    ].join('\n');
    fs.writeFileSync(file, text);
  }

  // ---- objects ---------------------------------------------------------------

  setInstalled(plural: string, on: boolean): void {
    if (on) this.installed.add(plural);
    else this.installed.delete(plural);
  }

  /** Create or replace; returns the stored object (with resourceVersion, uid). */
  apply(plural: string, object: KObject): KObject {
    const info = resourceOf(plural);
    const ns = info.namespaced ? (object.metadata.namespace ?? 'default') : undefined;
    const key = keyOf(ns, object.metadata.name);
    const prev = this.latest(plural, key);
    const rv = ++this.rv;
    const metadata = {
      ...object.metadata,
      ...(ns !== undefined ? { namespace: ns } : {}),
      uid: prev?.metadata.uid ?? object.metadata.uid ?? randomUUID(),
      creationTimestamp: prev?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      resourceVersion: String(rv),
    };
    const stored: KObject = { ...object, apiVersion: apiVersionOf(info), kind: info.kind, metadata };
    this.record(plural, key, { rv, type: prev === undefined ? 'ADDED' : 'MODIFIED', object: stored });
    return stored;
  }

  /** Delete; the DELETED event carries the last state with a new resourceVersion, as the real server's. */
  remove(plural: string, name: string, namespace?: string): boolean {
    const info = resourceOf(plural);
    const key = keyOf(info.namespaced ? (namespace ?? 'default') : undefined, name);
    const prev = this.latest(plural, key);
    if (prev === undefined) return false;
    const rv = ++this.rv;
    const object: KObject = { ...prev, metadata: { ...prev.metadata, resourceVersion: String(rv) } };
    this.record(plural, key, { rv, type: 'DELETED', object });
    return true;
  }

  get(plural: string, name: string, namespace?: string): KObject | undefined {
    const info = resourceOf(plural);
    return this.latest(plural, keyOf(info.namespaced ? (namespace ?? 'default') : undefined, name));
  }

  /** Current objects of a resource, ordered by namespace/name. */
  objects(plural: string, namespace?: string): KObject[] {
    return this.snapshot(plural, this.rv, namespace);
  }

  // ---- faults ----------------------------------------------------------------

  /** Cut every TCP connection at once (watches, lists in flight). */
  dropConnections(): void {
    this.disconnectAll();
  }

  /** Open watch streams stop writing (events and bookmarks are held back); sockets stay open. */
  stallStreams(): void {
    for (const w of this.watchers) w.stalled = true;
  }

  /** Stalled streams write what they held back and go on. */
  resumeStreams(): void {
    for (const w of this.watchers) {
      w.stalled = false;
      for (const line of w.queue.splice(0)) w.res.write(line);
    }
  }

  /** New requests get no answer at all (accepted, then silence) until turned
   *  off; those already hanging stay so (a black hole) until the client gives
   *  up or the server goes down. */
  hangRequests(on: boolean): void {
    this.hanging = on;
  }

  /**
   * Compact the history up to now: resuming from any older resourceVersion
   * is refused with 410. breakWatches: open watches get an ERROR 410 and end
   * (what a watch sees when its window of events is gone).
   */
  expire(opts: { breakWatches?: boolean } = {}): void {
    this.compact();
    if (opts.breakWatches) {
      for (const w of [...this.watchers]) {
        this.send(w, 'ERROR', expiredStatus(`too old resource version (compacted at ${this.compactedRv})`));
        this.endWatch(w);
      }
    }
  }

  /**
   * Stop serving for downMs: every connection closed, watches lost;
   * connections refused ('refuse') or accepted and reset at once ('reset',
   * counted in stats.connections). Back with the history compacted (a fresh
   * watch cache) unless keepHistory.
   */
  async restart(opts: { downMs: number; mode?: 'refuse' | 'reset'; keepHistory?: boolean }): Promise<void> {
    this.down();
    if (!opts.keepHistory) this.compact();
    if (opts.mode === 'reset') {
      const down = net.createServer((s) => {
        this.stats.connections++;
        s.resetAndDestroy();
      });
      this.downServer = down;
      await this.bind(down, this.portNumber);
    }
    await new Promise((r) => setTimeout(r, opts.downMs));
    await this.up();
  }

  /** First half of restart(): down until up() is called. */
  down(): void {
    const s = this.server;
    this.server = undefined;
    s?.close();
    this.disconnectAll();
  }

  async up(): Promise<void> {
    const down = this.downServer;
    this.downServer = undefined;
    await closeServer(down);
    this.lastChange.clear(); // a fresh watch cache: no bookmarks until a resource changes
    await this.listen(this.portNumber);
  }

  // ---- the store ---------------------------------------------------------------

  private latest(plural: string, key: string): KObject | undefined {
    const versions = this.store.get(plural)?.get(key);
    const last = versions?.[versions.length - 1];
    return last === undefined || last.type === 'DELETED' ? undefined : last.object;
  }

  private record(plural: string, key: string, v: Version): void {
    let byKey = this.store.get(plural);
    if (byKey === undefined) this.store.set(plural, (byKey = new Map()));
    byKey.set(key, [...(byKey.get(key) ?? []), v]);
    if (this.server !== undefined) this.lastChange.set(plural, v.rv);
    for (const w of this.watchers) {
      if (w.info.plural === plural && (w.namespace === undefined || w.namespace === v.object.metadata.namespace)) {
        this.send(w, v.type, v.object);
      }
    }
  }

  /**
   * The snapshot a list pages through, with its keys. A snapshot at a given
   * resourceVersion never changes (later writes have higher versions; a
   * compacted one is refused before this), so the pages of one list share
   * it: each page costs its own size, not a sort of the whole collection,
   * as with the real server's consistent reads.
   */
  private listSnapshot(plural: string, rv: number, namespace?: string): { items: KObject[]; keys: string[] } {
    const c = this.listCache.get(plural);
    if (c !== undefined && c.rv === rv && c.namespace === namespace) return c;
    const items = this.snapshot(plural, rv, namespace);
    const entry = { rv, namespace, items, keys: items.map((o) => keyOf(o.metadata.namespace, o.metadata.name)) };
    this.listCache.set(plural, entry);
    return entry;
  }

  /** The objects as they were at resourceVersion rv. */
  private snapshot(plural: string, rv: number, namespace?: string): KObject[] {
    const out: { key: string; object: KObject }[] = [];
    for (const [key, versions] of this.store.get(plural) ?? []) {
      let at: Version | undefined;
      for (const v of versions) if (v.rv <= rv) at = v;
      if (at === undefined || at.type === 'DELETED') continue;
      if (namespace !== undefined && at.object.metadata.namespace !== namespace) continue;
      out.push({ key, object: at.object });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((x) => x.object);
  }

  private eventsSince(plural: string, rv: number, namespace?: string): Version[] {
    const out: Version[] = [];
    for (const versions of this.store.get(plural)?.values() ?? []) {
      for (const v of versions) {
        if (v.rv > rv && (namespace === undefined || v.object.metadata.namespace === namespace)) out.push(v);
      }
    }
    return out.sort((a, b) => a.rv - b.rv);
  }

  /** Keep, per key, only the newest version at or below now (gone if deleted), and what follows. */
  private compact(): void {
    const to = this.rv;
    this.listCache.clear();
    for (const byKey of this.store.values()) {
      for (const [key, versions] of byKey) {
        const kept = versions.filter((v, i) => v.rv > to || versions[i + 1] === undefined || versions[i + 1]!.rv > to);
        const rest = kept[0]?.type === 'DELETED' && kept[0].rv <= to ? kept.slice(1) : kept;
        if (rest.length === 0) byKey.delete(key);
        else byKey.set(key, rest);
      }
    }
    this.compactedRv = to;
  }

  // ---- HTTP --------------------------------------------------------------------

  private async listen(port: number): Promise<void> {
    const server = http.createServer((req, res) => this.handle(req, res));
    server.on('connection', (s) => {
      this.stats.connections++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    server.keepAliveTimeout = 5_000;
    await this.bind(server, port);
    this.server = server;
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('test API server: no TCP address');
    this.portNumber = addr.port;
  }

  /** Listen on 127.0.0.1 here, or on all addresses inside the netns (its only one is loopback).
   *  In a netns the socket must be made while the thread is inside: listen()
   *  without a host binds synchronously, with one it binds after a lookup. */
  private async bind(server: net.Server, port: number): Promise<void> {
    const listening = new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    const netns = this.opts.netns;
    if (netns !== undefined) withNetns(netns, () => void server.listen(port));
    else server.listen(port, '127.0.0.1');
    await listening;
  }

  private disconnectAll(): void {
    for (const w of [...this.watchers]) this.endWatch(w);
    const hung = [...this.hung];
    this.hung.clear();
    for (const res of hung) res.destroy();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  private count(verb: string, plural: string): void {
    const k = `${verb} ${plural}`;
    this.stats.requests.set(k, (this.stats.requests.get(k) ?? 0) + 1);
  }

  /** Requests so far of one verb ("list", "watch", ...) and resource. */
  requests(verb: string, plural: string): number {
    return this.stats.requests.get(`${verb} ${plural}`) ?? 0;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.hanging) {
      this.hung.add(res);
      res.on('close', () => {
        if (this.hung.delete(res)) this.stats.abandoned.hung++;
      });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    // Authorization comes first, as in the real server: a resource the
    // identity may not touch is a 403 whether it exists or not.
    const target = requestTarget(url.pathname);
    if (target !== undefined) {
      const verb = verbOf(method, target.name !== undefined, url.searchParams);
      if (!rbacAllows(this.rules, verb, target.group, target.resource, target.name)) {
        this.count(verb, target.resource);
        return this.forbid(res, verb, target);
      }
    }
    const route = parsePath(url.pathname);
    if (route === undefined || !this.installed.has(route.info.plural)) {
      return sendStatus(res, 404, 'NotFound', 'the server could not find the requested resource');
    }
    const { info, namespace, name } = route;
    if (method === 'GET' && name === undefined) {
      const watch = url.searchParams.get('watch');
      if (watch === 'true' || watch === '1') return this.watch(info, namespace, url.searchParams, res);
      return this.list(info, namespace, url.searchParams, res);
    }
    if (method === 'GET' && name !== undefined) {
      this.count('get', info.plural);
      const obj = this.get(info.plural, name, namespace);
      return obj === undefined ? sendNotFound(res, info, name) : sendJson(res, 200, obj);
    }
    if (method === 'DELETE' && name !== undefined) {
      this.count('delete', info.plural);
      const obj = this.get(info.plural, name, namespace);
      if (obj === undefined || !this.remove(info.plural, name, namespace)) return sendNotFound(res, info, name);
      return sendJson(res, 200, obj);
    }
    if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
      readBody(req).then(
        (body) =>
          method === 'PATCH'
            ? this.patch(info, namespace, name, req.headers['content-type'] ?? '', body, res)
            : this.write(method, info, namespace, name, body, res),
        () => sendStatus(res, 400, 'BadRequest', 'cannot read the body'),
      );
      return;
    }
    sendStatus(res, 405, 'MethodNotAllowed', `${method} is not supported here`);
  }

  /** The real server's 403: a Status naming the user, verb, resource and group. */
  private forbid(res: http.ServerResponse, verb: string, t: RequestTarget): void {
    const where = t.namespace !== undefined ? ` in the namespace "${t.namespace}"` : ' at the cluster scope';
    const [plural, sub] = t.resource.split('/');
    const message =
      `${t.resource}${t.name !== undefined ? ` "${t.name}"` : ''} is forbidden: User "${AGENT_USER}" cannot ${verb} resource "${plural}"` +
      `${sub !== undefined ? ` with subresource "${sub}"` : ''} in API group "${t.group}"${where}`;
    this.stats.forbidden.push(`${verb} ${t.resource} ${t.namespace ?? ''}/${t.name ?? ''}`);
    sendJson(res, 403, { ...statusObject(403, 'Forbidden', message), details: { ...(t.name !== undefined ? { name: t.name } : {}), kind: plural } });
  }

  /** PATCH with a JSON merge patch; a strategic merge patch is applied as one (the same for what tests patch: no lists of objects with merge keys). */
  private patch(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string | undefined,
    contentType: string,
    body: string,
    res: http.ServerResponse,
  ): void {
    this.count('patch', info.plural);
    const type = contentType.split(';')[0]!.trim();
    if (type !== 'application/merge-patch+json' && type !== 'application/strategic-merge-patch+json') {
      return sendStatus(res, 415, 'UnsupportedMediaType', `the test API server does not apply ${type || 'this'} patches (merge and strategic merge only)`);
    }
    if (name === undefined) return sendStatus(res, 405, 'MethodNotAllowed', 'PATCH of a collection');
    let patch: unknown;
    try {
      patch = JSON.parse(body);
    } catch {
      return sendStatus(res, 400, 'BadRequest', 'body is not JSON');
    }
    if (!isObject(patch)) return sendStatus(res, 400, 'BadRequest', 'a merge patch is a JSON object');
    const current = this.get(info.plural, name, namespace);
    if (current === undefined) return sendNotFound(res, info, name);
    const merged = mergePatch(current, patch) as KObject;
    merged.metadata = { ...merged.metadata, name: current.metadata.name, ...(namespace !== undefined ? { namespace } : {}) };
    return sendJson(res, 200, this.apply(info.plural, merged));
  }

  private write(
    method: string,
    info: ResourceInfo,
    namespace: string | undefined,
    name: string | undefined,
    body: string,
    res: http.ServerResponse,
  ): void {
    let obj: unknown;
    try {
      obj = JSON.parse(body);
    } catch {
      return sendStatus(res, 400, 'BadRequest', 'body is not JSON');
    }
    if (!isObject(obj) || !isObject(obj.metadata) || typeof obj.metadata.name !== 'string') {
      return sendStatus(res, 422, 'Invalid', 'metadata.name is required');
    }
    const objName = obj.metadata.name;
    if (info.namespaced && namespace === undefined) return sendStatus(res, 404, 'NotFound', 'namespaced resource: use a namespace path');
    if (namespace !== undefined && obj.metadata.namespace !== undefined && obj.metadata.namespace !== namespace) {
      return sendStatus(res, 400, 'BadRequest', 'the namespace of the object does not match the namespace of the request');
    }
    const object = { ...obj, metadata: { ...obj.metadata, name: objName, ...(namespace !== undefined ? { namespace } : {}) } } as KObject;
    const exists = this.get(info.plural, objName, namespace) !== undefined;
    if (method === 'POST') {
      this.count('create', info.plural);
      if (name !== undefined) return sendStatus(res, 405, 'MethodNotAllowed', 'POST to a collection');
      if (exists) return sendStatus(res, 409, 'AlreadyExists', `${info.plural} "${objName}" already exists`);
      return sendJson(res, 201, this.apply(info.plural, object));
    }
    this.count('update', info.plural);
    if (name !== objName) return sendStatus(res, 400, 'BadRequest', 'the name of the object does not match the name in the URL');
    if (!exists) return sendNotFound(res, info, objName);
    return sendJson(res, 200, this.apply(info.plural, object));
  }

  private list(info: ResourceInfo, namespace: string | undefined, q: URLSearchParams, res: http.ServerResponse): void {
    this.count('list', info.plural);
    this.remember('list', info.plural, q);
    let rv = this.rv;
    let after = '';
    const token = q.get('continue');
    if (token) {
      const parsed = decodeContinue(token);
      if (parsed === undefined) return sendStatus(res, 400, 'BadRequest', 'invalid continue token');
      if (parsed.rv < this.compactedRv) {
        return sendStatus(res, 410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.');
      }
      ({ rv, after } = parsed);
    } else if (q.get('resourceVersionMatch') === 'Exact') {
      const want = Number(q.get('resourceVersion'));
      if (!Number.isInteger(want)) return sendStatus(res, 400, 'BadRequest', 'resourceVersion must be a number');
      if (want < this.compactedRv) return sendStatus(res, 410, 'Expired', `too old resource version: ${want} (${this.compactedRv})`);
      rv = Math.min(want, this.rv);
    }
    const listed = this.listSnapshot(info.plural, rv, namespace);
    const from = after === '' ? 0 : firstAfter(listed.keys, after);
    const limit = Number(q.get('limit') ?? '0');
    const page = limit > 0 ? listed.items.slice(from, from + limit) : listed.items.slice(from);
    const last = page[page.length - 1];
    const remaining = listed.items.length - from - page.length;
    const more = limit > 0 && remaining > 0 && last !== undefined;
    const items = page.map((o) => (info.custom ? o : withoutTypeMeta(o)));
    sendJson(res, 200, {
      kind: `${info.kind}List`,
      apiVersion: apiVersionOf(info),
      metadata: {
        resourceVersion: String(rv),
        ...(more ? { continue: encodeContinue(rv, keyOf(last.metadata.namespace, last.metadata.name)), remainingItemCount: remaining } : {}),
      },
      items,
    });
  }

  private watch(info: ResourceInfo, namespace: string | undefined, q: URLSearchParams, res: http.ServerResponse): void {
    this.count('watch', info.plural);
    this.remember('watch', info.plural, q);
    const from = q.get('resourceVersion') ?? '';
    const fromRv = from === '' || from === '0' ? undefined : Number(from);
    if (fromRv !== undefined && !Number.isInteger(fromRv)) return sendStatus(res, 400, 'BadRequest', 'resourceVersion must be a number');
    const expired = fromRv !== undefined && fromRv < this.compactedRv;
    if (expired && this.expiredWatch === 'http') {
      return sendStatus(res, 410, 'Expired', `too old resource version: ${fromRv} (${this.compactedRv})`);
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    const w: Watcher = {
      res,
      info,
      ...(namespace !== undefined ? { namespace } : {}),
      fromRv: fromRv ?? this.rv,
      stalled: false,
      queue: [],
      timers: [],
      closed: false,
    };
    if (expired) {
      this.send(w, 'ERROR', expiredStatus(`too old resource version: ${fromRv} (${this.compactedRv})`));
      res.end();
      return;
    }
    this.watchers.add(w);
    res.on('close', () => {
      if (w.stalled && !w.closed) this.stats.abandoned.stalled++;
      this.endWatch(w);
    });
    if (fromRv === undefined) for (const o of this.snapshot(info.plural, this.rv, namespace)) this.send(w, 'ADDED', o);
    else for (const v of this.eventsSince(info.plural, fromRv, namespace)) this.send(w, v.type, v.object);
    const timeoutMs = Number(q.get('timeoutSeconds') ?? '0') * 1000;
    if (q.get('allowWatchBookmarks') === 'true') {
      // Roughly every bookmarkMs, and once 2 s before the session ends.
      w.timers.push(setInterval(() => this.bookmark(w), this.bookmarkMs));
      if (timeoutMs > 2000) w.timers.push(setTimeout(() => this.bookmark(w), timeoutMs - 2000));
    }
    // A stalled stream is a hung server: it does not end its sessions either.
    if (timeoutMs > 0) w.timers.push(setTimeout(() => w.stalled || this.endWatch(w), timeoutMs));
  }

  /** The watch cache's bookmark: the last change of the resource it saw; none while it saw none (nor one behind the watch). */
  private bookmark(w: Watcher): void {
    const rv = this.lastChange.get(w.info.plural);
    if (rv === undefined || rv < w.fromRv) return;
    this.stats.bookmarks++;
    this.send(w, 'BOOKMARK', { kind: w.info.kind, apiVersion: apiVersionOf(w.info), metadata: { resourceVersion: String(rv) } });
  }

  private send(w: Watcher, type: string, object: JsonObject): void {
    if (w.closed) return;
    const line = `${JSON.stringify({ type, object })}\n`;
    if (w.stalled) w.queue.push(line);
    else w.res.write(line);
  }

  private endWatch(w: Watcher): void {
    if (w.closed) return;
    w.closed = true;
    for (const t of w.timers) clearTimeout(t);
    this.watchers.delete(w);
    if (!w.res.writableEnded) w.res.end();
  }

  private remember(verb: 'list' | 'watch', plural: string, query: URLSearchParams): void {
    this.stats.queries.push({ verb, plural, query });
    if (this.stats.queries.length > 200) this.stats.queries.shift();
  }
}

// ---- helpers -------------------------------------------------------------------

function resourceOf(plural: string): ResourceInfo {
  const info = TEST_RESOURCES.find((r) => r.plural === plural);
  if (info === undefined) throw new Error(`test API server: unknown resource ${plural}`);
  return info;
}

function apiVersionOf(info: ResourceInfo): string {
  return info.group === '' ? info.version : `${info.group}/${info.version}`;
}

/** Index of the first key greater than `after` in sorted keys. */
function firstAfter(keys: readonly string[], after: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function keyOf(namespace: string | undefined, name: string): string {
  return namespace === undefined ? name : `${namespace}/${name}`;
}

/** /api/v1/... or /apis/<group>/<version>/... -> resource, namespace, name. */
function parsePath(pathname: string): { info: ResourceInfo; namespace?: string; name?: string } | undefined {
  const parts = pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) [group, version, rest] = ['', parts[1]!, parts.slice(2)];
  else if (parts[0] === 'apis' && parts.length >= 3) [group, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
  else return undefined;
  const find = (plural: string | undefined): ResourceInfo | undefined =>
    TEST_RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
  // namespaces/<ns>/<plural>[/<name>] is a namespaced path; namespaces[/<name>] the Namespace resource.
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const info = find(rest[2]);
    if (info === undefined || !info.namespaced || rest.length > 4) return undefined;
    return { info, namespace: rest[1]!, ...(rest[3] !== undefined ? { name: rest[3] } : {}) };
  }
  const info = find(rest[0]);
  if (info === undefined || rest.length > 2 || (rest.length === 2 && info.namespaced)) return undefined;
  return { info, ...(rest[1] !== undefined ? { name: rest[1] } : {}) };
}

interface RequestTarget {
  group: string;
  /** plural, or "plural/subresource" */
  resource: string;
  namespace?: string;
  name?: string;
}

/** What RBAC sees of a resource path (whether or not this server serves it). */
function requestTarget(pathname: string): RequestTarget | undefined {
  const parts = pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  let group: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) [group, rest] = ['', parts.slice(2)];
  else if (parts[0] === 'apis' && parts.length >= 4) [group, rest] = [parts[1]!, parts.slice(3)];
  else return undefined;
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  const [plural, name, sub] = rest;
  if (plural === undefined) return undefined;
  return { group, resource: sub !== undefined ? `${plural}/${sub}` : plural, ...(namespace !== undefined ? { namespace } : {}), ...(name !== undefined ? { name } : {}) };
}

/** The RBAC verb of a request. */
function verbOf(method: string, named: boolean, q: URLSearchParams): string {
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (named) return 'get';
      return q.get('watch') === 'true' || q.get('watch') === '1' ? 'watch' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function withoutTypeMeta(o: KObject): JsonObject {
  const { kind: _k, apiVersion: _a, ...rest } = o;
  return rest;
}

function expiredStatus(message: string): JsonObject {
  return statusObject(410, 'Expired', message);
}

function statusObject(code: number, reason: string, message: string): JsonObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendStatus(res: http.ServerResponse, code: number, reason: string, message: string): void {
  sendJson(res, code, statusObject(code, reason, message));
}

function sendNotFound(res: http.ServerResponse, info: ResourceInfo, name: string): void {
  sendStatus(res, 404, 'NotFound', `${info.plural} "${name}" not found`);
}

function encodeContinue(rv: number, after: string): string {
  return Buffer.from(JSON.stringify({ rv, after })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; after: string } | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (isObject(v) && typeof v.rv === 'number' && typeof v.after === 'string') return { rv: v.rv, after: v.after };
  } catch {
    // not ours
  }
  return undefined;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function closeServer(s: net.Server | undefined): Promise<void> {
  if (s === undefined || !s.listening) return Promise.resolve();
  return new Promise((resolve) => s.close(() => resolve()));
}
