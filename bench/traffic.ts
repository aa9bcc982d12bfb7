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
//
// Two reference configurations have no target: empty tc programs on every
// pod veth of the plain lab (the floor of any per-pod tc enforcement: tcx
// dispatch and the skb around a program that does nothing) and vrfwall with
// its verdict cache off (epoch 0 in the agent's cache_ctl map).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as abi from '../src/kernel/abi.js';
import { native } from '../src/kernel/native.js';
import { labDown, labUp } from '../src/lab/lab.js';
import type { PlannedPod } from '../src/lab/plan.js';
import { BENCH_BPF, LAB_PLAIN, LAB_VRFWALL, PIN_BASE, PREFIX, QUICK, envInt, pinRoot } from './lib/env.js';
import type { PartResult, Table, Target } from './lib/report.js';
import { flowStatsOf } from './lib/flowtable.js';
import { perfHot, perfLeafCallers, perfRecordCpu, type HotSymbol, type LeafCallers } from './lib/perf.js';
import { NFT_TABLE, SYNTHETIC_CIDR, ipsetNames, ipsetRules, iptablesPerPod, nftSetsAndMaps, podSet, type RulePod } from './lib/rules.js';
import { fmt, round, sample, type Sample } from './lib/stats.js';
import { CLK_TCK, cpuTimes, inNetns, killAndWait, run, sleep } from './lib/sys.js';

/** Rounds: the quoted ratios are medians of per-round ratios. 8 keeps the part
 *  near 7 minutes (7 configurations x 2 workloads x ~3 s per round, plus rule loads). */
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
  /** node-side veth of every pod of the lab */
  hostIfs: string[];
  /** the vrfwall agent's instance (its pins under PIN_BASE); undefined in the plain lab */
  instance?: string;
}

/** A configuration's state on a lab, set up before its measurements and undone after. */
interface Applied {
  /** before each measurement's senders start */
  arm?: () => void;
  /** after each measurement: why its window does not count (it is redone), or undefined */
  spoiled?: () => string | undefined;
  undo: () => Promise<void>;
}

