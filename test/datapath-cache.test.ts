// The verdict cache and the flow table (issue 12) on the real kernel, through
// BPF_PROG_TEST_RUN: what a flow slot caches, what retires it (the policy
// epoch the agent raises after every map write, the sweep that removes
// sessions, the tick of decisions that rest on sessions), which packets never
// use it, and that a slot taken over or a bridge port cannot make it lie.
//
// To show that a packet WAS decided from the cache, these tests write a map
// without raising the epoch (what the agent never does): the cached decision
// then differs from what the maps say, and a fresh 5-tuple is the control
// that the maps did change.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as abi from '../src/kernel/abi.js';
import { native, type NativeAddon } from '../src/kernel/native.js';
import { CLUSTER_CIDRS, HERE, TEST_FLOW_SEED, TestDatapath, allow, drop, freshPinRoot, type Party } from './helpers/datapath.js';
import * as pk from './helpers/packets.js';

const { AllowRule: Rule, DropReason: Drop } = abi;
const VRF = { A: 10, B: 11, C: 12 } as const;
const P = {
  a1: { v4: '10.244.1.10', v6: 'fd00:10:244:1::10' }, // local pod, A
  a3: { v4: '10.244.2.11', v6: 'fd00:10:244:2::11' }, // remote pod, A
  c3: { v4: '10.244.2.30', v6: 'fd00:10:244:2::30' }, // remote pod, C
  b2: { v4: '10.244.1.20', v6: 'fd00:10:244:1::20' }, // local shared backend, B
  a2: { v4: '10.244.2.10', v6: 'fd00:10:244:2::10' }, // remote client, A
  vip: { v4: '10.96.0.20', v6: 'fd00:10:96::20' }, // A may use it
} satisfies Record<string, Party>;
const ENDPOINTS: [Party, abi.EndpointValue][] = [
  [P.a1, { vrfId: VRF.A, flags: abi.VW_EP_LOCAL | abi.VW_EP_PTP, ifindex: HERE }],
  [P.a3, { vrfId: VRF.A, flags: abi.VW_EP_NO_BACKEND, ifindex: 0 }],
  [P.c3, { vrfId: VRF.C, flags: abi.VW_EP_NO_BACKEND, ifindex: 0 }],
  [P.b2, { vrfId: VRF.B, flags: abi.VW_EP_LOCAL | abi.VW_EP_PTP, ifindex: HERE }],
  [P.a2, { vrfId: VRF.A, flags: abi.VW_EP_NO_BACKEND, ifindex: 0 }],
];
const TCP = pk.IpProto.TCP;
const UDP = pk.IpProto.UDP;
const F = { FIN: 0x01, SYN: 0x02, RST: 0x04, ACK: 0x10 } as const;
const TICK_NS = 1n << BigInt(abi.VW_CACHE_TICK_SHIFT);

let n: NativeAddon;
let dp: TestDatapath;
let nextPort = 30000;
const port = (): number => nextPort++;

function frame(src: string, dst: string, proto: number, sport: number, dport: number, flags: number = F.ACK, mac?: string): Buffer {
  const body = proto === TCP ? pk.tcp({ sport, dport, flags }) : pk.udp({ sport, dport });
  return pk.isV6(src)
    ? pk.ipv6Frame(src, dst, [], proto, body)
    : pk.ethernet({ type: pk.EthType.IPV4, ...(mac ? { src: mac } : {}) }, pk.ipv4({ src, dst, protocol: proto }, body));
}

/** The endpoint written straight into the map, epoch untouched: what a cached decision does not see. */
function setEndpointQuietly(party: Party, ep: abi.EndpointValue): void {
  for (const addr of [party.v4, party.v6]) n.mapUpdate(dp.mapFd(abi.MapName.endpoints), abi.encodeEndpointKey(addr), abi.encodeEndpoint(ep));
}

function ctl(): abi.CacheCtl {
  return abi.decodeCacheCtl(n.mapLookup(dp.mapFd(abi.MapName.cacheCtl), Buffer.alloc(4)) ?? Buffer.alloc(8));
}

