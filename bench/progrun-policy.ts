// Part 1, NetworkPolicy (issue 16): what policy adds to the per-packet cost,
// with BPF_PROG_TEST_RUN as the rest of part 1.
//
// Four datapaths side by side (1,000 endpoints, flow table empty), alike but
// for policy: none, and 1, 100 and 1,000 policies selecting the local pod.
// How policies become map entries (the compile step's, src/model): the
// policies selecting a pod for a direction are one policy set (the pod's
// policy_in / policy_out); each policy allows one peer identity here, so N
// policies are N (set, identity, UDP) entries in `policy` per direction
// (each with a few port ranges, the peer's port among them), plus N ipBlock
// entries (/32s of other addresses) per direction in `policy_cidrs`. The
// timed peer is the remote pod of the same network, whose identity is the
// last allowed. Paths: allowed (UDP 8080: the `policy` hit) and denied by
// policy (UDP 9090: every lookup misses, the trie included).
import * as abi from '../src/kernel/abi.js';
import type { NativeAddon } from '../src/kernel/native.js';
import * as pk from '../test/helpers/packets.js';
import { P, checkProbe, dist, load, retvalOf, skb, unload, type Dist, type Expect, type Loaded, type Prog } from './progrun.js';
import type { Table, Target } from './lib/report.js';
import { fmt, round, sample, type Sample } from './lib/stats.js';

export const POLICY_COUNTS = [0, 1, 100, 1000] as const;
const IDENTITY_BASE = 1000;
const SET_IN = 1;
const SET_OUT = 2;
const PORT = { allowed: 8080, denied: 9090, steady: 40000, firstBase: 20_000 } as const;
const PROGS: readonly Prog[] = ['from_pod', 'to_pod'];

function udpFrame(src: string, sport: number, dst: string, dport: number): Buffer {
  return pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src, dst, protocol: pk.IpProto.UDP }, pk.udp({ sport, dport })));
}

interface PolicyPath {
  id: 'allowed' | 'denied';
  label: string;
  /** per program, per policy count (0: no policy, so allowed) */
  frames: Record<Prog, (policies: number) => Expect>;
}

const { AllowRule: Rule, DropReason: Drop, Verdict } = abi;

function expectOf(make: (sport: number) => Buffer, verdict: number, code: number): Expect {
  return { frame: make(PORT.steady), make, verdict, code };
}

const POLICY_PATHS: PolicyPath[] = [
  {
    id: 'allowed',
    label: 'same network, allowed by policy (IPv4 UDP 8080)',
    frames: {
      from_pod: () => expectOf((sp) => udpFrame(P.self.v4, sp, P.same.v4, PORT.allowed), Verdict.ALLOWED, Rule.SAME_NETWORK),
      to_pod: () => expectOf((sp) => udpFrame(P.same.v4, sp, P.self.v4, PORT.allowed), Verdict.ALLOWED, Rule.SAME_NETWORK),
    },
  },
  {
    id: 'denied',
    label: 'same network, denied by policy (IPv4 UDP 9090)',
    frames: {
      from_pod: (np) =>
        expectOf((sp) => udpFrame(P.self.v4, sp, P.same.v4, PORT.denied), np ? Verdict.DROPPED : Verdict.ALLOWED, np ? Drop.POLICY_EGRESS : Rule.SAME_NETWORK),
      to_pod: (np) =>
        expectOf((sp) => udpFrame(P.same.v4, sp, P.self.v4, PORT.denied), np ? Verdict.DROPPED : Verdict.ALLOWED, np ? Drop.POLICY_INGRESS : Rule.SAME_NETWORK),
    },
  },
];

/** The policy entries of `count` policies selecting the local pod, both directions; its and the peer's endpoint fields. */
function fillPolicy(n: NativeAddon, l: Loaded, count: number): number {
  const ep = l.maps[abi.MapName.endpoints]!;
  const peerIdentity = IDENTITY_BASE + count - 1;
  const self = abi.decodeEndpoint(n.mapLookup(ep, abi.encodeEndpointKey(P.self.v4))!);
  const same = abi.decodeEndpoint(n.mapLookup(ep, abi.encodeEndpointKey(P.same.v4))!);
  n.mapUpdate(ep, abi.encodeEndpointKey(P.self.v4), abi.encodeEndpoint({ ...self, identity: IDENTITY_BASE - 1, policyIn: count ? SET_IN : 0, policyOut: count ? SET_OUT : 0 }));
  n.mapUpdate(ep, abi.encodeEndpointKey(P.same.v4), abi.encodeEndpoint({ ...same, identity: count ? peerIdentity : IDENTITY_BASE }));
  const pol = l.maps[abi.MapName.policy]!;
  const cidrs = l.maps[abi.MapName.policyCidrs]!;
  for (let i = 0; i < count; i++) {
    const ranges = [{ lo: 100 + i, hi: 100 + i }, { lo: 5000, hi: 5010 }, { lo: PORT.allowed, hi: PORT.allowed }, { lo: 30000, hi: 30100 }];
    for (const set of [SET_IN, SET_OUT]) {
      n.mapUpdate(pol, abi.encodePolicyKey({ set, identity: IDENTITY_BASE + i, proto: abi.IpProto.UDP, slot: 0 }), abi.encodePolicyValue({ ranges }));
      const cidr = `10.200.${i >> 8}.${i & 0xff}/32`;
      n.mapUpdate(cidrs, abi.encodePolicyCidrKey({ set, proto: abi.IpProto.UDP, slot: 0, cidr }), abi.encodePolicyValue({ ranges }));
    }
  }
  const entries = n.mapDump(pol).count;
  if (entries !== 2 * count) throw new Error(`policy map holds ${entries} entries, wanted ${2 * count}`);
  return entries + n.mapDump(cidrs).count;
}