interface Config {
  id: string;
  label: string;
  lab: 'plain' | 'vrfwall';
  pods?: number;
  /** what the isolation probe must see: enforcing configs deliver nothing */
  enforces: boolean;
  /** no target: a reference point for the others */
  reference?: boolean;
  /** rule sets: loaded into the node namespace, cleared after */
  apply?: (nodeNetns: string) => Promise<void>;
  /** anything else: set up, returns how to undo it */
  setup?: (v: LabView) => Promise<Applied>;
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

async function viewOf(lab: string, pods: PlannedPod[], instance?: string): Promise<LabView> {
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
    hostIfs: pods.filter((p) => p.nodeIndex === 1 && p.hostIf).map((p) => p.hostIf!),
    instance,
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

/** Windows a configuration may spoil in a row (see Applied.spoiled) before the part gives up. */
const MAX_REDO = 4;

/** One measurement; redone while the configuration says its window did not hold. Returns it and how many were redone. */
async function measureValid(v: LabView, w: Workload, dir: string, applied: Applied | undefined, log: (m: string) => void): Promise<{ m: Measurement; redone: number }> {
  for (let redone = 0; ; redone++) {
    applied?.arm?.();
    const m = await measure(v, w, dir);
    const why = applied?.spoiled?.();
    if (why === undefined) return { m, redone };
    if (redone >= MAX_REDO) throw new Error(`${v.lab} ${w.id}: ${MAX_REDO + 1} windows in a row did not hold: ${why}`);
    log(`${w.id}: window redone: ${why}`);
  }
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
  config: string;
  workload: Workload['id'];
  hot: HotSymbol[];
  delivered: number;
  /** busy ns of the sender core over the window (perf's own cost included) */
  busyNs: number;
  /** skb_copy_bits (what bpf_skb_load_bytes copies with) by the BPF program that called it */
  skbCopyBits: LeafCallers;
  /** over the profiled window, from the agent's flow_stats (vrfwall lab only) */
  flowsNew?: number;
  events?: number;
  eventsLost?: number;
}

/** One more window of a lab with perf sampling the sender core: where its time goes, and (vrfwall) how many flows it makes. */
async function profileWindow(v: LabView, config: string, w: Workload, dir: string): Promise<Profile> {
  const senders = startSenders(v.senders, v.receivers, w, dir, WARMUP_MS + WINDOW_MS + 2000);
  try {
    await sleep(WARMUP_MS);
    const rec = perfRecordCpu(SENDER_CPU, path.join(dir, `traffic-${config}-${w.id}.perf.data`));
    const s1 = v.instance ? flowStats(v.instance) : undefined;
    const c1 = await ifCounters(v.nodeNetns);
    const cpu1 = cpuTimes(SENDER_CPU);
    await sleep(WINDOW_MS);
    const c2 = await ifCounters(v.nodeNetns);
    const cpu2 = cpuTimes(SENDER_CPU);
    const s2 = v.instance ? flowStats(v.instance) : undefined;
    const hot = await perfHot(rec, 60);
    const skbCopyBits = await perfLeafCallers(rec.file, 'skb_copy_bits', /^bpf_prog_/);
    const d = (i: number): number | undefined => (s1 && s2 ? s2[i]! - s1[i]! : undefined);
    return {
      config,
      workload: w.id,
      hot,
      delivered: delta(c1, c2, v.receivers.map((r) => r.hostIf), 'tx'),
      busyNs: ((cpu2.busy - cpu1.busy) / CLK_TCK) * 1e9,
      skbCopyBits,
      flowsNew: d(abi.FlowStat.FLOWS_NEW),
      events: d(abi.FlowStat.EVENTS),
      eventsLost: d(abi.FlowStat.EVENTS_LOST),
    };
  } finally {
    await stopSenders(senders);
  }
}

// ---- reference configurations -----------------------------------------------------

/**
 * bench/bpf/empty.bpf.c (returns TC_ACT_UNSPEC: the next program, then the
 * stack) at tcx ingress and egress of every pod's node-side veth, attached as
 * the agent attaches its programs (src/agent/attach.ts: a tcx link first in
 * the chain, from inside the node namespace). The links are not pinned:
 * closing their fds detaches them.
 */
async function attachEmptyEverywhere(v: LabView): Promise<Applied> {
  const n = native();
  const root = pinRoot('empty-tc');
  fs.mkdirSync(root, { recursive: true });
  const obj = n.loadObject(path.join(BENCH_BPF, 'empty.bpf.o'), { pinRoot: root });
  const prog = obj.programs.empty;
  if (prog === undefined) throw new Error('empty.bpf.o has no program "empty"');
  const links: number[] = [];
  const undo = async (): Promise<void> => {
    for (const l of links.splice(0)) {
      n.linkDetach(l);
      n.closeFd(l);
    }
    n.closeFd(prog);
    fs.rmSync(root, { recursive: true, force: true });
  };
  const back = n.enterNetns(`/run/netns/${v.nodeNetns}`);
  try {
    const progId = n.progId(prog);
    for (const ifname of v.hostIfs) {
      const ifindex = n.ifNameToIndex(ifname);
      for (const dir of ['ingress', 'egress'] as const) {
        links.push(n.tcxAttach(prog, ifindex, dir, 'first'));
        // the plain lab has nothing else there: the empty program is the whole chain
        const chain = n.tcxQuery(ifindex, dir);
        if (chain.length !== 1 || chain[0] !== progId) throw new Error(`${v.nodeNetns} ${ifname} ${dir}: tcx chain is [${chain.join(', ')}], want [${progId}]`);
      }
    }
  } catch (e) {
    n.restoreNetns(back);
    await undo();
    throw e;
  }
  n.restoreNetns(back);
  return { undo };
}

/**
 * The verdict cache off: epoch 0 in the agent's pinned cache_ctl map (the
 * programs then cache nothing and decide every packet on the full path; the
 * flow table's seed is kept, so flows stay in their slots). The agent raises
 * the epoch (read-modify-write) after any map write and never lowers it, so
 * epoch 0 is written before each measurement and read back after it: still 0
 * means it held for the whole run (warm-up and window), else the window is
 * redone. Afterwards the epoch is set above both the value found and the
 * current one, so no decision cached before can come back.
 */
async function verdictCacheOff(v: LabView): Promise<Applied> {
  if (!v.instance) throw new Error(`lab ${v.lab} has no agent`);
  const n = native();
  const fd = n.objGet(path.join(PIN_BASE, v.instance, 'maps', abi.MapName.cacheCtl));
  const key = Buffer.alloc(4);
  const read = (): abi.CacheCtl => {
    const b = n.mapLookup(fd, key);
    if (!b) throw new Error(`${v.instance}: cache_ctl has no entry`);
    return abi.decodeCacheCtl(b);
  };
  const found = read();
  if (found.epoch === 0) {
    n.closeFd(fd);
    throw new Error(`${v.instance}: the verdict cache is already off (epoch 0)`);
  }
  return {
    arm: () => n.mapUpdate(fd, key, abi.encodeCacheCtl({ ...read(), epoch: 0 })),
    spoiled: () => {
      const now = read().epoch;
      return now === 0 ? undefined : `the agent raised the epoch to ${now} during the window`;
    },
    undo: async () => {
      try {
        const now = read();
        const epoch = (Math.max(found.epoch, now.epoch) + 1) >>> 0 || 1;
        n.mapUpdate(fd, key, abi.encodeCacheCtl({ ...now, epoch }));
      } finally {
        n.closeFd(fd);
      }
    },
  };
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
      id: 'empty-tc',
      label: 'reference: empty tc programs (tcx ingress and egress of every pod veth, no agent)',
      lab: 'plain',
      enforces: false,
      reference: true,
      setup: attachEmptyEverywhere,
    },
    {
      id: 'vrfwall-nocache',
      label: 'reference: vrfwall, verdict cache off (epoch 0)',
      lab: 'vrfwall',
      enforces: true,
      reference: true,
      setup: verdictCacheOff,
    },
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
    const instance = enforced.agents[0]?.instance;
    if (!instance) throw new Error(`lab ${LAB_VRFWALL} has no agent`);
    const views = { plain: await viewOf(LAB_PLAIN, plain.plan.pods), vrfwall: await viewOf(LAB_VRFWALL, enforced.plan.pods, instance) };
    for (const v of Object.values(views)) detach.push(attachSinks(v.receivers));

    const real: RulePod[] = [...views.plain.senders, ...views.plain.receivers].map((p) => ({ ip: p.ip, net: NS_A }));
    real.push({ ip: views.plain.outsider.ip, net: NS_B });
    const all = configs(real, work);

    const results = new Map<string, Measurement[]>(); // `${workload}/${config}` -> one per round
    const probes = new Map<string, number>();
    const applySeconds = new Map<string, number>();
    const redone = new Map<string, number>();
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
        let applied: Applied | undefined;
        if (c.apply) {
          const a0 = Date.now();
          await c.apply(v.nodeNetns);
          applySeconds.set(c.id, (Date.now() - a0) / 1000);
        }
        try {
          if (c.setup) applied = await c.setup(v);
          if (r === 0) {
            applied?.arm?.();
            probes.set(c.id, await isolationProbe(v, work));
          }
          for (const w of wOrder) {
            const { m, redone: n } = await measureValid(v, w, work, applied, (msg) => log(`round ${r + 1}/${ROUNDS} ${c.id} ${msg}`));
            redone.set(c.id, (redone.get(c.id) ?? 0) + n);
            (results.get(rk(w, c.id)) ?? results.set(rk(w, c.id), []).get(rk(w, c.id))!).push(m);
            log(`round ${r + 1}/${ROUNDS} ${w.id} ${c.id}: ${Math.round(m.deliveredPps)} pps delivered, ${Math.round(m.cpuNsPerPacket)} ns CPU/packet`);
          }
        } finally {
          if (applied) await applied.undo();
          if (c.apply) await clearRules(v.nodeNetns);
        }
      }
    }

    // Not part of the figures above (perf itself costs CPU): where the sender core's time goes with vrfwall, per
    // workload, and for workload (b) without enforcement too (back to back with vrfwall's), to compare.
    const [wa, wb] = [WORKLOADS[0]!, WORKLOADS[1]!];
    const profiled: { key: string; config: 'vrfwall' | 'none'; w: Workload }[] = [
      { key: 'a', config: 'vrfwall', w: wa },
      { key: 'b', config: 'vrfwall', w: wb },
      { key: 'b-none', config: 'none', w: wb },
    ];
    const profs = new Map<string, Profile>();
    const profileErrors: string[] = [];
    for (const p of profiled) {
      try {
        signal.throwIfAborted();
        profs.set(p.key, await profileWindow(p.config === 'none' ? views.plain : views.vrfwall, p.config, p.w, work));
      } catch (e) {
        if (signal.aborted) throw e;
        profileErrors.push(`${p.config}, ${p.w.label}: ${e instanceof Error ? e.message : String(e)}`);
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
    const share = (hot: HotSymbol[], re: RegExp): number => hot.filter((h) => re.test(h.symbol)).reduce((a, h) => a + h.percent, 0);
    /** JIT-ed programs other than the receivers' sink: vrfwall's from_pod/to_pod and their subprograms (bpf_prog_<tag>_<function>) */
    const VW_JIT = /^bpf_prog_\w+_(?!sink$)\w+$/;
    /** ns of the sender core per delivered packet for a share of the samples */
    const nsPerPacket = (p: Profile, percent: number): number => ((percent / 100) * p.busyNs) / Math.max(1, p.delivered);
    const perfHow = `perf record -g -C ${SENDER_CPU} (cpu-clock, 999 Hz) over one extra ${WINDOW_MS / 1000} s window after the rounds, self samples`;
    for (const w of WORKLOADS) {
      const prof = profs.get(w.id);
      const hot = prof?.hot ?? [];
      if (!prof || hot.length === 0) continue;
      tables.push({
        title:
          `Workload ${w.label}: where the sender core (CPU ${SENDER_CPU}) spends its time with vrfwall: ${perfHow}; vrfwall's JIT-ed programs and subprograms (bpf_prog_*, the receivers' sink excluded) ` +
          `${round(share(hot, VW_JIT), 1)} %, skb_copy_bits (bpf_skb_load_bytes) ${round(share(hot, /^skb_copy_bits$/), 1)} %, hash-map code (htab/lookup_nulls/jhash) ` +
          `${round(share(hot, /htab|lookup_nulls|jhash/), 1)} %, BPF LRU ${round(share(hot, /bpf_lru|lru_/), 1)} %, conntrack ${round(share(hot, /nf_conntrack|nf_ct_/), 1)} %`,
        columns: ['symbol', 'share of samples', 'sender-core ns per delivered packet'],
        rows: hot.slice(0, 25).map((h) => [h.symbol, `${round(h.percent, 1)} %`, round(nsPerPacket(prof, h.percent), 1)]),
      });
    }
    // Where vrfwall's extra CPU goes: the same symbols without enforcement and with vrfwall, workload (b).
    const pNone = profs.get('b-none');
    const pVw = profs.get('b');
    if (pNone && pVw && pNone.hot.length > 0 && pVw.hot.length > 0) {
      const top = (p: Profile): string[] => p.hot.slice(0, 20).map((h) => h.symbol);
      const syms = [...new Set([...top(pVw), ...top(pNone)])];
      const pct = (p: Profile, sym: string): number => p.hot.find((h) => h.symbol === sym)?.percent ?? 0;
      const rowsOf = syms
        .map((sym) => ({ sym, none: pct(pNone, sym), vw: pct(pVw, sym) }))
        .sort((x, y) => nsPerPacket(pVw, y.vw) - nsPerPacket(pNone, y.none) - (nsPerPacket(pVw, x.vw) - nsPerPacket(pNone, x.none)));
      const total = (p: Profile): number => p.busyNs / Math.max(1, p.delivered);
      tables.push({
        title:
          `Workload ${wb.label}: no enforcement and vrfwall profiled back to back (${perfHow} each): the top 20 symbols of either, ` +
          `by the sender-core time per delivered packet each adds with vrfwall (a symbol outside a profile's top ${pNone.hot.length} counts 0 there). ` +
          `Whole core per delivered packet: no enforcement ${round(total(pNone), 0)} ns (${Math.round(pNone.delivered / (WINDOW_MS / 1000))} pps), ` +
          `vrfwall ${round(total(pVw), 0)} ns (${Math.round(pVw.delivered / (WINDOW_MS / 1000))} pps); skb_copy_bits ${round(share(pNone.hot, /^skb_copy_bits$/), 1)} % ` +
          `without enforcement, ${round(share(pVw.hot, /^skb_copy_bits$/), 1)} % with vrfwall`,
        columns: ['symbol', 'no enforcement: share', 'ns/packet', 'vrfwall: share', 'ns/packet', 'vrfwall − no enforcement, ns/packet'],
        rows: rowsOf.map((x) => [
          x.sym,
          `${round(x.none, 1)} %`,
          round(nsPerPacket(pNone, x.none), 1),
          `${round(x.vw, 1)} %`,
          round(nsPerPacket(pVw, x.vw), 1),
          round(nsPerPacket(pVw, x.vw) - nsPerPacket(pNone, x.none), 1),
        ]),
      });
    }
    if (profs.size > 0) {
      const ps = profiled.filter((p) => profs.has(p.key)).map((p) => ({ p, prof: profs.get(p.key)! }));
      tables.push({
        title:
          'Who calls skb_copy_bits (the copy behind bpf_skb_load_bytes) in the profiled windows: its self samples by the nearest ' +
          'JIT-ed BPF program in the call chain (perf script); `bpf_prog_*_sink` is the receivers\' sink (bench/bpf/sink.bpf.c, ' +
          'which reads the IP protocol byte with bpf_skb_load_bytes in every configuration)',
        columns: ['profile', 'skb_copy_bits samples', 'of all samples', 'by caller'],
        rows: ps.map(({ p, prof }) => [
          `${p.config === 'none' ? 'no enforcement' : 'vrfwall'}, workload ${p.w.id}`,
          prof.skbCopyBits.samples,
          `${round(share(prof.hot, /^skb_copy_bits$/), 1)} %`,
          Object.entries(prof.skbCopyBits.by)
            .sort((x, y) => y[1] - x[1])
            .map(([k, v]) => `${k}: ${v}`)
            .join('; ') || '—',
        ]),
      });
    }
    const vwProfs = WORKLOADS.filter((w) => profs.get(w.id)?.flowsNew !== undefined);
    if (vwProfs.length > 0) {
      tables.push({
        title: `Flow map activity in vrfwall's profiled windows (the agent's flow_stats; the flows map holds ${abi.VW_FLOWS_MAX.toLocaleString('en')} entries)`,
        columns: ['workload', 'delivered packets', 'flow entries created', 'created per delivered packet', 'ring-buffer events written', 'events lost (ring full)'],
        rows: vwProfs.map((w) => {
          const p = profs.get(w.id)!;
          const made = p.flowsNew ?? 0;
          return [w.label, p.delivered, made, round(made / Math.max(1, p.delivered), 2), p.events ?? 0, p.eventsLost ?? 0];
        }),
      });
    }
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
    const refs = all.filter((c) => c.reference).map((c) => `\`${c.id}\``);
    if (refs.length > 0)
      notes.push(
        `${refs.join(' and ')} are reference points with no target: \`empty-tc\` is the floor of any per-pod tc enforcement (the tcx ` +
          'dispatch and skb handling of a program on both hooks of every pod veth, doing nothing), `vrfwall-nocache` shows what the ' +
          'verdict cache saves (every packet on the full path).',
      );
    for (const [id, n] of redone) if (n > 0) notes.push(`${id}: ${n} window(s) redone because the agent raised the verdict epoch during them (see the method).`);
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
        'median of the rounds\' ratios with their min–max. ' +
        'Two reference configurations (no target) run in the same rounds: `empty-tc`, the plain lab with `bench/bpf/empty.bpf.c` ' +
        '(returns TC_ACT_UNSPEC) attached at tcx ingress and egress of every pod\'s node-side veth, as the agent attaches its programs ' +
        '(a tcx link first in the chain, from the node namespace; not pinned, detached after the configuration); and `vrfwall-nocache`, ' +
        'the vrfwall lab with epoch 0 (cache nothing) written into the agent\'s pinned `cache_ctl` map before each measurement (the seed kept). ' +
        'The agent raises the epoch after any map write and never lowers it, so the epoch is read back after each measurement and a ' +
        `measurement whose epoch moved is redone (at most ${MAX_REDO} times); after the configuration the epoch is set above both the value ` +
        'found and the current one. After the rounds, one more window per profile (perf on the sender core): vrfwall with each workload, ' +
        'and no enforcement with workload (b) right after, to compare where the core\'s time goes; ns per delivered packet of a symbol = ' +
        'its share × the core\'s busy time ÷ delivered packets in that window; the samples in skb_copy_bits are attributed to the ' +
        'nearest JIT-ed BPF program in their call chain (`perf script`).',
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
        redone: Object.fromEntries(redone),
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