function setCtl(c: abi.CacheCtl): void {
  n.mapUpdate(dp.mapFd(abi.MapName.cacheCtl), Buffer.alloc(4), abi.encodeCacheCtl(c));
}

interface Slot {
  index: number;
  raw: Buffer;
  value: abi.FlowValue;
}

/** Runs fn over the flows table mapped read-only (as the agent reads it). */
function withTable<T>(fn: (table: Buffer) => T): T {
  const mapping = n.mapMmap(dp.mapFd(abi.FlowMapName.flows));
  try {
    return fn(Buffer.from(mapping));
  } finally {
    n.mapUnmap(mapping);
  }
}

const SLOT = abi.FlowLayout.vw_flow.size;
const FIRST_NS = abi.FlowLayout.vw_flow.fields.first_ns;
const KEY = abi.FlowLayout.vw_flow.fields.key;
const KEY_SIZE = abi.FlowLayout.vw_flow_key.size;

/** Indexes of the slots holding this key. */
function slotsOf(key: abi.FlowKey): number[] {
  const want = abi.encodeFlowKey(key);
  return withTable((t) => {
    const out: number[] = [];
    for (let i = 0; i < t.length / SLOT; i++) {
      if (t.readBigUInt64LE(i * SLOT + FIRST_NS) !== 0n && t.compare(want, 0, KEY_SIZE, i * SLOT + KEY, i * SLOT + KEY + KEY_SIZE) === 0) out.push(i);
    }
    return out;
  });
}

/** The slot holding this flow (as from_pod or to_pod of the local pod keys it). */
function slotOf(key: abi.FlowKey): Slot | undefined {
  const index = slotsOf(key)[0];
  if (index === undefined) return undefined;
  const raw = withTable((t) => Buffer.from(t.subarray(index * SLOT, (index + 1) * SLOT)));
  return { index, raw, value: abi.decodeFlow(raw) };
}

/** Slots in use. */
function occupied(): number {
  return withTable((t) => {
    let c = 0;
    for (let i = 0; i < t.length / SLOT; i++) if (t.readBigUInt64LE(i * SLOT + FIRST_NS) !== 0n) c++;
    return c;
  });
}

const flowKey = (self: string, peer: string, proto: number, selfPort: number, peerPort: number): abi.FlowKey => ({
  selfAddr: self,
  peerAddr: peer,
  ifindex: HERE,
  selfPort,
  peerPort,
  ethertype: pk.isV6(self) ? pk.EthType.IPV6 : pk.EthType.IPV4,
  proto,
});

/** The entry of one direction in a cache word (VW_CACHE_* bits and code). */
function entry(cache: bigint, dir: number): { valid: boolean; dropped: boolean; timed: boolean; code: number } {
  const e = abi.cacheEntry(cache, dir);
  return { valid: e !== undefined, dropped: e?.verdict === abi.Verdict.DROPPED, timed: e?.timed ?? false, code: e?.code ?? 0 };
}

/** Runs fn so that it starts and ends within one cache tick (retries across a tick boundary). */
function withinOneTick(fn: () => void): void {
  for (let attempt = 0; attempt < 5; attempt++) {
    const t0 = process.hrtime.bigint();
    // Not in the last 20 ms of a tick: the coarse clock lags CLOCK_MONOTONIC by up to one jiffy.
    if (TICK_NS - (t0 % TICK_NS) < 20_000_000n) {
      const wait = Number(TICK_NS - (t0 % TICK_NS)) / 1e6 + 25;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
      continue;
    }
    fn();
    if (process.hrtime.bigint() / TICK_NS === t0 / TICK_NS) return;
  }
  throw new Error('could not run within one cache tick');
}

