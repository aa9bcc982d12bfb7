// Attacks on the NetworkPolicy datapath (from the review2 red-team review),
// each a kernel test (BPF_PROG_TEST_RUN explain probes, which write nothing)
// with its positive controls in the same test.
//
// ND/MLD: a pod under a deny-all NetworkPolicy (both directions) must not
// exchange ICMPv6 with a global peer because the packet is typed as ND/MLD;
// only on-link ND/MLD is exempt.
//
// Host addresses: Kubernetes always allows traffic from the node where the pod
// runs (kubelet probes), and only from it. Another node's address is what a
// NodePort client there looks like after kube-proxy's SNAT
// (externalTrafficPolicy: Cluster), so a deny-all ingress policy judges it.
//
// Session flood: outside (spoofable) sources let in by a policy open sessions
// into a pod. Each was an owner of its own in session_owners, so a flood
// filled that table and every other client on the node was refused
// SESSION_LIMIT. They are charged to the pod they open to
// (VW_SESS_CHARGE_SERVER): its own quota fills, nobody else's, and session_gc
// gives the pod its slots back. Real (non-probe) packets make the sessions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ipaddr from 'ipaddr.js';
import * as abi from '../src/kernel/abi.js';
import { native, type NativeAddon } from '../src/kernel/native.js';
import { MapWriter } from '../src/agent/mapwriter.js';
import { VerdictEpoch } from '../src/agent/verdict-epoch.js';
import { MAP_NAMES, type Datapath } from '../src/agent/datapath.js';
import { compile } from '../src/model/compile.js';
import type { ClusterConfig, ClusterState, NetworkPolicyObject } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { probeFrame } from '../src/api/packet.js';
import { skbCtx } from '../src/kernel/skb.js';
import { HERE, TestDatapath, freshPinRoot, probeCtx, probeDecision } from './helpers/datapath.js';
import { cluster, ns, pod, sel } from './helpers/cluster.js';

const config = (nodeName: string): ClusterConfig => ({
  nodeName,
  podCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
  serviceCIDRs: ['10.96.0.0/16', 'fd00:10:96::/108'],
});

let n: NativeAddon;
let dp: TestDatapath;
let writer: MapWriter;

beforeAll(() => {
  n = native();
  dp = new TestDatapath(n, freshPinRoot('policy-attacks-'));
  const maps = {} as Datapath['maps'];
  for (const name of MAP_NAMES) (maps as Record<string, number>)[name] = dp.mapFd(name);
  writer = new MapWriter(n, maps, new VerdictEpoch(n, dp.mapFd(abi.MapName.cacheCtl)));
});

afterAll(() => dp?.close());

const ETH = 14;
const IP6 = 40;

/** An ICMPv6 frame of `type` (hop limit as probeFrame's, not 255); for ND/MLD types a target (the sender's own
 *  address) and an unknown ND option carrying 14 bytes of the sender's data, as a well-formed NS would. */
function icmp6(src: string, dst: string, type: number): Buffer {
  const f = probeFrame({ src, dst, proto: 58, dport: 0 });
  f[ETH + IP6] = type;
  if (type === 128) return f;
  const target = Buffer.from(ipaddr.parse(src).toByteArray());
  const option = Buffer.concat([Buffer.from([200, 2]), Buffer.from('secret-payload', 'ascii')]); // 16 bytes: 2 units
  const out = Buffer.concat([f, target, option]);
  out.writeUInt16BE(out.length - ETH - IP6, ETH + 4);
  return out;
}

function kernel(hook: 'from_pod' | 'to_pod', frame: Buffer): string {
  const res = n.progTestRun(hook === 'from_pod' ? dp.fromPod : dp.toPod, frame, 1, probeCtx(HERE));
  const { verdict, code } = probeDecision(res.ctxOut ?? Buffer.alloc(0));
  const name = Object.entries(abi.Verdict).find(([, v]) => v === verdict)?.[0] ?? `verdict ${verdict}`;
  return `${name}/${name === 'ALLOWED' ? abi.allowRuleName(code) : abi.dropReasonName(code)}`;
}

const V = 'fd00:10:244::1:1'; // tenant/locked, on HERE
const A = 'fd00:10:244::2:1'; // other/peer, same (default) network

function state(): ClusterState {
  const s = cluster({
    namespaces: [ns('tenant'), ns('other')],
    nodes: { n1: ['192.168.50.1', 'fd00:50::1'] },
    pods: [pod('tenant/locked', ['10.244.1.1', V], { node: 'n1', labels: { app: 'locked' } }), pod('other/peer', ['10.244.2.1', A], { node: 'n1', labels: { app: 'peer' } })],
  });
  const np: NetworkPolicyObject = {
    kind: 'NetworkPolicy',
    metadata: { namespace: 'tenant', name: 'deny-all', labels: {}, annotations: {} },
    spec: { podSelector: sel({}), policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] },
  };
  s.networkPolicies.set('tenant/deny-all', np);
  return s;
}

