// Part 3: the control plane. A real agent process (dist/cli/main.js agent)
// runs in a netns of its own; the cluster is generated (namespaces, pods on
// another node with their IPs), so every pod becomes an endpoint without a
// real interface. Two sources, the same method:
// - local manifests: one directory per namespace and a lab file with the IPs;
// - the Kubernetes API: the test API server (test/helpers/apiserver.ts, the
//   list/watch protocol over HTTP) in this process, listening on the agent
//   netns's loopback, the agent started with --source kube and a kubeconfig.
//
// - initial sync: agent start -> status.json says synced and the pinned
//   endpoints map holds every pod;
// - change latency: a namespace's isolation label toggled (manifest file
//   rewritten, or the Namespace object replaced in the API server) -> the
//   pinned endpoints map shows the pod's new VRF id (polled);
// - resident memory of the agent after the sync.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as abi from '../src/bpf/abi.js';
import { native } from '../src/bpf/native.js';
import * as grpc from '@grpc/grpc-js';
import { AgentClient, socketOf } from '../src/api/client.js';
import type { ServerStatusResponse } from '../src/api/messages.js';
import * as pk from '../test/helpers/packets.js';
import { TestApiServer } from '../test/helpers/apiserver.js';
import { namespaceObj, nodeObj, podObj } from '../test/helpers/kube-objects.js';
import { BUILD_BPF, CP_INSTANCE, CP_NETNS, PIN_BASE, PREFIX, QUICK, REPO, RUN_BASE, staleNetns } from './lib/env.js';
import { perfHot, perfRecord, type HotSymbol, type PerfRecording } from './lib/perf.js';
import type { PartResult, Table, Target } from './lib/report.js';
import { percentile, round } from './lib/stats.js';
import { killAndWait, rssKb, run, sleep } from './lib/sys.js';

const NAMESPACES = QUICK ? 100 : 1000;
/** Manifest-source cluster sizes, and how many changes each gets (0: initial sync only).
 *  A change at 10k pods took ~0.5 s on 2026-11-21, so the 1,000 changes run on the 1k-pod cluster. */
/** The run whose agent runs under perf (its figures then include perf's overhead): BENCH_CP_PROFILE=<pods>. */
const PROFILE_PODS = Number(process.env.BENCH_CP_PROFILE ?? 10_000);
/** flows: after the sync, make this many flows for the agent to hold (memory with endpoints and flows). */
const RUNS: { pods: number; changes: number; profile: boolean; flows: number }[] = (
  QUICK
    ? [
        { pods: 1_000, changes: 100, flows: 0 },
        { pods: 10_000, changes: 20, flows: 10_000 },
      ]
    : [
        { pods: 1_000, changes: 1000, flows: 0 },
        { pods: 10_000, changes: 100, flows: 0 },
        { pods: 100_000, changes: 0, flows: 100_000 },
      ]
).map((r) => ({ ...r, profile: r.pods === PROFILE_PODS }));
/** New flows per burst of test runs: well inside what the 512 KiB ring buffer holds (~7,000 events). */
const FLOW_BURST = 2_000;
const FLOWS_TIMEOUT_MS = 120_000;
/** The Kubernetes-API source: one cluster, the size of the manifest run with 1,000 changes. */
const KUBE_RUN = QUICK ? { pods: 1_000, changes: 100 } : { pods: 1_000, changes: 1000 };
const SYNC_TIMEOUT_MS = 120_000;
const CHANGE_TIMEOUT_MS = 5_000;
const TARGET_P99_MS = 20;
const TARGET_SYNC_S = 2;
const TARGET_RSS_MB = 250;
const POD_CIDR = '10.128.0.0/9';
const SERVICE_CIDR = '10.96.0.0/16';
const MAX_ENDPOINTS = 262_144;
const NODE_ADDR = { node1: '192.168.77.1', node2: '192.168.77.2' } as const;
const ISOLATED_LABEL = 'vrfwall.dev/isolated';

const podIp = (i: number): string => `10.${128 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`;
const nsName = (k: number): string => `cp-ns${k}`;

