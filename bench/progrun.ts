// Part 1: per-packet cost of from_pod and to_pod with BPF_PROG_TEST_RUN.
//
// For each endpoints-map size the datapath is loaded under its own pin root
// (so the three sizes live side by side), the maps are filled as the agent
// would fill them (plus synthetic endpoints up to the size), and each path's
// frame is run `repeat` times per call; the kernel reports the average ns per
// run. An empty tc program (bench/bpf/empty.bpf.c) runs in the same rounds as
// the baseline; net cost = program - baseline, paired per round.
import fs from 'node:fs';
import path from 'node:path';
import * as abi from '../src/bpf/abi.js';
import { native, type LoadedObject, type NativeAddon } from '../src/bpf/native.js';
import * as pk from '../test/helpers/packets.js';
import { BENCH_BPF, BUILD_BPF, QUICK, pinRoot } from './lib/env.js';
import type { PartResult, Table, Target } from './lib/report.js';
import { fmt, round, sample, type Sample } from './lib/stats.js';

const REPEAT = 1_000_000;
const ROUNDS = QUICK ? 3 : 7;
const SIZES = QUICK ? [1_000, 1_000_000] : [1_000, 100_000, 1_000_000];
const TARGET_NET_NS = 60;
const TARGET_GROWTH = 0.1;

// ifindex 1 (loopback) exists in every netns: BPF_PROG_TEST_RUN needs a real device.
const HERE = 1;
const SKB_CTX_SIZE = 192; // struct __sk_buff on x86_64
const SKB_IFINDEX_OFF = 40;

const VRF_A = 10;
const VRF_B = 11;
const FILLER_VRFS = 1000;

const P = {
  self: { v4: '10.244.1.10', v6: 'fd00:10:244:1::10' },
  same: { v4: '10.244.2.20', v6: 'fd00:10:244:2::20' },
  other: { v4: '10.244.2.30', v6: 'fd00:10:244:2::30' },
  unknown: { v4: '10.244.9.99', v6: 'fd00:10:244:9::99' },
} as const;

const CIDRS: [string, number][] = [
  ['10.244.0.0/16', abi.VW_CIDR_POD],
  ['10.128.0.0/9', abi.VW_CIDR_POD], // the synthetic endpoints
  ['fd00:10:244::/48', abi.VW_CIDR_POD],
  ['10.96.0.0/16', abi.VW_CIDR_SERVICE],
];

type Prog = 'from_pod' | 'to_pod';
type Want = 'allow' | 'drop';

interface BenchPath {
  id: string;
  label: string;
  /** frame per program, with the verdict it must get; absent = not available */
  frames?: Record<Prog, { frame: Buffer; want: Want }>;
  unavailable?: string;
}

const udp = (src: string, dst: string): Buffer => pk.ipFrame(src, dst, 'udp');
const both = (fromSrc: string, fromDst: string, want: Want): Record<Prog, { frame: Buffer; want: Want }> => ({
  // from_pod: the local pod sends; to_pod: the same pair, the local pod receives.
  from_pod: { frame: udp(fromSrc, fromDst), want },
  to_pod: { frame: udp(fromDst, fromSrc), want },
});

/** Map names of a loaded object that a later datapath feature adds. */
export function featureMaps(names: string[]): { services: string[]; sessions: string[]; flows: string[] } {
  return {
    services: names.filter((n) => /service|svc|vip|backend/i.test(n)),
    sessions: names.filter((n) => /session|conntrack|^ct_/i.test(n)),
    flows: names.filter((n) => /flow/i.test(n)),
  };
}

function paths(features: ReturnType<typeof featureMaps>): BenchPath[] {
  const svcMissing = features.services.length === 0;
  const sesMissing = features.sessions.length === 0;
  const notYet = (what: string, present: string[]): string =>
    present.length === 0
      ? `not available yet: the datapath has no ${what} map (issue 3)`
      : `maps present (${present.join(', ')}) but bench/progrun.ts does not fill them yet`;
  return [
    { id: 'same-net', label: 'same network, allowed (IPv4 UDP)', frames: both(P.self.v4, P.same.v4, 'allow') },
    { id: 'cross-net', label: 'cross network, denied (IPv4 UDP)', frames: both(P.self.v4, P.other.v4, 'drop') },
    { id: 'ipv6', label: 'same network, allowed (IPv6 UDP)', frames: both(P.self.v6, P.same.v6, 'allow') },
    {
      id: 'unknown-src',
      label: 'unknown pod-CIDR source, denied',
      frames: {
        from_pod: { frame: udp(P.unknown.v4, P.same.v4), want: 'drop' },
        to_pod: { frame: udp(P.unknown.v4, P.self.v4), want: 'drop' },
      },
    },
    { id: 'service-vip', label: 'Service VIP', unavailable: notYet('Service', svcMissing ? [] : features.services) },
    { id: 'service-backend', label: 'Service backend', unavailable: notYet('Service', svcMissing ? [] : features.services) },
    { id: 'session-reply', label: 'session reply', unavailable: notYet('session', sesMissing ? [] : features.sessions) },
  ];
}

