import { describe, expect, it } from 'vitest';
import { compile, EXTERNAL_KEY } from '../src/model/compile.js';
import {
  VW_CIDR_POD,
  VW_CIDR_SERVICE,
  VW_EP_HOST,
  VW_EP_LOCAL,
  VW_EP_NO_BACKEND,
  VW_EP_PTP,
  VW_EP_QUARANTINE,
  VW_EP_THIS_NODE,
  VW_NET_EXTERNAL_DENY,
  VW_NO_MAC,
} from '../src/kernel/abi.js';
import { CN2_ISOLATED_LABEL, ISOLATED_LABEL, NETWORK_KEY } from '../src/model/placement.js';
import {
  DEFAULT_NETWORK,
  type ClusterConfig,
  type ClusterState,
  type DesiredState,
  type NamespaceObject,
  type PodObject,
} from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';

function ns(name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): NamespaceObject {
  return { kind: 'Namespace', metadata: { name, labels, annotations } };
}

interface PodOpts {
  node?: string;
  ips?: string[];
  annotations?: Record<string, string>;
  hostNetwork?: boolean;
}

function pod(key: string, o: PodOpts = {}): PodObject {
  const [namespace = '', name = ''] = key.split('/');
  return {
    kind: 'Pod',
    metadata: { name, namespace, labels: {}, annotations: o.annotations ?? {} },
    spec: { ...(o.node !== undefined ? { nodeName: o.node } : {}), hostNetwork: o.hostNetwork ?? false, ports: [] },
    status: { podIPs: o.ips ?? [] },
  };
}

function state(namespaces: NamespaceObject[], pods: PodObject[], nodes: Record<string, string[]> = {}): ClusterState {
  return {
    namespaces: new Map(namespaces.map((n) => [n.metadata.name, n])),
    pods: new Map(pods.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p])),
    nodes: new Map(Object.entries(nodes).map(([name, addresses]) => [name, { name, addresses }])),
    virtualNetworks: new Map(),
    routers: new Map(),
    services: new Map(),
    endpointSlices: new Map(),
    attachmentDefinitions: new Map(),
    networkPolicies: new Map(),
    problems: [],
  };
}

const config: ClusterConfig = {
  nodeName: 'node-a',
  podCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
  serviceCIDRs: ['10.96.0.0/16'],
};

/** Rule 1 as the datapath will apply it to these endpoints: both are pods
 *  (not host, not quarantined) of the same network. */
function sameNetwork(d: DesiredState, from: string, to: string): boolean {
  const a = d.endpoints.get(from);
  const b = d.endpoints.get(to);
  if (a === undefined || b === undefined) return false;
  const closed = VW_EP_QUARANTINE | VW_EP_HOST;
  return (a.flags & closed) === 0 && (b.flags & closed) === 0 && a.vrfId !== 0 && a.vrfId === b.vrfId;
}

// The CN2 walk-through: pod1, pod2 in an isolated namespace; pod3 in an
// ordinary one; pod4 in default. Addresses as the lab would give them.
const CN2_PODS: [string, string, string][] = [
  ['isolated-namespace-demo/pod1', '10.244.0.11', 'fd00:10:244::11'],
  ['isolated-namespace-demo/pod2', '10.244.0.12', 'fd00:10:244::12'],
  ['non-isolated-namespace-demo/pod3', '10.244.0.13', 'fd00:10:244::13'],
  ['default/pod4', '10.244.0.14', 'fd00:10:244::14'],
];

function cn2State(nodeOf: (i: number) => string): ClusterState {
  return state(
    [
      ns('default'),
      ns('kube-system'),
      ns('isolated-namespace-demo', { [CN2_ISOLATED_LABEL]: 'true' }),
      ns('non-isolated-namespace-demo'),
    ],
    CN2_PODS.map(([key, v4, v6], i) => pod(key, { node: nodeOf(i), ips: [v4, v6] })),
    { 'node-a': ['192.168.50.1'], 'node-b': ['192.168.50.2'] },
  );
}

/** ifindex 100+i for pod i's addresses, as interface discovery would report. */
function interfacesOf(s: ClusterState, node: string): Map<string, number> {
  const out = new Map<string, number>();
  [...s.pods.values()].forEach((p, i) => {
    if (p.spec.nodeName === node) for (const ip of p.status.podIPs) out.set(ip, 100 + i);
  });
  return out;
}

