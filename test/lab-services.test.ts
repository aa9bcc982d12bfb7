// The lab's Services without agents (no enforcement): ClusterIP and nodePort
// allocation, the nftables rules the lab's kube-proxy builds (ClusterIPs,
// NodePorts, external IPs, portmap's hostPorts), the cluster DNS on the wire,
// and then on the real kernel (2 nodes): every Service reachable from every
// pod on IPv4 and IPv6, every NodePort on every address of every node
// (masqueraded to the node), every hostPort on its node (not masqueraded),
// DNAT spread over backends, DNS answering through 10.96.0.10 /
// fd00:10:96::a, and Services added or removed while the lab runs.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { allocateClusterIPs } from '../src/lab/clusterips.js';
import { answerQuery, decodeResponse, encodeQuery } from '../src/lab/dns.js';
import { labFrontends } from '../src/lab/frontends.js';
import { labDown, labMatrix, labUp } from '../src/lab/lab.js';
import { formatMatrix } from '../src/lab/matrix.js';
import { clusterFile, servicesFile } from '../src/lab/names.js';
import { MASQ_MARK, NFT_TABLE, listNft, nftScript } from '../src/lab/nftables.js';
import { allocateNodePorts } from '../src/lab/nodeports.js';
import { nodeAddresses } from '../src/lab/plan.js';
import type { LabServicesFile } from '../src/lab/services.js';
import type { LabState } from '../src/lab/state.js';
import { labOverlay, type LabClusterFile } from '../src/lab/cluster-file.js';
import { serviceEndpoints } from '../src/model/services.js';
import type { DnatTarget } from '../src/lab/dnat.js';
import { parseManifests } from '../src/sources/documents.js';
import { ManifestSource } from '../src/sources/manifests.js';
import { emptyClusterState } from '../src/sources/source.js';
import { ensureBuilt } from './helpers/build.js';
import { podOf, timeUntil } from './helpers/lab.js';
import { writeLabFile } from './helpers/manifests.js';

const run = promisify(execFile);

const pod = (ns: string, name: string, o: { node?: string; labels?: string; ports: string }) =>
  [
    'apiVersion: v1',
    'kind: Pod',
    `metadata: {name: ${name}, namespace: ${ns}${o.labels ? `, labels: ${o.labels}` : ''}}`,
    'spec:',
    ...(o.node ? [`  nodeName: ${o.node}`] : []),
    `  containers: [{name: c, image: x, ports: ${o.ports}}]`,
    '',
  ].join('\n');

const service = (ns: string, name: string, spec: string) =>
  ['apiVersion: v1', 'kind: Service', `metadata: {name: ${name}, namespace: ${ns}}`, `spec: ${spec}`, ''].join('\n');

describe('ClusterIP allocation', () => {
  const svc = (key: string, clusterIPs: string[] = [], noClusterIP = false) => ({ key, clusterIPs, noClusterIP });

  it('is dual stack, in key order, skips the reserved addresses and leaves set and headless Services alone', () => {
    const alloc = allocateClusterIPs(
      [svc('b/two'), svc('a/one'), svc('kube-system/kube-dns', ['10.96.0.10', 'fd00:10:96::a']), svc('c/fixed', ['10.96.0.3']), svc('c/none', [], true)],
      {},
    );
    expect(alloc).toEqual({
      'a/one': { clusterIPs: ['10.96.0.2', 'fd00:10:96::2'] },
      'b/two': { clusterIPs: ['10.96.0.4', 'fd00:10:96::4'] },
    });
    const many = allocateClusterIPs(Array.from({ length: 9 }, (_, i) => svc(`n/s${i}`)), {});
    expect(Object.values(many).map((a) => a.clusterIPs[0])).not.toContain('10.96.0.10');
    expect(Object.values(many).map((a) => a.clusterIPs[0])).not.toContain('10.96.0.1');
  });

  it('keeps earlier allocations when Services come and go, and gives way to an address set in a manifest', () => {
    const first = allocateClusterIPs([svc('a/one'), svc('b/two')], {});
    const withCurrent = (key: string) => svc(key, first[key]?.clusterIPs ?? []);
    // a/zero sorts first but must not move a/one or b/two.
    const second = allocateClusterIPs([svc('a/zero'), withCurrent('a/one'), withCurrent('b/two')], first);
    expect(second['a/one']).toEqual(first['a/one']);
    expect(second['b/two']).toEqual(first['b/two']);
    expect(second['a/zero']?.clusterIPs).toEqual(['10.96.0.4', 'fd00:10:96::4']);
    // A manifest now claims a/one's address: a/one is moved, the manifest wins.
    const third = allocateClusterIPs([withCurrent('a/one'), svc('c/claim', ['10.96.0.2'])], first);
    expect(third['a/one']?.clusterIPs[0]).not.toBe('10.96.0.2');
    expect(third['c/claim']).toBeUndefined();
    // A deleted Service's entry goes away.
    expect(Object.keys(allocateClusterIPs([withCurrent('b/two')], first))).toEqual(['b/two']);
  });
});

