// Part 2: delivered packets per second and node CPU per packet under a
// pktgen-style load (trafgen), vrfwall against no enforcement and against
// the rule sets a flat-CNI user writes (bench/lib/rules.ts), with two
// workloads: (a) 128,000 distinct 5-tuples (every packet a flow-cache miss)
// and (b) 1,000 concurrent flows.
//
// Two labs of the same topology live side by side: one without agents
// (no enforcement, and the iptables/ipset/nft rule sets in its node
// namespace) and one with vrfwall agents. Each round runs every
// configuration once, in a rotated order, and each configuration both
// workloads back to back; each run starts the senders, waits for a warm-up,
// then counts for a fixed window. Ratios are per round, then their median.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as abi from '../src/bpf/abi.js';
import { native } from '../src/bpf/native.js';
import { labDown, labUp } from '../src/lab/lab.js';
import type { PlannedPod } from '../src/lab/plan.js';
import { BENCH_BPF, LAB_PLAIN, LAB_VRFWALL, PIN_BASE, PREFIX, QUICK, envInt, pinRoot } from './lib/env.js';
import type { PartResult, Table, Target } from './lib/report.js';
import { flowStatsOf } from './lib/flowtable.js';
import { perfHot, perfRecordCpu, type HotSymbol } from './lib/perf.js';
import { NFT_TABLE, SYNTHETIC_CIDR, ipsetNames, ipsetRules, iptablesPerPod, nftSetsAndMaps, podSet, type RulePod } from './lib/rules.js';
import { fmt, round, sample, type Sample } from './lib/stats.js';
import { CLK_TCK, cpuTimes, inNetns, killAndWait, run, sleep } from './lib/sys.js';

/** Rounds: the quoted ratios are medians of per-round ratios. 8 keeps the part
 *  near 5 minutes (5 configurations x 2 workloads x ~3 s per round). */
const ROUNDS = envInt('BENCH_TRAFFIC_ROUNDS', QUICK ? 2 : 8);
const WINDOW_MS = envInt('BENCH_TRAFFIC_WINDOW_MS', QUICK ? 1000 : 2000);
const WARMUP_MS = 500;
/** once per lab and workload before the first round */
const LAB_WARMUP_MS = 1500;
/** BENCH_TRAFFIC_EXTRA=1 adds the iptables 100-pod and ipset 10k-pod rule sets (issue 6's rows). */
const EXTRA = process.env.BENCH_TRAFFIC_EXTRA === '1';
const SENDERS = 4;
const RECEIVERS = 2;
/** trafgen -P 1 pins its one process to CPU 0: the whole path runs there */
const SENDER_CPU = 0;
const PODS_PER_NET = 20;

/** What the senders send: per (sender, receiver) template, source ports
 *  counting up over a range and destination ports random over a range. */
interface Workload {
  id: 'a' | 'b';
  label: string;
  sports: readonly [number, number];
  dports: readonly [number, number];
}
const WORKLOADS: readonly Workload[] = [
  // 4 senders x 2 receivers x 2,000 source ports x 8 destination ports = 128,000
  { id: 'a', label: '(a) 128,000 distinct 5-tuples', sports: [1024, 3023], dports: [5000, 5007] },
  // 4 senders x 2 receivers x 125 source ports x 1 destination port = 1,000
  { id: 'b', label: '(b) 1,000 concurrent flows', sports: [1024, 1148], dports: [5000, 5000] },
];
const span = (r: readonly [number, number]): number => r[1] - r[0] + 1;
const tuples = (w: Workload): number => SENDERS * RECEIVERS * span(w.sports) * span(w.dports);
const PAYLOAD = 18; // 14 + 20 + 8 + 18 = 60 bytes + FCS = 64 on the wire
const ISOLATION_PROBE_PACKETS = 2000;
const POD_CIDRS = ['10.244.0.0/16', SYNTHETIC_CIDR];

const NS_A = 'bench-a';
const NS_B = 'bench-b';

interface PodView {
  key: string;
  netns: string;
  hostIf: string;
  ip: string;
  mac: string;
  /** MAC of the node side of the pod's veth: where the pod sends */
  gatewayMac: string;
}

