// Services in the datapath (design section 3 rules 3, 4 and 5) on the real
// kernel: both programs loaded with one pin root, the services/backends maps
// filled with the abi.ts encoders, crafted frames run with BPF_PROG_TEST_RUN.
// Each run is checked by its tc action and by the one counter slot it moved;
// sessions are read back from the kernel's map.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as abi from '../src/kernel/abi.js';
import { native, type NativeAddon } from '../src/kernel/native.js';
import * as pk from './helpers/packets.js';
import { CLUSTER_CIDRS, HERE, TestDatapath, allow, drop, freshPinRoot, type Party } from './helpers/datapath.js';
import { ROOT } from './helpers/lab.js';
import { skbCtx, probeDecision } from './helpers/datapath.js';

const { AllowRule: Rule, DropReason: Drop } = abi;

// A: clients; B: the backends' network (a router lets A use B's Service);
// C: a network with no right to B's Service; S: the shared default network.
const VRF = { A: 10, B: 11, C: 12, S: 13 } as const;

const P = {
  a1: { v4: '10.244.1.10', v6: 'fd00:10:244:1::10' }, // local, A
  a2: { v4: '10.244.2.10', v6: 'fd00:10:244:2::10' }, // remote, A
  b1: { v4: '10.244.2.20', v6: 'fd00:10:244:2::20' }, // remote backend, B
  b2: { v4: '10.244.1.20', v6: 'fd00:10:244:1::20' }, // local backend, B
  c1: { v4: '10.244.1.30', v6: 'fd00:10:244:1::30' }, // local, C
  c2: { v4: '10.244.2.30', v6: 'fd00:10:244:2::30' }, // remote, C
  q1: { v4: '10.244.1.40', v6: 'fd00:10:244:1::40' }, // local, quarantined
  dns: { v4: '10.244.2.53', v6: 'fd00:10:244:2::53' }, // remote DNS backend, S
  node: { v4: '192.168.50.1', v6: 'fd00:50::1' },
  vipB: { v4: '10.96.0.20', v6: 'fd00:10:96::20' }, // B's Service: A and B may use it
  vipDns: { v4: '10.96.0.10', v6: 'fd00:10:96::a' }, // shared: every network
  vipSctp: { v4: '10.96.0.30', v6: 'fd00:10:96::30' }, // B's SCTP Service
  vipUnknown: { v4: '10.96.0.99', v6: 'fd00:10:96::99' }, // in the service CIDR, no Service
} satisfies Record<string, Party>;

const { VW_EP_LOCAL: LOCAL, VW_EP_HOST: HOST, VW_EP_QUARANTINE: QUAR } = abi;
const ENDPOINTS: [Party, abi.EndpointValue][] = [
  [P.a1, { vrfId: VRF.A, flags: LOCAL, ifindex: HERE }],
  [P.a2, { vrfId: VRF.A, flags: 0, ifindex: 0 }],
  [P.b1, { vrfId: VRF.B, flags: 0, ifindex: 0 }],
  [P.b2, { vrfId: VRF.B, flags: LOCAL, ifindex: HERE }],
  [P.c1, { vrfId: VRF.C, flags: LOCAL, ifindex: HERE }],
  [P.c2, { vrfId: VRF.C, flags: 0, ifindex: 0 }],
  [P.q1, { vrfId: 0, flags: LOCAL | QUAR, ifindex: HERE }],
  [P.dns, { vrfId: VRF.S, flags: 0, ifindex: 0 }],
  [P.node, { vrfId: 0, flags: HOST, ifindex: 0 }],
];
const { VW_SVC_ANY_VRF: ANY, VW_SVC_SHARED: SHARED, VW_SVC_ROUTER: ROUTER } = abi;
type Proto = abi.ServiceProtocol;
/** [address, port, protocol, client vrf, value] */
type SvcEntry = [Party, number, Proto, number, abi.SvcValue];
const SERVICES: SvcEntry[] = [
  [P.vipB, 80, 'TCP', VRF.B, { svcVrf: VRF.B, flags: 0 }],
  [P.vipB, 80, 'TCP', VRF.A, { svcVrf: VRF.B, flags: ROUTER }],
  [P.vipDns, 53, 'UDP', ANY, { svcVrf: VRF.S, flags: SHARED }],
  [P.vipDns, 53, 'TCP', ANY, { svcVrf: VRF.S, flags: SHARED }],
  [P.vipSctp, 9999, 'SCTP', VRF.A, { svcVrf: VRF.B, flags: ROUTER }],
];
const BACKENDS: SvcEntry[] = [
  [P.b1, 8080, 'TCP', VRF.B, { svcVrf: VRF.B, flags: 0 }],
  [P.b1, 8080, 'TCP', VRF.A, { svcVrf: VRF.B, flags: ROUTER }],
  [P.b2, 8080, 'TCP', VRF.A, { svcVrf: VRF.B, flags: ROUTER }],
  [P.dns, 5353, 'UDP', ANY, { svcVrf: VRF.S, flags: SHARED }],
];

