// Audit mode in the datapath (issue 19 item 1; bpf/lib/audit.h) on the real
// kernel: both programs and session_gc loaded with one pin root, the maps
// filled as the compile step does (network flags VW_NET_AUDIT / VW_NET_OPEN,
// a Service's VW_SVC_AUDIT entry, vw_config VW_CFG_AUDIT), crafted frames run
// with BPF_PROG_TEST_RUN. Every run is checked by its tc action and by the one
// counter slot it moved (verdict AUDIT with the drop reason it would have
// had); flows and sessions are read back from the kernel's maps. Every
// relaxed case has its enforced control in the same test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as abi from '../src/kernel/abi.js';
import { native, type NativeAddon } from '../src/kernel/native.js';
import * as pk from './helpers/packets.js';
import { CLUSTER_CIDRS, HERE, TestDatapath, allow, audit, drop, flowTable, freshPinRoot, type Party } from './helpers/datapath.js';

const { AllowRule: Rule, DropReason: Drop } = abi;

// D: the default network; A and V: audited; W and E: enforced.
const VRF = { D: 1, A: 10, V: 11, W: 12, E: 13 } as const;
const OPEN = abi.VW_NET_OPEN;
const AUDITED = abi.VW_NET_AUDIT | abi.VW_NET_OPEN;

const P = {
  a1: { v4: '10.244.1.10', v6: 'fd00:10:244:1::10' }, // local, A (audited)
  e1: { v4: '10.244.1.20', v6: 'fd00:10:244:1::20' }, // local, E (enforced)
  d1: { v4: '10.244.2.10', v6: 'fd00:10:244:2::10' }, // remote, default network
  v1: { v4: '10.244.2.20', v6: 'fd00:10:244:2::20' }, // remote, V (audited)
  w1: { v4: '10.244.2.30', v6: 'fd00:10:244:2::30' }, // remote, W (enforced)
  vipD: { v4: '10.96.0.20', v6: 'fd00:10:96::20' }, // a default-network Service: backends all OPEN
  vipW: { v4: '10.96.0.30', v6: 'fd00:10:96::30' }, // a Service of W: no audit entry
  outside: { v4: '8.8.8.8', v6: '2001:db8::8' },
} satisfies Record<string, Party>;

const { VW_EP_LOCAL: LOCAL } = abi;
const ENDPOINTS: [Party, abi.EndpointValue][] = [
  [P.a1, { vrfId: VRF.A, flags: LOCAL, ifindex: HERE }],
  [P.e1, { vrfId: VRF.E, flags: LOCAL, ifindex: HERE }],
  [P.d1, { vrfId: VRF.D, flags: abi.VW_EP_NO_BACKEND, ifindex: 0 }],
  [P.v1, { vrfId: VRF.V, flags: abi.VW_EP_NO_BACKEND, ifindex: 0 }],
  [P.w1, { vrfId: VRF.W, flags: abi.VW_EP_NO_BACKEND, ifindex: 0 }],
];
const NETWORKS: [number, number][] = [
  [VRF.D, OPEN],
  [VRF.A, AUDITED | abi.VW_NET_EXTERNAL_DENY],
  [VRF.V, AUDITED],
  [VRF.W, 0],
  [VRF.E, abi.VW_NET_EXTERNAL_DENY],
];

let n: NativeAddon;
let dp: TestDatapath;
const mapFd = (name: string): number => dp.mapFd(name);
const expectVerdict: TestDatapath['expectVerdict'] = (dir, frame, want) => dp.expectVerdict(dir, frame, want);

function putNetwork(vrf: number, flags: number): void {
  n.mapUpdate(mapFd(abi.MapName.networks), abi.encodeNetworkKey(vrf), abi.encodeNetwork({ flags }));
  dp.retire(); // as the agent does after every write
}

function putService(party: Party, port: number, clientVrf: number, value: abi.SvcValue): void {
  for (const addr of [party.v4, party.v6]) {
    n.mapUpdate(mapFd(abi.MapName.services), abi.encodeSvcKey({ addr, port, protocol: 'TCP', clientVrf }), abi.encodeSvcValue(value));
  }
  dp.retire();
}

function session(k: abi.SessionKey): abi.SessionValue | undefined {
  const v = n.mapLookup(mapFd(abi.MapName.sessions), abi.encodeSessionKey(k));
  return v === null ? undefined : abi.decodeSession(v);
}

beforeAll(() => {
  n = native();
  dp = new TestDatapath(n, freshPinRoot('dpaudit-test-'));
  dp.putEndpoints(ENDPOINTS);
  dp.putCidrs(CLUSTER_CIDRS);
  for (const [vrf, flags] of NETWORKS) putNetwork(vrf, flags);
  putService(P.vipD, 80, VRF.D, { svcVrf: VRF.D, flags: 0 });
  putService(P.vipD, 80, abi.VW_SVC_AUDIT_VRF, { svcVrf: VRF.D, flags: abi.VW_SVC_AUDIT });
  putService(P.vipW, 80, VRF.W, { svcVrf: VRF.W, flags: 0 });
});

