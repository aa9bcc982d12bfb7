// ipBlock families in the datapath (attacker review review2, HIGH): an IPv6
// ipBlock that contains the IPv4-mapped range (::/0, ::/64, any ::/n with
// n <= 96) matches IPv6 peers only, as in Kubernetes. The `policy_cidrs` trie
// holds IPv4 as ::ffff:a.b.c.d, so the compile writes 0.0.0.0/0 next to such a
// block (policy-entries.ts guardMapped). The kernel's from_pod is asked with
// BPF_PROG_TEST_RUN explain probes (which write nothing), the model (what-if,
// explain) alongside, with positive controls in the same test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as abi from '../src/kernel/abi.js';
import { native, type NativeAddon } from '../src/kernel/native.js';
import { MapWriter } from '../src/agent/mapwriter.js';
import { VerdictEpoch } from '../src/agent/verdict-epoch.js';
import { MAP_NAMES, type Datapath } from '../src/agent/datapath.js';
import { compile } from '../src/model/compile.js';
import { VerdictEvaluator } from '../src/model/verdict.js';
import type { ClusterConfig, ClusterState, NetworkPolicyObject } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { probeFrame, PROBE_SPORT } from '../src/api/packet.js';
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
  dp = new TestDatapath(n, freshPinRoot('policy-families-'));
  const maps = {} as Datapath['maps'];
  for (const name of MAP_NAMES) (maps as Record<string, number>)[name] = dp.mapFd(name);
  writer = new MapWriter(n, maps, new VerdictEpoch(n, dp.mapFd(abi.MapName.cacheCtl)));
});

afterAll(() => dp?.close());

function kernel(src: string, dst: string, dport: number): string {
  const frame = probeFrame({ src, dst, proto: 6, dport });
  const res = n.progTestRun(dp.fromPod, frame, 1, probeCtx(HERE));
  const { verdict, code } = probeDecision(res.ctxOut ?? Buffer.alloc(0));
  const name = Object.entries(abi.Verdict).find(([, v]) => v === verdict)?.[0] ?? `verdict ${verdict}`;
  return `${name}/${name === 'ALLOWED' ? abi.allowRuleName(code) : abi.dropReasonName(code)}`;
}

/** tenant/app (dual-stack, on HERE) may send only to IPv6 (ipBlock ::/0; `more`: further egress rules);
 *  other/db is another namespace's pod. */
function state(more: NetworkPolicyObject['spec']['egress'] = []): ClusterState {
  const s = cluster({
    namespaces: [ns('tenant'), ns('other')],
    nodes: { n1: ['192.168.50.1', 'fd00:50::1'] },
    pods: [
      pod('tenant/app', ['10.244.1.1', 'fd00:10:244::1:1'], { node: 'n1', labels: { app: 'app' } }),
      pod('other/db', ['10.244.2.1', 'fd00:10:244::2:1'], { node: 'n1', labels: { app: 'db' } }),
    ],
  });
  const np: NetworkPolicyObject = {
    kind: 'NetworkPolicy',
    metadata: { namespace: 'tenant', name: 'v6-only', labels: {}, annotations: {} },
    spec: { podSelector: sel({ app: 'app' }), policyTypes: ['Egress'], ingress: [], egress: [{ peers: [{ kind: 'ipBlock', cidr: '::/0', except: [] }], ports: [] }, ...more] },
  };
  s.networkPolicies.set('tenant/v6-only', np);
  return s;
}

function setup(s: ClusterState): (src: string, dst: string, dport?: number) => string {
  const here = compile(s, config('n1'), new Map([['10.244.1.1', HERE], ['fd00:10:244::1:1', HERE]]), emptyAllocation());
  writer.write(here, undefined);
  const ev = new VerdictEvaluator(compile(s, config('elsewhere'), new Map(), emptyAllocation()));
  return (src, dst, dport = 443) => {
    const d = ev.decide('from_pod', { src, dst, protocol: 6, sport: PROBE_SPORT, dport });
    return `${d.verdict}/${d.reason}`;
  };
}

describe('ipBlock families in the datapath', () => {
  it('an egress ipBlock ::/0 allows IPv6 peers and no IPv4 peer (outside or another namespace’s pod)', () => {
    const model = setup(state());
    // positive controls: IPv6 peers pass (outside and the other namespace's pod), in the kernel and the model
    expect(kernel('fd00:10:244::1:1', '2001:db8::1', 443)).toBe('ALLOWED/NOT_POD');
    expect(kernel('fd00:10:244::1:1', 'fd00:10:244::2:1', 443)).toBe('ALLOWED/SAME_NETWORK');
    expect(model('fd00:10:244::1:1', '2001:db8::1')).toBe('ALLOWED/NOT_POD');
    // the model (what-if / explain) says IPv4 is denied, as Kubernetes does
    expect(model('10.244.1.1', '8.8.8.8')).toBe('DROPPED/POLICY_EGRESS');
    expect(model('10.244.1.1', '10.244.2.1')).toBe('DROPPED/POLICY_EGRESS');
    // the kernel agrees: ::/0 is not 0.0.0.0/0
    expect([kernel('10.244.1.1', '8.8.8.8', 443), kernel('10.244.1.1', '10.244.2.1', 443)]).toEqual(['DROPPED/POLICY_EGRESS', 'DROPPED/POLICY_EGRESS']);
  });

  it('next to ::/0, IPv4 peers get exactly the IPv4 rules (0.0.0.0/0 except 10.244.0.0/16, TCP 53)', () => {
    const model = setup(state([{ peers: [{ kind: 'ipBlock', cidr: '0.0.0.0/0', except: ['10.244.0.0/16'] }], ports: [{ protocol: 'TCP', port: 53 }] }]));
    // IPv6: every port (::/0 without ports); IPv4: TCP 53 outside the pod range only
    for (const [src, dst, port, want] of [
      ['fd00:10:244::1:1', '2001:db8::1', 443, 'ALLOWED/NOT_POD'],
      ['10.244.1.1', '8.8.8.8', 53, 'ALLOWED/NOT_POD'],
      ['10.244.1.1', '8.8.8.8', 443, 'DROPPED/POLICY_EGRESS'],
      ['10.244.1.1', '10.244.2.1', 53, 'DROPPED/POLICY_EGRESS'],
      ['10.244.1.1', '10.244.2.1', 443, 'DROPPED/POLICY_EGRESS'],
    ] as const) {
      expect(`${src}->${dst}:${port} ${kernel(src, dst, port)}`).toBe(`${src}->${dst}:${port} ${want}`);
      expect(`${src}->${dst}:${port} ${model(src, dst, port)}`).toBe(`${src}->${dst}:${port} ${want}`);
    }
  });
});
