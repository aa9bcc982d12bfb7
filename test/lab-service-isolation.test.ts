// Issue 11 points 1 and 2, as an attacker tries them from inside pods of a
// real lab (2 nodes, one agent each, the lab's kube-proxy DNATing ClusterIPs):
//   1. Services follow their backends: an isolated pod may not use
//      default/web; a Service of an ordinary namespace whose backend is in a
//      custom network answers only that network, and its backend is not open
//      on its target port to everyone.
//   2. A Service speaks only for pods of its own namespace: a selector-less
//      Service plus a hand-written EndpointSlice naming a pod of an isolated
//      namespace opens nothing, also when the Service is annotated shared.
//   3. (what the compile step writes) a NodePort is judged like its Service's
//      ClusterIP and a hostPort like its pod, in the kernel's map and on the
//      wire, with or without the lab's kube-proxy programming those ports.
// Every negative check has positive controls in the same test: kube-dns from
// the isolated pod, same-network access, a shared Service's own-namespace
// backend from other networks, the allowed network's packets to a NodePort.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSvcKey, Direction, DropReason, VW_SVC_FRONTEND_VRF, VW_SVC_NODE_ADDR, Verdict, type SvcKey } from '../src/kernel/abi.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { RUN_ROOT } from '../src/lab/names.js';
import { listNft } from '../src/lab/nftables.js';
import type { LabState } from '../src/lab/state.js';
import { ensureBuilt } from './helpers/build.js';
import { podOf, readCounters, readPinnedMap, tcpFromPod, timeUntil } from './helpers/lab.js';

const run = promisify(execFile);
const LAB = 'svcsec';
let tmp: string;
let state: LabState;

// Fixed ClusterIPs (inside the lab's 10.96.0.0/16 and fd00:10:96::/108).
const VIP = {
  web: ['10.96.5.1', 'fd00:10:96::5:1'],
  api: ['10.96.5.2', 'fd00:10:96::5:2'],
  pub: ['10.96.5.3', 'fd00:10:96::5:3'],
  sneaky: ['10.96.5.4', 'fd00:10:96::5:4'],
  sneakyShared: ['10.96.5.5', 'fd00:10:96::5:5'],
} as const;

const HTTP = '[{name: http, containerPort: 80}]';

function pod(key: string, o: { node: string; labels?: string; annotations?: string; ports?: string }): string {
  const [ns, name] = key.split('/');
  return [
    'apiVersion: v1',
    'kind: Pod',
    `metadata: {name: ${name}, namespace: ${ns}${o.labels ? `, labels: ${o.labels}` : ''}${o.annotations ? `, annotations: ${o.annotations}` : ''}}`,
    'spec:',
    `  nodeName: ${o.node}`,
    `  containers: [{name: c, image: x, ports: ${o.ports ?? '[]'}}]`,
    '',
  ].join('\n');
}

function service(key: string, vips: readonly string[], o: { selector?: string; annotations?: string; nodePort?: number }): string {
  const [ns, name] = key.split('/');
  const type = o.nodePort !== undefined ? ' type: NodePort,' : '';
  const nodePort = o.nodePort !== undefined ? `, nodePort: ${o.nodePort}` : '';
  return [
    'apiVersion: v1',
    'kind: Service',
    `metadata: {name: ${name}, namespace: ${ns}${o.annotations ? `, annotations: ${o.annotations}` : ''}}`,
    `spec: {${type} clusterIP: ${vips[0]}, clusterIPs: [${vips.join(', ')}],${o.selector ? ` selector: ${o.selector},` : ''} ports: [{name: http, port: 80, targetPort: 80${nodePort}}]}`,
    '',
  ].join('\n');
}

const NODE_PORT = 30080;
const HOST_PORT = 8088;

