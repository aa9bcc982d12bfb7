// The per-node agent: source of cluster state -> work queue of changed
// objects -> incremental compile -> apply the changed entries to the pinned
// maps -> attach to local pods' interfaces. I/O lives here and in the modules
// it calls; the decisions are in src/model (pure).
import { VW_CFG_AUDIT } from '../kernel/abi.js';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { newProbeKey } from '../kernel/skb.js';
import { native, type NativeAddon, type TcDirection } from '../kernel/native.js';
import { networkSubnets } from '../model/attachments.js';
import { IncrementalCompiler, mergeDelta, type DesiredDelta } from '../model/incremental.js';
import { emptyAllocation } from '../model/vrf.js';
import type { ClusterState, DesiredState, PodPlacement, SourceProblem, VrfAllocation } from '../model/types.js';
import { changedObjects } from '../sources/changes.js';
import { emptyClusterState, type ObjectKind, type ObjectRef, type StateSource } from '../sources/source.js';
import { Attacher, type AttachMode } from './attach.js';
import { detectLimits } from './limits.js';
import { NodeReports } from './node-reports.js';
import { ProblemEvents } from './problem-events.js';
import { ensureBpffs, removePins } from './bpffs.js';
import { closeDatapath, instancePaths, loadDatapath, loadSpareProgram, type Datapath, type InstancePaths, type MapName } from './datapath.js';
import { InterfaceDiscovery, applyNeighbours, type Discovered } from './discovery.js';
import { NetlinkMonitor } from './netlink-monitor.js';
import { writeStatusFile, type AgentStatus } from './status-file.js';
import { MapWriter } from './mapwriter.js';
import { VerdictEpoch } from './verdict-epoch.js';
import { ReconcileLoop } from './reconcile-loop.js';
import { DEFAULT_SESSION_SETTINGS, SessionKeeper, type SessionSettings, type SweepResult } from './sessions.js';
import { writeJsonAtomic } from '../util/files.js';
import { Observability, type ObservabilityConfig } from '../api/observability.js';

export interface AgentConfig {
  nodeName: string;
  instance: string;
  /** bpffs directory holding one directory per agent instance */
  bpffsRoot: string;
  /** run directory holding one directory per agent instance (status, VRF ids) */
  runDir: string;
  /** where from_pod.o, to_pod.o and session_gc.o are */
  bpfDir: string;
  podCIDRs: string[];
  serviceCIDRs: string[];
  attachMode: AttachMode | 'auto';
  /** the node-wide audit setting (vw_config VW_CFG_AUDIT); default enforce */
  enforcement?: 'enforce' | 'audit';
  /** --network-policy (issue 16): compile and enforce Kubernetes NetworkPolicy; default true */
  networkPolicy?: boolean;
  /** full reconcile period, a safety net under the event-driven path */
  resyncMs: number;
  maxEndpoints?: number;
  /** flow statistics, gRPC API and metrics (issue 5); absent = none */
  observability?: ObservabilityConfig;
  /** size of the Service session table (default VW_SESSIONS_MAX) */
  maxSessions?: number;
  /** session quota, timeouts and sweep period (default DEFAULT_SESSION_SETTINGS) */
  sessions?: SessionSettings;
}

export class Agent {
  private readonly bpf: NativeAddon;
  private readonly paths: InstancePaths;
  private readonly runDir: string;
  private dp: Datapath | undefined;
  private attacher: Attacher | undefined;
  private allocation: VrfAllocation = emptyAllocation();
  private generation = 0;
  private stopped = false;
  /** Keys of changed objects ("Pod ns/name"), and RESYNC / NETLINK, reconciled in batches (reconcile-loop.ts). */
  private readonly loop: ReconcileLoop;
  /** Rebuilt ("all") after a compile error: its indexes may be half updated. */
  private compiler: IncrementalCompiler | undefined;
  private writer: MapWriter | undefined;
  /** The interfaces the compiler last got. */
  private compiledIfaces: Discovered | undefined;
  /** What changed since the last completed reconcile (a failed one's changes
   *  are reported by the next): for logs and the flow directory. */
  private unreported: { delta: DesiredDelta; changed: ObjectRef[] | 'all' } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sessions: SessionKeeper | undefined;
  private epoch: VerdictEpoch | undefined;
  /** explain's probe key, new at every start (src/kernel/skb.ts) */
  private readonly probeKey = newProbeKey();
  /** the endpoints the last reconcile wrote, for the session sweeps between reconciles */
  private sweptEndpoints: DesiredState['endpoints'] | undefined;
  /** this node's pod addresses at the last reconcile: the sweep's local holders */
  private sweptLocal: string[] = [];
  /** Local secondary interfaces not found at the last sync (status.json `unenforced`). */
  private unenforced: string[] = [];
  /** The interfaces kept enforcing without a claimant at the last sync (Attacher.sync), to log changes once. */
  private retainedInterfaces = '';
  private readonly monitor: NetlinkMonitor;
  private unsubscribe: (() => void) | undefined;
  /** quarantined pods -> why, kept from placement changes */
  private readonly quarantined = new Map<string, string>();
  private lastProblems = new Set<string>();
  private readonly problemEvents: ProblemEvents;
  private obs: Observability | undefined;
  private readonly reports: NodeReports;
  private readonly discovery = new InterfaceDiscovery();
  /** local pod IPs on a bridge whose port is not known yet: their neighbour events wake us */
  private unresolved = new Set<string>();
  private writtenAllocation: VrfAllocation | undefined;
  /** The last interface discovery, reused while netlink is quiet (see discover()). */
  private lastDiscovery: { at: number; args: string; events: number; result: Discovered } | undefined;