afterAll(() => dp?.close());

for (const fam of ['v4', 'v6'] as const) {
  const ip = (p: Party): string => p[fam];
  const tcpFrame = (src: Party, dst: Party, sport: number, dport: number, flags = 0x02): Buffer =>
    fam === 'v4'
      ? pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src: ip(src), dst: ip(dst), protocol: pk.IpProto.TCP }, pk.tcp({ sport, dport, flags })))
      : pk.ipv6Frame(ip(src), ip(dst), [], pk.IpProto.TCP, pk.tcp({ sport, dport, flags }));
  const icmp = (src: Party, dst: Party): Buffer => pk.ipFrame(ip(src), ip(dst), 'icmp');
  let nextPort = fam === 'v4' ? 21000 : 31000;
  const port = (): number => nextPort++;

  describe(`IPv${fam === 'v4' ? 4 : 6}: per-network audit (the annotation)`, () => {
    it('audited A <-> the default network: AUDIT (ISOLATED) both ways; enforced E <-> the default network: dropped', () => {
      for (const f of [tcpFrame(P.a1, P.d1, port(), 8080), icmp(P.a1, P.d1)]) expectVerdict('from', f, audit(Drop.ISOLATED));
      for (const f of [tcpFrame(P.d1, P.a1, port(), 8080), icmp(P.d1, P.a1)]) expectVerdict('to', f, audit(Drop.ISOLATED));
      // control, same maps: E is not in audit mode
      expectVerdict('from', tcpFrame(P.e1, P.d1, port(), 8080), drop(Drop.ISOLATED));
      expectVerdict('to', tcpFrame(P.d1, P.e1, port(), 8080), drop(Drop.ISOLATED));
    });

    it('audited A <-> audited V: AUDIT; audited A <-> enforced W: dropped, in both directions (an annotation never opens another segment)', () => {
      expectVerdict('from', tcpFrame(P.a1, P.v1, port(), 8080), audit(Drop.ISOLATED));
      expectVerdict('to', tcpFrame(P.v1, P.a1, port(), 8080), audit(Drop.ISOLATED));
      expectVerdict('from', tcpFrame(P.a1, P.w1, port(), 8080), drop(Drop.ISOLATED));
      expectVerdict('to', tcpFrame(P.w1, P.a1, port(), 8080), drop(Drop.ISOLATED));
      expectVerdict('from', icmp(P.a1, P.w1), drop(Drop.ISOLATED));
    });

    it('what audit never relaxes: a spoofed source from an audited pod is still SPOOFED', () => {
      const spoofed =
        fam === 'v4'
          ? pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src: ip(P.d1), dst: ip(P.a1), protocol: pk.IpProto.TCP }, pk.tcp({})))
          : pk.ipv6Frame(ip(P.d1), ip(P.a1), [], pk.IpProto.TCP, pk.tcp({}));
      expectVerdict('from', spoofed, drop(Drop.SPOOFED));
    });

    it('external deny of an audited network: AUDIT (EXTERNAL_DENIED); of an enforced one: dropped', () => {
      expectVerdict('from', tcpFrame(P.a1, P.outside, port(), 443), audit(Drop.EXTERNAL_DENIED));
      expectVerdict('from', tcpFrame(P.e1, P.outside, port(), 443), drop(Drop.EXTERNAL_DENIED));
    });

    it('a Service the audited network may not use: AUDIT (SERVICE_DENIED) with a session, so the reply passes; none for W’s Service or for E', () => {
      const cp = port();
      const key = { saddr: ip(P.a1), daddr: ip(P.vipD), sport: cp, dport: 80, protocol: 'TCP' as const };
      expect(session(key)).toBeUndefined();
      expectVerdict('from', tcpFrame(P.a1, P.vipD, cp, 80), audit(Drop.SERVICE_DENIED));
      expect(session(key)).toMatchObject({ rule: Rule.SERVICE });
      expectVerdict('to', tcpFrame(P.vipD, P.a1, 80, cp, 0x12), allow(Rule.REPLY));
      // W's Service has no audit entry (its backends are not OPEN); E is not OPEN
      const cw = port();
      expectVerdict('from', tcpFrame(P.a1, P.vipW, cw, 80), drop(Drop.SERVICE_DENIED));
      expect(session({ ...key, daddr: ip(P.vipW), sport: cw })).toBeUndefined();
      const ce = port();
      expectVerdict('from', tcpFrame(P.e1, P.vipD, ce, 80), drop(Drop.SERVICE_DENIED));
      expect(session({ ...key, saddr: ip(P.e1), sport: ce })).toBeUndefined();
    });

    it('the flow records AUDIT with ISOLATED and counts the packets as passed', () => {
      const sp = port();
      expectVerdict('from', tcpFrame(P.a1, P.v1, sp, 9090), audit(Drop.ISOLATED));
      const rows = flowTable(n, mapFd(abi.FlowMapName.flows)).filter((r) => r.key.selfAddr === ip(P.a1) && r.key.selfPort === sp);
      expect(rows).toHaveLength(1);
      const v = rows[0]!.value;
      expect([v.verdict, v.code]).toEqual([abi.Verdict.AUDIT, Drop.ISOLATED]);
      expect(v.packets[abi.Direction.FROM_POD]).toBe(1n);
      expect(v.drops[abi.Direction.FROM_POD]).toBe(0n); // passed = packets - drops
    });
  });
}

