// The local-manifest source on real files in a temporary directory, watched
// by real chokidar: edits must arrive as changes, problems must name files.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { compile } from '../src/model/compile.js';
import { labOverlay, type LabClusterFile } from '../src/lab/cluster-file.js';
import { CN2_ISOLATED_LABEL } from '../src/model/placement.js';
import { DEFAULT_NETWORK, type ClusterState } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { ManifestSource } from '../src/sources/manifests.js';
import { freshTmpDir, nextState, writeLabFile } from './helpers/manifests.js';

const EXAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../examples/cn2-isolated-namespace');
const TMP_PREFIX = 'vrfwall-manifests-test-';

let dir: string; // manifests
let labPath: string;
let logLines: string[];
let source: ManifestSource | undefined;

beforeEach(async () => {
  const root = await freshTmpDir(TMP_PREFIX);
  dir = path.join(root, 'manifests');
  labPath = path.join(root, 'lab', 'cluster.json');
  await fs.mkdir(dir);
  await fs.mkdir(path.dirname(labPath));
  logLines = [];
});

afterEach(async () => {
  await source?.stop();
  source = undefined;
  await fs.rm(path.dirname(dir), { recursive: true, force: true });
});

async function startSource(withLab = true, debounceMs?: number): Promise<ManifestSource> {
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  // No periodic re-scan: every change seen here came through the watcher.
  source = new ManifestSource({ dir, ...(withLab ? { overlay: labOverlay(labPath) } : {}), logger, resyncMs: 0, ...(debounceMs !== undefined ? { debounceMs } : {}) });
  await source.start();
  return source;
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function write(rel: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
  await fs.writeFile(path.join(dir, rel), text);
}

const writeLab = (lab: LabClusterFile | string): Promise<void> => writeLabFile(labPath, lab);

function lab(pods: LabClusterFile['pods'], nodes: LabClusterFile['nodes'] = [{ name: 'node-a', addresses: ['192.168.50.1'] }]): LabClusterFile {
  return { version: 1, podCIDRs: ['10.244.0.0/16'], serviceCIDRs: ['10.96.0.0/16'], nodes, pods };
}

const namespaceYaml = (name: string, labels: Record<string, string> = {}): string =>
  [
    'apiVersion: v1',
    'kind: Namespace',
    'metadata:',
    `  name: ${name}`,
    ...(Object.keys(labels).length > 0 ? ['  labels:', ...Object.entries(labels).map(([k, v]) => `    ${k}: "${v}"`)] : []),
    '',
  ].join('\n');

const podYaml = (namespace: string, name: string): string =>
  ['apiVersion: v1', 'kind: Pod', 'metadata:', `  name: ${name}`, `  namespace: ${namespace}`, 'spec:', '  containers:', '    - name: c', '      image: x', ''].join(
    '\n',
  );

const problemsOf = (s: ClusterState): string[] => s.problems.map((p) => `${p.source}: ${p.message}`);

describe('manifest source: the CN2 example', () => {
  it('loads the example directory and the lab file into the state the compile step expects', async () => {
    for (const f of await fs.readdir(EXAMPLE)) if (f.endsWith('.yaml')) await fs.copyFile(path.join(EXAMPLE, f), path.join(dir, f));
    await writeLab(
      lab(
        {
          'isolated-namespace-demo/pod1': { node: 'node-a', ips: ['10.244.0.11'] },
          'isolated-namespace-demo/pod2': { node: 'node-b', ips: ['10.244.1.12'] },
          'non-isolated-namespace-demo/pod3': { node: 'node-a', ips: ['10.244.0.13'] },
          'default/pod4': { node: 'node-b', ips: ['10.244.1.14'] },
        },
        [
          { name: 'node-a', addresses: ['192.168.50.1'] },
          { name: 'node-b', addresses: ['192.168.50.2'] },
        ],
      ),
    );
    const s = (await startSource()).current();

    expect(s.problems).toEqual([]);
    expect([...s.namespaces.keys()]).toEqual(['default', 'isolated-namespace-demo', 'kube-system', 'non-isolated-namespace-demo']);
    expect(s.namespaces.get('isolated-namespace-demo')?.metadata.labels).toEqual({ [CN2_ISOLATED_LABEL]: 'true' });
    expect([...s.pods.keys()]).toEqual([
      'default/pod4',
      'default/vn1-pod',
      'default/vn2-pod',
      'isolated-namespace-demo/pod1',
      'isolated-namespace-demo/pod2',
      'non-isolated-namespace-demo/pod3',
    ]);
    const pod1 = s.pods.get('isolated-namespace-demo/pod1');
    expect(pod1?.spec).toEqual({
      nodeName: 'node-a',
      hostNetwork: false,
      ports: [
        { containerPort: 8080, protocol: 'TCP' },
        { containerPort: 8080, protocol: 'UDP' },
      ],
    });
    expect(pod1?.status.podIPs).toEqual(['10.244.0.11']);
    expect([...s.nodes.keys()]).toEqual(['node-a', 'node-b']);

    const d = compile(s, { nodeName: 'node-a', podCIDRs: ['10.244.0.0/16'], serviceCIDRs: [] }, new Map(), emptyAllocation());
    const net = (k: string): string | undefined => {
      const p = d.placements.get(k);
      return p?.kind === 'network' ? p.network : p?.kind;
    };
    expect(net('isolated-namespace-demo/pod1')).toBe('isolated-namespace-demo/default-podnetwork');
    expect(net('isolated-namespace-demo/pod2')).toBe('isolated-namespace-demo/default-podnetwork');
    expect(net('non-isolated-namespace-demo/pod3')).toBe(DEFAULT_NETWORK);
    expect(net('default/pod4')).toBe(DEFAULT_NETWORK);
  });
});

describe('manifest source: watching', () => {
  it('an edit that removes the isolation label arrives well within a second, and adding it back too', async () => {
    await write('ns.yaml', namespaceYaml('iso', { [CN2_ISOLATED_LABEL]: 'true' }));
    const src = await startSource();
    expect(src.current().namespaces.get('iso')?.metadata.labels).toEqual({ [CN2_ISOLATED_LABEL]: 'true' });

    const opened = nextState(src, (s) => s.namespaces.get('iso')?.metadata.labels[CN2_ISOLATED_LABEL] === undefined);
    const t0 = Date.now();
    await write('ns.yaml', namespaceYaml('iso'));
    await opened;
    expect(Date.now() - t0).toBeLessThan(1000);

    const closed = nextState(src, (s) => s.namespaces.get('iso')?.metadata.labels[CN2_ISOLATED_LABEL] === 'true');
    const t1 = Date.now();
    await write('ns.yaml', namespaceYaml('iso', { [CN2_ISOLATED_LABEL]: 'true' }));
    await closed;
    expect(Date.now() - t1).toBeLessThan(1000);
  });

  it('each notification names exactly the objects that changed', async () => {
    await write('ns.yaml', namespaceYaml('a'));
    await write('ns-b.yaml', namespaceYaml('b'));
    const src = await startSource();
    const changes: string[][] = [];
    src.onChange((_s, changed) => changes.push(changed.map((c) => `${c.kind} ${c.key}`).sort()));
    const edited = nextState(src, (s) => s.namespaces.get('a')?.metadata.labels.step === '1');
    await write('ns.yaml', namespaceYaml('a', { step: '1' }));
    await edited;
    expect(changes).toEqual([['Namespace a']]);
    const removed = nextState(src, (s) => !s.namespaces.has('b'));
    await fs.rm(path.join(dir, 'ns-b.yaml'));
    await removed;
    expect(changes[1]).toEqual(['Namespace b']);
  });

  it('a burst of writes becomes one change', async () => {
    await write('ns.yaml', namespaceYaml('a'));
    // A wider window than the default 50 ms, so that a loaded machine cannot
    // stretch the five writes over two windows.
    const src = await startSource(true, 200);
    const changes: string[][] = [];
    src.onChange((_s, changed) => changes.push(changed.map((c) => `${c.kind} ${c.key}`)));
    const last = nextState(src, (s) => s.namespaces.get('a')?.metadata.labels.step === '4');
    for (let i = 0; i < 5; i++) await write('ns.yaml', namespaceYaml('a', { step: String(i) }));
    await last;
    // A marker written after the burst was seen: once it arrives, every
    // notification the burst could cause has been delivered before it.
    const marker = nextState(src, (s) => s.namespaces.has('marker'));
    await write('marker.yaml', namespaceYaml('marker'));
    await marker;
    expect(changes).toEqual([['Namespace a'], ['Namespace marker']]);
    expect(src.current().namespaces.get('a')?.metadata.labels).toEqual({ step: '4' });
  });

  it('every replacement by rename is seen, also one after another (an editor, a ConfigMap, the lab tests)', async () => {
    // No periodic re-scan (startSource): each step must come through the watchers.
    await write('sub/ns.yaml', namespaceYaml('a', { step: 'start' }));
    const src = await startSource();
    await until(() => src.current().namespaces.get('a')?.metadata.labels.step === 'start', 5000, 'the first state');
    const abs = path.join(dir, 'sub/ns.yaml');
    for (let i = 0; i < 25; i++) {
      await fs.writeFile(`${abs}.tmp`, namespaceYaml('a', { step: String(i) }));
      await fs.rename(`${abs}.tmp`, abs);
      // Generous: a missed replacement is never seen at all without a re-scan.
      await until(() => src.current().namespaces.get('a')?.metadata.labels.step === String(i), 3000, `replacement ${i}`);
    }
  });

  it('new files, files in new subdirectories and deleted files are seen; hidden and non-YAML files are not', async () => {
    const src = await startSource();
    const added = nextState(src, (s) => s.namespaces.has('deep') && s.namespaces.has('top'));
    // The files to ignore first, each beside a file like it that must be
    // seen and is written after it (positive controls): once those arrive,
    // the ignored ones would have too.
    await write('.hidden.yaml', namespaceYaml('hidden'));
    await write('notes.txt', namespaceYaml('txt'));
    await write('top.yml', namespaceYaml('top'));
    await write('.git/x.yaml', namespaceYaml('gitdir'));
    await write('a/b/deep.yaml', namespaceYaml('deep'));
    const s = await added;
    const marker = nextState(src, (st) => st.namespaces.has('marker'));
    await write('c/marker.yaml', namespaceYaml('marker'));
    await marker;
    expect([...src.current().namespaces.keys()].sort()).toEqual(['deep', 'default', 'kube-system', 'marker', 'top']);
    expect(s.problems).toEqual([]);

    const removed = nextState(src, (st) => !st.namespaces.has('deep'));
    await fs.rm(path.join(dir, 'a'), { recursive: true });
    await removed;
  });

  it('the lab file replaced by rename, again and again, is followed', async () => {
    await write('pods.yaml', podYaml('default', 'p'));
    const src = await startSource();
    expect(src.current().pods.get('default/p')?.status.podIPs).toEqual([]); // no lab file yet
    for (const ip of ['10.244.0.1', '10.244.0.2', '10.244.0.3', '10.244.0.4']) {
      const seen = nextState(src, (s) => s.pods.get('default/p')?.status.podIPs[0] === ip);
      await writeLab(lab({ 'default/p': { node: 'node-a', ips: [ip] } }));
      await seen;
    }
    // Again with a source that starts while the file exists.
    await src.stop();
    const again = await startSource();
    expect(again.current().pods.get('default/p')?.status.podIPs).toEqual(['10.244.0.4']);
    for (const ip of ['10.244.0.5', '10.244.0.6', '10.244.0.7', '10.244.0.8']) {
      const seen = nextState(again, (s) => s.pods.get('default/p')?.status.podIPs[0] === ip);
      await writeLab(lab({ 'default/p': { node: 'node-a', ips: [ip] } }));
      const s = await seen;
      expect(s.pods.get('default/p')?.spec.nodeName).toBe('node-a');
    }
    const gone = nextState(again, (s) => s.pods.get('default/p')?.status.podIPs.length === 0);
    await fs.rm(labPath);
    const s = await gone;
    expect(s.nodes.size).toBe(0);
  });

  it('periodic re-scans of unchanged files cause no change and no repeated log lines', async () => {
    await write('all.yaml', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\n' + namespaceYaml('a'));
    await writeLab(lab({}));
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
    source = new ManifestSource({ dir, overlay: labOverlay(labPath), logger, resyncMs: 50 });
    // Count the re-scans (each marks every file for reading): wait for them, not for a time.
    const scans = vi.spyOn(source as unknown as { markEverything(): Promise<void> }, 'markEverything');
    await source.start();
    let changes = 0;
    source.onChange(() => changes++);
    const scansAtStart = scans.mock.calls.length;
    // six begun: five complete (updates are chained, one after another)
    await until(() => scans.mock.calls.length >= scansAtStart + 6, 3000, 'five periodic re-scans');
    expect(changes).toBe(0);
    expect(logLines.filter((l) => l.includes('ignoring object of unsupported kind'))).toHaveLength(1);
    // A re-scan does pick up what changed.
    const seen = nextState(source, (s) => s.namespaces.has('b'));
    await write('all.yaml', namespaceYaml('b'));
    await seen;
  });

  it('stop() ends notifications', async () => {
    const src = await startSource();
    let changes = 0;
    src.onChange(() => changes++);
    // positive control: a second source on the same directory, still running,
    // with a coalescing window six times as long: when it has seen the write,
    // a running source with the default 50 ms window would have too
    const witness = new ManifestSource({ dir, logger: pino({ level: 'silent' }), resyncMs: 0, debounceMs: 300 });
    await witness.start();
    try {
      await src.stop();
      const seen = nextState(witness, (s) => s.namespaces.has('late'));
      await write('ns.yaml', namespaceYaml('late'));
      await seen;
      expect(changes).toBe(0);
      expect(src.current().namespaces.has('late')).toBe(false);
    } finally {
      await witness.stop();
    }
  });
});

describe('manifest source: bad input', () => {
  it('malformed YAML is reported with file name and document; the rest of the file is applied', async () => {
    await write('mixed.yaml', [namespaceYaml('good'), 'metadata: [unclosed\n', namespaceYaml('also-good')].join('---\n'));
    const s = (await startSource()).current();
    expect(s.namespaces.has('good')).toBe(true);
    expect(s.namespaces.has('also-good')).toBe(true);
    expect(s.problems).toHaveLength(1);
    expect(s.problems[0]?.source).toBe(path.join(dir, 'mixed.yaml#2'));
    expect(s.problems[0]?.message).toMatch(/^YAML error: /);
  });

  it('a good file that breaks keeps its last good content (fail closed), until fixed or deleted', async () => {
    await write('iso.yaml', [namespaceYaml('iso', { [CN2_ISOLATED_LABEL]: 'true' }), podYaml('iso', 'p1')].join('---\n'));
    const src = await startSource();

    const broken = nextState(src, (s) => s.problems.length > 0);
    await write('iso.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: iso, labels: {\n');
    const s = await broken;
    // The namespace keeps its isolation label; the pod stays too.
    expect(s.namespaces.get('iso')?.metadata.labels).toEqual({ [CN2_ISOLATED_LABEL]: 'true' });
    expect(s.pods.has('iso/p1')).toBe(true);
    expect(problemsOf(s)).toEqual([
      `${path.join(dir, 'iso.yaml#1')}: ${s.problems[0]?.message}`,
      `${path.join(dir, 'iso.yaml')}: keeping the last good version of Namespace/iso, Pod/iso/p1 until the file is fixed`,
    ]);
    expect(s.problems[0]?.message).toMatch(/^YAML error/);

    const fixed = nextState(src, (st) => st.problems.length === 0);
    await write('iso.yaml', namespaceYaml('iso')); // fixed, and the label deliberately removed
    const f = await fixed;
    expect(f.namespaces.get('iso')?.metadata.labels).toEqual({});
    expect(f.pods.has('iso/p1')).toBe(false);

    const deleted = nextState(src, (st) => !st.namespaces.has('iso'));
    await fs.rm(path.join(dir, 'iso.yaml'));
    await deleted;
  });

  it('a Namespace that cannot be used and has no last good version is withheld: its pods get quarantined', async () => {
    await write('ns.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: iso\n  labels:\n    ' + `${CN2_ISOLATED_LABEL}: {nested: map}\n`);
    await write('pods.yaml', podYaml('iso', 'p'));
    await writeLab(lab({ 'iso/p': { node: 'node-a', ips: ['10.244.0.7'] } }));
    const s = (await startSource()).current();
    expect(s.namespaces.has('iso')).toBe(false);
    expect(s.pods.has('iso/p')).toBe(true);
    expect(problemsOf(s)).toEqual([
      `${path.join(dir, 'ns.yaml#1')}: Namespace: metadata.labels["${CN2_ISOLATED_LABEL}"] must be a string`,
      'Namespace iso: withheld: a definition of it cannot be used, so its pods are quarantined until it is fixed',
    ]);
    const d = compile(s, { nodeName: 'node-a', podCIDRs: [], serviceCIDRs: [] }, new Map(), emptyAllocation());
    expect(d.placements.get('iso/p')).toMatchObject({ kind: 'quarantine' });
  });

  it('an unquoted boolean label is read as its text, with a warning, so isolation holds', async () => {
    await write('ns.yaml', `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: iso\n  labels:\n    ${CN2_ISOLATED_LABEL}: true\n`);
    const s = (await startSource()).current();
    expect(s.namespaces.get('iso')?.metadata.labels[CN2_ISOLATED_LABEL]).toBe('true');
    expect(problemsOf(s)).toEqual([
      `${path.join(dir, 'ns.yaml#1')}: metadata.labels["${CN2_ISOLATED_LABEL}"] is not a string; read as "true" (quote it)`,
    ]);
  });

  it('unknown kinds are ignored with a log line; List items are read', async () => {
    await write(
      'all.yaml',
      [
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n',
        [
          'apiVersion: v1',
          'kind: List',
          'items:',
          '  - {apiVersion: v1, kind: Namespace, metadata: {name: from-list}}',
          '  - {apiVersion: v1, kind: Pod, metadata: {name: lp, namespace: from-list}, spec: {containers: []}}',
          '  - {apiVersion: v1, kind: ConfigMap, metadata: {name: cm}}',
          '',
        ].join('\n'),
        '', // empty document
      ].join('---\n'),
    );
    const s = (await startSource(false)).current();
    expect(s.problems).toEqual([]);
    expect(s.namespaces.has('from-list')).toBe(true);
    expect(s.pods.has('from-list/lp')).toBe(true);
    const ignored = logLines
      .map((l) => JSON.parse(l) as { msg: string; kind?: string; source?: string })
      .filter((l) => l.msg === 'ignoring object of unsupported kind');
    expect(ignored.map((l) => [l.kind, l.source])).toEqual([
      ['Deployment', path.join(dir, 'all.yaml#1')],
      ['ConfigMap', path.join(dir, 'all.yaml#2/items/2')],
    ]);
  });

  it('invalid values are problems, not crashes; pods of undeclared namespaces get an implicit one', async () => {
    await write(
      'bad.yaml',
      [
        namespaceYaml('Bad_Name'),
        'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostNetwork: "yes"}\n',
        'apiVersion: v1\nkind: Pod\nmetadata: {name: q}\nspec: {containers: [{name: c, ports: [{containerPort: 70000}]}]}\n',
        'apiVersion: v1\nkind: Pod\nmetadata: {name: r, namespace: elsewhere}\nspec: {containers: [{name: c, ports: [{containerPort: 53, protocol: UDP}]}]}\n',
        'kind: Namespace\nmetadata: {name: noversion}\n',
        '- just\n- a list\n',
      ].join('---\n'),
    );
    const s = (await startSource()).current();
    expect(problemsOf(s)).toEqual([
      `${path.join(dir, 'bad.yaml#1')}: Namespace: metadata.name "Bad_Name" is not a DNS label`,
      `${path.join(dir, 'bad.yaml#2')}: Pod: spec.hostNetwork must be true or false`,
      `${path.join(dir, 'bad.yaml#3')}: Pod: spec.containers[0].ports[0].containerPort 70000 is not a port number`,
      `${path.join(dir, 'bad.yaml#5')}: Namespace without apiVersion`,
      `${path.join(dir, 'bad.yaml#6')}: not a Kubernetes object (expected a mapping)`,
    ]);
    expect([...s.pods.keys()]).toEqual(['elsewhere/r']);
    expect(s.pods.get('elsewhere/r')?.spec.ports).toEqual([{ containerPort: 53, protocol: 'UDP' }]);
    expect(s.namespaces.get('elsewhere')?.metadata).toEqual({ name: 'elsewhere', labels: {}, annotations: {} });
  });

  it('an object defined twice with different content is not used', async () => {
    await write('one.yaml', namespaceYaml('twice', { [CN2_ISOLATED_LABEL]: 'true' }));
    await write('two.yaml', namespaceYaml('twice'));
    await write('same1.yaml', namespaceYaml('same'));
    await write('same2.yaml', namespaceYaml('same'));
    const s = (await startSource()).current();
    expect(s.namespaces.has('twice')).toBe(false);
    expect(s.namespaces.has('same')).toBe(true);
    expect(problemsOf(s)).toEqual([
      `${path.join(dir, 'one.yaml#1')}, ${path.join(dir, 'two.yaml#1')}: Namespace/twice is defined 2 times with different content; none of them is used`,
      'Namespace twice: withheld: a definition of it cannot be used, so its pods are quarantined until it is fixed',
    ]);
  });

  it('lab file: bad entries are skipped with a problem; an unusable file keeps the last good one', async () => {
    await write('pods.yaml', podYaml('default', 'p'));
    await writeLab(
      lab(
        { 'default/p': { node: 'node-a', ips: ['10.244.0.1', 'fd00:10:244:0::1', '10.244.0.999'] }, 'bad key': { node: 'n', ips: [] } },
        [{ name: 'node-a', addresses: ['192.168.50.1', 'nope'] }],
      ),
    );
    const src = await startSource();
    const s = src.current();
    expect(s.pods.get('default/p')?.status.podIPs).toEqual(['10.244.0.1', 'fd00:10:244::1']);
    expect(s.nodes.get('node-a')?.addresses).toEqual(['192.168.50.1']);
    expect(problemsOf(s)).toEqual([
      `${labPath} node node-a: "nope" is not an IP address; skipped`,
      `${labPath} pods: "bad key" is not "<namespace>/<pod>"; skipped`,
      `${labPath} pods[default/p]: "10.244.0.999" is not an IP address; skipped`,
    ]);

    const broken = nextState(src, (st) => st.problems.some((p) => p.message.startsWith('not JSON')));
    await writeLab('{"version": 1, "nodes": [');
    const b = await broken;
    expect(b.pods.get('default/p')?.status.podIPs).toEqual(['10.244.0.1', 'fd00:10:244::1']);
    expect(problemsOf(b).at(-1)).toBe(`${labPath}: keeping its last good content`);
  });

  it('start() fails clearly when the directory does not exist', async () => {
    const logger = pino({ level: 'silent' });
    const src = new ManifestSource({ dir: path.join(dir, 'missing'), logger, resyncMs: 0 });
    await expect(src.start()).rejects.toThrow(/manifest directory .*missing: ENOENT/);
    await src.stop();
  });
});

describe('manifest source: NetworkPolicy (issue 16)', () => {
  const policyYaml = (name: string, spec: string): string =>
    ['apiVersion: networking.k8s.io/v1', 'kind: NetworkPolicy', 'metadata:', `  name: ${name}`, '  namespace: team', 'spec:', spec, ''].join('\n');

  it('policies in the directory reach the state, change with their file, and a bad one stays (allowing nothing) with its problem', async () => {
    await write('ns.yaml', namespaceYaml('team'));
    await write('np.yaml', policyYaml('deny', '  podSelector: {}\n  policyTypes: [Ingress]'));
    const src = await startSource(false);
    expect(src.current().networkPolicies.get('team/deny')?.spec.policyTypes).toEqual(['Ingress']);
    await write('np.yaml', policyYaml('deny', '  podSelector: {}\n  ingress:\n    - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]'));
    await until(() => src.current().networkPolicies.get('team/deny')?.invalid !== undefined, 3000, 'the changed policy');
    expect(src.current().networkPolicies.get('team/deny')?.spec.ingress).toEqual([]);
    expect(problemsOf(src.current()).some((p) => p.endsWith('np.yaml#1: NetworkPolicy team/deny does not parse (spec.ingress[0].from[0].ipBlock.except[0] 10.0.0.0/8 is not strictly inside 10.0.0.0/8): it selects its pods for Ingress and allows nothing until fixed'))).toBe(true);
    await fs.rm(path.join(dir, 'np.yaml'));
    await until(() => src.current().networkPolicies.size === 0, 3000, 'the policy gone with its file');
    expect(src.current().namespaces.has('team')).toBe(true); // control
  });
});
