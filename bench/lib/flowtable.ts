// The benchmark's only knowledge of how the datapath's flow table is laid
// out: how part 1 makes it "full" and how it counts what it holds. When the
// flows map changes shape (e.g. an open-addressed BPF_MAP_TYPE_ARRAY instead
// of the kernel LRU hash), change this file and nothing else in bench/.
import * as abi from '../../src/bpf/abi.js';
import type { NativeAddon } from '../../src/bpf/native.js';

/** A "full" flow table must hold at least this share of its capacity while
 *  timed (the LRU keeps some nodes on per-CPU free lists, and the timed
 *  frames' own flows evict a few synthetic ones). */
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

/** Entries in use and capacity of the flow table (LRU hash: a dump's count, max_entries). */
export function flowOccupancy(n: NativeAddon, maps: Record<string, number>): FlowOccupancy {
  const fd = flowsFd(maps);
  return { entries: n.mapDump(fd).count, capacity: n.mapInfo(fd).maxEntries };
}

/**
 * Fills the flow table to capacity with established flows of the local pod
 * `self` (behind `ifindex`) to synthetic peers in 10.200.0.0/16, as a busy
 * pod would leave it: today by batch updates of the LRU hash through the
 * addon, with values from abi.encodeFlow. Returns what the kernel then holds.
 */
export function fillFlowTable(n: NativeAddon, maps: Record<string, number>, self: string, ifindex: number): FlowOccupancy {
  const fd = flowsFd(maps);
  const max = n.mapInfo(fd).maxEntries;
  const ks = abi.FlowLayout.vw_flow_key.size;
  const vs = abi.FlowLayout.vw_flow.size;
  const now = process.hrtime.bigint();
  const flow: abi.FlowValue = {
    firstNs: now,
    lastNs: now,
    eventNs: now,
    packets: [3n, 2n],
    bytes: [180n, 120n],
    drops: [0n, 0n],
    verdict: abi.Verdict.ALLOWED,
    code: abi.AllowRule.SAME_NETWORK,
    lastDir: abi.Direction.TO_POD,
    firstDir: abi.Direction.FROM_POD,
    tcpFlags: [0, 0],
  };
  const value = abi.encodeFlow(flow);
  // Only the benchmark uses the encoder: check it against the decoder the agent uses.
  const text = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  if (text(abi.decodeFlow(value)) !== text(flow)) throw new Error('abi.encodeFlow does not round-trip through abi.decodeFlow');
  const CHUNK = 16_384;
  for (let start = 0; start < max; start += CHUNK) {
    const c = Math.min(CHUNK, max - start);
    const keys = Buffer.alloc(c * ks);
    const values = Buffer.alloc(c * vs);
    for (let j = 0; j < c; j++) {
      const i = start + j;
      // 4 source ports per peer: distinct keys, spread over the hash
      abi
        .encodeFlowKey({
          selfAddr: self,
          peerAddr: `10.200.${(i >> 10) & 0xff}.${(i >> 2) & 0xff}`,
          ifindex,
          selfPort: 33_000 + (i & 3),
          peerPort: 443,
          ethertype: 0x0800,
          proto: 6,
        })
        .copy(keys, j * ks);
      value.copy(values, j * vs);
    }
    n.mapUpdateBatch(fd, keys, values, c);
  }
  return flowOccupancy(n, maps);
}

/** flow_stats summed over CPUs, indexed by abi.FlowStat. */
export function flowStatsOf(n: NativeAddon, statsFd: number): number[] {
  return abi.decodeFlowStats(n.mapDump(statsFd), n.possibleCpus()).map(Number);
}
