// Multus from the Kubernetes API (issue 14): NetworkAttachmentDefinitions
// (k8s.cni.cncf.io/v1) are listed and watched like the vrfwall CRDs, a cluster
// without the Multus CRD works (no NADs: every attachment quarantined, never
// open), and a pod's two Multus annotations arrive as they are. The real
// client library against the test API server, which enforces the shipped
// ClusterRole.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { compile } from '../src/model/compile.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { KubeSource, loadKubeConfig } from '../src/sources/kube.js';
import { TestApiServer, type KObject } from './helpers/apiserver.js';
import { namespaceObj, nodeObj, podObj, virtualNetworkObj } from './helpers/kube-objects.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-kube-multus-'));
let server: TestApiServer | undefined;
let source: KubeSource | undefined;

afterEach(async () => {
  await source?.stop();
  await server?.close();
  const forbidden = server?.stats.forbidden ?? [];
  source = undefined;
  server = undefined;
  expect(forbidden, 'requests the shipped ClusterRole does not grant').toEqual([]);
});

async function start(): Promise<{ s: TestApiServer; src: KubeSource; logs: string[] }> {
  const s = new TestApiServer();
  server = s;
  await s.start();
  const file = path.join(tmp, `kubeconfig-${s.port}`);
  s.writeKubeconfig(file);
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  const src = new KubeSource({ kubeConfig: loadKubeConfig(file), logger, nodeName: 'node1', debounceMs: 20, requestTimeoutMs: 500, retryMinMs: 50, retryMaxMs: 400, eventIntervalMs: 100 });
  source = src;
  return { s, src, logs };
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function nadObj(namespace: string, name: string, annotations: Record<string, string> = {}): KObject {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name, namespace, annotations },
    spec: { config: JSON.stringify({ cniVersion: '0.3.1', type: 'bridge', bridge: 'br-vn1', ipam: { type: 'static' } }) },
  };
}

const STATUS = JSON.stringify([
  { name: 'k8s-pod-network', interface: 'eth0', ips: ['10.244.1.4'], default: true },
  { name: 'default/vn1', interface: 'eth1', ips: ['172.16.10.3'], mac: '02:00:00:00:10:03' },
]);

function seed(s: TestApiServer): void {
  s.apply('nodes', nodeObj('node1', ['192.168.50.1']));
  s.apply('namespaces', namespaceObj('default'));
  s.apply('pods', podObj('default', 'pod4', { node: 'node1', ips: ['10.244.1.4'], annotations: { 'k8s.v1.cni.cncf.io/networks': 'vn1@eth1', 'k8s.v1.cni.cncf.io/network-status': STATUS } }));
}

