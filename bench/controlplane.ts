// Part 3: the control plane. A real agent process (dist/cli/main.js agent)
// runs in a netns of its own with the local-manifest source; the cluster is
// generated (namespaces, pods on another node, a lab file with their IPs),
// so every pod becomes an endpoint without a real interface.
//
// - initial sync: agent start -> status.json says synced and the pinned
//   endpoints map holds every pod;
// - change latency: a namespace manifest rewritten (isolation label toggled)
//   -> the pinned endpoints map shows the pod's new VRF id (polled);
// - resident memory of the agent after the sync.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as abi from '../src/bpf/abi.js';
import { native } from '../src/bpf/native.js';
import { CP_INSTANCE, CP_NETNS, PIN_BASE, PREFIX, QUICK, REPO, RUN_BASE } from './lib/env.js';
import { perfHot, perfRecord, type HotSymbol, type PerfRecording } from './lib/perf.js';
import type { PartResult, Table, Target } from './lib/report.js';
import { percentile, round } from './lib/stats.js';
import { killAndWait, rssKb, run, sleep } from './lib/sys.js';

const NAMESPACES = QUICK ? 100 : 1000;
/** Cluster sizes, and how many changes each gets (0: initial sync only).
 *  A change at 10k pods takes ~0.5 s today, so 1,000 of them run on the 1k-pod cluster. */
const RUNS: { pods: number; changes: number; profile: boolean }[] = QUICK
  ? [
      { pods: 1_000, changes: 100, profile: false },
      { pods: 10_000, changes: 20, profile: true },
    ]
  : [
      { pods: 1_000, changes: 1000, profile: false },
      { pods: 10_000, changes: 100, profile: true },
      { pods: 100_000, changes: 0, profile: false },
    ];
const SYNC_TIMEOUT_MS = 120_000;
const CHANGE_TIMEOUT_MS = 5_000;
const TARGET_P99_MS = 20;
const TARGET_SYNC_S = 2;
const TARGET_RSS_MB = 250;
const POD_CIDR = '10.128.0.0/9';
const SERVICE_CIDR = '10.96.0.0/16';
const MAX_ENDPOINTS = 262_144;

const podIp = (i: number): string => `10.${128 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`;
const nsName = (k: number): string => `cp-ns${k}`;

function nsDoc(k: number, isolated: boolean): string {
  const labels = isolated ? '  labels:\n    vrfwall.dev/isolated: "true"\n' : '';
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
        { name: 'node1', addresses: ['192.168.77.1'] },
        { name: 'node2', addresses: ['192.168.77.2'] },
      ],
      pods: placement,
    }),
  );
  return manifests;
}

interface AgentRun {
  child: ChildProcess;
  pid: number;
  logFile: string;
  perf?: PerfRecording;
}

const statusFile = path.join(RUN_BASE, CP_INSTANCE, 'status.json');
const pinDir = path.join(PIN_BASE, CP_INSTANCE);

async function cleanupAgentState(): Promise<void> {
  fs.rmSync(pinDir, { recursive: true, force: true });
  fs.rmSync(path.join(RUN_BASE, CP_INSTANCE), { recursive: true, force: true });
}