describe('nodePort allocation', () => {
  const svc = (key: string, ports: { port: number; protocol?: string; nodePort?: number }[], wantsNodePorts = true) => ({
    key,
    wantsNodePorts,
    ports: ports.map((p) => ({ protocol: 'TCP', ...p })),
  });

  it('gives every port of NodePort and LoadBalancer Services the lowest free nodePort from 30000, in key order', () => {
    const alloc = allocateNodePorts(
      [
        svc('b/two', [{ port: 80 }, { port: 53, protocol: 'UDP' }]),
        svc('a/one', [{ port: 80 }]),
        svc('a/fixed', [{ port: 80, nodePort: 30001 }, { port: 81 }]),
        svc('c/plain', [{ port: 80 }], false),
      ],
      {},
    );
    expect(alloc).toEqual({ 'a/fixed': { '81/TCP': 30000 }, 'a/one': { '80/TCP': 30002 }, 'b/two': { '80/TCP': 30003, '53/UDP': 30004 } });
  });

  it('keeps earlier allocations (as the source fills them in), gives way to a manifest and frees deleted ones', () => {
    const first = allocateNodePorts([svc('a/one', [{ port: 80 }]), svc('b/two', [{ port: 80 }])], {});
    const current = (key: string) => svc(key, [{ port: 80, nodePort: first[key]?.['80/TCP'] as number }]);
    const second = allocateNodePorts([svc('a/zero', [{ port: 80 }]), current('a/one'), current('b/two')], first);
    expect(second).toEqual({ 'a/one': { '80/TCP': 30000 }, 'b/two': { '80/TCP': 30001 }, 'a/zero': { '80/TCP': 30002 } });
    // A manifest claims a/one's nodePort: a/one moves, the manifest keeps it.
    const third = allocateNodePorts([current('a/one'), svc('c/claim', [{ port: 80, nodePort: 30000 }])], first);
    expect(third['a/one']?.['80/TCP']).not.toBe(30000);
    expect(third['c/claim']).toBeUndefined();
    expect(Object.keys(allocateNodePorts([current('b/two')], first))).toEqual(['b/two']);
    // No longer a NodePort Service: its nodePort is freed.
    expect(allocateNodePorts([svc('a/one', [{ port: 80 }], false)], first)).toEqual({});
  });

  it('reaches the agents through the cluster file: the manifest source fills in what the manifest leaves out', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-npsrc-'));
    const labPath = path.join(dir, 'cluster.json');
    const manifests = path.join(dir, 'm');
    fs.mkdirSync(manifests);
    fs.writeFileSync(
      path.join(manifests, 's.yaml'),
      [
        service('a', 'np', '{type: NodePort, ports: [{name: a, port: 80}, {name: b, port: 81, nodePort: 31000}]}'),
        service('a', 'plain', '{ports: [{port: 80}]}'),
      ].join('---\n'),
    );
    const lab: LabClusterFile = {
      version: 1,
      podCIDRs: ['10.244.0.0/16'],
      serviceCIDRs: ['10.96.0.0/16'],
      nodes: [],
      pods: {},
      nodePorts: { 'a/np': { '80/TCP': 30007, '81/TCP': 30008 }, 'a/plain': { '80/TCP': 30009 } },
    };
    await writeLabFile(labPath, lab);
    const source = new ManifestSource({ dirs: [manifests], overlay: labOverlay(labPath), logger: pino({ level: 'silent' }), resyncMs: 0 });
    try {
      await source.start();
      const np = source.current().services.get('a/np');
      // The manifest's own nodePort wins; a ClusterIP Service gets none.
      expect(np?.spec.ports.map((p) => p.nodePort)).toEqual([30007, 31000]);
      expect(source.current().services.get('a/plain')?.spec.ports[0]?.nodePort).toBeUndefined();
      expect(source.current().problems).toEqual([]);
    } finally {
      await source.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('NodePort, external IP and hostPort frontends', () => {
  const state = (yaml: string, podIPs: Record<string, string[]>) => {
    const cs = emptyClusterState();
    for (const { object: o } of parseManifests(yaml, 'x.yaml').objects) {
      const key = `${o.metadata.namespace}/${o.metadata.name}`;
      if (o.kind === 'Service') cs.services.set(key, o);
      if (o.kind === 'Pod') cs.pods.set(key, { ...o, spec: { ...o.spec, nodeName: 'node1' }, status: { podIPs: podIPs[key] ?? [] } });
    }
    return cs;
  };
  const yaml = [
    pod('a', 'p1', { labels: '{app: web}', ports: '[{containerPort: 8080, hostPort: 80}, {containerPort: 53, protocol: UDP, hostPort: 53, hostIP: 10.244.1.1}]' }),
    pod('a', 'p2', { labels: '{app: web}', ports: '[{containerPort: 8080, hostPort: 80}]' }),
    service('a', 'np', '{type: NodePort, clusterIPs: [10.96.0.5, "fd00:10:96::5"], selector: {app: web}, ports: [{port: 80, targetPort: 8080, nodePort: 30080}]}'),
    service('a', 'v4', '{type: LoadBalancer, clusterIP: 10.96.0.6, externalIPs: [192.0.2.1, "2001:db8::1"], selector: {app: web}, ports: [{port: 80, targetPort: 8080, nodePort: 30080}]}'),
  ].join('---\n');

  it('one NodePort per family of the ClusterIPs, external IPs like the ClusterIP (of those families); clashes are reported, not programmed', () => {
    const cs = state(yaml, { 'a/p1': ['10.244.1.10', 'fd00:10:244:1::a'], 'a/p2': ['10.244.1.11'] });
    const f = labFrontends(cs, serviceEndpoints(cs).services);
    expect(f.nodePorts.map((n) => [n.service, n.nodePort, n.family, n.backends.map((b) => b.ip)])).toEqual([
      ['a/np', 30080, 4, ['10.244.1.10', '10.244.1.11']],
      ['a/np', 30080, 6, ['fd00:10:244:1::a']],
    ]);
    expect(f.external).toEqual([
      { service: 'a/v4', vip: '192.0.2.1', family: 4, protocol: 'TCP', port: 80, backends: [{ ip: '10.244.1.10', port: 8080, pod: 'a/p1' }, { ip: '10.244.1.11', port: 8080, pod: 'a/p2' }] },
    ]);
    // hostPorts: per family of the pod; hostIP binds one address (and family); a second pod on 80/TCP clashes.
    expect(f.hostPorts.map((h) => [h.pod, h.hostPort, h.protocol, h.family, h.hostIP ?? '*', h.ip])).toEqual([
      ['a/p1', 80, 'TCP', 4, '*', '10.244.1.10'],
      ['a/p1', 80, 'TCP', 6, '*', 'fd00:10:244:1::a'],
      ['a/p1', 53, 'UDP', 4, '10.244.1.1', '10.244.1.10'],
    ]);
    expect(f.problems.map((p) => `${p.source}: ${p.message}`)).toEqual([
      "Service a/v4: nodePort 30080/TCP is already a/np's; not programmed",
      "Pod a/p2: hostPort 80/TCP on node1 is already a/p1's; not programmed",
    ]);
  });

  it('nftables: NodePorts on local addresses (not loopback) with the masquerade mark, hostPorts without it', () => {
    const cs = state(yaml, { 'a/p1': ['10.244.1.10', 'fd00:10:244:1::a'] });
    const f = labFrontends(cs, serviceEndpoints(cs).services);
    const script = nftScript([], { gateway: { v4: '10.244.1.1', v6: 'fd00:10:244:1::1' } }, f);
    expect(script).toContain('fib daddr type local ip daddr != 127.0.0.0/8 jump nodeports');
    expect(script).toContain('fib daddr type local ip6 daddr != ::1 jump nodeports');
    expect(script).toContain(
      `meta nfproto ipv6 tcp dport 30080 meta mark set meta mark | ${MASQ_MARK} dnat ip6 to numgen random mod 1 map { 0 : fd00:10:244:1::a . 8080 }`,
    );
    expect(script).toContain(`ip daddr 192.0.2.1 tcp dport 80 meta mark set meta mark | ${MASQ_MARK} dnat ip to`);
    expect(script).toContain('meta nfproto ipv4 tcp dport 80 dnat ip to numgen random mod 1 map { 0 : 10.244.1.10 . 8080 } comment "a/p1"');
    expect(script).toContain('ip daddr 10.244.1.1 udp dport 53 dnat ip to numgen random mod 1 map { 0 : 10.244.1.10 . 53 } comment "a/p1"');
    expect(script).toContain(`meta mark & ${MASQ_MARK} == ${MASQ_MARK} masquerade`);
  });
});

describe('nftables rules', () => {
  const target = (vip: string, backends: [string, number][], protocol: DnatTarget['protocol'] = 'TCP'): DnatTarget => ({
    service: 'ns/svc',
    vip,
    family: vip.includes(':') ? 6 : 4,
    protocol,
    port: 80,
    backends: backends.map(([ip, port]) => ({ ip, port })),
  });

  it('DNATs each VIP:port to a random backend address . port, per family; no rule without backends', () => {
    const script = nftScript(
      [
        target('10.96.0.2', [['10.244.1.10', 8080], ['10.244.2.10', 8081]]),
        target('fd00:10:96::2', [['fd00:10:244:1::a', 8080]], 'UDP'),
        target('10.96.0.3', []),
      ],
      { gateway: { v4: '10.244.1.1', v6: 'fd00:10:244:1::1' } },
    );
    expect(script).toContain(
      'ip daddr 10.96.0.2 tcp dport 80 dnat ip to numgen random mod 2 map { 0 : 10.244.1.10 . 8080, 1 : 10.244.2.10 . 8081 }',
    );
    expect(script).toContain('ip6 daddr fd00:10:96::2 udp dport 80 dnat ip6 to numgen random mod 1 map { 0 : fd00:10:244:1::a . 8080 }');
    expect(script).not.toContain('10.96.0.3');
    expect(script).toContain('elements = { 10.244.1.10 . 10.244.1.10, 10.244.2.10 . 10.244.2.10 }');
    // One transaction that replaces the table.
    expect(script.indexOf(`delete table inet ${NFT_TABLE}`)).toBeLessThan(script.indexOf('chain services'));
  });
});

describe('cluster DNS answers', () => {
  const records = { 'web.a.svc.cluster.local': ['10.96.0.2', 'fd00:10:96::2'], 'v4only.a.svc.cluster.local': ['10.96.0.3'] };
  const ask = (name: string, type: 'A' | 'AAAA') => decodeResponse(answerQuery(encodeQuery(7, name, type), records) as Buffer);

  it('answers A and AAAA, NODATA for a missing family, NXDOMAIN otherwise; case-insensitive', () => {
    expect(ask('web.a.svc.cluster.local', 'A')).toEqual({ id: 7, rcode: 0, addresses: ['10.96.0.2'] });
    expect(ask('WEB.a.svc.cluster.local.', 'AAAA')).toEqual({ id: 7, rcode: 0, addresses: ['fd00:10:96::2'] });
    expect(ask('v4only.a.svc.cluster.local', 'AAAA')).toEqual({ id: 7, rcode: 0, addresses: [] });
    expect(ask('nope.a.svc.cluster.local', 'A')?.rcode).toBe(3);
    expect(ask('example.com', 'A')?.rcode).toBe(3);
  });

  it('drops bytes that are not a query', () => {
    expect(answerQuery(Buffer.from('not dns'), records)).toBeUndefined();
  });
});

// ---- on the kernel -------------------------------------------------------------

const LAB = 'lpsvc';
let tmp: string;
let state: LabState;

const WEB_PORTS = '[{name: http, containerPort: 8080}, {name: stats, containerPort: 9090, protocol: UDP}]';
// portmap: web1 publishes 8080 as hostPort 8081 on every address of node1, web2 its UDP 9090 as 9091 on node2's 10.244.2.1 only.
const WEB1_PORTS = '[{name: http, containerPort: 8080, hostPort: 8081}, {name: stats, containerPort: 9090, protocol: UDP}]';
const WEB2_PORTS = '[{name: http, containerPort: 8080}, {name: stats, containerPort: 9090, protocol: UDP, hostPort: 9091, hostIP: 10.244.2.1}]';

/** Runs a tiny Node script inside a pod's namespace; returns its stdout. */
async function inPod(key: string, script: string): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', podOf(state, key).netns, process.execPath, '--input-type=module', '-e', script], {
    timeout: 20_000,
  });
  return stdout.trim();
}

/** The node's conntrack entry (original and reply tuple) matching `re`. */
async function conntrackEntry(netns: string, re: RegExp): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', netns, 'cat', '/proc/net/nf_conntrack']);
  const line = stdout.split('\n').find((l) => re.test(l));
  if (line === undefined) throw new Error(`no conntrack entry in ${netns} matches ${re}`);
  return line;
}

