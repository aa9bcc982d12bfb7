// Layer 2 in the datapath (issue 11 point 6; design section 3, fail closed),
// on the real kernel with BPF_PROG_TEST_RUN: from a bridge port (an entry in
// the ports map) only the pod's own source MAC and ARP sender, neighbour
// discovery only about the pod's own addresses (its link-local one being the
// EUI-64 address of its MAC) with its own MAC in the link-layer options, no
// router advertisements or redirects; from an interface without a ports
// entry (ptp) the checks that need no MAC; towards a pod, router
// advertisements and redirects only from the node (no ingress interface).
// Every run is checked by its tc action and the one counter slot it moved.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as abi from '../src/kernel/abi.js';
import { SKB_INGRESS_IFINDEX_OFF } from '../src/kernel/skb.js';
import { native, type NativeAddon } from '../src/kernel/native.js';
import * as pk from './helpers/packets.js';
import { CLUSTER_CIDRS, HERE, TestDatapath, flowTable, allow, drop, freshPinRoot, skbCtx, slotName, type Dir, type Party, type Want } from './helpers/datapath.js';

const { AllowRule: Rule, DropReason: Drop } = abi;

const VRF_A = 10;
const P = {
  a1: { v4: '10.244.1.10', v6: 'fd00:10:244:1::10' }, // local, behind HERE
  a2: { v4: '10.244.1.20', v6: 'fd00:10:244:1::20' }, // another pod on the bridge
  w1: { v4: '10.244.1.30', v6: 'fd00:10:244:1::30' }, // local, another port
  node: { v4: '10.244.1.1', v6: 'fd00:10:244:1::1' },
} satisfies Record<string, Party>;

const POD_MAC = pk.POD_MAC; // 02:00:00:00:00:01, the Ethernet source pk.ethernet() uses
const OTHER_MAC = '02:00:00:00:00:02'; // the victim's
const POD_LL = 'fe80::ff:fe00:1'; // EUI-64 of POD_MAC
const OTHER_LL = 'fe80::ff:fe00:2';
const NODE_LL = 'fe80::1';
const ELSEWHERE = 999; // an interface only the maps mention
const BRIDGE_PORT = 7; // the ingress interface of a frame the bridge forwarded

let n: NativeAddon;
let dp: TestDatapath;

beforeAll(() => {
  n = native();
  dp = new TestDatapath(n, freshPinRoot('dp-l2-'));
  dp.putCidrs(CLUSTER_CIDRS);
  dp.putEndpoints([
    [P.a1, { vrfId: VRF_A, flags: abi.VW_EP_LOCAL, ifindex: HERE }],
    [P.a2, { vrfId: VRF_A, flags: abi.VW_EP_LOCAL, ifindex: ELSEWHERE }],
    [P.w1, { vrfId: VRF_A, flags: abi.VW_EP_LOCAL, ifindex: ELSEWHERE }],
    [P.node, { vrfId: 0, flags: abi.VW_EP_HOST, ifindex: 0 }],
  ]);
});

afterAll(() => dp?.close());

const portsFd = () => dp.mapFd(abi.MapName.ports);
const setPort = (mac: string) => {
  n.mapUpdate(portsFd(), abi.encodePortKey(HERE), abi.encodePort({ mac }));
  dp.retire();
};
const clearPort = () => {
  n.mapDelete(portsFd(), abi.encodePortKey(HERE));
  dp.retire();
};

/** Runs a frame with skb->ingress_ifindex set; expects the action and exactly one counter slot. */
function expectVerdict(dir: Dir, frame: Buffer, want: Want, ingressIfindex = 0): void {
  const ctx = skbCtx(HERE);
  ctx.writeUInt32LE(ingressIfindex, SKB_INGRESS_IFINDEX_OFF);
  let action = 0;
  const counted = dp.countedWhile(() => {
    action = n.progTestRun(dir === 'from' ? dp.fromPod : dp.toPod, frame, 1, ctx).retval;
  });
  const wanted = slotName(dir, want);
  expect(counted, `counted as ${wanted}`).toEqual({ [wanted]: { packets: 1n, bytes: BigInt(frame.length) } });
  expect(action).toBe('allow' in want ? abi.TcAction.ALLOW : abi.TcAction.DROP);
}

