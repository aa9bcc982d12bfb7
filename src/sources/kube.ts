// The Kubernetes API source: list+watch of every resource in KUBE_RESOURCES
// (kube-resources.ts), each kept by a ResilientInformer (kube-informer.ts:
// what the client library does and what is added on top is written there),
// assembled into one ClusterState.
//
// - start() resolves after the first full list of every resource; before
//   that nothing is published, so the agent never compiles a partial cluster
//   (until then the pinned maps keep enforcing what they hold).
// - Afterwards a burst of watch events is one snapshot and at most one
//   change notification (debounced). Each object is converted once as it
//   arrives, and the informer caches hold only that conversion (compact());
//   a new version that converts to the same (a status-only update, a relist)
//   keeps the previous conversion and is no change: no snapshot is announced
//   for it (resourceVersions are left out of conversions for that reason).
// - Per-object problems can be written as Events on the objects
//   (recordEvent / reportProblem, kube-events.ts).
//
// Configuration: --kubeconfig <file>, or the in-cluster service account.
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { namespacedKey, type ClusterState, type SourceProblem } from '../model/types.js';
import { EventRecorder, type EventType, type ObjectRef } from './kube-events.js';
import { ResilientInformer } from './kube-informer.js';
import { KUBE_RESOURCES, kubeApis, type Converted, type KubeResource, type KubeValue } from './kube-resources.js';
import { STATE_MAPS, changedObjects, sameValue, type ObjectKind } from './changes.js';
import { StateListeners } from './listeners.js';
import { emptyClusterState, type StateListener, type StateSource } from './source.js';
import { compareText } from '../util/order.js';

export interface KubeSourceOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** this node: reportingInstance of Events */
  nodeName: string;
  /** what to watch (default: KUBE_RESOURCES) */
  resources?: readonly KubeResource[];
  /** coalescing window for watch events (default 2 ms) */
  debounceMs?: number;
  /** bound on a list request and on the wait for a watch's headers; also how long
   *  after its timeoutSeconds a watch the server has not ended is given up (default 30 s) */
  requestTimeoutMs?: number;
  /** TCP keep-alive idle time on watch connections: a vanished peer is noticed
   *  about 10 s after it (default 30 s) */
  keepAliveMs?: number;
  /** retry delays after failures: first about retryMinMs, doubling, capped (defaults 500 ms, 30 s) */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** list page size (default 500) */
  pageSize?: number;
  /** length of a watch session before the server ends it, randomized up to 2x (default 300 s) */
  watchSessionSeconds?: number;
  /** minimum time between two writes of the same Event (default 30 s) */
  eventIntervalMs?: number;
}

/** The API server's configuration: a kubeconfig file, or in-cluster (service account). */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file !== undefined) kc.loadFromFile(file);
  else kc.loadFromCluster();
  const cluster = kc.getCurrentCluster();
  if (cluster === null || !cluster.server) {
    throw new Error(file !== undefined ? `${file}: no current cluster with a server` : 'not in a cluster (KUBERNETES_SERVICE_HOST unset)');
  }
  if (file === undefined && !process.env.KUBERNETES_SERVICE_HOST) {
    throw new Error('not in a cluster (KUBERNETES_SERVICE_HOST unset); give --kubeconfig');
  }
  return kc;
}

const PROGRESS_LOG_MS = 10_000;

export class KubeSource implements StateSource {
  private readonly log: Logger;
  private readonly informers: { resource: KubeResource; informer: ResilientInformer }[];
  private readonly informerOf = new Map<KubeResource, ResilientInformer>();
  private readonly events: EventRecorder;
  private readonly unsupportedLogged = new Set<string>();
  private readonly listeners: StateListeners;
  private readonly debounceMs: number;
  private state: ClusterState = emptyClusterState();
  /** some object's conversion changed, or an object came or went, since the last publish */
  private inputsChanged = true;
  /** resources whose objects changed since the last publish; the others' part of the state is reused */
  private readonly dirty = new Set<KubeResource>();
  /** per resource, its part of the last published state: its sorted map and its problems */
  private readonly parts = new Map<KubeResource, { map: Map<string, unknown>; problems: SourceProblem[] }>();
  private timer: NodeJS.Timeout | undefined;
  private synced = false;
  private started = false;
  private stopped = false;