interface Loaded {
  size: number;
  root: string;
  objs: LoadedObject[];
  progs: Record<Prog, number>;
  maps: Record<string, number>;
}

function fd(table: Record<string, number>, name: string, what: string): number {
  const v = table[name];
  if (v === undefined) throw new Error(`${what}: no '${name}' (stale build? run make bpf)`);
  return v;
}

/** 16-byte key of the i-th synthetic endpoint: ::ffff:10.128.0.0 + i. */
function fillerKey(i: number, into: Buffer, at: number): void {
  into.fill(0, at, at + 10);
  into[at + 10] = 0xff;
  into[at + 11] = 0xff;
  into.writeUInt32BE((0x0a800000 + i) >>> 0, at + 12);
}

function fillEndpoints(n: NativeAddon, mapFd: number, count: number): void {
  const real: [string, abi.EndpointValue][] = [];
  for (const addr of [P.self.v4, P.self.v6]) real.push([addr, { vrfId: VRF_A, flags: abi.VW_EP_LOCAL, ifindex: HERE }]);
  for (const addr of [P.same.v4, P.same.v6]) real.push([addr, { vrfId: VRF_A, flags: 0, ifindex: 0 }]);
  for (const addr of [P.other.v4, P.other.v6]) real.push([addr, { vrfId: VRF_B, flags: 0, ifindex: 0 }]);
  for (const [addr, ep] of real) n.mapUpdate(mapFd, abi.encodeEndpointKey(addr), abi.encodeEndpoint(ep));

  const ks = abi.Layout.vw_endpoint_key.size;
  const vs = abi.Layout.vw_endpoint.size;
  const CHUNK = 65_536;
  for (let start = 0; start < count - real.length; start += CHUNK) {
    const c = Math.min(CHUNK, count - real.length - start);
    const keys = Buffer.alloc(c * ks);
    const values = Buffer.alloc(c * vs);
    for (let j = 0; j < c; j++) {
      fillerKey(start + j, keys, j * ks);
      abi.encodeEndpoint({ vrfId: 100 + ((start + j) % FILLER_VRFS), flags: 0, ifindex: 0 }).copy(values, j * vs);
    }
    n.mapUpdateBatch(mapFd, keys, values, c);
  }
}

function load(n: NativeAddon, size: number): Loaded {
  const root = pinRoot(`prog-${size}`);
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(root, { recursive: true });
  const maxEntries = { [abi.MapName.endpoints]: Math.max(abi.VW_ENDPOINTS_MAX, size) };
  const objs = (['from_pod', 'to_pod'] as const).map((p) => n.loadObject(path.join(BUILD_BPF, `${p}.o`), { pinRoot: root, maxEntries }));
  const maps = objs[0]!.maps;
  const progs = { from_pod: fd(objs[0]!.programs, 'from_pod', 'from_pod.o'), to_pod: fd(objs[1]!.programs, 'to_pod', 'to_pod.o') };
  for (const [cidr, kind] of CIDRS) n.mapUpdate(fd(maps, abi.MapName.cidrs, 'maps'), abi.encodeCidrKey(cidr), abi.encodeCidrValue({ kind }));
  for (const vrf of [VRF_A, VRF_B]) n.mapUpdate(fd(maps, abi.MapName.networks, 'maps'), abi.encodeNetworkKey(vrf), abi.encodeNetwork({ flags: 0 }));
  fillEndpoints(n, fd(maps, abi.MapName.endpoints, 'maps'), size);
  const info = n.mapInfo(fd(maps, abi.MapName.endpoints, 'maps'));
  const filled = n.mapDump(fd(maps, abi.MapName.endpoints, 'maps')).count;
  if (filled !== size) throw new Error(`endpoints map holds ${filled} entries, wanted ${size} (max_entries ${info.maxEntries})`);
  return { size, root, objs, progs, maps };
}

