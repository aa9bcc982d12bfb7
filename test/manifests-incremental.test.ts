// The manifest source updates its snapshot file by file (issue 13): a change
// to one file re-resolves that file's objects only, and every other object and
// every kind map without a changed object is the previous snapshot's own. The
// reference is a fresh source reading the same files from scratch: after any
// sequence of edits the incremental snapshot must equal it, order included.
import fs from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { labOverlay, type LabClusterFile } from '../src/lab/cluster-file.js';
import type { ClusterState } from '../src/model/types.js';
import type { ObjectRef } from '../src/sources/changes.js';
import { ManifestSource } from '../src/sources/manifests.js';
import { freshTmpDir, nextState, writeLabFile } from './helpers/manifests.js';

const TMP_PREFIX = 'vrfwall-manifests-incremental-test-';
const logger = pino({ level: 'silent' });

let root: string;
let dir: string;
let labPath: string;
const sources: ManifestSource[] = [];

beforeEach(async () => {
  root = await freshTmpDir(TMP_PREFIX);
  dir = path.join(root, 'manifests');
  labPath = path.join(root, 'cluster.json');
  await fs.mkdir(dir);
});

afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
  await fs.rm(root, { recursive: true, force: true });
});

async function start(resyncMs = 0): Promise<ManifestSource> {
  const src = new ManifestSource({ dir, overlay: labOverlay(labPath), logger, resyncMs });
  sources.push(src);
  await src.start();
  return src;
}

async function write(rel: string, text: string): Promise<void> {
  await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
  await fs.writeFile(path.join(dir, rel), text);
}

const nsYaml = (name: string, labels: Record<string, string> = {}): string =>
  `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  labels: ${JSON.stringify(labels)}\n`;