function startAgent(dir: string, manifests: string, profile: boolean): AgentRun {
  const logFile = path.join(dir, 'agent.log');
  const nodeArgs = profile ? ['--perf-basic-prof'] : [];
  const args = [
    `--net=/run/netns/${CP_NETNS}`, '--', process.execPath, ...nodeArgs, path.join(REPO, 'dist/cli/main.js'), 'agent',
    '--node-name', 'node1', '--manifests', manifests, '--lab-file', path.join(dir, 'cluster.json'),
    '--instance', CP_INSTANCE, '--max-endpoints', String(MAX_ENDPOINTS), '--resync', '600', '--log-file', logFile,
  ];
  const child = spawn('nsenter', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  child.on('exit', (code, sig) => {
    if (code !== 0 && sig === null) console.error(`bench: control-plane agent exited ${code}: ${err.trim()}`);
  });
  if (child.pid === undefined) throw new Error('could not start the agent');
  const perf = profile ? perfRecord(child.pid, path.join(dir, 'perf.data')) : undefined;
  return { child, pid: child.pid, logFile, ...(perf ? { perf } : {}) };
}

function readStatus(): { pid: number; synced: boolean; generation: number } | undefined {
  try {
    return JSON.parse(fs.readFileSync(statusFile, 'utf8')) as { pid: number; synced: boolean; generation: number };
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
    const st = readStatus();
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

function endpointsFd(): number {
  return native().objGet(path.join(pinDir, 'maps', abi.MapName.endpoints));
}

interface SyncResult {
  pods: number;
  namespaces: number;
  syncMs: number;
  agentReconcileMs: number | null;
  endpoints: number;
  rssMB: number;
}

interface SyncResult2 extends SyncResult {
  hot: HotSymbol[];
}

async function syncRun(work: string, pods: number, signal: AbortSignal, keep?: (a: AgentRun, manifests: string) => Promise<void>, profile = false): Promise<SyncResult2> {
  const dir = path.join(work, `c${pods}`);
  const manifests = generate(dir, pods, NAMESPACES);
  await cleanupAgentState();
  const t0 = process.hrtime.bigint();
  const a = startAgent(dir, manifests, profile);
  try {
    const syncMs = await waitSynced(a, t0, signal);
    const rss = rssKb(a.pid) ?? 0;
    const fd = endpointsFd();
    const endpoints = native().mapDump(fd).count;
    native().closeFd(fd);
    if (endpoints < pods) throw new Error(`agent synced but the endpoints map holds ${endpoints} entries for ${pods} pods`);
    if (keep) await keep(a, manifests);
    const hot = a.perf ? await perfHot(a.perf) : [];
    return { pods, namespaces: NAMESPACES, syncMs, agentReconcileMs: firstReconcileMs(a.logFile), endpoints, rssMB: rss / 1024, hot };
  } finally {
    if (a.perf) await killAndWait(a.perf.child, 'SIGINT', 10_000);
    await killAndWait(a.child, 'SIGTERM', 10_000);
    fs.rmSync(`/tmp/perf-${a.pid}.map`, { force: true });
    await cleanupAgentState();
  }
}

/** Rewrites namespace files, toggling isolation, and times each until the map shows it. */
async function changeLatency(manifests: string, count: number, signal: AbortSignal): Promise<{ ms: number[]; timeouts: number }> {
  const n = native();
  const fd = endpointsFd();
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
      fs.writeFileSync(path.join(manifests, nsName(k), 'namespace.yaml'), nsDoc(k, iso));
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

export async function runControlPlane(signal: AbortSignal): Promise<PartResult> {
  const t0 = Date.now();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `vrfwall-${PREFIX}-cp-`));
  const notes: string[] = [];
  await run('ip', ['netns', 'del', CP_NETNS]).catch(() => undefined);
  await run('ip', ['netns', 'add', CP_NETNS]);
  try {
    const syncs: SyncResult2[] = [];
    const latencies: { pods: number; ms: number[]; timeouts: number }[] = [];
    for (const r of RUNS) {
      console.error(`bench: control plane: ${r.pods} pods${r.changes ? `, then ${r.changes} changes` : ''}${r.profile ? ' (agent under perf record)' : ''}`);
      const keep = r.changes
        ? async (_a: AgentRun, manifests: string) => {
            latencies.push({ pods: r.pods, ...(await changeLatency(manifests, r.changes, signal)) });
          }
        : undefined;
      syncs.push(await syncRun(work, r.pods, signal, keep, r.profile));
    }
    // the top symbols overall, then the JavaScript functions among the rest
    const all = syncs.flatMap((s) => s.hot);
    const hot = [...all.slice(0, 10), ...all.slice(10).filter((h) => h.symbol.startsWith('JS:')).slice(0, 8)];
    const profiled = RUNS.find((r) => r.profile);

    const main = latencies[0] ?? { pods: 0, ms: [], timeouts: 0 };
    const p99 = main.ms.length ? percentile(main.ms, 99) : null;
    const big = syncs.reduce((a, s) => (s.pods > a.pods ? s : a));
    const syncTable: Table = {
      title: `Initial sync (${NAMESPACES} namespaces, pods on another node: endpoints only)`,
      columns: ['pods', 'agent start → synced (ms)', "agent's first reconcile (ms)", 'endpoints in map', 'agent RSS (MB)'],
      rows: syncs.map((s) => [s.pods.toLocaleString('en'), s.syncMs, s.agentReconcileMs ?? '—', s.endpoints, s.rssMB]),
    };
    const latTable: Table = {
      title: 'Change latency: namespace manifest rewritten → pinned endpoints map updated',
      columns: ['pods', 'changes', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'timeouts (> 5 s)'],
      rows: latencies.map((l) =>
        l.ms.length
          ? [l.pods.toLocaleString('en'), l.ms.length, percentile(l.ms, 50), percentile(l.ms, 90), percentile(l.ms, 99), Math.max(...l.ms), l.timeouts]
          : [l.pods.toLocaleString('en'), 0, '—', '—', '—', '—', l.timeouts],
      ),
    };
    const tables = [syncTable, latTable];
    if (hot.length > 0) {
      tables.push({
        title: `Agent CPU profile during the ${(profiled?.pods ?? 0) / 1000}k sync and its changes (perf record -g on the agent, node --perf-basic-prof; self samples)`,
        columns: ['symbol', 'share of samples'],
        rows: hot.map((h) => [h.symbol, `${round(h.percent)} %`]),
      });
    }
    const is100k = big.pods >= 100_000;
    const targets: Target[] = [
      {
        id: '3a',
        description: `manifest change → maps updated, p99 over ${main.ms.length} changes (${main.pods.toLocaleString('en')} pods)`,
        target: `<= ${TARGET_P99_MS} ms`,
        measured: p99,
        unit: 'ms',
        met: p99 === null ? null : p99 <= TARGET_P99_MS && main.timeouts === 0,
      },
      {
        id: '3b',
        description: `initial sync of ${big.pods.toLocaleString('en')} pods in ${NAMESPACES} namespaces`,
        target: `<= ${TARGET_SYNC_S} s${is100k ? '' : ' (at 100k)'}`,
        measured: big.syncMs / 1000,
        unit: 's',
        met: is100k ? big.syncMs / 1000 <= TARGET_SYNC_S : null,
        ...(is100k ? {} : { note: 'quick mode: 100k not run' }),
      },
      {
        id: '3c',
        description: `agent RSS with ${big.pods.toLocaleString('en')} endpoints (flows not included yet)`,
        target: `<= ${TARGET_RSS_MB} MB${is100k ? '' : ' (at 100k)'}`,
        measured: big.rssMB,
        unit: 'MB',
        met: is100k ? big.rssMB <= TARGET_RSS_MB : null,
      },
    ];
    const apiServer = fs.existsSync(path.join(REPO, 'test/helpers/apiserver.ts')) || fs.existsSync(path.join(REPO, 'test/apiserver'));
    notes.push(
      apiServer
        ? 'A test API server (issue 4) is in the tree, but bench/controlplane.ts does not drive it yet: the latency is for manifest files only.'
        : 'Change latency through the Kubernetes API source (test API server of issue 4): not available yet; manifest files only.',
      '100k flows in the agent\'s memory: not available yet (flow statistics, issue 5).',
    );
    return {
      id: 'controlplane',
      title: '3. Control plane',
      method:
        `A real agent (\`dist/cli/main.js agent\`, local-manifest source) runs in its own network namespace (\`${CP_NETNS}\`, no pods ` +
        `there): the generated cluster has ${NAMESPACES} namespaces (one directory each: namespace.yaml and pods.yaml) and its pods ` +
        `run on "node2" per the generated lab file, so each becomes an endpoint in the pinned map without an interface. Initial sync = ` +
        'from spawning the agent to its status.json saying synced (the endpoints map is then read back and must hold every pod). ' +
        `Change latency = from writing a namespace.yaml that toggles \`vrfwall.dev/isolated\` to the pinned endpoints map showing ` +
        `a pod of that namespace with its new VRF id (polled every 1 ms through the pin), changes one after another over ` +
        `different namespaces (${RUNS.filter((r) => r.changes).map((r) => `${r.changes} at ${r.pods.toLocaleString('en')} pods`).join(', ')}). ` +
        'RSS = VmRSS of the agent right after the sync. The agent of the profiled run was started with `node --perf-basic-prof` and ' +
        'recorded with `perf record -g -p` (node --cpu-prof cannot be used: its SIGPROF makes the BPF verifier fail with EAGAIN).',
      tables,
      targets,
      notes,
      data: { namespaces: NAMESPACES, syncs: syncs.map(({ hot: _h, ...s }) => s), latencies, hot },
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    await cleanupAgentState();
    await run('ip', ['netns', 'del', CP_NETNS]).catch(() => undefined);
    fs.rmSync(work, { recursive: true, force: true });
  }
}