  constructor(opts: KubeSourceOptions) {
    this.log = opts.logger.child({ source: 'kube' });
    this.listeners = new StateListeners(this.log);
    this.debounceMs = opts.debounceMs ?? 2;
    const apis = kubeApis(opts.kubeConfig);
    this.informers = (opts.resources ?? KUBE_RESOURCES).map((resource) => ({
      resource,
      informer: new ResilientInformer({
        kind: resource.kind,
        path: resource.path,
        optional: resource.optional,
        list: (page, signal) => resource.list(apis, page, signal),
        kubeConfig: opts.kubeConfig,
        log: this.log,
        requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
        keepAliveMs: opts.keepAliveMs ?? 30_000,
        retryMinMs: opts.retryMinMs ?? 500,
        retryMaxMs: opts.retryMaxMs ?? 30_000,
        pageSize: opts.pageSize ?? 500,
        watchSessionSeconds: opts.watchSessionSeconds ?? 300,
        onChange: (event) => {
          // An update whose conversion is unchanged (status-only, or a
          // relist) kept its memo: compact() said so by not marking a change.
          if (event !== 'update') {
            this.inputsChanged = true;
            this.dirty.add(resource);
          }
          this.changed();
        },
        compact: (raw) => this.compact(resource, raw),
      }),
    }));
    for (const { resource, informer } of this.informers) this.informerOf.set(resource, informer);
    this.events = new EventRecorder({
      core: apis.core,
      node: opts.nodeName,
      log: this.log,
      ...(opts.eventIntervalMs !== undefined ? { minIntervalMs: opts.eventIntervalMs } : {}),
      ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    });
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('KubeSource already started');
    this.started = true;
    for (const { informer } of this.informers) informer.start();
    const progress = setInterval(() => {
      const waiting = this.informers
        .filter((i) => !i.informer.isSynced())
        .map((i) => `${i.resource.kind}${i.informer.lastError !== undefined ? ` (${i.informer.lastError})` : ''}`);
      this.log.info({ waiting }, 'waiting for the first full list from the API server');
    }, PROGRESS_LOG_MS);
    progress.unref();
    try {
      await Promise.all(this.informers.map((i) => i.informer.whenSynced()));
    } finally {
      clearInterval(progress);
    }
    if (this.stopped) return;
    this.synced = true;
    this.publish();
    this.log.info({ resources: this.informers.length }, 'first full sync done');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.events.stop();
    await Promise.all(this.informers.map((i) => i.informer.stop()));
  }

  current(): ClusterState {
    return this.state;
  }

  onChange(listener: StateListener): () => void {
    return this.listeners.add(listener);
  }

  /** Write (or count again) a Kubernetes Event on an object; returns at once. */
  recordEvent(ref: ObjectRef, reason: string, message: string, type: EventType = 'Warning'): void {
    this.events.record(ref, reason, message, type);
  }

  /**
   * A problem of the compile step or of this source as an Event on the
   * object it names ("Pod ns/name", "Namespace name", ...). Returns false when
   * the problem names no object this source knows.
   */
  reportProblem(problem: SourceProblem): boolean {
    const m = /^([A-Za-z]+) (?:([^/\s]+)\/)?([^/\s@]+)(?:@(\S+))?$/.exec(problem.source);
    if (m === null) return false;
    const [, kind, namespace, name, ifname] = m;
    // "Pod ns/pod@eth1": a secondary interface; the Event is the Pod's and names the interface.
    if (ifname !== undefined && kind !== 'Pod') return false;
    const message = ifname === undefined ? problem.message : `interface ${ifname}: ${problem.message}`;
    const entry = this.informers.find((i) => i.resource.kind === kind);
    if (entry === undefined || kind === undefined || name === undefined) return false;
    const obj = entry.informer.get(name, namespace);
    if (obj === undefined) return false;
    const reason = problem.message.startsWith('quarantined') ? 'Quarantined' : 'VrfwallProblem';
    const uid = obj.metadata?.uid;
    this.recordEvent(
      {
        kind,
        apiVersion: entry.resource.apiVersion,
        name,
        ...(namespace !== undefined ? { namespace } : {}),
        ...(uid !== undefined ? { uid } : {}),
      },
      reason,
      message,
    );
    return true;
  }

  /** Waits for Event writes under way (tests, shutdown). */
  flushEvents(): Promise<void> {
    return this.events.flush();
  }

