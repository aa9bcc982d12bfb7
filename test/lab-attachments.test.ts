// The lab's Multus side without a kernel (issue 14 item 4): NADs read from
// the manifests, the attachment plan (resolution, addresses, refusals), the
// cluster file's networkStatus (validation, the annotation the overlay sets,
// pod identity), and the matrix table with unprobed families.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planAttachments } from '../src/lab/attachments.js';
import { completeFromLab, parseLabFile, type LabClusterFile } from '../src/lab/cluster-file.js';
import { readLabManifests, type LabAttachmentDefinition, type LabManifests, type LabNetwork, type LabPodSpec } from '../src/lab/manifests.js';
import { formatMatrix } from '../src/lab/matrix.js';
import { planLab } from '../src/lab/plan.js';
import { CELL_FIELDS, type Matrix, type MatrixCell } from '../src/lab/protocol.js';
import { NETWORK_STATUS_ANNOTATION, parseNetworkStatus } from '../src/model/multus.js';
import type { PodObject } from '../src/model/types.js';

const spec = (key: string, networks?: string, nodeName?: string): LabPodSpec => {
  const [namespace = '', name = ''] = key.split('/');
  return { namespace, name, key, hostNetwork: false, ports: [], ...(networks !== undefined ? { networks } : {}), ...(nodeName ? { nodeName } : {}) };
};

function plan(manifests: Pick<LabManifests, 'pods' | 'networks' | 'attachmentDefinitions'>, nodes = 1) {
  return planAttachments(planLab('mlab9', nodes, manifests.pods), manifests);
}

const NETWORKS: LabNetwork[] = [
  { key: 'default/vn1', v4Subnet: '172.16.10.0/24' },
  { key: 'default/vn2', v4Subnet: '172.16.20.0/24' },
  { key: 'ds/dual', v4Subnet: '10.99.0.0/24', v6Subnet: 'fd00:99::/64' },
  { key: 'ds/six', v6Subnet: 'fd00:66::/64' },
  { key: 'ds/bare' },
];
const NADS: LabAttachmentDefinition[] = [
  { namespace: 'default', name: 'vn1', annotations: {}, noGateway: false },
  { namespace: 'default', name: 'blue', annotations: { 'vrfwall.dev/network': 'default/vn2' }, noGateway: false },
  { namespace: 'default', name: 'broken', annotations: { 'vrfwall.dev/network': 'not a reference' }, noGateway: false },
  { namespace: 'default', name: 'gone', annotations: { 'vrfwall.dev/network': 'default/nowhere' }, noGateway: false },
  { namespace: 'ds', name: 'dual', annotations: {}, noGateway: false },
  { namespace: 'ds', name: 'six', annotations: {}, noGateway: false },
  { namespace: 'ds', name: 'bare', annotations: {}, noGateway: false },
];