beforeAll(() => {
  n = native();
  dp = new TestDatapath(n, freshPinRoot('dpcache-test-'));
  dp.putEndpoints(ENDPOINTS);
  dp.putCidrs(CLUSTER_CIDRS);
  for (const fam of ['v4', 'v6'] as const) {
    n.mapUpdate(dp.mapFd(abi.MapName.services), abi.encodeSvcKey({ addr: P.vip[fam], port: 53, protocol: 'UDP', clientVrf: VRF.A }), abi.encodeSvcValue({ svcVrf: 0, flags: 0 }));
    n.mapUpdate(dp.mapFd(abi.MapName.services), abi.encodeSvcKey({ addr: P.vip[fam], port: 80, protocol: 'TCP', clientVrf: VRF.A }), abi.encodeSvcValue({ svcVrf: 0, flags: 0 }));
    n.mapUpdate(dp.mapFd(abi.MapName.backends), abi.encodeSvcKey({ addr: P.b2[fam], port: 8080, protocol: 'TCP', clientVrf: abi.VW_SVC_ANY_VRF }), abi.encodeSvcValue({ svcVrf: 0, flags: 0 }));
  }
  dp.retire();
});

afterAll(() => dp?.close());

describe('a conversation is decided once per policy epoch', () => {
  it.each(['v4', 'v6'] as const)('%s: later packets come from the slot; a map written without a new epoch does not reach them, a new epoch does', (fam) => {
    const sp = port();
    const a1 = P.a1[fam];
    const a3 = P.a3[fam];
    try {
      dp.expectVerdict('from', frame(a1, a3, UDP, sp, 53), allow(Rule.SAME_NETWORK));
      const slot = slotOf(flowKey(a1, a3, UDP, sp, 53));
      expect(slot, 'the flow has a slot').toBeDefined();
      expect(Number(slot!.value.cache & 0xffffffffn)).toBe(ctl().epoch);
      expect(entry(slot!.value.cache, abi.Direction.FROM_POD)).toEqual({ valid: true, dropped: false, timed: false, code: Rule.SAME_NETWORK });

      setEndpointQuietly(P.a3, { vrfId: VRF.B, flags: abi.VW_EP_NO_BACKEND, ifindex: 0 });
      dp.expectVerdict('from', frame(a1, a3, UDP, port(), 53), drop(Drop.ISOLATED)); // control: the maps say B now
      dp.expectVerdict('from', frame(a1, a3, UDP, sp, 53), allow(Rule.SAME_NETWORK)); // the cached decision
      dp.retire(); // what the agent does after the write
      dp.expectVerdict('from', frame(a1, a3, UDP, sp, 53), drop(Drop.ISOLATED));
      expect(entry(slotOf(flowKey(a1, a3, UDP, sp, 53))!.value.cache, abi.Direction.FROM_POD)).toMatchObject({ valid: true, dropped: true, code: Drop.ISOLATED });
    } finally {
      dp.putEndpoints([[P.a3, { vrfId: VRF.A, flags: abi.VW_EP_NO_BACKEND, ifindex: 0 }]]);
    }
  });

  it('both directions are cached, each its own decision', () => {
    const sp = port();
    dp.expectVerdict('from', frame(P.a1.v4, P.a3.v4, TCP, sp, 443), allow(Rule.SAME_NETWORK));
    dp.expectVerdict('to', frame(P.a3.v4, P.a1.v4, TCP, 443, sp), allow(Rule.SAME_NETWORK));
    const cache = slotOf(flowKey(P.a1.v4, P.a3.v4, TCP, sp, 443))!.value.cache;
    expect(entry(cache, abi.Direction.FROM_POD)).toMatchObject({ valid: true, code: Rule.SAME_NETWORK });
    expect(entry(cache, abi.Direction.TO_POD)).toMatchObject({ valid: true, code: Rule.SAME_NETWORK });
  });

  it('epoch 0 (no agent has written the maps yet) caches nothing: every write reaches the next packet', () => {
    const saved = ctl();
    const sp = port();
    try {
      setCtl({ ...saved, epoch: 0 });
      dp.expectVerdict('from', frame(P.a1.v4, P.a3.v4, UDP, sp, 53), allow(Rule.SAME_NETWORK));
      dp.expectVerdict('from', frame(P.a1.v4, P.a3.v4, UDP, sp, 53), allow(Rule.SAME_NETWORK));
      expect(slotOf(flowKey(P.a1.v4, P.a3.v4, UDP, sp, 53))!.value.cache).toBe(0n);
      setEndpointQuietly(P.a3, { vrfId: VRF.B, flags: abi.VW_EP_NO_BACKEND, ifindex: 0 });
      dp.expectVerdict('from', frame(P.a1.v4, P.a3.v4, UDP, sp, 53), drop(Drop.ISOLATED));
    } finally {
      setCtl({ ...saved, epoch: saved.epoch + 1 });
      dp.putEndpoints([[P.a3, { vrfId: VRF.A, flags: abi.VW_EP_NO_BACKEND, ifindex: 0 }]]);
    }
  });
});

