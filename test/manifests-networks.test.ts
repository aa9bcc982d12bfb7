// The local-manifest source with the issue-3 kinds, on real files watched by
// real chokidar: several manifest directories read as one, Services getting
// the lab's ClusterIPs, and router / VirtualNetwork label / pod annotation
// edits reaching the compiled VRF pairs and placements well within a second.
import fs from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compile } from '../src/model/compile.js';
import { labOverlay, type LabClusterFile } from '../src/lab/cluster-file.js';
import type { ClusterState, DesiredState } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { ManifestSource } from '../src/sources/manifests.js';
import { freshTmpDir, nextState, writeLabFile } from './helpers/manifests.js';

const TMP_PREFIX = 'vrfwall-mnet-test-';
let root: string;
let userDir: string;
let builtinDir: string;
let labPath: string;
let source: ManifestSource | undefined;

beforeEach(async () => {
  root = await freshTmpDir(TMP_PREFIX);
  userDir = path.join(root, 'user');
  builtinDir = path.join(root, 'builtin');
  labPath = path.join(root, 'cluster.json');
  await fs.mkdir(userDir);
  await fs.mkdir(builtinDir);
});

afterEach(async () => {
  await source?.stop();
  source = undefined;
  await fs.rm(root, { recursive: true, force: true });
});

async function start(): Promise<ManifestSource> {
  const logger = pino({ level: 'silent' });
  source = new ManifestSource({ dir: userDir, dirs: [builtinDir], overlay: labOverlay(labPath), logger, resyncMs: 0 });
  await source.start();
  return source;
}

/** Edits must reach the compiled state well within a second. */
const WITHIN_MS = 1000;
const writeLab = (lab: LabClusterFile): Promise<void> => writeLabFile(labPath, lab);

const LAB: LabClusterFile = {
  version: 1,
  podCIDRs: ['10.244.0.0/16', '172.16.0.0/16'],
  serviceCIDRs: ['10.96.0.0/16'],
  nodes: [{ name: 'n1', addresses: ['192.168.50.1'] }],
  pods: { 'a/p1': { node: 'n1', ips: ['10.244.1.10'] }, 'a/p2': { node: 'n1', ips: ['10.244.1.20'] } },
};

const vnYaml = (name: string, label: string, api = 'vrfwall.dev/v1alpha1') =>
  `apiVersion: ${api}\nkind: VirtualNetwork\nmetadata: {name: ${name}, namespace: a, labels: {vn: ${label}}}\nspec: {}\n`;