// ---- harness ------------------------------------------------------------------

let n: NativeAddon;
let dp: TestDatapath;
const mapFd = (name: string): number => dp.mapFd(name);
const expectVerdict: TestDatapath['expectVerdict'] = (dir, frame, want) => dp.expectVerdict(dir, frame, want);

function session(k: abi.SessionKey): abi.SessionValue | undefined {
  const v = n.mapLookup(mapFd(abi.MapName.sessions), abi.encodeSessionKey(k));
  return v === null ? undefined : abi.decodeSession(v);
}

/** SCTP common header and a first chunk (INIT = 1 opens an association; DATA = 0 does not). */
function sctp(sport: number, dport: number, len = 16, chunk = 1): Buffer {
  const b = Buffer.alloc(len);
  b.writeUInt16BE(sport, 0);
  if (len >= 4) b.writeUInt16BE(dport, 2);
  if (len > 12) b[12] = chunk;
  return b;
}

beforeAll(() => {
  n = native();
  dp = new TestDatapath(n, freshPinRoot('dpsvc-test-'));
  dp.putEndpoints(ENDPOINTS);
  dp.putCidrs(CLUSTER_CIDRS);
  for (const [map, entries] of [
    [abi.MapName.services, SERVICES],
    [abi.MapName.backends, BACKENDS],
  ] as const) {
    for (const [party, port, protocol, clientVrf, value] of entries) {
      for (const addr of [party.v4, party.v6]) {
        n.mapUpdate(mapFd(map), abi.encodeSvcKey({ addr, port, protocol, clientVrf }), abi.encodeSvcValue(value));
      }
    }
  }
  dp.retire();
});

afterAll(() => dp?.close());