function unload(n: NativeAddon, l: Loaded): void {
  for (const o of l.objs) for (const f of [...Object.values(o.programs), ...Object.values(o.maps)]) n.closeFd(f);
  fs.rmSync(l.root, { recursive: true, force: true });
}

function skb(): Buffer {
  const ctx = Buffer.alloc(SKB_CTX_SIZE);
  ctx.writeUInt32LE(HERE, SKB_IFINDEX_OFF);
  return ctx;
}

const wantRet = (w: Want): number => (w === 'allow' ? abi.TcAction.ALLOW : abi.TcAction.DROP);

interface Cell {
  path: string;
  prog: Prog;
  size: number;
  total: Sample;
  net: Sample;
}

export async function runProgTestRun(): Promise<PartResult> {
  const t0 = Date.now();
  const n = native();
  const ctx = skb();
  const notes: string[] = [];

  const emptyRoot = pinRoot('prog-empty');
  fs.mkdirSync(emptyRoot, { recursive: true });
  const empty = n.loadObject(path.join(BENCH_BPF, 'empty.bpf.o'), { pinRoot: emptyRoot });
  const emptyFd = fd(empty.programs, 'empty', 'empty.bpf.o');

  const loaded: Loaded[] = [];
  try {
    for (const size of SIZES) loaded.push(load(n, size));
    const mapNames = Object.keys(loaded[0]!.objs[0]!.maps);
    const features = featureMaps(mapNames);
    const all = paths(features);
    const runnable = all.filter((p) => p.frames);

    // Every frame must get its verdict before it is timed: a benchmark of
    // the wrong path would be worthless.
    for (const l of loaded) {
      for (const p of runnable) {
        for (const prog of ['from_pod', 'to_pod'] as const) {
          const f = p.frames![prog];
          const r = n.progTestRun(l.progs[prog], f.frame, 1, ctx);
          if (r.retval !== wantRet(f.want)) {
            throw new Error(`${prog} ${p.id} at ${l.size} endpoints returned ${r.retval}, expected ${f.want} (${wantRet(f.want)})`);
          }
        }
      }
    }

    // Rounds: each round runs the baseline and every (size, path, program)
    // once, so slow phases of the shared machine hit all of them alike.
    const base = new Map<number, number[]>(); // size -> baseline ns per round
    const raw = new Map<string, number[]>(); // key -> ns per round
    const key = (size: number, path: string, prog: Prog): string => `${size}/${path}/${prog}`;
    const baseFrame = runnable[0]!.frames!.from_pod.frame;
    for (let r = 0; r < ROUNDS; r++) {
      for (const l of loaded) {
        const b = n.progTestRun(emptyFd, baseFrame, REPEAT, ctx).duration;
        (base.get(l.size) ?? base.set(l.size, []).get(l.size)!).push(b);
        for (const p of runnable) {
          for (const prog of ['from_pod', 'to_pod'] as const) {
            const d = n.progTestRun(l.progs[prog], p.frames![prog].frame, REPEAT, ctx).duration;
            const k = key(l.size, p.id, prog);
            (raw.get(k) ?? raw.set(k, []).get(k)!).push(d);
          }
        }
      }
      await new Promise((res) => setImmediate(res)); // let signals in between rounds
    }

    const cells: Cell[] = [];
    for (const l of loaded) {
      const b = base.get(l.size)!;
      for (const p of runnable) {
        for (const prog of ['from_pod', 'to_pod'] as const) {
          const tot = raw.get(key(l.size, p.id, prog))!;
          cells.push({ path: p.id, prog, size: l.size, total: sample(tot), net: sample(tot.map((v, i) => v - b[i]!)) });
        }
      }
    }
    const cellOf = (path: string, prog: Prog, size: number): Cell => cells.find((c) => c.path === path && c.prog === prog && c.size === size)!;
    const small = SIZES[0]!;
    const large = SIZES[SIZES.length - 1]!;
    const sizeLabel = (s: number): string => (s >= 1e6 ? `${s / 1e6}M` : s >= 1e3 ? `${s / 1e3}k` : String(s));

    const netTable: Table = {
      title: `Net cost over the empty program, ns per packet: median (min–max) over ${ROUNDS} rounds of ${REPEAT.toLocaleString('en')} runs`,
      columns: ['path', 'program', ...SIZES.map((s) => `${sizeLabel(s)} endpoints`), `growth ${sizeLabel(small)}→${sizeLabel(large)}`],
      rows: [],
    };
    const growths: { path: string; prog: Prog; growth: number }[] = [];
    for (const p of all) {
      if (!p.frames) {
        netTable.rows.push([p.label, 'both', ...SIZES.map(() => '—'), p.unavailable ?? 'not available']);
        continue;
      }
      for (const prog of ['from_pod', 'to_pod'] as const) {
        const g = cellOf(p.id, prog, large).net.median / cellOf(p.id, prog, small).net.median - 1;
        growths.push({ path: p.id, prog, growth: g });
        netTable.rows.push([p.label, prog, ...SIZES.map((s) => fmt(cellOf(p.id, prog, s).net)), `${round(g * 100)} %`]);
      }
    }
    const totalTable: Table = {
      title: 'Total ns per run as the kernel reports it (program, and the empty program of the same rounds)',
      columns: ['endpoints', 'empty program', ...runnable.flatMap((p) => [`${p.id} from`, `${p.id} to`])],
      rows: loaded.map((l) => [
        sizeLabel(l.size),
        fmt(sample(base.get(l.size)!)),
        ...runnable.flatMap((p) => [fmt(cellOf(p.id, 'from_pod', l.size).total), fmt(cellOf(p.id, 'to_pod', l.size).total)]),
      ]),
    };

    const worst = cells.reduce((a, c) => (c.net.median > a.net.median ? c : a));
    const worstGrowth = growths.reduce((a, g) => (g.growth > a.growth ? g : a));
    const targets: Target[] = [
      {
        id: '1a',
        description: 'net cost over the empty tc program, worst path/program/size (median)',
        target: `<= ${TARGET_NET_NS} ns`,
        measured: worst.net.median,
        unit: 'ns',
        met: worst.net.median <= TARGET_NET_NS,
        note: `worst: ${worst.prog} ${worst.path} at ${sizeLabel(worst.size)} endpoints; Service/session paths not available yet`,
      },
      {
        id: '1b',
        description: `growth of net cost from ${sizeLabel(small)} to ${sizeLabel(large)} endpoints, worst path`,
        target: `<= ${TARGET_GROWTH * 100} %`,
        measured: worstGrowth.growth * 100,
        unit: '%',
        met: worstGrowth.growth <= TARGET_GROWTH,
        note: `worst: ${worstGrowth.prog} ${worstGrowth.path}`,
      },
    ];
    for (const p of all) if (p.unavailable) notes.push(`${p.label}: ${p.unavailable}.`);
    notes.push(
      features.flows.length === 0
        ? 'Flow map empty/full: not available yet (the datapath has no flow map; issue 5). Rerun `make bench` once it lands.'
        : `Flow maps present (${features.flows.join(', ')}) but not yet filled by bench/progrun.ts: the figures above are with them empty.`,
    );
    notes.push(
      'BPF_PROG_TEST_RUN repeats one frame, so the endpoint entries it looks up stay in the CPU caches; the 1M case measures ' +
        'hash-table depth, not cache misses. Part 2 measures the datapath under many distinct flows.',
    );

    return {
      id: 'progrun',
      title: '1. Per-packet cost (BPF_PROG_TEST_RUN)',
      method:
        `Both programs and an empty tc program (\`bench/bpf/empty.bpf.c\`) are loaded through the project's addon; for each ` +
        `endpoints-map size (${SIZES.map(sizeLabel).join(', ')}) the datapath gets its own pin root and maps filled as the agent ` +
        `fills them plus synthetic endpoints in 1,000 networks (endpoints max_entries raised at load as \`--max-endpoints\` would). ` +
        `Frames come from \`test/helpers/packets.ts\`; every frame's verdict (allow/drop) is checked before timing. ` +
        `Each measurement is one \`progTestRun\` with repeat = ${REPEAT.toLocaleString('en')} (the kernel reports the mean ns per run); ` +
        `${ROUNDS} rounds, each running the baseline and every (size, path, program) once; net cost = program − baseline of the same round.`,
      tables: [netTable, totalTable],
      targets,
      notes,
      data: { repeat: REPEAT, rounds: ROUNDS, sizes: SIZES, mapNames, features, baseline: Object.fromEntries(base), cells },
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    for (const l of loaded) unload(n, l);
    for (const f of [...Object.values(empty.programs), ...Object.values(empty.maps)]) n.closeFd(f);
    fs.rmSync(emptyRoot, { recursive: true, force: true });
  }
}
