// Big lists as a real API server serves them and as the Kubernetes source
// reads them: pages (limit/continue) over one consistent snapshot, and an
// informer cache that keeps only the compact form of each object (issue 13:
// memory grows with what vrfwall uses, not with what the server sends).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ResilientInformer, type InformerOptions, type ListPage } from '../src/sources/kube-informer.js';
import { KUBE_RESOURCES, earlyContinue, kubeApis } from '../src/sources/kube-resources.js';
import { KubeSource, loadKubeConfig } from '../src/sources/kube.js';
import { TestApiServer } from './helpers/apiserver.js';
import { namespaceObj, nodeObj, podObj } from './helpers/kube-objects.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-kube-paging-'));
let server: TestApiServer | undefined;
const stops: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await server?.close();
  server = undefined;
});

async function startServer(): Promise<TestApiServer> {
  server = new TestApiServer();
  await server.start();
  return server;
}

interface ListBody {
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: { metadata: { name: string; namespace: string; resourceVersion: string; labels?: Record<string, string> } }[];
}

async function list(s: TestApiServer, query: string): Promise<{ status: number; body: ListBody }> {
  const res = await fetch(`${s.url}/api/v1/pods?${query}`, { headers: { authorization: 'Bearer test-token' } });
  return { status: res.status, body: (await res.json()) as ListBody };
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('test API server: lists in pages', () => {
  it('pages are one snapshot: writes between pages are not in it, its continue token expires with compaction (410)', async () => {
    const s = await startServer();
    for (let i = 0; i < 7; i++) s.apply('pods', podObj('ns', `p${i}`, { ips: [`10.0.0.${i + 1}`] }));

    const first = await list(s, 'limit=3');
    expect(first.status).toBe(200);
    expect(first.body.items.map((p) => p.metadata.name)).toEqual(['p0', 'p1', 'p2']);
    expect(first.body.metadata.remainingItemCount).toBe(4);
    const rv = first.body.metadata.resourceVersion;
    // Between pages: one pod added, one changed, one deleted (all after the snapshot).
    s.apply('pods', podObj('ns', 'p3a', { ips: ['10.0.0.30'] }));
    s.apply('pods', podObj('ns', 'p4', { ips: ['10.0.0.5'], labels: { changed: 'yes' } }));
    s.remove('pods', 'p5', 'ns');

    const second = await list(s, `limit=3&continue=${first.body.metadata.continue}`);
    expect(second.body.metadata.resourceVersion).toBe(rv);
    expect(second.body.items.map((p) => p.metadata.name)).toEqual(['p3', 'p4', 'p5']);
    expect(second.body.items[1]?.metadata.labels).toEqual({}); // p4 as it was at rv
    const third = await list(s, `limit=3&continue=${second.body.metadata.continue}`);
    expect(third.body.items.map((p) => p.metadata.name)).toEqual(['p6']);
    expect(third.body.metadata.continue).toBeUndefined();

    // Positive control: a fresh list sees the writes.
    const now = await list(s, '');
    expect(now.body.items.map((p) => p.metadata.name)).toEqual(['p0', 'p1', 'p2', 'p3', 'p3a', 'p4', 'p6']);
    expect(Number(now.body.metadata.resourceVersion)).toBeGreaterThan(Number(rv));

    // The snapshot's history compacted away: its token is refused with 410, as a real server does.
    s.expire();
    const expired = await list(s, `limit=3&continue=${first.body.metadata.continue}`);
    expect(expired.status).toBe(410);
  });
});

/** A Pod informer on the test server, 2 objects a page, stopped after the test. */
function podInformer(
  s: TestApiServer,
  file: string,
  o: { list?: (list: InformerOptions['list']) => InformerOptions['list']; onChange?: () => void; compact?: InformerOptions['compact'] } = {},
): ResilientInformer {
  s.writeKubeconfig(file);
  const kc = loadKubeConfig(file);
  const pods = KUBE_RESOURCES.find((r) => r.kind === 'Pod')!;
  const apis = kubeApis(kc);
  const list: InformerOptions['list'] = (page, signal) => pods.list(apis, page, signal);
  const inf = new ResilientInformer({
    kind: 'Pod',
    path: pods.path,
    list: o.list ? o.list(list) : list,
    optional: false,
    kubeConfig: kc,
    log: pino({ level: 'silent' }),
    requestTimeoutMs: 2000,
    keepAliveMs: 30_000,
    retryMinMs: 50,
    retryMaxMs: 400,
    pageSize: 2,
    watchSessionSeconds: 300,
    onChange: o.onChange ?? (() => undefined),
    compact: o.compact ?? ((x) => x),
  });
  stops.push(() => inf.stop());
  return inf;
}

describe('informer cache: the compact form only', () => {
  it('listed (in pages) and watched objects reach the cache through compact(); deletions find them by name', async () => {
    const s = await startServer();
    for (let i = 0; i < 5; i++) s.apply('pods', podObj('ns', `p${i}`, { ips: [`10.0.0.${i + 1}`] }));
    const seen: KubernetesObject[] = [];
    const compact = (o: KubernetesObject): KubernetesObject => {
      seen.push(o);
      const ip = (o as { status?: { podIP?: string } }).status?.podIP;
      return { metadata: { name: o.metadata!.name!, namespace: o.metadata!.namespace!, resourceVersion: o.metadata!.resourceVersion! }, ip } as KubernetesObject;
    };
    let changes = 0;
    const inf = podInformer(s, path.join(tmp, `kubeconfig-${s.port}`), { onChange: () => changes++, compact });
    inf.start();
    await inf.whenSynced();
    expect(s.stats.requests.get('list pods')).toBe(3); // 2 + 2 + 1
    expect(inf.objects().map((o) => o.metadata?.name).sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
    // What the server sent had a spec; what the cache holds is the compact form.
    expect(seen.every((o) => (o as { spec?: unknown }).spec !== undefined)).toBe(true);
    expect(inf.objects().every((o) => !('spec' in o) && !('status' in o) && 'ip' in o)).toBe(true);

    await until(() => s.watchCount === 1, 2000, 'watch open');
    s.apply('pods', podObj('ns', 'p9', { ips: ['10.0.0.9'] }));
    s.apply('pods', podObj('ns', 'p1', { ips: ['10.0.0.11'] }));
    s.remove('pods', 'p2', 'ns');
    await until(() => inf.objects().length === 5 && inf.get('p2', 'ns') === undefined && inf.get('p9', 'ns') !== undefined, 2000, 'watch events in the cache');
    expect((inf.get('p1', 'ns') as unknown as { ip: string }).ip).toBe('10.0.0.11');
    expect(inf.objects().every((o) => !('spec' in o) && 'ip' in o)).toBe(true);
    expect(changes).toBeGreaterThanOrEqual(5 + 3);
  });

  it('the Kubernetes source converts each object once as it arrives and builds its state from the compact cache', async () => {
    const s = await startServer();
    s.apply('namespaces', namespaceObj('default'));
    s.apply('namespaces', namespaceObj('team', { 'vrfwall.dev/isolated': 'true' }));
    s.apply('nodes', nodeObj('node1', ['192.168.50.1']));
    // A pod as a real server sends it: much the source does not use (managed fields, a big annotation it does not read).
    const bulky = podObj('team', 'a', { node: 'node1', ips: ['10.244.1.2'], labels: { app: 'a' } });
    (bulky.metadata as Record<string, unknown>).managedFields = [{ manager: 'kubectl', operation: 'Update', fieldsV1: { 'f:spec': { x: 'y'.repeat(2000) } } }];
    s.apply('pods', bulky);
    for (let i = 0; i < 4; i++) s.apply('pods', podObj('default', `p${i}`, { node: 'node1', ips: [`10.244.1.${10 + i}`] }));
    const file = path.join(tmp, `kubeconfig-src-${s.port}`);
    s.writeKubeconfig(file);
    const src = new KubeSource({ kubeConfig: loadKubeConfig(file), logger: pino({ level: 'silent' }), nodeName: 'node1', pageSize: 2, debounceMs: 10, requestTimeoutMs: 2000 });
    stops.push(() => src.stop());
    await src.start();
    const st = src.current();
    expect([...st.pods.keys()]).toEqual(['default/p0', 'default/p1', 'default/p2', 'default/p3', 'team/a']);
    expect(st.pods.get('team/a')?.status.podIPs).toEqual(['10.244.1.2']);
    expect(st.pods.get('team/a')?.metadata.labels).toEqual({ app: 'a' });
    expect(st.namespaces.get('team')?.metadata.labels).toEqual({ 'vrfwall.dev/isolated': 'true' });

    // A change goes through the same path (watch -> compact -> state); an
    // unchanged object keeps its identity (converted once per version).
    const before = st.pods.get('default/p0');
    s.apply('pods', podObj('team', 'a', { node: 'node1', ips: ['10.244.1.99'], labels: { app: 'a' } }));
    await until(() => src.current().pods.get('team/a')?.status.podIPs[0] === '10.244.1.99', 2000, 'modified pod in the state');
    expect(src.current().pods.get('default/p0')).toBe(before);

    // A new version that converts to the same (only the status phase text and
    // resourceVersion differ) keeps the conversion it had: no new snapshot.
    const announced: number[] = [];
    src.onChange((st) => announced.push(st.pods.size));
    const aBefore = src.current().pods.get('team/a');
    const same = podObj('team', 'a', { node: 'node1', ips: ['10.244.1.99'], labels: { app: 'a' } });
    (same.status as Record<string, unknown>).conditions = [{ type: 'Ready', status: 'True' }];
    s.apply('pods', same);
    s.apply('pods', podObj('default', 'p9', { node: 'node1', ips: ['10.244.1.50'] })); // positive control
    await until(() => src.current().pods.has('default/p9'), 2000, 'the control pod in the state');
    expect(src.current().pods.get('team/a')).toBe(aBefore);
    expect(announced).toEqual([6]);

    // A Namespace change rebuilds the namespaces only: the pods map is the
    // previous snapshot's own (not copied, not re-sorted); a pod change rebuilds the pods.
    const changes: string[][] = [];
    src.onChange((_st, changed) => changes.push(changed.map((c) => `${c.kind} ${c.key}`)));
    const podsBefore = src.current().pods;
    const nsBefore = src.current().namespaces;
    s.apply('namespaces', namespaceObj('team', {}));
    await until(() => src.current().namespaces.get('team')?.metadata.labels['vrfwall.dev/isolated'] === undefined, 2000, 'namespace change in the state');
    expect(src.current().pods).toBe(podsBefore);
    expect(src.current().namespaces).not.toBe(nsBefore);
    expect(changes.at(-1)).toEqual(['Namespace team']);
    s.apply('pods', podObj('default', 'p10', { node: 'node1', ips: ['10.244.1.60'] }));
    await until(() => src.current().pods.has('default/p10'), 2000, 'pod change in the state');
    expect(src.current().pods).not.toBe(podsBefore);
    expect([...src.current().pods.keys()]).toEqual([...[...podsBefore.keys(), 'default/p10'].sort()]);
    expect(changes.at(-1)).toEqual(['Pod default/p10']);
  });
});

describe('listing ahead: the next page is asked for while the current one is read', () => {
  /** An informer over pods whose list calls are recorded: "start <token>" / "end <token>". */
  function recordingInformer(s: TestApiServer, file: string, wrap?: (page: ListPage) => ListPage): { inf: ResilientInformer; calls: string[] } {
    const calls: string[] = [];
    const inf = podInformer(s, file, {
      list: (list) => (page, signal) => {
        const at = page._continue === undefined ? 'first' : 'next';
        calls.push(`start ${at}`);
        return list(wrap ? wrap(page) : page, signal).then(
          (r) => (calls.push(`end ${at}`), r),
          (e: unknown) => (calls.push(`failed ${at}`), Promise.reject(e)),
        );
      },
    });
    return { inf, calls };
  }

  it('the early continue token starts the next request before the page is in; every page once, every object listed', async () => {
    const s = await startServer();
    for (let i = 0; i < 7; i++) s.apply('pods', podObj('ns', `p${i}`, { ips: [`10.0.0.${i + 1}`] }));
    const { inf, calls } = recordingInformer(s, path.join(tmp, `kubeconfig-ahead-${s.port}`));
    inf.start();
    await inf.whenSynced();
    expect(inf.objects().map((o) => o.metadata?.name).sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
    // 2 + 2 + 2 + 1: four pages, no request wasted, and each next page was
    // asked for before the one before it had been returned.
    expect(s.stats.requests.get('list pods')).toBe(4);
    expect(calls).toEqual(['start first', 'start next', 'end first', 'start next', 'end next', 'start next', 'end next', 'end next']);
  });

  it('a wrong early token is only a hint: its request is dropped and the list is read with the page\'s own token', async () => {
    const s = await startServer();
    for (let i = 0; i < 5; i++) s.apply('pods', podObj('ns', `p${i}`, { ips: [`10.0.0.${i + 1}`] }));
    // Every early token is replaced by one for a page that does not exist (the server refuses it: 400).
    const bogus = (page: ListPage): ListPage => ({ ...page, ...(page.onContinue ? { onContinue: () => page.onContinue?.('bogus') } : {}) });
    const { inf, calls } = recordingInformer(s, path.join(tmp, `kubeconfig-bogus-${s.port}`), bogus);
    inf.start();
    await inf.whenSynced();
    expect(inf.objects().map((o) => o.metadata?.name).sort()).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
    // Each page's prefetch used the wrong token and was dropped (aborted:
    // "failed"); the pages were read with their own tokens (2 + 2 + 1).
    const ended = calls.filter((c) => c.startsWith('end ')).length;
    const dropped = calls.filter((c) => c.startsWith('failed ')).length;
    expect(ended).toBe(3);
    expect(dropped).toBe(2);
    expect(calls.filter((c) => c.startsWith('start ')).length).toBe(ended + dropped);
    expect(s.stats.queries.filter((q) => q.verb === 'list' && q.plural === 'pods' && q.query.get('continue') !== 'bogus').length).toBe(3);
  });

  it('earlyContinue reads the token only from a text that has it before the items', () => {
    const head = '{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7","continue":"abc=","remainingItemCount":3},"items":[{"metadata"';
    expect(earlyContinue(head)).toBe('abc=');
    expect(earlyContinue(head.slice(0, 60))).toBeNull(); // read more
    expect(earlyContinue('{"kind":"PodList","items":[],"metadata":{"continue":"abc="}}')).toBeUndefined(); // items first
    expect(earlyContinue('{"kind":"PodList","metadata":{"resourceVersion":"7"},"items":[')).toBeUndefined(); // last page
    expect(earlyContinue('{"kind":"PodList","metadata":{"x":"a\\"items\\":"},"items":[')).toBeUndefined(); // no valid prefix
  });
});