describe('packets whose decision is more than their flow key take the full path', () => {
  it('TCP SYN, FIN and RST are decided afresh and clear the slot; the ACKs of the same connection use the cache', () => {
    for (const flags of [F.SYN, F.FIN | F.ACK, F.RST]) {
      const sp = port();
      try {
        dp.expectVerdict('from', frame(P.a1.v4, P.a3.v4, TCP, sp, 443, F.ACK), allow(Rule.SAME_NETWORK));
        setEndpointQuietly(P.a3, { vrfId: VRF.B, flags: abi.VW_EP_NO_BACKEND, ifindex: 0 });
        dp.expectVerdict('from', frame(P.a1.v4, P.a3.v4, TCP, sp, 443, F.ACK), allow(Rule.SAME_NETWORK)); // cached
        dp.expectVerdict('from', frame(P.a1.v4, P.a3.v4, TCP, sp, 443, flags), drop(Drop.ISOLATED)); // full path
        expect(slotOf(flowKey(P.a1.v4, P.a3.v4, TCP, sp, 443))!.value.cache).toBe(0n);
        dp.expectVerdict('from', frame(P.a1.v4, P.a3.v4, TCP, sp, 443, F.ACK), drop(Drop.ISOLATED));
      } finally {
        dp.putEndpoints([[P.a3, { vrfId: VRF.A, flags: abi.VW_EP_NO_BACKEND, ifindex: 0 }]]);
      }
    }
  });

  it('ICMP and fragments: every packet decided by the full path', () => {
    const echo = pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src: P.a1.v4, dst: P.a3.v4, protocol: pk.IpProto.ICMP }, pk.icmpEcho({ id: 7 })));
    const first = pk.ethernet(
      { type: pk.EthType.IPV4 },
      pk.ipv4({ src: P.a1.v4, dst: P.a3.v4, protocol: UDP, moreFragments: true, id: 99 }, pk.udp({ sport: 5353, dport: 5353 })),
    );
    try {
      dp.expectVerdict('from', echo, allow(Rule.SAME_NETWORK));
      dp.expectVerdict('from', first, allow(Rule.SAME_NETWORK));
      setEndpointQuietly(P.a3, { vrfId: VRF.B, flags: abi.VW_EP_NO_BACKEND, ifindex: 0 });
      dp.expectVerdict('from', echo, drop(Drop.ISOLATED));
      dp.expectVerdict('from', first, drop(Drop.ISOLATED));
    } finally {
      dp.putEndpoints([[P.a3, { vrfId: VRF.A, flags: abi.VW_EP_NO_BACKEND, ifindex: 0 }]]);
    }
  });
});

