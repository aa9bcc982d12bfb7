// The manifest source's files: which ones a directory holds, the watchers
// that say which changed, and the worker thread that reads and parses a
// large first scan (manifest-worker.ts).
import { watch, type FSWatcher } from 'chokidar';
import { existsSync, watch as watchDir, type FSWatcher as DirWatcher } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { WORKER_MARK, type ParseReply, type ParseRequest, type ParsedFile } from './manifest-worker.js';
import { errText } from '../util/errors.js';

export interface ParseWorker {
  parse(files: ParseRequest['files']): Promise<ParsedFile[]>;
  stop(): Promise<void>;
}

/** A worker thread reading and parsing files (manifest-worker.ts); undefined when this build has none (tests run the TypeScript). */
export function startParseWorker(log: Logger): ParseWorker | undefined {
  const file = new URL('./manifest-worker.js', import.meta.url);
  if (!import.meta.url.endsWith('.js') || !existsSync(file)) return undefined;
  let w: Worker;
  try {
    w = new Worker(file, { workerData: WORKER_MARK });
  } catch (e) {
    log.warn({ err: errText(e) }, 'no parse worker; reading the manifests on this thread');
    return undefined;
  }
  const pending = new Map<number, { resolve: (files: ParsedFile[]) => void; reject: (e: unknown) => void }>();
  const failAll = (e: unknown): void => {
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  w.on('message', (reply: ParseReply) => {
    pending.get(reply.id)?.resolve(reply.files);
    pending.delete(reply.id);
  });
  w.on('error', failAll);
  w.on('exit', () => failAll(new Error('manifest parse worker exited')));
  let next = 0;
  return {
    parse: (files) =>
      new Promise<ParsedFile[]>((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        w.postMessage({ id, files } satisfies ParseRequest);
      }),
    stop: async () => {
      await w.terminate();
    },
  };
}

export function isYamlName(p: string): boolean {
  return /\.ya?ml$/i.test(p);
}

export function hasHiddenPart(rel: string): boolean {
  return rel.split(path.sep).some((part) => part.startsWith('.'));
}

export function isManifestPath(rel: string): boolean {
  return rel !== '' && !rel.startsWith('..') && !hasHiddenPart(rel) && isYamlName(rel);
}

/** Manifest files under dir, as paths relative to it; follows symbolic links
 *  (as the watcher does) but visits each real directory once. */
export async function listManifests(dir: string): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = async (rel: string): Promise<void> => {
    const abs = path.join(dir, rel);
    const real = await fs.realpath(abs).catch(() => undefined);
    if (real === undefined || seen.has(real)) return;
    seen.add(real);
    const entries = await fs.readdir(abs, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const childRel = path.join(rel, e.name);
      const st = e.isSymbolicLink() ? await fs.stat(path.join(dir, childRel)).catch(() => undefined) : e;
      if (st?.isDirectory()) await walk(childRel);
      else if (st?.isFile() && isManifestPath(childRel)) out.push(childRel);
    }
  };
  await walk('');
  return out.sort();
}


/** Watches a manifest directory (recursively, following links; hidden
 *  entries and non-YAML files ignored); resolves once the watcher is ready.
 *  `touched`: a manifest file (path relative to the directory) was added,
 *  changed or removed; `dirGone`: a directory was removed.
 *
 *  chokidar watches each file by inode and misses some of its replacements by
 *  rename (an editor's or a ConfigMap's atomic write, repeated within a
 *  second: 12 of 25 in a loop of the lab's tests), so every directory it
 *  watches is also watched by name with fs.watch (inotify names every entry
 *  renamed into place), as watchFileByName does for one file. A name seen
 *  twice costs one more read of unchanged text. */
export async function watchManifestDir(
  absDir: string,
  on: { touched(rel: string): void; dirGone(rel: string): void },
  log: Logger,
): Promise<FSWatcher> {
  const w = watch(absDir, {
    ignoreInitial: true,
    ignored: (p, stats) => {
      const rel = path.relative(absDir, p);
      if (rel === '') return false;
      if (hasHiddenPart(rel)) return true;
      return stats?.isFile() === true && !isYamlName(rel);
    },
  });
  const touched = (p: string): void => {
    const rel = path.relative(absDir, p);
    if (isManifestPath(rel)) on.touched(rel);
  };
  const byName = new Map<string, DirWatcher>();
  const watchNames = (dir: string): void => {
    if (byName.has(dir)) return;
    try {
      const d = watchDir(dir, { persistent: false }, (_event, file) => {
        if (typeof file === 'string') touched(path.join(dir, file));
      });
      d.on('error', () => unwatchNames(dir)); // the directory went away
      byName.set(dir, d);
    } catch {
      // gone before it could be watched: chokidar reports it
    }
  };
  const unwatchNames = (dir: string): void => {
    byName.get(dir)?.close();
    byName.delete(dir);
  };
  w.on('add', touched).on('change', touched).on('unlink', touched);
  w.on('addDir', watchNames);
  w.on('unlinkDir', (p) => {
    unwatchNames(p);
    on.dirGone(path.relative(absDir, p));
  });
  w.on('error', (e) => log.warn({ err: e }, 'manifest watcher error'));
  await new Promise<void>((resolve) => w.once('ready', resolve));
  for (const dir of Object.keys(w.getWatched())) if (dir === absDir || !path.relative(absDir, dir).startsWith('..')) watchNames(dir);
  const close = w.close.bind(w);
  w.close = async () => {
    for (const dir of [...byName.keys()]) unwatchNames(dir);
    return close();
  };
  return w;
}

/** Calls `changed` whenever the file is created, replaced, changed or
 *  removed. The lab replaces its file by rename, again and again; chokidar
 *  follows the file's inode and misses some of those replacements, so the
 *  directory is watched with fs.watch (inotify reports every entry it
 *  creates, renames into place, changes or removes, by name). */
export function watchFileByName(absFile: string, changed: () => void, log: Logger): DirWatcher {
  const name = path.basename(absFile);
  const w = watchDir(path.dirname(absFile), { persistent: false }, (_event, file) => {
    if (file === name) changed();
  });
  w.on('error', (e) => log.warn({ err: e }, 'file watcher error'));
  return w;
}
