// The datapath on the real kernel: both programs loaded through the addon
// with one pin root (so they share the maps), maps filled with the abi.ts
// encoders, crafted frames run with BPF_PROG_TEST_RUN, and every run checked
// twice: the tc action, and exactly one per-CPU counter slot
// (direction, verdict, rule or reason) grown by one packet of the frame's size.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as abi from '../src/kernel/abi.js';
import { native, type LoadedObject, type NativeAddon } from '../src/kernel/native.js';
import * as pk from './helpers/packets.js';
import { CLUSTER_CIDRS, HERE, TestDatapath, allow, drop, freshPinRoot, type Party } from './helpers/datapath.js';
import { ROOT } from './helpers/lab.js';

const { AllowRule: Rule, DropReason: Drop } = abi;

// "Another interface" is a number only the maps mention.
const ELSEWHERE = 999;

// ---- the cluster in the maps --------------------------------------------------

const VRF = { A: 10, B: 11, R: 12, DENY: 13 } as const; // A and R joined by a router

const P = {
  a1: { v4: '10.244.1.10', v6: 'fd00:10:244:1::10' }, // local, network A
  a2: { v4: '10.244.2.20', v6: 'fd00:10:244:2::20' }, // remote, network A
  b1: { v4: '10.244.2.30', v6: 'fd00:10:244:2::30' }, // remote, network B
  r1: { v4: '10.244.2.40', v6: 'fd00:10:244:2::40' }, // remote, network R
  q1: { v4: '10.244.1.50', v6: 'fd00:10:244:1::50' }, // local, quarantined (no network)
  q2: { v4: '10.244.2.60', v6: 'fd00:10:244:2::60' }, // remote, quarantined but vrf A
  d1: { v4: '10.244.1.70', v6: 'fd00:10:244:1::70' }, // local, network DENY (no outside)
  w1: { v4: '10.244.1.80', v6: 'fd00:10:244:1::80' }, // local in A, other interface
  node: { v4: '192.168.50.1', v6: 'fd00:50::1' }, // the node (host endpoint)
  hostPod: { v4: '192.168.50.2', v6: 'fd00:50::2' }, // a host-network pod
  unknown: { v4: '10.244.9.99', v6: 'fd00:10:244:9::99' }, // pod CIDR, not known
  service: { v4: '10.96.0.10', v6: 'fd00:10:96::a' }, // service CIDR
  outside: { v4: '8.8.8.8', v6: '2001:db8::8' },
} satisfies Record<string, Party>;

const { VW_EP_LOCAL: LOCAL, VW_EP_HOST: HOST, VW_EP_QUARANTINE: QUAR } = abi;
const ENDPOINTS: [Party, abi.EndpointValue][] = [
  [P.a1, { vrfId: VRF.A, flags: LOCAL, ifindex: HERE }],
  [P.a2, { vrfId: VRF.A, flags: 0, ifindex: 0 }],
  [P.b1, { vrfId: VRF.B, flags: 0, ifindex: 0 }],
  [P.r1, { vrfId: VRF.R, flags: 0, ifindex: 0 }],
  [P.q1, { vrfId: 0, flags: LOCAL | QUAR, ifindex: HERE }],
  [P.q2, { vrfId: VRF.A, flags: QUAR, ifindex: 0 }],
  [P.d1, { vrfId: VRF.DENY, flags: LOCAL, ifindex: HERE }],
  [P.w1, { vrfId: VRF.A, flags: LOCAL, ifindex: ELSEWHERE }],
  [P.node, { vrfId: 0, flags: HOST, ifindex: 0 }],
  [P.hostPod, { vrfId: 0, flags: HOST, ifindex: 0 }],
];

// ---- harness ----------------------------------------------------------------------

let n: NativeAddon;
let dp: TestDatapath;
const mapFd = (name: string): number => dp.mapFd(name);
const expectVerdict: TestDatapath['expectVerdict'] = (dir, frame, want) => dp.expectVerdict(dir, frame, want);

beforeAll(() => {
  n = native();
  dp = new TestDatapath(n, freshPinRoot('dp-test-'));
  dp.putEndpoints(ENDPOINTS);
  dp.putCidrs(CLUSTER_CIDRS);
  n.mapUpdate(
    mapFd(abi.MapName.networks),
    abi.encodeNetworkKey(VRF.DENY),
    abi.encodeNetwork({ flags: abi.VW_NET_EXTERNAL_DENY }),
  );
  n.mapUpdate(mapFd(abi.MapName.networks), abi.encodeNetworkKey(VRF.A), abi.encodeNetwork({ flags: 0 }));
  for (const [s, d] of [
    [VRF.A, VRF.R],
    [VRF.R, VRF.A],
  ] as const) {
    n.mapUpdate(mapFd(abi.MapName.vrfPairs), abi.encodeVrfPair({ srcVrf: s, dstVrf: d }), abi.encodeVrfPairValue());
  }
  dp.retire();
});

afterAll(() => dp?.close());

