// Red-team review of issue 11, as an attacker in a pod of a real 2-node lab
// (one agent per node, the lab's kube-proxy: ClusterIP DNAT, NodePorts DNATed
// and masqueraded on every node).
//
// The chained frontend: iso/secret (isolated, node2) is published as a
// NodePort of its own Service, usable by iso's network only. The attacker
// (default network, node1) may not connect to <node2>:<nodePort> itself, but
// it can write a selector-less Service in its own namespace whose
// EndpointSlice names <node2>:<nodePort>. Its pod's packet to that ClusterIP
// is judged at its from-pod hook as a packet to the attacker's own Service;
// kube-proxy on node1 DNATs it to node2's NodePort, node2's kube-proxy DNATs
// it again to iso/secret and masquerades it to the node, so iso/secret's
// to-pod hook sees "the node" (rule 6). The ClusterIP must answer only the
// networks that may use the frontend it leads to.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSvcKey } from '../src/kernel/abi.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { listNft } from '../src/lab/nftables.js';
import type { LabState } from '../src/lab/state.js';
import { ensureBuilt } from './helpers/build.js';
import { podOf, readPinnedMap, tcpFromPod, timeUntil } from './helpers/lab.js';
import { ip } from './helpers/netns.js';
import { receiveIn, sendFrom, vxlanInner } from './helpers/tunnel.js';

const LAB = 'redteam';
const NODE_PORT = 30180;
const HOP_VIP = '10.96.7.1';
const WEB_VIP = '10.96.7.2';
const PROOF_VIP = '10.96.7.4';
const TUN_VIP = '10.96.7.5';
let tmp: string;
let state: LabState;

function pod(key: string, node: string, labels = '{}'): string {
  const [ns, name] = key.split('/');
  return [
    'apiVersion: v1',
    'kind: Pod',
    `metadata: {name: ${name}, namespace: ${ns}, labels: ${labels}}`,
    `spec: {nodeName: ${node}, containers: [{name: c, image: x, ports: [{name: http, containerPort: 80}]}]}`,
    '',
  ].join('\n');
}

function service(key: string, vip: string, o: { selector?: string; nodePort?: number }): string {
  const [ns, name] = key.split('/');
  const type = o.nodePort !== undefined ? ' type: NodePort,' : '';
  const np = o.nodePort !== undefined ? `, nodePort: ${o.nodePort}` : '';
  return [
    'apiVersion: v1',
    'kind: Service',
    `metadata: {name: ${name}, namespace: ${ns}}`,
    `spec: {${type} clusterIP: ${vip}, clusterIPs: [${vip}],${o.selector ? ` selector: ${o.selector},` : ''} ports: [{name: http, port: 80, targetPort: 80${np}}]}`,
    '',
  ].join('\n');
}

/** Addresses with an entry in an agent's services map, read back from the kernel. */
function serviceAddrs(instance: string): Set<string> {
  return new Set(readPinnedMap(instance, 'services').map((e) => decodeSvcKey(e.key).addr));
}