const EXPECTED_CN2: Record<string, string[]> = {
  'isolated-namespace-demo/pod1': ['isolated-namespace-demo/pod2'],
  'isolated-namespace-demo/pod2': ['isolated-namespace-demo/pod1'],
  'non-isolated-namespace-demo/pod3': ['default/pod4'],
  'default/pod4': ['non-isolated-namespace-demo/pod3'],
};

function checkCn2Matrix(d: DesiredState, s: ClusterState): void {
  const pods = [...s.pods.values()];
  for (const a of pods) {
    for (const b of pods) {
      const ka = `${a.metadata.namespace}/${a.metadata.name}`;
      const kb = `${b.metadata.namespace}/${b.metadata.name}`;
      if (ka === kb) continue;
      // Every address pair, v4 with v4 and v6 with v6, in both directions.
      for (const [ia, ib] of a.status.podIPs.map((ip, j) => [ip, b.status.podIPs[j] ?? ''] as const)) {
        const expected = EXPECTED_CN2[ka]?.includes(kb) ?? false;
        expect(sameNetwork(d, ia, ib), `${ka} ${ia} -> ${kb} ${ib}`).toBe(expected);
        expect(sameNetwork(d, ib, ia), `${kb} ${ib} -> ${ka} ${ia} (symmetric)`).toBe(expected);
      }
    }
  }
}