describe('loading', () => {
  it('both programs load and share every map through the pin root', () => {
    expect(dp.fromPod).toBeGreaterThan(0);
    expect(dp.toPod).toBeGreaterThan(0);
    for (const name of Object.values(abi.MapName)) {
      const a = n.mapInfo(dp.loaded[0].maps[name] ?? -1);
      const b = n.mapInfo(dp.loaded[1].maps[name] ?? -1);
      expect(a.id, name).toBe(b.id);
      expect(fs.existsSync(path.join(dp.pinRoot, name)), `${name} pinned`).toBe(true);
    }
    expect(n.mapInfo(mapFd(abi.MapName.counters)).maxEntries).toBe(abi.VW_COUNTERS_MAX);
  });
});

// ---- rules and reasons, both directions, both families ------------------------------

for (const fam of ['v4', 'v6'] as const) {
  const ip = (p: Party) => p[fam];
  const f = (src: Party, dst: Party, l4: pk.L4Kind = 'tcp') => pk.ipFrame(ip(src), ip(dst), l4);

  describe(`IPv${fam === 'v4' ? 4 : 6}: rules`, () => {
    it('rule 1, same network: allowed both ways, for TCP, UDP and ICMP', () => {
      for (const l4 of ['tcp', 'udp', 'icmp'] as const) {
        expectVerdict('from', f(P.a1, P.a2, l4), allow(Rule.SAME_NETWORK));
        expectVerdict('to', f(P.a2, P.a1, l4), allow(Rule.SAME_NETWORK));
      }
    });

    it('rule 2, networks joined by a router: allowed both ways', () => {
      expectVerdict('from', f(P.a1, P.r1), allow(Rule.ROUTER));
      expectVerdict('to', f(P.r1, P.a1), allow(Rule.ROUTER));
    });

    it('rule 6, the node and host-network pods: allowed both ways', () => {
      expectVerdict('from', f(P.a1, P.node), allow(Rule.NOT_POD));
      expectVerdict('to', f(P.node, P.a1), allow(Rule.NOT_POD));
      expectVerdict('from', f(P.a1, P.hostPod, 'udp'), allow(Rule.NOT_POD));
      expectVerdict('to', f(P.hostPod, P.a1, 'udp'), allow(Rule.NOT_POD));
    });

    it('rule 6, outside the cluster: allowed both ways', () => {
      expectVerdict('from', f(P.a1, P.outside), allow(Rule.NOT_POD));
      expectVerdict('to', f(P.outside, P.a1), allow(Rule.NOT_POD));
    });

    it('a quarantined pod still reaches its node (kubelet probes)', () => {
      expectVerdict('from', f(P.q1, P.node), allow(Rule.NOT_POD));
      expectVerdict('to', f(P.node, P.q1), allow(Rule.NOT_POD));
    });

    it('a network that denies outside addresses still reaches the node', () => {
      expectVerdict('from', f(P.d1, P.node), allow(Rule.NOT_POD));
      expectVerdict('to', f(P.node, P.d1), allow(Rule.NOT_POD));
    });
  });

  describe(`IPv${fam === 'v4' ? 4 : 6}: drop reasons`, () => {
    it('ISOLATED: networks no rule joins, both ways', () => {
      expectVerdict('from', f(P.a1, P.b1), drop(Drop.ISOLATED));
      expectVerdict('to', f(P.b1, P.a1), drop(Drop.ISOLATED));
      expectVerdict('from', f(P.a1, P.b1, 'icmp'), drop(Drop.ISOLATED));
    });

    it('QUARANTINED: the local pod is quarantined (to pods and outside)', () => {
      expectVerdict('from', f(P.q1, P.a2), drop(Drop.QUARANTINED));
      expectVerdict('to', f(P.a2, P.q1), drop(Drop.QUARANTINED));
      expectVerdict('from', f(P.q1, P.outside), drop(Drop.QUARANTINED));
      expectVerdict('to', f(P.outside, P.q1), drop(Drop.QUARANTINED));
    });

    it('QUARANTINED: the peer is quarantined, even with the same vrf id', () => {
      expectVerdict('from', f(P.a1, P.q2), drop(Drop.QUARANTINED));
      expectVerdict('to', f(P.q2, P.a1), drop(Drop.QUARANTINED));
    });

    it('UNKNOWN_ENDPOINT: unknown source inside the pod CIDR', () => {
      expectVerdict('from', f(P.unknown, P.a2), drop(Drop.UNKNOWN_ENDPOINT));
      expectVerdict('from', f(P.unknown, P.outside), drop(Drop.UNKNOWN_ENDPOINT));
    });

    it('UNKNOWN_ENDPOINT: peer in the pod CIDR that the agent does not know', () => {
      expectVerdict('from', f(P.a1, P.unknown), drop(Drop.UNKNOWN_ENDPOINT));
      expectVerdict('to', f(P.unknown, P.a1), drop(Drop.UNKNOWN_ENDPOINT));
    });

    it('an address in the service CIDR that is no Service: SERVICE_DENIED to it, NO_SESSION from it', () => {
      // (the Service rules themselves: test/datapath-services.test.ts)
      expectVerdict('from', f(P.a1, P.service, 'udp'), drop(Drop.SERVICE_DENIED));
      expectVerdict('to', f(P.service, P.a1, 'udp'), drop(Drop.NO_SESSION));
    });

    it('UNKNOWN_ENDPOINT: to-pod destination that is not a pod behind this interface', () => {
      expectVerdict('to', f(P.a2, P.unknown), drop(Drop.UNKNOWN_ENDPOINT));
      expectVerdict('to', f(P.a1, P.a2), drop(Drop.UNKNOWN_ENDPOINT)); // remote pod
      expectVerdict('to', f(P.a1, P.w1), drop(Drop.UNKNOWN_ENDPOINT)); // pod on another interface
      expectVerdict('to', f(P.a1, P.node), drop(Drop.UNKNOWN_ENDPOINT));
      expectVerdict('to', f(P.a1, P.outside), drop(Drop.UNKNOWN_ENDPOINT));
    });

    it('SPOOFED: another pod’s address, the node’s, a service or an outside address', () => {
      expectVerdict('from', f(P.a2, P.a1), drop(Drop.SPOOFED)); // remote pod, same network
      expectVerdict('from', f(P.w1, P.a2), drop(Drop.SPOOFED)); // local pod on another interface
      expectVerdict('from', f(P.node, P.a2), drop(Drop.SPOOFED));
      expectVerdict('from', f(P.service, P.a2), drop(Drop.SPOOFED));
      expectVerdict('from', f(P.outside, P.a2), drop(Drop.SPOOFED));
    });

    it('EXTERNAL_DENIED: the network may not reach outside addresses, both ways', () => {
      expectVerdict('from', f(P.d1, P.outside), drop(Drop.EXTERNAL_DENIED));
      expectVerdict('to', f(P.outside, P.d1), drop(Drop.EXTERNAL_DENIED));
    });
  });

  describe(`IPv${fam === 'v4' ? 4 : 6}: fragments decide like the whole packet`, () => {
    const fragment = (src: Party, dst: Party, first: boolean): Buffer => {
      const body = first ? pk.tcp() : Buffer.alloc(64, 0xab);
      if (fam === 'v4') {
        const hdr = { src: src.v4, dst: dst.v4, protocol: pk.IpProto.TCP, id: 7 };
        const opts = first ? { ...hdr, moreFragments: true } : { ...hdr, fragmentOffset: 185 };
        return pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4(opts, body));
      }
      const fh = first ? pk.ext.fragment(0, true) : pk.ext.fragment(185, false);
      return pk.ipv6Frame(src.v6, dst.v6, [fh], pk.IpProto.TCP, body);
    };

    for (const first of [true, false]) {
      const which = first ? 'first' : 'non-first';
      it(`${which} fragment of a denied pair is dropped, of an allowed pair passes`, () => {
        // A later fragment has no ports, so the Service rules (4, 5) cannot
        // judge it: FRAGMENT rather than ISOLATED, dropped either way.
        const denied = first ? Drop.ISOLATED : Drop.FRAGMENT;
        expectVerdict('from', fragment(P.a1, P.b1, first), drop(denied));
        expectVerdict('to', fragment(P.b1, P.a1, first), drop(denied));
        expectVerdict('from', fragment(P.a1, P.a2, first), allow(Rule.SAME_NETWORK));
        expectVerdict('to', fragment(P.a2, P.a1, first), allow(Rule.SAME_NETWORK));
      });
      it(`${which} fragment from a spoofed source is dropped`, () => {
        expectVerdict('from', fragment(P.a2, P.a1, first), drop(Drop.SPOOFED));
      });
    }

    it('a first fragment too short for its TCP header is MALFORMED', () => {
      const tiny = pk.tcp().subarray(0, 8);
      const frame =
        fam === 'v4'
          ? pk.ethernet(
              { type: pk.EthType.IPV4 },
              pk.ipv4({ src: P.a1.v4, dst: P.a2.v4, protocol: pk.IpProto.TCP, moreFragments: true }, tiny),
            )
          : pk.ipv6Frame(P.a1.v6, P.a2.v6, [pk.ext.fragment(0, true)], pk.IpProto.TCP, tiny);
      expectVerdict('from', frame, drop(Drop.MALFORMED));
      expectVerdict('to', frame, drop(Drop.MALFORMED));
    });
  });

  describe(`IPv${fam === 'v4' ? 4 : 6}: truncated and inconsistent headers are MALFORMED`, () => {
    const ethType = fam === 'v4' ? pk.EthType.IPV4 : pk.EthType.IPV6;
    // Frames shorter than an IP header: BPF_PROG_TEST_RUN refuses to build
    // them, so they are sent through a real veth below ("real veth traffic").

    it('an IP length longer than the packet', () => {
      const frame =
        fam === 'v4'
          ? pk.ethernet(
              { type: ethType },
              pk.ipv4({ src: P.a1.v4, dst: P.a2.v4, protocol: pk.IpProto.TCP, totalLength: 200 }, pk.tcp()),
            )
          : pk.ethernet(
              { type: ethType },
              pk.ipv6({ src: P.a1.v6, dst: P.a2.v6, nextHeader: pk.IpProto.TCP, payloadLength: 200 }, pk.tcp()),
            );
      expectVerdict('from', frame, drop(Drop.MALFORMED));
      expectVerdict('to', frame, drop(Drop.MALFORMED));
    });

    it('the wrong IP version behind the ethertype', () => {
      const frame =
        fam === 'v4'
          ? pk.ethernet({ type: ethType }, pk.ipv4({ src: P.a1.v4, dst: P.a2.v4, protocol: 6, version: 6 }, pk.tcp()))
          : pk.ethernet({ type: ethType }, pk.ipv6({ src: P.a1.v6, dst: P.a2.v6, nextHeader: 6, version: 4 }, pk.tcp()));
      expectVerdict('from', frame, drop(Drop.MALFORMED));
      expectVerdict('to', frame, drop(Drop.MALFORMED));
    });

    for (const [l4, keep] of [
      ['tcp', 12],
      ['udp', 4],
      ['icmp', 3],
    ] as const) {
      it(`an L4 header cut short (${l4}, ${keep} bytes)`, () => {
        const full = f(P.a1, P.a2, l4);
        const hdrLen = fam === 'v4' ? 20 : 40;
        const body = full.subarray(14 + hdrLen, 14 + hdrLen + keep);
        const frame =
          fam === 'v4'
            ? pk.ethernet({ type: ethType }, pk.ipv4({ src: P.a1.v4, dst: P.a2.v4, protocol: full[14 + 9]! }, body))
            : pk.ethernet({ type: ethType }, pk.ipv6({ src: P.a1.v6, dst: P.a2.v6, nextHeader: full[14 + 6]! }, body));
        expectVerdict('from', frame, drop(Drop.MALFORMED));
        expectVerdict('to', frame, drop(Drop.MALFORMED));
      });
    }

    it('a TCP data offset below 5 words', () => {
      const frame =
        fam === 'v4'
          ? pk.ethernet({ type: ethType }, pk.ipv4({ src: P.a1.v4, dst: P.a2.v4, protocol: 6 }, pk.tcp({ dataOffset: 4 })))
          : pk.ethernet({ type: ethType }, pk.ipv6({ src: P.a1.v6, dst: P.a2.v6, nextHeader: 6 }, pk.tcp({ dataOffset: 4 })));
      expectVerdict('from', frame, drop(Drop.MALFORMED));
    });

    it('Ethernet padding after a short packet is not malformed', () => {
      const padded = Buffer.concat([f(P.a1, P.a2, 'udp'), Buffer.alloc(32)]);
      expectVerdict('from', padded, allow(Rule.SAME_NETWORK));
    });
  });
}