describe('decisions that rest on sessions', () => {
  it('a reply cached as allowed serves one tick at most after its session is gone; the sweep that removes a session retires it at once', () => {
    // one tick: the session deleted behind the program's back
    let sp = 0;
    withinOneTick(() => {
      sp = port();
      dp.expectVerdict('from', frame(P.a1.v4, P.vip.v4, UDP, sp, 53), allow(Rule.SERVICE));
      dp.expectVerdict('to', frame(P.vip.v4, P.a1.v4, UDP, 53, sp), allow(Rule.REPLY));
      const key = abi.encodeSessionKey({ saddr: P.a1.v4, daddr: P.vip.v4, sport: sp, dport: 53, protocol: 'UDP' });
      expect(n.mapDelete(dp.mapFd(abi.MapName.sessions), key)).toBe(true);
      dp.expectVerdict('to', frame(P.vip.v4, P.a1.v4, UDP, 53, sp), allow(Rule.REPLY)); // still this tick
    });
    expect(entry(slotOf(flowKey(P.a1.v4, P.vip.v4, UDP, sp, 53))!.value.cache, abi.Direction.TO_POD)).toMatchObject({ valid: true, timed: true, code: Rule.REPLY });
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(TICK_NS / 1_000_000n) + 30);
    dp.expectVerdict('to', frame(P.vip.v4, P.a1.v4, UDP, 53, sp), drop(Drop.NO_SESSION));

    // the sweep: a session the policy no longer allows, removed, and the reply refused with the next packet
    const cp = port();
    withinOneTick(() => {
      dp.expectVerdict('from', frame(P.a1.v4, P.vip.v4, UDP, cp, 53), allow(Rule.SERVICE));
      dp.expectVerdict('to', frame(P.vip.v4, P.a1.v4, UDP, 53, cp), allow(Rule.REPLY));
    });
    const svc = abi.encodeSvcKey({ addr: P.vip.v4, port: 53, protocol: 'UDP', clientVrf: VRF.A });
    expect(n.mapDelete(dp.mapFd(abi.MapName.services), svc)).toBe(true);
    try {
      withinOneTick(() => {
        expect(dp.sweepSessions().revoked).toBeGreaterThanOrEqual(1); // raises the epoch, as the agent's sweep does
        dp.expectVerdict('to', frame(P.vip.v4, P.a1.v4, UDP, 53, cp), drop(Drop.NO_SESSION));
      });
    } finally {
      n.mapUpdate(dp.mapFd(abi.MapName.services), svc, abi.encodeSvcValue({ svcVrf: 0, flags: 0 }));
      dp.retire();
    }
  });

  it('a reply refused before its session existed passes as soon as the connection opens (NO_SESSION is never cached; SYN clears)', () => {
    const cp = port();
    dp.expectVerdict('to', frame(P.vip.v4, P.a1.v4, TCP, 80, cp, F.ACK), drop(Drop.NO_SESSION));
    dp.expectVerdict('to', frame(P.vip.v4, P.a1.v4, TCP, 80, cp, F.ACK), drop(Drop.NO_SESSION));
    dp.expectVerdict('from', frame(P.a1.v4, P.vip.v4, TCP, cp, 80, F.SYN), allow(Rule.SERVICE));
    dp.expectVerdict('to', frame(P.vip.v4, P.a1.v4, TCP, 80, cp, F.ACK), allow(Rule.REPLY));
    // between pods: the backend's answer was ISOLATED before the client's SYN made the session
    const bp = port();
    dp.expectVerdict('from', frame(P.b2.v4, P.a2.v4, TCP, 8080, bp, F.ACK), drop(Drop.ISOLATED));
    dp.expectVerdict('to', frame(P.a2.v4, P.b2.v4, TCP, bp, 8080, F.SYN), allow(Rule.SERVICE_BACKEND));
    dp.expectVerdict('from', frame(P.b2.v4, P.a2.v4, TCP, 8080, bp, F.ACK), allow(Rule.REPLY));
  });
});