describe('compile: the CN2 isolated-namespace example', () => {
  it('one node: placements, VRF ids, local endpoints, attachments, matrix', () => {
    const s = cn2State(() => 'node-a');
    const d = compile(s, config, interfacesOf(s, 'node-a'), emptyAllocation());

    expect(d.allocation.ids).toEqual({ [DEFAULT_NETWORK]: 1, 'isolated-namespace-demo/default-podnetwork': 2 });
    expect(d.placements.get('isolated-namespace-demo/pod1')).toMatchObject({
      kind: 'network',
      network: 'isolated-namespace-demo/default-podnetwork',
    });
    expect(d.placements.get('isolated-namespace-demo/pod1')?.why).toContain(CN2_ISOLATED_LABEL);
    expect(d.placements.get('non-isolated-namespace-demo/pod3')).toMatchObject({ network: DEFAULT_NETWORK });
    expect(d.placements.get('default/pod4')).toMatchObject({ network: DEFAULT_NETWORK });

    expect(d.endpoints.get('10.244.0.11')).toEqual({ vrfId: 2, flags: VW_EP_LOCAL | VW_EP_PTP | VW_EP_NO_BACKEND, ifindex: 100 });
    expect(d.endpoints.get('fd00:10:244::12')).toEqual({ vrfId: 2, flags: VW_EP_LOCAL | VW_EP_PTP | VW_EP_NO_BACKEND, ifindex: 101 });
    expect(d.endpoints.get('10.244.0.13')).toEqual({ vrfId: 1, flags: VW_EP_LOCAL | VW_EP_PTP | VW_EP_NO_BACKEND, ifindex: 102 });
    expect(d.endpoints.get('fd00:10:244::14')).toEqual({ vrfId: 1, flags: VW_EP_LOCAL | VW_EP_PTP | VW_EP_NO_BACKEND, ifindex: 103 });
    // Node addresses are host endpoints (rule 6); this node's own also VW_EP_THIS_NODE (ingress policy exempts only it).
    expect(d.endpoints.get('192.168.50.1')).toEqual({ vrfId: 0, flags: VW_EP_HOST | VW_EP_THIS_NODE, ifindex: 0 });
    expect(d.endpoints.get('192.168.50.2')).toEqual({ vrfId: 0, flags: VW_EP_HOST, ifindex: 0 });
    expect(d.endpoints.size).toBe(8 + 2);

    expect([...d.attach]).toEqual([
      ['default/pod4', [103]],
      ['isolated-namespace-demo/pod1', [100]],
      ['isolated-namespace-demo/pod2', [101]],
      ['non-isolated-namespace-demo/pod3', [102]],
    ]);
    expect(d.networks).toEqual(new Map([[1, 0], [2, 0]]));
    expect(d.vrfPairs.size).toBe(0);
    expect(d.problems).toEqual([]);
    checkCn2Matrix(d, s);
  });

  it('two nodes: remote pods are endpoints too, only local pods are attached', () => {
    const s = cn2State((i) => (i % 2 === 0 ? 'node-a' : 'node-b')); // pod1, pod3 on a
    const onA = compile(s, config, interfacesOf(s, 'node-a'), emptyAllocation());
    const onB = compile(s, { ...config, nodeName: 'node-b' }, interfacesOf(s, 'node-b'), emptyAllocation());

    expect(onA.endpoints.get('10.244.0.11')).toEqual({ vrfId: 2, flags: VW_EP_LOCAL | VW_EP_PTP | VW_EP_NO_BACKEND, ifindex: 100 });
    expect(onA.endpoints.get('10.244.0.12')).toEqual({ vrfId: 2, flags: VW_EP_NO_BACKEND, ifindex: 0 }); // pod2 on b
    expect(onB.endpoints.get('10.244.0.12')).toEqual({ vrfId: 2, flags: VW_EP_LOCAL | VW_EP_PTP | VW_EP_NO_BACKEND, ifindex: 101 });
    expect(onB.endpoints.get('10.244.0.11')).toEqual({ vrfId: 2, flags: VW_EP_NO_BACKEND, ifindex: 0 });
    expect([...onA.attach.keys()]).toEqual(['isolated-namespace-demo/pod1', 'non-isolated-namespace-demo/pod3']);
    expect([...onB.attach.keys()]).toEqual(['default/pod4', 'isolated-namespace-demo/pod2']);
    // Both agents agree on every pod's network.
    checkCn2Matrix(onA, s);
    checkCn2Matrix(onB, s);
  });

  it('removing the isolation label opens the namespace; adding it back gives a fresh VRF id', () => {
    const isolated = cn2State(() => 'node-a');
    const ifs = interfacesOf(isolated, 'node-a');
    const d1 = compile(isolated, config, ifs, emptyAllocation());

    const opened = cn2State(() => 'node-a');
    opened.namespaces.set('isolated-namespace-demo', ns('isolated-namespace-demo'));
    const d2 = compile(opened, config, ifs, d1.allocation);
    expect(d2.allocation.ids).toEqual({ [DEFAULT_NETWORK]: 1 });
    expect(d2.networks).toEqual(new Map([[1, 0]]));
    expect(sameNetwork(d2, '10.244.0.11', '10.244.0.14')).toBe(true);
    expect(sameNetwork(d2, '10.244.0.14', '10.244.0.11')).toBe(true);

    const d3 = compile(isolated, config, ifs, d2.allocation);
    expect(d3.allocation.ids['isolated-namespace-demo/default-podnetwork']).toBe(3); // 2 is not reused
    expect(d3.endpoints.get('10.244.0.11')?.vrfId).toBe(3);
    checkCn2Matrix(d3, isolated);
  });
});

