// Shared pieces of the local-manifest source tests: a fresh temporary
// directory per test, waiting for a notified state, and writing the lab's
// cluster file the way the lab does.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LabClusterFile } from '../../src/lab/cluster-file.js';
import type { ClusterState } from '../../src/model/types.js';
import type { StateSource } from '../../src/sources/source.js';

/** A new directory `${os.tmpdir()}/${prefix}XXXXXX`, after removing leftovers of interrupted runs. */
export async function freshTmpDir(prefix: string): Promise<string> {
  for (const e of await fs.readdir(os.tmpdir())) {
    if (e.startsWith(prefix)) await fs.rm(path.join(os.tmpdir(), e), { recursive: true, force: true });
  }
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Resolve with the first notified state satisfying `pred`; reject after timeoutMs. */
export function nextState(src: StateSource, pred: (s: ClusterState) => boolean, timeoutMs = 2000): Promise<ClusterState> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching change within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = src.onChange((s) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      off();
      resolve(s);
    });
  });
}

/** As the lab writes it: tmp file + rename, so a watcher never reads half a file. */
export async function writeLabFile(labPath: string, lab: LabClusterFile | string): Promise<void> {
  await fs.writeFile(`${labPath}.tmp`, typeof lab === 'string' ? lab : JSON.stringify(lab));
  await fs.rename(`${labPath}.tmp`, labPath);
}