// ---- IPv4 options and ARP --------------------------------------------------------

describe('IPv4 options', () => {
  const withOptions = (src: Party, dst: Party, options: Buffer, body: Buffer = pk.tcp()): Buffer =>
    pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src: src.v4, dst: dst.v4, protocol: pk.IpProto.TCP, options }, body));

  it('options do not change the decision: allowed pair passes, denied pair drops', () => {
    const opts = Buffer.concat([pk.ipv4Option.nop(), pk.ipv4Option.recordRoute(8), pk.ipv4Option.routerAlert()]);
    expectVerdict('from', withOptions(P.a1, P.a2, opts), allow(Rule.SAME_NETWORK));
    expectVerdict('from', withOptions(P.a1, P.b1, opts), drop(Drop.ISOLATED));
    expectVerdict('to', withOptions(P.b1, P.a1, opts), drop(Drop.ISOLATED));
  });

  it('the L4 header is found after the options (ihl), not at byte 20', () => {
    // 36 bytes of options then 8 bytes of "TCP": at byte 20 there would be
    // 44 bytes, but the real TCP header after the options is cut short.
    const opts = pk.ipv4Option.recordRoute(8);
    expect(opts.length).toBe(35);
    expectVerdict('from', withOptions(P.a1, P.a2, opts, pk.tcp().subarray(0, 8)), drop(Drop.MALFORMED));
    expectVerdict('from', withOptions(P.a1, P.a2, opts, pk.tcp()), allow(Rule.SAME_NETWORK));
  });

  it('SOURCE_ROUTE: loose and strict source route, also after other options, both ways', () => {
    const lsrr = pk.ipv4Option.lsrr(['10.244.2.30']);
    const ssrr = pk.ipv4Option.ssrr(['10.244.2.30', '10.244.2.31']);
    expectVerdict('from', withOptions(P.a1, P.a2, lsrr), drop(Drop.SOURCE_ROUTE));
    expectVerdict('from', withOptions(P.a1, P.a2, ssrr), drop(Drop.SOURCE_ROUTE));
    const later = Buffer.concat([pk.ipv4Option.nop(), pk.ipv4Option.routerAlert(), pk.ipv4Option.nop(), lsrr]);
    expectVerdict('from', withOptions(P.a1, P.a2, later), drop(Drop.SOURCE_ROUTE));
    expectVerdict('to', withOptions(P.a2, P.a1, ssrr), drop(Drop.SOURCE_ROUTE));
  });

  it('bytes after the end-of-options marker are padding, not options', () => {
    const opts = Buffer.concat([pk.ipv4Option.eol(), Buffer.from([131, 7, 4, 0])]);
    expectVerdict('from', withOptions(P.a1, P.a2, opts), allow(Rule.SAME_NETWORK));
  });

  it('options that do not add up are MALFORMED', () => {
    for (const bad of [
      pk.ipv4Option.raw(7, 1, Buffer.from([0, 0])), // length below 2
      pk.ipv4Option.raw(7, 40, Buffer.from([4, 0])), // runs past the header
      Buffer.from([1, 1, 1, 7]), // a length byte missing at the end
    ]) {
      expectVerdict('from', withOptions(P.a1, P.a2, bad), drop(Drop.MALFORMED));
    }
  });

  it('an ihl below 5 or past tot_len is MALFORMED', () => {
    const base = { src: P.a1.v4, dst: P.a2.v4, protocol: pk.IpProto.TCP };
    expectVerdict('from', pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ ...base, ihl: 4 }, pk.tcp())), drop(Drop.MALFORMED));
    const short = pk.ipv4({ ...base, ihl: 15, totalLength: 40 }, pk.tcp().subarray(0, 20));
    expectVerdict('from', pk.ethernet({ type: pk.EthType.IPV4 }, short), drop(Drop.MALFORMED));
  });
});