/** A hand-written EndpointSlice: `service`'s port "http" -> `ip`:80, with the targetRef the writer chose. */
function endpointSlice(ns: string, name: string, svcName: string, family: 'IPv4' | 'IPv6', ip: string, targetRef: string): string {
  const [refNs, refName] = targetRef.split('/');
  return [
    'apiVersion: discovery.k8s.io/v1',
    'kind: EndpointSlice',
    `metadata: {name: ${name}, namespace: ${ns}, labels: {kubernetes.io/service-name: ${svcName}}}`,
    `addressType: ${family}`,
    `endpoints: [{addresses: ["${ip}"], conditions: {ready: true}, targetRef: {kind: Pod, namespace: ${refNs}, name: ${refName}}}]`,
    'ports: [{name: http, port: 80, protocol: TCP}]',
    '',
  ].join('\n');
}

const tcpFrom = (from: string, targets: { host: string; port: number }[]): Promise<Record<string, string>> => tcpFromPod(state, from, targets);

/** Every address of a lab node, as its agent knows them. */
function nodeAddrs(name: string): string[] {
  const n = state.plan.nodes.find((x) => x.name === name)!;
  return [n.gateway.v4, n.gateway.v6, ...(n.underlay ? [n.underlay.v4, n.underlay.v6] : [])];
}

/** network -> VRF id of an agent instance (its persisted allocation). */
function vrfIds(instance: string): Record<string, number> {
  return (JSON.parse(fs.readFileSync(path.join(RUN_ROOT, instance, 'vrf-ids.json'), 'utf8')) as { ids: Record<string, number> }).ids;
}

const v4 = (key: string): string => podOf(state, key).ips.v4;
const v6 = (key: string): string => podOf(state, key).ips.v6;
const hostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
const both = (vips: readonly string[]) => vips.map((host) => ({ host, port: 80 }));
const podPort80 = (key: string) => [v4(key), v6(key)].map((host) => ({ host, port: 80 }));

/** What each target answered, for readable failures: "host:port -> reply". */
function answers(res: Record<string, string>, targets: { host: string; port: number }[]): string[] {
  return targets.map((t) => `${hostPort(t.host, t.port)} -> ${res[hostPort(t.host, t.port)]}`);
}
const reached = (targets: { host: string; port: number }[], who: string) => targets.map((t) => `${hostPort(t.host, t.port)} -> ${who}`);
const blocked = (targets: { host: string; port: number }[]) => targets.map((t) => `${hostPort(t.host, t.port)} -> timeout`);

/** Drops of one reason at one hook direction, summed over both nodes' agents. */
function drops(reason: number, direction: number): bigint {
  return state.plan.nodes
    .map((n) => readCounters(`${LAB}-${n.name}`))
    .flat()
    .filter((c) => c.direction === direction && c.verdict === Verdict.DROPPED && c.code === reason)
    .reduce((a, c) => a + c.packets, 0n);
}

/** The keys of an agent's services map, read back from the kernel. */
function serviceKeys(instance: string): SvcKey[] {
  return readPinnedMap(instance, 'services').map((e) => decodeSvcKey(e.key));
}

/** Addresses with an entry in an agent's services map. */
function serviceAddrs(instance: string): Set<string> {
  return new Set(serviceKeys(instance).map((k) => k.addr));
}