function nsDoc(k: number, isolated: boolean): string {
  const labels = isolated ? `  labels:\n    ${ISOLATED_LABEL}: "true"\n` : '';
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${nsName(k)}\n${labels}`;
}

/** One directory per namespace: namespace.yaml (the file a change rewrites) and pods.yaml. */
function generate(dir: string, pods: number, namespaces: number): string {
  fs.rmSync(dir, { recursive: true, force: true });
  const manifests = path.join(dir, 'manifests');
  const placement: Record<string, { node: string; ips: string[] }> = {};
  const perNs: string[][] = Array.from({ length: namespaces }, () => []);
  for (let i = 0; i < pods; i++) {
    const k = i % namespaces;
    const name = `p${i}`;
    perNs[k]!.push(`apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: ${nsName(k)}\nspec:\n  nodeName: node2\n  containers:\n    - name: c\n      image: none\n`);
    placement[`${nsName(k)}/${name}`] = { node: 'node2', ips: [podIp(i)] };
  }
  for (let k = 0; k < namespaces; k++) {
    const d = path.join(manifests, nsName(k));
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, 'namespace.yaml'), nsDoc(k, false));
    fs.writeFileSync(path.join(d, 'pods.yaml'), perNs[k]!.join('---\n'));
  }
  const labFile = path.join(dir, 'cluster.json');
  fs.writeFileSync(
    labFile,
    JSON.stringify({
      version: 1,
      podCIDRs: [POD_CIDR],
      serviceCIDRs: [SERVICE_CIDR],
      nodes: [
        { name: 'node1', addresses: [NODE_ADDR.node1] },
        { name: 'node2', addresses: [NODE_ADDR.node2] },
      ],
      pods: placement,
    }),
  );
  return manifests;
}

/** The same cluster as objects in the test API server: namespaces, both nodes, running pods on node2. */
function populate(server: TestApiServer, pods: number, namespaces: number): void {
  server.setInstalled('virtualnetworks', true);
  server.setInstalled('virtualnetworkrouters', true);
  server.apply('namespaces', namespaceObj('default'));
  server.apply('nodes', nodeObj('node1', [NODE_ADDR.node1]));
  server.apply('nodes', nodeObj('node2', [NODE_ADDR.node2]));
  for (let k = 0; k < namespaces; k++) server.apply('namespaces', namespaceObj(nsName(k)));
  for (let i = 0; i < pods; i++) server.apply('pods', podObj(nsName(i % namespaces), `p${i}`, { node: 'node2', ips: [podIp(i)] }));
}

interface AgentRun {
  child: ChildProcess;
  pid: number;
  instance: string;
  logFile: string;
  perf?: PerfRecording;
}

const statusFile = (instance: string): string => path.join(RUN_BASE, instance, 'status.json');
const pinDir = (instance: string): string => path.join(PIN_BASE, instance);

function cleanupAgentState(instance: string): void {
  fs.rmSync(pinDir(instance), { recursive: true, force: true });
  fs.rmSync(path.join(RUN_BASE, instance), { recursive: true, force: true });
}

/** The agent in the control-plane netns; sourceArgs pick the source. */
function startAgent(dir: string, instance: string, sourceArgs: string[], profile: boolean): AgentRun {
  const logFile = path.join(dir, 'agent.log');
  const nodeArgs = profile ? ['--perf-basic-prof'] : [];
  const args = [
    `--net=/run/netns/${CP_NETNS}`, '--', process.execPath, ...nodeArgs, path.join(REPO, 'dist/cli/main.js'), 'agent',
    '--node-name', 'node1', ...sourceArgs,
    '--instance', instance, '--max-endpoints', String(MAX_ENDPOINTS), '--resync', '600', '--log-file', logFile,
  ];
  const child = spawn('nsenter', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  child.on('exit', (code, sig) => {
    if (code !== 0 && sig === null) console.error(`bench: control-plane agent exited ${code}: ${err.trim()}`);
  });
  if (child.pid === undefined) throw new Error('could not start the agent');
  const perf = profile ? perfRecord(child.pid, path.join(dir, 'perf.data')) : undefined;
  return { child, pid: child.pid, instance, logFile, ...(perf ? { perf } : {}) };
}

function readStatus(instance: string): { pid: number; synced: boolean; generation: number } | undefined {
  try {
    return JSON.parse(fs.readFileSync(statusFile(instance), 'utf8')) as { pid: number; synced: boolean; generation: number };
  } catch {
    return undefined;
  }
}

function logTail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Waits for the agent's first successful reconcile; returns ms since `since`. */
async function waitSynced(a: AgentRun, since: bigint, signal: AbortSignal): Promise<number> {
  const deadline = Date.now() + SYNC_TIMEOUT_MS;
  for (;;) {
    signal.throwIfAborted();
    const st = readStatus(a.instance);
    if (st && st.pid === a.pid && st.synced) return Number(process.hrtime.bigint() - since) / 1e6;
    if (a.child.exitCode !== null) throw new Error(`agent exited (${a.child.exitCode}) before it synced; its log ends:\n${logTail(a.logFile)}`);
    if (Date.now() > deadline) throw new Error(`agent not synced after ${SYNC_TIMEOUT_MS / 1000} s`);
    await sleep(2);
  }
}

/** The agent's own figure for its first reconcile (pino "reconciled" line, ms). */
function firstReconcileMs(logFile: string): number | null {
  try {
    for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
      if (!line.includes('"reconciled"')) continue;
      const j = JSON.parse(line) as { generation?: number; ms?: number };
      if (j.generation === 1 && typeof j.ms === 'number') return j.ms;
    }
  } catch {
    /* no log */
  }
  return null;
}

/** The agent's own figures for its reconciles after the first (one per change, or fewer when changes coalesce), ms. */
function laterReconcileMs(logFile: string): number[] {
  const out: number[] = [];
  try {
    for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
      if (!line.includes('"reconciled"')) continue;
      const j = JSON.parse(line) as { generation?: number; ms?: number };
      if (typeof j.generation === 'number' && j.generation > 1 && typeof j.ms === 'number') out.push(j.ms);
    }
  } catch {
    /* no log */
  }
  return out;
}

function endpointsFd(instance: string): number {
  return native().objGet(path.join(pinDir(instance), 'maps', abi.MapName.endpoints));
}

type Source = 'manifests' | 'kube';

interface SyncResult {
  source: Source;
  pods: number;
  namespaces: number;
  syncMs: number;
  agentReconcileMs: number | null;
  endpoints: number;
  rssMB: number;
  /** with flows made after the sync */
  flows?: FlowsResult;
}

interface SyncResult2 extends SyncResult {
  hot: HotSymbol[];
}

/** Starts an agent, waits for its sync, checks the map, runs `keep` while it runs, stops it. */
async function syncRun(
  source: Source,
  dir: string,
  instance: string,
  sourceArgs: string[],
  pods: number,
  signal: AbortSignal,
  keep?: (a: AgentRun) => Promise<FlowsResult | void>,
  profile = false,
): Promise<SyncResult2> {
  cleanupAgentState(instance);
  const t0 = process.hrtime.bigint();
  const a = startAgent(dir, instance, sourceArgs, profile);
  try {
    const syncMs = await waitSynced(a, t0, signal);
    const rss = rssKb(a.pid) ?? 0;
    const fd = endpointsFd(instance);
    const endpoints = native().mapDump(fd).count;
    native().closeFd(fd);
    if (endpoints < pods) throw new Error(`${source} agent synced but the endpoints map holds ${endpoints} entries for ${pods} pods`);
    const flows = keep ? await keep(a) : undefined;
    const hot = a.perf ? await perfHot(a.perf) : [];
    return {
      source, pods, namespaces: NAMESPACES, syncMs, agentReconcileMs: firstReconcileMs(a.logFile), endpoints, rssMB: rss / 1024, hot,
      ...(flows ? { flows } : {}),
    };
  } finally {
    if (a.perf) await killAndWait(a.perf.child, 'SIGINT', 10_000);
    await killAndWait(a.child, 'SIGTERM', 10_000);
    fs.rmSync(`/tmp/perf-${a.pid}.map`, { force: true });
    cleanupAgentState(instance);
  }
}

/**
 * Toggles the isolation of namespace after namespace through `change` and
 * times each until the pinned endpoints map shows a pod of that namespace
 * with its new VRF id. The clock starts right before the change is made (the
 * file written, the object stored: the API server sends the watch event from
 * inside apply()).
 */
async function changeLatency(
  instance: string,
  count: number,
  change: (k: number, isolated: boolean) => void,
  signal: AbortSignal,
): Promise<{ ms: number[]; timeouts: number }> {
  const n = native();
  const fd = endpointsFd(instance);
  const isolated = new Set<number>();
  const ms: number[] = [];
  let timeouts = 0;
  try {
    for (let i = 0; i < count; i++) {
      signal.throwIfAborted();
      const k = i % NAMESPACES;
      const key = abi.encodeEndpointKey(podIp(k)); // pod p<k> lives in namespace k
      const before = n.mapLookup(fd, key);
      if (!before) throw new Error(`pod ${podIp(k)} is not in the endpoints map`);
      const vrfBefore = abi.decodeEndpoint(before).vrfId;
      const iso = !isolated.has(k);
      const t0 = process.hrtime.bigint();
      change(k, iso);
      if (iso) isolated.add(k);
      else isolated.delete(k);
      let done = false;
      while (!done) {
        const v = n.mapLookup(fd, key);
        if (v && abi.decodeEndpoint(v).vrfId !== vrfBefore) done = true;
        else if (Number(process.hrtime.bigint() - t0) / 1e6 > CHANGE_TIMEOUT_MS) break;
        else await sleep(1);
      }
      if (done) ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
      else timeouts++;
      await sleep(5);
    }
  } finally {
    n.closeFd(fd);
  }
  return { ms, timeouts };
}

interface FlowsResult {
  flows: number;
  held: number;
  ms: number;
  eventsLost: number;
  rssBeforeMB: number;
  rssMB: number;
  /** where the memory is, from the agent's own process metrics, before and with the flows */
  memBefore: AgentMemory | null;
  mem: AgentMemory | null;
}

/** The agent's Node.js memory by kind (its Prometheus process metrics), MB. */
interface AgentMemory {
  heapUsed: number;
  heapTotal: number;
  /** memory of C++ objects bound to JS objects: Buffers, the addon's allocations */
  external: number;
}

const METRICS_URL = 'http://127.0.0.1:9477/metrics'; // the agent's default --metrics-port, in its netns

async function agentMemory(): Promise<AgentMemory | null> {
  try {
    const text = await run('ip', ['netns', 'exec', CP_NETNS, 'curl', '-sf', '--max-time', '10', METRICS_URL], { timeoutMs: 15_000 });
    const metric = (name: string): number => {
      const m = new RegExp(`^vrfwall_${name} (\\S+)$`, 'm').exec(text);
      if (!m) throw new Error(`no ${name}`);
      return Number(m[1]) / 2 ** 20;
    };
    return {
      heapUsed: metric('nodejs_heap_size_used_bytes'),
      heapTotal: metric('nodejs_heap_size_total_bytes'),
      external: metric('nodejs_external_memory_bytes'),
    };
  } catch {
    return null; // metrics off or renamed: the RSS figures stand without the breakdown
  }
}

/**
 * Makes `count` flows for a running agent to hold, the way the kernel makes
 * them: its own from_pod program (loaded a second time on the agent's pinned
 * maps, as a restarted agent does) run by BPF_PROG_TEST_RUN on frames of
 * distinct 5-tuples between pods of the cluster. Each makes a flow entry and a
 * ring-buffer event the agent reads; bursts are paced by the agent's
 * eventsReceived so the ring never overflows. Returns the agent's RSS before
 * and with the flows held.
 */
async function makeFlows(a: AgentRun, count: number, signal: AbortSignal): Promise<FlowsResult> {
  const n = native();
  const client = new AgentClient({ label: a.instance, address: `unix:${socketOf(a.instance)}`, creds: grpc.credentials.createInsecure() });
  const status = (): Promise<ServerStatusResponse> => client.unary<ServerStatusResponse>('state', 'ServerStatus', {}, 10_000);
  const obj = n.loadObject(path.join(BUILD_BPF, 'from_pod.o'), {
    pinRoot: path.join(pinDir(a.instance), 'maps'),
    maxEntries: { [abi.MapName.endpoints]: MAX_ENDPOINTS },
  });
  try {
    const prog = obj.programs.from_pod;
    if (prog === undefined) throw new Error('from_pod.o has no from_pod');
    const ctx = Buffer.alloc(192);
    ctx.writeUInt32LE(1, 40); // ifindex 1: the loopback, which every netns has
    // One frame, its UDP ports rewritten per flow (the IPv4 checksum does not cover them).
    const frame = pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src: podIp(1), dst: podIp(2), protocol: pk.IpProto.UDP }, pk.udp()));
    const UDP_PORTS = 14 + 20;
    const rssBeforeMB = (rssKb(a.pid) ?? 0) / 1024;
    const memBefore = await agentMemory();
    const t0 = Date.now();
    let st = await status();
    const received0 = st.eventsReceived;
    for (let i = 0; i < count; ) {
      signal.throwIfAborted();
      const end = Math.min(count, i + FLOW_BURST);
      for (; i < end; i++) {
        frame.writeUInt16BE(1024 + (i % 60_000), UDP_PORTS);
        frame.writeUInt16BE(1000 + Math.floor(i / 60_000), UDP_PORTS + 2);
        n.progTestRun(prog, frame, 1, ctx);
      }
      for (;;) {
        st = await status();
        if (st.eventsReceived - received0 >= i || st.eventsLost > 0) break;
        if (Date.now() - t0 > FLOWS_TIMEOUT_MS) throw new Error(`the agent received ${st.eventsReceived - received0} of ${i} flow events in ${FLOWS_TIMEOUT_MS / 1000} s`);
        await sleep(10);
      }
      if (st.eventsLost > 0) throw new Error(`${st.eventsLost} flow events lost in the ring buffer: pace the bursts`);
    }
    const ms = Date.now() - t0;
    await sleep(500); // settle (no allocation in flight)
    st = await status();
    if (st.flowsHeld < count) throw new Error(`the agent holds ${st.flowsHeld} flows after ${count} new ones`);
    const rssMB = (rssKb(a.pid) ?? 0) / 1024;
    return { flows: count, held: st.flowsHeld, ms, eventsLost: st.eventsLost, rssBeforeMB, rssMB, memBefore, mem: await agentMemory() };
  } finally {
    client.close();
    for (const f of [...Object.values(obj.programs), ...Object.values(obj.maps)]) n.closeFd(f);
  }
}

interface Latency {
  source: Source;
  pods: number;
  ms: number[];
  timeouts: number;
  /** the agent's reconcile times for these changes, from its log */
  reconcileMs: number[];
}

/** Times `count` changes on a running agent, then reads its own reconcile times from its log. */
async function timedChanges(a: AgentRun, source: Source, pods: number, count: number, change: (k: number, isolated: boolean) => void, signal: AbortSignal): Promise<Latency> {
  const r = await changeLatency(a.instance, count, change, signal);
  await sleep(300); // the log is written asynchronously
  return { source, pods, ...r, reconcileMs: laterReconcileMs(a.logFile) };
}

async function manifestRuns(work: string, signal: AbortSignal, syncs: SyncResult2[], latencies: Latency[]): Promise<void> {
  for (const r of RUNS) {
    console.error(`bench: control plane, manifests: ${r.pods} pods${r.changes ? `, then ${r.changes} changes` : ''}${r.profile ? ' (agent under perf record)' : ''}`);
    const dir = path.join(work, `m${r.pods}`);
    const manifests = generate(dir, r.pods, NAMESPACES);
    const sourceArgs = ['--manifests', manifests, '--lab-file', path.join(dir, 'cluster.json'), ...(r.flows ? ['--max-flows', String(r.flows)] : [])];
    const write = (k: number, iso: boolean): void => fs.writeFileSync(path.join(manifests, nsName(k), 'namespace.yaml'), nsDoc(k, iso));
    const keep = async (a: AgentRun): Promise<FlowsResult | void> => {
      if (r.changes) latencies.push(await timedChanges(a, 'manifests', r.pods, r.changes, write, signal));
      if (r.flows) return makeFlows(a, r.flows, signal);
    };
    syncs.push(await syncRun('manifests', dir, `${CP_INSTANCE}-m`, sourceArgs, r.pods, signal, keep, r.profile));
  }
}

async function kubeRun(work: string, signal: AbortSignal, syncs: SyncResult2[], latencies: Latency[]): Promise<void> {
  const r = KUBE_RUN;
  console.error(`bench: control plane, Kubernetes API (test API server): ${r.pods} pods, then ${r.changes} changes`);
  const dir = path.join(work, `k${r.pods}`);
  fs.mkdirSync(dir, { recursive: true });
  const server = new TestApiServer({ netns: CP_NETNS });
  await server.start();
  try {
    populate(server, r.pods, NAMESPACES);
    const kubeconfig = path.join(dir, 'kubeconfig');
    server.writeKubeconfig(kubeconfig);
    const sourceArgs = ['--source', 'kube', '--kubeconfig', kubeconfig, '--pod-cidr', POD_CIDR, '--service-cidr', SERVICE_CIDR];
    const put = (k: number, iso: boolean): void => void server.apply('namespaces', namespaceObj(nsName(k), iso ? { [ISOLATED_LABEL]: 'true' } : {}));
    const keep = async (a: AgentRun) => void latencies.push(await timedChanges(a, 'kube', r.pods, r.changes, put, signal));
    syncs.push(await syncRun('kube', dir, `${CP_INSTANCE}-k`, sourceArgs, r.pods, signal, keep));
  } finally {
    await server.close();
  }
}

const SOURCE_LABEL: Record<Source, string> = { manifests: 'manifest files', kube: 'test API server' };

export async function runControlPlane(signal: AbortSignal): Promise<PartResult> {
  const t0 = Date.now();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `vrfwall-${PREFIX}-cp-`));
  const notes: string[] = [];
  const netnsList = (await run('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0] ?? '');
  for (const ns of [...staleNetns(netnsList), CP_NETNS]) await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  await run('ip', ['netns', 'add', CP_NETNS]);
  await run('ip', ['-n', CP_NETNS, 'link', 'set', 'lo', 'up']); // the test API server listens on it
  try {
    const syncs: SyncResult2[] = [];
    const latencies: Latency[] = [];
    await manifestRuns(work, signal, syncs, latencies);
    try {
      await kubeRun(work, signal, syncs, latencies);
    } catch (e) {
      if (signal.aborted) throw e;
      // the manifest figures stand on their own; say what broke
      notes.push(`**The API-server run failed:** ${e instanceof Error ? e.message : String(e)}`);
    }

    // the top symbols overall, then the JavaScript functions among the rest
    const all = syncs.flatMap((s) => s.hot);
    const hot = [...all.slice(0, 10), ...all.slice(10).filter((h) => h.symbol.startsWith('JS:')).slice(0, 8)];
    const profiled = RUNS.find((r) => r.profile);

    const mainOf = (source: Source): Latency =>
      latencies.filter((l) => l.source === source).reduce<Latency | undefined>((a, l) => (a === undefined || l.ms.length > a.ms.length ? l : a), undefined) ??
      { source, pods: 0, ms: [], timeouts: 0, reconcileMs: [] };
    const manifestSyncs = syncs.filter((s) => s.source === 'manifests');
    const big = manifestSyncs.reduce((a, s) => (s.pods > a.pods ? s : a));
    const syncTable: Table = {
      title: `Initial sync (${NAMESPACES} namespaces, pods on another node: endpoints only)`,
      columns: ['source', 'pods', 'agent start → synced (ms)', "agent's first reconcile (ms)", 'endpoints in map', 'agent RSS (MB)'],
      rows: syncs.map((s) => [SOURCE_LABEL[s.source], s.pods.toLocaleString('en'), s.syncMs, s.agentReconcileMs ?? '—', s.endpoints, s.rssMB]),
    };
    const withFlows = syncs.filter((s) => s.flows);
    const flowsTable: Table = {
      title: 'Agent memory with endpoints and flows (flows made after the sync through the datapath and its ring buffer)',
      columns: ['endpoints', 'flows held by the agent', 'RSS right after the sync (MB)', 'RSS before the flows (MB)', 'RSS with the flows (MB)', 'flows made in (s)'],
      rows: withFlows.map((s) => [s.endpoints, s.flows!.held, s.rssMB, s.flows!.rssBeforeMB, s.flows!.rssMB, s.flows!.ms / 1000]),
    };
    const memOf = (m: AgentMemory | null): string[] =>
      m ? [m.heapUsed, m.heapTotal, m.external].map((v) => String(round(v, 0))) : ['—', '—', '—'];
    const memTable: Table = {
      title: "Where the agent's memory is (its own process metrics, MB): JS heap used, heap total, external (Buffers and other memory bound to JS objects)",
      columns: ['endpoints', 'when', 'heap used', 'heap total', 'external'],
      rows: withFlows.flatMap((s) => [
        [s.endpoints, 'before the flows', ...memOf(s.flows!.memBefore)],
        [s.endpoints, `with ${s.flows!.held.toLocaleString('en')} flows`, ...memOf(s.flows!.mem)],
      ]),
    };
    const latTable: Table = {
      title: 'Change latency: isolation label toggled (manifest rewritten / Namespace replaced in the API server) → pinned endpoints map updated',
      columns: ['source', 'pods', 'changes', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'timeouts (> 5 s)', "agent's reconciles", 'reconcile p50 ms', 'reconcile p99 ms'],
      rows: latencies.map((l) => {
        const rec = l.reconcileMs.length ? [l.reconcileMs.length, percentile(l.reconcileMs, 50), percentile(l.reconcileMs, 99)] : [0, '—', '—'];
        return l.ms.length
          ? [SOURCE_LABEL[l.source], l.pods.toLocaleString('en'), l.ms.length, percentile(l.ms, 50), percentile(l.ms, 90), percentile(l.ms, 99), Math.max(...l.ms), l.timeouts, ...rec]
          : [SOURCE_LABEL[l.source], l.pods.toLocaleString('en'), 0, '—', '—', '—', '—', l.timeouts, ...rec];
      }),
    };
    const tables = [syncTable, latTable];
    if (withFlows.length > 0) tables.push(flowsTable, memTable);
    const m = mainOf('manifests');
    const k = mainOf('kube');
    if (m.ms.length && k.ms.length) {
      tables.push({
        title: `Side by side at ${m.pods.toLocaleString('en')} pods: test API server ÷ manifest files`,
        columns: ['p50', 'p90', 'p99'],
        rows: [[50, 90, 99].map((p) => `${round(percentile(k.ms, p) / percentile(m.ms, p), 2)}×`)],
      });
    }
    if (hot.length > 0) {
      tables.push({
        title: `Agent CPU profile during the ${(profiled?.pods ?? 0) / 1000}k manifest sync and what follows it (perf record -g on the agent, node --perf-basic-prof; self samples)`,
        columns: ['symbol', 'share of samples'],
        rows: hot.map((h) => [h.symbol, `${round(h.percent)} %`]),
      });
    }
    const latencyTarget = (id: string, l: Latency): Target => {
      const p99 = l.ms.length ? percentile(l.ms, 99) : null;
      return {
        id,
        description: `${l.source === 'kube' ? 'API server' : 'manifest'} change → maps updated, p99 over ${l.ms.length} changes (${l.pods.toLocaleString('en')} pods)`,
        target: `<= ${TARGET_P99_MS} ms`,
        measured: p99,
        unit: 'ms',
        met: p99 === null ? null : p99 <= TARGET_P99_MS && l.timeouts === 0,
        note: l.ms.length
          ? `one run of ${l.ms.length} changes: p50 ${round(percentile(l.ms, 50))} ms, max ${round(Math.max(...l.ms))} ms, ${l.timeouts} timeouts; ` +
            `agent's reconcile p50 ${l.reconcileMs.length ? round(percentile(l.reconcileMs, 50)) : '—'} ms`
          : 'not measured',
      };
    };
    const is100k = big.pods >= 100_000;
    const targets: Target[] = [
      latencyTarget('3a', m),
      latencyTarget('3a-kube', k),
      {
        id: '3b',
        description: `initial sync of ${big.pods.toLocaleString('en')} pods in ${NAMESPACES} namespaces (manifest files)`,
        target: `<= ${TARGET_SYNC_S} s${is100k ? '' : ' (at 100k)'}`,
        measured: big.syncMs / 1000,
        unit: 's',
        met: is100k ? big.syncMs / 1000 <= TARGET_SYNC_S : null,
        note:
          `one run; the agent's first reconcile ${big.agentReconcileMs ?? '—'} ms; ` +
          `${manifestSyncs[0]!.pods.toLocaleString('en')} pods sync in ${round(manifestSyncs[0]!.syncMs / 1000, 2)} s` +
          (is100k ? '' : '; quick mode: 100k not run'),
      },
      {
        id: '3c',
        description: big.flows
          ? `agent RSS with ${big.endpoints.toLocaleString('en')} endpoints and ${big.flows.held.toLocaleString('en')} flows`
          : `agent RSS with ${big.pods.toLocaleString('en')} endpoints (no flows made)`,
        target: `<= ${TARGET_RSS_MB} MB${is100k ? '' : ' (at 100k)'}`,
        measured: big.flows ? big.flows.rssMB : big.rssMB,
        unit: 'MB',
        met: is100k && big.flows ? big.flows.rssMB <= TARGET_RSS_MB : null,
        note: big.flows ? `${round(big.rssMB)} MB right after the sync, ${round(big.flows.rssBeforeMB)} MB before the flows` : 'flows not made',
      },
    ];
    notes.push(
      'The test API server runs inside the bench process (its watch events are written from the same event loop that polls the map), ' +
        'so its serialisation is inside the API-server figures; a real API server adds its own network and etcd time.',
      'Flows for the memory figure: this part has no pod interfaces, so the agent\'s own from_pod program is loaded a second time on ' +
        'its pinned maps (as a restarted agent reuses them) and run with BPF_PROG_TEST_RUN on frames of distinct UDP 5-tuples between ' +
        'two pods of the cluster (both on node2, so from_pod drops them as spoofed: each still makes a flow entry and a ring-buffer ' +
        'event, which the agent reads into its store, `--max-flows` raised to the count). Bursts of ' +
        `${FLOW_BURST.toLocaleString('en')} wait for the agent's eventsReceived (ServerStatus over its socket), so none is lost. ` +
        'The kernel map keeps its 65,536 most recent; the agent holds them all.',
    );
    return {
      id: 'controlplane',
      title: '3. Control plane',
      method:
        `A real agent (\`dist/cli/main.js agent\`) runs in its own network namespace (\`${CP_NETNS}\`, no pods there). The generated ` +
        `cluster has ${NAMESPACES} namespaces and its pods run on "node2", so each becomes an endpoint in the pinned map without an ` +
        'interface. Two sources: (1) local manifests, one directory per namespace (namespace.yaml and pods.yaml) plus a lab file with ' +
        'the pod IPs; (2) the Kubernetes API: the test API server of `test/helpers/apiserver.ts` (list/watch over HTTP, as the real ' +
        'one speaks it) listening on that namespace\'s loopback, holding the same namespaces, nodes and running pods, the agent started ' +
        'with `--source kube --kubeconfig`. Initial sync = from spawning the agent to its status.json saying synced (the endpoints map ' +
        'is then read back and must hold every pod). Change latency = from toggling a namespace\'s `vrfwall.dev/isolated` label (the ' +
        'namespace.yaml rewritten, or the Namespace object replaced in the API server, which writes the watch event at once) to the ' +
        'pinned endpoints map showing a pod of that namespace with its new VRF id (polled every 1 ms through the pin), changes one after ' +
        'another over different namespaces, 5 ms apart (' +
        [...RUNS.filter((r) => r.changes).map((r) => `manifests: ${r.changes} at ${r.pods.toLocaleString('en')} pods`), `API server: ${KUBE_RUN.changes} at ${KUBE_RUN.pods.toLocaleString('en')} pods`].join(', ') +
        '). The agent\'s own reconcile times (its "reconciled" log lines after the first) are shown beside the latency: the ' +
        'difference is the source\'s part (file watch or HTTP watch, parsing, debounce). RSS = VmRSS of the agent right after the sync. The agent of the profiled run was started with `node --perf-basic-prof` and ' +
        'recorded with `perf record -g -p` (node --cpu-prof cannot be used: its SIGPROF makes the BPF verifier fail with EAGAIN).',
      tables,
      targets,
      notes,
      data: { namespaces: NAMESPACES, syncs: syncs.map(({ hot: _h, ...s }) => s), latencies, hot },
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    for (const suffix of ['m', 'k']) cleanupAgentState(`${CP_INSTANCE}-${suffix}`);
    await run('ip', ['netns', 'del', CP_NETNS]).catch(() => undefined);
    fs.rmSync(work, { recursive: true, force: true });
  }
}