describe('compile: quarantine', () => {
  it('a bad annotation quarantines the pod: vrf 0, QUARANTINE, still attached when local', () => {
    const s = state(
      [ns('default'), ns('team')],
      [
        pod('team/bad', { node: 'node-a', ips: ['10.244.0.5'], annotations: { [NETWORK_KEY]: 'team/nosuch' } }),
        pod('team/far', { node: 'node-b', ips: ['10.244.1.5'], annotations: { [NETWORK_KEY]: '???' } }),
        pod('team/good', { node: 'node-a', ips: ['10.244.0.6'] }),
      ],
    );
    const d = compile(s, config, new Map([['10.244.0.5', 7], ['10.244.0.6', 8]]), emptyAllocation());
    expect(d.placements.get('team/bad')).toMatchObject({ kind: 'quarantine' });
    expect(d.placements.get('team/bad')?.why).toMatch(/team\/nosuch, which does not exist/);
    expect(d.endpoints.get('10.244.0.5')).toEqual({ vrfId: 0, flags: VW_EP_QUARANTINE | VW_EP_LOCAL | VW_EP_PTP | VW_EP_NO_BACKEND, ifindex: 7 });
    expect(d.endpoints.get('10.244.1.5')).toEqual({ vrfId: 0, flags: VW_EP_QUARANTINE | VW_EP_NO_BACKEND, ifindex: 0 });
    expect(d.attach.get('team/bad')).toEqual([7]);
    expect(d.endpoints.get('10.244.0.6')).toEqual({ vrfId: 1, flags: VW_EP_LOCAL | VW_EP_PTP | VW_EP_NO_BACKEND, ifindex: 8 });
    expect(sameNetwork(d, '10.244.0.5', '10.244.0.6')).toBe(false);
    expect(sameNetwork(d, '10.244.0.6', '10.244.0.5')).toBe(false);
    expect(d.problems.map((p) => p.source)).toEqual(['Pod team/bad', 'Pod team/far']);
    expect(d.problems[0]?.message).toMatch(/^quarantined: /);
  });

  it('two pods claiming one address are both quarantined, with every address they have', () => {
    const s = state(
      [ns('default')],
      [
        pod('default/a', { node: 'node-a', ips: ['10.244.0.9', 'fd00:10:244::a'] }),
        // The same address in IPv4-mapped form is the same endpoint in the datapath.
        pod('default/b', { node: 'node-b', ips: ['::ffff:10.244.0.9'] }),
        pod('default/c', { node: 'node-a', ips: ['10.244.0.10'] }),
      ],
    );
    const d = compile(s, config, new Map([['10.244.0.9', 4]]), emptyAllocation());
    for (const key of ['default/a', 'default/b']) {
      expect(d.placements.get(key)).toMatchObject({ kind: 'quarantine' });
      expect(d.placements.get(key)?.why).toMatch(/IP 10\.244\.0\.9 is also claimed by pod default\/[ab]/);
    }
    expect(d.endpoints.get('10.244.0.9')).toEqual({ vrfId: 0, flags: VW_EP_QUARANTINE | VW_EP_LOCAL | VW_EP_PTP | VW_EP_NO_BACKEND, ifindex: 4 });
    expect(d.endpoints.get('fd00:10:244::a')).toEqual({ vrfId: 0, flags: VW_EP_QUARANTINE | VW_EP_NO_BACKEND, ifindex: 0 });
    expect(d.endpoints.has('::ffff:10.244.0.9')).toBe(false);
    expect(d.placements.get('default/c')).toMatchObject({ kind: 'network' });
    expect(d.problems.map((p) => p.source)).toEqual(['Pod default/a', 'Pod default/b']);
  });

  it('a pod claiming a node address is quarantined; the address stays the host', () => {
    const s = state([ns('default')], [pod('default/thief', { node: 'node-a', ips: ['192.168.50.1', '10.244.0.3'] })], {
      'node-a': ['192.168.50.1'],
    });
    const d = compile(s, config, new Map(), emptyAllocation());
    expect(d.placements.get('default/thief')?.why).toMatch(/192\.168\.50\.1 is a node or host-network address/);
    expect(d.endpoints.get('192.168.50.1')).toEqual({ vrfId: 0, flags: VW_EP_HOST | VW_EP_THIS_NODE, ifindex: 0 });
    expect(d.endpoints.get('10.244.0.3')).toEqual({ vrfId: 0, flags: VW_EP_QUARANTINE | VW_EP_NO_BACKEND, ifindex: 0 });
  });

  it('pods of a namespace missing from the state are quarantined', () => {
    const s = state([ns('default')], [pod('ghost/p', { node: 'node-b', ips: ['10.244.1.1'] })]);
    const d = compile(s, config, new Map(), emptyAllocation());
    expect(d.placements.get('ghost/p')).toMatchObject({ kind: 'quarantine' });
    expect(d.endpoints.get('10.244.1.1')?.flags).toBe(VW_EP_QUARANTINE | VW_EP_NO_BACKEND);
  });
});