describe('Service isolation in a 2-node lab with agents (issue 11 points 1, 2, and 3 as compiled)', () => {
  beforeAll(async () => {
    ensureBuilt();
    await labDown(LAB);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-svcsec-'));
    fs.writeFileSync(
      path.join(tmp, 'namespaces.yaml'),
      [
        'apiVersion: v1\nkind: Namespace\nmetadata: {name: iso, labels: {vrfwall.dev/isolated: "true"}}\n',
        'apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n',
        'apiVersion: vrfwall.dev/v1alpha1\nkind: VirtualNetwork\nmetadata: {name: blue, namespace: team}\nspec: {podNetwork: true}\n',
      ].join('---\n'),
    );
    const blue = '{vrfwall.dev/network: team/blue}';
    fs.writeFileSync(
      path.join(tmp, 'pods.yaml'),
      [
        pod('default/client', { node: 'node1' }),
        pod('default/web', { node: 'node2', labels: '{app: web}', ports: HTTP }),
        pod('iso/client', { node: 'node1' }),
        pod('iso/peer', { node: 'node1' }),
        // Also published on node2's addresses (portmap's hostPort).
        pod('iso/secret', { node: 'node2', labels: '{app: secret}', ports: `[{name: http, containerPort: 80, hostPort: ${HOST_PORT}}]` }),
        // Ordinary namespace, custom network by pod annotation.
        pod('team/api', { node: 'node2', labels: '{app: api}', annotations: blue, ports: HTTP }),
        pod('team/pub', { node: 'node2', labels: '{app: pub}', annotations: blue, ports: HTTP }),
        pod('team/blue-client', { node: 'node1', annotations: blue }),
      ].join('---\n'),
    );
    fs.writeFileSync(
      path.join(tmp, 'services.yaml'),
      [
        service('default/web', VIP.web, { selector: '{app: web}' }),
        service('team/api', VIP.api, { selector: '{app: api}', nodePort: NODE_PORT }),
        service('team/pub', VIP.pub, { selector: '{app: pub}', annotations: '{vrfwall.dev/shared: "true"}' }),
        // Selector-less: its endpoints are whatever an EndpointSlice says.
        service('default/sneaky', VIP.sneaky, {}),
        service('default/sneaky-shared', VIP.sneakyShared, { annotations: '{vrfwall.dev/shared: "true"}' }),
      ].join('---\n'),
    );
    state = await labUp(tmp, { lab: LAB, nodes: 2, log: () => undefined });

    // The hand-written EndpointSlices name iso/secret's addresses (known once
    // the lab placed it). sneaky's targetRef is honest; sneaky-shared's lies
    // (it names default/web): the address decides, not the reference.
    fs.writeFileSync(
      path.join(tmp, 'slices.yaml'),
      [
        endpointSlice('default', 'sneaky-v4', 'sneaky', 'IPv4', v4('iso/secret'), 'iso/secret'),
        endpointSlice('default', 'sneaky-v6', 'sneaky', 'IPv6', v6('iso/secret'), 'iso/secret'),
        endpointSlice('default', 'sneaky-shared-v4', 'sneaky-shared', 'IPv4', v4('iso/secret'), 'default/web'),
        endpointSlice('default', 'sneaky-shared-v6', 'sneaky-shared', 'IPv6', v6('iso/secret'), 'default/web'),
      ].join('---\n'),
    );
    // The lab kube-proxy DNATs both Services to iso/secret on every node ...
    for (const node of state.plan.nodes) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const table = await listNft(node.netns);
        if (table.includes(`ip daddr ${VIP.sneaky[0]} `) && table.includes(`ip daddr ${VIP.sneakyShared[0]} `) && table.includes(v4('iso/secret'))) break;
        if (Date.now() > deadline) throw new Error(`kube-proxy of ${node.name} did not program the sneaky Services`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    // ... and both agents compiled the file: sneaky-shared's ClusterIP gets
    // an entry in any version of the rules (it is shared), and it was read
    // in the same file as the other slices.
    for (const node of state.plan.nodes) {
      await timeUntil(() => serviceAddrs(`${LAB}-${node.name}`).has(VIP.sneakyShared[0]), 10_000, `agent of ${node.name} compiled the slices`);
    }
  }, 120_000);

  afterAll(async () => {
    await labDown(LAB);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('an isolated pod cannot use default/web; it still resolves names through kube-dns, and the default network uses default/web', async () => {
    const deniedBefore = drops(DropReason.SERVICE_DENIED, Direction.FROM_POD);
    const attack = both(VIP.web);
    const res = await tcpFrom('iso/client', attack);
    // Positive controls, same moment, same lab.
    const ok = await tcpFrom('default/client', both(VIP.web));
    expect(answers(ok, both(VIP.web))).toEqual(reached(both(VIP.web), 'default/web'));
    const sameNet = await tcpFrom('iso/client', [{ host: v4('iso/peer'), port: 8080 }]);
    expect(Object.values(sameNet)).toEqual(['iso/peer']);
    const dns = await run(
      'ip',
      [
        'netns', 'exec', podOf(state, 'iso/client').netns, process.execPath, '--input-type=module', '-e',
        `import dns from 'node:dns'; const r = new dns.promises.Resolver({ timeout: 2000, tries: 2 }); r.setServers(['10.96.0.10']);
         console.log(JSON.stringify(await r.resolve4('web.default.svc.cluster.local')));`,
      ],
      { timeout: 20_000 },
    );
    expect(JSON.parse(dns.stdout)).toEqual([VIP.web[0]]);
    // The attack.
    expect(answers(res, attack)).toEqual(blocked(attack));
    expect(drops(DropReason.SERVICE_DENIED, Direction.FROM_POD)).toBeGreaterThan(deniedBefore);
  });

  it("a Service of an ordinary namespace answers only its backends' custom network, and its backend is not open on the target port", async () => {
    const vip = both(VIP.api);
    const direct = podPort80('team/api');
    // Positive controls: the backend's own network uses the Service and the pod.
    const fromBlue = await tcpFrom('team/blue-client', [...vip, ...direct]);
    expect(answers(fromBlue, [...vip, ...direct])).toEqual(reached([...vip, ...direct], 'team/api'));
    // The attacks: from the default network and from an isolated namespace.
    const fromDefault = await tcpFrom('default/client', [...vip, ...direct]);
    const fromIso = await tcpFrom('iso/client', [...vip, ...direct]);
    expect({ default: answers(fromDefault, [...vip, ...direct]), iso: answers(fromIso, [...vip, ...direct]) }).toEqual({
      default: blocked([...vip, ...direct]),
      iso: blocked([...vip, ...direct]),
    });
  });

  it('a selector-less Service with a hand-written EndpointSlice cannot open a pod of an isolated namespace, shared annotation or not', async () => {
    const vips = [...both(VIP.sneaky), ...both(VIP.sneakyShared)];
    const direct = podPort80('iso/secret');
    // Positive controls: iso/secret serves its own network, and the
    // attacker's pod reaches what it may (its own network's Service).
    const fromPeer = await tcpFrom('iso/peer', direct);
    expect(answers(fromPeer, direct)).toEqual(reached(direct, 'iso/secret'));
    const own = await tcpFrom('default/client', both(VIP.web));
    expect(answers(own, both(VIP.web))).toEqual(reached(both(VIP.web), 'default/web'));
    // The attacks: through both ClusterIPs (DNATed to iso/secret) and directly.
    const fromDefault = await tcpFrom('default/client', [...vips, ...direct]);
    const fromBlue = await tcpFrom('team/blue-client', direct);
    expect({ default: answers(fromDefault, [...vips, ...direct]), blue: answers(fromBlue, direct) }).toEqual({
      default: blocked([...vips, ...direct]),
      blue: blocked(direct),
    });
    // The agents say so: a log line and a metric per Service (Events need the Kubernetes API source).
    for (const agent of state.agents) {
      const log = fs.readFileSync(agent.logFile, 'utf8');
      expect(log).toContain('Service default/sneaky: endpoints');
      expect(log).toContain('(pod iso/secret) are pods of another namespace');
      const node = state.plan.nodes.find((n) => n.name === agent.node)!;
      const { stdout } = await run('ip', ['netns', 'exec', node.netns, 'curl', '-sf', 'http://127.0.0.1:9477/metrics']);
      expect(stdout).toMatch(/^vrfwall_service_problems\{service="default\/sneaky",problem="foreign_backend"\} 2$/m);
      expect(stdout).toMatch(/^vrfwall_service_problems\{service="default\/sneaky-shared",problem="foreign_backend"\} 2$/m);
    }
  });

  it("a NodePort is judged like the Service's ClusterIP, a hostPort like its pod (compile side of issue 11 point 3)", async () => {
    // In the kernel: the NodePort's marker and its only client network, on both nodes.
    for (const agent of state.agents) {
      const np = serviceKeys(agent.instance).filter((k) => k.addr === VW_SVC_NODE_ADDR && k.port === NODE_PORT);
      const hp = serviceKeys(agent.instance).filter((k) => k.port === HOST_PORT);
      const vrfs = vrfIds(agent.instance);
      expect(np.map((k) => k.clientVrf).sort((a, b) => a - b)).toEqual([vrfs['team/blue'], VW_SVC_FRONTEND_VRF]);
      // node2's addresses (v4 and v6, gateway and underlay) carry iso/secret's hostPort
      expect(new Set(hp.map((k) => k.clientVrf))).toEqual(new Set([vrfs['iso/default-podnetwork'], VW_SVC_FRONTEND_VRF]));
      expect(new Set(hp.map((k) => k.addr))).toEqual(new Set(nodeAddrs('node2')));
    }
    // On the wire: to a node address on the NodePort, or on node2 on the
    // hostPort. Allowed means the packet reached the node (refused there, or
    // DNATed to the backend when the lab's kube-proxy programs the port);
    // denied means the SYN was dropped at the sender's from-pod hook.
    const passed = (reply: string | undefined): boolean => reply !== undefined && reply !== 'timeout';
    const nodePorts = nodeAddrs('node1').slice(0, 1).concat(nodeAddrs('node2').slice(0, 1)).map((host) => ({ host, port: NODE_PORT }));
    const hostPorts = nodeAddrs('node2').slice(0, 1).map((host) => ({ host, port: HOST_PORT }));
    const deniedBefore = drops(DropReason.SERVICE_DENIED, Direction.FROM_POD);
    const blue = await tcpFrom('team/blue-client', [...nodePorts, ...hostPorts]);
    const peer = await tcpFrom('iso/peer', [...nodePorts, ...hostPorts]);
    const dflt = await tcpFrom('default/client', [...nodePorts, ...hostPorts]);
    const verdicts = (res: Record<string, string>, targets: { host: string; port: number }[]) =>
      targets.map((t) => `${hostPort(t.host, t.port)}: ${passed(res[hostPort(t.host, t.port)]) ? 'passed' : 'dropped'}`);
    expect({
      blueNodePort: verdicts(blue, nodePorts),
      blueHostPort: verdicts(blue, hostPorts),
      isoNodePort: verdicts(peer, nodePorts),
      isoHostPort: verdicts(peer, hostPorts),
      defaultBoth: verdicts(dflt, [...nodePorts, ...hostPorts]),
    }).toEqual({
      blueNodePort: nodePorts.map((t) => `${hostPort(t.host, t.port)}: passed`), // team/api's own network
      blueHostPort: hostPorts.map((t) => `${hostPort(t.host, t.port)}: dropped`),
      isoNodePort: nodePorts.map((t) => `${hostPort(t.host, t.port)}: dropped`),
      isoHostPort: hostPorts.map((t) => `${hostPort(t.host, t.port)}: passed`), // iso/secret's own network
      defaultBoth: [...nodePorts, ...hostPorts].map((t) => `${hostPort(t.host, t.port)}: dropped`),
    });
    expect(drops(DropReason.SERVICE_DENIED, Direction.FROM_POD)).toBeGreaterThan(deniedBefore);
  });

  it("a Service annotated shared serves its own namespace's backend to every network", async () => {
    const vip = both(VIP.pub);
    for (const from of ['iso/client', 'default/client', 'team/blue-client']) {
      const res = await tcpFrom(from, vip);
      expect([from, ...answers(res, vip)]).toEqual([from, ...reached(vip, 'team/pub')]);
    }
    // Only that Service: team/api in the same namespace and network is not shared.
    const notShared = await tcpFrom('iso/client', both(VIP.api));
    expect(answers(notShared, both(VIP.api))).toEqual(blocked(both(VIP.api)));
  });
});
