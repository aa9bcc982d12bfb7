// The lab on the real kernel, without agents (no enforcement): namespaces,
// veths, routes, the underlay, responders and probes must give an all-open
// matrix on 1 and 2 nodes, a broken pod must show as closed, and `lab down`
// must leave nothing behind.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labMatrix, labUp } from '../src/lab/lab.js';
import { planLab } from '../src/lab/plan.js';
import { CELL_FIELDS } from '../src/lab/protocol.js';
import type { Matrix } from '../src/lab/protocol.js';
import { readState } from '../src/lab/state.js';
import { listLabNetns } from '../src/lab/topology.js';
import { labDir } from '../src/lab/names.js';
import { isAlive } from '../src/lab/procs.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const EXAMPLE = path.join(ROOT, 'examples/cn2-isolated-namespace');
const LABS = ['tlab1', 'tlab2', 'tlab3'];

/** The compiled scripts the lab runs in other namespaces; rebuilt when stale. */
function ensureBuilt(): void {
  const pairs = ['lab/responder', 'lab/probe', 'lab/lab', 'lab/cli', 'lab/main', 'cli/main', 'cli/lab-program'].map((f) => [
    path.join(ROOT, 'src', `${f}.ts`),
    path.join(ROOT, 'dist', `${f}.js`),
  ]);
  const stale = () => pairs.some(([src, out]) => !fs.existsSync(out as string) || fs.statSync(out as string).mtimeMs < fs.statSync(src as string).mtimeMs);
  if (!stale()) return;
  // Type errors elsewhere in the tree must not keep the lab scripts from being emitted.
  spawnSync(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore' });
  if (stale()) throw new Error('dist/ is stale and tsc did not rebuild it: run npx tsc -p tsconfig.json');
}

/** `vrfwall lab <args>`: the product's CLI runs the lab program (dist/lab/main.js). */
function labCli(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'lab', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function writeManifests(dir: string, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
}

/** A Pod manifest; `spec` adds lines to its spec, `ports` is a YAML flow list. */
const pod = (ns: string, name: string, o: { spec?: string; ports?: string } = {}) =>
  [
    'apiVersion: v1',
    'kind: Pod',
    `metadata: {name: ${name}, namespace: ${ns}}`,
    'spec:',
    ...(o.spec ? [`  ${o.spec}`] : []),
    `  containers: [{name: c, image: x${o.ports ? `, ports: ${o.ports}` : ''}}]`,
    '',
  ].join('\n');

/** Every (src, dst) cell of the matrix, for whole-matrix assertions. */
function cells(m: Matrix) {
  return Object.entries(m.pods).flatMap(([src, row]) => Object.entries(row).map(([dst, cell]) => ({ src, dst, cell })));
}

function expectAllOpen(m: Matrix, pods: string[]): void {
  expect(Object.keys(m.pods).sort()).toEqual([...pods].sort());
  // Every other pod's interfaces (not its own: "ns/pod" and "ns/pod@eth1" are one pod).
  const podOfKey = (k: string): string => k.split('@')[0]!;
  for (const src of pods) expect(Object.keys(m.pods[src] ?? {}).sort()).toEqual(pods.filter((p) => podOfKey(p) !== podOfKey(src)).sort());
  // null: a family one side lacks (the secondary interfaces are IPv4 only), never probed.
  const closed = cells(m).flatMap(({ src, dst, cell }) => CELL_FIELDS.filter((f) => cell[f] === false).map((f) => `${src}->${dst} ${f}`));
  expect(closed).toEqual([]);
}

function labProcesses(lab: string): number[] {
  // Responders carry the lab's netns name on their command line (ip netns exec <ns>).
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes(`vrfwall-${lab}-`) && l.includes('responder.js'))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

function expectGone(lab: string): void {
  expect(listLabNetns(lab)).toEqual([]);
  expect(fs.existsSync(labDir(lab))).toBe(false);
}

let tmp: string;

beforeAll(async () => {
  ensureBuilt();
  for (const lab of LABS) await labDown(lab);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-labtest-'));
});

afterAll(async () => {
  for (const lab of LABS) await labDown(lab).catch(() => undefined);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('lab plan', () => {
  const spec = (key: string, nodeName?: string) => {
    const [namespace = '', name = ''] = key.split('/');
    return { namespace, name, key, hostNetwork: false, ports: [], ...(nodeName ? { nodeName } : {}) };
  };

  it('places by nodeName, else round-robin, with deterministic per-node addresses', () => {
    const plan = planLab('tlab9', 2, [spec('a/p1'), spec('a/p2', 'node1'), spec('b/p3'), spec('b/p4')]);
    expect(plan.pods.map((p) => [p.key, p.node, p.ips.v4, p.ips.v6])).toEqual([
      ['a/p1', 'node1', '10.244.1.10', 'fd00:10:244:1::a'],
      ['a/p2', 'node1', '10.244.1.11', 'fd00:10:244:1::b'],
      ['b/p3', 'node2', '10.244.2.10', 'fd00:10:244:2::a'],
      ['b/p4', 'node1', '10.244.1.12', 'fd00:10:244:1::c'],
    ]);
    for (const p of plan.pods) expect((p.hostIf ?? '').length).toBeLessThanOrEqual(15);
    expect(plan.underlayNetns).toBe('vrfwall-tlab9-ul');
  });

  it('refuses an unknown nodeName and a full node', () => {
    expect(() => planLab('tlab9', 2, [spec('a/p1', 'node3')])).toThrow(/nodeName "node3" is not a lab node/);
    const many = Array.from({ length: 246 }, (_, i) => spec(`a/p${String(i).padStart(3, '0')}`));
    expect(() => planLab('tlab9', 1, many)).toThrow(/too many pods on node1/);
  });
});

describe('lab on one node', () => {
  const lab = 'tlab1';
  const pods = ['apps/web', 'apps/db', 'default/client', 'kube-system/exporter'];

  it('connects every pair over ICMP, TCP and UDP on v4 and v6; a broken pod shows as closed', async () => {
    const dir = path.join(tmp, 'one');
    writeManifests(dir, {
      'apps.yaml': [
        pod('apps', 'web', { ports: '[{containerPort: 80}, {containerPort: 53, protocol: UDP}]' }),
        pod('apps', 'db'),
      ].join('---\n'),
      'client.yaml': pod('default', 'client'),
      // A host-network pod answers from the node's own addresses.
      'exporter.yaml': pod('kube-system', 'exporter', { spec: 'hostNetwork: true', ports: '[{containerPort: 9100}]' }),
    });
    try {
      const state = await labUp(dir, { lab, nodes: 1, agent: false });
      expect(state.plan.pods.find((p) => p.key === 'apps/web')?.probe).toEqual({ tcp: 80, udp: 53 });
      expectAllOpen(await labMatrix(lab), pods);

      // Break two pods differently: no responder (ICMP still answers), and no link at all.
      const db = state.responders.find((r) => r.pod === 'apps/db')?.pid as number;
      process.kill(db, 'SIGKILL');
      const client = state.plan.pods.find((p) => p.key === 'default/client')?.netns as string;
      execFileSync('ip', ['-n', client, 'link', 'set', 'eth0', 'down']);
      const m = await labMatrix(lab, { timeoutMs: 500 });
      const toDb = m.pods['apps/web']?.['apps/db'];
      expect(toDb).toEqual({ icmp: true, tcp: false, udp: false, icmp6: true, tcp6: false, udp6: false });
      for (const { src, dst, cell } of cells(m)) {
        const broken = src === 'default/client' || dst === 'default/client';
        if (broken) expect(CELL_FIELDS.some((f) => cell[f]), `${src}->${dst}`).toBe(false);
        else if (dst !== 'apps/db') expect(CELL_FIELDS.every((f) => cell[f]), `${src}->${dst}`).toBe(true);
      }
    } finally {
      await labDown(lab);
    }
    expectGone(lab);
    expect(labProcesses(lab)).toEqual([]);
  });
});

describe('lab on two nodes, through the CLI', () => {
  const lab = 'tlab2';

  it('up, matrix --json and down run as separate processes; cross-node traffic uses the underlay', () => {
    const up = labCli(['up', EXAMPLE, '--nodes', '2', '--name', lab, '--no-agent']);
    try {
      expect(up.stderr).not.toMatch(/vrfwall lab up:/);
      expect(up.status).toBe(0);
      const state = readState(lab);
      expect(new Set(state?.plan.pods.map((p) => p.node))).toEqual(new Set(['node1', 'node2']));
      expect(listLabNetns(lab)).toContain(`vrfwall-${lab}-ul`);
      // The cluster file tells the agents where pods run.
      const cluster = JSON.parse(fs.readFileSync(path.join(labDir(lab), 'cluster.json'), 'utf8'));
      expect(cluster.nodes.map((n: { name: string }) => n.name)).toEqual(['node1', 'node2']);
      expect(Object.keys(cluster.pods)).toHaveLength(7); // and the lab's DNS pod

      const matrix = labCli(['matrix', '--name', lab, '--json']);
      expect(matrix.status).toBe(0);
      expectAllOpen(JSON.parse(matrix.stdout) as Matrix, [
        'default/pod4',
        'default/pod4@eth1',
        'default/vn1-pod',
        'default/vn1-pod@eth1',
        'default/vn2-pod',
        'default/vn2-pod@eth1',
        'isolated-namespace-demo/pod1',
        'isolated-namespace-demo/pod2',
        'non-isolated-namespace-demo/pod3',
      ]);
      const table = labCli(['matrix', '--name', lab]);
      // 9 interfaces, every ordered pair but a pod's own interfaces among themselves.
      expect(table.stdout).toContain('66 pairs fully connected, 0 fully blocked, 0 partly.');
    } finally {
      const down = labCli(['down', '--name', lab]);
      expect(down.status).toBe(0);
    }
    expectGone(lab);
    expect(labProcesses(lab)).toEqual([]);
  });
});

describe('lab lifecycle and bad input', () => {
  const lab = 'tlab3';

  it('down without a state file still removes the namespaces and their processes', async () => {
    const state = await labUp(EXAMPLE, { lab, nodes: 2, agent: false });
    const pids = state.responders.map((r) => r.pid);
    // A second up of the same lab is refused and leaves the first intact.
    await expect(labUp(EXAMPLE, { lab, agent: false })).rejects.toThrow(/already exists/);
    expect(listLabNetns(lab)).toHaveLength(10); // 2 nodes, underlay, 6 pods, the lab's DNS pod
    fs.rmSync(labDir(lab), { recursive: true });
    const r = await labDown(lab);
    expect(r.namespaces).toBe(10);
    expectGone(lab);
    expect(pids.filter(isAlive)).toEqual([]);
  });

  it('refuses bad input with a clear message, a non-zero exit and nothing left behind', () => {
    const missing = labCli(['up', path.join(tmp, 'nope'), '--name', lab, '--no-agent']);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/manifests directory .*nope.*no such file/i);

    const dir = path.join(tmp, 'badnode');
    writeManifests(dir, { 'p.yaml': pod('default', 'p1', { spec: 'nodeName: node3' }) });
    const badNode = labCli(['run', dir, '--nodes', '2', '--name', lab, '--no-agent']);
    expect(badNode.status).not.toBe(0);
    expect(badNode.stderr).toContain('spec.nodeName "node3" is not a lab node (node1..node2)');

    const notUp = labCli(['matrix', '--name', lab]);
    expect(notUp.status).not.toBe(0);
    expect(notUp.stderr).toMatch(/lab "tlab3" is not up/);
    expectGone(lab);
  });
});