const podYaml = (name: string, network: string) =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: a, labels: {app: ${name}}, annotations: {vrfwall.dev/network: ${network}}}\n` +
  `spec: {containers: [{name: c, image: x, ports: [{containerPort: 8080, name: http}]}]}\n`;
const ROUTER = `apiVersion: core.contrail.juniper.net/v1alpha1
kind: VirtualNetworkRouter
metadata: {name: r, namespace: a}
spec: {type: mesh, virtualNetworkSelector: {matchLabels: {vn: web}}}
`;

const compiled = (s: ClusterState): DesiredState =>
  compile(s, { nodeName: 'n1', podCIDRs: ['10.244.0.0/16', '172.16.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] }, new Map(), emptyAllocation());
const joined = (d: DesiredState, a: string, b: string): boolean =>
  d.vrfPairs.has(`${d.allocation.ids[a]}:${d.allocation.ids[b]}`);

describe('manifest source: networks, routers and Services', () => {
  it('NetworkAttachmentDefinitions are read; editing one re-places the interface that names it (Multus, issue 14)', async () => {
    const status = JSON.stringify([
      { name: 'k8s-pod-network', interface: 'eth0', ips: ['10.244.1.10'], default: true },
      { name: 'a/nad1', interface: 'eth1', ips: ['172.16.10.3'] },
    ]);
    const nadYaml = (network: string) =>
      `apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {name: nad1, namespace: a, annotations: {vrfwall.dev/network: ${network}}}\nspec: {config: '{"type": "bridge"}'}\n`;
    const subnetVn = (name: string) => vnYaml(name, 'web').replace('spec: {}', 'spec: {v4Subnet: 172.16.10.0/24}');
    await fs.writeFile(path.join(userDir, 'net.yaml'), [subnetVn('red'), subnetVn('blue')].join('---\n'));
    await fs.writeFile(path.join(userDir, 'nad.yaml'), nadYaml('a/red'));
    await fs.writeFile(
      path.join(userDir, 'pods.yaml'),
      `apiVersion: v1\nkind: Pod\nmetadata: {name: p1, namespace: a, annotations: {k8s.v1.cni.cncf.io/networks: nad1@eth1, k8s.v1.cni.cncf.io/network-status: '${status}'}}\nspec: {containers: [{name: c, image: x}]}\n`,
    );
    await writeLab(LAB);
    const src = await start();
    expect([...src.current().attachmentDefinitions.keys()]).toEqual(['a/nad1']);
    expect(src.current().problems).toEqual([]);
    expect(compiled(src.current()).placements.get('a/p1@eth1')).toMatchObject({ kind: 'network', network: 'a/red' });
    const next = nextState(src, (s) => compiled(s).placements.get('a/p1@eth1')?.kind === 'network' && (compiled(s).placements.get('a/p1@eth1') as { network: string }).network === 'a/blue', WITHIN_MS);
    await fs.writeFile(path.join(userDir, 'nad.yaml'), nadYaml('a/blue'));
    await next;
    // Gone: the interface is still the pod's, quarantined.
    const gone = nextState(src, (s) => compiled(s).placements.get('a/p1@eth1')?.kind === 'quarantine', WITHIN_MS);
    await fs.rm(path.join(userDir, 'nad.yaml'));
    await gone;
    expect(compiled(src.current()).placements.get('a/p1')).toMatchObject({ kind: 'network' });
  });

  it('reads several directories as one; Services get the lab file’s ClusterIPs unless they have their own', async () => {
    await fs.writeFile(path.join(userDir, 'net.yaml'), [vnYaml('red', 'web'), vnYaml('blue', 'web', 'core.contrail.juniper.net/v1alpha1')].join('---\n'));
    await fs.writeFile(path.join(userDir, 'pods.yaml'), [podYaml('p1', 'a/red'), podYaml('p2', 'a/blue')].join('---\n'));
    await fs.writeFile(
      path.join(builtinDir, 'dns.yaml'),
      `apiVersion: v1\nkind: Service\nmetadata: {name: kube-dns, namespace: kube-system}\nspec: {selector: {k8s-app: kube-dns}, ports: [{name: dns, port: 53, protocol: UDP}]}\n---\n` +
        `apiVersion: v1\nkind: Service\nmetadata: {name: fixed, namespace: a}\nspec: {clusterIP: 10.96.0.99, ports: [{port: 80}]}\n`,
    );
    await writeLab({ ...LAB, services: { 'kube-system/kube-dns': { clusterIPs: ['10.96.0.10'] }, 'a/fixed': { clusterIPs: ['10.96.0.98'] } } });
    const src = await start();
    const s = src.current();
    expect([...s.virtualNetworks.keys()].sort()).toEqual(['a/blue', 'a/red']);
    expect(s.virtualNetworks.get('a/blue')?.apiGroup).toBe('core.contrail.juniper.net');
    expect(s.services.get('kube-system/kube-dns')?.spec.clusterIPs).toEqual(['10.96.0.10']);
    expect(s.services.get('a/fixed')?.spec.clusterIPs).toEqual(['10.96.0.99']); // the manifest's own wins
    expect(s.pods.get('a/p1')?.status.podIPs).toEqual(['10.244.1.10']);
    const d = compiled(s);
    expect(d.placements.get('a/p1')).toMatchObject({ kind: 'network', network: 'a/red' });
    expect(d.placements.get('a/p2')).toMatchObject({ kind: 'network', network: 'a/blue' });
    expect(s.problems).toEqual([]);
  });

  it('a router, a VirtualNetwork label and a pod annotation change the compiled state within a second', async () => {
    await fs.writeFile(path.join(userDir, 'net.yaml'), [vnYaml('red', 'web'), vnYaml('blue', 'web')].join('---\n'));
    await fs.writeFile(path.join(userDir, 'pods.yaml'), [podYaml('p1', 'a/red'), podYaml('p2', 'a/blue')].join('---\n'));
    await writeLab(LAB);
    const src = await start();
    expect(joined(compiled(src.current()), 'a/red', 'a/blue')).toBe(false);

    const timed = async (edit: () => Promise<void>, pred: (d: DesiredState) => boolean): Promise<number> => {
      const t0 = performance.now();
      const next = nextState(src, (s) => pred(compiled(s)), WITHIN_MS);
      await edit();
      await next;
      return performance.now() - t0;
    };
    const ms: number[] = [];
    // 1. a router joins them
    ms.push(await timed(() => fs.writeFile(path.join(userDir, 'router.yaml'), ROUTER), (d) => joined(d, 'a/red', 'a/blue')));
    // 2. a label on a VirtualNetwork takes blue out of the router
    ms.push(
      await timed(
        () => fs.writeFile(path.join(userDir, 'net.yaml'), [vnYaml('red', 'web'), vnYaml('blue', 'db')].join('---\n')),
        (d) => !joined(d, 'a/red', 'a/blue'),
      ),
    );
    // 3. a pod annotation moves p2 into red
    ms.push(
      await timed(
        () => fs.writeFile(path.join(userDir, 'pods.yaml'), [podYaml('p1', 'a/red'), podYaml('p2', 'a/red')].join('---\n')),
        (d) => d.endpoints.get('10.244.1.20')?.vrfId === d.allocation.ids['a/red'],
      ),
    );
    // 4. the pod annotation names a network that does not exist: quarantine
    ms.push(
      await timed(
        () => fs.writeFile(path.join(userDir, 'pods.yaml'), [podYaml('p1', 'a/red'), podYaml('p2', 'a/green')].join('---\n')),
        (d) => d.placements.get('a/p2')?.kind === 'quarantine',
      ),
    );
    for (const t of ms) expect(t).toBeLessThan(1000);
  });

  it('a broken router file keeps the last good router; deleting it removes the pairs', async () => {
    await fs.writeFile(path.join(userDir, 'net.yaml'), [vnYaml('red', 'web'), vnYaml('blue', 'web')].join('---\n'));
    await fs.writeFile(path.join(userDir, 'router.yaml'), ROUTER);
    await writeLab(LAB);
    const src = await start();
    expect(joined(compiled(src.current()), 'a/red', 'a/blue')).toBe(true);
    const broken = nextState(src, (s) => s.problems.some((p) => /keeping the last good version of VirtualNetworkRouter\/a\/r/.test(p.message)), WITHIN_MS);
    await fs.writeFile(path.join(userDir, 'router.yaml'), ROUTER.replace('mesh', 'star'));
    const s = await broken;
    expect(joined(compiled(s), 'a/red', 'a/blue')).toBe(true);
    const gone = nextState(src, (st) => st.routers.size === 0, WITHIN_MS);
    await fs.rm(path.join(userDir, 'router.yaml'));
    expect(joined(compiled(await gone), 'a/red', 'a/blue')).toBe(false);
  });
});