describe('ARP', () => {
  const arpFrame = (a: pk.ArpOptions) => pk.ethernet({ type: pk.EthType.ARP }, pk.arp(a));

  it('from the pod about its own address, or an address probe: allowed (rule 6)', () => {
    expectVerdict('from', arpFrame({ senderIp: P.a1.v4, targetIp: '10.244.1.1' }), allow(Rule.NOT_POD));
    expectVerdict('from', arpFrame({ senderIp: P.q1.v4, targetIp: '10.244.1.1', op: 2 }), allow(Rule.NOT_POD));
    expectVerdict('from', arpFrame({ senderIp: '0.0.0.0', targetIp: P.a1.v4 }), allow(Rule.NOT_POD));
  });

  it('SPOOFED: ARP claiming another pod’s, the node’s or any other address', () => {
    for (const ip of [P.a2.v4, P.w1.v4, P.node.v4, P.unknown.v4, P.outside.v4]) {
      expectVerdict('from', arpFrame({ senderIp: ip, targetIp: '10.244.1.1' }), drop(Drop.SPOOFED));
    }
  });

  it('MALFORMED: truncated, or not Ethernet/IPv4 ARP', () => {
    const whole = arpFrame({ senderIp: P.a1.v4, targetIp: '10.244.1.1' });
    expectVerdict('from', whole.subarray(0, 14 + 20), drop(Drop.MALFORMED));
    for (const lie of [{ hwType: 6 }, { protoType: pk.EthType.IPV6 }, { hwLen: 8 }, { protoLen: 16 }]) {
      expectVerdict('from', arpFrame({ senderIp: P.a1.v4, targetIp: '10.244.1.1', ...lie }), drop(Drop.MALFORMED));
    }
  });

  it('to the pod: ARP from the node passes', () => {
    const reply = arpFrame({ op: 2, senderIp: '10.244.1.1', targetIp: P.a1.v4 });
    expectVerdict('to', reply, allow(Rule.NOT_POD));
  });
});

