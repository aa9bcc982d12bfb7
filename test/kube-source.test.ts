// The Kubernetes API source (src/sources/kube.ts) with the real client
// library against the test API server (test/helpers/apiserver.ts): first
// sync, every watch event type, every fault, Events written for problems;
// the server enforces the shipped ClusterRole and sends bookmarks as a real
// one does (rarely, and none for a quiet resource).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { compile } from '../src/model/compile.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { KubeSource, loadKubeConfig, type KubeSourceOptions } from '../src/sources/kube.js';
import { TestApiServer, type ApiServerOptions } from './helpers/apiserver.js';
import {
  endpointSliceObj,
  namespaceObj,
  nodeObj,
  podObj,
  routerObj,
  serviceObj,
  virtualNetworkObj,
} from './helpers/kube-objects.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-kube-source-'));
let server: TestApiServer | undefined;
let source: KubeSource | undefined;
let logLines: string[] = [];

afterEach(async () => {
  await source?.stop();
  await server?.close();
  // The server enforces the shipped ClusterRole: whatever the source did, it was allowed to.
  const forbidden = server?.stats.forbidden ?? [];
  source = undefined;
  server = undefined;
  expect(forbidden, 'requests the shipped ClusterRole does not grant').toEqual([]);
});

async function startServer(opts: ApiServerOptions = {}): Promise<TestApiServer> {
  server = new TestApiServer(opts);
  await server.start();
  return server;
}