describe('the cache cannot be made to lie', () => {
  it('on a bridge port from_pod caches nothing: a forged source MAC on a running conversation is still SPOOFED', () => {
    const portsFd = dp.mapFd(abi.MapName.ports);
    const sp = port();
    n.mapUpdate(portsFd, abi.encodePortKey(HERE), abi.encodePort({ mac: pk.POD_MAC }));
    setEndpointQuietly(P.a1, { vrfId: VRF.A, flags: abi.VW_EP_LOCAL, ifindex: HERE }); // a bridge port: no PTP promise
    dp.retire();
    try {
      dp.expectVerdict('from', frame(P.a1.v4, P.a3.v4, UDP, sp, 53, 0, pk.POD_MAC), allow(Rule.SAME_NETWORK));
      dp.expectVerdict('from', frame(P.a1.v4, P.a3.v4, UDP, sp, 53, 0, pk.POD_MAC), allow(Rule.SAME_NETWORK));
      expect(entry(slotOf(flowKey(P.a1.v4, P.a3.v4, UDP, sp, 53))!.value.cache, abi.Direction.FROM_POD).valid).toBe(false);
      dp.expectVerdict('from', frame(P.a1.v4, P.a3.v4, UDP, sp, 53, 0, '02:00:00:00:00:77'), drop(Drop.SPOOFED));
    } finally {
      n.mapDelete(portsFd, abi.encodePortKey(HERE));
      dp.putEndpoints([[P.a1, ENDPOINTS[0]![1]]]);
    }
  });

  it('a word written for another key (a slot being taken over) is not used: the fingerprint must match', () => {
    const sp = port();
    const key = flowKey(P.a1.v4, P.c3.v4, UDP, sp, 53);
    dp.expectVerdict('from', frame(P.a1.v4, P.c3.v4, UDP, sp, 53), drop(Drop.ISOLATED));
    const slot = slotOf(key)!;
    const forge = (cache: bigint): void => {
      const raw = Buffer.from(slot.raw);
      raw.writeBigUInt64LE(cache, abi.FlowLayout.vw_flow.fields.cache);
      const idx = Buffer.alloc(4);
      idx.writeUInt32LE(slot.index);
      n.mapUpdate(dp.mapFd(abi.FlowMapName.flows), idx, raw);
    };
    // "allowed, same network" for the direction, untimed, under this epoch, with the key's fingerprint flipped
    const allowed = (1n | (BigInt(Rule.SAME_NETWORK) << 3n)) << BigInt(48 + 8 * abi.Direction.FROM_POD);
    const head = slot.value.cache & 0xffffffffffffn;
    forge((head ^ (1n << 32n)) | allowed);
    dp.expectVerdict('from', frame(P.a1.v4, P.c3.v4, UDP, sp, 53), drop(Drop.ISOLATED));
    // control: the same word with the right fingerprint is what the program would trust
    forge(head | allowed);
    dp.expectVerdict('from', frame(P.a1.v4, P.c3.v4, UDP, sp, 53), allow(Rule.SAME_NETWORK));
    dp.retire();
    dp.expectVerdict('from', frame(P.a1.v4, P.c3.v4, UDP, sp, 53), drop(Drop.ISOLATED));
  });
});