// ---- layer 2 ---------------------------------------------------------------------

describe('layer 2', () => {
  const inner = () => pk.ipFrame(P.a1.v4, P.a2.v4).subarray(14);
  const inner6 = () => pk.ipFrame(P.a1.v6, P.a2.v6).subarray(14);

  it('L2_DENIED: 802.1Q and 802.1ad tagged frames, whatever they carry, both ways', () => {
    const q = pk.ethernet({ type: pk.EthType.IPV4, vlans: [{ vid: 100 }] }, inner());
    const q6 = pk.ethernet({ type: pk.EthType.IPV6, vlans: [{ vid: 100 }] }, inner6());
    const qinq = pk.ethernet(
      { type: pk.EthType.IPV4, vlans: [{ tpid: pk.EthType.QINQ, vid: 10 }, { vid: 100 }] },
      inner(),
    );
    const arpTagged = pk.ethernet(
      { type: pk.EthType.ARP, vlans: [{ vid: 100 }] },
      pk.arp({ senderIp: P.a1.v4, targetIp: '10.244.1.1' }),
    );
    for (const frame of [q, q6, qinq, arpTagged]) {
      expectVerdict('from', frame, drop(Drop.L2_DENIED));
      expectVerdict('to', frame, drop(Drop.L2_DENIED));
    }
    // a bare tag with nothing after it
    expectVerdict('from', pk.ethernet({ type: pk.EthType.VLAN }), drop(Drop.L2_DENIED));
  });

  it('L2_DENIED: ethertypes other than IPv4, IPv6 and ARP from a pod', () => {
    for (const type of [pk.EthType.LLDP, pk.EthType.MPLS, 0x88b5, 0x0060 /* 802.3 length */]) {
      expectVerdict('from', pk.ethernet({ type }, inner()), drop(Drop.L2_DENIED));
    }
  });

  it('to the pod, link frames from the node (non-IP) pass', () => {
    expectVerdict('to', pk.ethernet({ type: pk.EthType.LLDP }, Buffer.alloc(46)), allow(Rule.NOT_POD));
  });
});

// ---- IPv6 extension headers -----------------------------------------------------------