/** Ethernet (source ethSrc) + IPv6 (hop limit 255) + extension headers + an ICMPv6 message. */
function ndFrame(src: string, dst: string, msg: Buffer, ethSrc = POD_MAC, exts: pk.ExtHeader[] = []): Buffer {
  const c = pk.chain(exts, pk.IpProto.ICMPV6, msg);
  return pk.ethernet({ type: pk.EthType.IPV6, src: ethSrc }, pk.ipv6({ src, dst, nextHeader: c.nextHeader, hopLimit: 255 }, c.payload));
}
/** An MLD message as Linux sends it: hop limit 1, Hop-by-Hop header first. */
const mldFrame = (src: string, dst: string, msg: Buffer, ethSrc = POD_MAC): Buffer => {
  const c = pk.chain([pk.ext.hopByHop()], pk.IpProto.ICMPV6, msg);
  return pk.ethernet({ type: pk.EthType.IPV6, src: ethSrc }, pk.ipv6({ src, dst, nextHeader: c.nextHeader, hopLimit: 1 }, c.payload));
};
const MLD_QUERY = pk.icmpv6(130, Buffer.alloc(20)); // general query: max delay, reserved, group ::
const MLD_DONE = pk.icmpv6(132, Buffer.alloc(20));
const MLD2_REPORT = pk.icmpv6(143, Buffer.alloc(4)); // no records
const arpFrame = (a: pk.ArpOptions, ethSrc = POD_MAC) => pk.ethernet({ type: pk.EthType.ARP, src: ethSrc }, pk.arp(a));
const tcpFrame = (ethSrc: string, src = P.a1.v4, dst = P.a2.v4) =>
  pk.ethernet({ type: pk.EthType.IPV4, src: ethSrc }, pk.ipFrame(src, dst).subarray(14));
const { sourceLladdr: slla, targetLladdr: tlla } = pk.ndOpt;

