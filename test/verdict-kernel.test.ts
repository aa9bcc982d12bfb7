// The pure verdict evaluator (src/model/verdict.ts, what-if's engine) against
// the loaded programs: an example cluster with every rule of design section 3
// in it (same network, router, ClusterIP of a shared and of a non-shared
// Service, shared backend on its target port, NodePort on a node address,
// node and host-network endpoints, outside addresses with and without
// external deny, quarantine, an unknown pod-CIDR address) is compiled, written
// into the real maps by the agent's MapWriter, and for every pair of addresses
// x TCP/UDP/ICMP x Service and non-Service ports the kernel's from_pod and
// to_pod (BPF_PROG_TEST_RUN explain probes, which write nothing) must give the
// evaluator's verdict and code. Each pod in turn is the local one (its address
// on the test's ifindex), so both hooks of every pod are asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ipaddr from 'ipaddr.js';
import * as abi from '../src/kernel/abi.js';
import { native, type NativeAddon } from '../src/kernel/native.js';
import { MapWriter } from '../src/agent/mapwriter.js';
import { VerdictEpoch } from '../src/agent/verdict-epoch.js';
import { MAP_NAMES, type Datapath } from '../src/agent/datapath.js';
import { compile } from '../src/model/compile.js';
import { VerdictEvaluator, judgeConnection, type Hook } from '../src/model/verdict.js';
import type { ClusterConfig, ClusterState, DesiredState, NetworkPolicyObject, NetworkPolicyPeer } from '../src/model/types.js';
import { ENFORCEMENT_KEY } from '../src/model/enforcement.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { probeFrame, PROBE_SPORT } from '../src/api/packet.js';
import { HERE, TestDatapath, freshPinRoot, probeCtx, probeDecision } from './helpers/datapath.js';
import { cluster, isolatedNs, ns, pod, router, sel, svc, vn } from './helpers/cluster.js';

const config = (nodeName: string): ClusterConfig => ({
  nodeName,
  podCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
  serviceCIDRs: ['10.96.0.0/16', 'fd00:10:96::/108'],
});

const v6 = (v4: string): string => `fd00:10:244::${v4.split('.').slice(2).join(':')}`;
const p = (key: string, v4: string, o: Parameters<typeof pod>[2] = {}) => pod(key, [v4, v6(v4)], o);
const web = [{ containerPort: 8080, protocol: 'TCP' as const, name: 'http' }];
const dns = [
  { containerPort: 53, protocol: 'UDP' as const, name: 'dns' },
  { containerPort: 53, protocol: 'TCP' as const, name: 'dns-tcp' },
];

/** An example cluster with every rule in it. */
export function exampleCluster(): ClusterState {
  return cluster({
    namespaces: [
      ns('default'),
      isolatedNs('iso', { annotations: { 'vrfwall.dev/external': 'deny' } }),
      isolatedNs('shop'),
      ns('nets'),
    ],
    nodes: { n1: ['192.168.50.1', 'fd00:50::1'], n2: ['192.168.50.2', 'fd00:50::2'] },
    pods: [
      p('default/d1', '10.244.1.1', { node: 'n1', ports: web, labels: { app: 'd1' } }),
      p('default/d2', '10.244.1.2', { node: 'n2' }),
      p('iso/i1', '10.244.2.1', { node: 'n1' }),
      p('iso/i2', '10.244.2.2', { node: 'n2', ports: web, labels: { app: 'web' } }),
      p('shop/s1', '10.244.5.1', { node: 'n1', ports: web, labels: { app: 'shop' } }),
      p('kube-system/coredns', '10.244.3.1', { node: 'n2', ports: dns, labels: { app: 'dns' } }),
      p('nets/b1', '10.244.4.1', { node: 'n1', annotations: { 'vrfwall.dev/network': 'nets/blue' } }),
      p('nets/g1', '10.244.4.2', { node: 'n2', annotations: { 'vrfwall.dev/network': 'nets/green' } }),
      p('nets/r1', '10.244.4.3', { node: 'n1', annotations: { 'vrfwall.dev/network': 'nets/red' } }),
      // names a network that does not exist: quarantined
      p('default/q1', '10.244.1.9', { node: 'n1', annotations: { 'vrfwall.dev/network': 'nets/nowhere' } }),
      pod('kube-system/hostpod', ['192.168.50.2'], { node: 'n2', hostNetwork: true }),
    ],
    virtualNetworks: [vn('nets/blue', { labels: { mesh: 'yes' } }), vn('nets/green', { labels: { mesh: 'yes' } }), vn('nets/red', { spec: { external: 'deny' } })],
    routers: [router('nets/mesh', 'mesh', { select: sel({ mesh: 'yes' }) })],
    services: [
      svc('kube-system/kube-dns', [{ name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 }, { name: 'dns-tcp', protocol: 'TCP', port: 53, targetPort: 53 }], {
        clusterIPs: ['10.96.0.10', 'fd00:10:96::a'],
        selector: { app: 'dns' },
      }),
      svc('iso/web', [{ port: 80, targetPort: 'http' }], { clusterIPs: ['10.96.0.20', 'fd00:10:96::14'], selector: { app: 'web' } }),
      svc('shop/front', [{ port: 80, targetPort: 8080 }], {
        clusterIPs: ['10.96.0.40', 'fd00:10:96::28'],
        selector: { app: 'shop' },
        annotations: { 'vrfwall.dev/shared': 'true' },
      }),
      svc('default/np', [{ port: 8080, targetPort: 8080, nodePort: 30080 }], {
        type: 'NodePort',
        clusterIPs: ['10.96.0.30', 'fd00:10:96::1e'],
        selector: { app: 'd1' },
      }),
    ],
  });
}