describe('ICMPv6 ND/MLD types and NetworkPolicy', () => {
  it('a deny-all pod can neither send nor receive ICMPv6 type 135/131 to or from a global address', () => {
    writer.write(compile(state(), config('n1'), new Map([['10.244.1.1', HERE], [V, HERE]]), emptyAllocation()), undefined);
    // positive controls: the policy is in force (echo dropped both ways), and segmentation alone allows the pair
    expect(kernel('from_pod', icmp6(V, A, 128))).toBe('DROPPED/POLICY_EGRESS');
    expect(kernel('from_pod', icmp6(V, '2001:db8::1', 128))).toBe('DROPPED/POLICY_EGRESS');
    expect(kernel('to_pod', icmp6(A, V, 128))).toBe('DROPPED/POLICY_INGRESS');
    // the same packets typed as ND / MLD, to and from global addresses (hop limit not 255): policy must still apply
    const got = [
      kernel('from_pod', icmp6(V, A, 135)),
      kernel('from_pod', icmp6(V, '2001:db8::1', 135)),
      kernel('from_pod', icmp6(V, '2001:db8::1', 131)),
      kernel('to_pod', icmp6(A, V, 135)),
      kernel('to_pod', icmp6(A, V, 131)),
    ];
    expect(got).toEqual(['DROPPED/POLICY_EGRESS', 'DROPPED/POLICY_EGRESS', 'DROPPED/POLICY_EGRESS', 'DROPPED/POLICY_INGRESS', 'DROPPED/POLICY_INGRESS']);
    // the same hop limit 255 between global addresses is still judged; a link-local solicitation to the
    // solicited-node group with hop limit 255 (real ND) is the exemption, both ways
    const hop255 = (f: Buffer): Buffer => {
      f[ETH + 7] = 255;
      return f;
    };
    expect(kernel('from_pod', hop255(icmp6(V, '2001:db8::1', 135)))).toBe('DROPPED/POLICY_EGRESS');
    expect(kernel('to_pod', hop255(icmp6(A, V, 135)))).toBe('DROPPED/POLICY_INGRESS');
    expect(kernel('from_pod', hop255(icmp6('fe80::1', 'ff02::1:ff00:1', 135)))).toBe('ALLOWED/NOT_POD');
    expect(kernel('to_pod', hop255(icmp6('fe80::2', 'ff02::1:ff01:1', 135)))).toBe('ALLOWED/NOT_POD');
  });
});

const LOCAL_NODE = '192.168.50.1';
const OTHER_NODE = '192.168.50.2';

function toPodTcp(src: string, dst: string, dport: number): string {
  const res = n.progTestRun(dp.toPod, probeFrame({ src, dst, proto: 6, dport }), 1, probeCtx(HERE));
  const { verdict, code } = probeDecision(res.ctxOut ?? Buffer.alloc(0));
  const name = Object.entries(abi.Verdict).find(([, v]) => v === verdict)?.[0] ?? `verdict ${verdict}`;
  return `${name}/${name === 'ALLOWED' ? abi.allowRuleName(code) : abi.dropReasonName(code)}`;
}

function remoteNodeState(): ClusterState {
  const s = cluster({
    namespaces: [ns('tenant'), ns('other'), ns('kube-system')],
    nodes: { n1: [LOCAL_NODE], n2: [OTHER_NODE] },
    pods: [
      pod('tenant/db', ['10.244.1.1'], { node: 'n1', labels: { app: 'db' } }),
      pod('other/client', ['10.244.2.1'], { node: 'n2' }),
      pod('kube-system/agent', ['192.168.50.3'], { node: 'n2', hostNetwork: true }),
      pod('kube-system/probe', ['192.168.50.4'], { node: 'n1', hostNetwork: true }),
    ],
  });
  const np: NetworkPolicyObject = {
    kind: 'NetworkPolicy',
    metadata: { namespace: 'tenant', name: 'deny-ingress', labels: {}, annotations: {} },
    spec: { podSelector: sel({}), policyTypes: ['Ingress'], ingress: [], egress: [] },
  };
  s.networkPolicies.set('tenant/deny-ingress', np);
  return s;
}

describe('which node addresses ingress policy exempts', () => {
  it('the pod’s own node passes (kubelet probes); another node’s address (NodePort SNAT) is judged like any peer', () => {
    const V4 = '10.244.1.1';
    const s = remoteNodeState();
    writer.write(compile(s, { ...config('n1'), podCIDRs: ['10.244.0.0/16'] }, new Map([[V4, HERE]]), emptyAllocation()), undefined);
    // controls: the policy is in force for a pod peer; the local node (kubelet) passes
    expect(toPodTcp('10.244.2.1', V4, 5432)).toBe('DROPPED/POLICY_INGRESS');
    expect(toPodTcp(LOCAL_NODE, V4, 5432)).toBe('ALLOWED/NOT_POD');
    expect(toPodTcp('192.168.50.4', V4, 5432), 'a host-network pod on this node').toBe('ALLOWED/NOT_POD');
    // another node, and a host-network pod on another node
    expect(toPodTcp(OTHER_NODE, V4, 5432)).toBe('DROPPED/POLICY_INGRESS');
    expect(toPodTcp('192.168.50.3', V4, 5432)).toBe('DROPPED/POLICY_INGRESS');
  });
});