/** A source with fast timings; not started. */
function makeSource(s: TestApiServer, opts: Partial<KubeSourceOptions> = {}): KubeSource {
  const file = path.join(tmp, `kubeconfig-${s.port}`);
  s.writeKubeconfig(file);
  logLines = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  source = new KubeSource({
    kubeConfig: loadKubeConfig(file),
    logger,
    nodeName: 'node1',
    debounceMs: 20,
    requestTimeoutMs: 500,
    retryMinMs: 50,
    retryMaxMs: 400,
    eventIntervalMs: 100,
    ...opts,
  });
  return source;
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - t0;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Warnings and errors the source logged, but the note that the CRDs are not installed. */
function warnings(): string[] {
  return logLines
    .map((l) => JSON.parse(l) as { level: number; msg: string })
    .filter((l) => l.level >= 40 && !l.msg.startsWith('resource not served'))
    .map((l) => l.msg);
}

function podIps(s: KubeSource, key: string): string[] | undefined {
  return s.current().pods.get(key)?.status.podIPs;
}

/** A small cluster: two nodes, three namespaces, pods on both nodes. */
function seed(s: TestApiServer): void {
  s.apply('nodes', nodeObj('node1', ['192.168.50.1'], [{ type: 'ExternalIP', address: '203.0.113.1' }]));
  s.apply('nodes', nodeObj('node2', ['192.168.50.2']));
  s.apply('namespaces', namespaceObj('default'));
  s.apply('namespaces', namespaceObj('kube-system'));
  s.apply('namespaces', namespaceObj('team-a', { 'vrfwall.dev/isolated': 'true' }));
  s.apply('pods', podObj('team-a', 'a1', { node: 'node1', ips: ['10.244.1.2', 'fd00:10:244:1::0002'], ports: [8080] }));
  s.apply('pods', podObj('team-a', 'a2', { node: 'node2', ips: ['10.244.2.2'] }));
  s.apply('pods', podObj('default', 'web', { node: 'node2', ips: ['10.244.2.3'], labels: { app: 'web' } }));
  s.apply('pods', podObj('default', 'done', { node: 'node1', ips: ['10.244.1.9'], phase: 'Succeeded' }));
  s.apply('pods', podObj('kube-system', 'proxy', { node: 'node1', ips: ['192.168.50.1'], hostNetwork: true }));
  s.apply('services', serviceObj('default', 'web', '10.96.0.20', 80, { app: 'web' }));
  s.apply('endpointslices', endpointSliceObj('default', 'web', [{ ip: '10.244.2.3', pod: 'web' }], 80));
}

describe('first sync', () => {
  it('lists every resource in pages and converts what it lists; start() resolves only then', async () => {
    const s = await startServer();
    s.setInstalled('virtualnetworks', true);
    s.setInstalled('virtualnetworkrouters', true);
    seed(s);
    s.apply('virtualnetworks', virtualNetworkObj('team-a', 'blue', { tier: 'front' }));
    s.apply('virtualnetworkrouters', routerObj('team-a', 'mesh', { tier: 'front' }));
    const src = makeSource(s, { pageSize: 2 });
    const seen: number[] = [];
    src.onChange((st) => seen.push(st.pods.size));
    await src.start();
    const st = src.current();

    expect([...st.namespaces.keys()]).toEqual(['default', 'kube-system', 'team-a']);
    expect(st.namespaces.get('team-a')?.metadata.labels).toEqual({ 'vrfwall.dev/isolated': 'true' });
    expect([...st.pods.keys()]).toEqual(['default/done', 'default/web', 'kube-system/proxy', 'team-a/a1', 'team-a/a2']);
    // Canonical addresses, both families; a finished pod has given its address back.
    expect(podIps(src, 'team-a/a1')).toEqual(['10.244.1.2', 'fd00:10:244:1::2']);
    expect(podIps(src, 'default/done')).toEqual([]);
    expect(st.pods.get('team-a/a1')?.spec).toEqual({ nodeName: 'node1', hostNetwork: false, ports: [{ containerPort: 8080, protocol: 'TCP' }] });
    expect(st.pods.get('kube-system/proxy')?.spec.hostNetwork).toBe(true);
    // Node addresses: InternalIP and ExternalIP, not the hostname.
    expect(st.nodes.get('node1')).toEqual({ name: 'node1', addresses: ['192.168.50.1', '203.0.113.1'] });
    expect(st.services.get('default/web')?.spec.clusterIPs).toEqual(['10.96.0.20']);
    expect(st.endpointSlices.get('default/web-abcde')?.endpoints).toEqual([{ addresses: ['10.244.2.3'], ready: true, pod: 'default/web' }]);
    expect(st.virtualNetworks.get('team-a/blue')?.metadata.labels).toEqual({ tier: 'front' });
    expect(st.routers.get('team-a/mesh')?.spec.type).toBe('mesh');
    expect(st.problems).toEqual([]);
    expect(st.pods.get('team-a/a1')?.metadata.uid).toBe(s.get('pods', 'a1', 'team-a')?.metadata.uid);
    // Nothing partial is ever announced: the first notification is the full state.
    expect(seen).toEqual([5]);

    // Pages of 2, followed with continue tokens; watches ask for bookmarks.
    const podLists = s.stats.queries.filter((q) => q.verb === 'list' && q.plural === 'pods');
    expect(podLists.map((q) => q.query.get('limit'))).toEqual(['2', '2', '2']);
    expect(podLists.filter((q) => q.query.get('continue') !== null)).toHaveLength(2);
    await until(() => s.watchCount === 9 - 1, 2000, 'all watches open'); // every resource but events
    for (const q of s.stats.queries.filter((x) => x.verb === 'watch')) {
      expect(q.query.get('allowWatchBookmarks')).toBe('true');
      expect(Number(q.query.get('resourceVersion'))).toBeGreaterThan(1000);
    }
  });

  it('does not resolve start() while the server does not answer, and does once it does', async () => {
    const s = await startServer();
    seed(s);
    s.hangRequests(true);
    const src = makeSource(s);
    let done = false;
    const started = src.start().then(() => (done = true));
    // Known, not waited for: the client sent its lists and gave up on them,
    // more than once for each of the 8 resources (they were retried).
    await until(() => s.stats.abandoned.hung > 2 * 8, 5000, 'lists timed out and retried');
    expect(done).toBe(false);
    expect(src.current().pods.size).toBe(0);
    s.hangRequests(false);
    await started;
    expect(src.current().pods.size).toBe(5);
  });

  it('a CRD that is not installed (404) holds nothing up; its objects appear once it is', async () => {
    const s = await startServer(); // virtualnetworks / virtualnetworkrouters not installed
    seed(s);
    const src = makeSource(s);
    await src.start();
    expect(src.current().pods.size).toBe(5);
    expect(src.current().virtualNetworks.size).toBe(0);
    expect(logLines.some((l) => l.includes('CRD not installed'))).toBe(true);

    s.setInstalled('virtualnetworks', true);
    s.apply('virtualnetworks', virtualNetworkObj('team-a', 'blue'));
    await until(() => src.current().virtualNetworks.has('team-a/blue'), 3000, 'VirtualNetwork after the CRD appears');
    // The other watches were never disturbed by the missing resource.
    s.apply('pods', podObj('team-a', 'a3', { node: 'node1', ips: ['10.244.1.3'] }));
    await until(() => podIps(src, 'team-a/a3')?.[0] === '10.244.1.3', 2000, 'pod event');
  });
});

describe('Service frontends and hostPorts from the API', () => {
  it('lists and watches NetworkPolicies (issue 16); one that does not parse is kept, allowing nothing, and its problem names the field', async () => {
    const s = await startServer();
    seed(s);
    s.apply('networkpolicies', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'web', namespace: 'default' },
      spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ port: 80 }] }] },
    });
    s.apply('networkpolicies', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'bad', namespace: 'default' },
      spec: { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }] },
    });
    const src = makeSource(s);
    await src.start();
    const st = src.current();
    expect(st.networkPolicies.get('default/web')?.spec).toMatchObject({ policyTypes: ['Ingress'], ingress: [{ peers: [{ kind: 'pods' }], ports: [{ protocol: 'TCP', port: 80 }] }] });
    const bad = st.networkPolicies.get('default/bad');
    expect(bad?.spec).toMatchObject({ policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] });
    expect(bad?.invalid).toContain('spec.egress[0].to[0].ipBlock.cidr');
    expect(st.problems.find((p) => p.source === 'NetworkPolicy default/bad')?.message).toContain('spec.egress[0].to[0].ipBlock.cidr "10.0.0.0/33" is not a CIDR');
    // a change arrives by the watch
    s.remove('networkpolicies', 'web', 'default');
    await until(() => !src.current().networkPolicies.has('default/web'), 2000, 'NetworkPolicy deleted');
    expect(src.current().networkPolicies.has('default/bad')).toBe(true); // control
  });

  it('reads nodePorts, externalIPs, the load balancer IPs (spec and status) and hostPorts; a bad one is refused with the field named', async () => {
    const s = await startServer();
    seed(s);
    s.apply('services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'lb', namespace: 'default' },
      spec: {
        type: 'LoadBalancer',
        clusterIP: '10.96.0.30',
        clusterIPs: ['10.96.0.30'],
        selector: { app: 'web' },
        externalIPs: ['203.0.113.30'],
        loadBalancerIP: '198.51.100.30',
        ports: [{ name: 'web', port: 80, targetPort: 80, protocol: 'TCP', nodePort: 31080 }],
      },
      status: { loadBalancer: { ingress: [{ ip: '198.51.100.31' }, { hostname: 'lb.example.org' }] } },
    });
    s.apply('services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'bad', namespace: 'default' },
      spec: { type: 'NodePort', clusterIP: '10.96.0.31', clusterIPs: ['10.96.0.31'], externalIPs: ['not-an-ip'], ports: [{ port: 80, nodePort: 31081 }] },
    });
    const hp = podObj('default', 'hp', { node: 'node1', ips: ['10.244.1.40'] });
    (hp.spec as { containers: { ports: unknown[] }[] }).containers[0]!.ports = [
      { containerPort: 80, protocol: 'TCP', hostPort: 8080 },
      { containerPort: 53, protocol: 'UDP', hostPort: 5353, hostIP: '192.168.50.1' },
    ];
    s.apply('pods', hp);
    const src = makeSource(s);
    await src.start();
    const st = src.current();
    expect(st.services.get('default/lb')?.spec).toMatchObject({
      type: 'LoadBalancer',
      externalIPs: ['203.0.113.30'],
      loadBalancerIPs: ['198.51.100.30', '198.51.100.31'],
      ports: [{ port: 80, nodePort: 31080, protocol: 'TCP' }],
    });
    expect(st.pods.get('default/hp')?.spec.ports).toEqual([
      { containerPort: 80, protocol: 'TCP', hostPort: 8080 },
      { containerPort: 53, protocol: 'UDP', hostPort: 5353, hostIP: '192.168.50.1' },
    ]);
    // Fail closed: the bad Service is not used, and the problem names the field.
    expect(st.services.has('default/bad')).toBe(false);
    expect(st.problems).toContainEqual({
      source: 'Service default/bad',
      message: 'Service: spec.externalIPs[0] "not-an-ip" is not an IP address',
    });

    // A load balancer address arriving in the status later is a change of state.
    const lb = s.get('services', 'lb', 'default')!;
    s.apply('services', { ...lb, status: { loadBalancer: { ingress: [{ ip: '198.51.100.32' }] } } });
    await until(() => src.current().services.get('default/lb')?.spec.loadBalancerIPs.includes('198.51.100.32') === true, 2000, 'status update');
    expect(src.current().services.get('default/lb')?.spec.loadBalancerIPs).toEqual(['198.51.100.30', '198.51.100.32']);
  });
});