  constructor(
    private readonly config: AgentConfig,
    private readonly source: StateSource,
    private readonly log: Logger,
    bpf?: NativeAddon,
  ) {
    this.bpf = bpf ?? native();
    this.paths = instancePaths(config.bpffsRoot, config.instance);
    this.runDir = path.join(config.runDir, config.instance);
    this.reports = new NodeReports(log);
    this.problemEvents = new ProblemEvents(config.nodeName);
    this.monitor = new NetlinkMonitor(() => this.unresolved, () => this.schedule(), log);
    this.loop = new ReconcileLoop({
      reconcile: (batch) => this.reconcile(batch),
      failed: (e, keys, retryMs) => {
        const msg = e instanceof Error ? e.message : String(e);
        this.log.error({ err: msg, keys: keys.length, retryMs }, 'reconcile failed; retrying');
        this.writeStatus([], msg);
      },
    });
  }

  get statusFile(): string {
    return path.join(this.runDir, 'status.json');
  }

  private get allocationFile(): string {
    return path.join(this.runDir, 'vrf-ids.json');
  }

  /** Load (or adopt) the datapath, wait for the source's first full state, converge. */
  async start(): Promise<void> {
    ensureBpffs();
    fs.mkdirSync(this.runDir, { recursive: true });
    this.writeStatus([]); // "running, not synced": probes can tell starting from dead
    const adopting = fs.existsSync(this.paths.maps);
    const sizes = {
      ...(this.config.maxEndpoints !== undefined ? { endpoints: this.config.maxEndpoints } : {}),
      ...(this.config.maxSessions !== undefined ? { sessions: this.config.maxSessions } : {}),
    };
    // The programs load on the addon's worker thread (the verifier) while the
    // source lists and parses the cluster on this one. Nothing is written to
    // a map before both are done (the first reconcile waits for both), and
    // until then the pinned maps (if any) keep enforcing what the previous
    // agent left: no window opens.
    const datapath = loadDatapath(this.bpf, this.config.bpfDir, this.paths, sizes).then((dp) => this.datapathLoaded(dp, sizes, adopting));
    this.unsubscribe = this.source.onChange((_state, changed) => {
      for (const c of changed) this.loop.add(objectKey(c));
    });
    const [loaded, listed] = await Promise.allSettled([datapath, Promise.resolve().then(() => this.source.start())]);
    if (loaded.status === 'rejected') {
      // As before the overlap: a failed start leaves no source running.
      await this.source.stop().catch(() => undefined);
      throw loaded.reason;
    }
    if (listed.status === 'rejected') throw listed.reason;
    // Netlink events from here on: a neighbour answering our first
    // reconcile's resolution request must not be missed.
    this.monitor.start();
    // The first reconcile compiles everything and diffs against the kernel;
    // keys queued meanwhile wait behind it. Its error fails start.
    await this.loop.start(RESYNC);
    this.timer = setInterval(() => this.loop.add(RESYNC), this.config.resyncMs);
    this.timer.unref();
    this.sweepTimer = setInterval(() => this.sweepSessions(), (this.config.sessions ?? DEFAULT_SESSION_SETTINGS).sweepMs);
    this.sweepTimer.unref();
  }