describe('attachment plan', () => {
  it('resolves both annotation forms through the NADs, allocates from .2 in pod order, static addresses as given, gateways per node', () => {
    const pods = [
      spec('default/a', 'vn1@eth1, blue'),
      spec('default/b', '[{"name": "vn1"}, {"name": "blue", "interface": "blue0", "ips": ["172.16.20.2/24"]}]'),
      spec('default/c'),
      spec('ds/d', 'dual'),
      spec('ds/e', 'six@v6only'),
    ];
    const { plan: p, warnings } = plan({ pods, networks: NETWORKS, attachmentDefinitions: NADS }, 2);
    expect(warnings).toEqual([]);
    const of = (key: string) => p.pods.find((x) => x.key === key)?.attachments;
    // default/b's static .2 on vn2 is taken before default/a's dynamic one.
    expect(of('default/a')?.map((a) => [a.name, a.network, a.interface, a.ips, a.table])).toEqual([
      ['default/vn1', 'default/vn1', 'eth1', { v4: '172.16.10.2' }, 101],
      ['default/blue', 'default/vn2', 'net2', { v4: '172.16.20.3' }, 102],
    ]);
    expect(of('default/b')?.map((a) => [a.interface, a.ips])).toEqual([
      ['net1', { v4: '172.16.10.3' }],
      ['blue0', { v4: '172.16.20.2' }],
    ]);
    expect(of('default/c')).toBeUndefined();
    expect(of('ds/d')?.[0]?.ips).toEqual({ v4: '10.99.0.2', v6: 'fd00:99::2' });
    expect(of('ds/e')?.[0]?.ips).toEqual({ v6: 'fd00:66::2' });
    for (const pod of p.pods) for (const a of pod.attachments ?? []) expect(a.hostIf.length).toBeLessThanOrEqual(15);
    const nets = p.secondaryNetworks ?? [];
    expect(nets.map((n) => [n.key, n.index, n.vni, n.gateways])).toEqual([
      ['default/vn1', 1, 1, [{ v4: '172.16.10.254' }, { v4: '172.16.10.253' }]],
      ['default/vn2', 2, 2, [{ v4: '172.16.20.254' }, { v4: '172.16.20.253' }]],
      ['ds/dual', 3, 3, [{ v4: '10.99.0.254', v6: 'fd00:99::fe' }, { v4: '10.99.0.253', v6: 'fd00:99::fd' }]],
      ['ds/six', 4, 4, [{ v6: 'fd00:66::fffe' }, { v6: 'fd00:66::fffd' }]],
    ]);
    expect(nets.every((n) => n.vxlan !== undefined && n.vxlan.length <= 15 && n.bridge.length <= 15)).toBe(true);
    // The same manifests give the same plan.
    expect(plan({ pods, networks: NETWORKS, attachmentDefinitions: NADS }, 2).plan).toEqual(p);
  });

  it('a network whose NAD says "isGateway": false gets no gateway addresses (an address-less bridge); the pods keep theirs', () => {
    const nads = NADS.map((n) => (n.name === 'vn1' ? { ...n, noGateway: true } : n));
    const { plan: p } = plan({ pods: [spec('default/a', 'vn1@eth1, blue')], networks: NETWORKS, attachmentDefinitions: nads }, 2);
    const nets = p.secondaryNetworks ?? [];
    expect(nets.map((n) => [n.key, n.gateways])).toEqual([
      ['default/vn1', [{}, {}]],
      ['default/vn2', [{ v4: '172.16.20.254' }, { v4: '172.16.20.253' }]], // the control: another NAD's network
    ]);
    expect(p.pods[0]?.attachments?.map((a) => a.ips)).toEqual([{ v4: '172.16.10.2' }, { v4: '172.16.20.2' }]);
  });

  it("names each network's bridge as its NADs name it; several names, none, the pod network's or another network's: the lab's own name, and a warning", () => {
    const nads = NADS.map((n) => (n.name === 'vn1' ? { ...n, bridge: 'vn1' } : n.name === 'blue' ? { ...n, bridge: 'cni0' } : n.name === 'dual' || n.name === 'six' ? { ...n, bridge: 'shared' } : n));
    const pods = [spec('default/a', 'vn1@eth1, blue'), spec('ds/d', 'dual'), spec('ds/e', 'six@v6only')];
    const { plan: p, warnings } = plan({ pods, networks: NETWORKS, attachmentDefinitions: nads });
    const bridges = Object.fromEntries((p.secondaryNetworks ?? []).map((n) => [n.key, n.bridge]));
    expect(bridges['default/vn1']).toBe('vn1');
    for (const key of ['default/vn2', 'ds/dual', 'ds/six']) expect(bridges[key]).toMatch(/^vw/);
    expect(warnings).toEqual([
      'VirtualNetwork default/vn2: its NetworkAttachmentDefinitions name the bridges cni0; the lab names it itself, and the agent will not find its interfaces',
      'VirtualNetwork ds/dual: bridge shared is named for another network too; the lab names it itself, and the agent will not find its interfaces',
      'VirtualNetwork ds/six: bridge shared is named for another network too; the lab names it itself, and the agent will not find its interfaces',
    ]);
  });

  it('wires nothing it cannot resolve, and says why for each attachment', () => {
    const pods = [
      spec('default/a', 'vn1, nope, broken, gone'),
      spec('default/b', '[{"name": "vn1", "ips": ["172.16.99.5"]}, {"name": "blue", "ips": ["172.16.20.254"]}]'),
      spec('default/c', '[not json'),
      spec('default/d', 'vn1@eth0'),
      spec('default/e', '[{"name": "vn1", "ips": ["172.16.10.2"]}]'),
    ];
    const { plan: p, warnings } = plan({ pods, networks: NETWORKS, attachmentDefinitions: NADS });
    expect(warnings).toEqual([
      'Pod default/a: attachment default/nope (net2): NetworkAttachmentDefinition default/nope does not exist; no interface for it',
      'Pod default/a: attachment default/broken (net3): NetworkAttachmentDefinition default/broken: its annotation vrfwall.dev/network: "not a reference" is not "<namespace>/<name>"; no interface for it',
      'Pod default/a: attachment default/gone (net4): NetworkAttachmentDefinition default/gone: its network, VirtualNetwork default/nowhere, does not exist; no interface for it',
      expect.stringMatching(/^Pod default\/c: k8s.v1.cni.cncf.io\/networks: not JSON: .*; no interface for it$/),
      'Pod default/d: attachment default/vn1 (eth0): interface eth0 is taken; no interface for it',
      'Pod default/b: attachment default/vn1 (net1): 172.16.99.5 is not in the network\'s v4Subnet (172.16.10.0/24); no interface for it',
      "Pod default/b: attachment default/blue (net2): 172.16.20.254 is a node's gateway address; no interface for it",
    ]);
    const of = (key: string) => p.pods.find((x) => x.key === key)?.attachments?.map((a) => [a.interface, a.ips.v4]);
    // default/e's static .2 is kept from default/a's dynamic allocation.
    expect(of('default/a')).toEqual([['net1', '172.16.10.3']]);
    expect(of('default/e')).toEqual([['net1', '172.16.10.2']]);
    for (const k of ['default/b', 'default/c', 'default/d']) expect(of(k)).toBeUndefined();
  });

  it('refuses a network without subnets that an attachment uses, naming it; unused ones are fine', () => {
    const attachmentDefinitions = NADS;
    expect(() => plan({ pods: [spec('ds/x', 'bare')], networks: NETWORKS, attachmentDefinitions })).toThrow(/VirtualNetwork ds\/bare: has neither spec.v4Subnet nor spec.v6Subnet/);
    expect(plan({ pods: [spec('ds/x', 'dual')], networks: NETWORKS, attachmentDefinitions }).warnings).toEqual([]);
    const tiny = [{ key: 'ds/bare', v4Subnet: '10.1.1.0/30' }];
    expect(() => plan({ pods: [spec('ds/x', 'bare')], networks: tiny, attachmentDefinitions })).toThrow(/VirtualNetwork ds\/bare: its subnet is too small/);
  });
});