describe('switching audit -> enforce', () => {
  it('a running connection, decided from the verdict cache, is dropped at its next packet after the flag write and epoch bump', () => {
    const ack = (sport: number): Buffer =>
      pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src: P.a1.v4, dst: P.d1.v4, protocol: pk.IpProto.TCP }, pk.tcp({ sport, dport: 8080, flags: 0x10 })));
    try {
      // an established connection's packets (ACK): cacheable, and cached as AUDIT
      for (let i = 0; i < 3; i++) expectVerdict('from', ack(22222), audit(Drop.ISOLATED));
      const row = flowTable(n, mapFd(abi.FlowMapName.flows)).find((r) => r.key.selfAddr === P.a1.v4 && r.key.selfPort === 22222);
      const entry = Number((row!.value.cache >> 48n) & 0xffn);
      expect(entry & abi.VW_CACHE_AUDIT).toBe(abi.VW_CACHE_AUDIT);
      expect((entry >> abi.VW_CACHE_CODE_SHIFT) & abi.VW_CACHE_CODE_MASK).toBe(Drop.ISOLATED);
      putNetwork(VRF.A, abi.VW_NET_EXTERNAL_DENY); // A enforced; putNetwork raises the epoch
      expectVerdict('from', ack(22222), drop(Drop.ISOLATED));
      expectVerdict('from', ack(22222), drop(Drop.ISOLATED));
    } finally {
      putNetwork(VRF.A, AUDITED | abi.VW_NET_EXTERNAL_DENY);
    }
  });

  it('session_gc removes a session audit mode made once audit no longer lets it in, and keeps it while it does', () => {
    const key = { saddr: P.a1.v4, daddr: P.vipD.v4, sport: 23333, dport: 80, protocol: 'TCP' as const };
    const syn = pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src: P.a1.v4, dst: P.vipD.v4, protocol: pk.IpProto.TCP }, pk.tcp({ sport: 23333, dport: 80 })));
    try {
      expectVerdict('from', syn, audit(Drop.SERVICE_DENIED));
      expect(session(key)).toBeDefined();
      dp.sweepSessions();
      expect(session(key), 'still audited: kept').toBeDefined();
      putNetwork(VRF.A, abi.VW_NET_EXTERNAL_DENY);
      const swept = dp.sweepSessions();
      expect(swept.revoked).toBeGreaterThanOrEqual(1);
      expect(session(key)).toBeUndefined();
      const reply = pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src: P.vipD.v4, dst: P.a1.v4, protocol: pk.IpProto.TCP }, pk.tcp({ sport: 80, dport: 23333, flags: 0x12 })));
      expectVerdict('to', reply, drop(Drop.NO_SESSION));
    } finally {
      putNetwork(VRF.A, AUDITED | abi.VW_NET_EXTERNAL_DENY);
    }
  });
});

describe('the node-wide setting (vw_config VW_CFG_AUDIT)', () => {
  it('turns ISOLATED, SERVICE_DENIED and EXTERNAL_DENIED of enforced networks into AUDIT on this node; SPOOFED stays', () => {
    const f = (src: string, dst: string, dport: number): Buffer =>
      pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src, dst, protocol: pk.IpProto.TCP }, pk.tcp({ sport: 24444, dport })));
    // control first: without the setting, E (enforced) is dropped
    expectVerdict('from', f(P.e1.v4, P.w1.v4, 8080), drop(Drop.ISOLATED));
    dp.putConfig({ flags: abi.VW_CFG_AUDIT }); // putConfig raises the epoch, as the agent does
    try {
      expectVerdict('from', f(P.e1.v4, P.w1.v4, 8080), audit(Drop.ISOLATED));
      expectVerdict('to', f(P.w1.v4, P.e1.v4, 8080), audit(Drop.ISOLATED));
      expectVerdict('from', f(P.e1.v4, P.vipW.v4, 80), audit(Drop.SERVICE_DENIED));
      expectVerdict('from', f(P.e1.v4, P.outside.v4, 443), audit(Drop.EXTERNAL_DENIED));
      expectVerdict('from', f(P.d1.v4, P.w1.v4, 8080), drop(Drop.SPOOFED));
    } finally {
      dp.putConfig({});
    }
    expectVerdict('from', f(P.e1.v4, P.w1.v4, 8080), drop(Drop.ISOLATED));
  });
});
