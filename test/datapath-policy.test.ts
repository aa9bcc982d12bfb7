// NetworkPolicy in the datapath (issue 16) on the real kernel: three pod
// namespaces wired point-to-point to a node namespace that routes between
// them, from_pod and to_pod attached (tcx) at each pod's node-side veth, the
// `policy` and `policy_cidrs` maps and the endpoints' policy fields written
// with the abi.ts encoders, and real TCP, UDP, ICMP and raw SCTP INIT packets
// sent between the namespaces (test/helpers/policy-probe.py). Every verdict
// is read back from the kernel: the counters' slots, the sessions map, the
// sweep's counts. Lab names: vrfwall-npd1-* (this file).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as abi from '../src/kernel/abi.js';
import { native, type NativeAddon } from '../src/kernel/native.js';
import * as pk from './helpers/packets.js';
import { CLUSTER_CIDRS, HERE, TestDatapath, allow, drop, flowTable, freshPinRoot, probeCtx, probeDecision, type Party } from './helpers/datapath.js';
import { ROOT } from './helpers/lab.js';
import { createNetns, createVethPair, deleteNetns, deleteStaleNetns, ifindexIn, ip, netnsPath, ownedName } from './helpers/netns.js';

const PREFIX = 'vrfwall-npd1-';
const PROBE = path.join(ROOT, 'test/helpers/policy-probe.py');
const { TCP, UDP, SCTP } = abi.IpProto;
const ANY = abi.VW_POLICY_ANY_PROTO;
const ALL_PORTS = [{ lo: 0, hi: 65535 }];
const PORTS = [53, 80, 81, 7999, 8000, 8010, 8011];

/** A pod: its namespace, addresses, node-side interface and policy identity. */
interface Pod {
  tag: 'a' | 'b' | 'c';
  ns: string;
  addr: string;
  gw: string;
  addr6: string;
  gw6: string;
  hostIf: string;
  ifindex: number;
  identity: number;
}

const NODE = ownedName(PREFIX, 'node');
const pods: Record<'a' | 'b' | 'c', Pod> = {
  a: { tag: 'a', ns: ownedName(PREFIX, 'a'), addr: '10.244.1.10', gw: '10.244.1.1', addr6: 'fd00:10:244:1::10', gw6: 'fd00:10:244:1::1', hostIf: 'npa', ifindex: 0, identity: 101 },
  b: { tag: 'b', ns: ownedName(PREFIX, 'b'), addr: '10.244.2.10', gw: '10.244.2.1', addr6: 'fd00:10:244:2::10', gw6: 'fd00:10:244:2::1', hostIf: 'npb', ifindex: 0, identity: 102 },
  c: { tag: 'c', ns: ownedName(PREFIX, 'c'), addr: '10.244.3.10', gw: '10.244.3.1', addr6: 'fd00:10:244:3::10', gw6: 'fd00:10:244:3::1', hostIf: 'npc', ifindex: 0, identity: 103 },
};
const { a: A, b: B, c: C } = pods;
const VRF = { MAIN: 10, OTHER: 11 } as const;
/** Policy set ids, as the compile step would allocate them (never 0). */
const SET = { A_IN: 1, A_OUT: 2, B_IN: 3, B_OUT: 4, C_IN: 5 } as const;

let n: NativeAddon;
let dp: TestDatapath;
const links: number[] = [];
const servers: ChildProcess[] = [];
/** SCTP INITs each server saw, as "sport dport" lines. */
const sctpSeen: Record<string, string[]> = { a: [], b: [], c: [] };

// ---- the maps -------------------------------------------------------------------------

interface PodPolicy {
  vrf?: number;
  policyIn?: number;
  policyOut?: number;
}

function putPod(p: Pod, o: PodPolicy = {}): void {
  for (const addr of [p.addr, p.addr6]) {
    n.mapUpdate(
      dp.mapFd(abi.MapName.endpoints),
      abi.encodeEndpointKey(addr),
      abi.encodeEndpoint({
        vrfId: o.vrf ?? VRF.MAIN,
        flags: abi.VW_EP_LOCAL,
        ifindex: p.ifindex,
        identity: p.identity,
        policyIn: o.policyIn ?? 0,
        policyOut: o.policyOut ?? 0,
      }),
    );
  }
}

/** The endpoints as the compile step writes them for this test's policy sets; retires the cache. */
function setPods(o: Partial<Record<'a' | 'b' | 'c', PodPolicy>>): void {
  for (const p of [A, B, C]) putPod(p, o[p.tag]);
  dp.retire();
}

function putRule(set: number, identity: number, proto: abi.PolicyProto, ranges: abi.PortRange[], slot = 0, flags = 0): void {
  n.mapUpdate(dp.mapFd(abi.MapName.policy), abi.encodePolicyKey({ set, identity, proto, slot }), abi.encodePolicyValue({ flags, ranges }));
  dp.retire();
}

function putBlock(set: number, cidr: string, proto: abi.PolicyProto, ranges: abi.PortRange[], slot = 0, flags = 0): void {
  n.mapUpdate(dp.mapFd(abi.MapName.policyCidrs), abi.encodePolicyCidrKey({ set, cidr, proto, slot }), abi.encodePolicyValue({ flags, ranges }));
  dp.retire();
}

function clearMap(name: string): void {
  const fd = dp.mapFd(name);
  const dump = n.mapDump(fd);
  const size = dump.count === 0 ? 0 : dump.keys.length / dump.count;
  for (let i = 0; i < dump.count; i++) n.mapDelete(fd, dump.keys.subarray(i * size, (i + 1) * size));
}