/** Outside, unknown pod-CIDR and link-local addresses: peers only. */
const STRANGERS = ['8.8.8.8', '2001:db8::1', '10.244.9.9', 'fd00:10:244::9:9', 'fe80::1'];
const PORTS = [53, 80, 8080, 30080, 9999];
const PROTOS = [6, 17, 1];

let n: NativeAddon;
let dp: TestDatapath;
let writer: MapWriter;

beforeAll(() => {
  n = native();
  dp = new TestDatapath(n, freshPinRoot('verdict-kernel-test-'));
  const maps = {} as Datapath['maps'];
  for (const name of MAP_NAMES) (maps as Record<string, number>)[name] = dp.mapFd(name);
  writer = new MapWriter(n, maps, new VerdictEpoch(n, dp.mapFd(abi.MapName.cacheCtl)));
});

afterAll(() => dp?.close());

function kernelDecision(hook: Hook, src: string, dst: string, proto: number, dport: number): { verdict: string; code: number } {
  const v6p = ipaddr.process(src).kind() === 'ipv6';
  const protocol = proto === 1 && v6p ? 58 : proto;
  const frame = probeFrame({ src, dst, proto: protocol, dport: protocol === 6 || protocol === 17 ? dport : 0 });
  const res = n.progTestRun(hook === 'from_pod' ? dp.fromPod : dp.toPod, frame, 1, probeCtx(HERE));
  const { verdict, code } = probeDecision(res.ctxOut ?? Buffer.alloc(0));
  return { verdict: KERNEL_VERDICT[verdict] ?? `verdict ${verdict}`, code };
}

/** The kernel's verdict names: ALLOWED, DROPPED, and AUDIT once the datapath has audit mode (issue 19 item 1). */
const KERNEL_VERDICT: Record<number, string> = Object.fromEntries(Object.entries(abi.Verdict).map(([name, v]) => [v, name]));