  /** The datapath's fds are in: the writers on them, then flows and the API. */
  private async datapathLoaded(dp: Datapath, sizes: Partial<Record<MapName, number>>, adopting: boolean): Promise<void> {
    this.dp = dp;
    // Timeouts and quota are in the config map before any program is attached.
    this.epoch = new VerdictEpoch(this.bpf, dp.maps.cache_ctl);
    this.epoch.init();
    this.writer = new MapWriter(this.bpf, dp.maps, this.epoch);
    this.sessions = new SessionKeeper(this.bpf, dp.maps, dp.sessionGc, this.config.sessions ?? DEFAULT_SESSION_SETTINGS, this.probeKey, this.epoch,
      this.config.enforcement === 'audit' ? VW_CFG_AUDIT : 0,
    );
    const spare = (dir: TcDirection): number =>
      loadSpareProgram(this.bpf, this.config.bpfDir, this.paths, dir === 'ingress' ? 'fromPod' : 'toPod', sizes);
    this.attacher = new Attacher(this.bpf, this.paths.links, dp.programs, this.log, this.config.attachMode, spare);
    this.allocation = this.readAllocation();
    this.log.info({ instance: this.config.instance, pins: this.paths.root, adopting }, 'datapath loaded');
    if (this.config.observability) {
      // Flows are read and the API answers (health NOT_SERVING) from here on.
      this.obs = await Observability.start(
        this.bpf,
        { node: this.config.nodeName, mapsDir: this.paths.maps, programs: () => (this.dp ? { ...this.dp.programs, probeKey: this.probeKey, enforcement: this.config.enforcement ?? 'enforce' } : undefined), reports: this.reports, enforcement: this.config.enforcement ?? 'enforce', cidrs: { podCIDRs: this.config.podCIDRs, serviceCIDRs: this.config.serviceCIDRs } },
        this.config.observability,
        this.log,
      );
    }
  }

