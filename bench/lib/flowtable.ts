// The benchmark's only knowledge of how the datapath's flow table is laid
// out: how part 1 makes it "full" (fillFlowTable) and how it counts what it
// holds (flowOccupancy). When the flows map changes shape (e.g. an
// open-addressed BPF_MAP_TYPE_ARRAY instead of the kernel LRU hash), change
// this file and nothing else in bench/.
//
// The table is an open-addressed BPF array of slots (bpf/lib/flow_table.h).
// Two ways to fill it (BENCH_FLOWS_FILL):
// - 'addon' (default): every slot written with a synthetic flow, so the
//   table is 100 % full and a new conversation must take over a slot (slots
//   hold their key: a synthetic one need not sit in its own window);
// - 'datapath': first packets of synthetic flows run through from_pod with
//   BPF_PROG_TEST_RUN (twice the capacity), so the program places every
//   entry itself; windows that overflow leave some slots empty.
// flowOccupancy counts slots in use (an ARRAY map's dump has every slot).
import * as abi from '../../src/kernel/abi.js';
import type { NativeAddon } from '../../src/kernel/native.js';
import * as pk from '../../test/helpers/packets.js';

/** A "full" flow table must hold at least this share of its capacity while
 *  timed (the datapath fill leaves a few slots that no window reached). */
export const FULL_MIN_SHARE = 0.95;

export interface FlowOccupancy {
  /** entries in use, read back from the kernel */
  entries: number;
  /** how many the table can hold */
  capacity: number;
}

/** The datapath's flow table fd among a loaded object's maps. */
function flowsFd(maps: Record<string, number>): number {
  const fd = maps[abi.FlowMapName.flows];
  if (fd === undefined) throw new Error(`no '${abi.FlowMapName.flows}' map (stale build? run make bpf)`);
  return fd;
}

/** Slots in use and capacity of the flow table (bench/ab.ts may load an older build whose flows map was an LRU hash: its count). */
export function flowOccupancy(n: NativeAddon, maps: Record<string, number>): FlowOccupancy {
  const fd = flowsFd(maps);
  const info = n.mapInfo(fd);
  if (info.valueSize !== abi.FlowLayout.vw_flow.size) return { entries: n.mapDump(fd).count, capacity: info.maxEntries };
  // read in place, as the agent does: a dump would copy 64 MiB
  const mapping = n.mapMmap(fd);
  try {
    const t = Buffer.from(mapping);
    const size = abi.FlowLayout.vw_flow.size;
    let entries = 0;
    for (let i = 0; i < info.maxEntries; i++) if (t.readBigUInt64LE(i * size + abi.FlowLayout.vw_flow.fields.first_ns) !== 0n) entries++;
    return { entries, capacity: info.maxEntries };
  } finally {
    n.mapUnmap(mapping);
  }
}

export type FlowFill = 'datapath' | 'addon';

function fillMethod(): FlowFill {
  const v = process.env.BENCH_FLOWS_FILL ?? 'addon';
  if (v !== 'datapath' && v !== 'addon') throw new Error(`BENCH_FLOWS_FILL: 'datapath' or 'addon', not '${v}'`);
  return v;
}

/** What fillFlowTable needs of a loaded datapath. */
export interface FlowTableOwner {
  n: NativeAddon;
  maps: Record<string, number>;
  /** from_pod's program fd (the datapath fill runs it) */
  fromPod: number;
  /** __sk_buff context of a real (non-probe) run on the local pod's interface */
  ctx: Buffer;
  /** the local pod's IPv4 address, behind ctx's ifindex */
  self: string;
  ifindex: number;
}

export interface FlowFillResult extends FlowOccupancy {
  method: FlowFill;
  /** entries the datapath reported creating (flow_stats FLOWS_NEW; addon fill: -1) */
  created: number;
}

/** The i-th synthetic flow: the local pod to a peer in 100.64.0.0/10 (outside every range part 1 configures:
 *  allowed, rule 6) port 443, 4 source ports per peer. */
const peerOf = (i: number): string => {
  const a = 0x64400000 + (i >> 2);
  return `${a >>> 24}.${(a >> 16) & 0xff}.${(a >> 8) & 0xff}.${a & 0xff}`;
};
const selfPortOf = (i: number): number => 33_000 + (i & 3);

/**
 * Fills the flow table to capacity with flows of the local pod `self` to
 * synthetic peers outside the cluster's ranges, as a busy pod would leave it.
 * Returns what the kernel then holds. The datapath fill leaves a flow event
 * per flow in the ring (most of them lost: nobody reads it during the fill);
 * the caller drains the ring before timing.
 */
