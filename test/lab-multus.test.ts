// Multus secondary interfaces in the lab (issue 14 item 4), on the real
// kernel and WITHOUT agents (no enforcement: every probe must connect, the
// positive controls of the enforcement tests): pods asking for attachments
// in either annotation form get the interfaces, addresses and source routing
// the NADs' VirtualNetworks say, the cluster file carries their
// network-status, the matrix has "ns/pod@<ifname>" rows, same-subnet pairs
// connect at layer 2 (across nodes through the VXLANs), other pairs through
// the nodes' routing, and `lab down` leaves nothing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labMatrix, labUp } from '../src/lab/lab.js';
import { CELL_FIELDS, type Matrix, type MatrixCell } from '../src/lab/protocol.js';
import { labDir, secondaryVxlan } from '../src/lab/names.js';
import { listLabNetns } from '../src/lab/topology.js';
import type { LabState } from '../src/lab/state.js';
import type { LabClusterFile } from '../src/lab/cluster-file.js';
import { podOf } from './helpers/lab.js';

const LABS = ['mlab1', 'mlab2'];

const network = (name: string, subnet: string) =>
  ['apiVersion: vrfwall.dev/v1alpha1', 'kind: VirtualNetwork', `metadata: {name: ${name}, namespace: default}`, `spec: {v4Subnet: ${subnet}}`, ''].join('\n');

const nad = (name: string, annotations = '') =>
  [
    'apiVersion: k8s.cni.cncf.io/v1',
    'kind: NetworkAttachmentDefinition',
    `metadata: {name: ${name}, namespace: default${annotations ? `, annotations: {${annotations}}` : ''}}`,
    `spec: {config: '{"cniVersion": "0.3.1", "type": "bridge", "bridge": "${name}"}'}`,
    '',
  ].join('\n');

const pod = (name: string, networks: string | undefined, node: string) =>
  [
    'apiVersion: v1',
    'kind: Pod',
    `metadata:`,
    `  name: ${name}`,
    `  namespace: default`,
    ...(networks !== undefined ? ['  annotations:', `    k8s.v1.cni.cncf.io/networks: '${networks}'`] : []),
    `spec: {nodeName: ${node}, containers: [{name: c, image: x}]}`,
    '',
  ].join('\n');

/**
 * vn1 (172.16.10.0/24, NAD of the same name) and vn2 (172.16.20.0/24,
 * through NAD "blue" and its vrfwall.dev/network annotation). pod4 asks in
 * the text form (vn1@eth1), vn1-pod in the JSON form without an interface
 * (net1), vn2-pod in the JSON form with a static address; bad names a NAD
 * that does not exist; plain has no annotation.
 */
function writeManifests(dir: string, nodes: 1 | 2): void {
  fs.mkdirSync(dir, { recursive: true });
  const other = nodes === 2 ? 'node2' : 'node1';
  fs.writeFileSync(path.join(dir, 'networks.yaml'), [network('vn1', '172.16.10.0/24'), network('vn2', '172.16.20.0/24')].join('---\n'));
  fs.writeFileSync(path.join(dir, 'nad-vn1.yaml'), nad('vn1'));
  fs.writeFileSync(path.join(dir, 'nad-blue.yaml'), nad('blue', 'vrfwall.dev/network: default/vn2'));
  fs.writeFileSync(
    path.join(dir, 'pods.yaml'),
    [
      pod('pod4', 'vn1@eth1', 'node1'),
      pod('vn1-pod', '[{"name": "vn1"}]', other),
      pod('vn2-pod', '[{"name": "blue", "interface": "eth1", "ips": ["172.16.20.50/24"]}]', other),
      pod('bad', 'no-such-nad', 'node1'),
      pod('plain', undefined, 'node1'),
    ].join('---\n'),
  );
}

const PRIMARY = ['default/bad', 'default/plain', 'default/pod4', 'default/vn1-pod', 'default/vn2-pod'];
const SECONDARY = ['default/pod4@eth1', 'default/vn1-pod@net1', 'default/vn2-pod@eth1'];

function ipJson<T>(netns: string, args: string[]): T {
  return JSON.parse(execFileSync('ip', ['-n', netns, '-j', ...args], { encoding: 'utf8' })) as T;
}

