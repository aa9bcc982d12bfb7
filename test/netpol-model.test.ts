// NetworkPolicy in the model (issue 16), without the kernel: a semantics
// table. Each case is a small cluster with a few policies and the expected
// allow/deny of every (source, destination, protocol, port) probed, written
// by hand from the Kubernetes NetworkPolicy spec (everything not listed as
// allowed is denied, so each table is its own positive and negative
// control). Every probe is judged twice: by the verdict evaluator (what-if,
// explain) and by the datapath's lookup over the compile's own map contents
// (endpoint fields + `policy` + `policy_cidrs`, policy-entries.ts EntryLookup,
// which mirrors bpf/lib/netpol.h); both must give the table's answer.
// The kernel side is npdp's test/datapath-policy*.test.ts; the lab truth
// tables are nplab's.
import { describe, expect, it } from 'vitest';
import { compile } from '../src/model/compile.js';
import { EntryLookup } from '../src/model/policy-entries.js';
import { parsePolicyCidrKeyText, parsePolicyKeyText, policyCidrPrefixLen } from '../src/model/policy-types.js';
import { VerdictEvaluator, judgeConnection, passes } from '../src/model/verdict.js';
import { VW_EP_HOST } from '../src/kernel/abi.js';
import { PolicyNamer } from '../src/flows/policy-name.js';
import type { Flow, FlowEndpoint } from '../src/flows/types.js';
import { toFlowMsg } from '../src/api/convert.js';
import { flowRow } from '../src/cli/flows.js';
import { whatIf } from '../src/api/whatif.js';
import { parseManifests } from '../src/sources/documents.js';
import type { ClusterConfig, ClusterState, ContainerPort, DesiredState, LabelSelector, NetworkPolicyObject, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicyRule, PodObject } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { cluster, ns, pod, sel, svc } from './helpers/cluster.js';

