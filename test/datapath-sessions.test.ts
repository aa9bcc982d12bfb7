// The session table on the real kernel (design section 3 rule 5, issue 11
// point 4 and 7): sessions start only with a connection's first packet, end
// with TCP's close or an idle timeout, are counted per client against a
// quota, are never evicted by someone else's traffic, are swept by the
// session_gc program, and explain's probes change none of it. Frames go
// through the loaded programs with BPF_PROG_TEST_RUN; every map is read back
// from the kernel.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as abi from '../src/kernel/abi.js';
import { native, type NativeAddon } from '../src/kernel/native.js';
import * as pk from './helpers/packets.js';
import { CLUSTER_CIDRS, HERE, TEST_PROBE_KEY, TestDatapath, allow, drop, freshPinRoot, localEndpoints, probeCtx, probeDecision, skbCtx, type Party } from './helpers/datapath.js';

const { AllowRule: Rule, DropReason: Drop } = abi;
const VRF = { A: 10, B: 11, C: 12 } as const;
const P = {
  a1: { v4: '10.244.1.10', v6: 'fd00:10:244:1::10' }, // local client, A
  a2: { v4: '10.244.2.10', v6: 'fd00:10:244:2::10' }, // remote client, A
  b2: { v4: '10.244.1.20', v6: 'fd00:10:244:1::20' }, // local shared backend, B
  c1: { v4: '10.244.1.30', v6: 'fd00:10:244:1::30' }, // local client, C
  vip: { v4: '10.96.0.20', v6: 'fd00:10:96::20' }, // A and C may use it
} satisfies Record<string, Party>;
const ENDPOINTS: [Party, abi.EndpointValue][] = [
  [P.a1, { vrfId: VRF.A, flags: abi.VW_EP_LOCAL, ifindex: HERE }],
  [P.a2, { vrfId: VRF.A, flags: 0, ifindex: 0 }],
  [P.b2, { vrfId: VRF.B, flags: abi.VW_EP_LOCAL, ifindex: HERE }],
  [P.c1, { vrfId: VRF.C, flags: abi.VW_EP_LOCAL, ifindex: HERE }],
];

let n: NativeAddon;
let dp: TestDatapath;
let nextPort = 20000;
const port = (): number => nextPort++;

const TCP = pk.IpProto.TCP;
const UDP = pk.IpProto.UDP;
const SCTP = abi.IpProto.SCTP;
const F = { FIN: 0x01, SYN: 0x02, RST: 0x04, ACK: 0x10 } as const;

function sctp(sport: number, dport: number, chunk: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16BE(sport, 0);
  b.writeUInt16BE(dport, 2);
  b[12] = chunk;
  return b;
}

function frame(src: string, dst: string, proto: number, sport: number, dport: number, flags: number = F.SYN): Buffer {
  const body = proto === TCP ? pk.tcp({ sport, dport, flags }) : proto === UDP ? pk.udp({ sport, dport }) : sctp(sport, dport, flags);
  return pk.isV6(src)
    ? pk.ipv6Frame(src, dst, [], proto, body)
    : pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src, dst, protocol: proto }, body));
}

function putService(addr: string, port: number, protocol: abi.ServiceProtocol, clientVrf: number, map: string = abi.MapName.services): void {
  n.mapUpdate(dp.mapFd(map), abi.encodeSvcKey({ addr, port, protocol, clientVrf }), abi.encodeSvcValue({ svcVrf: 0, flags: 0 }));
  dp.retire();
}

const key = (saddr: string, daddr: string, sport: number, dport: number, protocol: abi.ServiceProtocol = 'TCP'): abi.SessionKey => ({
  saddr,
  daddr,
  sport,
  dport,
  protocol,
});

function session(k: abi.SessionKey): abi.SessionValue | undefined {
  const v = n.mapLookup(dp.mapFd(abi.MapName.sessions), abi.encodeSessionKey(k));
  return v === null ? undefined : abi.decodeSession(v);
}

function owned(addr: string): number {
  const v = n.mapLookup(dp.mapFd(abi.MapName.sessionOwners), abi.encodeEndpointKey(addr));
  return v === null ? 0 : abi.decodeSessionOwner(v).live;
}

function sessionCount(): number {
  return n.mapDump(dp.mapFd(abi.MapName.sessions)).count;
}