const podYaml = (ns: string, name: string, labels: Record<string, string> = {}): string =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: ${ns}\n  labels: ${JSON.stringify(labels)}\nspec:\n  containers:\n    - name: c\n      image: x\n`;

const podIp = (i: number): string => `10.244.${i >> 8}.${i & 0xff}`;

function lab(pods: Record<string, number>): LabClusterFile {
  const placement: LabClusterFile['pods'] = {};
  for (const [key, i] of Object.entries(pods)) placement[key] = { node: 'node-a', ips: [podIp(i)] };
  return { version: 1, podCIDRs: ['10.244.0.0/16'], serviceCIDRs: ['10.96.0.0/16'], nodes: [{ name: 'node-a', addresses: ['192.168.50.1'] }], pods: placement };
}

const refs = (changed: readonly ObjectRef[]): string[] => changed.map((c) => `${c.kind} ${c.key}`).sort();

/** Every map as its entry list (order included) and the problems. */
function contents(s: ClusterState): unknown {
  return {
    namespaces: [...s.namespaces],
    pods: [...s.pods],
    nodes: [...s.nodes],
    virtualNetworks: [...s.virtualNetworks],
    routers: [...s.routers],
    services: [...s.services],
    endpointSlices: [...s.endpointSlices],
    problems: s.problems,
  };
}

describe('manifest source: a change to one file of many', () => {
  it('names only that file\'s changed objects and keeps every other object, and unchanged maps, as they were', async () => {
    // 40 namespaces, one directory each: namespace.yaml and pods.yaml (10 pods).
    const placement: Record<string, number> = {};
    for (let k = 0; k < 40; k++) {
      await write(`ns${k}/namespace.yaml`, nsYaml(`ns${k}`));
      const pods = Array.from({ length: 10 }, (_, j) => podYaml(`ns${k}`, `p${j}`));
      await write(`ns${k}/pods.yaml`, pods.join('---\n'));
      for (let j = 0; j < 10; j++) placement[`ns${k}/p${j}`] = k * 10 + j;
    }
    await writeLabFile(labPath, lab(placement));
    const src = await start();
    const s0 = src.current();
    expect(s0.pods.size).toBe(400);
    expect(s0.pods.get('ns7/p3')?.status.podIPs).toEqual([podIp(73)]);
    const changes: string[][] = [];
    src.onChange((_s, changed) => changes.push(refs(changed)));

    // A Namespace's label: that Namespace alone; the pods map is the same object.
    const labelled = nextState(src, (s) => s.namespaces.get('ns7')?.metadata.labels.team === 'a');
    await write('ns7/namespace.yaml', nsYaml('ns7', { team: 'a' }));
    const s1 = await labelled;
    expect(changes).toEqual([['Namespace ns7']]);
    expect(s1.pods).toBe(s0.pods);
    expect(s1.services).toBe(s0.services);
    for (const [name, ns] of s1.namespaces) if (name !== 'ns7') expect(ns).toBe(s0.namespaces.get(name));
    expect(s1.namespaces.get('ns7')).not.toBe(s0.namespaces.get('ns7'));

    // One pods file: p1 relabelled, p9 removed, p10 added. Those three only;
    // the file's other pods and every other file's pods keep their identity.
    const edited = nextState(src, (s) => s.pods.has('ns3/p10'));
    const pods = Array.from({ length: 9 }, (_, j) => podYaml('ns3', `p${j}`, j === 1 ? { app: 'web' } : {}));
    await write('ns3/pods.yaml', [...pods, podYaml('ns3', 'p10')].join('---\n'));
    const s2 = await edited;
    expect(changes[1]).toEqual(['Pod ns3/p1', 'Pod ns3/p10', 'Pod ns3/p9']);
    expect(s2.pods.get('ns3/p1')?.metadata.labels).toEqual({ app: 'web' });
    expect(s2.pods.has('ns3/p9')).toBe(false);
    expect(s2.namespaces).toBe(s1.namespaces);
    let kept = 0;
    for (const [key, pod] of s2.pods) {
      if (key === 'ns3/p1' || key === 'ns3/p10') continue;
      expect(pod).toBe(s1.pods.get(key));
      kept++;
    }
    expect(kept).toBe(398);
    // In key order, as a fresh read gives them.
    expect(contents(s2)).toEqual(contents((await start()).current()));
  });

  it('after any sequence of edits, equals a fresh read of the same files (order and problems included)', async () => {
    let seed = 13; // mulberry32: a fixed sequence, so a failure repeats
    const rand = (n: number): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return (((t ^ (t >>> 14)) >>> 0) % n);
    };
    const NS = 6;
    const placement: Record<string, number> = {};
    const podsFile = (k: number): string => {
      const docs: string[] = [];
      for (let j = 0; j < 6; j++) if (rand(3) > 0) docs.push(podYaml(`ns${k}`, `p${j}`, rand(2) === 0 ? {} : { v: String(rand(3)) }));
      return docs.join('---\n');
    };
    for (let k = 0; k < NS; k++) {
      await write(`ns${k}/namespace.yaml`, nsYaml(`ns${k}`));
      await write(`ns${k}/pods.yaml`, podsFile(k));
      for (let j = 0; j < 6; j++) placement[`ns${k}/p${j}`] = k * 10 + j;
    }
    await writeLabFile(labPath, lab(placement));
    // The watcher may report two writes in either order, or the second one
    // only on its follow-up read: a re-scan every 50 ms bounds how late an
    // edit is seen (unchanged files are skipped, so it updates incrementally too).
    const src = await start(50);

    const steps: string[] = [];
    for (let step = 1; step <= 40; step++) {
      const k = rand(NS);
      const op = rand(8);
      if (op === 0) await write(`ns${k}/namespace.yaml`, nsYaml(`ns${k}`, { v: String(rand(3)) }));
      else if (op === 1) await write(`ns${k}/pods.yaml`, podsFile(k));
      // A document that cannot be parsed: the file keeps its last good
      // objects (which a fresh read cannot know), then it is fixed.
      else if (op === 2) {
        const before = [...src.current().pods].filter(([key]) => key.startsWith(`ns${k}/`));
        const broken = nextState(src, (s) => s.problems.some((p) => p.source.includes(`ns${k}/pods.yaml`) && p.message.startsWith('YAML error')));
        await write(`ns${k}/pods.yaml`, `${podYaml(`ns${k}`, 'p0')}---\nkind: [\n`);
        const s = await broken;
        const keys = before.map(([key]) => key);
        const keeping = s.problems.some((p) => p.source === path.join(dir, `ns${k}/pods.yaml`) && p.message.startsWith('keeping the last good version'));
        expect(keeping).toBe(keys.some((key) => key !== `ns${k}/p0`));
        // its last good pods, and the one good document it still has
        const expected = [...new Set([...keys, `ns${k}/p0`])].sort();
        expect([...s.pods].filter(([key]) => key.startsWith(`ns${k}/`)).map(([key]) => key)).toEqual(expected);
        await write(`ns${k}/pods.yaml`, podsFile(k));
      }
      // a second definition, equal or different: a conflict withholds it
      else if (op === 3) await write(`dup${rand(2)}.yaml`, rand(2) === 0 ? nsYaml(`ns${k}`) : podYaml(`ns${k}`, `p${rand(6)}`, { v: '1' }));
      else if (op === 4) await fs.rm(path.join(dir, `ns${k}/namespace.yaml`), { force: true });
      else if (op === 5) await fs.rm(path.join(dir, `dup${rand(2)}.yaml`), { force: true });
      // pods of an undeclared namespace: it exists implicitly
      else if (op === 6) await write(`extra/x${k}.yaml`, podYaml(`extra${rand(2)}`, `q${k}`));
      else {
        placement[`ns${k}/p${rand(6)}`] = 100 + step;
        placement[`extra${rand(2)}/q${k}`] = 200 + step;
        await writeLabFile(labPath, lab(placement));
      }
      steps.push(`${step}: op ${op} on ns${k}`);
      // A marker file changed last: once its state is out, the step's edit
      // is read or about to be (see the re-scan above).
      const marked = nextState(src, (s) => s.namespaces.get('marker')?.metadata.labels.step === String(step));
      await write('zz-marker.yaml', nsYaml('marker', { step: String(step) }));
      await marked;
      // The watcher may report a removal after a later write's event: the
      // source has until a second to catch up (it always has in practice).
      const fresh = await start();
      const want = contents(fresh.current());
      for (let t = 0; t < 50 && !isDeepStrictEqual(contents(src.current()), want); t++) await new Promise((r) => setTimeout(r, 20));
      expect(contents(src.current()), steps.join('\n')).toEqual(want);
      await fresh.stop();
      sources.pop();
    }
    // The sequence did reach the cases it is for.
    const final = src.current();
    expect(steps.some((s) => s.includes('op 2'))).toBe(true);
    expect(steps.some((s) => s.includes('op 3'))).toBe(true);
    expect(steps.some((s) => s.includes('op 7'))).toBe(true);
    expect(final.pods.size).toBeGreaterThan(0);
  });
});