  /** Remove expired and no longer allowed sessions; never throws (a timer calls it). */
  private sweepSessions(): SweepResult | undefined {
    const endpoints = this.sweptEndpoints;
    if (!this.sessions || !endpoints || this.stopped) return undefined;
    try {
      const r = this.sessions.sweep(endpoints, this.sweptLocal);
      this.obs?.sessionsSwept(r);
      if (r.expired + r.revoked > 0) this.log.debug(r, 'sessions swept');
      return r;
    } catch (e) {
      this.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'session sweep failed');
      return undefined;
    }
  }

  /** Stop watching. Pins stay: enforcement continues without the agent. */
  async stop(): Promise<void> {
    this.stopped = true;
    const reconciling = this.loop.stop(); // no new batch from here on
    if (this.timer) clearInterval(this.timer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.unsubscribe?.();
    this.monitor.stop();
    await this.source.stop();
    await reconciling;
    await this.obs?.stop();
    this.obs = undefined;
    if (this.dp) closeDatapath(this.bpf, this.dp);
    this.dp = undefined;
  }

  /** Adds a compile's delta to what the next completed reconcile reports and writes. */
  private note(delta: DesiredDelta, changed: readonly ObjectRef[] | 'all'): void {
    const prev = this.unreported;
    this.unreported = {
      delta: prev === undefined ? delta : mergeDelta(prev.delta, delta),
      changed: prev?.changed === 'all' || changed === 'all' ? 'all' : [...(prev?.changed ?? []), ...changed],
    };
  }

  /** Something outside the cluster state changed (interfaces, neighbours): reconcile. */
  schedule(): void {
    this.loop.add(NETLINK);
  }

  private async reconcile(batch: readonly string[]): Promise<void> {
    const dp = this.dp;
    const attacher = this.attacher;
    const writer = this.writer;
    if (!dp || !attacher || !writer) throw new Error('agent not started');
    const t0 = process.hrtime.bigint();
    const state = this.source.current();
    const resync = batch.includes(RESYNC);
    // A resync reads every map back from the kernel (drift, a foreign write).
    if (resync) writer.invalidate();

    const tCompile = performance.now();
    let compiler = this.compiler;
    let changed: readonly ObjectRef[] | 'all' = 'all';
    if (compiler === undefined) {
      // A new compiler's delta names what it has, not what the maps still
      // hold from before: diff against the kernel.
      writer.invalidate();
      compiler = new IncrementalCompiler(
        { nodeName: this.config.nodeName, podCIDRs: this.config.podCIDRs, serviceCIDRs: this.config.serviceCIDRs, networkPolicy: this.config.networkPolicy !== false },
        this.allocation,
      );
    } else if (resync) {
      // The safety net against a lost notification: every object that differs
      // from what the compiler last saw (identity first: cheap), not a recompile of everything.
      changed = changedObjects(compiler.lastState ?? emptyClusterState(), state);
    } else {
      changed = batch.flatMap((k) => parseObjectKey(k) ?? []);
    }
    const fullSync = !writer.knowsKernel;
    // Compile with the interfaces known so far; discovery (which needs the
    // local pods the compile found) may then add what it sees. An update
    // that throws may leave the compiler half updated: it is dropped then,
    // and the next reconcile starts a new one.
    this.compiler = undefined;
    const last = this.compiledIfaces;
    this.note(compiler.update(state, changed, last?.byIp ?? new Map(), last?.macs ?? new Map()), changed);
    this.compiler = compiler;
    let compileMs = performance.now() - tCompile;
    // Every local interface's addresses, one group per interface (secondary ones too).
    const ifaces = await this.discover([...compiler.localPods().values()].map((ips) => [...ips]), fullSync, networkSubnets(state.virtualNetworks.values()), bridgeHints(compiler, state));
    if (ifaces !== last) {
      const t = performance.now();
      this.compiler = undefined;
      this.note(compiler.update(state, [], ifaces.byIp, ifaces.macs), []);
      this.compiler = compiler;
      this.compiledIfaces = ifaces;
      compileMs += performance.now() - t;
    }
    const desired = compiler.desired();
    const unreported = this.unreported as { delta: DesiredDelta; changed: ObjectRef[] | 'all' };
    // Ids hit the disk before the maps, so a crash never leaves maps holding
    // ids that a restarted agent would hand to other networks.
    this.allocation = compiler.allocation;
    if (this.allocation !== this.writtenAllocation) {
      writeJsonAtomic(this.allocationFile, this.allocation);
      this.writtenAllocation = this.allocation;
    }

    const maps = writer.write(desired, writer.knowsKernel ? unreported.delta : undefined);
    // A policy change must not leave replies of now-refused connections open.
    this.sweptEndpoints = desired.endpoints;
    this.sweptLocal = [...compiler.localPods().values()].flat();
    const prunedSessions = maps.updated + maps.deleted > 0 ? (this.sweepSessions()?.revoked ?? 0) : 0;

    const want = new Set<number>();
    for (const ifindexes of desired.attach.values()) for (const i of ifindexes) want.add(i);
    const links = attacher.sync(want, ifaces.all);
    // Local secondary interfaces discovery did not find have no hooks: say so (a pod that answers no ARP/ND,
    // or an address answered behind two bridges; docs/limits.md), at every full resync while it lasts.
    this.unenforced = [...compiler.localPods().keys()].filter((k) => k.includes('@') && !desired.attach.has(k)).sort();
    if (fullSync && this.unenforced.length > 0) {
      this.log.warn({ interfaces: this.unenforced }, 'secondary interfaces of local pods not found on this node: not enforced (no answer to ARP/ND behind exactly one veth port, or no node-side interface)');
    }
    const retained = links.retained.join(',');
    if (retained !== this.retainedInterfaces) {
      this.retainedInterfaces = retained;
      if (links.retained.length > 0) {
        const names = links.retained.map((i) => this.bpf.ifIndexToName(i) ?? `ifindex ${i}`);
        this.log.warn({ interfaces: names }, 'still enforcing on interfaces no local pod claims any more, until they are gone');
      }
    }
    const podOf = new Map<number, string>();
    for (const [pod, ifindexes] of desired.attach) for (const i of ifindexes) podOf.set(i, pod);
    for (const p of this.reports.hookOrder(links.order, (i) => ({ interface: this.bpf.ifIndexToName(i) ?? `ifindex ${i}`, ...(podOf.has(i) ? { pod: podOf.get(i) as string } : {}) }))) {
      this.source.reportProblem?.(p);
    }
    // What the datapath cannot see: at start and at every full resync
    // (spawns ip/nft: not on every event-driven reconcile).
    if (fullSync) await this.detect(state, podOf, attacher);
    this.unresolved = new Set(ifaces.unresolved);
    // Bridge ports are found through the neighbour table: have the kernel
    // resolve (and keep resolving) local pods' addresses.
    await applyNeighbours(ifaces.manage, ifaces.release).catch((e: unknown) =>
      this.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'could not request neighbour resolution'),
    );

    this.generation++;
    this.report(desired, unreported.delta);
    this.writeStatus([...desired.attach.keys()].sort());
    this.unreported = undefined;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    this.obs?.synced({ state, desired, delta: unreported.delta, changed: unreported.changed, generation: this.generation, attachMode: attacher.attachMode ?? null, compileMs, reconcileMs: ms });
    if (maps.updated + maps.deleted + links.attached + links.detached + links.updated + links.reordered > 0 || this.generation === 1) {
      const { order: _order, ...linkCounts } = links;
      this.log.info(
        { generation: this.generation, ms: Math.round(ms * 10) / 10, compileMs: Math.round(compileMs * 10) / 10, keys: batch.length, maps, links: linkCounts, prunedSessions },
        'reconciled',
      );
    }
  }

  /**
   * Interfaces, routes and neighbours of this node. Reading them spawns `ip`
   * and `bridge` (5-20 ms, the largest part of a reconcile after a manifest
   * change), so the last result is reused when nothing can have changed: same
   * local pod addresses, no netlink event at all since (any line of `ip
   * monitor` drops it), and the monitor was already listening when the result
   * was taken. A full resync always reads afresh.
   */
  private async discover(localPods: string[][], fullSync: boolean, subnets: readonly string[], bridgeOf: ReadonlyMap<string, string>): Promise<Discovered> {
    // Managed neighbour entries are released in the pod CIDRs and in the
    // networks' subnets (secondary interfaces live there, outside the pod CIDRs).
    const releaseIn = [...this.config.podCIDRs, ...subnets];
    const args = JSON.stringify([localPods, releaseIn, [...bridgeOf]]);
    const last = this.lastDiscovery;
    const quiet = last !== undefined && last.events === this.monitor.events && last.args === args;
    if (!fullSync && quiet && this.monitor.listeningAt(last.at)) return last.result;
    const at = performance.now();
    const events = this.monitor.events; // an event during the discovery invalidates it
    const result = await this.discovery.discover(localPods, releaseIn, bridgeOf);
    this.lastDiscovery = { at, args, events, result };
    return result;
  }

  private async detect(state: ClusterState, podInterfaces: Map<number, string>, attacher: Attacher): Promise<void> {
    try {
      const findings = await detectLimits({ bpf: this.bpf, nodeName: this.config.nodeName, state, own: attacher.ownProgramIds(), podInterfaces });
      this.reports.setFindings(findings);
    } catch (e) {
      this.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'could not look for isolation limits');
    }
  }

  /** Log quarantine and other problems once per change, not every reconcile.
   *  Placements: those the compile says may have changed. */
  private report(desired: DesiredState, delta: DesiredDelta): void {
    const placed: [string, string][] = [];
    for (const pod of delta.placements) {
      const p = desired.placements.get(pod);
      const was = this.quarantined.get(pod);
      const now = p === undefined ? undefined : describe(p);
      if (p?.kind === 'quarantine') this.quarantined.set(pod, now as string);
      else this.quarantined.delete(pod);
      if (p === undefined || was === now) continue;
      if (p.kind === 'quarantine') this.log.warn({ pod, reason: p.why }, 'pod quarantined: it reaches nothing but its node');
      else placed.push([pod, now as string]);
    }
    // One line per pod for a change; for a sync of a whole cluster (100,000
    // lines cost ~0.2 s of the start) one line with the counts, each pod at debug.
    if (placed.length <= PLACED_LOG_EACH) {
      for (const [pod, placement] of placed) this.log.info({ pod, placement }, 'pod placed');
    } else {
      const byPlacement: Record<string, number> = {};
      for (const [, placement] of placed) byPlacement[placement] = (byPlacement[placement] ?? 0) + 1;
      this.log.info({ pods: placed.length, byPlacement }, 'pods placed');
      if (this.log.isLevelEnabled('debug')) for (const [pod, placement] of placed) this.log.debug({ pod, placement }, 'pod placed');
    }
    const state = this.source.current();
    const problems = new Map<string, SourceProblem>();
    for (const p of [...desired.problems, ...state.problems]) problems.set(`${p.source}: ${p.message}`, p);
    for (const text of problems.keys()) {
      if (!this.lastProblems.has(text)) this.log.warn({ problem: text }, 'cluster state problem');
    }
    this.lastProblems = new Set(problems.keys());
    // Events: once per (problem, object, node responsible), not per text (problem-events.ts).
    for (const p of this.problemEvents.due(problems.values(), state)) this.source.reportProblem?.(p);
  }

  private writeStatus(attached: string[], lastError?: string): void {
    const quarantined: Record<string, string> = {};
    for (const pod of [...this.quarantined.keys()].sort()) quarantined[pod] = this.quarantined.get(pod) as string;
    const reports = this.reports.snapshot();
    const status: AgentStatus = {
      pid: process.pid,
      node: this.config.nodeName,
      generation: this.generation,
      synced: this.generation > 0,
      attachMode: this.attacher?.attachMode ?? null,
      enforcement: this.config.enforcement ?? 'enforce',
      attached,
      quarantined,
      hookOrder: { restored: reports.restored, notFirst: reports.notFirst },
      findings: reports.findings,
      ...(this.unenforced.length > 0 ? { unenforced: this.unenforced } : {}),
      time: new Date().toISOString(),
      ...(lastError !== undefined ? { lastError } : {}),
    };
    writeStatusFile(this.statusFile, status);
  }

  private readAllocation(): VrfAllocation {
    try {
      const raw = JSON.parse(fs.readFileSync(this.allocationFile, 'utf8')) as VrfAllocation;
      if (typeof raw === 'object' && raw !== null && typeof raw.next === 'number' && typeof raw.ids === 'object') return raw;
      this.log.warn({ file: this.allocationFile }, 'VRF id file malformed; allocating afresh');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.log.warn({ file: this.allocationFile, err: String(e) }, 'VRF id file unreadable; allocating afresh');
      }
    }
    return emptyAllocation();
  }

  /** Remove everything this instance attached and pinned (agent --cleanup). */
  static async cleanup(config: AgentConfig, log: Logger, bpf: NativeAddon = native()): Promise<void> {
    ensureBpffs();
    const paths = instancePaths(config.bpffsRoot, config.instance);
    const { all, release } = await new InterfaceDiscovery().discover([], config.podCIDRs);
    if (fs.existsSync(paths.root)) {
      fs.mkdirSync(paths.links, { recursive: true });
      const noPrograms = { fromPod: -1, toPod: -1 };
      const result = new Attacher(bpf, paths.links, noPrograms, log, 'tcx').detachAll(all);
      log.info({ ...result }, 'detached');
    }
    removePins(paths.root);
    await applyNeighbours([], release); // the managed neighbour entries asked for bridge ports
    fs.rmSync(path.join(config.runDir, config.instance), { recursive: true, force: true });
    log.info({ pins: paths.root }, 'cleanup done');
  }
}