/** Every session gone and every count back to zero (the programs' own way: expire them all). */
function emptyTable(): void {
  dp.putConfig({ tcpSynTimeoutNs: 1n, tcpEstablishedTimeoutNs: 1n, tcpClosingTimeoutNs: 1n, udpTimeoutNs: 1n, otherTimeoutNs: 1n });
  const until = Date.now() + EXPIRY_GRACE_MS;
  while (Date.now() < until); // past the refresh lag the expiry allows for (bpf/lib/session.h)
  dp.sweepSessions();
  dp.putConfig({});
  expect(sessionCount()).toBe(0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A session expires once idle for its timeout plus the cache tick (VW_SESSION_REFRESH_LAG_NS), plus a coarse-clock tick. */
const EXPIRY_GRACE_MS = Number((1n << BigInt(abi.VW_CACHE_TICK_SHIFT)) / 1_000_000n) + 20;

beforeAll(() => {
  n = native();
  dp = new TestDatapath(n, freshPinRoot('dpsess-test-'));
  dp.putEndpoints(ENDPOINTS);
  dp.putCidrs(CLUSTER_CIDRS);
  for (const fam of ['v4', 'v6'] as const) {
    for (const vrf of [VRF.A, VRF.C]) {
      putService(P.vip[fam], 80, 'TCP', vrf);
      putService(P.vip[fam], 53, 'UDP', vrf);
      putService(P.vip[fam], 9999, 'SCTP', vrf);
    }
    putService(P.b2[fam], 8080, 'TCP', abi.VW_SVC_ANY_VRF, abi.MapName.backends);
  }
});

afterAll(() => dp?.close());

beforeEach(() => emptyTable());

describe('a session starts only with a connection’s first packet', () => {
  for (const fam of ['v4', 'v6'] as const) {
    it(`IPv${fam === 'v4' ? 4 : 6}: TCP SYN opens; ACK, SYN+ACK, SYN+FIN, SYN+RST, FIN and RST pass as the policy allows but open nothing`, () => {
      const a1 = P.a1[fam];
      const vip = P.vip[fam];
      for (const flags of [F.ACK, F.SYN | F.ACK, F.SYN | F.FIN, F.SYN | F.RST, F.FIN, F.RST, 0]) {
        const cp = port();
        dp.expectVerdict('from', frame(a1, vip, TCP, cp, 80, flags), allow(Rule.SERVICE));
        expect(session(key(a1, vip, cp, 80)), `flags ${flags}`).toBeUndefined();
        dp.expectVerdict('to', frame(vip, a1, TCP, 80, cp, F.SYN | F.ACK), drop(Drop.NO_SESSION));
      }
      const cp = port();
      dp.expectVerdict('from', frame(a1, vip, TCP, cp, 80, F.SYN), allow(Rule.SERVICE));
      expect(session(key(a1, vip, cp, 80))).toMatchObject({ rule: Rule.SERVICE, flags: 0 });
      dp.expectVerdict('to', frame(vip, a1, TCP, 80, cp, F.SYN | F.ACK), allow(Rule.REPLY));
      expect(owned(a1)).toBe(1);
    });
  }

  it('SCTP: INIT opens, a DATA chunk does not; UDP: any datagram opens', () => {
    const a1 = P.a1.v4;
    const vip = P.vip.v4;
    const cp = port();
    dp.expectVerdict('from', frame(a1, vip, SCTP, cp, 9999, 0), allow(Rule.SERVICE));
    expect(session(key(a1, vip, cp, 9999, 'SCTP'))).toBeUndefined();
    dp.expectVerdict('from', frame(a1, vip, SCTP, cp, 9999, 1), allow(Rule.SERVICE));
    expect(session(key(a1, vip, cp, 9999, 'SCTP'))).toBeDefined();
    const up = port();
    dp.expectVerdict('from', frame(a1, vip, UDP, up, 53), allow(Rule.SERVICE));
    expect(session(key(a1, vip, up, 53, 'UDP'))).toBeDefined();
  });

  it('rule 4 at the backend: only a SYN from the client opens the session its replies need', () => {
    const a2 = P.a2.v4;
    const b2 = P.b2.v4;
    const cp = port();
    dp.expectVerdict('to', frame(a2, b2, TCP, cp, 8080, F.ACK), allow(Rule.SERVICE_BACKEND));
    dp.expectVerdict('from', frame(b2, a2, TCP, 8080, cp, F.ACK), drop(Drop.ISOLATED));
    dp.expectVerdict('to', frame(a2, b2, TCP, cp, 8080, F.SYN), allow(Rule.SERVICE_BACKEND));
    dp.expectVerdict('from', frame(b2, a2, TCP, 8080, cp, F.SYN | F.ACK), allow(Rule.REPLY));
    expect(owned(a2)).toBe(1); // counted for the client, a pod of another node
  });
});

describe('a session ends with TCP’s close or an idle timeout', () => {
  const a1 = P.a1.v4;
  const vip = P.vip.v4;

  it('RST either way, or FIN both ways, ends it after the closing timeout; FIN one way does not', async () => {
    dp.putConfig({ tcpClosingTimeoutNs: 300_000_000n });
    const rst = port();
    const fins = port();
    const halfClosed = port();
    for (const cp of [rst, fins, halfClosed]) {
      dp.expectVerdict('from', frame(a1, vip, TCP, cp, 80, F.SYN), allow(Rule.SERVICE));
      dp.expectVerdict('to', frame(vip, a1, TCP, 80, cp, F.SYN | F.ACK), allow(Rule.REPLY));
    }
    dp.expectVerdict('to', frame(vip, a1, TCP, 80, rst, F.RST), allow(Rule.REPLY));
    expect(session(key(a1, vip, rst, 80))?.flags).toBe(abi.VW_SESS_REPLIED | abi.VW_SESS_RST);
    dp.expectVerdict('from', frame(a1, vip, TCP, fins, 80, F.FIN | F.ACK), allow(Rule.SERVICE));
    dp.expectVerdict('to', frame(vip, a1, TCP, 80, fins, F.FIN | F.ACK), allow(Rule.REPLY));
    dp.expectVerdict('from', frame(a1, vip, TCP, halfClosed, 80, F.FIN | F.ACK), allow(Rule.SERVICE));
    expect(owned(a1)).toBe(3);
    await sleep(450);
    // the closed ones: replies no longer pass, and meeting the entry removed it
    dp.expectVerdict('to', frame(vip, a1, TCP, 80, rst, F.ACK), drop(Drop.NO_SESSION));
    dp.expectVerdict('to', frame(vip, a1, TCP, 80, fins, F.ACK), drop(Drop.NO_SESSION));
    expect(session(key(a1, vip, rst, 80))).toBeUndefined();
    // the half-closed one is still a connection (positive control)
    dp.expectVerdict('to', frame(vip, a1, TCP, 80, halfClosed, F.ACK), allow(Rule.REPLY));
    expect(owned(a1)).toBe(1);
    // the sweep finds the FIN-both-ways entry nobody met yet? (already removed above) and keeps the live one
    expect(dp.sweepSessions()).toEqual({ expired: 0, revoked: 0, kept: 1 });
  });

  it('idle UDP and unanswered TCP sessions expire; the sweep removes them and gives the quota back', async () => {
    dp.putConfig({ udpTimeoutNs: 300_000_000n, tcpSynTimeoutNs: 300_000_000n });
    const up = port();
    const tp = port();
    const busy = port();
    dp.expectVerdict('from', frame(a1, vip, UDP, up, 53), allow(Rule.SERVICE));
    dp.expectVerdict('from', frame(a1, vip, TCP, tp, 80, F.SYN), allow(Rule.SERVICE));
    dp.expectVerdict('from', frame(a1, vip, UDP, busy, 53), allow(Rule.SERVICE));
    expect(owned(a1)).toBe(3);
    for (let i = 0; i < 5; i++) {
      await sleep(120);
      dp.expectVerdict('to', frame(vip, a1, UDP, 53, busy), allow(Rule.REPLY)); // keeps it alive
    }
    const swept = dp.sweepSessions();
    expect(swept).toEqual({ expired: 2, revoked: 0, kept: 1 });
    expect(owned(a1)).toBe(1);
    dp.expectVerdict('to', frame(vip, a1, UDP, 53, up), drop(Drop.NO_SESSION));
    dp.expectVerdict('to', frame(vip, a1, TCP, 80, tp, F.SYN | F.ACK), drop(Drop.NO_SESSION));
    dp.expectVerdict('to', frame(vip, a1, UDP, 53, busy), allow(Rule.REPLY));
  });

  it('the same 5-tuple after a close starts afresh', async () => {
    dp.putConfig({ tcpClosingTimeoutNs: 5_000_000_000n });
    const cp = port();
    dp.expectVerdict('from', frame(a1, vip, TCP, cp, 80, F.SYN), allow(Rule.SERVICE));
    dp.expectVerdict('to', frame(vip, a1, TCP, 80, cp, F.RST | F.ACK), allow(Rule.REPLY));
    dp.expectVerdict('from', frame(a1, vip, TCP, cp, 80, F.SYN), allow(Rule.SERVICE));
    expect(session(key(a1, vip, cp, 80))?.flags).toBe(0);
    expect(owned(a1)).toBe(1);
  });
});

describe('no pod can evict another pod’s sessions', () => {
  it('over its quota a client’s new connections are refused (SESSION_LIMIT), its own and others’ sessions stay', () => {
    dp.putConfig({ sessionQuota: 3 });
    const vip = P.vip.v4;
    const mine = [port(), port(), port()];
    for (const cp of mine) dp.expectVerdict('from', frame(P.a1.v4, vip, UDP, cp, 53), allow(Rule.SERVICE));
    const theirs = port();
    dp.expectVerdict('from', frame(P.c1.v4, vip, UDP, theirs, 53), allow(Rule.SERVICE));
    // a flood of new connections from a1: every one refused and counted
    for (let i = 0; i < 50; i++) dp.expectVerdict('from', frame(P.a1.v4, vip, UDP, port(), 53), drop(Drop.SESSION_LIMIT));
    dp.expectVerdict('from', frame(P.a1.v4, vip, TCP, port(), 80, F.SYN), drop(Drop.SESSION_LIMIT));
    expect(owned(P.a1.v4)).toBe(3);
    // packets of its existing connections still pass, and so do the others'
    dp.expectVerdict('from', frame(P.a1.v4, vip, UDP, mine[0]!, 53), allow(Rule.SERVICE));
    for (const cp of mine) dp.expectVerdict('to', frame(vip, P.a1.v4, UDP, 53, cp), allow(Rule.REPLY));
    dp.expectVerdict('to', frame(vip, P.c1.v4, UDP, 53, theirs), allow(Rule.REPLY));
    dp.expectVerdict('from', frame(P.c1.v4, vip, UDP, port(), 53), allow(Rule.SERVICE));
    // the quota is per address: a1's IPv6 address has its own
    dp.expectVerdict('from', frame(P.a1.v6, P.vip.v6, UDP, port(), 53), allow(Rule.SERVICE));
  });

  it('a full table refuses the new connection and evicts nothing', () => {
    const small = new TestDatapath(n, `${dp.pinRoot}-small`, { sessions: 4 });
    try {
      small.putEndpoints(ENDPOINTS);
      small.putCidrs(CLUSTER_CIDRS);
      n.mapUpdate(
        small.mapFd(abi.MapName.services),
        abi.encodeSvcKey({ addr: P.vip.v4, port: 53, protocol: 'UDP', clientVrf: abi.VW_SVC_ANY_VRF }),
        abi.encodeSvcValue({ svcVrf: 0, flags: 0 }),
      );
      small.retire();
      const held = [port(), port(), port(), port()];
      for (const cp of held) small.expectVerdict('from', frame(P.a1.v4, P.vip.v4, UDP, cp, 53), allow(Rule.SERVICE));
      small.expectVerdict('from', frame(P.c1.v4, P.vip.v4, UDP, port(), 53), drop(Drop.SESSION_LIMIT));
      for (const cp of held) small.expectVerdict('to', frame(P.vip.v4, P.a1.v4, UDP, 53, cp), allow(Rule.REPLY));
      const owner = n.mapLookup(small.mapFd(abi.MapName.sessionOwners), abi.encodeEndpointKey(P.c1.v4));
      expect(owner === null ? 0 : abi.decodeSessionOwner(owner).live).toBe(0);
    } finally {
      small.close();
    }
  });
});

describe('the sweep removes sessions the policy no longer allows', () => {
  it('revokes them in the kernel and gives the quota back; allowed ones stay', () => {
    const vip = P.vip.v4;
    const a = port();
    const c = port();
    dp.expectVerdict('from', frame(P.a1.v4, vip, TCP, a, 80, F.SYN), allow(Rule.SERVICE));
    dp.expectVerdict('from', frame(P.c1.v4, vip, TCP, c, 80, F.SYN), allow(Rule.SERVICE));
    const svcKey = abi.encodeSvcKey({ addr: vip, port: 80, protocol: 'TCP', clientVrf: VRF.A });
    expect(n.mapDelete(dp.mapFd(abi.MapName.services), svcKey)).toBe(true); // A may no longer use it
    try {
      expect(dp.sweepSessions()).toEqual({ expired: 0, revoked: 1, kept: 1 });
      expect(session(key(P.a1.v4, vip, a, 80))).toBeUndefined();
      expect(owned(P.a1.v4)).toBe(0);
      dp.expectVerdict('to', frame(vip, P.a1.v4, TCP, 80, a, F.SYN | F.ACK), drop(Drop.NO_SESSION));
      dp.expectVerdict('to', frame(vip, P.c1.v4, TCP, 80, c, F.SYN | F.ACK), allow(Rule.REPLY));
    } finally {
      putService(vip, 80, 'TCP', VRF.A);
    }
  });

  it('the agent’s sweep (which skips the walk only while no client holds a session) revokes a live one', async () => {
    const { SessionKeeper, DEFAULT_SESSION_SETTINGS } = await import('../src/agent/sessions.js');
    const keeper = new SessionKeeper(
      n,
      { sessions: dp.mapFd(abi.MapName.sessions), session_owners: dp.mapFd(abi.MapName.sessionOwners), config: dp.mapFd(abi.MapName.config) },
      dp.sessionGc,
      DEFAULT_SESSION_SETTINGS,
      TEST_PROBE_KEY,
    );
    const vip = P.vip.v4;
    const locals = localEndpoints([P.a1.v4, P.b2.v4, P.c1.v4]);
    const before = keeper.sweep(locals);
    expect(before.revoked + before.expired).toBe(0);
    const a = port();
    dp.expectVerdict('from', frame(P.a1.v4, vip, TCP, a, 80, F.SYN), allow(Rule.SERVICE));
    expect(owned(P.a1.v4)).toBeGreaterThan(0); // counted: the sweep must walk the table now
    const svcKey = abi.encodeSvcKey({ addr: vip, port: 80, protocol: 'TCP', clientVrf: VRF.A });
    expect(n.mapDelete(dp.mapFd(abi.MapName.services), svcKey)).toBe(true);
    try {
      expect(keeper.sweep(locals).revoked).toBe(1);
      expect(session(key(P.a1.v4, vip, a, 80))).toBeUndefined();
      dp.expectVerdict('to', frame(vip, P.a1.v4, TCP, 80, a, F.SYN | F.ACK), drop(Drop.NO_SESSION));
    } finally {
      putService(vip, 80, 'TCP', VRF.A);
      keeper.sweep(locals); // the quota back as the other tests expect it
    }
  });
});

describe('explain’s probes change no map (issue 11 point 7)', () => {
  const mapsOf = () =>
    [abi.MapName.sessions, abi.MapName.sessionOwners, 'flows', abi.MapName.counters].map((m) => {
      const d = n.mapDump(dp.mapFd(m));
      return `${m}:${d.count}:${d.keys.toString('hex')}:${d.values.toString('hex')}`;
    });
  const probe = (dir: 'from' | 'to', f: Buffer) =>
    probeDecision(n.progTestRun(dir === 'from' ? dp.fromPod : dp.toPod, f, 1, probeCtx()).ctxOut as Buffer);

  it('on Service paths: no session made, refreshed or removed; the decision is the real one', async () => {
    const vip = P.vip.v4;
    const live = port();
    dp.expectVerdict('from', frame(P.a1.v4, vip, TCP, live, 80, F.SYN), allow(Rule.SERVICE));
    const before = mapsOf();
    await sleep(10); // a later clock: a refresh would show
    expect(probe('from', frame(P.a1.v4, vip, TCP, port(), 80, F.SYN))).toEqual({ verdict: abi.Verdict.ALLOWED, code: Rule.SERVICE });
    expect(probe('to', frame(vip, P.a1.v4, TCP, 80, live, F.SYN | F.ACK))).toEqual({ verdict: abi.Verdict.ALLOWED, code: Rule.REPLY });
    expect(probe('to', frame(P.a2.v4, P.b2.v4, TCP, port(), 8080, F.SYN))).toEqual({
      verdict: abi.Verdict.ALLOWED,
      code: Rule.SERVICE_BACKEND,
    });
    expect(probe('from', frame(P.a1.v4, vip, TCP, live, 80, F.RST))).toEqual({ verdict: abi.Verdict.ALLOWED, code: Rule.SERVICE });
    expect(mapsOf()).toEqual(before);
  });

  it('a packet that carries the magic without the agent’s key is no probe: counted, recorded, its session made', () => {
    const vip = P.vip.v4;
    const cp = port();
    const f = frame(P.a1.v4, vip, TCP, cp, 80, F.SYN);
    for (const key of [abi.VW_PROBE_MAGIC, 0, TEST_PROBE_KEY ^ 1]) {
      const before = dp.counters().get('from_pod/allowed/SERVICE')?.packets ?? 0n;
      n.progTestRun(dp.fromPod, f, 1, skbCtx(HERE, key));
      expect(dp.counters().get('from_pod/allowed/SERVICE')?.packets).toBe(before + 1n);
    }
    expect(session(key(P.a1.v4, vip, cp, 80))).toBeDefined();
    // and no key at all in the config map means no probes either
    dp.putConfig({ probeKey: 0 });
    try {
      const cp2 = port();
      n.progTestRun(dp.fromPod, frame(P.a1.v4, vip, TCP, cp2, 80, F.SYN), 1, skbCtx(HERE, 0));
      expect(session(key(P.a1.v4, vip, cp2, 80))).toBeDefined();
    } finally {
      dp.putConfig({});
    }
  });

  it('an expired session is reported as gone but not removed; a client at its quota is told SESSION_LIMIT', () => {
    const vip = P.vip.v4;
    dp.putConfig({ sessionQuota: 1, tcpSynTimeoutNs: 1n });
    const old = port();
    dp.expectVerdict('from', frame(P.a1.v4, vip, TCP, old, 80, F.SYN), allow(Rule.SERVICE));
    const until = Date.now() + EXPIRY_GRACE_MS;
    while (Date.now() < until);
    const before = mapsOf();
    expect(probe('to', frame(vip, P.a1.v4, TCP, 80, old, F.SYN | F.ACK))).toEqual({ verdict: abi.Verdict.DROPPED, code: Drop.NO_SESSION });
    expect(probe('from', frame(P.a1.v4, vip, TCP, port(), 80, F.SYN))).toEqual({ verdict: abi.Verdict.DROPPED, code: Drop.SESSION_LIMIT });
    expect(mapsOf()).toEqual(before);
  });
});

describe('the agent’s fair share of the table', () => {
  it('keeps the configured quota while the table holds every holder’s quota, else divides the table', async () => {
    const { effectiveQuota } = await import('../src/agent/sessions.js');
    expect(effectiveQuota(4096, 262144, 10)).toBe(4096);
    expect(effectiveQuota(4096, 262144, 64)).toBe(4096);
    expect(effectiveQuota(4096, 262144, 65)).toBe(4032);
    expect(effectiveQuota(4096, 100, 1000)).toBe(1); // never zero: a pod may always hold one
    expect(effectiveQuota(4096, 262144, 0)).toBe(4096);
  });

  it('the agent’s sweep lowers the quota in the kernel when many addresses hold sessions', async () => {
    const { SessionKeeper, DEFAULT_SESSION_SETTINGS } = await import('../src/agent/sessions.js');
    const small = new TestDatapath(n, `${dp.pinRoot}-fair`, { sessions: 8 });
    try {
      const keeper = new SessionKeeper(
        n,
        { sessions: small.mapFd('sessions'), session_owners: small.mapFd('session_owners'), config: small.mapFd('config') },
        small.sessionGc,
        DEFAULT_SESSION_SETTINGS,
        TEST_PROBE_KEY,
      );
      const locals = new Set([P.a1.v4, P.b2.v4, P.c1.v4, P.a1.v6]);
      const r = keeper.sweep(localEndpoints([...locals]));
      expect(r.quota).toBe(2); // 8 slots, 4 addresses
      const cfg = abi.decodeConfig(n.mapLookup(small.mapFd('config'), Buffer.alloc(4))!);
      expect(cfg.sessionQuota).toBe(2);
      expect(cfg.udpTimeoutNs).toBe(30n * abi.VW_NS_PER_SEC);
      // The agent names its node's pod addresses instead of walking every
      // endpoint: only those that are local endpoints hold a share (a remote
      // endpoint and an address that is no endpoint do not).
      const endpoints = new Map<string, { flags: number }>([...localEndpoints([P.a1.v4, P.b2.v4]), [P.c1.v4, { flags: 0 }]]);
      expect(keeper.sweep(endpoints, [P.a1.v4, P.b2.v4, P.c1.v4, P.a2.v4]).holders).toBe(2);
      expect(keeper.sweep(endpoints, [P.a1.v4]).holders).toBe(1);
      expect(keeper.sweep(endpoints).holders).toBe(2);
    } finally {
      small.close();
    }
  });
});