describe('watch events', () => {
  it('ADDED, MODIFIED and DELETED reach the state, a burst as one notification', async () => {
    const s = await startServer();
    seed(s);
    const src = makeSource(s);
    await src.start();
    const states: number[] = [];
    const named: string[][] = [];
    src.onChange((st, changed) => {
      states.push(st.pods.size);
      named.push(changed.map((c) => `${c.kind} ${c.key}`));
    });

    s.apply('pods', podObj('team-a', 'a3', { node: 'node1', ips: ['10.244.1.3'] })); // ADDED
    await until(() => src.current().pods.has('team-a/a3'), 2000, 'ADDED');

    s.apply('namespaces', namespaceObj('team-a')); // MODIFIED: isolation label removed
    await until(() => src.current().namespaces.get('team-a')?.metadata.labels['vrfwall.dev/isolated'] === undefined, 2000, 'MODIFIED');

    s.remove('pods', 'a2', 'team-a'); // DELETED
    await until(() => !src.current().pods.has('team-a/a2'), 2000, 'DELETED');

    // A burst of 20 changes within the debounce window: one or two notifications, not 20.
    const before = states.length;
    for (let i = 0; i < 20; i++) s.apply('pods', podObj('default', `burst${i}`, { node: 'node2', ips: [`10.244.2.${100 + i}`] }));
    await until(() => src.current().pods.has('default/burst19'), 2000, 'burst');
    // A marker on the same watch after the burst: once it is in the state,
    // every notification the burst caused came before it.
    s.apply('pods', podObj('default', 'marker1', { node: 'node2', ips: ['10.244.2.201'] }));
    await until(() => src.current().pods.has('default/marker1'), 2000, 'marker after the burst');
    expect(states.length - before).toBeLessThanOrEqual(3); // the burst in one or two, the marker in one at most
    // A change that alters nothing the state holds (only a new resourceVersion) is not announced:
    // the next real change (positive control, same watch, after it) is the only object named since.
    const quiet = named.length;
    s.apply('pods', podObj('default', 'burst0', { node: 'node2', ips: ['10.244.2.100'] }));
    s.apply('pods', podObj('default', 'marker2', { node: 'node2', ips: ['10.244.2.202'] }));
    await until(() => src.current().pods.has('default/marker2'), 2000, 'marker after the quiet change');
    expect(named.slice(quiet)).toEqual([['Pod default/marker2']]);
  });

  it('each notification names exactly the objects that changed (the first one: every object)', async () => {
    const s = await startServer();
    seed(s);
    const src = makeSource(s);
    const changes: string[][] = [];
    src.onChange((_st, changed) => changes.push(changed.map((c) => `${c.kind} ${c.key}`).sort()));
    await src.start();
    expect(changes[0]).toContain('Pod team-a/a1');
    expect(changes[0]).toContain('Namespace team-a');
    expect(changes[0]?.length).toBe([...Object.values(src.current())].reduce((n, m) => n + (m instanceof Map ? m.size : 0), 0));

    s.apply('namespaces', namespaceObj('team-a')); // isolation label removed
    await until(() => changes.length === 2, 2000, 'namespace change');
    expect(changes[1]).toEqual(['Namespace team-a']);
    s.remove('pods', 'a2', 'team-a');
    s.apply('pods', podObj('team-a', 'a3', { node: 'node1', ips: ['10.244.1.3'] }));
    await until(() => src.current().pods.has('team-a/a3') && !src.current().pods.has('team-a/a2'), 2000, 'pod changes');
    expect(changes.slice(2).flat().sort()).toEqual(['Pod team-a/a2', 'Pod team-a/a3']);
  });

  it('a quiet watch (no change, so no event and no BOOKMARK, as from a real API server) stays open', async () => {
    const s = await startServer();
    seed(s);
    const src = makeSource(s, { watchSessionSeconds: 30 });
    await src.start();
    await until(() => s.watchCount === 6, 2000, 'watches open'); // the three CRDs are not installed (the six built-in kinds, NetworkPolicy too)
    const watches = (): number[] => ['namespaces', 'pods', 'nodes', 'services', 'endpointslices', 'networkpolicies'].map((p) => s.requests('watch', p));
    const before = watches();
    await sleep(2500); // five request timeouts without a single line on any watch
    expect(s.stats.bookmarks).toBe(0);
    expect(watches()).toEqual(before);
    expect(s.watchCount).toBe(6);
    expect(warnings()).toEqual([]);
    // ... and is alive: a change arrives on it, without a new request.
    s.apply('pods', podObj('team-a', 'after-quiet', { node: 'node1', ips: ['10.244.1.30'] }));
    await until(() => src.current().pods.has('team-a/after-quiet'), 2000, 'change after a quiet while');
    expect(watches()).toEqual(before);
  });

  it('bookmarks as a real server sends them: only when asked for, after a change, and the next watch resumes from them', async () => {
    const s = await startServer({ bookmarkMs: 200 });
    seed(s);
    const src = makeSource(s);
    await src.start();
    await until(() => s.watchCount === 6, 2000, 'watches open');
    s.apply('pods', podObj('team-a', 'a3', { node: 'node1', ips: ['10.244.1.3'] }));
    const rv = s.get('pods', 'a3', 'team-a')!.metadata.resourceVersion;
    s.apply('namespaces', namespaceObj('extra')); // a later version elsewhere: not the pods' bookmark
    await until(() => s.stats.bookmarks >= 2, 2000, 'bookmarks for the changed resources');
    s.dropConnections();
    await until(() => s.watchCount === 6, 3000, 'watches open again');
    const resumed = s.stats.queries.filter((q) => q.verb === 'watch' && q.plural === 'pods').at(-1)!.query;
    expect(resumed.get('resourceVersion')).toBe(rv);
    expect(resumed.get('allowWatchBookmarks')).toBe('true');
  });
});