describe('IPv6 extension headers', () => {
  const frame = (src: Party, dst: Party, exts: pk.ExtHeader[], upper = pk.tcp(), proto: number = pk.IpProto.TCP) =>
    pk.ipv6Frame(src.v6, dst.v6, exts, proto, upper);
  const usual = () => [pk.ext.hopByHop(), pk.ext.destOpts(2), pk.ext.ah(), pk.ext.destOpts()];

  it('a chain of headers does not change the decision', () => {
    expectVerdict('from', frame(P.a1, P.a2, usual()), allow(Rule.SAME_NETWORK));
    expectVerdict('from', frame(P.a1, P.b1, usual()), drop(Drop.ISOLATED));
    expectVerdict('to', frame(P.b1, P.a1, usual()), drop(Drop.ISOLATED));
    const fragFirst = [pk.ext.hopByHop(), pk.ext.fragment(0, true), pk.ext.destOpts()];
    expectVerdict('from', frame(P.a1, P.b1, fragFirst), drop(Drop.ISOLATED));
  });

  it('8 extension headers are walked; a 9th is MALFORMED', () => {
    const eight = Array.from({ length: 8 }, () => pk.ext.destOpts());
    expectVerdict('from', frame(P.a1, P.a2, eight), allow(Rule.SAME_NETWORK));
    expectVerdict('from', frame(P.a1, P.a2, [...eight, pk.ext.destOpts()]), drop(Drop.MALFORMED));
    expectVerdict('to', frame(P.a2, P.a1, [...eight, pk.ext.destOpts()]), drop(Drop.MALFORMED));
  });

  it('a header running past the payload, or a chain cut off, is MALFORMED', () => {
    const whole = frame(P.a1, P.a2, [pk.ext.hopByHop(), pk.ext.destOpts(4)]);
    // cut inside the destination options header (payload length kept consistent)
    const cut = pk.ipv6Frame(P.a1.v6, P.a2.v6, [], pk.IpProto.HOPOPTS, whole.subarray(14 + 40, 14 + 40 + 8 + 12));
    expectVerdict('from', cut, drop(Drop.MALFORMED));
    // the chain ends where the upper-layer header should start
    const noUpper = pk.ipv6Frame(P.a1.v6, P.a2.v6, [pk.ext.hopByHop()], pk.IpProto.TCP, Buffer.alloc(0));
    expectVerdict('from', noUpper, drop(Drop.MALFORMED));
    // a next-header byte naming a header that is not there
    const dangling = pk.ipv6Frame(P.a1.v6, P.a2.v6, [pk.ext.hopByHop()], pk.IpProto.ROUTING, Buffer.alloc(0));
    expectVerdict('to', dangling, drop(Drop.MALFORMED));
  });

  it('SOURCE_ROUTE: a routing header with segments left, both ways; none left is fine', () => {
    expectVerdict('from', frame(P.a1, P.a2, [pk.ext.routing(1)]), drop(Drop.SOURCE_ROUTE));
    expectVerdict('from', frame(P.a1, P.a2, [pk.ext.hopByHop(), pk.ext.routing(2, ['fd00::1', 'fd00::2'], 0)]), drop(Drop.SOURCE_ROUTE));
    expectVerdict('to', frame(P.a2, P.a1, [pk.ext.routing(1)]), drop(Drop.SOURCE_ROUTE));
    expectVerdict('from', frame(P.a1, P.a2, [pk.ext.routing(0)]), allow(Rule.SAME_NETWORK));
  });

  it('upper layers we do not parse (ESP, no next header) get the L3 decision', () => {
    expectVerdict('from', frame(P.a1, P.a2, [], Buffer.alloc(16), pk.IpProto.ESP), allow(Rule.SAME_NETWORK));
    expectVerdict('from', frame(P.a1, P.b1, [pk.ext.destOpts()], Buffer.alloc(0), pk.IpProto.NONE), drop(Drop.ISOLATED));
  });
});

// ---- IPv6 neighbour discovery and link-local sources -----------------------------------

