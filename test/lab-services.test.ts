// The lab's Services without agents (no enforcement): ClusterIP allocation,
// the nftables rules the lab's kube-proxy builds, the cluster DNS on the wire,
// and then on the real kernel (2 nodes): every Service reachable from every
// pod on IPv4 and IPv6, DNAT spread over backends, DNS answering through
// 10.96.0.10 / fd00:10:96::a, and Services added or removed while the lab runs.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocateClusterIPs } from '../src/lab/clusterips.js';
import { answerQuery, decodeResponse, encodeQuery } from '../src/lab/dns.js';
import { labDown, labMatrix, labUp } from '../src/lab/lab.js';
import { clusterFile, servicesFile } from '../src/lab/names.js';
import { NFT_TABLE, listNft, nftScript } from '../src/lab/nftables.js';
import type { LabServicesFile } from '../src/lab/services.js';
import type { LabState } from '../src/lab/state.js';
import type { DnatTarget } from '../src/model/services.js';
import { ensureBuilt } from './helpers/build.js';
import { podOf, timeUntil } from './helpers/lab.js';

const run = promisify(execFile);

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

const WEB_PORTS = '[{name: http, containerPort: 8080}, {name: stats, containerPort: 9090, protocol: UDP}]';

/** Runs a tiny Node script inside a pod's namespace; returns its stdout. */
async function inPod(key: string, script: string): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', podOf(state, key).netns, process.execPath, '--input-type=module', '-e', script], {
    timeout: 20_000,
  });
  return stdout.trim();
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
        pod('a', 'web1', { node: 'node1', labels: '{app: web}', ports: WEB_PORTS }),
        pod('a', 'web2', { node: 'node2', labels: '{app: web}', ports: WEB_PORTS }),
        service('a', 'web', '{selector: {app: web}, ports: [{name: http, port: 80, targetPort: http}, {name: stats, port: 90, protocol: UDP, targetPort: stats}]}'),
        service('a', 'fixed', '{clusterIP: 10.96.7.7, selector: {app: web}, ports: [{port: 81, targetPort: 8080}]}'),
        service('a', 'headless', '{clusterIP: None, selector: {app: web}, ports: [{port: 80}]}'),
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
    fs.writeFileSync(file, service('a', 'late', '{selector: {app: web}, ports: [{port: 8000, targetPort: 8080}]}'));
    await timeUntil(() => clusterIPsOf('a/late').length === 2, 10_000, 'a/late allocated');
    const [v4, v6] = clusterIPsOf('a/late');
    // The lowest free address (a/late sorts before a/web, which keeps its own).
    expect(v4).toBe('10.96.0.3');
    expect(v6).toBe('fd00:10:96::3');
    expect(clusterIPsOf('a/web')).toEqual(['10.96.0.2', 'fd00:10:96::2']);
    const m = await labMatrix(LAB);
    expect(m.services['default/client']?.['a/late:8000/TCP']).toBe(true);
    expect(m.services['default/client']?.['a/late:8000/TCP/v6']).toBe(true);

    fs.rmSync(file);
    await timeUntil(() => clusterIPsOf('a/late').length === 0 && !readServices().services.some((s) => s.key === 'a/late'), 10_000, 'a/late gone');
    for (const node of state.plan.nodes) expect(await listNft(node.netns)).not.toContain('10.96.0.3 ');
    const cluster = JSON.parse(fs.readFileSync(clusterFile(LAB), 'utf8'));
    expect(cluster.services['a/late']).toBeUndefined();
  });

  it('refuses manifests that define the built-in objects', async () => {
    const dir = path.join(tmp, 'clash');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'dns.yaml'), service('kube-system', 'kube-dns', '{ports: [{port: 53}]}'));
    await expect(labUp(dir, { lab: 'lpclash', agent: false })).rejects.toThrow(/kube-system\/kube-dns: every lab makes these itself/);
  });
});