describe('faults', () => {
  it('dropped connections: the watch resumes from its resourceVersion (no relist) and misses nothing', async () => {
    const s = await startServer();
    seed(s);
    const src = makeSource(s);
    await src.start();
    const lists = s.requests('list', 'pods');
    const watches = s.requests('watch', 'pods');
    for (let round = 0; round < 3; round++) {
      s.dropConnections();
      s.apply('pods', podObj('team-a', `drop${round}`, { node: 'node1', ips: [`10.244.1.${20 + round}`] }));
      await until(() => src.current().pods.has(`team-a/drop${round}`), 3000, `change after drop ${round}`);
    }
    expect(s.requests('watch', 'pods')).toBeGreaterThanOrEqual(watches + 3);
    expect(s.requests('list', 'pods')).toBe(lists);
  });

  it('410 as an ERROR event on open watches: relist, and deletions during the gap are seen', async () => {
    const s = await startServer();
    seed(s);
    const src = makeSource(s);
    await src.start();
    await until(() => s.watchCount === 6, 2000, 'watches open');
    const lists = s.requests('list', 'pods');
    const watchedFrom = s.stats.queries.filter((q) => q.verb === 'watch' && q.plural === 'pods').at(-1)!.query.get('resourceVersion');
    s.stallStreams(); // the client learns nothing of what follows from these streams
    s.remove('pods', 'a1', 'team-a');
    s.apply('pods', podObj('team-a', 'a2', { node: 'node2', ips: ['10.244.2.77'] }));
    s.expire({ breakWatches: true });
    s.resumeStreams();
    await until(() => !src.current().pods.has('team-a/a1') && podIps(src, 'team-a/a2')?.[0] === '10.244.2.77', 3000, 'relist');
    expect(s.requests('list', 'pods')).toBe(lists + 1);
    // Said at info level, with the resource and both versions.
    const gone = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => String(l.msg).includes('410 Gone') && l.kind === 'Pod');
    expect(gone).toEqual([
      expect.objectContaining({ level: 30, path: '/api/v1/pods', expiredVersion: watchedFrom, listedVersion: String(s.resourceVersion) }),
    ]);
    expect(String(gone[0]!.reason)).toContain('too old resource version');
  });

  it.each(['event', 'http'] as const)('410 on resuming an expired version (%s): relist after the server was away', async (mode) => {
    const s = await startServer({ expiredWatch: mode });
    seed(s);
    const src = makeSource(s);
    await src.start();
    const lists = s.requests('list', 'pods');
    s.down();
    // Changed while the client is disconnected, then the history is compacted.
    s.remove('pods', 'web', 'default');
    s.apply('pods', podObj('default', 'new', { node: 'node2', ips: ['10.244.2.50'] }));
    s.apply('namespaces', namespaceObj('default', { 'vrfwall.dev/external': 'deny' }));
    s.expire();
    await s.up();
    await until(
      () => !src.current().pods.has('default/web') && src.current().pods.has('default/new') && src.current().namespaces.get('default')?.metadata.labels['vrfwall.dev/external'] === 'deny',
      4000,
      'converged after 410',
    );
    expect(s.requests('list', 'pods')).toBe(lists + 1);
  });

  it('a stalled stream (socket open, nothing written, the session never ended by the server) is given up after its deadline', async () => {
    const s = await startServer();
    seed(s);
    // Sessions of 1-2 s (timeoutSeconds), given up 0.5 s (the request timeout) after that.
    const src = makeSource(s, { watchSessionSeconds: 1 });
    await src.start();
    await until(() => s.watchCount === 6, 2000, 'watches open');
    const watches = s.requests('watch', 'pods');
    const sessions = s.stats.queries.filter((q) => q.verb === 'watch').map((q) => Number(q.query.get('timeoutSeconds')));
    expect(Math.min(...sessions)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...sessions)).toBeLessThanOrEqual(2);
    s.stallStreams();
    s.apply('pods', podObj('team-a', 'late', { node: 'node1', ips: ['10.244.1.40'] }));
    const ms = await until(() => src.current().pods.has('team-a/late'), 4000, 'change behind a stalled stream');
    expect(ms).toBeGreaterThanOrEqual(300); // it came through a new watch, after the deadline
    expect(s.requests('watch', 'pods')).toBeGreaterThan(watches);
    expect(logLines.some((l) => l.includes('not ended by the server'))).toBe(true);
    await until(() => s.stats.abandoned.stalled === 6, 3000, 'every stalled watch given up by the client');
  });

  it('sessions the server ends (timeoutSeconds) resume from the last resourceVersion: no relist, nothing missed', async () => {
    const s = await startServer();
    seed(s);
    const src = makeSource(s, { watchSessionSeconds: 1 });
    await src.start();
    const lists = s.requests('list', 'pods');
    const watches = s.requests('watch', 'pods');
    for (let i = 0; i < 3; i++) {
      await sleep(700);
      s.apply('pods', podObj('team-a', `s${i}`, { node: 'node1', ips: [`10.244.1.${50 + i}`] }));
    }
    await until(() => src.current().pods.has('team-a/s2'), 3000, 'changes across sessions');
    await until(() => s.requests('watch', 'pods') > watches, 3000, 'a new session');
    expect(s.requests('list', 'pods')).toBe(lists);
    expect(warnings()).toEqual([]);
  });

  it('a server that accepts but never answers: requests time out and are retried until it answers', async () => {
    const s = await startServer();
    seed(s);
    const src = makeSource(s);
    await src.start();
    s.hangRequests(true);
    s.dropConnections();
    s.apply('pods', podObj('team-a', 'hung', { node: 'node1', ips: ['10.244.1.41'] }));
    // The client asked again (its new watches or lists hung) and gave up on them: it had its chance.
    await until(() => s.stats.abandoned.hung >= 5, 5000, 'requests sent and timed out');
    expect(src.current().pods.has('team-a/hung')).toBe(false);
    // New requests are answered again; those hanging stay a black hole: only
    // the client's own timeout gets it out of them.
    s.hangRequests(false);
    await until(() => src.current().pods.has('team-a/hung'), 3000, 'converged after hang');
    expect(s.stats.abandoned.hung).toBeGreaterThanOrEqual(5);
  });

  it('API server down for a while: backoff with jitter (no hammering), then converges', async () => {
    const s = await startServer();
    seed(s);
    const src = makeSource(s, { retryMinMs: 100, retryMaxMs: 1000 });
    await src.start();
    const t0 = Date.now();
    const connections = s.stats.connections;
    const restart = s.restart({ downMs: 3000, mode: 'reset' });
    await sleep(100);
    s.apply('pods', podObj('team-a', 'while-down', { node: 'node1', ips: ['10.244.1.42'] }));
    s.remove('pods', 'a2', 'team-a');
    await restart;
    const ms = await until(() => src.current().pods.has('team-a/while-down') && !src.current().pods.has('team-a/a2'), 4000, 'converged after restart');
    const attempts = s.stats.connections - connections;
    // 8 resources for ~3 s: retries at 0.1, 0.2, 0.4, 0.8, 1 s (half of it jitter)
    // are about 8 each; without a backoff it would be thousands.
    expect(attempts).toBeGreaterThan(8);
    expect(attempts).toBeLessThan(8 * 14);
    expect(ms).toBeLessThan(2500); // the capped backoff brings it back quickly
    console.info(`API server down 3 s: ${attempts} connection attempts by 8 informers; converged ${ms} ms after it came back (${Date.now() - t0} ms in all)`);
  });
});