describe('maps', () => {
  it('services, backends, sessions, owners and config are shared by all three programs; sessions is a plain hash', () => {
    for (const name of [abi.MapName.services, abi.MapName.backends, abi.MapName.sessions, abi.MapName.sessionOwners, abi.MapName.config]) {
      const id = n.mapInfo(dp.loaded[0].maps[name] ?? -1).id;
      expect(n.mapInfo(dp.loaded[1].maps[name] ?? -1).id, name).toBe(id);
      expect(n.mapInfo(dp.loaded[2].maps[name] ?? -1).id, name).toBe(id);
    }
    const info = n.mapInfo(mapFd(abi.MapName.sessions));
    expect(info.maxEntries).toBe(abi.VW_SESSIONS_MAX);
    // BPF_MAP_TYPE_HASH, not an LRU: nobody's traffic evicts a live session
    expect(info.type).toBe(1);
    expect(info.flags & 1).toBe(1); // BPF_F_NO_PREALLOC: memory follows use
  });

  it('the loader can size the session table', () => {
    const root = `${dp.pinRoot}-sized`;
    fs.mkdirSync(root, { recursive: true });
    const obj = n.loadObject(path.join(ROOT, 'build/bpf/from_pod.o'), { pinRoot: root, maxEntries: { sessions: 1024 } });
    try {
      expect(n.mapInfo(obj.maps.sessions ?? -1).maxEntries).toBe(1024);
    } finally {
      for (const fd of [...Object.values(obj.programs), ...Object.values(obj.maps)]) n.closeFd(fd);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

for (const fam of ['v4', 'v6'] as const) {
  const ip = (p: Party): string => p[fam];
  const frame = (src: Party, dst: Party, proto: Proto | 'ICMP', sport: number, dport: number): Buffer => {
    if (proto === 'ICMP') return pk.ipFrame(ip(src), ip(dst), 'icmp');
    const [num, body] =
      proto === 'TCP'
        ? [pk.IpProto.TCP, pk.tcp({ sport, dport })]
        : proto === 'UDP'
          ? [pk.IpProto.UDP, pk.udp({ sport, dport })]
          : [abi.IpProto.SCTP, sctp(sport, dport)];
    return fam === 'v4'
      ? pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src: ip(src), dst: ip(dst), protocol: num }, body))
      : pk.ipv6Frame(ip(src), ip(dst), [], num, body);
  };
  // Each test uses its own client ports, so sessions of one never answer for another.
  let nextPort = fam === 'v4' ? 20000 : 30000;
  const port = (): number => nextPort++;

  describe(`IPv${fam === 'v4' ? 4 : 6}: rule 3, ClusterIPs`, () => {
    it('a network the Service allows opens a session at its from_pod; the un-DNATed reply is REPLY', () => {
      const cp = port();
      expect(session({ saddr: ip(P.a1), daddr: ip(P.vipB), sport: cp, dport: 80, protocol: 'TCP' })).toBeUndefined();
      expectVerdict('from', frame(P.a1, P.vipB, 'TCP', cp, 80), allow(Rule.SERVICE));
      const s = session({ saddr: ip(P.a1), daddr: ip(P.vipB), sport: cp, dport: 80, protocol: 'TCP' });
      expect(s).toMatchObject({ rule: Rule.SERVICE, flags: 0 });
      expectVerdict('to', frame(P.vipB, P.a1, 'TCP', 80, cp), allow(Rule.REPLY));
      // the reply refreshed the entry and marked it answered
      const again = session({ saddr: ip(P.a1), daddr: ip(P.vipB), sport: cp, dport: 80, protocol: 'TCP' });
      expect(again!.lastSeenNs).toBeGreaterThanOrEqual(s!.lastSeenNs);
      expect(again!.flags).toBe(abi.VW_SESS_REPLIED);
    });

    it('a shared Service (default network) is usable from every network', () => {
      for (const client of [P.a1, P.c1, P.b2]) {
        const cp = port();
        expectVerdict('from', frame(client, P.vipDns, 'UDP', cp, 53), allow(Rule.SERVICE));
        expectVerdict('to', frame(P.vipDns, client, 'UDP', 53, cp), allow(Rule.REPLY));
      }
      const cp = port();
      expectVerdict('from', frame(P.c1, P.vipDns, 'TCP', cp, 53), allow(Rule.SERVICE));
    });

    it('SERVICE_DENIED: a network the Service does not allow, and opens no session', () => {
      const cp = port();
      expectVerdict('from', frame(P.c1, P.vipB, 'TCP', cp, 80), drop(Drop.SERVICE_DENIED));
      expect(session({ saddr: ip(P.c1), daddr: ip(P.vipB), sport: cp, dport: 80, protocol: 'TCP' })).toBeUndefined();
      expectVerdict('to', frame(P.vipB, P.c1, 'TCP', 80, cp), drop(Drop.NO_SESSION));
    });

    it('SERVICE_DENIED: another port or protocol of the VIP, an unknown VIP, ICMP to a VIP', () => {
      expectVerdict('from', frame(P.a1, P.vipB, 'TCP', port(), 81), drop(Drop.SERVICE_DENIED));
      expectVerdict('from', frame(P.a1, P.vipB, 'UDP', port(), 80), drop(Drop.SERVICE_DENIED));
      expectVerdict('from', frame(P.a1, P.vipUnknown, 'TCP', port(), 80), drop(Drop.SERVICE_DENIED));
      expectVerdict('from', frame(P.a1, P.vipB, 'ICMP', 0, 0), drop(Drop.SERVICE_DENIED));
    });

    it('NO_SESSION: from a VIP without a connection (never opened, other port, ICMP)', () => {
      const cp = port();
      expectVerdict('to', frame(P.vipB, P.a1, 'TCP', 80, cp), drop(Drop.NO_SESSION));
      expectVerdict('from', frame(P.a1, P.vipB, 'TCP', cp, 80), allow(Rule.SERVICE));
      expectVerdict('to', frame(P.vipB, P.a1, 'TCP', 80, cp + 1000), drop(Drop.NO_SESSION));
      expectVerdict('to', frame(P.vipB, P.a1, 'TCP', 81, cp), drop(Drop.NO_SESSION));
      expectVerdict('to', frame(P.vipB, P.a1, 'UDP', 80, cp), drop(Drop.NO_SESSION));
      expectVerdict('to', frame(P.vipB, P.a1, 'ICMP', 0, 0), drop(Drop.NO_SESSION));
    });

    it('a session that is gone lets no reply through', () => {
      const cp = port();
      const key = { saddr: ip(P.a1), daddr: ip(P.vipB), sport: cp, dport: 80, protocol: 'TCP' } as const;
      expectVerdict('from', frame(P.a1, P.vipB, 'TCP', cp, 80), allow(Rule.SERVICE));
      expect(n.mapDelete(mapFd(abi.MapName.sessions), abi.encodeSessionKey(key))).toBe(true);
      expectVerdict('to', frame(P.vipB, P.a1, 'TCP', 80, cp), drop(Drop.NO_SESSION));
    });

    it('a quarantined pod reaches no Service, not even the shared DNS', () => {
      expectVerdict('from', frame(P.q1, P.vipDns, 'UDP', port(), 53), drop(Drop.QUARANTINED));
    });

    it('SCTP Services work like TCP and UDP; a cut-short SCTP header is MALFORMED', () => {
      const cp = port();
      expectVerdict('from', frame(P.a1, P.vipSctp, 'SCTP', cp, 9999), allow(Rule.SERVICE));
      expectVerdict('to', frame(P.vipSctp, P.a1, 'SCTP', 9999, cp), allow(Rule.REPLY));
      const short = sctp(cp, 9999, 8);
      const f =
        fam === 'v4'
          ? pk.ethernet(
              { type: pk.EthType.IPV4 },
              pk.ipv4({ src: ip(P.a1), dst: ip(P.vipSctp), protocol: abi.IpProto.SCTP }, short),
            )
          : pk.ipv6Frame(ip(P.a1), ip(P.vipSctp), [], abi.IpProto.SCTP, short);
      expectVerdict('from', f, drop(Drop.MALFORMED));
    });
  });

  describe(`IPv${fam === 'v4' ? 4 : 6}: rule 4, backends on their target ports`, () => {
    it('after DNAT: the backend’s to_pod allows the client’s network and opens a session; the backend’s reply passes', () => {
      const cp = port();
      expectVerdict('to', frame(P.a2, P.b2, 'TCP', cp, 8080), allow(Rule.SERVICE_BACKEND));
      expect(session({ saddr: ip(P.a2), daddr: ip(P.b2), sport: cp, dport: 8080, protocol: 'TCP' })).toMatchObject({
        rule: Rule.SERVICE_BACKEND,
      });
      expectVerdict('from', frame(P.b2, P.a2, 'TCP', 8080, cp), allow(Rule.REPLY));
    });

    it('a client that sends to the backend directly: its from_pod allows it, the reply passes its to_pod', () => {
      const cp = port();
      expectVerdict('from', frame(P.a1, P.b1, 'TCP', cp, 8080), allow(Rule.SERVICE_BACKEND));
      expectVerdict('to', frame(P.b1, P.a1, 'TCP', 8080, cp), allow(Rule.REPLY));
    });

    it('other ports and protocols of the backend stay closed, in both hooks', () => {
      expectVerdict('from', frame(P.a1, P.b1, 'TCP', port(), 22), drop(Drop.ISOLATED));
      expectVerdict('from', frame(P.a1, P.b1, 'UDP', port(), 8080), drop(Drop.ISOLATED));
      expectVerdict('from', frame(P.a1, P.b1, 'ICMP', 0, 0), drop(Drop.ISOLATED));
      expectVerdict('to', frame(P.a2, P.b2, 'TCP', port(), 22), drop(Drop.ISOLATED));
    });

    it('a network without the right to the Service cannot use the backend either', () => {
      expectVerdict('to', frame(P.c2, P.b2, 'TCP', port(), 8080), drop(Drop.ISOLATED));
      expectVerdict('from', frame(P.c1, P.b1, 'TCP', port(), 8080), drop(Drop.ISOLATED));
    });

    it('the backend cannot open a connection to the client, from any port', () => {
      const cp = port();
      expectVerdict('from', frame(P.b2, P.a2, 'TCP', 8080, cp), drop(Drop.ISOLATED)); // reply shape, no session
      expectVerdict('from', frame(P.b2, P.a2, 'TCP', port(), 8080), drop(Drop.ISOLATED));
      expectVerdict('to', frame(P.b1, P.a1, 'TCP', 8080, port()), drop(Drop.ISOLATED));
      // and a session of the client does not open other ports back
      expectVerdict('to', frame(P.a2, P.b2, 'TCP', cp, 8080), allow(Rule.SERVICE_BACKEND));
      expectVerdict('from', frame(P.b2, P.a2, 'TCP', 8081, cp), drop(Drop.ISOLATED));
      expectVerdict('from', frame(P.b2, P.a2, 'TCP', 8080, cp + 1), drop(Drop.ISOLATED));
    });

    it('a shared backend port (ANY entry) is open to every network', () => {
      const cp = port();
      expectVerdict('from', frame(P.c1, P.dns, 'UDP', cp, 5353), allow(Rule.SERVICE_BACKEND));
      expectVerdict('to', frame(P.dns, P.c1, 'UDP', 5353, cp), allow(Rule.REPLY));
    });

    it('VW_EP_NO_BACKEND skips the rule-4 lookup (receiver) and the rule-5 one (sender): wrongly set on a backend it only denies', () => {
      const epOf = (party: Party): abi.EndpointValue => ENDPOINTS.find(([p]) => p === party)![1];
      const flagged = (party: Party, fn: () => void): void => {
        dp.putEndpoints([[party, { ...epOf(party), flags: epOf(party).flags | abi.VW_EP_NO_BACKEND }]]);
        try {
          fn();
        } finally {
          dp.putEndpoints([[party, epOf(party)]]);
        }
      };
      const cp = port();
      expectVerdict('to', frame(P.a2, P.b2, 'TCP', cp, 8080), allow(Rule.SERVICE_BACKEND)); // control, unflagged
      flagged(P.b2, () => {
        // to_pod: the receiver is the local backend itself
        const cp2 = port();
        expectVerdict('to', frame(P.a2, P.b2, 'TCP', cp2, 8080), drop(Drop.ISOLATED));
        expect(session({ saddr: ip(P.a2), daddr: ip(P.b2), sport: cp2, dport: 8080, protocol: 'TCP' })).toBeUndefined();
        // and the open connection's reply: only a backend answers under rule 5 (what the sweep does to
        // the sessions of a backend that is gone)
        expectVerdict('from', frame(P.b2, P.a2, 'TCP', 8080, cp), drop(Drop.ISOLATED));
      });
      expectVerdict('from', frame(P.b2, P.a2, 'TCP', 8080, cp), allow(Rule.REPLY)); // its session is still there
      flagged(P.b1, () => {
        // from_pod: the receiver is the peer
        expectVerdict('from', frame(P.a1, P.b1, 'TCP', port(), 8080), drop(Drop.ISOLATED));
      });
      // on a pod that is no backend it changes nothing
      flagged(P.a2, () => {
        expectVerdict('from', frame(P.b2, P.a2, 'TCP', 8080, cp), allow(Rule.REPLY));
        expectVerdict('from', frame(P.b2, P.a2, 'TCP', port(), 8080), drop(Drop.ISOLATED));
      });
      expectVerdict('from', frame(P.a1, P.b1, 'TCP', port(), 8080), allow(Rule.SERVICE_BACKEND)); // and back
    });
  });

  describe(`IPv${fam === 'v4' ? 4 : 6}: fragments cannot ride on ports`, () => {
    const fragment = (src: Party, dst: Party, sport: number, dport: number, first: boolean): Buffer => {
      const body = first ? pk.tcp({ sport, dport }) : Buffer.alloc(64, 0xab);
      if (fam === 'v4') {
        const hdr = { src: src.v4, dst: dst.v4, protocol: pk.IpProto.TCP, id: 7 };
        const opts = first ? { ...hdr, moreFragments: true } : { ...hdr, fragmentOffset: 185 };
        return pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4(opts, body));
      }
      const fh = first ? pk.ext.fragment(0, true) : pk.ext.fragment(185, false);
      return pk.ipv6Frame(src.v6, dst.v6, [fh], pk.IpProto.TCP, body);
    };

    it('a first fragment is judged by its ports; later fragments that need ports are FRAGMENT', () => {
      const cp = port();
      expectVerdict('from', fragment(P.a1, P.vipB, cp, 80, true), allow(Rule.SERVICE));
      expectVerdict('from', fragment(P.a1, P.vipB, cp, 80, false), drop(Drop.FRAGMENT));
      expectVerdict('to', fragment(P.vipB, P.a1, 80, cp, false), drop(Drop.FRAGMENT));
      expectVerdict('to', fragment(P.a2, P.b2, cp, 8080, false), drop(Drop.FRAGMENT));
      expectVerdict('from', fragment(P.b2, P.a2, 8080, cp, false), drop(Drop.FRAGMENT));
    });

    it('fragments that need no ports keep the address-pair verdict', () => {
      expectVerdict('from', fragment(P.a1, P.a2, 1, 2, false), allow(Rule.SAME_NETWORK));
      expectVerdict('to', fragment(P.node, P.a1, 1, 2, false), allow(Rule.NOT_POD));
    });
  });
}


describe('rule 3 for Service frontends outside the service ranges (NodePort, LoadBalancer and external IPs, hostPort)', () => {
  const F = { SYN: 0x02, ACK: 0x10 } as const;
  const tcp = (src: string, dst: string, sport: number, dport: number, flags: number = F.SYN) =>
    pk.isV6(src)
      ? pk.ipv6Frame(src, dst, [], pk.IpProto.TCP, pk.tcp({ sport, dport, flags }))
      : pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src, dst, protocol: pk.IpProto.TCP }, pk.tcp({ sport, dport, flags })));
  const udp = (src: string, dst: string, sport: number, dport: number) =>
    pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src, dst, protocol: pk.IpProto.UDP }, pk.udp({ sport, dport })));
  const LB_A = '203.0.113.10'; // a LoadBalancer IP network A may use
  const LB_C = '203.0.113.11'; // one network C may use
  const OUTSIDE = '198.51.100.7'; // any address outside the cluster: maybe a node address we do not know
  const put = (addr: string, port: number, protocol: abi.ServiceProtocol, clientVrf: number) =>
    n.mapUpdate(mapFd(abi.MapName.services), abi.encodeSvcKey({ addr, port, protocol, clientVrf }), abi.encodeSvcValue({ svcVrf: 0, flags: 0 }));
  const frontend = (addr: string, port: number, protocol: abi.ServiceProtocol, clients: number[]) => {
    put(addr, port, protocol, abi.VW_SVC_FRONTEND_VRF);
    for (const c of clients) put(addr, port, protocol, c);
  };

  beforeAll(() => {
    frontend(abi.VW_SVC_NODE_ADDR, 30080, 'TCP', [VRF.A]); // NodePort, on every node address
    frontend(abi.VW_SVC_NODE_ADDR, 30053, 'UDP', [VRF.A]);
    frontend(LB_A, 443, 'TCP', [VRF.A]);
    frontend(LB_C, 443, 'TCP', [VRF.C]);
    frontend(P.node.v4, 9000, 'TCP', [VRF.B]); // a hostPort of a B pod on this node address
    frontend(abi.VW_SVC_NODE_ADDR, 9000, 'TCP', [VRF.A]); // and a NodePort-like entry it overrides there
    n.mapUpdate(mapFd(abi.MapName.networks), abi.encodeNetworkKey(VRF.C), abi.encodeNetwork({ flags: abi.VW_NET_EXTERNAL_DENY }));
    dp.retire();
  });
  afterAll(() => {
    n.mapDelete(mapFd(abi.MapName.networks), abi.encodeNetworkKey(VRF.C));
    dp.retire();
  });

  it('a NodePort on a node address or any outside address is judged like its ClusterIP, for TCP SYNs and every UDP datagram', () => {
    for (const node of [P.node.v4, P.node.v6, OUTSIDE]) {
      const a = pk.isV6(node) ? P.a1.v6 : P.a1.v4;
      const c = pk.isV6(node) ? P.c1.v6 : P.c1.v4;
      expectVerdict('from', tcp(a, node, 40001, 30080), allow(Rule.SERVICE));
      expectVerdict('from', tcp(c, node, 40001, 30080), drop(Drop.SERVICE_DENIED));
      // other ports of the node stay rule 6 (positive control)
      expectVerdict('from', tcp(a, node, 40001, 22), allow(Rule.NOT_POD));
    }
    expectVerdict('from', udp(P.a1.v4, P.node.v4, 40002, 30053), allow(Rule.SERVICE));
    expectVerdict('from', udp(P.c1.v4, P.node.v4, 40002, 30053), drop(Drop.SERVICE_DENIED));
  });

  it('the node’s link-local address is a node address too: a NodePort on it is judged', () => {
    expectVerdict('from', tcp(P.a1.v6, 'fe80::1', 40007, 30080), allow(Rule.SERVICE));
    expectVerdict('from', tcp(P.c1.v6, 'fe80::1', 40007, 30080), drop(Drop.SERVICE_DENIED));
    expectVerdict('from', tcp(P.c1.v6, 'fe80::1', 40007, 22), allow(Rule.NOT_POD));
  });

  it('only what opens a connection is judged: a pod answering the node (kubelet probe) from a port is never a NodePort', () => {
    expectVerdict('from', tcp(P.c1.v4, P.node.v4, 8080, 30080, F.SYN | F.ACK), allow(Rule.NOT_POD));
    expectVerdict('from', tcp(P.c1.v4, P.node.v4, 8080, 30080, F.ACK), allow(Rule.NOT_POD));
    expectVerdict('from', tcp(P.c1.v4, P.node.v4, 8080, 30080, F.SYN | 0x01), drop(Drop.SERVICE_DENIED)); // SYN+FIN is a SYN
  });

  it('a quarantined pod reaches no frontend, but still answers its node', () => {
    expectVerdict('from', tcp(P.q1.v4, P.node.v4, 40003, 30080), drop(Drop.QUARANTINED));
    expectVerdict('from', tcp(P.q1.v4, P.node.v4, 40003, 10250), allow(Rule.NOT_POD));
  });

  it('LoadBalancer and external IPs; a hostPort entry on a node address wins over the any-address entry', () => {
    expectVerdict('from', tcp(P.a1.v4, LB_A, 40004, 443), allow(Rule.SERVICE));
    expectVerdict('from', tcp(P.c1.v4, LB_A, 40004, 443), drop(Drop.SERVICE_DENIED));
    expectVerdict('from', tcp(P.b2.v4, P.node.v4, 40005, 9000), allow(Rule.SERVICE));
    expectVerdict('from', tcp(P.a1.v4, P.node.v4, 40005, 9000), drop(Drop.SERVICE_DENIED));
    expectVerdict('from', tcp(P.a1.v4, OUTSIDE, 40005, 9000), allow(Rule.SERVICE));
  });

  it('a network that denies outside addresses uses its LoadBalancer IP, and gets the replies from it, but nothing else from outside', () => {
    expectVerdict('from', tcp(P.c1.v4, LB_C, 40006, 443), allow(Rule.SERVICE));
    expectVerdict('to', tcp(LB_C, P.c1.v4, 443, 40006, F.SYN | F.ACK), allow(Rule.REPLY));
    expectVerdict('to', tcp(LB_A, P.c1.v4, 443, 40006, F.SYN | F.ACK), drop(Drop.EXTERNAL_DENIED));
    expectVerdict('to', tcp(OUTSIDE, P.c1.v4, 443, 40006, F.SYN | F.ACK), drop(Drop.EXTERNAL_DENIED));
    expectVerdict('from', tcp(P.c1.v4, OUTSIDE, 40006, 443), drop(Drop.EXTERNAL_DENIED));
  });
});

