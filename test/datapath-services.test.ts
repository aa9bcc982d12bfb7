// Services in the datapath (design section 3 rules 3, 4 and 5) on the real
// kernel: both programs loaded with one pin root, the services/backends maps
// filled with the abi.ts encoders, crafted frames run with BPF_PROG_TEST_RUN.
// Each run is checked by its tc action and by the one counter slot it moved;
// sessions are read back from the kernel's LRU map.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as abi from '../src/bpf/abi.js';
import { native, type NativeAddon } from '../src/bpf/native.js';
import * as pk from './helpers/packets.js';
import { CLUSTER_CIDRS, HERE, TestDatapath, allow, drop, freshPinRoot, type Party } from './helpers/datapath.js';
import { ROOT } from './helpers/lab.js';
import { pruneSessions } from '../src/agent/sessions.js';
import { serviceEntryKey, type DesiredServiceEntry, type DesiredState } from '../src/model/types.js';

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

function sctp(sport: number, dport: number, len = 12): Buffer {
  const b = Buffer.alloc(len);
  b.writeUInt16BE(sport, 0);
  if (len >= 4) b.writeUInt16BE(dport, 2);
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
});

afterAll(() => dp?.close());

describe('maps', () => {
  it('services, backends and sessions are shared by both programs, sessions is an LRU hash', () => {
    for (const name of [abi.MapName.services, abi.MapName.backends, abi.MapName.sessions]) {
      expect(n.mapInfo(dp.loaded[0].maps[name] ?? -1).id, name).toBe(n.mapInfo(dp.loaded[1].maps[name] ?? -1).id);
    }
    const info = n.mapInfo(mapFd(abi.MapName.sessions));
    expect(info.maxEntries).toBe(abi.VW_SESSIONS_MAX);
    expect(info.type).toBe(9); // BPF_MAP_TYPE_LRU_HASH
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
      expect(s).toMatchObject({ svcVrf: VRF.B, rule: Rule.SERVICE });
      expectVerdict('to', frame(P.vipB, P.a1, 'TCP', 80, cp), allow(Rule.REPLY));
      // the reply refreshed the entry
      const again = session({ saddr: ip(P.a1), daddr: ip(P.vipB), sport: cp, dport: 80, protocol: 'TCP' });
      expect(again!.lastSeenNs).toBeGreaterThan(s!.lastSeenNs);
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

    it('a session that is gone (LRU eviction) lets no reply through', () => {
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
        svcVrf: VRF.B,
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

describe('the agent prunes sessions the policy no longer allows', () => {
  it('keeps sessions whose client may still use the server, deletes the others', () => {
    const fd = mapFd(abi.MapName.sessions);
    // Start from an empty table, then open three connections through the programs.
    const dump = n.mapDump(fd);
    for (let i = 0; i < dump.count; i++) {
      const size = abi.Layout.vw_session_key.size;
      n.mapDelete(fd, dump.keys.subarray(i * size, (i + 1) * size));
    }
    const tcp = (src: Party, dst: Party, sport: number, dport: number) =>
      pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src: src.v4, dst: dst.v4, protocol: pk.IpProto.TCP }, pk.tcp({ sport, dport })));
    expectVerdict('from', tcp(P.a1, P.vipB, 41000, 80), allow(Rule.SERVICE)); // A via router to B's Service
    expectVerdict('from', tcp(P.c1, P.vipDns, 41001, 53), allow(Rule.SERVICE)); // shared
    expectVerdict('to', tcp(P.a2, P.b2, 41002, 8080), allow(Rule.SERVICE_BACKEND)); // A to B's backend
    expect(n.mapDump(fd).count).toBe(3);

    // The new policy: the router between A and B is gone; DNS is still shared.
    const entry = (addr: string, port: number, protocol: abi.ServiceProtocol, clientVrf: number): [string, DesiredServiceEntry] => {
      const e = { addr, port, protocol, clientVrf, svcVrf: VRF.S, flags: 0 };
      return [serviceEntryKey(e), e];
    };
    const desired: Pick<DesiredState, 'endpoints' | 'services' | 'backends'> = {
      endpoints: new Map(ENDPOINTS.map(([p, ep]) => [p.v4, { vrfId: ep.vrfId, flags: ep.flags, ifindex: ep.ifindex }])),
      services: new Map([entry(P.vipB.v4, 80, 'TCP', VRF.B), entry(P.vipDns.v4, 53, 'TCP', ANY)]),
      backends: new Map([entry(P.b2.v4, 8080, 'TCP', VRF.B)]),
    };
    expect(pruneSessions(n, fd, desired)).toBe(2);
    const left = n.mapDump(fd);
    expect(left.count).toBe(1);
    expect(abi.decodeSessionKey(left.keys)).toEqual({ saddr: P.c1.v4, daddr: P.vipDns.v4, sport: 41001, dport: 53, protocol: 'TCP' });
    // and the pruned connection's reply is dropped now
    expectVerdict('to', tcp(P.vipB, P.a1, 80, 41000), drop(Drop.NO_SESSION));
  });
});