describe('IPv6 neighbour discovery with the node', () => {
  const POD_LL = 'fe80::a1';
  const NODE_LL = 'fe80::1';
  const ndFrame = (src: string, dst: string, msg: Buffer, hopLimit = 255, exts: pk.ExtHeader[] = []) =>
    pk.ipv6Frame(src, dst, exts, pk.IpProto.ICMPV6, msg, { hopLimit });

  it('ND between link-local/unspecified and link-local/multicast passes both ways (rule 6)', () => {
    expectVerdict('from', ndFrame(POD_LL, pk.solicitedNode(NODE_LL), pk.nd.neighborSolicit(NODE_LL)), allow(Rule.NOT_POD));
    expectVerdict('from', ndFrame(POD_LL, NODE_LL, pk.nd.neighborAdvert(POD_LL)), allow(Rule.NOT_POD));
    expectVerdict('from', ndFrame(POD_LL, 'ff02::2', pk.nd.routerSolicit()), allow(Rule.NOT_POD));
    expectVerdict('from', ndFrame('::', pk.solicitedNode(P.a1.v6), pk.nd.neighborSolicit(P.a1.v6)), allow(Rule.NOT_POD)); // DAD
    expectVerdict('to', ndFrame(NODE_LL, POD_LL, pk.nd.neighborAdvert(NODE_LL)), allow(Rule.NOT_POD));
    expectVerdict('to', ndFrame(NODE_LL, 'ff02::1', pk.nd.routerAdvert()), allow(Rule.NOT_POD));
    expectVerdict('to', ndFrame(NODE_LL, POD_LL, pk.nd.redirect(NODE_LL, P.a2.v6)), allow(Rule.NOT_POD));
  });

  it('ND from the pod’s own address to a link-scope address reaches only the node (rule 6)', () => {
    expectVerdict('from', ndFrame(P.a1.v6, pk.solicitedNode(NODE_LL), pk.nd.neighborSolicit(NODE_LL)), allow(Rule.NOT_POD));
    // even where outside addresses are denied, and for a quarantined pod
    expectVerdict('from', ndFrame(P.d1.v6, pk.solicitedNode(NODE_LL), pk.nd.neighborSolicit(NODE_LL)), allow(Rule.NOT_POD));
    expectVerdict('from', ndFrame(P.q1.v6, NODE_LL, pk.nd.neighborAdvert(P.q1.v6)), allow(Rule.NOT_POD));
    expectVerdict('to', ndFrame(NODE_LL, P.d1.v6, pk.nd.neighborAdvert(NODE_LL)), allow(Rule.NOT_POD));
    // but not from someone else's address
    expectVerdict('from', ndFrame(P.a2.v6, pk.solicitedNode(NODE_LL), pk.nd.neighborSolicit(NODE_LL)), drop(Drop.SPOOFED));
  });

  it('FRAGMENT: fragmented ND (first or later fragment) cannot use the exception', () => {
    const ns = pk.nd.neighborSolicit(NODE_LL);
    const dst = pk.solicitedNode(NODE_LL);
    expectVerdict('from', ndFrame(POD_LL, dst, ns, 255, [pk.ext.fragment(0, true)]), drop(Drop.FRAGMENT));
    expectVerdict('from', ndFrame(POD_LL, dst, Buffer.alloc(16), 255, [pk.ext.fragment(3, false)]), drop(Drop.FRAGMENT));
    expectVerdict('to', ndFrame(NODE_LL, POD_LL, pk.nd.neighborAdvert(NODE_LL), 255, [pk.ext.fragment(0, false)]), drop(Drop.FRAGMENT));
  });

  it('SPOOFED: link-local or unspecified sources outside ND', () => {
    const dst = pk.solicitedNode(NODE_LL);
    expectVerdict('from', ndFrame(POD_LL, dst, pk.nd.neighborSolicit(NODE_LL), 64), drop(Drop.SPOOFED)); // not on-link
    expectVerdict('from', ndFrame(POD_LL, NODE_LL, pk.icmpv6(pk.Icmp6Type.ECHO_REQUEST)), drop(Drop.SPOOFED));
    expectVerdict('from', ndFrame(POD_LL, P.a2.v6, pk.nd.neighborSolicit(P.a2.v6)), drop(Drop.SPOOFED)); // global dst
    expectVerdict('from', pk.ipFrame(POD_LL, P.a2.v6, 'tcp'), drop(Drop.SPOOFED));
    expectVerdict('from', pk.ipFrame('::', P.a2.v6, 'udp'), drop(Drop.SPOOFED));
    // a first fragment that is not ND is judged as usual, not as ND
    const echoFrag = ndFrame(POD_LL, NODE_LL, pk.icmpv6(pk.Icmp6Type.ECHO_REQUEST), 255, [pk.ext.fragment(0, true)]);
    expectVerdict('from', echoFrag, drop(Drop.SPOOFED));
  });

  it('MLD reports from link-local to a multicast group with hop limit 1 pass (rule 6); other shapes do not', () => {
    const mld2Report = Buffer.from([143, 0, 0, 0, 0, 0, 0, 0]); // type, code, csum, reserved, no records
    expectVerdict('from', ndFrame(POD_LL, 'ff02::16', mld2Report, 1), allow(Rule.NOT_POD));
    expectVerdict('from', ndFrame('::', 'ff02::16', mld2Report, 1), allow(Rule.NOT_POD));
    expectVerdict('from', ndFrame(POD_LL, 'ff02::16', mld2Report, 64), drop(Drop.SPOOFED)); // not link-scope
    expectVerdict('from', ndFrame(POD_LL, NODE_LL, mld2Report, 1), drop(Drop.SPOOFED)); // unicast
    expectVerdict('from', ndFrame(POD_LL, 'ff02::16', mld2Report, 1, [pk.ext.fragment(0, false)]), drop(Drop.FRAGMENT));
  });

  it('to the pod: ND-looking packets that are not on-link get the normal check', () => {
    expectVerdict('to', ndFrame(NODE_LL, 'ff02::1', pk.nd.routerAdvert(), 64), drop(Drop.UNKNOWN_ENDPOINT));
  });
});

// ---- real traffic through a veth pair in our own netns ------------------------------------