describe('tunnels to non-pod addresses (an overlay device on the node would unwrap them past every check)', () => {
  const udp = (src: string, dst: string, dport: number) =>
    pk.isV6(src)
      ? pk.ipv6Frame(src, dst, [], pk.IpProto.UDP, pk.udp({ sport: 40100, dport }))
      : pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src, dst, protocol: pk.IpProto.UDP }, pk.udp({ sport: 40100, dport })));
  const ipProto = (src: string, dst: string, protocol: number) =>
    pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src, dst, protocol }, Buffer.alloc(40, 0x45)));

  it('VXLAN (4789, 8472) and Geneve (6081) to a node, its link-local address or outside: TUNNEL; other UDP ports stay rule 6', () => {
    for (const port of [4789, 8472, 6081]) {
      expectVerdict('from', udp(P.a1.v4, P.node.v4, port), drop(Drop.TUNNEL));
      expectVerdict('from', udp(P.a1.v6, P.node.v6, port), drop(Drop.TUNNEL));
      expectVerdict('from', udp(P.a1.v6, 'fe80::1', port), drop(Drop.TUNNEL));
      expectVerdict('from', udp(P.a1.v4, '198.51.100.7', port), drop(Drop.TUNNEL));
    }
    expectVerdict('from', udp(P.a1.v4, P.node.v4, 4790), allow(Rule.NOT_POD));
    expectVerdict('from', udp(P.a1.v4, '198.51.100.7', 4790), allow(Rule.NOT_POD));
  });

  it('IPIP, IPv6-in-IPv4 and GRE to a node or outside: TUNNEL; between pods of one network they are the pods’ business', () => {
    for (const proto of [4, 41, 47]) {
      expectVerdict('from', ipProto(P.a1.v4, P.node.v4, proto), drop(Drop.TUNNEL));
      expectVerdict('from', ipProto(P.a1.v4, '198.51.100.7', proto), drop(Drop.TUNNEL));
      expectVerdict('from', ipProto(P.a1.v4, P.a2.v4, proto), allow(Rule.SAME_NETWORK));
    }
    expectVerdict('from', udp(P.a1.v4, P.a2.v4, 4789), allow(Rule.SAME_NETWORK));
  });
});