const config: ClusterConfig = { nodeName: 'n1', podCIDRs: ['10.244.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] };
const NODE = '192.168.50.1';
const EXT = '203.0.113.5';

// The grid: two namespaces, two pods each (same network: segmentation allows every pair).
const IP: Record<string, string> = { 'x/a': '10.244.1.1', 'x/b': '10.244.1.2', 'y/a': '10.244.1.3', 'y/b': '10.244.1.4', ext: EXT, node: NODE };
const http = (port: number): ContainerPort => ({ containerPort: port, protocol: 'TCP', name: 'http' });
const PODS: PodObject[] = [
  pod('x/a', [IP['x/a']!], { labels: { app: 'a' }, ports: [http(8080)] }),
  pod('x/b', [IP['x/b']!], { labels: { app: 'b' }, ports: [http(9090)] }),
  pod('y/a', [IP['y/a']!], { labels: { app: 'a' } }),
  pod('y/b', [IP['y/b']!], { labels: { app: 'b', tier: 'db' } }),
];
const NAMESPACES = [ns('x', { labels: { team: 'x' } }), ns('y', { labels: { team: 'y' } })];
const GRID = ['x/a', 'x/b', 'y/a', 'y/b'];

function np(key: string, spec: { podSelector?: LabelSelector; types?: ('Ingress' | 'Egress')[]; ingress?: NetworkPolicyRule[]; egress?: NetworkPolicyRule[] }): NetworkPolicyObject {
  const [namespace, name] = key.split('/') as [string, string];
  return {
    kind: 'NetworkPolicy',
    metadata: { namespace, name, labels: {}, annotations: {} },
    spec: { podSelector: spec.podSelector ?? sel({}), policyTypes: spec.types ?? (spec.egress ? ['Ingress', 'Egress'] : ['Ingress']), ingress: spec.ingress ?? [], egress: spec.egress ?? [] },
  };
}
const rule = (peers: NetworkPolicyPeer[], ports: NetworkPolicyPort[] = []): NetworkPolicyRule => ({ peers, ports });
const pods = (podSelector?: LabelSelector, namespaceSelector?: LabelSelector): NetworkPolicyPeer => ({ kind: 'pods', ...(podSelector ? { podSelector } : {}), ...(namespaceSelector ? { namespaceSelector } : {}) });
const block = (cidr: string, except: string[] = []): NetworkPolicyPeer => ({ kind: 'ipBlock', cidr, except });
const tcp = (port: number, endPort?: number): NetworkPolicyPort => ({ protocol: 'TCP', port, ...(endPort ? { endPort } : {}) });

type Probe = { proto: 'TCP' | 'UDP' | 'SCTP' | 'ICMP'; port: number };
const PROTO = { TCP: 6, UDP: 17, SCTP: 132, ICMP: 1 } as const;
const probeText = (p: Probe): string => (p.proto === 'ICMP' ? 'ICMP' : `${p.proto}/${p.port}`);

function build(policies: NetworkPolicyObject[], extra: Partial<Parameters<typeof cluster>[0]> = {}, cfg: ClusterConfig = config): { state: ClusterState; desired: DesiredState } {
  const podList = [...PODS, ...(extra.pods ?? [])];
  const state = cluster({ namespaces: NAMESPACES, nodes: { n1: [NODE] }, ...extra, pods: podList, networkPolicies: policies });
  // Every pod local to n1, with its host-side interface: the compile writes their sets.
  const ifaces = new Map(podList.flatMap((p, i) => p.status.podIPs.map((ip): [string, number] => [ip, 100 + i])));
  return { state, desired: compile(state, cfg, ifaces, emptyAllocation()) };
}

/** The datapath's answer from the compile's map contents (from_pod egress, then to_pod ingress). */
function byMaps(d: DesiredState, src: string, dst: string, p: Probe): boolean {
  const look = new EntryLookup({ policy: d.policy, cidrs: d.policyCidrs });
  const proto = p.proto === 'ICMP' ? 0 : PROTO[p.proto];
  const port = p.proto === 'ICMP' ? 0 : p.port;
  const s = d.endpoints.get(src);
  const t = d.endpoints.get(dst);
  if (s !== undefined && (s.flags & VW_EP_HOST) === 0 && (s.policyOut ?? 0) !== 0 && !look.allows(s.policyOut!, t?.identity ?? 0, dst, proto, port)) return false;
  const fromNode = s !== undefined && (s.flags & VW_EP_HOST) !== 0;
  if (t !== undefined && (t.flags & VW_EP_HOST) === 0 && (t.policyIn ?? 0) !== 0 && !fromNode && !look.allows(t.policyIn!, s?.identity ?? 0, src, proto, port)) return false;
  return true;
}

function byEvaluator(d: DesiredState, src: string, dst: string, p: Probe): boolean {
  const ev = new VerdictEvaluator(d);
  return passes(judgeConnection(ev, { src, dst, protocol: PROTO[p.proto], sport: 40000, dport: p.port }).verdict);
}

/**
 * Every ordered pair of `who` (names of IP) on every probe: allowed exactly
 * when "src->dst probe" is in `allowed` ("*" for the probe: every probe).
 */
function expectTable(d: DesiredState, who: string[], probes: Probe[], allowed: string[]): void {
  const want = new Set(allowed);
  const got: string[] = [];
  const wrong: string[] = [];
  for (const src of who) {
    for (const dst of who) {
      if (src === dst || (src === 'ext' && dst === 'node') || (src === 'node' && dst === 'ext') || (src === 'ext' && dst === 'ext')) continue;
      for (const p of probes) {
        const k = `${src}->${dst} ${probeText(p)}`;
        const expected = want.has(k) || want.has(`${src}->${dst} *`);
        const ev = byEvaluator(d, IP[src]!, IP[dst]!, p);
        const maps = byMaps(d, IP[src]!, IP[dst]!, p);
        if (ev) got.push(k);
        if (ev !== expected || maps !== expected) wrong.push(`${k}: expected ${expected ? 'allow' : 'deny'}, evaluator ${ev ? 'allow' : 'deny'}, maps ${maps ? 'allow' : 'deny'}`);
      }
    }
  }
  expect(wrong).toEqual([]);
  expect(got.length).toBeGreaterThan(0); // something passes: the table is no blanket deny
}

const BASIC: Probe[] = [
  { proto: 'TCP', port: 80 },
  { proto: 'UDP', port: 80 },
  { proto: 'SCTP', port: 80 },
  { proto: 'ICMP', port: 0 },
];
/** every pair of `who` except those with an end in `except` */
const allPairs = (who: string[], keep: (src: string, dst: string) => boolean): string[] => who.flatMap((s) => who.filter((t) => t !== s && keep(s, t)).map((t) => `${s}->${t} *`));

describe('NetworkPolicy semantics (compile + evaluator + map lookups, by hand from the Kubernetes spec)', () => {
  it('no policy: everything open, no policy state at all', () => {
    const { desired } = build([]);
    expect(desired.policy.size + desired.policyCidrs.size + desired.policyInfo.sets.size + desired.policyInfo.identities.size).toBe(0);
    expect([...desired.endpoints.values()].some((e) => e.identity !== undefined || e.policyIn !== undefined)).toBe(false);
    expectTable(desired, [...GRID, 'ext'], BASIC, allPairs([...GRID, 'ext'], () => true));
  });

  it('default deny ingress in x: nothing reaches x (ICMP neither), x still sends, the node still reaches x', () => {
    const { desired } = build([np('x/deny', { types: ['Ingress'] })]);
    const who = [...GRID, 'ext', 'node'];
    expectTable(desired, who, BASIC, allPairs(who, (s, t) => !t.startsWith('x/') || s === 'node'));
  });

  it('default deny egress in x: x sends nothing (to pods, outside, or the node), everyone else is open', () => {
    const { desired } = build([np('x/deny', { types: ['Egress'] })]);
    const who = [...GRID, 'ext', 'node'];
    expectTable(desired, who, BASIC, allPairs(who, (s) => !s.startsWith('x/')));
  });

  it('namespaceSelector by label: x admits every pod of namespaces labelled team=y, on every protocol', () => {
    const { desired } = build([np('x/from-y', { ingress: [rule([pods(undefined, sel({ team: 'y' }))])] })]);
    const who = [...GRID, 'ext'];
    expectTable(desired, who, BASIC, allPairs(who, (s, t) => !t.startsWith('x/') || s.startsWith('y/')));
  });

  it('the namespace name label kubernetes.io/metadata.name matches without being written', () => {
    const { desired } = build([np('x/from-y', { ingress: [rule([pods(undefined, sel({ 'kubernetes.io/metadata.name': 'y' }))])] })]);
    expectTable(desired, GRID, BASIC, allPairs(GRID, (s, t) => !t.startsWith('x/') || s.startsWith('y/')));
  });

  it('pod and namespace selectors in one peer: only app=b pods of team=y namespaces reach x/a, on TCP 80 only', () => {
    const { desired } = build([np('x/a-from-yb', { podSelector: sel({ app: 'a' }), ingress: [rule([pods(sel({ app: 'b' }), sel({ team: 'y' }))], [tcp(80)])] })]);
    const probes: Probe[] = [...BASIC, { proto: 'TCP', port: 81 }];
    const open = allPairs(GRID, (_s, t) => t !== 'x/a');
    expectTable(desired, GRID, probes, [...open, 'y/b->x/a TCP/80']);
  });

  it('two peers (podSelector; namespaceSelector) are a union, not the combination', () => {
    const { desired } = build([np('x/a-from', { podSelector: sel({ app: 'a' }), ingress: [rule([pods(sel({ app: 'b' })), pods(undefined, sel({ team: 'y' }))])] })]);
    const open = allPairs(GRID, (_s, t) => t !== 'x/a');
    expectTable(desired, GRID, BASIC, [...open, 'x/b->x/a *', 'y/a->x/a *', 'y/b->x/a *']);
  });

  it('matchExpressions: Exists selects the pod; In on namespaces and NotIn on pods pick the peers', () => {
    const { desired } = build([
      np('y/db', {
        podSelector: sel({}, [{ key: 'tier', operator: 'Exists', values: [] }]),
        ingress: [rule([pods(sel({}, [{ key: 'app', operator: 'NotIn', values: ['b'] }]), sel({}, [{ key: 'team', operator: 'In', values: ['x'] }]))])],
      }),
      // DoesNotExist: every pod without a tier label is isolated for egress and may reach only y/b
      np('y/no-tier', { podSelector: sel({}, [{ key: 'tier', operator: 'DoesNotExist', values: [] }]), types: ['Egress'], egress: [rule([pods(sel({ tier: 'db' }))])] }),
    ]);
    const open = allPairs(GRID, (s, t) => t !== 'y/b' && s !== 'y/a');
    // y/a (no tier) may send only to y/b, and y/b admits only x/a: y/a reaches nobody
    expectTable(desired, GRID, BASIC, [...open, 'x/a->y/b *']);
  });

  it('ipBlock with except across two policies: an except of one never removes what the other allows', () => {
    const { desired } = build([
      // 10.244.1.0/24 but not x/b, on TCP 80
      np('x/eg1', { podSelector: sel({ app: 'a' }), types: ['Egress'], egress: [rule([block('10.244.1.0/24', ['10.244.1.2/32'])], [tcp(80)])] }),
      // 10.244.1.2/31 (x/b, y/a) but not y/a, on TCP 81
      np('x/eg2', { podSelector: sel({ app: 'a' }), types: ['Egress'], egress: [rule([block('10.244.1.2/31', ['10.244.1.3/32'])], [tcp(81)])] }),
    ]);
    const probes: Probe[] = [{ proto: 'TCP', port: 80 }, { proto: 'TCP', port: 81 }, { proto: 'UDP', port: 80 }, { proto: 'ICMP', port: 0 }];
    const who = [...GRID, 'ext'];
    const open = allPairs(who, (s) => s !== 'x/a');
    expectTable(desired, who, probes, [...open, 'x/a->x/b TCP/81', 'x/a->y/a TCP/80', 'x/a->y/b TCP/80']);
    // the trie holds every block and every except, each with its own answer
    const cidrs = [...desired.policyCidrs.keys()].map(parsePolicyCidrKeyText);
    expect(new Set(cidrs.map((k) => k.cidr))).toEqual(new Set(['10.244.1.0/24', '10.244.1.2/32', '10.244.1.2/31', '10.244.1.3/32']));
    expect(policyCidrPrefixLen('10.244.1.0/24')).toBe(64 + 96 + 24);
  });

  it('ipBlock families: an IPv6 block (::/0, ::/64) matches IPv6 peers only, though the trie holds IPv4 as ::ffff:a.b.c.d', () => {
    const dual: ClusterConfig = { nodeName: 'n1', podCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'], serviceCIDRs: ['10.96.0.0/16'] };
    const extra = { pods: [pod('x/v6', ['10.244.1.7', 'fd00:10:244::7'], { labels: { app: 'v6' } }), pod('y/v6', ['10.244.1.8', 'fd00:10:244::8'], { labels: { app: 'peer' } })] };
    const EXT6 = '2001:db8::5';
    const both = (d: DesiredState, src: string, dst: string, p: Probe): string => `${byEvaluator(d, src, dst, p) ? 'allow' : 'deny'}/${byMaps(d, src, dst, p) ? 'allow' : 'deny'}`;
    const T80: Probe = { proto: 'TCP', port: 80 };
    const T81: Probe = { proto: 'TCP', port: 81 };

    // ::/0 on TCP 80 and nothing for IPv4: IPv6 peers on TCP 80 only, no IPv4 peer at all
    const only6 = build([np('x/v6-only', { podSelector: sel({ app: 'v6' }), types: ['Egress'], egress: [rule([block('::/0')], [tcp(80)])] })], extra, dual).desired;
    expect(both(only6, 'fd00:10:244::7', EXT6, T80)).toBe('allow/allow'); // positive controls
    expect(both(only6, 'fd00:10:244::7', 'fd00:10:244::8', T80)).toBe('allow/allow');
    expect(both(only6, 'fd00:10:244::7', EXT6, T81)).toBe('deny/deny');
    expect(both(only6, '10.244.1.7', EXT, T80)).toBe('deny/deny');
    expect(both(only6, '10.244.1.7', '10.244.1.8', T80)).toBe('deny/deny');
    expect(both(only6, '10.244.1.7', '::ffff:203.0.113.5', T80)).toBe('deny/deny'); // the mapped spelling is the same IPv4 peer
    // the guard: 0.0.0.0/0 (the key ::ffff:0:0/96) with no ranges, so the longest match for IPv4 is never ::/0
    const set6 = only6.endpoints.get('10.244.1.7')!.policyOut!;
    const keys6 = [...only6.policyCidrs].map(([k, v]) => [parsePolicyCidrKeyText(k), v] as const).filter(([k]) => k.set === set6);
    expect(keys6.map(([k, v]) => `${k.cidr} ${k.proto} ${v.ranges.length}`).sort()).toEqual(['0.0.0.0/0 6 0', '::/0 6 1']);

    // ::/64 on TCP 80 with 0.0.0.0/0 except 10.244.0.0/16 on TCP 81: the guard carries the IPv4 union (TCP 81)
    const mixed = build(
      [
        np('x/v6-64', { podSelector: sel({ app: 'v6' }), types: ['Egress'], egress: [rule([block('::/64')], [tcp(80)])] }),
        np('x/v4-out', { podSelector: sel({ app: 'v6' }), types: ['Egress'], egress: [rule([block('0.0.0.0/0', ['10.244.0.0/16'])], [tcp(81)])] }),
      ],
      extra,
      dual,
    ).desired;
    expect(both(mixed, 'fd00:10:244::7', '::1:5', T80)).toBe('allow/allow'); // inside ::/64 (and not IPv4)
    expect(both(mixed, 'fd00:10:244::7', EXT6, T80)).toBe('deny/deny'); // outside ::/64
    expect(both(mixed, '10.244.1.7', EXT, T81)).toBe('allow/allow');
    expect(both(mixed, '10.244.1.7', EXT, T80)).toBe('deny/deny');
    expect(both(mixed, '10.244.1.7', '10.244.1.8', T81)).toBe('deny/deny'); // the except
    expect(both(mixed, '10.244.1.7', '10.244.1.8', T80)).toBe('deny/deny');
  });

  it('named ports: ingress resolves the name against each selected pod (x/a http=8080, x/b http=9090)', () => {
    const { desired } = build([np('x/http', { ingress: [rule([pods(undefined, sel({}))], [{ protocol: 'TCP', port: 'http' }])] })]);
    const probes: Probe[] = [{ proto: 'TCP', port: 8080 }, { proto: 'TCP', port: 9090 }, { proto: 'UDP', port: 8080 }];
    const open = allPairs(GRID, (_s, t) => !t.startsWith('x/'));
    const toA = GRID.filter((s) => s !== 'x/a').map((s) => `${s}->x/a TCP/8080`);
    const toB = GRID.filter((s) => s !== 'x/b').map((s) => `${s}->x/b TCP/9090`);
    expectTable(desired, GRID, probes, [...open, ...toA, ...toB]);
    // one port name on two numbers: two policy sets (the pods' own named ports are part of the set)
    expect(desired.endpoints.get(IP['x/a']!)?.policyIn).not.toBe(desired.endpoints.get(IP['x/b']!)?.policyIn);
  });

  it('named ports: egress resolves the name against each destination pod', () => {
    const { desired } = build([np('y/out', { podSelector: sel({ app: 'a' }), types: ['Egress'], egress: [rule([pods(undefined, sel({}))], [{ protocol: 'TCP', port: 'http' }])] })]);
    const probes: Probe[] = [{ proto: 'TCP', port: 8080 }, { proto: 'TCP', port: 9090 }];
    const open = allPairs(GRID, (s) => s !== 'y/a');
    expectTable(desired, GRID, probes, [...open, 'y/a->x/a TCP/8080', 'y/a->x/b TCP/9090']);
  });

  it('endPort: a port range, inclusive at both ends, only for its protocol', () => {
    const { desired } = build([np('x/range', { podSelector: sel({ app: 'b' }), ingress: [rule([pods(sel({}), sel({}))], [tcp(8000, 8100)])] })]);
    const probes: Probe[] = [...[7999, 8000, 8050, 8100, 8101].map((port): Probe => ({ proto: 'TCP', port })), { proto: 'UDP', port: 8050 }];
    const open = allPairs(GRID, (_s, t) => t !== 'x/b');
    const inRange = GRID.filter((s) => s !== 'x/b').flatMap((s) => [8000, 8050, 8100].map((p) => `${s}->x/b TCP/${p}`));
    expectTable(desired, GRID, probes, [...open, ...inRange]);
  });

  it('SCTP: a rule for SCTP 80 admits SCTP 80 only (not TCP 80, not SCTP 81)', () => {
    const { desired } = build([np('y/sctp', { podSelector: sel({ app: 'a' }), ingress: [rule([pods(sel({}), sel({}))], [{ protocol: 'SCTP', port: 80 }])] })]);
    const probes: Probe[] = [{ proto: 'SCTP', port: 80 }, { proto: 'SCTP', port: 81 }, { proto: 'TCP', port: 80 }, { proto: 'UDP', port: 80 }];
    const open = allPairs(GRID, (_s, t) => t !== 'y/a');
    expectTable(desired, GRID, probes, [...open, ...GRID.filter((s) => s !== 'y/a').map((s) => `${s}->y/a SCTP/80`)]);
  });

  it('a rule without ports allows every protocol (ICMP too); a rule with ports never allows ICMP', () => {
    const { desired } = build([
      np('y/b-from-xa', { podSelector: sel({ tier: 'db' }), ingress: [rule([pods(sel({ app: 'a' }), sel({ team: 'x' }))])] }),
      np('y/a-from-xa', { podSelector: sel({ app: 'a' }), ingress: [rule([pods(sel({ app: 'a' }), sel({ team: 'x' }))], [tcp(80)])] }),
    ]);
    const open = allPairs(GRID, (_s, t) => !t.startsWith('y/'));
    expectTable(desired, GRID, BASIC, [...open, 'x/a->y/b *', 'x/a->y/a TCP/80']);
  });

  it('an egress rule without peers reaches every address; a Service VIP is allowed only when every ready backend is', () => {
    const web = (key: string, ip: string): PodObject => pod(key, [ip], { labels: { role: 'web', app: key === 'x/b2' ? 'b' : 'c' }, ports: [http(8080)] });
    const extra = {
      pods: [web('x/b2', '10.244.1.6'), web('x/c', '10.244.1.5')],
      services: [
        svc('x/web-b', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.20'], selector: { app: 'b', role: 'web' } }),
        svc('x/web-all', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.21'], selector: { role: 'web' } }),
        svc('x/nobody', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.22'], selector: { role: 'none' } }),
      ],
    };
    const { desired } = build(
      [
        np('x/a-out', {
          podSelector: sel({ app: 'a' }),
          types: ['Egress'],
          egress: [rule([pods(sel({ app: 'b' }))], [tcp(8080)]), rule([], [{ protocol: 'UDP', port: 53 }]), rule([block('10.96.0.0/16')], [tcp(80)])],
        }),
      ],
      extra,
    );
    IP['vip-b'] = '10.96.0.20';
    IP['vip-all'] = '10.96.0.21';
    IP['vip-none'] = '10.96.0.22';
    IP['x/c'] = '10.244.1.5';
    IP['x/b2'] = '10.244.1.6';
    const ev = new VerdictEvaluator(desired);
    const conn = (dst: string, protocol: number, dport: number, backend?: string) =>
      judgeConnection(ev, { src: IP['x/a']!, dst: IP[dst]!, protocol, sport: 40000, dport }, backend ? { src: IP['x/a']!, dst: IP[backend]!, protocol, sport: 40000, dport: 8080 } : undefined);
    // every backend of web-b (x/b2) is an app=b pod on 8080: allowed; web-all has x/c too: denied; no backends: denied
    expect(conn('vip-b', 6, 80, 'x/b2')).toMatchObject({ verdict: 'ALLOWED' });
    expect(conn('vip-all', 6, 80, 'x/b2')).toMatchObject({ verdict: 'DROPPED', reason: 'POLICY_EGRESS', hook: 'from_pod' });
    expect(conn('vip-none', 6, 80)).toMatchObject({ verdict: 'DROPPED', reason: 'SERVICE_DENIED' }); // segmentation first; the maps deny it too (below)
    // directly: x/b2 yes, x/c no (8080); the ipBlock over the service range does not open the VIPs (their backends decide)
    expect(conn('x/b2', 6, 8080)).toMatchObject({ verdict: 'ALLOWED' });
    expect(conn('x/c', 6, 8080)).toMatchObject({ verdict: 'DROPPED', reason: 'POLICY_EGRESS' });
    // the peer-less UDP 53 rule reaches pods and outside addresses alike, and nothing else
    expect(conn('ext', 17, 53)).toMatchObject({ verdict: 'ALLOWED' });
    expect(conn('y/a', 17, 53)).toMatchObject({ verdict: 'ALLOWED' });
    expect(conn('ext', 17, 54)).toMatchObject({ verdict: 'DROPPED', reason: 'POLICY_EGRESS' });
    // the maps say the same at from_pod
    for (const [dst, port, want] of [['vip-b', 80, true], ['vip-all', 80, false], ['vip-none', 80, false], ['x/b2', 8080, true], ['x/c', 8080, false]] as const) {
      expect(byMaps(desired, IP['x/a']!, IP[dst]!, { proto: 'TCP', port }), `${dst}:${port}`).toBe(want);
    }
    // the VIP entries are /32s in the trie: TCP (their ports), and UDP (masking the peer-less rule's 0.0.0.0/0: no UDP port of theirs is allowed)
    const vipKeys = [...desired.policyCidrs.keys()].map(parsePolicyCidrKeyText).filter((k) => k.cidr.startsWith('10.96.0.2'));
    expect(vipKeys.map((k) => `${k.cidr} ${k.proto}`).sort()).toEqual(['10.96.0.20/32 17', '10.96.0.20/32 6', '10.96.0.21/32 17', '10.96.0.21/32 6', '10.96.0.22/32 17', '10.96.0.22/32 6']);
    expect(desired.policyCidrs.get('10.96.0.20/32|' + vipKeys[0]!.set + '|6|0')?.ranges).toEqual([{ lo: 80, hi: 80 }]);
    expect(desired.policyCidrs.get('10.96.0.21/32|' + vipKeys[0]!.set + '|6|0')?.ranges).toEqual([]);
  });

  it('explain names the policy that allowed, or the policies selecting the pod when denied', () => {
    const { desired } = build([
      np('x/from-y', { ingress: [rule([pods(undefined, sel({ team: 'y' }))])] }),
      np('x/web', { podSelector: sel({ app: 'a' }), ingress: [rule([pods(sel({ app: 'b' }))], [tcp(8080)])] }),
    ]);
    const ev = new VerdictEvaluator(desired);
    const fromY = judgeConnection(ev, { src: IP['y/a']!, dst: IP['x/a']!, protocol: 6, sport: 40000, dport: 80 });
    expect(fromY.steps.find((s) => s.hook === 'to_pod')?.decision.policy).toBe('allowed by NetworkPolicy x/from-y');
    const fromXb = judgeConnection(ev, { src: IP['x/b']!, dst: IP['x/a']!, protocol: 6, sport: 40000, dport: 8080 });
    expect(fromXb.steps.find((s) => s.hook === 'to_pod')?.decision.policy).toBe('allowed by NetworkPolicy x/web');
    const denied = judgeConnection(ev, { src: IP['x/b']!, dst: IP['x/a']!, protocol: 6, sport: 40000, dport: 80 });
    expect(denied).toMatchObject({ verdict: 'DROPPED', reason: 'POLICY_INGRESS', hook: 'to_pod' });
    expect(denied.steps.find((s) => s.hook === 'to_pod')?.decision.policy).toBe('no NetworkPolicy selecting the pod for ingress allows it (x/from-y, x/web)');
  });

  it('flows carry the name: the policy that allowed, or the policies selecting the pod when POLICY_* dropped it', () => {
    const { desired } = build([np('x/web', { podSelector: sel({ app: 'a' }), ingress: [rule([pods(sel({ app: 'b' }))], [tcp(8080)])] })]);
    const namer = new PolicyNamer(() => desired);
    const end = (who: string, port: number): FlowEndpoint => ({ ip: IP[who]!, port, namespace: who.split('/')[0]!, pod: who.split('/')[1]!, network: 'default/default-podnetwork', node: 'n1', service: '', kind: 'pod', interface: '' });
    const flow = (src: string, dst: string, port: number, dropReason = ''): Flow => ({
      id: `${src}-${dst}-${port}`, node: 'n1', ifindex: 100, source: end(src, 40000), destination: end(dst, port), protocol: 6, protocolName: 'tcp', ethertype: 0x0800,
      direction: 'INGRESS', verdict: dropReason ? 'DROPPED' : 'ALLOWED', dropReason, allowRule: dropReason ? '' : 'SAME_NETWORK', code: 0,
      forward: { packets: 1, bytes: 60, droppedPackets: 0, tcpFlags: 2 }, reverse: { packets: 0, bytes: 0, droppedPackets: 0, tcpFlags: 0 }, firstSeenMs: 1, lastSeenMs: 2,
    });
    expect(namer.forFlow(flow('x/b', 'x/a', 8080))).toBe('allowed by NetworkPolicy x/web');
    expect(namer.forFlow(flow('y/a', 'x/a', 8080, 'POLICY_INGRESS'))).toBe('no NetworkPolicy selecting the pod for ingress allows it (x/web)');
    expect(namer.forFlow(flow('y/a', 'x/a', 8080, 'ISOLATED'))).toBe(''); // segmentation's drop: no policy to name
    expect(namer.forFlow(flow('x/a', 'x/b', 80))).toBe(''); // x/b: no policy selects it
    const row = flowRow(toFlowMsg({ ...flow('x/b', 'x/a', 8080), policy: 'allowed by NetworkPolicy x/web' }));
    expect(row).toContain('SAME_NETWORK (allowed by NetworkPolicy x/web)');
  });

  it('what-if: a proposed NetworkPolicy cuts what it denies, names POLICY_INGRESS, and leaves the rest', () => {
    const { state, desired } = build([]);
    const end = (who: string, port: number): FlowEndpoint => ({ ip: IP[who]!, port, namespace: who.split('/')[0]!, pod: who.split('/')[1]!, network: 'default/default-podnetwork', node: 'n1', service: '', kind: 'pod', interface: '' });
    const flow = (src: string, dst: string, port: number): Flow => ({
      id: `${src}-${dst}`, node: 'n1', ifindex: 100, source: end(src, 40000), destination: end(dst, port), protocol: 6, protocolName: 'tcp', ethertype: 0x0800,
      direction: 'EGRESS', verdict: 'ALLOWED', dropReason: '', allowRule: 'SAME_NETWORK', code: 1,
      forward: { packets: 3, bytes: 300, droppedPackets: 0, tcpFlags: 2 }, reverse: { packets: 2, bytes: 200, droppedPackets: 0, tcpFlags: 18 }, firstSeenMs: 1, lastSeenMs: 2,
    });
    const flows = [flow('y/a', 'x/a', 8080), flow('x/b', 'x/a', 8080), flow('x/a', 'y/a', 80)];
    const proposal = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-x, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from: [{podSelector: {}}]
    ports: [{port: http}]
`;
    const r = whatIf(
      { node: 'n1', podCIDRs: config.podCIDRs, serviceCIDRs: config.serviceCIDRs, current: () => ({ state, desired }), flows: () => flows, now: () => 10 },
      { documents: [{ file: 'np.yaml', text: proposal }], windowSeconds: 0 },
    );
    expect(r.applied).toEqual(['NetworkPolicy x/a-from-x']);
    expect(r.changes.map((c) => `${c.kind} ${c.source.namespace}/${c.source.pod} -> ${c.destination.namespace}/${c.destination.pod} ${c.after.reason} ${c.after.hook}`)).toEqual([
      'ALLOWED_TO_DROPPED y/a -> x/a POLICY_INGRESS to_pod',
    ]);
    expect(r.conversations).toBe(3); // x/b -> x/a (allowed by the policy) and x/a -> y/a (not selected) stay
  });

  it('a policy never opens what segmentation denies (isolated namespace)', () => {
    const iso = { namespaces: [...NAMESPACES.filter((n) => n.metadata.name !== 'y'), ns('y', { labels: { team: 'y', 'vrfwall.dev/isolated': 'true' } })] };
    const { desired } = build([np('y/all', { ingress: [rule([])], egress: [rule([])] }), np('x/all', { ingress: [rule([])] })], iso);
    const ev = new VerdictEvaluator(desired);
    expect(judgeConnection(ev, { src: IP['x/a']!, dst: IP['y/a']!, protocol: 6, sport: 40000, dport: 80 })).toMatchObject({ verdict: 'DROPPED', reason: 'ISOLATED' });
    expect(judgeConnection(ev, { src: IP['y/a']!, dst: IP['y/b']!, protocol: 6, sport: 40000, dport: 80 })).toMatchObject({ verdict: 'ALLOWED' }); // control
  });

  it('--network-policy=off: no policy state, and what default-deny denied passes', () => {
    const deny = [np('x/deny', { types: ['Ingress', 'Egress'] })];
    const on = build(deny).desired;
    const off = build(deny, {}, { ...config, networkPolicy: false }).desired;
    expect(on.policyInfo.sets.size).toBeGreaterThan(0); // control: on, the policy is compiled
    expect(off.policy.size + off.policyCidrs.size + off.policyInfo.sets.size + off.policyInfo.addresses.size).toBe(0);
    expect([...off.endpoints.values()].every((e) => e.identity === undefined && e.policyIn === undefined && e.policyOut === undefined)).toBe(true);
    expect(byEvaluator(on, IP['y/a']!, IP['x/a']!, { proto: 'TCP', port: 80 })).toBe(false);
    expectTable(off, GRID, BASIC, allPairs(GRID, () => true));
  });

  it('remote pods carry their identity only; sets and entries exist for local pods', () => {
    const state = cluster({ namespaces: NAMESPACES, nodes: { n1: [NODE], n2: ['192.168.50.2'] }, pods: PODS.map((p) => (p.metadata.namespace === 'y' ? { ...p, spec: { ...p.spec, nodeName: 'n2' } } : p)), networkPolicies: [np('y/deny', {})] });
    const ifaces = new Map(PODS.filter((p) => p.metadata.namespace === 'x').map((p, i): [string, number] => [p.status.podIPs[0]!, 100 + i]));
    const d = compile(state, config, ifaces, emptyAllocation());
    const ya = d.endpoints.get(IP['y/a']!);
    expect(ya?.identity).toBeGreaterThan(0);
    expect(ya?.policyIn).toBeUndefined();
    expect(d.policy.size + d.policyCidrs.size).toBe(0); // no local pod is selected
    // the evaluator still judges y's ingress (its node enforces it)
    expect(judgeConnection(new VerdictEvaluator(d), { src: IP['x/a']!, dst: IP['y/a']!, protocol: 6, sport: 1, dport: 80 })).toMatchObject({ verdict: 'DROPPED', reason: 'POLICY_INGRESS' });
    expect(judgeConnection(new VerdictEvaluator(d), { src: IP['y/a']!, dst: IP['x/a']!, protocol: 6, sport: 1, dport: 80 })).toMatchObject({ verdict: 'ALLOWED' });
  });

  it('policy keys are canonical texts of the contract', () => {
    const { desired } = build([np('x/from-y', { ingress: [rule([pods(undefined, sel({ team: 'y' }))])] })]);
    for (const k of desired.policy.keys()) {
      const key = parsePolicyKeyText(k);
      expect(key.set).toBeGreaterThan(0);
      expect(key.identity).toBeGreaterThan(0);
    }
    expect(desired.policy.size).toBeGreaterThan(0);
  });
});

describe('NetworkPolicy documents', () => {
  const yaml = (spec: string): string => `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: x}\nspec:\n${spec}`;

  it('parses selectors, peers, ports, endPort and defaults policyTypes as Kubernetes does', () => {
    const r = parseManifests(
      yaml(`  podSelector: {matchLabels: {app: a}}
  ingress:
  - from:
    - namespaceSelector: {matchExpressions: [{key: team, operator: In, values: [y]}]}
      podSelector: {}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports:
    - {port: 80}
    - {protocol: UDP, port: 1000, endPort: 2000}
    - {protocol: SCTP, port: http}
  egress:
  - {}
`),
      'p.yaml',
    );
    expect(r.problems).toEqual([]);
    const p = r.objects[0]?.object as NetworkPolicyObject;
    expect(p.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(p.spec.ingress[0]?.peers).toEqual([
      { kind: 'pods', podSelector: { matchLabels: {}, matchExpressions: [] }, namespaceSelector: { matchLabels: {}, matchExpressions: [{ key: 'team', operator: 'In', values: ['y'] }] } },
      { kind: 'ipBlock', cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] },
    ]);
    expect(p.spec.ingress[0]?.ports).toEqual([{ protocol: 'TCP', port: 80 }, { protocol: 'UDP', port: 1000, endPort: 2000 }, { protocol: 'SCTP', port: 'http' }]);
    expect(p.spec.egress).toEqual([{ peers: [], ports: [] }]);
    expect(p.invalid).toBeUndefined();
  });

  it('an ipBlock with host bits set is read as its network, with a warning (not refused)', () => {
    const r = parseManifests(yaml('  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.1.2.3/16}}]\n'), 'p.yaml');
    const p = r.objects[0]?.object as NetworkPolicyObject;
    expect(p.invalid).toBeUndefined();
    expect(p.spec.ingress[0]?.peers).toEqual([{ kind: 'ipBlock', cidr: '10.1.0.0/16', except: [] }]);
    expect(r.problems).toEqual([{ source: 'p.yaml#1', message: 'spec.ingress[0].from[0].ipBlock.cidr "10.1.2.3/16" has host bits set; read as 10.1.0.0/16' }]);
  });

  it('a policy that does not parse is kept: it selects its pods, allows nothing, and the problem names the object and field', () => {
    const cases: [string, string][] = [
      ['  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]\n', 'spec.ingress[0].from[0].ipBlock.except[0]'],
      ['  podSelector: {}\n  ingress:\n  - ports: [{port: 80, endPort: 79}]\n', 'spec.ingress[0].ports[0].endPort'],
      ['  podSelector: {}\n  ingress:\n  - from: [{}]\n', 'spec.ingress[0].from[0]'],
      ['  podSelector: {matchExpressions: [{key: a, operator: Is}]}\n', 'spec.podSelector.matchExpressions[0].operator'],
      ['  podSelector: {}\n  policyTypes: [Ingres]\n', 'spec.policyTypes'],
      ['  podSelector: {}\n  egress:\n  - to: [{ipBlock: {cidr: "::ffff:10.0.0.0/104"}}]\n', 'spec.egress[0].to[0].ipBlock.cidr'],
    ];
    for (const [spec, field] of cases) {
      const r = parseManifests(yaml(spec), 'p.yaml');
      const p = r.objects[0]?.object as NetworkPolicyObject;
      expect(p?.invalid, field).toContain(field);
      expect(p.spec.ingress).toEqual([]);
      expect(p.spec.egress).toEqual([]);
      expect(r.problems.map((x) => x.source)).toEqual(['p.yaml#1']);
      expect(r.problems[0]?.message).toContain(field);
    }
    // and it fails closed in the compile: x/a, selected by the broken policy, admits nobody; control: y/a open
    const r = parseManifests(yaml('  podSelector: {matchLabels: {app: a}}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/99}}]\n'), 'p.yaml');
    const { desired } = build([r.objects[0]?.object as NetworkPolicyObject]);
    expect(byEvaluator(desired, IP['x/b']!, IP['x/a']!, { proto: 'TCP', port: 80 })).toBe(false);
    expect(byEvaluator(desired, IP['x/b']!, IP['y/a']!, { proto: 'TCP', port: 80 })).toBe(true);
    // a broken podSelector selects every pod of the namespace
    const r2 = parseManifests(yaml('  podSelector: {matchLabels: [1]}\n  policyTypes: [Egress]\n'), 'p.yaml');
    const d2 = build([r2.objects[0]?.object as NetworkPolicyObject]).desired;
    expect(byEvaluator(d2, IP['x/b']!, IP['y/a']!, { proto: 'TCP', port: 80 })).toBe(false);
    expect(byEvaluator(d2, IP['y/b']!, IP['y/a']!, { proto: 'TCP', port: 80 })).toBe(true);
  });
});