interface LabView {
  lab: string;
  nodeNetns: string;
  senders: PodView[];
  receivers: PodView[];
  /** a pod in another isolated namespace: the isolation probe sends from it */
  outsider: PodView;
}

interface Config {
  id: string;
  label: string;
  lab: 'plain' | 'vrfwall';
  pods?: number;
  /** what the isolation probe must see: enforcing configs deliver nothing */
  enforces: boolean;
  apply?: (nodeNetns: string) => Promise<void>;
}

function manifests(dir: string): void {
  const pod = (ns: string, name: string): string =>
    `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  nodeName: node1\n  containers:\n    - name: c\n      image: none\n`;
  const nsDoc = (ns: string): string => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n  labels:\n    vrfwall.dev/isolated: "true"\n`;
  const docs = [nsDoc(NS_A), nsDoc(NS_B)];
  for (let i = 1; i <= SENDERS; i++) docs.push(pod(NS_A, `s${i}`));
  for (let i = 1; i <= RECEIVERS; i++) docs.push(pod(NS_A, `r${i}`));
  docs.push(pod(NS_B, 'o1'));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'bench.yaml'), docs.join('---\n'));
}

async function macOf(netns: string, ifname: string): Promise<string> {
  const j = JSON.parse(await run('ip', ['-n', netns, '-j', 'link', 'show', 'dev', ifname])) as { address: string }[];
  const mac = j[0]?.address;
  if (!mac) throw new Error(`no MAC for ${ifname} in ${netns}`);
  return mac;
}

async function viewOf(lab: string, pods: PlannedPod[]): Promise<LabView> {
  const view = async (key: string): Promise<PodView> => {
    const p = pods.find((x) => x.key === key);
    if (!p || !p.hostIf) throw new Error(`lab ${lab} has no pod ${key}`);
    const nodeNetns = `vrfwall-${lab}-n${p.nodeIndex}`;
    return { key, netns: p.netns, hostIf: p.hostIf, ip: p.ips.v4, mac: await macOf(p.netns, 'eth0'), gatewayMac: await macOf(nodeNetns, p.hostIf) };
  };
  const range = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
  return {
    lab,
    nodeNetns: `vrfwall-${lab}-n1`,
    senders: await Promise.all(range(`${NS_A}/s`, SENDERS).map(view)),
    receivers: await Promise.all(range(`${NS_A}/r`, RECEIVERS).map(view)),
    outsider: await view(`${NS_B}/o1`),
  };
}

/** trafgen config: one packet template per receiver, ports varying per packet. */
function trafgenConfig(from: PodView, to: PodView[], w: Workload): string {
  const dp = w.dports[0] === w.dports[1] ? String(w.dports[0]) : `drnd(${w.dports[0]}, ${w.dports[1]})`;
  return to
    .map(
      (r) =>
        `{ eth(da=${from.gatewayMac}, sa=${from.mac}), ipv4(sa=${from.ip}, da=${r.ip}, ttl=64), ` +
        `udp(sp=dinc(${w.sports[0]}, ${w.sports[1]}), dp=${dp}), fill(0x00, ${PAYLOAD}) }`,
    )
    .join('\n');
}

interface Senders {
  children: ChildProcess[];
}

/** Starts trafgen in each sender pod; each stops by itself after `limitMs` (timeout) or `count` packets. */
function startSenders(pods: PodView[], to: PodView[], w: Workload, dir: string, limitMs: number, count = 0): Senders {
  const children = pods.map((p, i) => {
    const cfg = path.join(dir, `${p.netns}-${i}-${w.id}.cfg`);
    fs.writeFileSync(cfg, trafgenConfig(p, to, w) + '\n');
    const secs = String(Math.ceil(limitMs / 1000));
    const args = ['netns', 'exec', p.netns, 'timeout', '-s', 'INT', '-k', '2', secs, 'trafgen', '-o', 'eth0', '-i', cfg, '-P', '1', '--no-sock-mem', '-Q', '-C', '-n', String(count)];
    const child = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('exit', (code) => {
      if (code !== 0 && code !== 124 && code !== 130 && code !== null) console.error(`bench: trafgen in ${p.netns} exited ${code}: ${err.trim()}`);
    });
    return child;
  });
  return { children };
}

async function stopSenders(s: Senders): Promise<void> {
  await Promise.all(
    s.children.map((c) => {
      // the whole group: ip, timeout and trafgen
      if (c.pid !== undefined && c.exitCode === null) {
        try {
          process.kill(-c.pid, 'SIGINT');
        } catch {
          /* already gone */
        }
      }
      return killAndWait(c, 'SIGINT', 3000);
    }),
  );
}

const waitExit = (c: ChildProcess): Promise<void> =>
  new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

/** Packet counters of the node-side veths (tx = towards the pod, rx = from the pod). */
async function ifCounters(nodeNetns: string): Promise<Map<string, { rx: number; tx: number }>> {
  const j = JSON.parse(await run('ip', ['-n', nodeNetns, '-s', '-j', 'link', 'show'])) as {
    ifname: string;
    stats64?: { rx: { packets: number }; tx: { packets: number } };
  }[];
  return new Map(j.map((l) => [l.ifname, { rx: l.stats64?.rx.packets ?? 0, tx: l.stats64?.tx.packets ?? 0 }]));
}

function delta(a: Map<string, { rx: number; tx: number }>, b: Map<string, { rx: number; tx: number }>, ifs: string[], dir: 'rx' | 'tx'): number {
  return ifs.reduce((sum, i) => sum + (b.get(i)?.[dir] ?? 0) - (a.get(i)?.[dir] ?? 0), 0);
}

interface Measurement {
  deliveredPps: number;
  offeredPps: number;
  /** busy ns of the sender CPU per delivered packet (generation included) */
  cpuNsPerPacket: number;
  cpuBusy: number;
}

async function measure(v: LabView, w: Workload, dir: string): Promise<Measurement> {
  const senders = startSenders(v.senders, v.receivers, w, dir, WARMUP_MS + WINDOW_MS + 2000);
  try {
    await sleep(WARMUP_MS);
    const c1 = await ifCounters(v.nodeNetns);
    const cpu1 = cpuTimes(SENDER_CPU);
    const t1 = process.hrtime.bigint();
    await sleep(WINDOW_MS);
    const c2 = await ifCounters(v.nodeNetns);
    const cpu2 = cpuTimes(SENDER_CPU);
    const secs = Number(process.hrtime.bigint() - t1) / 1e9;
    const delivered = delta(c1, c2, v.receivers.map((r) => r.hostIf), 'tx');
    const offered = delta(c1, c2, v.senders.map((s) => s.hostIf), 'rx');
    const busyNs = ((cpu2.busy - cpu1.busy) / CLK_TCK) * 1e9;
    const busyFrac = (cpu2.busy - cpu1.busy) / Math.max(1, cpu2.total - cpu1.total);
    if (delivered <= 0) throw new Error(`${v.lab}: no packet delivered (offered ${offered})`);
    return { deliveredPps: delivered / secs, offeredPps: offered / secs, cpuNsPerPacket: busyNs / delivered, cpuBusy: busyFrac };
  } finally {
    await stopSenders(senders);
  }
}

/** Sends a fixed number of packets from the other namespace's pod; returns how many the receivers got. */
async function isolationProbe(v: LabView, dir: string): Promise<number> {
  const c1 = await ifCounters(v.nodeNetns);
  const s = startSenders([v.outsider], v.receivers, WORKLOADS[0]!, dir, 10_000, ISOLATION_PROBE_PACKETS);
  await Promise.all(s.children.map(waitExit));
  await sleep(200);
  const c2 = await ifCounters(v.nodeNetns);
  return delta(c1, c2, v.receivers.map((r) => r.hostIf), 'tx');
}

/** flow_stats of a lab agent's datapath (pinned by the agent), summed over CPUs, indexed by abi.FlowStat. */
function flowStats(instance: string): number[] {
  const n = native();
  const fd = n.objGet(path.join(PIN_BASE, instance, 'maps', abi.FlowMapName.flowStats));
  try {
    return flowStatsOf(n, fd);
  } finally {
    n.closeFd(fd);
  }
}

interface Profile {
  hot: HotSymbol[];
  delivered: number;
  /** over the profiled window, from the agent's flow_stats */
  flowsNew: number;
  events: number;
  eventsLost: number;
}

/** One more window of the vrfwall lab with perf sampling the sender core: where its time goes, and how many flows it makes. */
async function profileWindow(v: LabView, w: Workload, instance: string, dir: string): Promise<Profile> {
  const senders = startSenders(v.senders, v.receivers, w, dir, WARMUP_MS + WINDOW_MS + 2000);
  try {
    await sleep(WARMUP_MS);
    const rec = perfRecordCpu(SENDER_CPU, path.join(dir, `traffic-${w.id}.perf.data`));
    const s1 = flowStats(instance);
    const c1 = await ifCounters(v.nodeNetns);
    await sleep(WINDOW_MS);
    const c2 = await ifCounters(v.nodeNetns);
    const s2 = flowStats(instance);
    const hot = await perfHot(rec, 40);
    const d = (i: number): number => s2[i]! - s1[i]!;
    return {
      hot,
      delivered: delta(c1, c2, v.receivers.map((r) => r.hostIf), 'tx'),
      flowsNew: d(abi.FlowStat.FLOWS_NEW),
      events: d(abi.FlowStat.EVENTS),
      eventsLost: d(abi.FlowStat.EVENTS_LOST),
    };
  } finally {
    await stopSenders(senders);
  }
}

// ---- rule sets --------------------------------------------------------------------

async function clearRules(nodeNetns: string): Promise<void> {
  const empty = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n';
  await inNetns(nodeNetns, 'iptables-nft-restore', [], { input: empty });
  await inNetns(nodeNetns, 'nft', ['delete', 'table', 'ip', 'filter']).catch(() => undefined);
  await inNetns(nodeNetns, 'nft', ['delete', 'table', 'ip', NFT_TABLE]).catch(() => undefined);
  const sets = (await inNetns(nodeNetns, 'ipset', ['list', '-n'])).split('\n').filter((s) => s.startsWith('vwb-'));
  for (const s of sets) await inNetns(nodeNetns, 'ipset', ['destroy', s]);
}

function configs(real: RulePod[], dir: string): Config[] {
  const write = (name: string, text: string): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };
  const perPod = (n: number): Config => {
    const file = write(`iptables-${n}.rules`, iptablesPerPod(podSet(real, n, PODS_PER_NET), POD_CIDRS));
    return {
      id: `iptables-${n >= 1000 ? `${n / 1000}k` : n}`,
      label: `iptables, rules per pod, ${n.toLocaleString('en')} pods`,
      lab: 'plain',
      pods: n,
      enforces: true,
      apply: async (ns) => void (await inNetns(ns, 'iptables-nft-restore', [file], { timeoutMs: 300_000 })),
    };
  };
  const big = 10_000;
  const nftFile = write('nft.rules', nftSetsAndMaps(podSet(real, big, PODS_PER_NET)));
  const core: Config[] = [
    { id: 'none', label: 'no enforcement', lab: 'plain', enforces: false },
    { id: 'vrfwall', label: 'vrfwall (agents on)', lab: 'vrfwall', enforces: true },
    {
      id: 'nft-10k',
      label: `nftables sets and maps, ${big.toLocaleString('en')} pods`,
      lab: 'plain',
      pods: big,
      enforces: true,
      apply: async (ns) => void (await inNetns(ns, 'nft', ['-f', nftFile], { timeoutMs: 300_000 })),
    },
    perPod(1000),
    perPod(big),
  ];
  if (!EXTRA) return core;
  const ips = ipsetRules(podSet(real, big, PODS_PER_NET));
  const setsFile = write('ipset.restore', ips.sets);
  const ipsRules = write('ipset.rules', ips.rules);
  return [
    ...core,
    perPod(100),
    {
      id: 'ipset-10k',
      label: `iptables + ipset, ${big.toLocaleString('en')} pods (${Math.ceil(big / PODS_PER_NET)} namespaces)`,
      lab: 'plain',
      pods: big,
      enforces: true,
      apply: async (ns) => {
        await inNetns(ns, 'ipset', ['restore', '-file', setsFile], { timeoutMs: 300_000 });
        await inNetns(ns, 'iptables-nft-restore', [ipsRules], { timeoutMs: 300_000 });
      },
    },
  ];
}

// ---- receivers --------------------------------------------------------------------

/** Attaches bench/bpf/sink.bpf.c to tc ingress of each receiver's eth0; returns a detach function. */
function attachSinks(receivers: PodView[]): () => void {
  const n = native();
  const root = pinRoot('sink');
  fs.mkdirSync(root, { recursive: true });
  const obj = n.loadObject(path.join(BENCH_BPF, 'sink.bpf.o'), { pinRoot: root });
  const prog = obj.programs.sink;
  if (prog === undefined) throw new Error('sink.bpf.o has no program "sink"');
  const links: number[] = [];
  try {
    for (const r of receivers) {
      const back = n.enterNetns(`/run/netns/${r.netns}`);
      try {
        links.push(n.tcxAttach(prog, n.ifNameToIndex('eth0'), 'ingress'));
      } finally {
        n.restoreNetns(back);
      }
    }
  } catch (e) {
    for (const l of links) n.closeFd(l);
    throw e;
  }
  return () => {
    for (const l of links) n.closeFd(l); // an unpinned link goes with its last fd
    n.closeFd(prog);
    fs.rmSync(root, { recursive: true, force: true });
  };
}

// ---- the part ---------------------------------------------------------------------

export async function runTraffic(signal: AbortSignal): Promise<PartResult> {
  const t0 = Date.now();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `vrfwall-${PREFIX}-traffic-`));
  const manifestDir = path.join(work, 'manifests');
  manifests(manifestDir);
  const log = (m: string): void => console.error(`bench: traffic: ${m}`);
  const detach: (() => void)[] = [];
  // leftovers of a run that was killed
  for (const lab of [LAB_PLAIN, LAB_VRFWALL]) await labDown(lab).catch(() => undefined);
  try {
    log('building the labs');
    const plain = await labUp(manifestDir, { lab: LAB_PLAIN, agent: false, signal });
    const enforced = await labUp(manifestDir, { lab: LAB_VRFWALL, agent: true, signal });
    const views = { plain: await viewOf(LAB_PLAIN, plain.plan.pods), vrfwall: await viewOf(LAB_VRFWALL, enforced.plan.pods) };
    for (const v of Object.values(views)) detach.push(attachSinks(v.receivers));

    const real: RulePod[] = [...views.plain.senders, ...views.plain.receivers].map((p) => ({ ip: p.ip, net: NS_A }));
    real.push({ ip: views.plain.outsider.ip, net: NS_B });
    const all = configs(real, work);

    const results = new Map<string, Measurement[]>(); // `${workload}/${config}` -> one per round
    const probes = new Map<string, number>();
    const applySeconds = new Map<string, number>();
    const rk = (w: Workload, c: string): string => `${w.id}/${c}`;
    // Unmeasured warm-up of both labs with both workloads: the first packets of every flow (vrfwall's flow
    // entries, the node's neighbour and route caches) are not in the first round's figures alone.
    for (const v of Object.values(views)) {
      for (const w of WORKLOADS) {
        signal.throwIfAborted();
        const s = startSenders(v.senders, v.receivers, w, work, LAB_WARMUP_MS + 2000);
        try {
          await sleep(LAB_WARMUP_MS);
        } finally {
          await stopSenders(s);
        }
      }
    }
    for (let r = 0; r < ROUNDS; r++) {
      // rotate, so no configuration always runs first or after the same one; alternate the workloads' order
      const order = all.map((_, i) => all[(i + r) % all.length]!);
      const wOrder = r % 2 === 0 ? WORKLOADS : [...WORKLOADS].reverse();
      for (const c of order) {
        signal.throwIfAborted();
        const v = views[c.lab];
        if (c.apply) {
          const a0 = Date.now();
          await c.apply(v.nodeNetns);
          applySeconds.set(c.id, (Date.now() - a0) / 1000);
        }
        try {
          if (r === 0) probes.set(c.id, await isolationProbe(v, work));
          for (const w of wOrder) {
            const m = await measure(v, w, work);
            (results.get(rk(w, c.id)) ?? results.set(rk(w, c.id), []).get(rk(w, c.id))!).push(m);
            log(`round ${r + 1}/${ROUNDS} ${w.id} ${c.id}: ${Math.round(m.deliveredPps)} pps delivered, ${Math.round(m.cpuNsPerPacket)} ns CPU/packet`);
          }
        } finally {
          if (c.apply) await clearRules(v.nodeNetns);
        }
      }
    }

    // Not part of the figures above (perf itself costs CPU): where the sender core's time goes with vrfwall, per workload.
    const profs = new Map<string, Profile>();
    const profileErrors: string[] = [];
    const instance = enforced.agents[0]?.instance;
    for (const w of WORKLOADS) {
      try {
        signal.throwIfAborted();
        if (!instance) throw new Error(`lab ${LAB_VRFWALL} has no agent`);
        profs.set(w.id, await profileWindow(views.vrfwall, w, instance, work));
      } catch (e) {
        if (signal.aborted) throw e;
        profileErrors.push(`${w.label}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }

    // ---- figures ----
    const ms = (w: Workload, id: string): Measurement[] => results.get(rk(w, id))!;
    const pps = (w: Workload, id: string): Sample => sample(ms(w, id).map((m) => m.deliveredPps));
    /** per-round ratio of delivered pps (both measured in the same round, back to back), then median and spread */
    const ratioTo = (w: Workload, id: string, ref: string): Sample => sample(ms(w, id).map((m, i) => m.deliveredPps / ms(w, ref)[i]!.deliveredPps));
    const cpuDelta = (w: Workload, id: string, ref: string): Sample => sample(ms(w, id).map((m, i) => m.cpuNsPerPacket - ms(w, ref)[i]!.cpuNsPerPacket));
    const tables: Table[] = WORKLOADS.map((w) => ({
      title:
        `Workload ${w.label}: delivered 64-byte UDP packets per second (median, min–max over ${ROUNDS} round(s) of ${WINDOW_MS / 1000} s), ` +
        'ratios as the median (min–max) of per-round ratios, and CPU per packet',
      columns: [
        'configuration',
        'delivered pps',
        'offered pps',
        'this ÷ no enforcement',
        'vrfwall ÷ this',
        'CPU ns/packet (sender core)',
        'CPU ns/packet over no enforcement',
        'isolation probe (delivered of 2000)',
        'rules load s',
      ],
      rows: all.map((c) => [
        c.label,
        fmt(pps(w, c.id), 0),
        fmt(sample(ms(w, c.id).map((m) => m.offeredPps)), 0),
        `${fmt(ratioTo(w, c.id, 'none'), 3)}×`,
        `${fmt(ratioTo(w, 'vrfwall', c.id), 3)}×`,
        fmt(sample(ms(w, c.id).map((m) => m.cpuNsPerPacket)), 0),
        fmt(cpuDelta(w, c.id, 'none'), 0),
        probes.get(c.id) ?? '—',
        applySeconds.get(c.id) ?? '—',
      ]),
    }));

    // A configuration that lets the probe through does not enforce: its
    // number would be worthless, so say so loudly.
    const notes: string[] = [];
    for (const c of all) {
      const got = probes.get(c.id) ?? 0;
      if (c.enforces && got > 0) notes.push(`**${c.id} did not isolate**: ${got} of ${ISOLATION_PROBE_PACKETS} probe packets across namespaces arrived.`);
      if (!c.enforces && got === 0) notes.push(`**${c.id} delivered no probe packet**: the probe itself is broken.`);
    }
    for (const w of WORKLOADS) {
      const prof = profs.get(w.id);
      const hot = prof?.hot ?? [];
      if (!prof || hot.length === 0) continue;
      const share = (re: RegExp): number => hot.filter((h) => re.test(h.symbol)).reduce((a, h) => a + h.percent, 0);
      tables.push({
        title:
          `Workload ${w.label}: where the sender core (CPU ${SENDER_CPU}) spends its time with vrfwall: perf record -g -C ${SENDER_CPU} (cpu-clock) over one extra ` +
          `${WINDOW_MS / 1000} s window, self samples; vrfwall's JIT-ed programs (bpf_prog_*from_pod/to_pod) ` +
          `${round(share(/^bpf_prog_\w*_(from_pod|to_pod)$/), 1)} %, hash-map code (htab/lookup_nulls/jhash) ` +
          `${round(share(/htab|lookup_nulls|jhash/), 1)} %, BPF LRU ${round(share(/bpf_lru|lru_/), 1)} %, conntrack ${round(share(/nf_conntrack|nf_ct_/), 1)} %`,
        columns: ['symbol', 'share of samples'],
        rows: hot.slice(0, 25).map((h) => [h.symbol, `${round(h.percent, 1)} %`]),
      });
    }
    if (profs.size > 0) {
      tables.push({
        title: `Flow map activity in the profiled windows (the agent's flow_stats; the flows map holds ${abi.VW_FLOWS_MAX.toLocaleString('en')} entries)`,
        columns: ['workload', 'delivered packets', 'flow entries created', 'created per delivered packet', 'ring-buffer events written', 'events lost (ring full)'],
        rows: WORKLOADS.filter((w) => profs.has(w.id)).map((w) => {
          const p = profs.get(w.id)!;
          return [w.label, p.delivered, p.flowsNew, round(p.flowsNew / Math.max(1, p.delivered), 2), p.events, p.eventsLost];
        }),
      });
    }
    const [wa, wb] = [WORKLOADS[0]!, WORKLOADS[1]!];
    const ratioTarget = (id: string, description: string, ws: Workload[], ref: string, want: number): Target => {
      const per = ws.map((w) => ({ w, r: ratioTo(w, 'vrfwall', ref) }));
      const worst = per.reduce((a, x) => (x.r.median < a.r.median ? x : a));
      return {
        id,
        description,
        target: `>= ${want}`,
        measured: worst.r.median,
        unit: '×',
        met: worst.r.median >= want,
        note:
          per
            .map(({ w, r }) => `${w.id}: ${fmt(r, 3)}× (vrfwall ${fmt(pps(w, 'vrfwall'), 0)} pps, ${ref} ${fmt(pps(w, ref), 0)} pps)`)
            .join('; ') + `; median (min–max) of ${ROUNDS} per-round ratios${ws.length > 1 ? ', the lower workload quoted' : ''}`,
      };
    };
    const targets: Target[] = [
      ratioTarget('2a', 'vrfwall delivered pps ÷ no enforcement, workload (b) 1,000 concurrent flows', [wb], 'none', 0.95),
      ratioTarget('2b', 'vrfwall delivered pps ÷ no enforcement, workload (a) 128,000 distinct 5-tuples', [wa], 'none', 0.88),
      ratioTarget('2c', 'vrfwall ÷ nftables sets and maps (10k pods), both workloads', [wa, wb], 'nft-10k', 1.05),
      ratioTarget('2d', 'vrfwall ÷ iptables rules per pod, 1k pods, both workloads', [wa, wb], 'iptables-1k', 1.1),
      ratioTarget('2e', 'vrfwall ÷ iptables rules per pod, 10k pods, both workloads', [wa, wb], 'iptables-10k', 3),
      ...WORKLOADS.map((w, i): Target => {
        const d = cpuDelta(w, 'vrfwall', 'none');
        return {
          id: `2f${'ab'[i]}`,
          description: `sender-core CPU per delivered packet, vrfwall − no enforcement, workload ${w.label}`,
          target: 'report (no target)',
          measured: d.median,
          unit: 'ns',
          met: null,
          reportOnly: true,
          note:
            `median (min–max) of per-round differences ${fmt(d, 0)} ns; ` +
            all.map((c) => `${c.id} ${round(sample(ms(w, c.id).map((m) => m.cpuNsPerPacket)).median, 0)}`).join(', ') +
            ' ns/packet',
        };
      }),
    ];
    notes.push(
      'All senders are trafgen processes started with `-P 1`, which pins them to CPU 0; veth delivery and forwarding run in the ' +
        "sender's softirq on the same core, so the path under test is one saturated core and the CPU figure is that core's busy " +
        'time per delivered packet (packet generation included, the same in every configuration). The other core runs the rest ' +
        'of the machine (shared with other work).',
      'The UDP flow is one-way (the receivers drop it), so conntrack keeps every packet in state NEW and the rule sets are ' +
        'evaluated for each packet, as for the first packet of every connection in real traffic.',
      `Workload (a) makes ${tuples(wa).toLocaleString('en')} 5-tuples, each crossing two vrfwall hooks (from_pod at the sender, to_pod at ` +
        `the receiver); workload (b) ${tuples(wb).toLocaleString('en')}: a working set of flow entries small enough to stay in the CPU caches.`,
      'vrfwall holds only the lab\'s endpoints here; part 1 shows how its per-packet cost depends on the number of endpoints.',
    );
    if (!EXTRA) notes.push('The iptables 100-pod and iptables + ipset rule sets of issue 6 run with `BENCH_TRAFFIC_EXTRA=1`.');
    for (const e of profileErrors) notes.push(`A profiling window failed: ${e}`);
    return {
      id: 'traffic',
      title: '2. Traffic (trafgen, pod → node → pod)',
      method:
        `Two one-node labs of the same manifests (\`src/lab\`): \`${LAB_PLAIN}\` without agents and \`${LAB_VRFWALL}\` with the vrfwall agent. ` +
        `Isolated namespaces \`${NS_A}\` (${SENDERS} sender pods, ${RECEIVERS} receiver pods) and \`${NS_B}\` (1 pod). Each sender pod runs ` +
        'trafgen (netsniff-ng) on its eth0: 64-byte UDP frames to both receivers (one packet template per receiver), routed by the node ' +
        'namespace, in two workloads: ' +
        WORKLOADS.map(
          (w) =>
            `${w.label}: source port counting up over ${span(w.sports)} values (\`dinc\`) and destination port ` +
            (span(w.dports) > 1 ? `random over ${span(w.dports)} (\`drnd\`)` : `fixed (${w.dports[0]})`) +
            `, ${SENDERS} senders × ${RECEIVERS} receivers × ${span(w.sports)} × ${span(w.dports)} = ${tuples(w).toLocaleString('en')} distinct 5-tuples`,
        ).join('; ') +
        '. Delivered = tx packets of the receivers\' node-side veths (what left the node towards the pods, after any drop); a tc program ' +
        '(`bench/bpf/sink.bpf.c`) drops the UDP inside the receiving pods so their stacks cost nothing. Rule sets (`bench/lib/rules.ts`) ' +
        `are loaded into the plain lab's node namespace only, ${PODS_PER_NET} pods per namespace, the lab's real pods spread among ` +
        'synthetic ones (10.250.0.0/16); iptables is the Debian default iptables-nft. Before its first measurement every configuration ' +
        `gets an isolation probe: ${ISOLATION_PROBE_PACKETS} packets from \`${NS_B}\` to the receivers must all be dropped (and all arrive without enforcement). ` +
        `After the labs are up, each runs both workloads for ${LAB_WARMUP_MS / 1000} s unmeasured. ` +
        `${ROUNDS} rounds (\`BENCH_TRAFFIC_ROUNDS\`): each round applies every configuration once, in rotated order, and measures both ` +
        `workloads back to back under it (their order alternating per round): ${WARMUP_MS} ms warm-up, ${WINDOW_MS / 1000} s counting window ` +
        '(`BENCH_TRAFFIC_WINDOW_MS`). Every ratio is computed per round (both configurations of the same round) and quoted as the ' +
        'median of the rounds\' ratios with their min–max.',
      tables,
      targets,
      notes,
      data: {
        profiles: Object.fromEntries(profs),
        rounds: ROUNDS,
        windowMs: WINDOW_MS,
        warmupMs: WARMUP_MS,
        workloads: WORKLOADS.map((w) => ({ ...w, tuples: tuples(w) })),
        configs: all.map((c) => ({ id: c.id, label: c.label, pods: c.pods ?? null })),
        results: Object.fromEntries(results),
        probes: Object.fromEntries(probes),
        applySeconds: Object.fromEntries(applySeconds),
      },
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    for (const d of detach) {
      try {
        d();
      } catch (e) {
        log(`detach: ${(e as Error).message}`);
      }
    }
    for (const lab of [LAB_PLAIN, LAB_VRFWALL]) await labDown(lab).catch((e: Error) => log(`lab down ${lab}: ${e.message}`));
    fs.rmSync(work, { recursive: true, force: true });
  }
}