describe('compile: other endpoints and tables', () => {
  it('hostNetwork pods are host endpoints, get a host placement and are not attached', () => {
    const s = state(
      [ns('kube-system')],
      [pod('kube-system/proxy', { node: 'node-a', ips: ['192.168.50.1'], hostNetwork: true })],
      { 'node-a': ['192.168.50.1', 'fd00:50::1'] },
    );
    const d = compile(s, config, new Map([['192.168.50.1', 2]]), emptyAllocation());
    expect(d.placements.get('kube-system/proxy')).toMatchObject({ kind: 'host' });
    expect(d.endpoints.get('192.168.50.1')).toEqual({ vrfId: 0, flags: VW_EP_HOST | VW_EP_THIS_NODE, ifindex: 0 });
    expect(d.endpoints.get('fd00:50::1')).toEqual({ vrfId: 0, flags: VW_EP_HOST | VW_EP_THIS_NODE, ifindex: 0 });
    expect(d.attach.size).toBe(0);
    expect(d.problems).toEqual([]);
  });

  it('a local pod whose interface is not found yet is an endpoint but not attached', () => {
    const s = state([ns('default')], [pod('default/new', { node: 'node-a', ips: ['10.244.0.20'] })]);
    const d = compile(s, config, new Map(), emptyAllocation());
    expect(d.endpoints.get('10.244.0.20')).toEqual({ vrfId: 1, flags: VW_EP_NO_BACKEND, ifindex: 0 });
    expect(d.attach.size).toBe(0);
  });

  it('matches interface addresses in any spelling, and ignores interfaces of remote pods', () => {
    const s = state(
      [ns('default')],
      [
        pod('default/v6', { node: 'node-a', ips: ['fd00:10:244::20'] }),
        pod('default/remote', { node: 'node-b', ips: ['10.244.1.20'] }),
      ],
    );
    const ifs = new Map([['fd00:10:244:0:0:0:0:0020', 9], ['10.244.1.20', 10]]);
    const d = compile(s, config, ifs, emptyAllocation());
    expect(d.endpoints.get('fd00:10:244::20')).toEqual({ vrfId: 1, flags: VW_EP_LOCAL | VW_EP_PTP | VW_EP_NO_BACKEND, ifindex: 9 });
    expect(d.endpoints.get('10.244.1.20')).toEqual({ vrfId: 1, flags: VW_EP_NO_BACKEND, ifindex: 0 });
    expect([...d.attach.keys()]).toEqual(['default/v6']);
  });

  it('VW_EP_PTP only on local endpoints whose interface has no ports entry (a bridge port keeps every MAC check)', () => {
    const s = state(
      [ns('default')],
      [
        pod('default/ptp', { node: 'node-a', ips: ['10.244.0.30', 'fd00:10:244::30'] }),
        pod('default/bridged', { node: 'node-a', ips: ['10.244.0.31', 'fd00:10:244::31'] }),
        pod('default/nomac', { node: 'node-a', ips: ['10.244.0.32'] }),
        pod('default/remote', { node: 'node-b', ips: ['10.244.1.30'] }),
      ],
    );
    const ifs = new Map([['10.244.0.30', 20], ['fd00:10:244::30', 20], ['10.244.0.31', 21], ['fd00:10:244::31', 21], ['10.244.0.32', 22]]);
    const d = compile(s, config, ifs, emptyAllocation(), new Map([[21, '02:00:00:00:00:31'], [22, VW_NO_MAC]]));
    expect(d.ports).toEqual(new Map([[21, '02:00:00:00:00:31'], [22, VW_NO_MAC]]));
    expect(d.endpoints.get('10.244.0.30')).toEqual({ vrfId: 1, flags: VW_EP_LOCAL | VW_EP_PTP | VW_EP_NO_BACKEND, ifindex: 20 });
    expect(d.endpoints.get('fd00:10:244::30')).toEqual({ vrfId: 1, flags: VW_EP_LOCAL | VW_EP_PTP | VW_EP_NO_BACKEND, ifindex: 20 });
    expect(d.endpoints.get('10.244.0.31')).toEqual({ vrfId: 1, flags: VW_EP_LOCAL | VW_EP_NO_BACKEND, ifindex: 21 });
    expect(d.endpoints.get('fd00:10:244::31')).toEqual({ vrfId: 1, flags: VW_EP_LOCAL | VW_EP_NO_BACKEND, ifindex: 21 });
    expect(d.endpoints.get('10.244.0.32')).toEqual({ vrfId: 1, flags: VW_EP_LOCAL | VW_EP_NO_BACKEND, ifindex: 22 });
    expect(d.endpoints.get('10.244.1.30')).toEqual({ vrfId: 1, flags: VW_EP_NO_BACKEND, ifindex: 0 });
  });

  it('pods without addresses have a placement and no endpoint', () => {
    const s = state([ns('default')], [pod('default/pending')]);
    const d = compile(s, config, new Map(), emptyAllocation());
    expect(d.placements.get('default/pending')).toMatchObject({ network: DEFAULT_NETWORK });
    expect(d.endpoints.size).toBe(0);
  });

  it('external deny on an isolated namespace flags its network; elsewhere it is reported', () => {
    const s = state(
      [
        ns('default'),
        ns('locked', { [ISOLATED_LABEL]: 'true', [EXTERNAL_KEY]: 'deny' }),
        ns('annotated', { [ISOLATED_LABEL]: 'true' }, { [EXTERNAL_KEY]: 'DENY' }),
        ns('allowed', { [ISOLATED_LABEL]: 'true', [EXTERNAL_KEY]: 'allow' }),
        ns('odd', { [ISOLATED_LABEL]: 'true', [EXTERNAL_KEY]: 'maybe' }),
        ns('shared', { [EXTERNAL_KEY]: 'deny' }),
      ],
      [],
    );
    const d = compile(s, config, new Map(), emptyAllocation());
    const flagsOf = (net: string): number | undefined => d.networks.get(d.allocation.ids[net] ?? -1);
    expect(flagsOf('locked/default-podnetwork')).toBe(VW_NET_EXTERNAL_DENY);
    expect(flagsOf('annotated/default-podnetwork')).toBe(VW_NET_EXTERNAL_DENY);
    expect(flagsOf('allowed/default-podnetwork')).toBe(0);
    expect(flagsOf('odd/default-podnetwork')).toBe(VW_NET_EXTERNAL_DENY); // unknown value: the restrictive reading
    expect(flagsOf(DEFAULT_NETWORK)).toBe(0);
    expect(d.networks.size).toBe(Object.keys(d.allocation.ids).length);
    expect(d.problems).toEqual([
      { source: 'Namespace odd', message: expect.stringMatching(/"maybe" is neither "allow" nor "deny"; treated as deny/) },
      { source: 'Namespace shared', message: expect.stringMatching(/has no effect: the namespace is not isolated/) },
    ]);
  });

  it('reports an isolation value that is neither true nor false, and isolating default', () => {
    const s = state([ns('default', { [ISOLATED_LABEL]: 'true' }), ns('odd', { [CN2_ISOLATED_LABEL]: 'yes-please' })], []);
    const d = compile(s, config, new Map(), emptyAllocation());
    expect(d.allocation.ids).toHaveProperty('odd/default-podnetwork');
    expect(d.problems.map((p) => p.source)).toEqual(['Namespace default', 'Namespace odd']);
    expect(d.problems[0]?.message).toMatch(/default namespace cannot be isolated/);
    expect(d.problems[1]?.message).toMatch(/"yes-please" is neither "true" nor "false"; treated as isolated/);
  });

  it('cidrs come from the config, canonical, with their kinds; bad ones are reported', () => {
    const d = compile(
      state([], []),
      { nodeName: 'node-a', podCIDRs: ['10.244.7.1/16', 'fd00:10:244:0::/48', 'nonsense'], serviceCIDRs: ['10.96.0.0/16', '10.244.0.0/16'] },
      new Map(),
      emptyAllocation(),
    );
    expect(d.cidrs).toEqual(
      new Map([
        ['10.244.0.0/16', VW_CIDR_POD],
        ['fd00:10:244::/48', VW_CIDR_POD],
        ['10.96.0.0/16', VW_CIDR_SERVICE],
      ]),
    );
    expect(d.problems.map((p) => p.message)).toEqual([
      'pod CIDR "nonsense" does not parse; ignored',
      'CIDR 10.244.0.0/16 is listed twice; kept as pod CIDR',
    ]);
  });

  it('is pure: inputs are not modified and equal inputs give equal outputs', () => {
    const s = cn2State((i) => (i < 2 ? 'node-a' : 'node-b'));
    const ifs = interfacesOf(s, 'node-a');
    const prev = emptyAllocation();
    const before = structuredClone({ s, ifs, prev });
    const d1 = compile(s, config, ifs, prev);
    const d2 = compile(s, config, ifs, prev);
    expect({ s, ifs, prev }).toEqual(before);
    expect(d2).toEqual(d1);
  });
});