/** Queue keys: one per object ("Pod ns/name"), and two for what is not an object. */
const RESYNC = '#resync'; // periodic: objects that differ from the compiler's last state; every map read back
const NETLINK = '#netlink'; // interfaces, routes or a neighbour changed

const KINDS: ReadonlySet<string> = new Set<ObjectKind>(['Namespace', 'Pod', 'Node', 'VirtualNetwork', 'VirtualNetworkRouter', 'Service', 'EndpointSlice', 'NetworkAttachmentDefinition', 'NetworkPolicy']);

function objectKey(ref: ObjectRef): string {
  return `${ref.kind} ${ref.key}`;
}

function parseObjectKey(k: string): ObjectRef | undefined {
  const i = k.indexOf(' ');
  const kind = k.slice(0, i);
  return i > 0 && KINDS.has(kind) ? { kind: kind as ObjectKind, key: k.slice(i + 1) } : undefined;
}

/** Up to this many pods placed by one reconcile are logged one by one (info). */
const PLACED_LOG_EACH = 20;

function describe(p: PodPlacement): string {
  switch (p.kind) {
    case 'network':
      return `network ${p.network}`;
    case 'quarantine':
      return `quarantine: ${p.why}`;
    case 'host':
      return 'host network';
  }
}

/** Local secondary interfaces' addresses -> the bridge their NetworkAttachmentDefinition names (the bridge
 *  plugin's `bridge`): discovery looks for them there only, so no pod on another bridge can answer for them. */
function bridgeHints(compiler: IncrementalCompiler, state: ClusterState): Map<string, string> {
  const out = new Map<string, string>();
  const local = compiler.localPods();
  for (const [key, nad] of compiler.localAttachmentNads()) {
    const bridge = state.attachmentDefinitions.get(nad)?.bridge;
    if (bridge !== undefined) for (const ip of local.get(key) ?? []) out.set(ip, bridge);
  }
  return out;
}