export function fillFlowTable(o: FlowTableOwner): FlowFillResult {
  const method = fillMethod();
  const capacity = o.n.mapInfo(flowsFd(o.maps)).maxEntries;
  if (method === 'addon') {
    fillThroughAddon(o, capacity);
    return { ...flowOccupancy(o.n, o.maps), method, created: -1 };
  }
  const statsFd = o.maps[abi.FlowMapName.flowStats];
  if (statsFd === undefined) throw new Error(`no '${abi.FlowMapName.flowStats}' map`);
  const before = flowStatsOf(o.n, statsFd)[abi.FlowStat.FLOWS_NEW]!;
  let refused = 0;
  // One TCP SYN built by test/helpers/packets.ts, then its destination address, source port and IPv4 header
  // checksum rewritten per flow (building 262,144 frames from scratch takes seconds).
  const frame = pk.ethernet(
    { type: pk.EthType.IPV4 },
    pk.ipv4({ src: o.self, dst: peerOf(0), protocol: pk.IpProto.TCP }, pk.tcp({ sport: selfPortOf(0), dport: 443, flags: 0x02 })),
  );
  const IP = 14;
  for (let i = 0; i < 2 * capacity; i++) {
    pk.ipBytes(peerOf(i)).copy(frame, IP + 16);
    frame.writeUInt16BE(selfPortOf(i), IP + 20);
    frame.writeUInt16BE(0, IP + 10);
    frame.writeUInt16BE(ipv4HeaderChecksum(frame, IP), IP + 10);
    if (o.n.progTestRun(o.fromPod, frame, 1, o.ctx).retval !== abi.TcAction.ALLOW) refused++;
  }
  if (refused > 0) throw new Error(`flow table fill: from_pod dropped ${refused} of ${2 * capacity} frames to 100.64.0.0/10 (expected: allowed, rule 6)`);
  const created = flowStatsOf(o.n, statsFd)[abi.FlowStat.FLOWS_NEW]! - before;
  return { ...flowOccupancy(o.n, o.maps), method, created };
}

function fillThroughAddon(o: FlowTableOwner, max: number): void {
  const fd = flowsFd(o.maps);
  const vs = abi.FlowLayout.vw_flow.size;
  const now = process.hrtime.bigint();
  const flow: abi.FlowValue = {
    firstNs: now,
    lastNs: now,
    eventTick: 0,
    cache: 0n,
    packets: [3n, 2n],
    bytes: [180n, 120n],
    drops: [0n, 0n],
    verdict: abi.Verdict.ALLOWED,
    code: abi.AllowRule.NOT_POD,
    lastDir: abi.Direction.TO_POD,
    firstDir: abi.Direction.FROM_POD,
    tcpFlags: [0, 0],
  };
  const CHUNK = 16_384;
  for (let start = 0; start < max; start += CHUNK) {
    const c = Math.min(CHUNK, max - start);
    const keys = Buffer.alloc(c * 4);
    const values = Buffer.alloc(c * vs);
    for (let j = 0; j < c; j++) {
      const i = start + j;
      keys.writeUInt32LE(i, j * 4);
      abi
        .encodeFlow({ selfAddr: o.self, peerAddr: peerOf(i), ifindex: o.ifindex, selfPort: selfPortOf(i), peerPort: 443, ethertype: pk.EthType.IPV4, proto: pk.IpProto.TCP }, flow)
        .copy(values, j * vs);
    }
    o.n.mapUpdateBatch(fd, keys, values, c);
  }
}

function ipv4HeaderChecksum(buf: Buffer, at: number): number {
  let sum = 0;
  for (let i = at; i < at + 20; i += 2) sum += buf.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Reads and discards what the flow-event ring holds (e.g. after a datapath fill), so timed runs meet a ring with room. */
export async function drainFlowEvents(n: NativeAddon, maps: Record<string, number>): Promise<number> {
  const fd = maps[abi.FlowMapName.flowEvents];
  if (fd === undefined) throw new Error(`no '${abi.FlowMapName.flowEvents}' map`);
  let read = 0;
  let last = -1;
  const h = n.ringbufOpen(fd, (_b, c) => void (read += c), 4096, 1);
  try {
    while (read !== last) {
      last = read;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    n.ringbufClose(h);
  }
  return read;
}

/** flow_stats summed over CPUs, indexed by abi.FlowStat. */
export function flowStatsOf(n: NativeAddon, statsFd: number): number[] {
  return abi.decodeFlowStats(n.mapDump(statsFd), n.possibleCpus()).map(Number);
}