interface Inst {
  policies: number;
  l: Loaded;
  entries: number;
}

export interface PolicyBench {
  tables: Table[];
  targets: Target[];
  notes: string[];
  data: unknown;
}

export async function runPolicyPart(n: NativeAddon, emptyFd: number, rounds: number, repeat: number, firstN: number): Promise<PolicyBench> {
  const insts: Inst[] = [];
  try {
    for (const np of POLICY_COUNTS) {
      const l = await load(n, 1000, 'empty', undefined, `np${np}-`);
      insts.push({ policies: np, l, entries: fillPolicy(n, l, np) });
    }
    // bump the epoch: what the writer does after filling maps
    for (const { l } of insts) n.mapUpdate(l.maps[abi.MapName.cacheCtl]!, Buffer.alloc(4), abi.encodeCacheCtl({ epoch: 2, flowSeed: 0x5eed5eed }));
    // every frame is checked before it is timed: explain probe, then a real run
    for (const i of insts) {
      for (const p of POLICY_PATHS) {
        for (const prog of PROGS) {
          const e = p.frames[prog](i.policies);
          const where = `${prog} ${p.id} with ${i.policies} policies`;
          checkProbe(n, i.l.progs[prog], e.frame, e, where);
          const r = n.progTestRun(i.l.progs[prog], e.frame, 1, skb(false));
          if (r.retval !== retvalOf(e.verdict)) throw new Error(`${where}: tc action ${r.retval}`);
        }
      }
    }
    const ctx = skb(false);
    const key = (np: number, path: string, prog: Prog): string => `${np}/${path}/${prog}`;
    const base: number[] = [];
    const raw = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      base.push(n.progTestRun(emptyFd, POLICY_PATHS[0]!.frames.from_pod(0).frame, repeat, ctx).duration);
      for (const i of insts) {
        for (const p of POLICY_PATHS) {
          for (const prog of PROGS) {
            const e = p.frames[prog](i.policies);
            const k = key(i.policies, p.id, prog);
            (raw.get(k) ?? raw.set(k, []).get(k)!).push(n.progTestRun(i.l.progs[prog], e.frame, repeat, ctx).duration);
          }
        }
      }
      await new Promise((res) => setImmediate(res));
    }
    const net = (np: number, path: string, prog: Prog): number[] => raw.get(key(np, path, prog))!.map((v, j) => v - base[j]!);
    const ratio = (np: number, path: string, prog: Prog): Sample => {
      const a = net(0, path, prog);
      return sample(net(np, path, prog).map((v, j) => v / a[j]!));
    };

    // first packets: new 5-tuples (new source port of the sender), each probed then run once after one empty run
    const first = new Map<string, { total: Dist; empty: Dist; net: number }>();
    const runs: { i: Inst; p: PolicyPath; prog: Prog; e: Expect; port: number; total: number[]; empty: number[] }[] = [];
    for (const i of insts) for (const p of POLICY_PATHS) for (const prog of PROGS) runs.push({ i, p, prog, e: p.frames[prog](i.policies), port: PORT.firstBase, total: [], empty: [] });
    const sessFd = (i: Inst): number => i.l.maps[abi.MapName.sessions]!;
    const sessionsBefore = new Map(insts.map((i) => [i, n.mapDump(sessFd(i)).count]));
    // a reader per instance drains the flow-event ring as the agent does (as part 1's first packets):
    // a ring left full makes every new flow's event submission dearer
    const readers = insts.map((i) => n.ringbufOpen(i.l.maps[abi.FlowMapName.flowEvents]!, () => undefined, 4096, 1));
    try {
      for (let done = 0; done < firstN; done += 100) {
        for (const r of runs) {
          const frames = Array.from({ length: Math.min(100, firstN - done) }, () => r.e.make(r.port++));
          for (const f of frames) checkProbe(n, r.i.l.progs[r.prog], f, r.e, `${r.prog} ${r.p.id} first packet with ${r.i.policies} policies`);
          for (const f of frames) {
            r.empty.push(n.progTestRun(emptyFd, f, 1, ctx).duration);
            const res = n.progTestRun(r.i.l.progs[r.prog], f, 1, ctx);
            if (res.retval !== retvalOf(r.e.verdict)) throw new Error(`${r.prog} ${r.p.id} first packet: tc action ${res.retval}`);
            r.total.push(res.duration);
          }
          await new Promise((res) => setTimeout(res, 1)); // the readers drain the rings
        }
      }
    } finally {
      for (const h of readers) n.ringbufClose(h);
    }
    for (const r of runs) {
      const t = dist(r.total);
      const em = dist(r.empty);
      first.set(key(r.i.policies, r.p.id, r.prog), { total: t, empty: em, net: t.median - em.median });
    }
    const sessionsMade = new Map(insts.map((i) => [i.policies, n.mapDump(sessFd(i)).count - sessionsBefore.get(i)!]));

    const countLabel = (np: number): string => (np === 0 ? 'no policy' : `${np.toLocaleString('en')} ${np === 1 ? 'policy' : 'policies'}`);
    const steadyTable: Table = {
      title:
        `NetworkPolicy, established connection (the steady state: one 5-tuple repeated, decided from the verdict cache): net ns over the ` +
        `empty program, median (min–max) over ${rounds} rounds of ${repeat.toLocaleString('en')} runs; ratio to no policy: median of per-round ratios`,
      columns: ['path', 'program', ...POLICY_COUNTS.map(countLabel), ...POLICY_COUNTS.filter((c) => c > 0).map((c) => `ratio ${countLabel(c)} / none`)],
      rows: POLICY_PATHS.flatMap((p) =>
        PROGS.map((prog) => [
          p.label,
          prog,
          ...POLICY_COUNTS.map((np) => fmt(sample(net(np, p.id, prog)))),
          ...POLICY_COUNTS.filter((c) => c > 0).map((np) => {
            const s = ratio(np, p.id, prog);
            return `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
          }),
        ]),
      ),
    };
    const firstTable: Table = {
      title:
        `NetworkPolicy, first packet of a connection: net ns (median of ${firstN.toLocaleString('en')} single runs of new 5-tuples − median ` +
        'of the empty program\'s single runs, interleaved), p90 of the program\'s single runs in brackets (total ns); allowed first packets ' +
        'under policy also make their session',
      columns: ['path', 'program', ...POLICY_COUNTS.map(countLabel)],
      rows: POLICY_PATHS.flatMap((p) =>
        PROGS.map((prog) => [
          p.label,
          prog,
          ...POLICY_COUNTS.map((np) => {
            const c = first.get(key(np, p.id, prog))!;
            return `${round(c.net)} (p90 ${round(c.total.p90)})`;
          }),
        ]),
      ),
    };
    const mapsTable: Table = {
      title: 'NetworkPolicy instances: entries read back from the kernel (policy + policy_cidrs, both directions) and sessions the timed first packets made',
      columns: ['instance', 'policy map entries', 'sessions made by first packets'],
      rows: insts.map((i) => [countLabel(i.policies), i.entries, sessionsMade.get(i.policies)!]),
    };
    const worstSteady = POLICY_COUNTS.filter((c) => c > 0)
      .flatMap((np) => PROGS.map((prog) => ({ np, prog, r: ratio(np, 'allowed', prog) })))
      .reduce((a, b) => (b.r.median > a.r.median ? b : a));
    const first1000 = Math.max(...PROGS.map((prog) => first.get(key(1000, 'allowed', prog))!.net));
    const first0 = Math.max(...PROGS.map((prog) => first.get(key(0, 'allowed', prog))!.net));
    const targets: Target[] = [
      {
        id: '1f',
        description: 'NetworkPolicy: established connection under policy (cached) vs without, worst ratio of net ns (allowed path, median of per-round ratios)',
        target: 'report (no target)',
        measured: Number(worstSteady.r.median.toFixed(2)),
        unit: '×',
        met: null,
        reportOnly: true,
        note: `worst: ${worstSteady.prog} with ${countLabel(worstSteady.np)}, ${worstSteady.r.min.toFixed(2)}–${worstSteady.r.max.toFixed(2)} over ${rounds} rounds`,
      },
      {
        id: '1g',
        description: 'NetworkPolicy: first packet of an allowed connection with 1,000 policies selecting the pod, worst program, net ns',
        target: 'report (no target)',
        measured: round(first1000),
        unit: 'ns',
        met: null,
        reportOnly: true,
        note: `without policy: ${round(first0)} ns`,
      },
    ];
    const notes = [
      'NetworkPolicy rows: the policy lookups are hashes keyed by (set, peer identity, protocol, slot), so the number of policies ' +
        'selecting a pod changes the size of the maps, not the number of lookups; a packet policy denies also misses in the ipBlock ' +
        'trie (1,000 /32 blocks per direction here). Under policy an allowed first packet also makes its session (the replies need it), ' +
        'and a connection\'s cached verdict is TIMED (it rests on that session), so the full path runs once per 67 ms tick.',
    ];
    return {
      tables: [steadyTable, firstTable, mapsTable],
      targets,
      notes,
      data: {
        counts: POLICY_COUNTS,
        baseline: base,
        steady: Object.fromEntries([...raw.keys()].map((k) => [k, raw.get(k)])),
        first: Object.fromEntries(first),
        sessionsMade: Object.fromEntries(sessionsMade),
      },
    };
  } finally {
    for (const i of insts) unload(n, i.l);
  }
}