describe('real veth traffic', () => {
  const ns = `vrfwall-dpt-${process.pid}`;
  const POD_IP = '10.244.1.90';
  const ipn = (...args: string[]) => execFileSync('ip', ['-n', ns, ...args], { stdio: 'pipe' });
  /** Send raw frames out of `dev` with an AF_PACKET socket. */
  const sendRaw = (dev: string, frames: Buffer[]) =>
    execFileSync(
      'ip',
      ['netns', 'exec', ns, 'python3', '-c', SEND_RAW, dev, ...frames.map((b) => b.toString('hex'))],
      { stdio: 'pipe' },
    );
  const links: number[] = [];
  let fixture: LoadedObject | undefined;
  let ifH0 = 0;
  let ifP0 = 0;

  const attach = (prog: number, ifindex: number, dir: 'ingress' | 'egress'): number => {
    const prev = n.enterNetns(`/run/netns/${ns}`);
    try {
      return n.tcxAttach(prog, ifindex, dir);
    } finally {
      n.restoreNetns(prev);
    }
  };

  beforeAll(() => {
    for (const line of execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n')) {
      const name = line.split(' ')[0] ?? '';
      if (name.startsWith('vrfwall-dpt-')) execFileSync('ip', ['netns', 'del', name]);
    }
    execFileSync('ip', ['netns', 'add', ns]);
    // no IPv6 on the new links: no ND/MLD chatter in the counters
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    ipn('link', 'add', 'h0', 'type', 'veth', 'peer', 'name', 'p0'); // h0: host side, p0: "pod"
    ipn('link', 'set', 'h0', 'up');
    ipn('link', 'set', 'p0', 'up');

    const prev = n.enterNetns(`/run/netns/${ns}`);
    try {
      ifH0 = n.ifNameToIndex('h0');
      ifP0 = n.ifNameToIndex('p0');
    } finally {
      n.restoreNetns(prev);
    }
    links.push(attach(dp.fromPod, ifH0, 'ingress'), attach(dp.toPod, ifH0, 'egress'));
    n.mapUpdate(
      mapFd(abi.MapName.endpoints),
      abi.encodeEndpointKey(POD_IP),
      abi.encodeEndpoint({ vrfId: VRF.A, flags: LOCAL, ifindex: ifH0 }),
    );
    dp.retire();
    fixture = n.loadObject(path.join(ROOT, 'build/fixtures/vlan_push.bpf.o'), { pinRoot: dp.pinRoot });
  });

  afterAll(() => {
    for (const l of links) n.closeFd(l);
    if (fixture) for (const fd of Object.values(fixture.programs)) n.closeFd(fd);
    execFileSync('ip', ['netns', 'del', ns]);
  });

  /** Counter slots that moved while fn ran, by how many packets. */
  const moved = (fn: () => void): Record<string, bigint> =>
    Object.fromEntries(Object.entries(dp.countedWhile(fn)).map(([name, c]) => [name, c.packets]));

  const podArp = () =>
    pk.ethernet({ type: pk.EthType.ARP, dst: 'ff:ff:ff:ff:ff:ff' }, pk.arp({ senderIp: POD_IP, targetIp: '10.244.1.1' }));

  it('the attached programs judge what the pod sends and receives', () => {
    expect(moved(() => sendRaw('p0', [podArp()]))).toEqual({ 'from_pod/allowed/NOT_POD': 1n });
    const fromNode = pk.ipFrame(P.node.v4, POD_IP, 'udp');
    const fromIsolated = pk.ipFrame(P.b1.v4, POD_IP, 'udp');
    expect(moved(() => sendRaw('h0', [fromNode, fromIsolated]))).toEqual({
      'to_pod/allowed/NOT_POD': 1n,
      'to_pod/dropped/ISOLATED': 1n,
    });
  });

  it('MALFORMED: frames that end inside the IP header, both ways', () => {
    const short = [
      pk.ethernet({ type: pk.EthType.IPV4 }),
      pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipFrame(POD_IP, P.a2.v4).subarray(14, 14 + 12)),
      pk.ethernet({ type: pk.EthType.IPV6 }),
      pk.ethernet({ type: pk.EthType.IPV6 }, pk.ipFrame(P.a1.v6, P.a2.v6).subarray(14, 14 + 30)),
    ];
    expect(moved(() => sendRaw('p0', short))).toEqual({ 'from_pod/dropped/MALFORMED': 4n });
    expect(moved(() => sendRaw('h0', short))).toEqual({ 'to_pod/dropped/MALFORMED': 4n });
  });

  it('L2_DENIED: a VLAN tag carried beside the frame (skb->vlan_present)', () => {
    const prog = fixture?.programs.vlan_push ?? -1;
    const tagger = attach(prog, ifP0, 'egress');
    try {
      // the same ARP that passes untagged
      expect(moved(() => sendRaw('p0', [podArp()]))).toEqual({ 'from_pod/dropped/L2_DENIED': 1n });
    } finally {
      n.closeFd(tagger);
    }
    expect(moved(() => sendRaw('p0', [podArp()]))).toEqual({ 'from_pod/allowed/NOT_POD': 1n });
  });
});

const SEND_RAW = `
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for h in sys.argv[2:]:
    try:
        s.send(bytes.fromhex(h))
    except OSError:
        pass  # ENOBUFS: dropped at tc egress, which is the point
`;