/** Every pod in turn local on HERE: the evaluator's verdict and code against the kernel's, at both hooks. */
function compareWithKernel(state: ClusterState, nodeAudit = false): { mismatches: string[]; runs: number; seen: Map<string, number> } {
  // The evaluator reads a compile that has no local pod at all: a verdict does not depend on the node.
  const anywhere = compile(state, config('elsewhere'), new Map(), emptyAllocation());
  const ev = new VerdictEvaluator(anywhere, { nodeAudit });
  dp.putConfig({ flags: nodeAudit ? abi.VW_CFG_AUDIT : 0 });
  const addrs = [...anywhere.endpoints.keys(), ...[...anywhere.services.values()].map((e) => e.addr).filter((a) => a !== abi.VW_SVC_NODE_ADDR), ...STRANGERS];
  const peers = [...new Set(addrs)].sort();
  const pods = [...state.pods.values()].filter((x) => !x.spec.hostNetwork);
  const mismatches: string[] = [];
  const seen = new Map<string, number>(); // verdict/reason -> count: the example must exercise every rule
  let runs = 0;
  for (const local of pods) {
    // This pod on ifindex HERE of its node; the agent there would compile this.
    const ifs = new Map(local.status.podIPs.map((ip) => [ip, HERE]));
    const d: DesiredState = compile(state, config(local.spec.nodeName ?? ''), ifs, anywhere.allocation);
    writer.write(d, undefined);
    for (const self of local.status.podIPs) {
      for (const peer of peers) {
        if (ipaddr.process(peer).kind() !== ipaddr.process(self).kind()) continue;
        for (const proto of PROTOS) {
          for (const port of proto === 1 ? [0] : PORTS) {
            for (const hook of ['from_pod', 'to_pod'] as const) {
              const [src, dst] = hook === 'from_pod' ? [self, peer] : [peer, self];
              const protocol = proto === 1 && ipaddr.process(src).kind() === 'ipv6' ? 58 : proto;
              const want = kernelDecision(hook, src, dst, proto, port);
              const got = ev.decide(hook, { src, dst, protocol, sport: PROBE_SPORT, dport: port });
              runs++;
              const name = `${got.verdict}/${got.reason}`;
              seen.set(name, (seen.get(name) ?? 0) + 1);
              if (got.verdict !== want.verdict || got.code !== want.code) {
                const wname = want.verdict === 'ALLOWED' ? abi.allowRuleName(want.code) : abi.dropReasonName(want.code);
                mismatches.push(`${hook} ${src} -> ${dst} proto ${protocol} port ${port}: evaluator ${name}, kernel ${want.verdict}/${wname}`);
              }
            }
          }
        }
      }
    }
  }
  return { mismatches, runs, seen };
}

/** The example with audit mode: shop (isolated) audited, nets/red (external deny) audited by its VirtualNetwork. */
function auditCluster(): ClusterState {
  const s = exampleCluster();
  const shop = s.namespaces.get('shop');
  if (shop) s.namespaces.set('shop', { ...shop, metadata: { ...shop.metadata, annotations: { [ENFORCEMENT_KEY]: 'audit' } } });
  const red = s.virtualNetworks.get('nets/red');
  if (red) s.virtualNetworks.set('nets/red', { ...red, metadata: { ...red.metadata, annotations: { [ENFORCEMENT_KEY]: 'audit' } } });
  return s;
}

/** The example with NetworkPolicies (issue 16): named ports, ipBlock with except, namespace by its name label,
 *  default deny, egress to a ClusterIP whose backends are (kube-dns) and are not (iso/web) all allowed. */
function policyCluster(): ClusterState {
  const s = exampleCluster();
  const np = (key: string, spec: NetworkPolicyObject['spec']): void => {
    const [namespace, name] = key.split('/') as [string, string];
    s.networkPolicies.set(key, { kind: 'NetworkPolicy', metadata: { namespace, name, labels: {}, annotations: {} }, spec });
  };
  const rule = (peers: NetworkPolicyPeer[], ports: NetworkPolicyObject['spec']['ingress'][number]['ports'] = []) => ({ peers, ports });
  np('default/d1-in', {
    podSelector: sel({ app: 'd1' }),
    policyTypes: ['Ingress'],
    ingress: [rule([{ kind: 'pods', podSelector: sel({}) }], [{ protocol: 'TCP', port: 'http' }]), rule([{ kind: 'ipBlock', cidr: '8.8.0.0/16', except: ['8.8.8.0/24'] }])],
    egress: [],
  });
  np('iso/out', {
    podSelector: sel({}),
    policyTypes: ['Egress'],
    ingress: [],
    egress: [
      rule([{ kind: 'pods', namespaceSelector: sel({ 'kubernetes.io/metadata.name': 'kube-system' }) }], [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 'dns-tcp' }]),
      rule([{ kind: 'pods', podSelector: sel({ app: 'nothing' }) }], [{ protocol: 'TCP', port: 8000, endPort: 8100 }]),
      rule([{ kind: 'ipBlock', cidr: '2001:db8::/32', except: [] }]),
    ],
  });
  np('nets/deny', { podSelector: sel({}), policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] });
  return s;
}