function sessions(): abi.SessionKey[] {
  const dump = n.mapDump(dp.mapFd(abi.MapName.sessions));
  const size = abi.Layout.vw_session_key.size;
  return Array.from({ length: dump.count }, (_, i) => abi.decodeSessionKey(dump.keys.subarray(i * size, (i + 1) * size)));
}

function sessionOf(k: abi.SessionKey): abi.SessionValue | undefined {
  const v = n.mapLookup(dp.mapFd(abi.MapName.sessions), abi.encodeSessionKey(k));
  return v === null ? undefined : abi.decodeSession(v);
}

// ---- real traffic -----------------------------------------------------------------------

function probe(from: Pod | string, args: string[]): string {
  const ns = typeof from === 'string' ? from : from.ns;
  return execFileSync('ip', ['netns', 'exec', ns, 'python3', PROBE, ...args], { encoding: 'utf8', timeout: 10_000 }).trim();
}

const tcp = (from: Pod | string, to: Pod, port: number): boolean => probe(from, ['tcp', to.addr, String(port)]) === 'ok';
const tcp6 = (from: Pod, to: Pod, port: number): boolean => probe(from, ['tcp', to.addr6, String(port)]) === 'ok';
const udp = (from: Pod | string, to: Pod, port: number, sport?: number): boolean =>
  probe(from, ['udp', to.addr, String(port), ...(sport === undefined ? [] : [String(sport)])]) === 'ok';