/** "ifname" -> "addr/prefix" list of a netns, read from the kernel. */
function addresses(netns: string): Record<string, string[]> {
  const links = ipJson<{ ifname: string; addr_info: { family: string; local: string; prefixlen: number; scope: string }[] }[]>(netns, ['addr', 'show']);
  return Object.fromEntries(links.map((l) => [l.ifname, l.addr_info.filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`)]));
}

function macOf(netns: string, ifname: string): string {
  return ipJson<{ address: string }[]>(netns, ['link', 'show', 'dev', ifname])[0]?.address as string;
}

/** The device the kernel routes to `dst` through, with `from` as source if given. */
function routeDev(netns: string, dst: string, from?: string): string {
  return ipJson<{ dev: string }[]>(netns, ['route', 'get', dst, ...(from ? ['from', from] : [])])[0]?.dev as string;
}

const nodesOf = (state: LabState): number => state.plan.nodes.length;

const V4_ONLY_OPEN: MatrixCell = { icmp: true, tcp: true, udp: true, icmp6: null, tcp6: null, udp6: null };

/** Every probed field of every cell connected (nothing closed); null only where a side is v4-only. */
function expectAllOpen(m: Matrix): void {
  const closed = Object.entries(m.pods).flatMap(([src, row]) =>
    Object.entries(row).flatMap(([dst, cell]) => CELL_FIELDS.filter((f) => cell[f] === false).map((f) => `${src}->${dst} ${f}`)),
  );
  expect(closed).toEqual([]);
  for (const [src, row] of Object.entries(m.pods)) {
    for (const [dst, cell] of Object.entries(row)) {
      const nulls = CELL_FIELDS.filter((f) => cell[f] === null);
      // Only the v6 fields are ever unprobed, and only with a v4-only interface on one side.
      expect(nulls, `${src}->${dst}`).toEqual(src.includes('@') || dst.includes('@') ? ['icmp6', 'tcp6', 'udp6'] : []);
    }
  }
}

function checkLab(state: LabState, m: Matrix, log: string[]): void {
  const lab = state.lab;
  expect(log.some((l) => /Pod default\/bad: attachment default\/no-such-nad \(net1\): NetworkAttachmentDefinition default\/no-such-nad does not exist/.test(l))).toBe(true);

  // The interfaces, as the kernel has them.
  const pod4 = podOf(state, 'default/pod4');
  const vn1 = podOf(state, 'default/vn1-pod');
  const vn2 = podOf(state, 'default/vn2-pod');
  expect(addresses(pod4.netns).eth1).toEqual(['172.16.10.2/24']);
  expect(addresses(vn1.netns).net1).toEqual(['172.16.10.3/24']);
  expect(addresses(vn2.netns).eth1).toEqual(['172.16.20.50/24']);
  expect(Object.keys(addresses(podOf(state, 'default/bad').netns)).sort()).toEqual(['eth0', 'lo']);
  expect(Object.keys(addresses(podOf(state, 'default/plain').netns)).sort()).toEqual(['eth0', 'lo']);

  // Source routing in pod4: from eth1's address out of eth1 (to node1's
  // gateway on vn1), from eth0's or unbound out of eth0; vn1 is on-link.
  expect(routeDev(pod4.netns, '172.16.20.50', '172.16.10.2')).toBe('eth1');
  expect(routeDev(pod4.netns, '172.16.20.50', pod4.ips.v4)).toBe('eth0');
  expect(routeDev(pod4.netns, '172.16.20.50')).toBe('eth0');
  expect(routeDev(pod4.netns, '172.16.10.3')).toBe('eth1');

  // Every node has both networks' bridges, named as their NADs name them, with its gateway address (node1 .254, node2 .253).
  for (const node of state.plan.nodes) {
    const addrs = addresses(node.netns);
    expect(addrs.vn1).toEqual([`172.16.10.${255 - node.index}/24`]);
    expect(addrs.blue).toEqual([`172.16.20.${255 - node.index}/24`]);
  }

  // All of it inside the lab's namespaces: none of its devices in the host's own.
  const mine = [
    ...(state.plan.secondaryNetworks ?? []).flatMap((n) => [n.bridge, ...(n.vxlan ? [n.vxlan] : [])]),
    ...state.plan.pods.flatMap((p) => (p.attachments ?? []).map((a) => a.hostIf)),
  ];
  expect(mine.length).toBe(nodesOf(state) === 1 ? 5 : 7);
  const root = (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[]).map((l) => l.ifname);
  expect(root.filter((n) => mine.includes(n))).toEqual([]);
  for (const node of state.plan.nodes) {
    const names = ipJson<{ ifname: string }[]>(node.netns, ['link', 'show']).map((l) => l.ifname);
    for (const net of state.plan.secondaryNetworks ?? []) expect(names).toContain(net.bridge);
  }

  // The cluster file: what Multus would write in network-status.
  const file = JSON.parse(fs.readFileSync(path.join(labDir(lab), 'cluster.json'), 'utf8')) as LabClusterFile;
  expect(file.pods['default/pod4']?.networkStatus).toEqual([
    { name: 'lab', interface: 'eth0', ips: [pod4.ips.v4, pod4.ips.v6], mac: macOf(pod4.netns, 'eth0'), default: true },
    { name: 'default/vn1', interface: 'eth1', ips: ['172.16.10.2'], mac: macOf(pod4.netns, 'eth1'), default: false },
  ]);
  expect(file.pods['default/vn2-pod']?.networkStatus?.[1]).toEqual({
    name: 'default/blue',
    interface: 'eth1',
    ips: ['172.16.20.50'],
    mac: macOf(vn2.netns, 'eth1'),
    default: false,
  });
  expect(file.pods['default/plain']?.networkStatus).toBeUndefined();
  expect(file.pods['default/bad']?.networkStatus).toBeUndefined();

  // The matrix: primary rows keep their keys; one row per secondary interface.
  expect(Object.keys(m.pods).sort()).toEqual([...PRIMARY, ...SECONDARY].sort());
  expect(Object.keys(m.services).sort()).toEqual(PRIMARY);
  expectAllOpen(m);
  // Same subnet (layer 2; across nodes through the VXLAN in the two-node lab), both ways.
  expect(m.pods['default/pod4@eth1']?.['default/vn1-pod@net1']).toEqual(V4_ONLY_OPEN);
  expect(m.pods['default/vn1-pod@net1']?.['default/pod4@eth1']).toEqual(V4_ONLY_OPEN);
  // Across subnets, and from the pod network to a secondary one: the nodes route.
  expect(m.pods['default/pod4@eth1']?.['default/vn2-pod@eth1']).toEqual(V4_ONLY_OPEN);
  expect(m.pods['default/plain']?.['default/vn1-pod@net1']).toEqual(V4_ONLY_OPEN);
  expect(m.pods['default/vn2-pod@eth1']?.['default/plain']).toEqual(V4_ONLY_OPEN);
  // Interfaces of one pod are not probed against each other.
  expect(m.pods['default/pod4']?.['default/pod4@eth1']).toBeUndefined();
  // pod4's eth1 probes were sent from eth1's address: vn1-pod resolved that
  // address on its net1 (it answered at layer 2), and pod4's eth0 probes
  // (from pod4's eth0 address, routed by the node) left no such entry for it.
  const neigh = ipJson<{ dst: string; dev: string }[]>(vn1.netns, ['neigh', 'show']);
  expect(neigh.filter((n) => n.dst === '172.16.10.2').map((n) => n.dev)).toEqual(['net1']);
  expect(neigh.filter((n) => n.dst === pod4.ips.v4)).toEqual([]);
}

let tmp: string;

beforeAll(async () => {
  for (const lab of LABS) await labDown(lab);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-mlab-'));
});

afterAll(async () => {
  for (const lab of LABS) await labDown(lab).catch(() => undefined);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('lab with Multus secondary interfaces (no agents)', () => {
  it('one node: interfaces, network-status, @ifname rows, everything connects; a NAD removed later keeps its interface', async () => {
    const lab = 'mlab1';
    const dir = path.join(tmp, 'one');
    writeManifests(dir, 1);
    const log: string[] = [];
    try {
      const state = await labUp(dir, { lab, nodes: 1, agent: false, log: (l) => log.push(l) });
      checkLab(state, await labMatrix(lab), log);
      // As in a cluster, an attachment whose NAD goes away keeps its interface.
      fs.rmSync(path.join(dir, 'nad-vn1.yaml'));
      const m = await labMatrix(lab);
      expect(m.pods['default/pod4@eth1']?.['default/vn1-pod@net1']).toEqual(V4_ONLY_OPEN);
    } finally {
      await labDown(lab);
    }
    expect(listLabNetns(lab)).toEqual([]);
    expect(fs.existsSync(labDir(lab))).toBe(false);
  });

  it('two nodes: each network is one segment across the nodes through a VXLAN per node', async () => {
    const lab = 'mlab2';
    const dir = path.join(tmp, 'two');
    writeManifests(dir, 2);
    const log: string[] = [];
    try {
      const state = await labUp(dir, { lab, nodes: 2, agent: false, log: (l) => log.push(l) });
      expect(podOf(state, 'default/pod4').node).toBe('node1');
      expect(podOf(state, 'default/vn1-pod').node).toBe('node2');
      for (const node of state.plan.nodes) {
        const vxlans = ipJson<{ ifname: string; master?: string; linkinfo: { info_data: { id: number } } }[]>(node.netns, ['-d', 'link', 'show', 'type', 'vxlan']);
        expect(vxlans.map((v) => [v.ifname, v.master, v.linkinfo.info_data.id])).toEqual([
          [secondaryVxlan(lab, 1), 'vn1', 1],
          [secondaryVxlan(lab, 2), 'blue', 2],
        ]);
      }
      checkLab(state, await labMatrix(lab), log);
    } finally {
      await labDown(lab);
    }
    expect(listLabNetns(lab)).toEqual([]);
    expect(fs.existsSync(labDir(lab))).toBe(false);
  });
});