describe('red team: a ClusterIP chained to another Service frontend (lab redteam, 2 nodes)', () => {
  let node2: string;

  beforeAll(async () => {
    ensureBuilt();
    await labDown(LAB);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-redteam-'));
    fs.writeFileSync(
      path.join(tmp, 'cluster.yaml'),
      [
        'apiVersion: v1\nkind: Namespace\nmetadata: {name: iso, labels: {vrfwall.dev/isolated: "true"}}\n',
        pod('iso/secret', 'node2', '{app: secret}'),
        pod('iso/peer', 'node1'),
        pod('default/web', 'node2', '{app: web}'),
        pod('default/client', 'node1'),
        service('iso/secret', '10.96.7.3', { selector: '{app: secret}', nodePort: NODE_PORT }),
        service('default/web', WEB_VIP, { selector: '{app: web}' }),
        service('default/hop', HOP_VIP, {}),
        // Written in the same file as the attacker's slice, to know when an agent compiled it.
        service('default/proof', PROOF_VIP, {}),
        // The attacker's tunnel Service: UDP 4789 to a node address on flannel's VXLAN port (slice below).
        `apiVersion: v1\nkind: Service\nmetadata: {name: tun, namespace: default}\nspec: {clusterIP: ${TUN_VIP}, clusterIPs: [${TUN_VIP}], ports: [{name: vx, port: 4789, targetPort: 8472, protocol: UDP}]}\n`,
      ].join('---\n'),
    );
    state = await labUp(tmp, { lab: LAB, nodes: 2, log: () => undefined });
    node2 = state.plan.nodes.find((n) => n.name === 'node2')!.gateway.v4;
    // The attacker's EndpointSlice: its Service leads to node2's NodePort.
    const slice = (name: string, service: string, ip: string, port: number, portName = 'http', protocol = 'TCP') =>
      [
        'apiVersion: discovery.k8s.io/v1',
        'kind: EndpointSlice',
        `metadata: {name: ${name}, namespace: default, labels: {kubernetes.io/service-name: ${service}}}`,
        'addressType: IPv4',
        `endpoints: [{addresses: ["${ip}"], conditions: {ready: true}}]`,
        `ports: [{name: ${portName}, port: ${port}, protocol: ${protocol}}]`,
        '',
      ].join('\n');
    const node1Addr = state.plan.nodes.find((n) => n.name === 'node1')!.gateway.v4;
    fs.writeFileSync(
      path.join(tmp, 'slice.yaml'),
      [
        slice('hop-1', 'hop', node2, NODE_PORT),
        slice('tun-1', 'tun', node1Addr, 8472, 'vx', 'UDP'),
        slice('proof-1', 'proof', podOf(state, 'default/web').ips.v4, 80),
      ].join('---\n'),
    );
    // node1's kube-proxy programs the hop (the attacker's pod is there).
    const node1 = state.plan.nodes.find((n) => n.name === 'node1')!;
    const deadline = Date.now() + 15_000;
    while (!(await listNft(node1.netns)).includes(`ip daddr ${HOP_VIP} `) || !(await listNft(node1.netns)).includes(`ip daddr ${TUN_VIP} `)) {
      if (Date.now() > deadline) throw new Error('kube-proxy of node1 did not program default/hop');
      await new Promise((r) => setTimeout(r, 100));
    }
    // and node1's agent compiled the file (proof's ClusterIP has entries in any version of the rules)
    await timeUntil(() => serviceAddrs(`${LAB}-node1`).has(PROOF_VIP), 15_000, 'agent of node1 compiled the slices');
  }, 150_000);

  afterAll(async () => {
    await labDown(LAB);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("the default network cannot reach iso/secret through its own ClusterIP that leads to iso's NodePort", async () => {
    // Positive controls: iso's own pod on node1 uses the NodePort on node2
    // (DNAT and masquerade work end to end), and the attacker's pod uses its
    // own network's Service.
    expect(await tcpFromPod(state, 'iso/peer', [{ host: node2, port: NODE_PORT }])).toEqual({ [`${node2}:${NODE_PORT}`]: 'iso/secret' });
    expect(await tcpFromPod(state, 'default/client', [{ host: WEB_VIP, port: 80 }])).toEqual({ [`${WEB_VIP}:80`]: 'default/web' });
    // The attacks: the NodePort itself (denied at the from-pod hook), and the chain.
    const res = await tcpFromPod(state, 'default/client', [
      { host: node2, port: NODE_PORT },
      { host: HOP_VIP, port: 80 },
    ]);
    expect(res).toEqual({ [`${node2}:${NODE_PORT}`]: 'timeout', [`${HOP_VIP}:80`]: 'timeout' });
  });

  it('a pod cannot carry a tunnel packet through a Service to a node\'s overlay port, where the node would unwrap a forged source', async () => {
    const node1 = state.plan.nodes.find((n) => n.name === 'node1')!;
    const peer = podOf(state, 'iso/peer');
    const secret = podOf(state, 'iso/secret');
    const client = podOf(state, 'default/client');
    ip(['-n', node1.netns, 'link', 'add', 'tred-vx', 'type', 'vxlan', 'id', '42', 'dstport', '8472']);
    try {
      ip(['-n', node1.netns, 'link', 'set', 'tred-vx', 'up']);
      const vxMac = (JSON.parse(ip(['-n', node1.netns, '-j', 'link', 'show', 'tred-vx'])) as { address: string }[])[0]!.address;
      // The packet: VXLAN to node1's overlay device, inside it iso/secret's address to iso/peer.
      const packet = vxlanInner(vxMac, secret.ips.v4, peer.ips.v4);
      // Positive control: sent by the node itself to its own port, iso/peer gets it with iso/secret's source.
      const fromNode = receiveIn(peer.netns, 3000);
      sendFrom(node1.netns, node1.gateway.v4, 8472, packet);
      expect(await fromNode).toBe(secret.ips.v4);
      // The default network's pod: straight to the port is TUNNEL at its from_pod ...
      const direct = receiveIn(peer.netns, 1500);
      sendFrom(client.netns, node1.gateway.v4, 8472, packet);
      expect(await direct).toBe('');
      // ... and through its own Service, whose backend is that port, kube-proxy's DNAT must not carry it there.
      const viaService = receiveIn(peer.netns, 1500);
      sendFrom(client.netns, TUN_VIP, 4789, packet);
      expect(await viaService).toBe('');
    } finally {
      ip(['-n', node1.netns, 'link', 'del', 'tred-vx']);
    }
  });
});