function readServices(): LabServicesFile {
  return JSON.parse(fs.readFileSync(servicesFile(LAB), 'utf8')) as LabServicesFile;
}

function clusterIPsOf(key: string): string[] {
  return readServices().services.find((s) => s.key === key)?.clusterIPs ?? [];
}

describe('the lab kube-proxy and DNS on two nodes, without agents', () => {
  beforeAll(async () => {
    ensureBuilt();
    await labDown(LAB);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-lpsvc-'));
    fs.writeFileSync(
      path.join(tmp, 'a.yaml'),
      [
        pod('a', 'web1', { node: 'node1', labels: '{app: web}', ports: WEB1_PORTS }),
        pod('a', 'web2', { node: 'node2', labels: '{app: web}', ports: WEB2_PORTS }),
        service('a', 'web', '{selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}, {name: stats, port: 90, protocol: UDP, targetPort: stats}]}'),
        service('a', 'fixed', '{clusterIP: 10.96.7.7, selector: {app: web}, ports: [{port: 81, targetPort: 8080}]}'),
        service('a', 'headless', '{clusterIP: None, selector: {app: web}, ports: [{port: 80}]}'),
        // ClusterIPs set, so the allocation checked below stays as it is; nodePorts allocated.
        service(
          'a',
          'np',
          '{type: NodePort, clusterIPs: [10.96.9.1, "fd00:10:96::9:1"], selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}, {name: stats, port: 90, protocol: UDP, targetPort: stats}]}',
        ),
        // Single stack: its nodePort on IPv4 only. externalIP and LoadBalancer IP DNATed like the ClusterIP.
        service(
          'a',
          'lb',
          '{type: LoadBalancer, clusterIP: 10.96.9.2, externalIPs: [192.0.2.10], selector: {app: web}, ports: [{port: 80, targetPort: 8080, nodePort: 30100}]}\nstatus: {loadBalancer: {ingress: [{ip: 198.51.100.10}]}}',
        ),
      ].join('---\n'),
    );
    fs.writeFileSync(path.join(tmp, 'client.yaml'), pod('default', 'client', { ports: '[]' }));
    state = await labUp(tmp, { lab: LAB, nodes: 2, agent: false });
  });

  afterAll(async () => {
    await labDown(LAB);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('reaches every Service port on both ClusterIPs from every pod, hairpin included, and resolves through 10.96.0.10', async () => {
    const m = await labMatrix(LAB);
    const pods = ['a/web1', 'a/web2', 'default/client'];
    expect(Object.keys(m.services).sort()).toEqual(pods);
    const keys = [
      'a/fixed:81/TCP',
      'a/lb:80/TCP',
      'a/lb:80/TCP externalIP 192.0.2.10',
      'a/lb:80/TCP loadBalancerIP 198.51.100.10',
      'a/np:80/TCP',
      'a/np:80/TCP/v6',
      'a/np:90/UDP',
      'a/np:90/UDP/v6',
      'a/web:80/TCP',
      'a/web:80/TCP/v6',
      'a/web:90/UDP',
      'a/web:90/UDP/v6',
      'default/kubernetes:443/TCP',
      'default/kubernetes:443/TCP/v6',
      'kube-system/kube-dns:53/TCP',
      'kube-system/kube-dns:53/TCP/v6',
      'kube-system/kube-dns:53/UDP',
      'kube-system/kube-dns:53/UDP/v6',
    ];
    for (const p of pods) {
      expect(Object.keys(m.services[p] ?? {}).sort()).toEqual(keys);
      expect(Object.entries(m.services[p] ?? {}).filter(([, ok]) => !ok)).toEqual([]);
      expect(m.dns[p]).toBe(true);
    }
    // The lab's own DNS pod is no row or column of the pod matrix.
    expect(Object.keys(m.pods).sort()).toEqual(pods);
  });

  it('reaches every NodePort on every address of every node, of each family of the Service, masqueraded to that node', async () => {
    const m = await labMatrix(LAB);
    const cluster = JSON.parse(fs.readFileSync(clusterFile(LAB), 'utf8')) as LabClusterFile;
    // Allocated for the ports without one, in the cluster file the agents read; a/lb's own is kept.
    expect(cluster.nodePorts).toEqual({ 'a/np': { '80/TCP': 30000, '90/UDP': 30001 } });
    expect(readServices().services.find((s) => s.key === 'a/lb')?.ports[0]?.nodePort).toBe(30100);
    const expected: string[] = [];
    for (const node of state.plan.nodes) {
      for (const ip of nodeAddresses(node)) {
        const v = ip.includes(':') ? 6 : 4;
        expected.push(`a/np:80/TCP nodePort 30000 ${node.name} v${v} ${ip}`, `a/np:90/UDP nodePort 30001 ${node.name} v${v} ${ip}`);
        if (v === 4) expected.push(`a/lb:80/TCP nodePort 30100 ${node.name} v4 ${ip}`);
      }
    }
    expect(expected).toHaveLength(20); // 2 nodes x (4 + 4 + 2)
    for (const p of ['a/web1', 'a/web2', 'default/client']) {
      expect(Object.keys(m.nodePorts[p] ?? {}).sort()).toEqual([...expected].sort());
      expect(Object.entries(m.nodePorts[p] ?? {}).filter(([, ok]) => !ok)).toEqual([]);
    }
    expect(formatMatrix(m)).toContain('60 of 60 NodePorts probes answered.');

    // kube-proxy with externalTrafficPolicy: Cluster: the backend sees node2 (where the
    // NodePort was hit) as the source, whichever node it runs on.
    const client = podOf(state, 'default/client');
    const node2 = state.plan.nodes[1]!;
    const via = node2.underlay!.v4;
    const port = await inPod(
      'default/client',
      `import net from 'node:net';
       const s = net.connect({ host: '${via}', port: 30000 });
       s.on('data', () => { console.log(s.localPort); s.destroy(); });`,
    );
    const entry = await conntrackEntry(node2.netns, new RegExp(`src=${client.ips.v4} dst=${via} sport=${port} dport=30000 `));
    // Masquerade: the address of node2 on the way out (its veth's towards a local backend, ul0's towards node1).
    const reply = /src=(\S+) dst=(\S+) sport=8080 dport=(\d+) /.exec(entry.split(' dport=30000 ')[1] ?? '');
    expect(reply?.[3]).toBe(port);
    expect([node2.gateway.v4, node2.underlay!.v4]).toContain(reply?.[2]);
    expect([podOf(state, 'a/web1').ips.v4, podOf(state, 'a/web2').ips.v4]).toContain(reply?.[1]);
  });

  it("reaches each hostPort on its node's addresses (or its hostIP only), not masqueraded, as portmap does", async () => {
    const m = await labMatrix(LAB);
    const [node1, node2] = state.plan.nodes as [LabState['plan']['nodes'][number], LabState['plan']['nodes'][number]];
    const expected = [
      ...nodeAddresses(node1).map((ip) => `a/web1 hostPort 8081/TCP node1 v${ip.includes(':') ? 6 : 4} ${ip}`),
      `a/web2 hostPort 9091/UDP node2 v4 ${node2.gateway.v4}`,
    ];
    for (const p of ['a/web1', 'a/web2', 'default/client']) {
      expect(Object.keys(m.hostPorts[p] ?? {}).sort()).toEqual([...expected].sort());
      expect(Object.entries(m.hostPorts[p] ?? {}).filter(([, ok]) => !ok)).toEqual([]);
    }
    // Only node1 publishes 8081, only on the pod's own node.
    for (const node of state.plan.nodes) {
      const table = await listNft(node.netns);
      expect(table.includes('dport 8081'), node.name).toBe(node.name === 'node1');
    }
    // The pod sees the client itself, not the node.
    const client = podOf(state, 'default/client');
    const port = await inPod(
      'default/client',
      `import net from 'node:net';
       const s = net.connect({ host: '${node1.gateway.v4}', port: 8081 });
       s.on('data', () => { console.log(s.localPort); s.destroy(); });`,
    );
    const entry = await conntrackEntry(node1.netns, new RegExp(`src=${client.ips.v4} dst=${node1.gateway.v4} sport=${port} dport=8081 `));
    expect(entry).toContain(`src=${podOf(state, 'a/web1').ips.v4} dst=${client.ips.v4} sport=8080 dport=${port} `);
  });

  it('gives ClusterIPs to the agents through the cluster file and programs them in every node', async () => {
    const cluster = JSON.parse(fs.readFileSync(clusterFile(LAB), 'utf8'));
    expect(cluster.services['a/web'].clusterIPs).toEqual(['10.96.0.2', 'fd00:10:96::2']);
    // Set in the manifest: kept, single stack; headless: none at all.
    expect(cluster.services['a/fixed']).toBeUndefined();
    expect(clusterIPsOf('a/fixed')).toEqual(['10.96.7.7']);
    expect(clusterIPsOf('a/headless')).toEqual([]);
    for (const node of state.plan.nodes) {
      const table = await listNft(node.netns);
      expect(table).toMatch(/ip daddr 10\.96\.0\.2 tcp dport 80 .*numgen random mod 2 map \{ 0 : 10\.244\.1\.\d+ \. 8080, 1 : 10\.244\.2\.\d+ \. 8080 \}/);
      expect(table).toMatch(/ip6 daddr fd00:10:96::a udp dport 53 /);
      expect(table).toMatch(/ip daddr 10\.96\.0\.1 tcp dport 443 .*10\.244\.1\.1 \. 6443/);
    }
  });

  it('spreads connections over the backends at random', async () => {
    const replies = await inPod(
      'default/client',
      `import net from 'node:net';
       const one = () => new Promise((res) => { let d = ''; const s = net.connect({ host: '10.96.0.2', port: 80 });
         s.setEncoding('utf8'); s.on('data', (x) => (d += x)); s.on('close', () => res(d.trim())); s.on('error', () => res('error')); });
       const out = []; for (let i = 0; i < 30; i++) out.push(await one());
       console.log(JSON.stringify(out));`,
    );
    const counts = new Map<string, number>();
    for (const r of JSON.parse(replies) as string[]) counts.set(r, (counts.get(r) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual(['a/web1', 'a/web2']);
  });

  it('answers the system resolver library (c-ares) over IPv4 and IPv6', async () => {
    const out = await inPod(
      'a/web1',
      `import dns from 'node:dns';
       const results = {};
       for (const server of ['10.96.0.10', '[fd00:10:96::a]']) {
         const r = new dns.promises.Resolver({ timeout: 2000, tries: 1 }); r.setServers([server]);
         results[server] = {
           a: await r.resolve4('web.a.svc.cluster.local'),
           aaaa: await r.resolve6('web.a.svc.cluster.local'),
           pod: await r.resolve4('${podOf(state, 'a/web2').ips.v4.replace(/\./g, '-')}.a.pod.cluster.local'),
           missing: await r.resolve4('nope.a.svc.cluster.local').then(() => 'found', (e) => e.code),
           outside: await r.resolve4('example.com').then(() => 'found', (e) => e.code),
         };
       }
       console.log(JSON.stringify(results));`,
    );
    const expected = {
      a: ['10.96.0.2'],
      aaaa: ['fd00:10:96::2'],
      pod: [podOf(state, 'a/web2').ips.v4],
      missing: 'ENOTFOUND',
      outside: 'ENOTFOUND',
    };
    expect(JSON.parse(out)).toEqual({ '10.96.0.10': expected, '[fd00:10:96::a]': expected });
  });

  it('follows Services added and removed while the lab runs', async () => {
    const file = path.join(tmp, 'late.yaml');
    const nodePortOf = (key: string) => readServices().services.find((s) => s.key === key)?.ports[0]?.nodePort;
    fs.writeFileSync(file, service('a', 'late', '{type: NodePort, selector: {app: web}, ports: [{port: 8000, targetPort: 8080}]}'));
    await timeUntil(() => clusterIPsOf('a/late').length === 2 && nodePortOf('a/late') !== undefined, 10_000, 'a/late allocated');
    const [v4, v6] = clusterIPsOf('a/late');
    // The lowest free address (a/late sorts before a/web, which keeps its own).
    expect(v4).toBe('10.96.0.3');
    expect(v6).toBe('fd00:10:96::3');
    expect(clusterIPsOf('a/web')).toEqual(['10.96.0.2', 'fd00:10:96::2']);
    // The lowest free nodePort; a/np, which sorts after it, keeps its own.
    expect(nodePortOf('a/late')).toBe(30002);
    expect(nodePortOf('a/np')).toBe(30000);
    const m = await labMatrix(LAB);
    expect(m.services['default/client']?.['a/late:8000/TCP']).toBe(true);
    expect(m.services['default/client']?.['a/late:8000/TCP/v6']).toBe(true);
    const node2 = state.plan.nodes[1]!;
    expect(m.nodePorts['default/client']?.[`a/late:8000/TCP nodePort 30002 node2 v6 ${node2.gateway.v6}`]).toBe(true);

    fs.rmSync(file);
    await timeUntil(() => clusterIPsOf('a/late').length === 0 && !readServices().services.some((s) => s.key === 'a/late'), 10_000, 'a/late gone');
    for (const node of state.plan.nodes) {
      const table = await listNft(node.netns);
      expect(table).not.toContain('10.96.0.3 ');
      expect(table).not.toContain('dport 30002 ');
    }
    const cluster = JSON.parse(fs.readFileSync(clusterFile(LAB), 'utf8'));
    expect(cluster.services['a/late']).toBeUndefined();
    expect(cluster.nodePorts['a/late']).toBeUndefined();
  });

  it('refuses manifests that define the built-in objects', async () => {
    const dir = path.join(tmp, 'clash');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'dns.yaml'), service('kube-system', 'kube-dns', '{ports: [{port: 53}]}'));
    await expect(labUp(dir, { lab: 'lpclash', agent: false })).rejects.toThrow(/kube-system\/kube-dns: every lab makes these itself/);
  });
});