describe('from a bridge port (ports entry: the pod’s MAC)', () => {
  beforeAll(() => setPort(POD_MAC));

  it('the ports map holds what the agent wrote', () => {
    expect(abi.decodePort(n.mapLookup(portsFd(), abi.encodePortKey(HERE)) as Buffer)).toEqual({ mac: POD_MAC });
  });

  it('SPOOFED: any Ethernet source but the pod’s MAC, whatever the frame carries', () => {
    expectVerdict('from', tcpFrame(POD_MAC), allow(Rule.SAME_NETWORK)); // control
    for (const mac of [OTHER_MAC, '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '03:00:00:00:00:01']) {
      expectVerdict('from', tcpFrame(mac), drop(Drop.SPOOFED));
      expectVerdict('from', arpFrame({ senderIp: P.a1.v4, targetIp: P.node.v4 }, mac), drop(Drop.SPOOFED));
      expectVerdict('from', ndFrame(POD_LL, pk.solicitedNode(NODE_LL), pk.nd.neighborSolicit(NODE_LL, [slla(POD_MAC)]), mac), drop(Drop.SPOOFED));
    }
    expectVerdict('from', pk.ethernet({ type: pk.EthType.LLDP, src: OTHER_MAC }, Buffer.alloc(46)), drop(Drop.SPOOFED));
    expectVerdict('from', pk.ethernet({ type: pk.EthType.LLDP }, Buffer.alloc(46)), drop(Drop.L2_DENIED));
  });

  it('SPOOFED: ARP whose sender hardware address is not the pod’s MAC; the pod’s own ARP passes', () => {
    expectVerdict('from', arpFrame({ senderIp: P.a1.v4, targetIp: P.node.v4 }), allow(Rule.NOT_POD));
    expectVerdict('from', arpFrame({ senderIp: '0.0.0.0', targetIp: P.a1.v4 }), allow(Rule.NOT_POD)); // probe
    expectVerdict('from', arpFrame({ op: 2, senderIp: P.a1.v4, targetIp: P.node.v4, targetMac: OTHER_MAC }), allow(Rule.NOT_POD));
    for (const a of [
      { senderIp: P.a1.v4, targetIp: P.node.v4, senderMac: OTHER_MAC },
      { op: 2, senderIp: P.a1.v4, targetIp: P.a1.v4, senderMac: OTHER_MAC }, // gratuitous
      { senderIp: '0.0.0.0', targetIp: P.a1.v4, senderMac: OTHER_MAC },
      { op: 2, senderIp: P.node.v4, targetIp: P.node.v4 }, // the node's address, own MAC
      { op: 2, senderIp: P.a2.v4, targetIp: P.a2.v4 }, // another pod's
    ]) {
      expectVerdict('from', arpFrame(a), drop(Drop.SPOOFED));
    }
  });

  it('neighbour solicitations from its own addresses, with its own MAC, pass', () => {
    const toNode = pk.solicitedNode(NODE_LL);
    expectVerdict('from', ndFrame(POD_LL, toNode, pk.nd.neighborSolicit(NODE_LL, [slla(POD_MAC)])), allow(Rule.NOT_POD));
    expectVerdict('from', ndFrame(POD_LL, toNode, pk.nd.neighborSolicit(NODE_LL)), allow(Rule.NOT_POD)); // no option
    expectVerdict('from', ndFrame(POD_LL, NODE_LL, pk.nd.neighborSolicit(NODE_LL, [slla(POD_MAC)])), allow(Rule.NOT_POD)); // NUD
    // another pod's global address, bridged (from the pod's global address)
    expectVerdict('from', ndFrame(P.a1.v6, pk.solicitedNode(P.a2.v6), pk.nd.neighborSolicit(P.a2.v6, [slla(POD_MAC)])), allow(Rule.NOT_POD));
    // duplicate address detection of its own addresses, with the nonce Linux adds
    for (const own of [P.a1.v6, POD_LL]) {
      expectVerdict('from', ndFrame('::', pk.solicitedNode(own), pk.nd.neighborSolicit(own, [pk.ndOpt.nonce()])), allow(Rule.NOT_POD));
    }
  });

  it('ND_DENIED: solicitations from a link-local address not its own, or with another MAC; DAD for others’ addresses', () => {
    const toNode = pk.solicitedNode(NODE_LL);
    for (const src of [NODE_LL, OTHER_LL, 'fe80::a1', 'febf::ff:fe00:1' /* fe80::/10, not /64 */]) {
      expectVerdict('from', ndFrame(src, toNode, pk.nd.neighborSolicit(NODE_LL, [slla(POD_MAC)])), drop(Drop.ND_DENIED));
    }
    expectVerdict('from', ndFrame(POD_LL, toNode, pk.nd.neighborSolicit(NODE_LL, [slla(OTHER_MAC)])), drop(Drop.ND_DENIED));
    expectVerdict('from', ndFrame(POD_LL, toNode, pk.nd.neighborSolicit(NODE_LL, [pk.ndOpt.nonce(), slla(OTHER_MAC)])), drop(Drop.ND_DENIED));
    expectVerdict('from', ndFrame(P.a1.v6, pk.solicitedNode(P.a2.v6), pk.nd.neighborSolicit(P.a2.v6, [slla(OTHER_MAC)])), drop(Drop.ND_DENIED));
    for (const other of [P.a2.v6, P.w1.v6, NODE_LL, OTHER_LL, P.node.v6]) {
      expectVerdict('from', ndFrame('::', pk.solicitedNode(other), pk.nd.neighborSolicit(other)), drop(Drop.ND_DENIED));
    }
    // a global source not its own is what it always was
    expectVerdict('from', ndFrame(P.a2.v6, toNode, pk.nd.neighborSolicit(NODE_LL, [slla(POD_MAC)])), drop(Drop.SPOOFED));
  });

  it('advertisements about its own addresses, with its own MAC, pass', () => {
    expectVerdict('from', ndFrame(POD_LL, NODE_LL, pk.nd.neighborAdvert(POD_LL, [tlla(POD_MAC)])), allow(Rule.NOT_POD));
    expectVerdict('from', ndFrame(P.a1.v6, NODE_LL, pk.nd.neighborAdvert(P.a1.v6, [tlla(POD_MAC)])), allow(Rule.NOT_POD));
    expectVerdict('from', ndFrame(P.a1.v6, 'ff02::1', pk.nd.neighborAdvert(P.a1.v6, [tlla(POD_MAC)])), allow(Rule.NOT_POD)); // unsolicited
    expectVerdict('from', ndFrame(POD_LL, NODE_LL, pk.nd.neighborAdvert(P.a1.v6)), allow(Rule.NOT_POD));
  });

  it('ND_DENIED: advertisements about the node’s or another pod’s address, with another MAC, or from ::', () => {
    const lie = (src: string, target: string, mac = POD_MAC) => ndFrame(src, 'ff02::1', pk.nd.neighborAdvert(target, [tlla(mac)]));
    expectVerdict('from', lie(NODE_LL, NODE_LL), drop(Drop.ND_DENIED)); // "I am the node" (issue 11 point 6)
    for (const target of [NODE_LL, OTHER_LL, P.a2.v6, P.w1.v6, P.node.v6, '2001:db8::1', 'ff02::1', '::']) {
      expectVerdict('from', lie(POD_LL, target), drop(Drop.ND_DENIED));
      expectVerdict('from', lie(P.a1.v6, target), drop(Drop.ND_DENIED));
    }
    expectVerdict('from', lie(POD_LL, POD_LL, OTHER_MAC), drop(Drop.ND_DENIED));
    expectVerdict('from', lie(P.a1.v6, P.a1.v6, OTHER_MAC), drop(Drop.ND_DENIED));
    expectVerdict('from', ndFrame(POD_LL, 'ff02::1', pk.nd.neighborAdvert(P.a1.v6, [slla(OTHER_MAC)])), drop(Drop.ND_DENIED)); // either option kind
    expectVerdict('from', lie('::', P.a1.v6), drop(Drop.ND_DENIED));
    expectVerdict('from', lie(P.a2.v6, P.a1.v6), drop(Drop.SPOOFED)); // another's global source
  });

  it('router solicitations pass; router advertisements and redirects never', () => {
    expectVerdict('from', ndFrame(POD_LL, 'ff02::2', pk.nd.routerSolicit([slla(POD_MAC)])), allow(Rule.NOT_POD));
    expectVerdict('from', ndFrame('::', 'ff02::2', pk.nd.routerSolicit()), allow(Rule.NOT_POD));
    expectVerdict('from', ndFrame(POD_LL, 'ff02::2', pk.nd.routerSolicit([slla(OTHER_MAC)])), drop(Drop.ND_DENIED));
    expectVerdict('from', ndFrame(NODE_LL, 'ff02::2', pk.nd.routerSolicit()), drop(Drop.ND_DENIED));
    for (const src of [POD_LL, NODE_LL, P.a1.v6]) {
      expectVerdict('from', ndFrame(src, 'ff02::1', pk.nd.routerAdvert([slla(POD_MAC)])), drop(Drop.ND_DENIED));
      expectVerdict('from', ndFrame(src, P.a2.v6, pk.nd.redirect(P.a1.v6, P.node.v6)), drop(Drop.ND_DENIED));
    }
  });

  it('ND_DENIED: MLD from a link-local source not its own, and MLD queries (only the node queries); its own reports pass', () => {
    // The bridge floods MLD to every port and to_pod lets MLD in as link
    // traffic: a pod spoke for the node (or a neighbour) to pods of every
    // network, and as querier steered the bridge's multicast snooping.
    expectVerdict('from', mldFrame(POD_LL, 'ff02::16', MLD2_REPORT), allow(Rule.NOT_POD)); // control
    expectVerdict('from', mldFrame('::', 'ff02::16', MLD2_REPORT), allow(Rule.NOT_POD)); // during DAD (RFC 3810 5.2.13)
    expectVerdict('from', mldFrame(POD_LL, 'ff02::2', MLD_DONE), allow(Rule.NOT_POD));
    for (const src of [NODE_LL, OTHER_LL]) {
      expectVerdict('from', mldFrame(src, 'ff02::16', MLD2_REPORT), drop(Drop.ND_DENIED));
      expectVerdict('from', mldFrame(src, 'ff02::2', MLD_DONE), drop(Drop.ND_DENIED));
    }
    for (const src of [POD_LL, NODE_LL, 'fe80::']) {
      expectVerdict('from', mldFrame(src, 'ff02::1', MLD_QUERY), drop(Drop.ND_DENIED));
    }
  });

  it('options that do not add up are MALFORMED; too many to walk or a non-Ethernet lladdr are ND_DENIED', () => {
    const ns = (opts: Buffer[]) => ndFrame(POD_LL, pk.solicitedNode(NODE_LL), pk.nd.neighborSolicit(NODE_LL, opts));
    expectVerdict('from', ns([pk.ndOpt.raw(14, 0)]), drop(Drop.MALFORMED)); // zero length
    expectVerdict('from', ns([pk.ndOpt.raw(14, 2)]), drop(Drop.MALFORMED)); // runs past the end
    expectVerdict('from', ns([Buffer.from([14, 1, 0, 0])]), drop(Drop.MALFORMED)); // half an option
    expectVerdict('from', ns([pk.ndOpt.lladdr(1, POD_MAC, 2)]), drop(Drop.ND_DENIED)); // 16-octet lladdr
    const eight = Array.from({ length: 8 }, () => pk.ndOpt.nonce());
    expectVerdict('from', ns(eight), allow(Rule.NOT_POD));
    expectVerdict('from', ns([...eight, slla(OTHER_MAC)]), drop(Drop.ND_DENIED)); // a 9th is not walked
    // the target address cut off
    const cut = pk.icmpv6(pk.Icmp6Type.NEIGHBOR_ADVERT, Buffer.alloc(12));
    expectVerdict('from', ndFrame(POD_LL, NODE_LL, cut), drop(Drop.MALFORMED));
    // after extension headers, the same checks
    const nh = [pk.ext.hopByHop()];
    expectVerdict('from', ndFrame(POD_LL, 'ff02::1', pk.nd.neighborAdvert(NODE_LL, [tlla(POD_MAC)]), POD_MAC, nh), drop(Drop.ND_DENIED));
    expectVerdict('from', ndFrame(POD_LL, NODE_LL, pk.nd.neighborAdvert(POD_LL, [tlla(POD_MAC)]), POD_MAC, nh), allow(Rule.NOT_POD));
    // fragmented ND, whatever its source
    const frag = [pk.ext.fragment(0, true)];
    expectVerdict('from', ndFrame(P.a1.v6, 'ff02::1', pk.nd.neighborAdvert(P.a1.v6), POD_MAC, frag), drop(Drop.FRAGMENT));
  });

  it('a port whose MAC the agent could not tell (all zero) passes nothing', () => {
    setPort(abi.VW_NO_MAC);
    try {
      for (const mac of [POD_MAC, '00:00:00:00:00:00']) {
        expectVerdict('from', tcpFrame(mac), drop(Drop.SPOOFED));
        expectVerdict('from', arpFrame({ senderIp: P.a1.v4, targetIp: P.node.v4, senderMac: mac }, mac), drop(Drop.SPOOFED));
      }
    } finally {
      setPort(POD_MAC);
    }
  });
});

/** The flow keys in the flows map (what the agent would report). */
const flowKeys = (): abi.FlowKey[] => {
  return flowTable(n, dp.mapFd(abi.FlowMapName.flows)).map((e) => e.key);
};
const setA1Flags = (flags: number) => dp.putEndpoints([[P.a1, { vrfId: VRF_A, flags, ifindex: HERE }]]);

// VW_EP_PTP lets from_pod skip the ports lookup. It is only ever a promise
// that there is no entry: without it (every endpoint the suites above use)
// the program looks, so a bridge port whose flag is missing keeps its checks.
describe('VW_EP_PTP: the ports lookup is skipped only on the source endpoint’s word, on its own interface', () => {
  beforeAll(() => setPort(POD_MAC));
  afterAll(() => dp.putEndpoints([[P.w1, { vrfId: VRF_A, flags: abi.VW_EP_LOCAL, ifindex: ELSEWHERE }]]));

  it('a bridge port whose endpoint lacks the flag keeps the MAC check (fail closed)', () => {
    expectVerdict('from', tcpFrame(POD_MAC), allow(Rule.SAME_NETWORK)); // control
    expectVerdict('from', tcpFrame(OTHER_MAC), drop(Drop.SPOOFED));
    expectVerdict('from', pk.ethernet({ type: pk.EthType.IPV6, src: OTHER_MAC }, pk.ipFrame(P.a1.v6, P.a2.v6).subarray(14)), drop(Drop.SPOOFED));
  });

  it('the flag on another interface’s endpoint skips nothing: a forged MAC is caught before the source is looked at', () => {
    dp.putEndpoints([[P.w1, { vrfId: VRF_A, flags: abi.VW_EP_LOCAL | abi.VW_EP_PTP, ifindex: ELSEWHERE }]]);
    const sport = 41_001;
    const frame = (mac: string) =>
      pk.ethernet({ type: pk.EthType.IPV4, src: mac }, pk.ipv4({ src: P.w1.v4, dst: P.a2.v4, protocol: pk.IpProto.UDP }, pk.udp({ sport, dport: 53 })));
    const ofW1 = () => flowKeys().filter((k) => k.selfAddr === P.w1.v4 && k.selfPort === sport);
    // A frame the MAC check drops is recorded as it was then: no addresses, no ports.
    const early = abi.encodeFlowKey({ selfAddr: '::', peerAddr: '::', ifindex: HERE, selfPort: 0, peerPort: 0, ethertype: pk.EthType.IPV4, proto: 0 });
    const earlyDrops = () => {
      const v = flowTable(n, dp.mapFd(abi.FlowMapName.flows)).find((e) => e.keyBytes.equals(early));
      return v ? v.value.drops[abi.Direction.FROM_POD] : 0n;
    };
    // control: with the pod's MAC it gets as far as the source check, and its flow has the addresses
    expectVerdict('from', frame(POD_MAC), drop(Drop.SPOOFED));
    expect(ofW1()).toHaveLength(1);
    // with the victim's MAC the MAC check decides, before the IP header is looked at
    const before = earlyDrops();
    expectVerdict('from', frame(OTHER_MAC), drop(Drop.SPOOFED));
    expect(earlyDrops()).toBe(before + 1n);
    expect(ofW1()).toHaveLength(1);
  });
});

describe.each([
  ['', abi.VW_EP_LOCAL],
  [', its endpoints flagged VW_EP_PTP (the ports lookup skipped): the same verdicts', abi.VW_EP_LOCAL | abi.VW_EP_PTP],
])('from an interface without a ports entry (ptp: only the node is on the link)%s', (_label, flags) => {
  beforeAll(() => {
    clearPort();
    setA1Flags(flags);
  });
  afterAll(() => {
    setA1Flags(abi.VW_EP_LOCAL);
    setPort(POD_MAC);
  });

  it('no MAC checks: any source MAC, ARP sender and lladdr option', () => {
    expectVerdict('from', tcpFrame(OTHER_MAC), allow(Rule.SAME_NETWORK));
    expectVerdict('from', arpFrame({ senderIp: P.a1.v4, targetIp: P.node.v4, senderMac: OTHER_MAC }), allow(Rule.NOT_POD));
    expectVerdict('from', ndFrame('fe80::a1', pk.solicitedNode(NODE_LL), pk.nd.neighborSolicit(NODE_LL, [slla(OTHER_MAC)])), allow(Rule.NOT_POD));
    expectVerdict('from', ndFrame('fe80::a1', NODE_LL, pk.nd.neighborAdvert('fe80::a1', [tlla(OTHER_MAC)])), allow(Rule.NOT_POD));
  });

  it('still: advertisements only about its own global addresses, router advertisements and redirects never', () => {
    expectVerdict('from', ndFrame(P.a1.v6, NODE_LL, pk.nd.neighborAdvert(P.a1.v6)), allow(Rule.NOT_POD));
    for (const target of [P.a2.v6, P.w1.v6, P.node.v6]) {
      expectVerdict('from', ndFrame('fe80::a1', 'ff02::1', pk.nd.neighborAdvert(target)), drop(Drop.ND_DENIED));
    }
    expectVerdict('from', ndFrame('::', pk.solicitedNode(P.a2.v6), pk.nd.neighborSolicit(P.a2.v6)), drop(Drop.ND_DENIED));
    expectVerdict('from', ndFrame('fe80::a1', 'ff02::1', pk.nd.routerAdvert()), drop(Drop.ND_DENIED));
    expectVerdict('from', ndFrame('fe80::a1', 'fe80::2', pk.nd.redirect(P.a1.v6, P.node.v6)), drop(Drop.ND_DENIED));
  });
});

describe('towards a pod', () => {
  const ra = () => ndFrame(NODE_LL, 'ff02::1', pk.nd.routerAdvert([slla(pk.NODE_MAC)]), pk.NODE_MAC);
  const redirect = () => ndFrame(NODE_LL, POD_LL, pk.nd.redirect(NODE_LL, P.node.v6), pk.NODE_MAC);

  it('router advertisements and redirects from the node pass', () => {
    expectVerdict('to', ra(), allow(Rule.NOT_POD));
    expectVerdict('to', redirect(), allow(Rule.NOT_POD));
  });

  it('ND_DENIED: router advertisements and redirects the bridge forwarded from another port', () => {
    expectVerdict('to', ra(), drop(Drop.ND_DENIED), BRIDGE_PORT);
    expectVerdict('to', redirect(), drop(Drop.ND_DENIED), BRIDGE_PORT);
    expectVerdict('to', ndFrame(POD_LL, 'ff02::1', pk.nd.routerAdvert(), OTHER_MAC), drop(Drop.ND_DENIED), BRIDGE_PORT);
  });

  it('MLD queries only from the node; reports the bridge forwarded still pass', () => {
    expectVerdict('to', mldFrame(NODE_LL, 'ff02::1', MLD_QUERY, pk.NODE_MAC), allow(Rule.NOT_POD));
    expectVerdict('to', mldFrame(OTHER_LL, 'ff02::16', MLD2_REPORT, OTHER_MAC), allow(Rule.NOT_POD), BRIDGE_PORT);
    expectVerdict('to', mldFrame(NODE_LL, 'ff02::1', MLD_QUERY, OTHER_MAC), drop(Drop.ND_DENIED), BRIDGE_PORT);
  });

  it('other ND from another port is judged as before (the sender’s from_pod checked it)', () => {
    expectVerdict('to', ndFrame(OTHER_LL, pk.solicitedNode(POD_LL), pk.nd.neighborSolicit(POD_LL), OTHER_MAC), allow(Rule.NOT_POD), BRIDGE_PORT);
    expectVerdict('to', ndFrame(OTHER_LL, POD_LL, pk.nd.neighborAdvert(OTHER_LL), OTHER_MAC), allow(Rule.NOT_POD), BRIDGE_PORT);
  });
});
