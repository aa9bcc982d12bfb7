// The manifest source's first scan of a large tree is read and YAML-parsed on
// a worker thread (src/sources/manifest-worker.ts). The worker runs the
// compiled module, so this file uses the build in dist/ (`make build`): the
// same tree read with the worker and without it must give the same state,
// problems and notifications, whatever the files hold.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { ClusterState } from '../src/model/types.js';
import type { ManifestSource as Source, ManifestSourceOptions } from '../src/sources/manifests.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-manifests-worker-'));

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** 40 namespaces of ordinary pods, and files that leave the fast path or fail. */
function writeTree(dir: string): void {
  for (let k = 0; k < 40; k++) {
    const d = path.join(dir, `ns${k}`);
    fs.mkdirSync(d, { recursive: true });
    const labels = k % 2 === 0 ? '  labels:\n    vrfwall.dev/isolated: "true"\n' : '';
    fs.writeFileSync(path.join(d, 'namespace.yaml'), `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns${k}\n${labels}`);
    const pods = Array.from({ length: 5 }, (_, i) => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p${i}\n  namespace: ns${k}\n  labels: {app: a${i % 2}}\nspec:\n  nodeName: node2\n  containers:\n    - name: c\n      image: none\n      ports:\n        - containerPort: ${8000 + i}\n`);
    fs.writeFileSync(path.join(d, 'pods.yaml'), pods.join('---\n'));
  }
  const odd = path.join(dir, 'odd');
  fs.mkdirSync(odd, { recursive: true });
  // anchors: the full parser (the worker sends the text back)
  fs.writeFileSync(path.join(odd, 'anchors.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: &n anchored\n  labels:\n    copy: *n\n');
  // a value JSON cannot carry (.nan): read in place
  fs.writeFileSync(path.join(odd, 'nan.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: nan\n  namespace: ns1\n  annotations:\n    x: .nan\nspec:\n  containers: []\n');
  // broken YAML, a document that is no object, an unsupported kind, an empty file
  fs.writeFileSync(path.join(odd, 'broken.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: [unclosed\n');
  fs.writeFileSync(path.join(odd, 'scalar.yaml'), '--- just text\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: ns1\n');
  fs.writeFileSync(path.join(odd, 'empty.yaml'), '');
  // a bad pod (no name): a problem, not an object
  fs.writeFileSync(path.join(odd, 'noname.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  namespace: ns1\nspec:\n  containers: []\n');
}

async function firstState(minBytes: number): Promise<{ state: ClusterState; lines: string[]; notifications: number }> {
  const { ManifestSource } = (await import(path.join(ROOT, 'dist/sources/manifests.js'))) as { ManifestSource: typeof Source };
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  const opts: ManifestSourceOptions = { dir: path.join(tmp, 'manifests'), logger, resyncMs: 0, parseWorkerMinBytes: minBytes };
  const src = new ManifestSource(opts);
  let notifications = 0;
  src.onChange(() => notifications++);
  await src.start();
  const state = src.current();
  await src.stop();
  return { state, lines, notifications };
}

describe('manifest source: the first scan on a worker thread', () => {
  it('gives the state, problems and log lines that reading in place gives', async () => {
    expect(fs.existsSync(path.join(ROOT, 'dist/sources/manifest-worker.js')), 'run make build').toBe(true);
    writeTree(path.join(tmp, 'manifests'));
    const inPlace = await firstState(Infinity);
    const worker = await firstState(0);
    const msgs = (lines: string[]): string[] => lines.map((l) => JSON.parse(l) as { msg: string }).map((l) => l.msg);
    // The worker was used (positive control), and not without it.
    const used = worker.lines.map((l) => JSON.parse(l) as { msg: string; files?: number; readInPlace?: number }).find((l) => l.msg === 'first scan parsed by the worker thread');
    expect(used).toMatchObject({ files: 86, readInPlace: 3 }); // 40 * 2 + 6; anchors, .nan, broken YAML
    expect(msgs(inPlace.lines)).not.toContain('first scan parsed by the worker thread');

    expect(worker.state.pods.size).toBe(201);
    expect(worker.state.pods.get('ns3/p1')?.metadata.labels).toEqual({ app: 'a1' });
    expect(worker.state.namespaces.get('anchored')?.metadata.labels).toEqual({ copy: 'anchored' });
    expect(worker.state.pods.get('ns1/nan')?.metadata.annotations).toEqual({ x: 'NaN' });
    expect(worker.state).toEqual(inPlace.state);
    expect(worker.state.problems.length).toBeGreaterThanOrEqual(3);
    expect(msgs(worker.lines).filter((m) => m !== 'first scan parsed by the worker thread')).toEqual(msgs(inPlace.lines));
    expect([worker.notifications, inPlace.notifications]).toEqual([1, 1]);
  });
});