describe('verdict evaluator vs the loaded programs', () => {
  it('with NetworkPolicies: the kernel’s POLICY_EGRESS / POLICY_INGRESS and what passes, at both hooks (needs the npdp datapath)', () => {
    const { mismatches, runs, seen } = compareWithKernel(policyCluster());
    expect(mismatches.slice(0, 20), `${mismatches.length} of ${runs} runs differ`).toEqual([]);
    for (const name of ['DROPPED/POLICY_EGRESS', 'DROPPED/POLICY_INGRESS', 'ALLOWED/SAME_NETWORK', 'ALLOWED/SERVICE', 'ALLOWED/NOT_POD']) expect(seen.get(name) ?? 0, name).toBeGreaterThan(0);
  });

  it('gives the kernel’s verdict and code at both hooks for every pair, protocol and port of the example cluster', () => {
    const { mismatches, runs, seen } = compareWithKernel(exampleCluster());
    expect(mismatches.slice(0, 20), `${mismatches.length} of ${runs} runs differ`).toEqual([]);
    expect(runs).toBeGreaterThan(5000);
    // Every rule and reason the example is built for was exercised (the comparison is not vacuous).
    for (const name of [
      'ALLOWED/SAME_NETWORK',
      'ALLOWED/ROUTER',
      'ALLOWED/SERVICE',
      'ALLOWED/SERVICE_BACKEND',
      'ALLOWED/NOT_POD',
      'DROPPED/ISOLATED',
      'DROPPED/QUARANTINED',
      'DROPPED/UNKNOWN_ENDPOINT',
      'DROPPED/SERVICE_DENIED',
      'DROPPED/EXTERNAL_DENIED',
      'DROPPED/NO_SESSION',
    ]) {
      expect(seen.get(name) ?? 0, name).toBeGreaterThan(0);
    }
  });

  it('with audit mode: the kernel’s AUDIT verdicts and reasons too', () => {
    const { mismatches, runs, seen } = compareWithKernel(auditCluster());
    expect(mismatches.slice(0, 20), `${mismatches.length} of ${runs} runs differ`).toEqual([]);
    for (const name of ['AUDIT/ISOLATED', 'AUDIT/SERVICE_DENIED', 'AUDIT/EXTERNAL_DENIED', 'DROPPED/ISOLATED']) expect(seen.get(name) ?? 0, name).toBeGreaterThan(0);
  });

  it('with the node-wide audit setting (vw_config VW_CFG_AUDIT): every ISOLATED, SERVICE_DENIED and EXTERNAL_DENIED is AUDIT, the rest as before', () => {
    try {
      const { mismatches, runs, seen } = compareWithKernel(exampleCluster(), true);
      expect(mismatches.slice(0, 20), `${mismatches.length} of ${runs} runs differ`).toEqual([]);
      for (const name of ['AUDIT/ISOLATED', 'AUDIT/SERVICE_DENIED', 'AUDIT/EXTERNAL_DENIED', 'DROPPED/QUARANTINED', 'DROPPED/UNKNOWN_ENDPOINT']) expect(seen.get(name) ?? 0, name).toBeGreaterThan(0);
      for (const name of ['DROPPED/ISOLATED', 'DROPPED/SERVICE_DENIED', 'DROPPED/EXTERNAL_DENIED']) expect(seen.get(name) ?? 0, name).toBe(0);
    } finally {
      dp.putConfig({ flags: 0 });
    }
  });

  it('judges a connection at both ends: a ClusterIP at the sender, its backend after DNAT at the receiver', () => {
    const ev = new VerdictEvaluator(compile(exampleCluster(), config('elsewhere'), new Map(), emptyAllocation()));
    // iso/web is not shared: a pod of the default network may not use it (rule 3)
    const toVip = judgeConnection(ev, { src: '10.244.1.1', dst: '10.96.0.20', protocol: 6, sport: 40000, dport: 80 }, { src: '10.244.1.1', dst: '10.244.2.2', protocol: 6, sport: 40000, dport: 8080 });
    expect(toVip).toMatchObject({ verdict: 'DROPPED', reason: 'SERVICE_DENIED', hook: 'from_pod' });
    expect(toVip.steps).toHaveLength(1);
    // positive control: iso's own pod may, and its backend accepts it (rule 1 at the receiver)
    const own = judgeConnection(ev, { src: '10.244.2.1', dst: '10.96.0.20', protocol: 6, sport: 40000, dport: 80 }, { src: '10.244.2.1', dst: '10.244.2.2', protocol: 6, sport: 40000, dport: 8080 });
    expect(own).toMatchObject({ verdict: 'ALLOWED', reason: 'SAME_NETWORK', hook: 'to_pod' });
    expect(own.steps.map((s) => `${s.hook}:${s.decision.reason}`)).toEqual(['from_pod:SERVICE', 'to_pod:SAME_NETWORK']);
  });
});