describe('NetworkAttachmentDefinitions from the API', () => {
  it('listed and watched (added, modified, deleted); the pod annotations arrive as they are; compile places eth1 by them', async () => {
    const { s, src } = await start();
    s.setInstalled('virtualnetworks', true);
    s.setInstalled('network-attachment-definitions', true);
    seed(s);
    s.apply('virtualnetworks', virtualNetworkObj('default', 'vn1'));
    s.apply('network-attachment-definitions', nadObj('default', 'vn1'));
    await src.start();
    const st = src.current();
    expect([...st.attachmentDefinitions.keys()]).toEqual(['default/vn1']);
    expect(st.attachmentDefinitions.get('default/vn1')).toMatchObject({ kind: 'NetworkAttachmentDefinition', metadata: { name: 'vn1', namespace: 'default', annotations: {} } });
    expect(st.pods.get('default/pod4')?.metadata.annotations['k8s.v1.cni.cncf.io/network-status']).toBe(STATUS);
    expect(st.problems).toEqual([]);
    // virtualNetworkObj's subnet is 10.50.0.0/16: eth1's 172.16.10.3 is outside it.
    const q = compile(st, { nodeName: 'node1', podCIDRs: ['10.244.0.0/16', '172.16.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] }, new Map(), emptyAllocation());
    expect(q.placements.get('default/pod4@eth1')).toMatchObject({ kind: 'quarantine', why: expect.stringContaining('172.16.10.3 outside network default/vn1') });

    // Watch: a NAD annotated with another network, a new one, one deleted.
    s.apply('network-attachment-definitions', nadObj('default', 'vn1', { 'vrfwall.dev/network': 'default/vn9' }));
    await until(() => src.current().attachmentDefinitions.get('default/vn1')?.metadata.annotations['vrfwall.dev/network'] === 'default/vn9', 3000, 'modified NAD');
    s.apply('network-attachment-definitions', nadObj('default', 'vn2'));
    await until(() => src.current().attachmentDefinitions.has('default/vn2'), 3000, 'added NAD');
    s.remove('network-attachment-definitions', 'vn1', 'default');
    await until(() => !src.current().attachmentDefinitions.has('default/vn1'), 3000, 'deleted NAD');
    expect([...src.current().attachmentDefinitions.keys()]).toEqual(['default/vn2']);
  });

  it("a quarantined secondary interface's problem becomes an Event on its Pod, naming the interface", async () => {
    const { s, src } = await start();
    seed(s);
    await src.start();
    const uid = s.get('pods', 'pod4', 'default')?.metadata.uid;
    expect(src.reportProblem({ source: 'Pod default/pod4@eth1', message: 'quarantined: interface eth1 (NetworkAttachmentDefinition default/vn1): gone' })).toBe(true);
    expect(src.reportProblem({ source: 'Pod default/missing@eth1', message: 'quarantined: x' })).toBe(false);
    expect(src.reportProblem({ source: 'Namespace default@eth1', message: 'x' })).toBe(false);
    await src.flushEvents();
    expect(s.objects('events', 'default')).toMatchObject([
      { reason: 'Quarantined', message: 'interface eth1: quarantined: interface eth1 (NetworkAttachmentDefinition default/vn1): gone', involvedObject: { kind: 'Pod', namespace: 'default', name: 'pod4', uid } },
    ]);
  });

  it('a bad NAD is reported and not used', async () => {
    const { s, src } = await start();
    s.setInstalled('network-attachment-definitions', true);
    seed(s);
    s.apply('network-attachment-definitions', { ...nadObj('default', 'good') });
    s.apply('network-attachment-definitions', { ...nadObj('default', 'bad'), spec: { config: { not: 'text' } } });
    await src.start();
    expect([...src.current().attachmentDefinitions.keys()]).toEqual(['default/good']);
    expect(src.current().problems.map((p) => `${p.source}: ${p.message}`)).toEqual([
      'NetworkAttachmentDefinition default/bad: NetworkAttachmentDefinition: spec.config must be text (the CNI configuration as JSON)',
    ]);
  });

  it('a cluster without the Multus CRD: nothing held up, no NADs, the attachment quarantined; NADs appear once the CRD is installed', async () => {
    const { s, src, logs } = await start();
    seed(s);
    await src.start();
    expect(src.current().pods.size).toBe(1);
    expect(src.current().attachmentDefinitions.size).toBe(0);
    expect(logs.some((l) => l.includes('CRD not installed') && l.includes('network-attachment-definitions'))).toBe(true);
    const d = compile(src.current(), { nodeName: 'node1', podCIDRs: ['10.244.0.0/16', '172.16.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] }, new Map(), emptyAllocation());
    expect(d.placements.get('default/pod4@eth1')).toMatchObject({ kind: 'quarantine', why: expect.stringContaining('NetworkAttachmentDefinition default/vn1 does not exist') });
    expect(d.endpoints.get('172.16.10.3')?.vrfId).toBe(0);

    s.setInstalled('network-attachment-definitions', true);
    s.apply('network-attachment-definitions', nadObj('default', 'vn1'));
    await until(() => src.current().attachmentDefinitions.has('default/vn1'), 3000, 'NAD after the CRD appears');
  });
});