describe('the flow table', () => {
  it('full: a new conversation takes the slot idle longest in its window, keeps its counts and is decided right', () => {
    const flowsFd = dp.mapFd(abi.FlowMapName.flows);
    const max = n.mapInfo(flowsFd).maxEntries;
    expect(max).toBe(abi.VW_FLOWS_MAX);
    const size = SLOT;
    const old: abi.FlowValue = {
      firstNs: 1n, lastNs: 1n, eventTick: 0, cache: 0n, packets: [1n, 0n], bytes: [60n, 0n], drops: [0n, 0n],
      verdict: 0, code: Rule.SAME_NETWORK, lastDir: 0, firstDir: 0, tcpFlags: [0, 0],
    };
    // one slot encoded, then its peer address (the last 4 bytes of the IPv4-mapped peer) made distinct per slot
    const template = abi.encodeFlow(flowKey('10.99.0.1', '0.0.0.0', UDP, 1000, 9), old);
    const peerLow = abi.FlowLayout.vw_flow.fields.key + abi.FlowLayout.vw_flow_key.fields.peer_addr + 12;
    const CHUNK = 16_384;
    for (let start = 0; start < max; start += CHUNK) {
      const keys = Buffer.alloc(CHUNK * 4);
      const values = Buffer.alloc(CHUNK * size);
      for (let j = 0; j < CHUNK; j++) {
        const i = start + j;
        keys.writeUInt32LE(i, j * 4);
        template.copy(values, j * size);
        values.writeUInt32BE((0x0a620000 + i) >>> 0, j * size + peerLow); // 10.98.0.0 + i
      }
      n.mapUpdateBatch(flowsFd, keys, values, CHUNK);
    }
    expect(occupied()).toBe(max); // every slot taken
    const cases: [string, string, abi.DropReason | abi.AllowRule, boolean][] = [
      [P.a1.v4, P.a3.v4, Rule.SAME_NETWORK, true],
      [P.a1.v4, P.c3.v4, Drop.ISOLATED, false],
      [P.a1.v6, P.a3.v6, Rule.SAME_NETWORK, true],
    ];
    for (const [src, dst, code, allowed] of cases) {
      const sp = port();
      for (let i = 0; i < 3; i++) dp.expectVerdict('from', frame(src, dst, UDP, sp, 53), allowed ? allow(code as abi.AllowRule) : drop(code as abi.DropReason));
      const slot = slotOf(flowKey(src, dst, UDP, sp, 53));
      expect(slot, `${src} -> ${dst} has a slot in the full table`).toBeDefined();
      expect(slot!.value.packets[abi.Direction.FROM_POD]).toBe(3n);
      expect(slot!.value.firstNs).toBeGreaterThan(1n);
    }
    expect(occupied()).toBe(max); // still full: slots were taken over, none lost
  });

  it('the two entries of a conversation between two pods of this node share a window, never a fingerprint', () => {
    // a1 and b2 are both local: a packet between them crosses a1's from_pod
    // and b2's to_pod, each keying the conversation from its own pod's side.
    const fp = (cache: bigint): number => Number((cache >> 32n) & 0xffn);
    for (const fam of ['v4', 'v6'] as const) {
      for (let c = 0; c < 16; c++) {
        const sp = port();
        const a1 = P.a1[fam];
        const b2 = P.b2[fam];
        dp.expectVerdict('from', frame(a1, b2, UDP, sp, 53), drop(Drop.ISOLATED));
        dp.expectVerdict('to', frame(a1, b2, UDP, sp, 53), drop(Drop.ISOLATED));
        const sender = slotOf(flowKey(a1, b2, UDP, sp, 53));
        const receiver = slotOf(flowKey(b2, a1, UDP, 53, sp));
        expect(sender && receiver, `${fam} conversation ${c}: both sides have a slot`).toBeTruthy();
        const distance = (receiver!.index - sender!.index + abi.VW_FLOWS_MAX) % abi.VW_FLOWS_MAX;
        const back = (sender!.index - receiver!.index + abi.VW_FLOWS_MAX) % abi.VW_FLOWS_MAX;
        expect(Math.min(distance, back), `${fam} conversation ${c}: slots ${sender!.index} and ${receiver!.index}`).toBeLessThan(abi.VW_FLOW_PROBES);
        expect(entry(sender!.value.cache, abi.Direction.FROM_POD)).toMatchObject({ valid: true, dropped: true });
        expect(entry(receiver!.value.cache, abi.Direction.TO_POD)).toMatchObject({ valid: true, dropped: true });
        expect(fp(sender!.value.cache)).not.toBe(fp(receiver!.value.cache));
      }
    }
  });

  it('the hash is keyed: the seed the agent wrote is in cache_ctl and the slots move with it', () => {
    expect(ctl().flowSeed).toBe(TEST_FLOW_SEED);
    const sp = port();
    dp.expectVerdict('from', frame(P.a1.v4, P.a3.v4, UDP, sp, 53), allow(Rule.SAME_NETWORK));
    const before = slotOf(flowKey(P.a1.v4, P.a3.v4, UDP, sp, 53))!.index;
    const saved = ctl();
    try {
      setCtl({ ...saved, flowSeed: saved.flowSeed ^ 0x1234567 });
      dp.expectVerdict('from', frame(P.a1.v4, P.a3.v4, UDP, sp, 53), allow(Rule.SAME_NETWORK));
      // the same key under another seed: found in another window (a second entry for it)
      const indexes = slotsOf(flowKey(P.a1.v4, P.a3.v4, UDP, sp, 53));
      expect(indexes).toContain(before);
      expect(indexes.length).toBe(2);
    } finally {
      setCtl({ ...saved, epoch: ctl().epoch + 1 });
    }
  });
});