const ping = (from: Pod | string, to: Pod): boolean => {
  try {
    execFileSync('ip', ['netns', 'exec', typeof from === 'string' ? from : from.ns, 'ping', '-c1', '-W1', to.addr], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

/** Sends one SCTP INIT and reports whether the destination's raw receiver saw it. */
async function sctpInit(from: Pod, to: Pod, sport: number, dport: number): Promise<boolean> {
  probe(from, ['sctp', to.addr, String(sport), String(dport)]);
  const want = `${sport} ${dport}`;
  for (let i = 0; i < 20; i++) {
    if (sctpSeen[to.tag]!.includes(want)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

/** Counter slots that moved while fn ran, by packets. */
function moved(fn: () => void): Record<string, number> {
  return Object.fromEntries(Object.entries(dp.countedWhile(fn)).map(([k, v]) => [k, Number(v.packets)]));
}

async function movedAsync(fn: () => Promise<void>): Promise<Record<string, number>> {
  const before = dp.counters();
  await fn();
  const out: Record<string, number> = {};
  for (const [name, after] of dp.counters()) {
    const d = Number(after.packets - (before.get(name)?.packets ?? 0n));
    if (d) out[name] = d;
  }
  return out;
}

/** A TCP connection kept open: one echo round trip per call. */
class Stream {
  private readonly proc: ChildProcess;
  private readonly lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  sport = 0;

  constructor(from: Pod, to: Pod, port: number) {
    this.proc = spawn('ip', ['netns', 'exec', from.ns, 'python3', PROBE, 'stream', to.addr, String(port)], { stdio: ['pipe', 'pipe', 'ignore'] });
    readline.createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
  }

  private next(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('stream probe silent')), 5000);
      this.waiters.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
  }

  async open(): Promise<number> {
    const l = await this.next();
    expect(l).toMatch(/^connected \d+$/);
    this.sport = Number(l.split(' ')[1]);
    return this.sport;
  }

  async roundTrip(): Promise<boolean> {
    this.proc.stdin!.write('\n');
    return (await this.next()) === 'ok';
  }

  close(): void {
    this.proc.kill();
  }
}

// ---- the topology -------------------------------------------------------------------------

function attachIn(ns: string, prog: number, ifindex: number, dir: 'ingress' | 'egress'): number {
  const back = n.enterNetns(netnsPath(ns));
  try {
    return n.tcxAttach(prog, ifindex, dir);
  } finally {
    n.restoreNetns(back);
  }
}

function startServer(p: Pod): Promise<void> {
  const proc = spawn('ip', ['netns', 'exec', p.ns, 'python3', PROBE, 'serve', ...PORTS.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.push(proc);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server in ${p.ns} not ready`)), 10_000);
    readline.createInterface({ input: proc.stdout! }).on('line', (l) => {
      if (l === 'ready') {
        clearTimeout(t);
        resolve();
      } else if (l.startsWith('sctp ')) sctpSeen[p.tag]!.push(l.slice(5));
    });
  });
}

beforeAll(async () => {
  deleteStaleNetns(PREFIX);
  n = native();
  dp = new TestDatapath(n, freshPinRoot('dppolicy-test-'));
  dp.putCidrs(CLUSTER_CIDRS);
  createNetns(NODE);
  const sysctl = (ns: string, ...kv: string[]) => execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', ...kv]);
  // IPv6 on (neighbour discovery is part of what is tested), without duplicate address detection's delay
  sysctl(NODE, 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.ip_forward=1');
  for (const p of [A, B, C]) {
    createNetns(p.ns);
    sysctl(p.ns, 'net.ipv6.conf.default.accept_dad=0');
    createVethPair({ ns: NODE, name: p.hostIf, peerNs: p.ns, peer: 'eth0', addr: `${p.gw}/24`, peerAddr: `${p.addr}/24` });
    ip(['-n', NODE, 'addr', 'add', `${p.gw6}/64`, 'dev', p.hostIf, 'nodad']);
    ip(['-n', p.ns, 'addr', 'add', `${p.addr6}/64`, 'dev', 'eth0', 'nodad']);
    ip(['-n', p.ns, 'route', 'add', 'default', 'via', p.gw]);
    ip(['-n', p.ns, '-6', 'route', 'add', 'default', 'via', p.gw6]);
    p.ifindex = ifindexIn(NODE, p.hostIf);
    // the node's addresses on each link: rule 6, and this node's own (ingress policy exempts only it)
    for (const gw of [p.gw, p.gw6]) {
      n.mapUpdate(dp.mapFd(abi.MapName.endpoints), abi.encodeEndpointKey(gw), abi.encodeEndpoint({ vrfId: 0, flags: abi.VW_EP_HOST | abi.VW_EP_THIS_NODE, ifindex: 0 }));
    }
    links.push(attachIn(NODE, dp.fromPod, p.ifindex, 'ingress'), attachIn(NODE, dp.toPod, p.ifindex, 'egress'));
  }
  setPods({});
  await Promise.all([A, B, C].map(startServer));
}, 60_000);

afterAll(() => {
  for (const s of servers) s.kill();
  for (const l of links) n?.closeFd(l);
  for (const ns of [A.ns, B.ns, C.ns, NODE]) {
    try {
      deleteNetns(ns);
    } catch {
      /* gone already */
    }
  }
  dp?.close();
});

beforeEach(() => {
  clearMap(abi.MapName.policy);
  clearMap(abi.MapName.policyCidrs);
  clearMap(abi.MapName.sessions);
  clearMap(abi.MapName.sessionOwners);
  setPods({});
});

// ---- the cases --------------------------------------------------------------------------------

describe('without policy every pod is open (the control for everything below)', () => {
  it('TCP, UDP, ICMP and SCTP between pods of one network pass; nothing is counted as a policy drop', async () => {
    const c = await movedAsync(async () => {
      expect(tcp(A, B, 80)).toBe(true);
      expect(udp(A, B, 53)).toBe(true);
      expect(ping(A, B)).toBe(true);
      expect(await sctpInit(A, B, 5001, 80)).toBe(true);
    });
    expect(c['to_pod/dropped/POLICY_INGRESS'] ?? 0).toBe(0);
    expect(c['from_pod/dropped/POLICY_EGRESS'] ?? 0).toBe(0);
    expect(c['to_pod/allowed/SAME_NETWORK']).toBeGreaterThan(0);
    expect(sessions(), 'no policy set: no sessions').toEqual([]);
  });
});

describe('ingress', () => {
  it('by identity and port: A may reach B on TCP 80; A on 81 and C on 80 are POLICY_INGRESS at B’s to_pod', () => {
    setPods({ b: { policyIn: SET.B_IN } });
    putRule(SET.B_IN, A.identity, TCP, [{ lo: 80, hi: 80 }]);
    const c = moved(() => {
      expect(tcp(A, B, 80)).toBe(true);
      expect(tcp(A, B, 81)).toBe(false);
      expect(tcp(C, B, 80)).toBe(false);
      expect(udp(A, B, 80), 'a TCP rule allows no UDP').toBe(false);
    });
    expect(c['to_pod/dropped/POLICY_INGRESS']).toBeGreaterThanOrEqual(3);
    expect(c['from_pod/dropped/POLICY_EGRESS'] ?? 0).toBe(0);
    // the allowed connection's session, client A, read back from the kernel
    const s = sessions().filter((k) => k.saddr === A.addr && k.daddr === B.addr && k.dport === 80 && k.protocol === 'TCP');
    expect(s.length).toBeGreaterThanOrEqual(1);
    for (const k of s) expect(sessionOf(k)!.flags & abi.VW_SESS_POLICY).toBe(abi.VW_SESS_POLICY);
    expect(sessions().filter((k) => k.saddr === C.addr), 'C’s denied opening made none').toEqual([]);
  });

  it('an empty ingress set (default deny) drops everything from pods but the node’s own traffic (kubelet probes)', () => {
    setPods({ b: { policyIn: SET.B_IN } });
    const c = moved(() => {
      expect(tcp(NODE, B, 80), 'the node reaches B').toBe(true);
      expect(ping(NODE, B), 'the node pings B').toBe(true);
      expect(tcp(A, B, 80)).toBe(false);
      expect(ping(A, B)).toBe(false);
    });
    expect(c['to_pod/dropped/POLICY_INGRESS']).toBeGreaterThanOrEqual(2);
    expect(c['to_pod/allowed/NOT_POD']).toBeGreaterThanOrEqual(2);
  });

  it('port ranges, both edges: 8000-8010 passes 8000 and 8010, not 7999 or 8011', () => {
    setPods({ b: { policyIn: SET.B_IN } });
    putRule(SET.B_IN, A.identity, TCP, [{ lo: 8000, hi: 8010 }]);
    expect([7999, 8000, 8010, 8011].map((p) => tcp(A, B, p))).toEqual([false, true, true, false]);
  });

  it('ranges past one slot: slot 1 is read only when slot 0 says VW_POLICY_MORE', () => {
    setPods({ b: { policyIn: SET.B_IN } });
    const many = Array.from({ length: abi.VW_POLICY_RANGES }, (_, i) => ({ lo: 1000 + 2 * i, hi: 1000 + 2 * i }));
    putRule(SET.B_IN, A.identity, UDP, many, 0, 0);
    putRule(SET.B_IN, A.identity, UDP, [{ lo: 53, hi: 53 }], 1);
    expect(udp(A, B, 53), 'slot 1 without MORE on slot 0: not read').toBe(false);
    putRule(SET.B_IN, A.identity, UDP, many, 0, abi.VW_POLICY_MORE);
    expect(udp(A, B, 53), 'with MORE').toBe(true);
  });

  it('SCTP by port (raw INIT): 80 allowed, 81 not', async () => {
    setPods({ b: { policyIn: SET.B_IN } });
    putRule(SET.B_IN, A.identity, SCTP, [{ lo: 80, hi: 80 }]);
    const c = await movedAsync(async () => {
      expect(await sctpInit(A, B, 5002, 80)).toBe(true);
      expect(await sctpInit(A, B, 5003, 81)).toBe(false);
    });
    expect(c['to_pod/dropped/POLICY_INGRESS']).toBeGreaterThanOrEqual(1);
    expect(sessionOf({ saddr: A.addr, daddr: B.addr, sport: 5002, dport: 80, protocol: 'SCTP' }), 'INIT opened a session').toBeDefined();
  });

  it('a rule without ports (proto 0) allows ICMP; a ported rule does not', () => {
    setPods({ b: { policyIn: SET.B_IN } });
    putRule(SET.B_IN, A.identity, TCP, [{ lo: 80, hi: 80 }]);
    putRule(SET.B_IN, C.identity, ANY, ALL_PORTS);
    expect(ping(C, B), 'proto 0: any protocol').toBe(true);
    expect(udp(C, B, 8011), 'proto 0: any port').toBe(true);
    expect(tcp(A, B, 80)).toBe(true);
    expect(ping(A, B), 'ported rule: no ICMP').toBe(false);
  });
});

describe('ICMP echo through sessions', () => {
  it('a pod under default-deny ingress pings an open pod and gets its reply; an egress-isolated pod answers a ping; the reverse pings are denied', () => {
    setPods({ a: { policyIn: SET.A_IN }, b: { policyOut: SET.B_OUT } });
    const c = moved(() => {
      expect(ping(A, C), 'A’s echo reply passes A’s ingress set').toBe(true);
      expect(ping(A, B), 'B answers through its egress set').toBe(true);
      expect(ping(C, A), 'an echo request into A').toBe(false);
      expect(ping(B, C), 'an echo request out of B').toBe(false);
    });
    expect(c['to_pod/dropped/POLICY_INGRESS']).toBeGreaterThanOrEqual(1);
    expect(c['from_pod/dropped/POLICY_EGRESS']).toBeGreaterThanOrEqual(1);
    expect(sessions().filter((k) => k.protocol === 'ICMP' && k.saddr === A.addr && k.dport === 0).length).toBeGreaterThanOrEqual(2);
  });
});

describe('IPv6 between the namespaces', () => {
  it('a pod under an egress policy still resolves its gateway (ND is not judged), reaches the pod its rule allows and not another', () => {
    setPods({ a: { policyOut: SET.A_OUT }, b: { policyIn: SET.B_IN } });
    putRule(SET.A_OUT, B.identity, TCP, [{ lo: 80, hi: 80 }]);
    putRule(SET.B_IN, A.identity, TCP, [{ lo: 80, hi: 80 }]);
    for (const ns of [A.ns, B.ns, C.ns, NODE]) ip(['-n', ns, '-6', 'neigh', 'flush', 'all']);
    const c = moved(() => {
      expect(tcp6(A, B, 80), 'with neighbour caches flushed: ND both ways, then the connection and its replies').toBe(true);
      expect(tcp6(A, C, 80)).toBe(false);
      expect(tcp6(C, B, 80)).toBe(false);
    });
    expect(c['from_pod/dropped/POLICY_EGRESS']).toBeGreaterThanOrEqual(1);
    expect(c['to_pod/dropped/POLICY_INGRESS']).toBeGreaterThanOrEqual(1);
    expect(sessions().filter((k) => k.saddr === A.addr6 && k.daddr === B.addr6 && k.dport === 80).length).toBeGreaterThanOrEqual(1);
  });
});

describe('egress', () => {
  it('A may send to B on UDP 53 and TCP 80 only; to C and other ports POLICY_EGRESS at A’s from_pod', () => {
    setPods({ a: { policyOut: SET.A_OUT } });
    putRule(SET.A_OUT, B.identity, UDP, [{ lo: 53, hi: 53 }]);
    putRule(SET.A_OUT, B.identity, TCP, [{ lo: 80, hi: 80 }]);
    const c = moved(() => {
      expect(udp(A, B, 53)).toBe(true);
      expect(tcp(A, B, 80)).toBe(true);
      expect(udp(A, B, 80)).toBe(false);
      expect(tcp(A, C, 80)).toBe(false);
      expect(ping(A, B)).toBe(false);
    });
    expect(c['from_pod/dropped/POLICY_EGRESS']).toBeGreaterThanOrEqual(3);
    expect(c['to_pod/dropped/POLICY_INGRESS'] ?? 0).toBe(0);
  });

  it('port ranges at the egress edge: 8000-8010', () => {
    setPods({ a: { policyOut: SET.A_OUT } });
    putRule(SET.A_OUT, B.identity, UDP, [{ lo: 8000, hi: 8010 }]);
    expect([7999, 8000, 8010, 8011].map((p) => udp(A, B, p))).toEqual([false, true, true, false]);
  });
});

describe('ipBlock with except, through the LPM trie', () => {
  it('an except of one policy does not remove what another allows', () => {
    // policy 1: ipBlock 10.244.0.0/16 except 10.244.1.0/24 and 10.244.3.0/24, TCP 80
    // policy 2: ipBlock 10.244.1.0/24, TCP 80
    // the compile's entries: /16 -> 80; 10.244.1.0/24 -> 80 (policy 2); 10.244.3.0/24 -> nothing
    setPods({ b: { policyIn: SET.B_IN } });
    putBlock(SET.B_IN, '10.244.0.0/16', TCP, [{ lo: 80, hi: 80 }]);
    putBlock(SET.B_IN, '10.244.1.0/24', TCP, [{ lo: 80, hi: 80 }]);
    putBlock(SET.B_IN, '10.244.3.0/24', TCP, []);
    const c = moved(() => {
      expect(tcp(A, B, 80), 'A: in policy 1’s except, allowed by policy 2').toBe(true);
      expect(tcp(C, B, 80), 'C: in policy 1’s except only').toBe(false);
      expect(tcp(A, B, 81), 'A on a port no block allows').toBe(false);
    });
    expect(c['to_pod/dropped/POLICY_INGRESS']).toBeGreaterThanOrEqual(2);
  });

  it('egress to an ipBlock: pods by their address', () => {
    setPods({ a: { policyOut: SET.A_OUT } });
    expect(tcp(A, B, 80)).toBe(false);
    putBlock(SET.A_OUT, '10.244.2.0/24', ANY, ALL_PORTS);
    expect(tcp(A, B, 80), 'B is in the block').toBe(true);
    expect(ping(A, B), 'a block without ports: ICMP too').toBe(true);
    expect(tcp(A, C, 80), 'C is not').toBe(false);
  });
});

describe('replies pass through vrfwall’s sessions; the reverse opening is denied', () => {
  for (const proto of ['TCP', 'UDP'] as const) {
    it(`${proto}: A -> B:80 works with A egress-only-to-B:80, B ingress-only-from-A:80, B egress and A ingress default-deny`, () => {
      setPods({ a: { policyIn: SET.A_IN, policyOut: SET.A_OUT }, b: { policyIn: SET.B_IN, policyOut: SET.B_OUT } });
      const P = proto === 'TCP' ? TCP : UDP;
      putRule(SET.A_OUT, B.identity, P, [{ lo: 80, hi: 80 }]);
      putRule(SET.B_IN, A.identity, P, [{ lo: 80, hi: 80 }]);
      const send = proto === 'TCP' ? tcp : udp;
      const c = moved(() => {
        expect(send(A, B, 80), 'the allowed connection and its replies, through both hooks of both pods').toBe(true);
        expect(send(B, A, 80), 'the reverse opening').toBe(false);
      });
      expect(c['from_pod/dropped/POLICY_EGRESS'], 'B’s opening stopped at its own from_pod').toBeGreaterThanOrEqual(1);
      expect(c['to_pod/dropped/POLICY_INGRESS'] ?? 0).toBe(0);
      const mine = sessions().filter((k) => k.saddr === A.addr && k.daddr === B.addr && k.dport === 80 && k.protocol === proto);
      expect(mine.length, 'one session per connection (both hooks share it)').toBe(1);
      expect(sessions().filter((k) => k.saddr === B.addr), 'B opened nothing').toEqual([]);
    });
  }
});

describe('policy applies after segmentation', () => {
  it('a policy allowing everything never opens what segmentation denies (ISOLATED stays ISOLATED)', () => {
    setPods({ c: { vrf: VRF.OTHER }, b: { policyIn: SET.B_IN } });
    putRule(SET.B_IN, C.identity, ANY, ALL_PORTS);
    putRule(SET.B_IN, A.identity, ANY, ALL_PORTS);
    putBlock(SET.B_IN, '0.0.0.0/0', ANY, ALL_PORTS);
    const c = moved(() => {
      expect(tcp(A, B, 80), 'control: same network, allowed by policy').toBe(true);
      expect(tcp(C, B, 80)).toBe(false);
      expect(ping(C, B)).toBe(false);
    });
    expect(c['from_pod/dropped/ISOLATED']).toBeGreaterThanOrEqual(2);
    expect(c['to_pod/dropped/POLICY_INGRESS'] ?? 0).toBe(0);
  });
});

describe('policy changes reach running connections', () => {
  it('a policy removed cuts an established flow at its next packet (the epoch retires its cached verdict); the sweep removes its session', async () => {
    setPods({ b: { policyIn: SET.B_IN } });
    putRule(SET.B_IN, A.identity, TCP, [{ lo: 80, hi: 80 }]);
    const s = new Stream(A, B, 80);
    try {
      const sport = await s.open();
      for (let i = 0; i < 5; i++) expect(await s.roundTrip()).toBe(true);
      const k: abi.SessionKey = { saddr: A.addr, daddr: B.addr, sport, dport: 80, protocol: 'TCP' };
      expect(sessionOf(k)).toBeDefined();
      // B's interface keeps the connection's verdict in the cache, TIMED (it rests on the session); which direction
      // depends on the last packet (one that touches a session clears the other direction's entry)
      const row = flowTable(n, dp.mapFd(abi.FlowMapName.flows)).find((r) => r.key.ifindex === B.ifindex && r.key.peerPort === sport);
      const entries = [abi.Direction.FROM_POD, abi.Direction.TO_POD].map((d) => abi.cacheEntry(row!.value.cache, d)).filter((e) => e !== undefined);
      expect(entries.length).toBeGreaterThan(0);
      for (const e of entries) expect(e).toMatchObject({ verdict: abi.Verdict.ALLOWED, timed: true });

      // remove the rule, and raise the epoch as the map writer does
      n.mapDelete(dp.mapFd(abi.MapName.policy), abi.encodePolicyKey({ set: SET.B_IN, identity: A.identity, proto: TCP, slot: 0 }));
      dp.retire();
      const c = await movedAsync(async () => {
        expect(await s.roundTrip(), 'cut').toBe(false);
      });
      expect(c['to_pod/dropped/POLICY_INGRESS']).toBeGreaterThanOrEqual(1);

      const swept = dp.sweepSessions();
      expect(swept.revoked).toBeGreaterThanOrEqual(1);
      expect(sessionOf(k), 'revoked by session_gc').toBeUndefined();
    } finally {
      s.close();
    }
  });

  it('the sweep keeps the sessions the policy still allows and removes those it no longer does', () => {
    setPods({ b: { policyIn: SET.B_IN } });
    putRule(SET.B_IN, A.identity, UDP, [{ lo: 53, hi: 53 }]);
    putRule(SET.B_IN, C.identity, UDP, [{ lo: 53, hi: 53 }]);
    expect(udp(A, B, 53, 40053)).toBe(true);
    expect(udp(C, B, 53, 40054)).toBe(true);
    const ka: abi.SessionKey = { saddr: A.addr, daddr: B.addr, sport: 40053, dport: 53, protocol: 'UDP' };
    const kc: abi.SessionKey = { saddr: C.addr, daddr: B.addr, sport: 40054, dport: 53, protocol: 'UDP' };
    expect(sessionOf(ka)).toBeDefined();
    expect(sessionOf(kc)).toBeDefined();
    // C's rule goes; A's stays
    n.mapDelete(dp.mapFd(abi.MapName.policy), abi.encodePolicyKey({ set: SET.B_IN, identity: C.identity, proto: UDP, slot: 0 }));
    dp.retire();
    const swept = dp.sweepSessions();
    expect(swept.revoked).toBe(1);
    expect(sessionOf(ka), 'still allowed: kept').toBeDefined();
    expect(sessionOf(kc), 'no longer allowed: removed').toBeUndefined();
  });

  it('a pod moved to another network: the sweep removes the session policy made (segmentation re-judged)', () => {
    setPods({ b: { policyIn: SET.B_IN } });
    putRule(SET.B_IN, A.identity, UDP, [{ lo: 53, hi: 53 }]);
    expect(udp(A, B, 53, 40055)).toBe(true);
    const k: abi.SessionKey = { saddr: A.addr, daddr: B.addr, sport: 40055, dport: 53, protocol: 'UDP' };
    expect(sessionOf(k)).toBeDefined();
    expect(dp.sweepSessions().revoked, 'nothing changed: kept').toBe(0);
    const notA = (): string[] => sessions().filter((x) => x.saddr !== A.addr && x.daddr !== A.addr).map((x) => JSON.stringify(x)).sort();
    const othersBefore = notA();
    setPods({ a: { vrf: VRF.OTHER }, b: { policyIn: SET.B_IN } });
    // at least this one (another live session of A's, e.g. a retransmission's or an earlier case's, goes too)
    expect(dp.sweepSessions().revoked).toBeGreaterThanOrEqual(1);
    expect(sessionOf(k)).toBeUndefined();
    expect(sessions().filter((x) => x.saddr === A.addr || x.daddr === A.addr), 'no session of A is left').toEqual([]);
    expect(notA(), 'sessions not of A are kept').toEqual(othersBefore);
  });
});

// ---- crafted frames through BPF_PROG_TEST_RUN (IPv6, probes, corner cases of the maps) ----------

/** Parties on the test process's loopback (HERE): both families; identities of their own. */
const Q = {
  x: { v4: '10.244.7.10', v6: 'fd00:10:244:7::10' }, // local, selected by policy
  y: { v4: '10.244.8.20', v6: 'fd00:10:244:8::20' }, // remote, same network
  z: { v4: '10.244.8.30', v6: 'fd00:10:244:8::30' }, // remote, same network, another identity
  node: { v4: '192.168.77.1', v6: 'fd00:77::1' }, // the node
  vip: { v4: '10.96.7.10', v6: 'fd00:10:96::7:10' }, // a ClusterIP network MAIN may use
} satisfies Record<string, Party>;
const QID = { x: 201, y: 202, z: 203 } as const;
const QSET = { X_IN: 11, X_OUT: 12 } as const;
const { AllowRule: Rule, DropReason: Drop } = abi;

function qFrame(src: string, dst: string, proto: number, sport: number, dport: number, tcpFlags = 0x02): Buffer {
  const body =
    proto === TCP ? pk.tcp({ sport, dport, flags: tcpFlags }) : proto === UDP ? pk.udp({ sport, dport }) : pk.icmpEcho({});
  const ip = proto === pk.IpProto.ICMP && pk.isV6(src) ? pk.IpProto.ICMPV6 : proto;
  const l4 = proto === pk.IpProto.ICMP && pk.isV6(src) ? pk.icmpv6(128) : body;
  return pk.isV6(src) ? pk.ipv6Frame(src, dst, [], ip, l4) : pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src, dst, protocol: ip }, l4));
}

/** An ICMP (v4) or ICMPv6 echo request or reply with this identifier. */
function echo(src: string, dst: string, reply: boolean, id: number): Buffer {
  const idSeq = Buffer.from([id >> 8, id & 0xff, 0, 1]);
  if (pk.isV6(src)) return pk.ipv6Frame(src, dst, [], pk.IpProto.ICMPV6, pk.icmpv6(reply ? 129 : 128, idSeq));
  return pk.ethernet({ type: pk.EthType.IPV4 }, pk.ipv4({ src, dst, protocol: pk.IpProto.ICMP }, pk.icmpEcho({ type: reply ? 0 : 8, id })));
}

function putQ(o: { xIn?: number; xOut?: number } = {}): void {
  const put = (party: Party, ep: abi.EndpointValue) => {
    for (const addr of [party.v4, party.v6]) n.mapUpdate(dp.mapFd(abi.MapName.endpoints), abi.encodeEndpointKey(addr), abi.encodeEndpoint(ep));
  };
  put(Q.x, { vrfId: VRF.MAIN, flags: abi.VW_EP_LOCAL, ifindex: HERE, identity: QID.x, policyIn: o.xIn ?? 0, policyOut: o.xOut ?? 0 });
  put(Q.y, { vrfId: VRF.MAIN, flags: 0, ifindex: 0, identity: QID.y });
  put(Q.z, { vrfId: VRF.MAIN, flags: 0, ifindex: 0, identity: QID.z });
  put(Q.node, { vrfId: 0, flags: abi.VW_EP_HOST | abi.VW_EP_THIS_NODE, ifindex: 0 });
  dp.retire();
}

describe('crafted frames: IPv6, explain probes, the maps’ corner cases', () => {
  // A datapath of their own (its own pins, maps and counters): expectVerdict compares the counters exactly, and the
  // namespaces above keep sending now and then (late retransmissions, IPv6 autoconfiguration). The helpers above
  // (putRule, sessions, ... and the file's beforeEach) work on `dp`, so it points here meanwhile.
  let namespaces: TestDatapath;
  beforeAll(() => {
    namespaces = dp;
    dp = new TestDatapath(n, freshPinRoot('dppolicy-crafted-'));
    dp.putCidrs(CLUSTER_CIDRS);
  });
  afterAll(() => {
    dp.close();
    dp = namespaces;
  });

  for (const fam of ['v4', 'v6'] as const) {
    it(`IPv${fam === 'v4' ? 4 : 6}: ingress by identity and port, egress, a proto-0 rule for ICMP, the node exempt from ingress`, () => {
      putQ({ xIn: QSET.X_IN, xOut: QSET.X_OUT });
      putRule(QSET.X_IN, QID.y, TCP, [{ lo: 80, hi: 80 }]);
      putRule(QSET.X_OUT, QID.y, UDP, [{ lo: 53, hi: 53 }]);
      putRule(QSET.X_OUT, QID.z, ANY, ALL_PORTS);
      const [x, y, z, node] = [Q.x[fam], Q.y[fam], Q.z[fam], Q.node[fam]];
      dp.expectVerdict('to', qFrame(y, x, TCP, 30001, 80), allow(Rule.SAME_NETWORK));
      dp.expectVerdict('to', qFrame(y, x, TCP, 30002, 81), drop(Drop.POLICY_INGRESS));
      dp.expectVerdict('to', qFrame(z, x, TCP, 30003, 80), drop(Drop.POLICY_INGRESS));
      dp.expectVerdict('to', qFrame(node, x, TCP, 30004, 81), allow(Rule.NOT_POD));
      dp.expectVerdict('from', qFrame(x, y, UDP, 30005, 53), allow(Rule.SAME_NETWORK));
      dp.expectVerdict('from', qFrame(x, y, UDP, 30006, 54), drop(Drop.POLICY_EGRESS));
      dp.expectVerdict('from', qFrame(x, y, pk.IpProto.ICMP, 0, 0), drop(Drop.POLICY_EGRESS));
      dp.expectVerdict('from', qFrame(x, z, pk.IpProto.ICMP, 0, 0), allow(Rule.SAME_NETWORK));
      // the reply of the allowed TCP opening passes x's egress set, which has no rule for y's port
      dp.expectVerdict('from', qFrame(x, y, TCP, 80, 30001, 0x12), allow(Rule.SAME_NETWORK));
      // and the reply to the node's connection (its session made at x's to_pod)
      dp.expectVerdict('from', qFrame(x, node, TCP, 81, 30004, 0x12), allow(Rule.NOT_POD));
    });
  }

  for (const fam of ['v4', 'v6'] as const) {
    it(`IPv${fam === 'v4' ? 4 : 6}: an echo reply passes only as the reply of an echo request policy let through (same identifier)`, () => {
      putQ({ xIn: QSET.X_IN, xOut: QSET.X_OUT });
      putRule(QSET.X_OUT, QID.y, ANY, ALL_PORTS);
      const [x, y] = [Q.x[fam], Q.y[fam]];
      dp.expectVerdict('from', echo(x, y, false, 0x1234), allow(Rule.SAME_NETWORK));
      dp.expectVerdict('to', echo(y, x, true, 0x1234), allow(Rule.SAME_NETWORK));
      dp.expectVerdict('to', echo(y, x, true, 0x1235), drop(Drop.POLICY_INGRESS)); // no request with that identifier
      dp.expectVerdict('to', echo(y, x, false, 0x1234), drop(Drop.POLICY_INGRESS)); // a request is no reply
      expect(sessions()).toEqual([{ saddr: x, daddr: y, sport: 0x1234, dport: 0, protocol: fam === 'v4' ? 'ICMP' : 'ICMPV6' }]);
    });
  }

  it('IPv6 neighbour discovery is never judged by policy (the control: other traffic to the same addresses is)', () => {
    putQ({ xIn: QSET.X_IN, xOut: QSET.X_OUT });
    const x = Q.x.v6;
    const gw = 'fe80::1';
    const nd = (src: string, dst: string, msg: Buffer) => pk.ipv6Frame(src, dst, [], pk.IpProto.ICMPV6, msg, { hopLimit: 255 });
    dp.expectVerdict('from', nd(x, pk.solicitedNode('fd00:10:244:7::1'), pk.nd.neighborSolicit('fd00:10:244:7::1')), allow(Rule.NOT_POD));
    dp.expectVerdict('from', nd(x, gw, pk.nd.neighborAdvert(x)), allow(Rule.NOT_POD));
    dp.expectVerdict('from', qFrame(x, gw, UDP, 30500, 53), drop(Drop.POLICY_EGRESS));
    dp.expectVerdict('from', qFrame(x, pk.solicitedNode('fd00:10:244:7::1'), UDP, 30501, 53), drop(Drop.POLICY_EGRESS));
  });

  it('an explain probe decides as a real packet but makes no session', () => {
    putQ({ xIn: QSET.X_IN });
    putRule(QSET.X_IN, QID.y, UDP, [{ lo: 53, hi: 53 }]);
    const f = qFrame(Q.y.v4, Q.x.v4, UDP, 30100, 53);
    const out = n.progTestRun(dp.toPod, f, 1, probeCtx()).ctxOut!;
    expect(probeDecision(out)).toEqual({ verdict: abi.Verdict.ALLOWED, code: Rule.SAME_NETWORK });
    expect(sessions()).toEqual([]);
    const denied = n.progTestRun(dp.toPod, qFrame(Q.z.v4, Q.x.v4, UDP, 30101, 53), 1, probeCtx()).ctxOut!;
    expect(probeDecision(denied)).toEqual({ verdict: abi.Verdict.DROPPED, code: Drop.POLICY_INGRESS });
    // the real packet makes it (the control)
    dp.expectVerdict('to', f, allow(Rule.SAME_NETWORK));
    expect(sessions()).toEqual([{ saddr: Q.y.v4, daddr: Q.x.v4, sport: 30100, dport: 53, protocol: 'UDP' }]);
  });

  it('LPM slots: a longer block’s slot 0 without MORE is the whole answer, a shorter block’s slot 1 never adds to it', () => {
    putQ({ xOut: QSET.X_OUT });
    const sixteen = Array.from({ length: abi.VW_POLICY_RANGES }, (_, i) => ({ lo: 1000 + i, hi: 1000 + i }));
    // egress to outside addresses: the /16 has 16 ranges + MORE and 53 in slot 1; the /24 inside it (an
    // except's union, say) holds exactly 16 ranges, without MORE
    putBlock(QSET.X_OUT, '8.8.0.0/16', UDP, sixteen, 0, abi.VW_POLICY_MORE);
    putBlock(QSET.X_OUT, '8.8.0.0/16', UDP, [{ lo: 53, hi: 53 }], 1);
    putBlock(QSET.X_OUT, '8.8.8.0/24', UDP, sixteen, 0);
    const to = (addr: string, dport: number) => qFrame(Q.x.v4, addr, UDP, 30200 + (dport % 100), dport);
    dp.expectVerdict('from', to('8.8.9.9', 53), allow(Rule.NOT_POD)); // only the /16: its slot 1 counts (the control)
    dp.expectVerdict('from', to('8.8.8.8', 1003), allow(Rule.NOT_POD)); // the /24's own ranges
    dp.expectVerdict('from', to('8.8.8.8', 53), drop(Drop.POLICY_EGRESS)); // not the /16's slot 1
  });

  it('a ClusterIP under egress policy: its /32 entry allows the connection; the reply from the VIP passes ingress through the rule-3 session', () => {
    putQ({ xIn: QSET.X_IN, xOut: QSET.X_OUT });
    for (const fam of ['v4', 'v6'] as const) {
      n.mapUpdate(dp.mapFd(abi.MapName.services), abi.encodeSvcKey({ addr: Q.vip[fam], port: 53, protocol: 'UDP', clientVrf: VRF.MAIN }), abi.encodeSvcValue({ svcVrf: VRF.MAIN, flags: 0 }));
    }
    putBlock(QSET.X_OUT, `${Q.vip.v4}/32`, UDP, [{ lo: 53, hi: 53 }]);
    putBlock(QSET.X_OUT, `${Q.vip.v6}/128`, UDP, [{ lo: 53, hi: 53 }]);
    for (const fam of ['v4', 'v6'] as const) {
      const [x, vip] = [Q.x[fam], Q.vip[fam]];
      dp.expectVerdict('from', qFrame(x, vip, UDP, 30300, 53), allow(Rule.SERVICE));
      const s = sessionOf({ saddr: x, daddr: vip, sport: 30300, dport: 53, protocol: 'UDP' });
      expect(s?.rule).toBe(Rule.SERVICE);
      expect(s!.flags & abi.VW_SESS_POLICY, 'the rule-3 session is marked as policy’s too').toBe(abi.VW_SESS_POLICY);
      dp.expectVerdict('to', qFrame(vip, x, UDP, 53, 30300), allow(Rule.REPLY));
      dp.expectVerdict('to', qFrame(vip, x, UDP, 53, 30301), drop(Drop.NO_SESSION)); // no connection: segmentation's NO_SESSION first
    }
    // remove the VIP's policy entry: the sweep revokes the session policy no longer allows
    n.mapDelete(dp.mapFd(abi.MapName.policyCidrs), abi.encodePolicyCidrKey({ set: QSET.X_OUT, proto: UDP, slot: 0, cidr: `${Q.vip.v4}/32` }));
    dp.retire();
    expect(dp.sweepSessions().revoked).toBe(1);
    expect(sessionOf({ saddr: Q.x.v4, daddr: Q.vip.v4, sport: 30300, dport: 53, protocol: 'UDP' })).toBeUndefined();
    expect(sessionOf({ saddr: Q.x.v6, daddr: Q.vip.v6, sport: 30300, dport: 53, protocol: 'UDP' }), 'the v6 one is still allowed').toBeDefined();
  });

  it('audit mode never relaxes policy: an audited ISOLATED pair is still judged by policy', () => {
    putQ({ xIn: QSET.X_IN });
    n.mapUpdate(dp.mapFd(abi.MapName.endpoints), abi.encodeEndpointKey(Q.z.v4), abi.encodeEndpoint({ vrfId: VRF.OTHER, flags: 0, ifindex: 0, identity: QID.z }));
    dp.putConfig({ flags: abi.VW_CFG_AUDIT });
    try {
      putRule(QSET.X_IN, QID.z, UDP, [{ lo: 53, hi: 53 }]);
      dp.expectVerdict('to', qFrame(Q.z.v4, Q.x.v4, UDP, 30400, 53), { audit: Drop.ISOLATED });
      dp.expectVerdict('to', qFrame(Q.z.v4, Q.x.v4, UDP, 30401, 54), drop(Drop.POLICY_INGRESS));
    } finally {
      dp.putConfig({});
    }
  });
});