  private changed(): void {
    if (!this.synced || this.stopped || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.publish();
    }, this.debounceMs);
  }

  /**
   * What the informer cache keeps of an object: its conversion (and the
   * conversion's hash), with only the metadata the cache and Events need.
   * Each object version is converted once, as it arrives; the object as the
   * API server sent it (managed fields, container specs, conditions...) is
   * not kept anywhere.
   */
  private compact(resource: KubeResource, raw: KubernetesObject): CompactObject {
    let c = resource.convert(raw);
    if (c.value !== undefined) c = { ...c, value: withoutResourceVersion(c.value) };
    const m = raw.metadata ?? {};
    const metadata: CompactObject['metadata'] = { name: m.name ?? '' };
    if (m.namespace !== undefined) metadata.namespace = m.namespace;
    if (m.uid !== undefined) metadata.uid = m.uid;
    if (m.resourceVersion !== undefined) metadata.resourceVersion = m.resourceVersion;
    // The version in the cache converts to the same (a status-only update,
    // a relist): its conversion is kept, identity and all, and nothing has
    // changed for the compile step.
    const prev = (this.informerOf.get(resource)?.get(metadata.name, metadata.namespace) as Partial<CompactObject> | undefined)?.[CONVERTED];
    if (prev !== undefined && prev.unsupported === c.unsupported && sameValue(prev.value, c.value) && sameValue(prev.problems, c.problems)) {
      return { metadata, [CONVERTED]: prev };
    }
    for (const p of c.problems) this.log.warn(p, 'object problem');
    this.inputsChanged = true;
    this.dirty.add(resource);
    return { metadata, [CONVERTED]: c };
  }

  private convert(resource: KubeResource, obj: KubernetesObject): Converted {
    // Objects reach the cache only through compact(); an object without its
    // conversion would be a bug, converted here rather than lost.
    const m = (obj as Partial<CompactObject>)[CONVERTED] ?? this.compact(resource, obj)[CONVERTED];
    if (m.unsupported && !this.unsupportedLogged.has(resource.kind)) {
      this.unsupportedLogged.add(resource.kind);
      this.log.warn({ kind: resource.kind }, 'no parser for this kind yet; its objects are not used');
    }
    return m;
  }

  private publish(): void {
    if (this.stopped) return;
    // Status-only updates (and relists that change nothing) end here, before
    // the agent recompiles anything.
    if (!this.inputsChanged) return;
    this.inputsChanged = false;
    // Only the kinds that changed are rebuilt (and sorted): a Namespace's
    // label costs the namespaces, not a sort of 100,000 pods. A reused map is
    // the previous snapshot's own object, never mutated (snapshots are
    // replaced, not changed), and the change sets skip it at once.
    const state = emptyClusterState();
    const problems: SourceProblem[] = [];
    for (const { resource, informer } of this.informers) {
      const field = STATE_MAPS[resource.kind as ObjectKind];
      let part = this.parts.get(resource);
      if (part === undefined || this.dirty.has(resource)) {
        const s = emptyClusterState();
        const own: SourceProblem[] = [];
        for (const raw of informer.objects()) {
          const c = this.convert(resource, raw);
          own.push(...c.problems);
          if (c.value !== undefined) put(s, c.value);
        }
        part = { map: sortedMap(s[field] as Map<string, unknown>), problems: own };
        this.parts.set(resource, part);
      }
      (state as unknown as Record<string, Map<string, unknown>>)[field] = part.map;
      problems.push(...part.problems);
    }
    this.dirty.clear();
    state.problems = problems.sort((a, b) => compareText(`${a.source} ${a.message}`, `${b.source} ${b.message}`));
    const changed = changedObjects(this.state, state);
    this.state = state;
    this.log.info(
      { namespaces: state.namespaces.size, pods: state.pods.size, nodes: state.nodes.size, problems: problems.length },
      'cluster state changed',
    );
    this.listeners.notify(state, changed);
  }
}

/** Into the state map of its kind. */
function put(s: ClusterState, v: KubeValue): void {
  switch (v.kind) {
    case 'Namespace':
      s.namespaces.set(v.metadata.name, v);
      return;
    case 'Pod':
      s.pods.set(namespacedKey(v.metadata.namespace, v.metadata.name), v);
      return;
    case 'Node':
      s.nodes.set(v.node.name, v.node);
      return;
    case 'Service':
      s.services.set(namespacedKey(v.metadata.namespace, v.metadata.name), v);
      return;
    case 'EndpointSlice':
      s.endpointSlices.set(namespacedKey(v.metadata.namespace, v.metadata.name), v);
      return;
    case 'VirtualNetwork':
      s.virtualNetworks.set(namespacedKey(v.metadata.namespace, v.metadata.name), v);
      return;
    case 'VirtualNetworkRouter':
      s.routers.set(namespacedKey(v.metadata.namespace, v.metadata.name), v);
      return;
    case 'NetworkAttachmentDefinition':
      s.attachmentDefinitions.set(namespacedKey(v.metadata.namespace, v.metadata.name), v);
      return;
    case 'NetworkPolicy':
      s.networkPolicies.set(namespacedKey(v.metadata.namespace, v.metadata.name), v);
      return;
    default: {
      // A kind added to the parsers needs its line here (compile error until then).
      const unhandled: never = v;
      throw new Error(`unhandled kind ${JSON.stringify(unhandled)}`);
    }
  }
}

function withoutResourceVersion(v: KubeValue): KubeValue {
  if (!('metadata' in v) || v.metadata.resourceVersion === undefined) return v;
  const { resourceVersion: _unused, ...metadata } = v.metadata;
  return { ...v, metadata } as KubeValue;
}


/** `m` itself when its keys are in order already: an API server lists in key
 *  order (etcd's), and sorting 100,000 pods that are cost ~0.1 s of a sync. */
function sortedMap<V>(m: Map<string, V>): Map<string, V> {
  let prev: string | undefined;
  for (const k of m.keys()) {
    if (prev !== undefined && compareText(prev, k) > 0) return new Map([...m].sort(([a], [b]) => compareText(a, b)));
    prev = k;
  }
  return m;
}

const CONVERTED = Symbol('converted');

/** An object as the informer cache holds it (KubeSource.compact). */
interface CompactObject extends KubernetesObject {
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string };
  [CONVERTED]: Converted;
}