const DNS = '10.244.1.1'; // tenant/dns on HERE: a public DNS server, ingress allowed from 0.0.0.0/0 on UDP 53

function floodState(ingress: NetworkPolicyObject['spec']['ingress']): ClusterState {
  const s = cluster({
    namespaces: [ns('tenant'), ns('other')],
    nodes: { n1: [LOCAL_NODE] },
    pods: [pod('tenant/dns', [DNS], { node: 'n1', labels: { app: 'dns' } }), pod('other/a1', ['10.244.2.1'], { node: 'n1' }), pod('other/a2', ['10.244.2.2'], { node: 'n1' })],
  });
  const np: NetworkPolicyObject = {
    kind: 'NetworkPolicy',
    metadata: { namespace: 'tenant', name: 'dns-in', labels: {}, annotations: {} },
    spec: { podSelector: sel({ app: 'dns' }), policyTypes: ['Ingress'], ingress, egress: [] },
  };
  s.networkPolicies.set('tenant/dns-in', np);
  return s;
}

/** A real UDP/53 packet through the hook: the counter slots it moved (allowed/RULE or dropped/REASON). */
function run(hook: 'from_pod' | 'to_pod', src: string, dst: string): string[] {
  const moved = dp.countedWhile(() => n.progTestRun(hook === 'from_pod' ? dp.fromPod : dp.toPod, probeFrame({ src, dst, proto: 17, dport: 53 }), 1, skbCtx(HERE)));
  return Object.keys(moved).filter((k) => k.startsWith(`${hook}/`));
}

function owners(): Map<string, number> {
  const d = n.mapDump(dp.mapFd(abi.MapName.sessionOwners));
  const ks = abi.Layout.vw_endpoint_key.size;
  const vs = abi.Layout.vw_session_owner.size;
  const out = new Map<string, number>();
  for (let i = 0; i < d.count; i++) out.set(abi.decodeEndpointKey(d.keys.subarray(i * ks, (i + 1) * ks)), abi.decodeSessionOwner(d.values.subarray(i * vs, (i + 1) * vs)).live);
  return out;
}

describe('session table exhaustion from outside through a NetworkPolicy', () => {
  it('spoofed outside sources fill only the pod’s own quota: another pod still connects, and session_gc gives the slots back', () => {
    const fromAnywhere = [{ peers: [{ kind: 'ipBlock' as const, cidr: '0.0.0.0/0', except: [] }], ports: [{ protocol: 'UDP' as const, port: 53 }] }];
    writer.write(compile(floodState(fromAnywhere), config('n1'), new Map([[DNS, HERE]]), emptyAllocation()), undefined);
    // positive control: a pod's query to the DNS pod passes (its session made, charged to the client pod)
    expect(run('to_pod', '10.244.2.1', DNS)).toEqual(['to_pod/allowed/SAME_NETWORK']);
    expect(owners().get('10.244.2.1')).toBe(1);
    // the flood: one UDP query from each of 65536 outside addresses (100.64.0.0/16), as the Internet can send
    const flood = dp.countedWhile(() => {
      for (let i = 0; i < 65536; i++) n.progTestRun(dp.toPod, probeFrame({ src: `100.64.${i >> 8}.${i & 255}`, dst: DNS, proto: 17, dport: 53 }), 1, skbCtx(HERE));
    });
    // the pod's own quota is what filled: every flood session is counted in its entry, none in the sources'
    const packets = Object.fromEntries(Object.entries(flood).map(([k, v]) => [k, Number(v.packets)]));
    expect(packets).toEqual({ 'to_pod/allowed/NOT_POD': abi.VW_DEFAULT_SESSION_QUOTA, 'to_pod/dropped/SESSION_LIMIT': 65536 - abi.VW_DEFAULT_SESSION_QUOTA });
    const o = owners();
    expect(o.get(DNS)).toBe(abi.VW_DEFAULT_SESSION_QUOTA);
    expect([...o.keys()].filter((a) => a.startsWith('100.64.'))).toEqual([]);
    // another tenant's pod still gets its session; the flooded pod's own new sessions share its (full) quota
    expect(run('to_pod', '10.244.2.2', DNS)).toEqual(['to_pod/allowed/SAME_NETWORK']);
    expect(run('from_pod', DNS, '8.8.8.8')).toEqual(['from_pod/dropped/SESSION_LIMIT']);
    // session_gc revokes them under a deny-all ingress policy and uncounts the owner each was charged to
    writer.write(compile(floodState([]), config('n1'), new Map([[DNS, HERE]]), emptyAllocation()), undefined);
    const gc = n.progTestRun(dp.sessionGc, Buffer.alloc(64), 1, skbCtx(0));
    expect(gc.retval).toBe(0);
    const after = owners();
    expect([after.get(DNS) ?? 0, after.get('10.244.2.1') ?? 0, after.get('10.244.2.2') ?? 0]).toEqual([0, 0, 0]);
    expect(n.mapDump(dp.mapFd(abi.MapName.sessions)).count).toBe(0);
  }, 120_000);
});