describe('NADs in the manifests', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-mlab-unit-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads name, namespace and annotations of NetworkAttachmentDefinitions (also in Lists), and the pods\' annotation; skips bad ones with a warning', () => {
    fs.writeFileSync(
      path.join(dir, 'all.yaml'),
      [
        'apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {name: vn1, annotations: {vrfwall.dev/network: other/vn9}}\nspec: {config: "{}"}\n',
        'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: k8s.cni.cncf.io/v1, kind: NetworkAttachmentDefinition, metadata: {name: b, namespace: ns2}}\n- {apiVersion: k8s.cni.cncf.io/v1, kind: NetworkAttachmentDefinition, metadata: {name: l2, namespace: ns2}, spec: {config: \'{"type": "bridge", "isGateway": false}\'}}\n',
        'apiVersion: k8s.cni.cncf.io/v2\nkind: NetworkAttachmentDefinition\nmetadata: {name: wrong}\n',
        'apiVersion: vrfwall.dev/v1alpha1\nkind: VirtualNetwork\nmetadata: {name: vn9, namespace: other}\nspec: {v4Subnet: 172.16.9.0/24, v6Subnet: "fd00:9::/64"}\n',
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {k8s.v1.cni.cncf.io/networks: 'vn1@eth1'}}\nspec: {containers: [{name: c, image: x}]}\n",
      ].join('---\n'),
    );
    const m = readLabManifests(dir);
    expect(m.attachmentDefinitions).toEqual([
      { namespace: 'default', name: 'vn1', annotations: { 'vrfwall.dev/network': 'other/vn9' }, noGateway: false },
      { namespace: 'ns2', name: 'b', annotations: {}, noGateway: false },
      { namespace: 'ns2', name: 'l2', annotations: {}, noGateway: true, bridge: 'cni0' }, // isGateway false: an address-less bridge; the bridge plugin's default name
    ]);
    expect(m.networks).toEqual([{ key: 'other/vn9', v4Subnet: '172.16.9.0/24', v6Subnet: 'fd00:9::/64' }]);
    expect(m.pods.map((p) => p.networks)).toEqual(['vn1@eth1']);
    expect(m.warnings.map((w) => `${path.basename(w.source)}: ${w.message}`)).toEqual([
      'all.yaml#3: NetworkAttachmentDefinition: apiVersion "k8s.cni.cncf.io/v2" is not k8s.cni.cncf.io/v1',
    ]);
  });
});

const STATUS = [
  { name: 'lab', interface: 'eth0', ips: ['10.244.1.10', 'fd00:10:244:1::a'], mac: '02:00:00:00:00:01', default: true },
  { name: 'default/vn1', interface: 'eth1', ips: ['172.16.10.2'], mac: '02:00:00:00:00:02', default: false },
];

function labFile(pods: LabClusterFile['pods']): string {
  return JSON.stringify({ version: 1, podCIDRs: ['10.244.0.0/16'], serviceCIDRs: ['10.96.0.0/16'], nodes: [{ name: 'node1', addresses: ['10.244.1.1'] }], pods });
}

const podObject = (name: string, annotations: Record<string, string> = {}): PodObject => ({
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels: {}, annotations },
  spec: { hostNetwork: false, ports: [] },
  status: { podIPs: [] },
});