describe('events', () => {
  it('records Events on objects, deduplicated by count; problems become Events on the object they name', async () => {
    const s = await startServer();
    seed(s);
    const src = makeSource(s);
    await src.start();
    const uid = s.get('pods', 'a1', 'team-a')?.metadata.uid;
    expect(src.reportProblem({ source: 'Pod team-a/a1', message: 'quarantined: network team-a/nope does not exist' })).toBe(true);
    expect(src.reportProblem({ source: 'Pod team-a/missing', message: 'quarantined: x' })).toBe(false);
    expect(src.reportProblem({ source: 'examples/x.yaml#2', message: 'bad' })).toBe(false);
    src.recordEvent({ kind: 'Namespace', apiVersion: 'v1', name: 'team-a' }, 'BadAnnotation', 'vrfwall.dev/network: does not parse');
    await src.flushEvents();
    const podEvents = s.objects('events', 'team-a');
    expect(podEvents).toHaveLength(1);
    const ev = podEvents[0]!;
    expect(ev).toMatchObject({
      reason: 'Quarantined',
      type: 'Warning',
      count: 1,
      message: 'quarantined: network team-a/nope does not exist',
      involvedObject: { kind: 'Pod', namespace: 'team-a', name: 'a1', uid, apiVersion: 'v1' },
      source: { component: 'vrfwall-agent', host: 'node1' },
      reportingInstance: 'node1',
    });
    // A cluster-scoped object's Events live in "default".
    expect(s.objects('events', 'default').map((e) => e.reason)).toEqual(['BadAnnotation']);

    // The same problem again: the same Event, counted (written after the minimum interval).
    src.reportProblem({ source: 'Pod team-a/a1', message: 'quarantined: network team-a/nope does not exist' });
    src.reportProblem({ source: 'Pod team-a/a1', message: 'quarantined: network team-a/nope does not exist' });
    await until(() => s.objects('events', 'team-a')[0]?.count === 3, 2000, 'count 3');
    expect(s.objects('events', 'team-a')).toHaveLength(1);
    expect(s.requests('create', 'events')).toBe(2);
    // Counted up with a (strategic merge) patch, as client-go's recorder does:
    // the shipped ClusterRole grants create and patch on Events, not update.
    expect(s.requests('patch', 'events')).toBe(1); // two repeats within the interval: one write
    expect(s.requests('update', 'events')).toBe(0);
  });

  /** A started source against a fresh server, with one BadAnnotation Event written. */
  async function withOneEvent() {
    const s = await startServer();
    seed(s);
    const src = makeSource(s);
    await src.start();
    src.recordEvent({ kind: 'Namespace', apiVersion: 'v1', name: 'team-a' }, 'BadAnnotation', 'x');
    await src.flushEvents();
    return { s, src };
  }

  it('an Event that expired meanwhile (patch: 404) is created again', async () => {
    const { s, src } = await withOneEvent();
    const first = s.objects('events', 'default')[0]!;
    s.remove('events', first.metadata.name, 'default');
    src.recordEvent({ kind: 'Namespace', apiVersion: 'v1', name: 'team-a' }, 'BadAnnotation', 'x');
    await until(() => s.objects('events', 'default').length === 1, 2000, 'the Event again');
    expect(s.objects('events', 'default')[0]).toMatchObject({ count: 2, reason: 'BadAnnotation' });
    expect(s.requests('patch', 'events')).toBe(1);
    expect(s.requests('create', 'events')).toBe(2);
  });

  it('the test API server refuses what the shipped ClusterRole does not grant (a PUT of an Event), as a real one does', async () => {
    const { s } = await withOneEvent();
    const ev = s.objects('events', 'default')[0]!;
    const put = await fetch(`${s.url}/api/v1/namespaces/default/events/${ev.metadata.name}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ...ev, count: 9 }),
    });
    expect(put.status).toBe(403);
    expect(await put.json()).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403 });
    const secrets = await fetch(`${s.url}/api/v1/secrets`);
    expect(secrets.status).toBe(403); // not even served here, still forbidden first
    // Positive control: what the role grants passes.
    const patch = await fetch(`${s.url}/api/v1/namespaces/default/events/${ev.metadata.name}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/strategic-merge-patch+json' },
      body: JSON.stringify({ count: 9 }),
    });
    expect(patch.status).toBe(200);
    expect(s.objects('events', 'default')[0]).toMatchObject({ count: 9 });
    expect(s.stats.forbidden).toEqual(['update events default/' + ev.metadata.name, 'list secrets /']);
    s.stats.forbidden.length = 0; // seen; the afterEach check is for the source's own requests
  });

  it('a Service that names a pod of another namespace: the compile step’s problem becomes an Event on the Service', async () => {
    const s = await startServer();
    seed(s);
    // Selector-less, with a hand-written slice naming team-a/a1's address (its targetRef says default/a1).
    s.apply('services', serviceObj('default', 'sneaky', '10.96.0.44', 80, {}));
    s.apply('endpointslices', endpointSliceObj('default', 'sneaky', [{ ip: '10.244.1.2', pod: 'a1' }], 80));
    const src = makeSource(s);
    await src.start();
    const d = compile(src.current(), { nodeName: 'node1', podCIDRs: ['10.244.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] }, new Map(), emptyAllocation());
    expect([...d.services.values()].filter((e) => e.addr === '10.96.0.44')).toEqual([]);
    const problem = d.problems.find((p) => p.source === 'Service default/sneaky' && p.message.includes('another namespace'));
    expect(problem?.message).toBe(
      'endpoints 10.244.1.2 (pod team-a/a1) are pods of another namespace: a Service speaks only for pods of its own namespace (default), so they gain nothing from it',
    );
    expect(d.serviceAccess.get('default/sneaky')?.problems).toEqual({ foreign_backend: 1 });
    expect(src.reportProblem(problem!)).toBe(true);
    await src.flushEvents();
    expect(s.objects('events', 'default').filter((e) => (e.involvedObject as { kind?: string }).kind === 'Service')).toMatchObject([
      { reason: 'VrfwallProblem', type: 'Warning', message: problem!.message, involvedObject: { kind: 'Service', namespace: 'default', name: 'sneaky' } },
    ]);
  });
});