describe('networkStatus in the cluster file', () => {
  it('becomes the pod\'s network-status annotation, as Multus writes it; an unchanged pod keeps its identity', () => {
    const { content, problems } = parseLabFile(labFile({ 'default/p': { node: 'node1', ips: ['10.244.1.10'], networkStatus: STATUS }, 'default/q': { node: 'node1', ips: ['10.244.1.11'] } }), 'c1.json');
    expect(problems).toEqual([]);
    const manifest = podObject('p', { 'k8s.v1.cni.cncf.io/networks': 'vn1@eth1', [NETWORK_STATUS_ANNOTATION]: 'stale' });
    const done = completeFromLab(manifest, content, () => undefined) as PodObject;
    expect(done.metadata.annotations['k8s.v1.cni.cncf.io/networks']).toBe('vn1@eth1');
    const parsed = parseNetworkStatus(done.metadata.annotations[NETWORK_STATUS_ANNOTATION] as string);
    expect(parsed).toEqual({ ok: STATUS });
    expect(done.status.podIPs).toEqual(['10.244.1.10']);
    expect(done.spec.nodeName).toBe('node1');
    expect(manifest.metadata.annotations[NETWORK_STATUS_ANNOTATION]).toBe('stale'); // the manifest's object is not changed
    // Same manifest object, same lab content: the same pod object again.
    expect(completeFromLab(manifest, content, () => done)).toBe(done);
    // A changed manifest or status: a new object.
    const edited = podObject('p', { 'k8s.v1.cni.cncf.io/networks': 'vn1@eth2' });
    expect(completeFromLab(edited, content, () => done)).not.toBe(done);
    const other = parseLabFile(labFile({ 'default/p': { node: 'node1', ips: ['10.244.1.10'], networkStatus: STATUS.slice(0, 1) } }), 'c2.json').content;
    const again = completeFromLab(manifest, other, () => done) as PodObject;
    expect(again).not.toBe(done);
    expect(parseNetworkStatus(again.metadata.annotations[NETWORK_STATUS_ANNOTATION] as string)).toEqual({ ok: STATUS.slice(0, 1) });
    // A pod without networkStatus: no annotation added, its metadata object as the manifest's.
    const q = podObject('q');
    const qDone = completeFromLab(q, content, () => undefined) as PodObject;
    expect(qDone.metadata).toBe(q.metadata);
    expect(NETWORK_STATUS_ANNOTATION in qDone.metadata.annotations).toBe(false);
  });

  it('skips a bad networkStatus with a problem, keeping the pod', () => {
    const bad = [
      ['not a list', { name: 'x' }],
      ['entry without name', [{ ips: [] }]],
      ['bad address', [{ name: 'lab', ips: ['10.0.0.300'], default: true }]],
      ['bad interface', [{ name: 'lab', interface: 'a/b', ips: [] }]],
    ] as const;
    for (const [what, networkStatus] of bad) {
      const { content, problems } = parseLabFile(labFile({ 'default/p': { node: 'node1', ips: ['10.244.1.10'], networkStatus: networkStatus as unknown as LabClusterFile['pods'][string]['networkStatus'] } }), `bad-${what}.json`);
      expect(problems.map((p) => p.source), what).toEqual([`bad-${what}.json pods[default/p].networkStatus`]);
      expect(problems[0]?.message, what).toMatch(/; skipped$/);
      expect(content?.pods.get('default/p'), what).toEqual({ node: 'node1', ips: ['10.244.1.10'] });
      const done = completeFromLab(podObject('p'), content, () => undefined) as PodObject;
      expect(NETWORK_STATUS_ANNOTATION in done.metadata.annotations, what).toBe(false);
    }
  });
});

describe('matrix table with secondary interfaces', () => {
  const cell = (v4: boolean | null, v6: boolean | null): MatrixCell => ({ icmp: v4, tcp: v4, udp: v4, icmp6: v6, tcp6: v6, udp6: v6 });

  it('shows unprobed families as blank and pairs without a common family as n/a, never as closed', () => {
    const m: Matrix = {
      pods: {
        'default/a': { 'default/b': cell(true, true), 'default/b@net1': cell(true, null) },
        'default/b': { 'default/a': cell(true, true) },
        'default/b@net1': { 'default/a': cell(false, null) },
        'default/c@v6': { 'default/a': cell(null, true) },
      },
      services: {},
      nodePorts: {},
      hostPorts: {},
      dns: {},
    };
    const text = formatMatrix(m);
    const rows = text.split('\n');
    expect(rows).toContain('[1] default/a          ·     itu/itu  itu/       n/a  ');
    expect(rows).toContain('[3] default/b@net1  ---/        ·        ·       n/a  ');
    expect(rows).toContain('[4] default/c@v6       /itu    n/a      n/a       ·   ');
    // Null fields count for neither open nor closed: ---/(v6 not probed) is fully blocked.
    expect(rows).toContain('4 pairs fully connected, 1 fully blocked, 0 partly.');
    expect(CELL_FIELDS.length).toBe(6);
  });
});
