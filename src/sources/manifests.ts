// The local-manifest source: a directory of ordinary Kubernetes YAML (what one
// would `kubectl apply -R -f`), plus the lab file that says where pods run and
// which addresses they got. Both are watched; a burst of file events becomes
// one re-read and at most one change notification.
//
// Safety rules (fail closed):
// - A file that becomes unreadable or partly unparsable keeps its last good
//   content for the objects that are no longer readable, until it is fixed or
//   deleted. Dropping them would be the open choice: a Namespace that vanishes
//   takes its isolation label with it, and its pods would land in the default
//   network. Deleting a file is deliberate and removes its objects.
// - A Namespace document that cannot be used, with no last good content,
//   withholds that namespace: no implicit (unlabelled, open) namespace is made
//   for it, so the compile step quarantines its pods until it is fixed.
// - One object defined twice with different content is not used at all (the
//   namespace is withheld as above; a withheld pod simply has no endpoint).
import { watch, type FSWatcher } from 'chokidar';
import { existsSync, statSync, watch as watchDir, type FSWatcher as DirWatcher } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { canonicalCidr, canonicalIp, dottedQuad } from '../model/ip.js';
import type { LabClusterFile } from '../model/labfile.js';
import { isDnsLabel, isDnsSubdomain } from '../model/placement.js';
import type {
  ClusterState,
  NamespaceObject,
  NodeInfo,
  PodObject,
  ServiceObject,
  SourceProblem,
} from '../model/types.js';
import { objectKey, parseDocuments, parseManifests, type ManifestObject } from './documents.js';
import { WORKER_MARK, textDigest, type ParseReply, type ParseRequest, type ParsedFile } from './manifest-worker.js';
import { changedObjects, sameValue, STATE_MAPS } from './changes.js';
import { Definitions, updatedMap } from './definitions.js';
import { emptyClusterState, type StateListener, type StateSource } from './source.js';
import { stableJson } from '../util/json.js';
import { compareText } from '../util/order.js';

export interface ManifestSourceOptions {
  /** Directory of manifests, read recursively (*.yaml, *.yml; names starting
   *  with "." are skipped, e.g. editor files and ConfigMap "..data" links).
   *  Same as a one-element `dirs`; both may be given. */
  dir?: string;
  /** Several manifest directories, read as one (e.g. the user's manifests and
   *  the lab's built-in objects). An object defined in two of them with
   *  different content is not used, as within one directory. */
  dirs?: string[];
  /** LabClusterFile JSON. Without it pods have no addresses and there are no nodes. */
  labFile?: string;
  logger: Logger;
  /** Coalescing window for file events (default 2 ms: the events of one
   *  write arrive together; longer only adds latency, and the agent coalesces
   *  its reconciles anyway). */
  debounceMs?: number;
  /** Full re-scan period, in case the file watcher misses an event (default
   *  30 s; 0 turns it off). Unchanged content causes no notification. */
  resyncMs?: number;
  /** The first scan is read and parsed on a worker thread when its files
   *  hold about this many bytes or more (default 8 MiB, a cluster of ~25,000
   *  pods; 0: always; Infinity: never). */
  parseWorkerMinBytes?: number;
}

/** Namespaces that exist in every cluster. */
const BUILTIN_NAMESPACES = ['default', 'kube-system'];

interface FileEntry {
  /** Digest of the text last parsed; a re-scan of unchanged text is skipped
   *  (no re-logging). A digest, not the text: the texts of a large cluster
   *  would be held twice (as text and as objects). */
  digest?: string;
  objects: FileObjects;
  brokenNamespaces: string[];
  problems: SourceProblem[];
}

/**
 * The objects of one file and where each came from: a document number of the
 * file (source `<file>#<n>`), or the source text itself when it is not that
 * (a List item). Parallel arrays, not a {source, object} pair per object: the
 * pair and its source text cost ~100 bytes a pod, 10 MB at 100,000 pods.
 */
interface FileObjects {
  file: string;
  objects: ManifestObject[];
  sources: (number | string)[];
}

function packObjects(file: string, list: readonly { source: string; object: ManifestObject }[]): FileObjects {
  const prefix = `${file}#`;
  const sources = list.map(({ source }) => {
    if (!source.startsWith(prefix)) return source;
    const rest = source.slice(prefix.length);
    const n = Number(rest);
    return Number.isInteger(n) && n > 0 && String(n) === rest ? n : source;
  });
  return { file, objects: list.map((o) => o.object), sources };
}

function sourceAt(f: FileObjects, i: number): string {
  const s = f.sources[i];
  return typeof s === 'number' ? `${f.file}#${s}` : (s ?? f.file);
}

function unpackObjects(f: FileObjects): { source: string; object: ManifestObject }[] {
  return f.objects.map((object, i) => ({ source: sourceAt(f, i), object }));
}

/** How many files are read at once during a scan. */
const READ_CONCURRENCY = 64;

/** Files per request to the parse worker (its replies are applied as they come). */
const PARSE_BATCH = 50;

interface ParseWorker {
  parse(files: ParseRequest['files']): Promise<ParsedFile[]>;
  stop(): Promise<void>;
}

const DEFAULT_DEBOUNCE_MS = 2;

/**
 * A file that is rewritten in place (open with O_TRUNC, then write) is empty
 * for a moment, and a short coalescing window can read it then. Emptiness is
 * a loss of content (its objects would vanish: the open choice), so a file
 * that turns empty is read again after this long before that is believed.
 */
const EMPTY_SETTLE_MS = 50;

/**
 * The watcher drops events: chokidar ignores a second event for a file within
 * 5 ms of the first, and a write whose mtime equals the last one (mtime has
 * jiffy granularity). A write that quick after another is therefore caught by
 * reading each changed file once more this long after its event (unchanged
 * text costs a read, no parse and no notification).
 */
const RECHECK_MS = 25;

/** A lab file without its per-object parts. */
export type LabSettings = Pick<LabClusterFile, 'version' | 'podCIDRs' | 'serviceCIDRs' | 'nodes'>;

export interface LabContent {
  /** the file's settings (its pods, Services and node ports are in the maps below, once) */
  raw: LabSettings;
  nodes: Map<string, NodeInfo>;
  pods: Map<string, { node: string; ips: string[] }>;
  /** "ns/name" -> canonical ClusterIPs the lab allocated */
  services: Map<string, string[]>;
  /** "ns/name" -> "port/PROTO" -> nodePort the lab allocated */
  nodePorts: Map<string, Map<string, number>>;
}

/** One manifest directory as given and resolved. */
interface ManifestDir {
  shown: string;
  abs: string;
}

/** Files are tracked as "<dir index>/<path relative to that dir>". */
function fileKey(dir: number, rel: string): string {
  return `${dir}/${rel}`;
}

export class ManifestSource implements StateSource {
  private readonly dirs: ManifestDir[];
  private readonly absLab: string | undefined;
  private readonly log: Logger;
  private readonly debounceMs: number;
  private readonly resyncMs: number;
  private readonly parseWorkerMinBytes: number;

  private readonly files = new Map<string, FileEntry>(); // by fileKey()
  private lab: LabContent | undefined;
  private labDigest: string | undefined; // of the last text read, to skip unchanged re-reads
  private labProblems: SourceProblem[] = [];

  private state: ClusterState = emptyClusterState();
  /** Some input (a file's objects or problems, the lab content) changed since
   *  the last publish. Replaces a fingerprint of the whole state: equal inputs
   *  give an equal state, and comparing per file costs a file, not the cluster. */
  private inputsChanged = true;
  /** Which files define each object, and the objects to recompute at the next publish. */
  private readonly definitions = new Definitions();
  /** Objects defined more than once with different content, by object key: their problem. */
  private readonly conflicts = new Map<string, SourceProblem>();
  /** The Namespaces the manifests declare and can be used (before withholding
   *  and implicit namespaces), as of the last publish. */
  private declared = new Map<string, NamespaceObject>();
  /** Pods per namespace in the last snapshot: the namespaces that exist implicitly. */
  private readonly podsPerNamespace = new Map<string, number>();
  private readonly noNodes = new Map<string, NodeInfo>();
  private readonly listeners = new Set<StateListener>();

  private readonly dirty = new Set<string>();
  /** Files seen empty after having content: key -> when first seen so. */
  private readonly turnedEmpty = new Map<string, number>();
  /** Files with a follow-up read pending (RECHECK_MS). */
  private readonly recheck = new Set<string>();
  private labDirty = false;
  private timer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private watchers: FSWatcher[] = [];
  private labWatcher: DirWatcher | undefined;
  /** Watcher setup, running after the first scan; stop() waits for it. */
  private watching: Promise<void> | undefined;
  private started = false;
  private stopped = false;

  constructor(private readonly opts: ManifestSourceOptions) {
    const shown = [...(opts.dirs ?? []), ...(opts.dir !== undefined ? [opts.dir] : [])];
    const seen = new Set<string>();
    this.dirs = [];
    for (const d of shown) {
      const abs = path.resolve(d);
      if (!seen.has(abs)) this.dirs.push({ shown: d, abs });
      seen.add(abs);
    }
    if (this.dirs.length === 0) throw new Error('manifest source: no manifest directory given');
    this.absLab = opts.labFile === undefined ? undefined : path.resolve(opts.labFile);
    this.log = opts.logger.child({ source: 'manifests' });
    this.debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.resyncMs = opts.resyncMs ?? 30_000;
    this.parseWorkerMinBytes = opts.parseWorkerMinBytes ?? 8 * 2 ** 20;
  }

  current(): ClusterState {
    return this.state;
  }

  /** The settings of the last good lab file (e.g. pod/service CIDRs). */
  labFile(): LabSettings | undefined {
    return this.lab?.raw;
  }

  onChange(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('manifest source already started');
    this.started = true;
    for (const d of this.dirs) {
      const st = await fs.stat(d.abs).catch((e: unknown) => {
        throw new Error(`manifest directory ${d.shown}: ${errText(e)}`);
      });
      if (!st.isDirectory()) throw new Error(`manifest directory ${d.shown} is not a directory`);
    }

    // Scan first, so that the first state is not held up by the watchers
    // (setting up a watch on 1,000 directories takes about a second); once
    // they are ready, a second scan catches any edit made in between. An edit
    // is seen late in that window, never missed.
    await this.enqueue(true);
    this.watching = this.startWatchers().catch((e: unknown) => this.log.error({ err: e }, 'cannot watch the manifests'));
    if (this.resyncMs > 0) {
      this.resyncTimer = setInterval(() => void this.enqueue(true), this.resyncMs);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.resyncTimer);
    await this.watching;
    const watchers = this.watchers;
    this.watchers = [];
    await Promise.all(watchers.map((w) => w.close()));
    this.labWatcher?.close();
    await this.chain;
    this.listeners.clear();
  }

  // ---- watching -------------------------------------------------------------

  private async startWatchers(): Promise<void> {
    for (let i = 0; i < this.dirs.length && !this.stopped; i++) this.watchers.push(await this.watchManifests(i));
    if (this.absLab !== undefined && !this.stopped) this.labWatcher = this.watchLab(this.absLab);
    // Through the coalescing window, like any burst of events.
    if (!this.stopped) {
      await this.markEverything();
      this.schedule();
    }
  }

  private async watchManifests(index: number): Promise<FSWatcher> {
    const absDir = this.dirs[index]!.abs;
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
      if (!isManifestPath(rel)) return;
      const key = fileKey(index, rel);
      this.markDirty(key);
      if (this.recheck.has(key)) return;
      this.recheck.add(key);
      setTimeout(() => {
        this.recheck.delete(key);
        this.markDirty(key);
      }, RECHECK_MS).unref();
    };
    w.on('add', touched).on('change', touched).on('unlink', touched);
    w.on('unlinkDir', (p) => {
      const prefix = fileKey(index, path.relative(absDir, p) + path.sep);
      for (const known of this.files.keys()) if (known.startsWith(prefix)) this.markDirty(known);
    });
    w.on('error', (e) => this.log.warn({ err: e }, 'manifest watcher error'));
    await new Promise<void>((resolve) => w.once('ready', resolve));
    return w;
  }

  /** The lab replaces its file by rename, again and again. chokidar follows
   *  the file's inode and misses some of those replacements, so the lab's
   *  directory is watched with fs.watch (inotify reports every entry it
   *  creates, renames into place, changes or removes, by name). */
  private watchLab(absLab: string): DirWatcher {
    const name = path.basename(absLab);
    const w = watchDir(path.dirname(absLab), { persistent: false }, (_event, file) => {
      if (file !== name) return;
      this.labDirty = true;
      this.schedule();
    });
    w.on('error', (e) => this.log.warn({ err: e }, 'lab file watcher error'));
    return w;
  }

  private markDirty(key: string): void {
    this.dirty.add(key);
    this.schedule();
  }

  /** One timer per burst, not reset by later events: a steady stream of
   *  events cannot postpone the update indefinitely. */
  private schedule(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.enqueue(false);
    }, this.debounceMs);
  }

  /** Updates run one after another, never interleaved. */
  private enqueue(fullScan: boolean): Promise<void> {
    this.chain = this.chain
      .then(async () => {
        if (this.stopped) return;
        if (fullScan) await this.markEverything();
        await this.update();
      })
      .catch((e: unknown) => this.log.error({ err: e }, 'manifest update failed'));
    return this.chain;
  }

  private async markEverything(): Promise<void> {
    for (let i = 0; i < this.dirs.length; i++) {
      for (const rel of await listManifests(this.dirs[i]!.abs)) this.dirty.add(fileKey(i, rel));
    }
    for (const key of this.files.keys()) this.dirty.add(key); // to notice deletions
    if (this.absLab !== undefined) this.labDirty = true;
  }

  private async update(): Promise<void> {
    const keys = [...this.dirty].sort();
    this.dirty.clear();
    const lab = this.labDirty;
    this.labDirty = false;
    const worker = this.files.size === 0 && this.estimatedBytes(keys) >= this.parseWorkerMinBytes ? this.startParseWorker() : undefined;
    if (worker !== undefined) {
      // The first scan of a large tree: read and parsed on a worker thread,
      // applied here in order as its batches come back; the lab file is
      // read meanwhile.
      const batches: Promise<ParsedFile[]>[] = [];
      for (let i = 0; i < keys.length; i += PARSE_BATCH) batches.push(worker.parse(keys.slice(i, i + PARSE_BATCH).map((key) => ({ key, abs: this.absPath(key) ?? '' }))));
      try {
        if (lab) await this.readLab();
        let inPlace = 0;
        for (const batch of batches) {
          for (const f of await batch) {
            if ('text' in f) inPlace++;
            this.applyManifest(f.key, 'error' in f ? { error: Object.assign(new Error(f.error.message), f.error) } : f);
          }
        }
        this.log.debug({ files: keys.length, readInPlace: inPlace }, 'first scan parsed by the worker thread');
      } finally {
        await worker.stop();
      }
    } else {
      // Read in parallel (a scan reads thousands of files), apply in order.
      for (let i = 0; i < keys.length; i += READ_CONCURRENCY) {
        const batch = keys.slice(i, i + READ_CONCURRENCY);
        const texts = await Promise.all(batch.map((key) => this.readText(key)));
        batch.forEach((key, j) => this.applyManifest(key, texts[j]!));
      }
      if (lab) await this.readLab();
    }
    this.publish();
  }

  // ---- manifests ------------------------------------------------------------

  /** The file a key names; undefined for a directory index that does not exist. */
  private absPath(key: string): string | undefined {
    const slash = key.indexOf('/');
    const dir = this.dirs[Number(key.slice(0, slash))];
    return dir === undefined ? undefined : path.join(dir.abs, key.slice(slash + 1));
  }

  private async readText(key: string): Promise<{ text: string } | { error: unknown }> {
    const abs = this.absPath(key);
    if (abs === undefined) return { error: new Error('unknown manifest directory') };
    try {
      return { text: await fs.readFile(abs, 'utf8') };
    } catch (e) {
      return { error: e };
    }
  }

  /** The size of the files `keys` name, from a sample of 16 (a worker is
   *  worth its start, ~0.1 s of CPU, only for megabytes of YAML). */
  private estimatedBytes(keys: readonly string[]): number {
    if (keys.length === 0) return 0;
    const sample = Math.min(16, keys.length);
    let bytes = 0;
    for (let i = 0; i < sample; i++) {
      const abs = this.absPath(keys[Math.floor((i * keys.length) / sample)]!);
      bytes += abs === undefined ? 0 : (statSync(abs, { throwIfNoEntry: false })?.size ?? 0);
    }
    return (bytes / sample) * keys.length;
  }

  /** A worker thread reading and parsing files (manifest-worker.ts); undefined when this build has none (tests run the TypeScript). */
  private startParseWorker(): ParseWorker | undefined {
    const file = new URL('./manifest-worker.js', import.meta.url);
    if (!import.meta.url.endsWith('.js') || !existsSync(file)) return undefined;
    let w: Worker;
    try {
      w = new Worker(file, { workerData: WORKER_MARK });
    } catch (e) {
      this.log.warn({ err: errText(e) }, 'no parse worker; reading the manifests on this thread');
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

  private applyManifest(key: string, read: { text: string } | { error: unknown } | { digest: string; empty: boolean; json: string }): void {
    const slash = key.indexOf('/');
    const dir = this.dirs[Number(key.slice(0, slash))];
    const rel = key.slice(slash + 1);
    if (dir === undefined) return;
    const file = path.join(dir.shown, rel);
    const prev = this.files.get(key);
    if ('error' in read) {
      const e = read.error;
      if (isGone(e)) {
        if (prev !== undefined) {
          this.files.delete(key);
          this.definitions.replace(key, prev.objects.objects, undefined, () => false);
          this.log.info({ file }, 'manifest file removed');
          this.inputsChanged = true;
        }
        return;
      }
      const problem = { source: file, message: `cannot read: ${errText(e)}; keeping its last good content` };
      this.log.warn(problem, 'manifest file unreadable');
      this.setEntry(key, prev, {
        objects: prev?.objects ?? packObjects(file, []),
        brokenNamespaces: prev?.brokenNamespaces ?? [],
        problems: [problem],
      });
      return;
    }

    const digest = 'json' in read ? read.digest : textDigest(read.text);
    if (prev?.digest === digest) return;
    const empty = 'json' in read ? read.empty : read.text === '';
    if (empty && prev?.digest !== undefined && prev.digest !== EMPTY_DIGEST) {
      const since = this.turnedEmpty.get(key);
      if (since === undefined || Date.now() - since < EMPTY_SETTLE_MS) {
        if (since === undefined) this.turnedEmpty.set(key, Date.now());
        setTimeout(() => this.markDirty(key), EMPTY_SETTLE_MS).unref();
        return;
      }
    }
    this.turnedEmpty.delete(key);
    const parsed =
      'json' in read ? parseDocuments((JSON.parse(read.json) as unknown[]).map((value) => ({ value })), file) : parseManifests(read.text, file);
    for (const i of parsed.ignored) {
      this.log.info({ source: i.source, apiVersion: i.apiVersion, kind: i.kind }, 'ignoring object of unsupported kind');
    }
    for (const p of parsed.problems) this.log.warn(p, 'manifest problem');

    const objects = [...parsed.objects];
    const problems = [...parsed.problems];
    if (parsed.lostContent && prev !== undefined) {
      const present = new Set(objects.map((o) => objectKey(o.object)));
      const kept = unpackObjects(prev.objects).filter((o) => !present.has(objectKey(o.object)));
      if (kept.length > 0) {
        objects.push(...kept);
        const names = kept.map((o) => objectKey(o.object)).join(', ');
        problems.push({ source: file, message: `keeping the last good version of ${names} until the file is fixed` });
      }
    }
    const declared = new Set(objects.filter((o) => o.object.kind === 'Namespace').map((o) => o.object.metadata.name));
    const brokenNamespaces = parsed.brokenNamespaces.filter((n) => !declared.has(n));
    this.setEntry(key, prev, { digest, objects: packObjects(file, objects), brokenNamespaces, problems });
  }

  /** Stores a file's entry; notes an input change unless it contributes
   *  exactly what the previous entry did (e.g. only a comment changed). An
   *  object equal to the one the file defined before is that object again, so
   *  only the objects that changed are recomputed (and keep their identity
   *  otherwise, which is what the change sets compare first). */
  private setEntry(key: string, prev: FileEntry | undefined, next: FileEntry): void {
    if (prev !== undefined) {
      const before = new Map<string, ManifestObject>();
      for (const o of prev.objects.objects) before.set(objectKey(o), o);
      const objects = next.objects.objects;
      for (let i = 0; i < objects.length; i++) {
        const was = before.get(objectKey(objects[i]!));
        if (was !== undefined && was !== objects[i] && sameValue(was, objects[i])) objects[i] = was;
      }
    }
    this.files.set(key, next);
    const changed = this.definitions.replace(key, prev?.objects.objects, next.objects.objects, (kind, k) => this.conflicts.has(`${kind}/${k}`));
    if (
      changed ||
      prev === undefined ||
      !sameValue(prev.objects.sources, next.objects.sources) ||
      !sameValue(prev.brokenNamespaces, next.brokenNamespaces) ||
      !sameValue(prev.problems, next.problems)
    ) {
      this.inputsChanged = true;
    }
  }

  /** The lab file's content changed: every Pod and Service takes its part of it again. */
  private labChanged(): void {
    this.inputsChanged = true;
    this.definitions.markKind('Pod');
    this.definitions.markKind('Service');
  }

  // ---- lab file -------------------------------------------------------------

  private async readLab(): Promise<void> {
    if (this.absLab === undefined || this.opts.labFile === undefined) return;
    const file = this.opts.labFile;
    let text: string;
    try {
      text = await fs.readFile(this.absLab, 'utf8');
    } catch (e) {
      if (isGone(e)) {
        // No lab file: no pod has an address yet (or the lab went away).
        if (this.lab !== undefined || this.labProblems.length > 0) this.labChanged();
        this.lab = undefined;
        this.labDigest = undefined;
        this.labProblems = [];
        return;
      }
      this.labDigest = undefined;
      this.labProblems = [{ source: file, message: `cannot read: ${errText(e)}; keeping its last good content` }];
      this.inputsChanged = true; // the problems only: the content is kept
      return;
    }
    const digest = textDigest(text);
    if (digest === this.labDigest) return;
    this.labDigest = digest;
    // A new text is taken as new content (the lab rewrites the file only
    // when something in it changed).
    this.labChanged();
    const result = parseLabFile(text, file);
    for (const p of result.problems) this.log.warn(p, 'lab file problem');
    if (result.content === undefined) {
      // Keep the last good addresses: forgetting them would remove endpoints
      // the datapath knows (traffic from them would then be dropped as
      // unknown, which is closed but needlessly disruptive for a bad write).
      this.labProblems = [
        ...result.problems,
        ...(this.lab !== undefined ? [{ source: file, message: 'keeping its last good content' }] : []),
      ];
      return;
    }
    this.lab = result.content;
    this.labProblems = result.problems;
  }

  // ---- assembling the snapshot ---------------------------------------------

  private publish(): void {
    if (!this.inputsChanged || this.stopped) return;
    this.inputsChanged = false;
    const prev = this.state;

    // Only the objects whose definitions changed (or that take a changed lab
    // file's part) are resolved again; each kind's map is the previous
    // snapshot's own unless one of its objects changed (issue 13: a change to
    // one file costs that file, not 100,000 pods).
    const changes = new Map<string, Map<string, unknown>>(); // state field -> key -> value (undefined: gone)
    for (const [kind, keys] of this.definitions.takeDirty()) {
      const m = new Map<string, unknown>();
      for (const key of keys) m.set(key, this.resolve(kind, key));
      changes.set(kind === 'Namespace' ? 'declared' : STATE_MAPS[kind], m);
    }
    const changed = <V>(field: string, before: Map<string, V>): Map<string, V> => {
      const c = changes.get(field) as Map<string, V | undefined> | undefined;
      return c === undefined ? before : updatedMap(before, c);
    };
    const pods = changed('pods', prev.pods);
    if (pods !== prev.pods) {
      for (const [k, v] of changes.get('pods')!) {
        const ns = k.slice(0, k.indexOf('/'));
        const delta = (v !== undefined ? 1 : 0) - (prev.pods.has(k) ? 1 : 0);
        if (delta !== 0) {
          const n = (this.podsPerNamespace.get(ns) ?? 0) + delta;
          if (n > 0) this.podsPerNamespace.set(ns, n);
          else this.podsPerNamespace.delete(ns);
        }
      }
    }
    this.declared = changed('declared', this.declared);

    const problems: SourceProblem[] = [];
    const withheld = new Set<string>(); // namespaces
    for (const key of [...this.files.keys()].sort()) {
      const entry = this.files.get(key)!;
      problems.push(...entry.problems);
      for (const n of entry.brokenNamespaces) withheld.add(n);
    }
    for (const key of [...this.conflicts.keys()].sort()) {
      problems.push(this.conflicts.get(key)!);
      if (key.startsWith('Namespace/')) withheld.add(key.slice('Namespace/'.length));
    }
    for (const name of [...withheld].sort()) {
      problems.push({
        source: `Namespace ${name}`,
        message: 'withheld: a definition of it cannot be used, so its pods are quarantined until it is fixed',
      });
    }

    const state: ClusterState = {
      namespaces: this.namespaces(prev.namespaces, withheld),
      pods,
      nodes: this.lab?.nodes ?? this.noNodes,
      virtualNetworks: changed('virtualNetworks', prev.virtualNetworks),
      routers: changed('routers', prev.routers),
      services: changed('services', prev.services),
      endpointSlices: changed('endpointSlices', prev.endpointSlices),
      problems: [...problems, ...this.labProblems],
    };
    const changeSet = changedObjects(prev, state);
    this.state = state;
    this.log.info(
      {
        namespaces: state.namespaces.size,
        pods: pods.size,
        nodes: state.nodes.size,
        virtualNetworks: state.virtualNetworks.size,
        routers: state.routers.size,
        services: state.services.size,
        problems: state.problems.length,
      },
      'cluster state changed',
    );
    for (const listener of this.listeners) {
      try {
        listener(state, changeSet);
      } catch (e) {
        this.log.error({ err: e }, 'state listener failed');
      }
    }
  }

  /** The object a key stands for now (undefined: none usable), noting or
   *  clearing its conflict. */
  private resolve(kind: ManifestObject['kind'], key: string): ManifestObject | undefined {
    const objectOf = (d: { file: string; i: number }): ManifestObject => this.files.get(d.file)!.objects.objects[d.i]!;
    const only = this.definitions.only(kind, key);
    if (only !== undefined && this.conflicts.size === 0) return this.withLab(objectOf(only));
    const defs = this.definitions.get(kind, key);
    const first = defs[0];
    const ref = `${kind}/${key}`;
    this.conflicts.delete(ref);
    if (first === undefined) return undefined;
    if (defs.length > 1 && new Set(defs.map((d) => stableJson(objectOf(d)))).size > 1) {
      this.conflicts.set(ref, {
        source: defs.map((d) => sourceAt(this.files.get(d.file)!.objects, d.i)).join(', '),
        message: `${ref} is defined ${defs.length} times with different content; none of them is used`,
      });
      return undefined;
    }
    return this.withLab(objectOf(first));
  }

  /** A Pod or Service as the lab completes it (addresses, node, ClusterIPs, node ports). */
  private withLab(o: ManifestObject): ManifestObject {
    if (o.kind === 'Pod') return this.withLabInfo(o, `${o.metadata.namespace}/${o.metadata.name}`);
    if (o.kind === 'Service') return this.withLabNodePorts(this.withLabClusterIPs(o));
    return o;
  }

  /** The declared Namespaces, less the withheld ones, plus the implicit ones:
   *  the built-in namespaces and those of pods whose namespace is not declared
   *  exist without labels (kubectl would refuse the pods; the lab is lenient).
   *  Sorted; `before` itself when nothing in it changed. */
  private namespaces(before: Map<string, NamespaceObject>, withheld: ReadonlySet<string>): Map<string, NamespaceObject> {
    const out = new Map<string, NamespaceObject>();
    for (const [name, ns] of this.declared) if (!withheld.has(name)) out.set(name, ns);
    for (const name of [...BUILTIN_NAMESPACES, ...this.podsPerNamespace.keys()]) {
      if (out.has(name) || withheld.has(name)) continue;
      const was = before.get(name);
      const implicit: NamespaceObject = { kind: 'Namespace', metadata: { name, labels: {}, annotations: {} } };
      out.set(name, was !== undefined && sameValue(was, implicit) ? was : implicit);
    }
    const sorted = sortedMap(out);
    if (sorted.size === before.size) {
      const it = before.entries();
      let same = true;
      for (const [k, v] of sorted) {
        const x = it.next().value;
        if (x === undefined || x[0] !== k || x[1] !== v) {
          same = false;
          break;
        }
      }
      if (same) return before;
    }
    return sorted;
  }

  /** Where the lab runs the pod and its addresses; without a lab entry the
   *  pod has not started: no addresses, node as the manifest says. */
  private withLabInfo(pod: PodObject, key: string): PodObject {
    const entry = this.lab?.pods.get(key);
    if (entry === undefined) return pod;
    // The same parsed pod with the same lab entry as in the last snapshot:
    // that pod object again (no copy per publish; an unchanged pod keeps its
    // identity, which is what the change sets compare first).
    const prev = this.state.pods.get(key);
    if (prev !== undefined && prev.metadata === pod.metadata && prev.status.podIPs === entry.ips && prev.spec.nodeName === entry.node && prev.spec.ports === pod.spec.ports && prev.spec.hostNetwork === pod.spec.hostNetwork) {
      return prev;
    }
    // Written out, not spread: `{ ...spec, nodeName }` gives every copy a
    // hidden class of its own in V8 (~250 bytes per pod). The manifest's spec
    // when it names the same node (one object less per pod).
    const { hostNetwork, ports } = pod.spec;
    const spec = pod.spec.nodeName === entry.node ? pod.spec : { nodeName: entry.node, hostNetwork, ports };
    return { kind: 'Pod', metadata: pod.metadata, spec, status: { podIPs: entry.ips } };
  }

  /** A Service whose manifest has no ClusterIP gets the one the lab's
   *  "apiserver" allocated (the lab file's `services`), as a real API server
   *  would fill spec.clusterIPs. Headless and ExternalName Services have none. */
  private withLabClusterIPs(svc: ServiceObject): ServiceObject {
    if (svc.spec.clusterIPs.length > 0 || svc.spec.headless || svc.spec.type === 'ExternalName') return svc;
    const ips = this.lab?.services.get(`${svc.metadata.namespace}/${svc.metadata.name}`);
    if (ips === undefined || ips.length === 0) return svc;
    return { ...svc, spec: { ...svc.spec, clusterIPs: [...ips] } };
  }

  /** Ports of a NodePort or LoadBalancer Service without a nodePort in the
   *  manifest get the one the lab allocated (the lab file's `nodePorts`), as
   *  a real API server fills spec.ports[].nodePort. */
  private withLabNodePorts(svc: ServiceObject): ServiceObject {
    if (svc.spec.type !== 'NodePort' && svc.spec.type !== 'LoadBalancer') return svc;
    const allocated = this.lab?.nodePorts.get(`${svc.metadata.namespace}/${svc.metadata.name}`);
    if (allocated === undefined || svc.spec.ports.every((p) => p.nodePort !== undefined)) return svc;
    const ports = svc.spec.ports.map((p) => {
      const n = p.nodePort ?? allocated.get(`${p.port}/${p.protocol}`);
      return n === undefined ? p : { ...p, nodePort: n };
    });
    return { ...svc, spec: { ...svc.spec, ports } };
  }
}

type LabParse = { content?: LabContent; problems: SourceProblem[] };

/** The last parse: the same text parsed again (by another reader of the same
 *  file) costs nothing; with 100k pods a parse costs ~0.3 s. Callers treat
 *  the result as read-only. */
let lastLabParse: { file: string; digest: string; result: LabParse } | undefined;

/** Validate a lab file. `content` is undefined when the file as a whole cannot
 *  be used; single bad entries are skipped with a problem. */
export function parseLabFile(text: string, file: string): LabParse {
  const digest = textDigest(text);
  if (lastLabParse?.file === file && lastLabParse.digest === digest) return lastLabParse.result;
  const result = parseLabText(text, file);
  lastLabParse = { file, digest, result };
  return result;
}

/** A lab file's shape as a whole (what makes it unusable), without reading its entries. */
type LabWhole =
  | { problems: SourceProblem[] }
  | {
      nodes: unknown[];
      pods: Record<string, unknown>;
      services: Record<string, unknown> | undefined;
      nodePorts: Record<string, unknown> | undefined;
      podCidrs: string[];
      serviceCidrs: string[];
    };

function labWhole(text: string, file: string): LabWhole {
  const fail = (message: string): { problems: SourceProblem[] } => ({ problems: [{ source: file, message }] });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return fail(`not JSON: ${errText(e)}`);
  }
  if (!isRecord(raw)) return fail('not a JSON object');
  if (raw.version !== 1) return fail(`version ${JSON.stringify(raw.version)} is not supported (expected 1)`);
  const { nodes, pods, podCIDRs, serviceCIDRs, services, nodePorts } = raw;
  if (!Array.isArray(nodes)) return fail('"nodes" must be a list');
  if (!isRecord(pods)) return fail('"pods" must be an object');
  if (services !== undefined && !isRecord(services)) return fail('"services" must be an object');
  if (nodePorts !== undefined && !isRecord(nodePorts)) return fail('"nodePorts" must be an object');
  const podCidrs = cidrList(podCIDRs);
  const serviceCidrs = cidrList(serviceCIDRs);
  if (podCidrs === undefined) return fail('"podCIDRs" must be a list of CIDRs');
  if (serviceCidrs === undefined) return fail('"serviceCIDRs" must be a list of CIDRs');
  // (checked above: an object or absent)
  return { nodes, pods, services: services as Record<string, unknown> | undefined, nodePorts: nodePorts as Record<string, unknown> | undefined, podCidrs, serviceCidrs };
}

/** A lab file's CIDRs, or why the file cannot be used (the problems
 *  parseLabFile reports then), without reading its pods: the agent's
 *  configuration reads it before anything starts, and the source reads the
 *  whole file later, while the BPF objects load and the manifests parse. */
export function labFileCidrs(text: string, file: string): { podCIDRs: string[]; serviceCIDRs: string[] } | { problems: SourceProblem[] } {
  const whole = labWhole(text, file);
  return 'problems' in whole ? whole : { podCIDRs: whole.podCidrs, serviceCIDRs: whole.serviceCidrs };
}

function parseLabText(text: string, file: string): LabParse {
  const problems: SourceProblem[] = [];
  const whole = labWhole(text, file);
  if ('problems' in whole) return whole;
  const { nodes, pods, services, nodePorts, podCidrs, serviceCidrs } = whole;

  const ips = (list: unknown, where: string): string[] => {
    const out: string[] = []; // a pod has one or two: a list beats a Set
    for (const a of Array.isArray(list) ? list : []) {
      const c = typeof a === 'string' ? canonicalIp(a) : undefined;
      if (c === undefined) problems.push({ source: `${file} ${where}`, message: `${JSON.stringify(a)} is not an IP address; skipped` });
      else if (!out.includes(c)) out.push(c);
    }
    return out.slice(); // exact size: push leaves room for 16 more, kept per pod
  };
  // A lab has few namespaces and nodes and many pods: check each name once.
  const dnsLabel = memo(isDnsLabel);
  const dnsSubdomain = memo(isDnsSubdomain);

  const nodeMap = new Map<string, NodeInfo>();
  nodes.forEach((n: unknown, i: number) => {
    if (!isRecord(n) || typeof n.name !== 'string' || !isDnsSubdomain(n.name) || !Array.isArray(n.addresses)) {
      const message = 'expected {"name": <DNS name>, "addresses": [...]}; skipped';
      problems.push({ source: `${file} nodes[${i}]`, message });
      return;
    }
    if (nodeMap.has(n.name)) {
      problems.push({ source: `${file} nodes[${i}]`, message: `node ${n.name} listed twice; skipped` });
      return;
    }
    nodeMap.set(n.name, { name: n.name, addresses: ips(n.addresses, `node ${n.name}`) });
  });

  const podMap = new Map<string, { node: string; ips: string[] }>();
  // The common pod (one valid IPv4 address) without a list per pod: the
  // lists of 100,000 pods cost ~0.1 s of a sync, and so did splitting keys.
  const onlyIp = (list: unknown[]): string | undefined => {
    const a = list.length === 1 ? list[0] : undefined;
    return typeof a === 'string' && dottedQuad(a) !== undefined ? a : undefined;
  };
  const readPod = (key: string, v: unknown): void => {
    const slash = key.indexOf('/');
    const ns = slash < 0 ? '' : key.slice(0, slash);
    const name = slash < 0 ? '' : key.slice(slash + 1);
    if (slash < 0 || name.includes('/') || !dnsLabel(ns) || !isDnsLabel(name)) {
      problems.push({ source: `${file} pods`, message: `${JSON.stringify(key)} is not "<namespace>/<pod>"; skipped` });
      return;
    }
    if (!isRecord(v) || typeof v.node !== 'string' || !dnsSubdomain(v.node) || !Array.isArray(v.ips)) {
      problems.push({ source: `${file} pods[${key}]`, message: 'expected {"node": <DNS name>, "ips": [...]}; skipped' });
      return;
    }
    const one = onlyIp(v.ips);
    podMap.set(key, { node: v.node, ips: one !== undefined ? [one] : ips(v.ips, `pods[${key}]`) });
  };
  // In the file's order (looked up by key only; sorting 100,000 keys cost
  // ~0.1 s of a sync); their problems are reported in key order all the same.
  const podProblems: [string, SourceProblem][] = [];
  for (const key of Object.keys(pods)) {
    const had = problems.length;
    readPod(key, (pods as Record<string, unknown>)[key]);
    if (problems.length > had) for (const p of problems.splice(had)) podProblems.push([key, p]);
  }
  podProblems.sort(([a], [b]) => compareText(a, b));
  for (const [, p] of podProblems) problems.push(p);
  const serviceMap = new Map<string, string[]>();
  for (const key of Object.keys(services ?? {}).sort()) {
    const v = (services ?? {})[key];
    const [ns, name, ...rest] = key.split('/');
    if (ns === undefined || name === undefined || rest.length > 0 || !isDnsLabel(ns) || !isDnsLabel(name)) {
      problems.push({ source: `${file} services`, message: `${JSON.stringify(key)} is not "<namespace>/<service>"; skipped` });
      continue;
    }
    if (!isRecord(v) || !Array.isArray(v.clusterIPs)) {
      problems.push({ source: `${file} services[${key}]`, message: 'expected {"clusterIPs": [...]}; skipped' });
      continue;
    }
    serviceMap.set(key, ips(v.clusterIPs, `services[${key}]`));
  }
  const nodePortMap = new Map<string, Map<string, number>>();
  for (const key of Object.keys(nodePorts ?? {}).sort()) {
    const v = (nodePorts ?? {})[key];
    const [ns, name, ...rest] = key.split('/');
    if (ns === undefined || name === undefined || rest.length > 0 || !isDnsLabel(ns) || !isDnsLabel(name)) {
      problems.push({ source: `${file} nodePorts`, message: `${JSON.stringify(key)} is not "<namespace>/<service>"; skipped` });
      continue;
    }
    if (!isRecord(v)) {
      problems.push({ source: `${file} nodePorts[${key}]`, message: 'expected {"<port>/<PROTOCOL>": <nodePort>, ...}; skipped' });
      continue;
    }
    const slots = new Map<string, number>();
    for (const [slot, n] of Object.entries(v)) {
      if (!/^[0-9]{1,5}\/(TCP|UDP|SCTP)$/.test(slot) || typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
        problems.push({ source: `${file} nodePorts[${key}]`, message: `${JSON.stringify(slot)}: ${JSON.stringify(n)} is not "<port>/<PROTOCOL>": <port number>; skipped` });
        continue;
      }
      slots.set(slot, n);
    }
    nodePortMap.set(key, slots);
  }
  // The settings, in the file's own shape (for callers wanting the CIDRs);
  // the pods are held once, in podMap (a second copy here cost ~6 MB at 100k pods).
  const clean: LabSettings = { version: 1, podCIDRs: podCidrs, serviceCIDRs: serviceCidrs, nodes: [...nodeMap.values()] };
  return { content: { raw: clean, nodes: nodeMap, pods: podMap, services: serviceMap, nodePorts: nodePortMap }, problems };
}

// ---- helpers ---------------------------------------------------------------

/** Identifies a text for change detection (a collision would only delay
 *  noticing an edit until the next one). */
const EMPTY_DIGEST = textDigest('');

function memo(check: (s: string) => boolean): (s: string) => boolean {
  const known = new Map<string, boolean>();
  return (s) => {
    let ok = known.get(s);
    if (ok === undefined) known.set(s, (ok = check(s)));
    return ok;
  };
}

function cidrList(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: string[] = [];
  for (const c of v) {
    if (typeof c !== 'string' || canonicalCidr(c) === undefined) return undefined;
    out.push(c);
  }
  return out;
}

function isYamlName(p: string): boolean {
  return /\.ya?ml$/i.test(p);
}

function hasHiddenPart(rel: string): boolean {
  return rel.split(path.sep).some((part) => part.startsWith('.'));
}

function isManifestPath(rel: string): boolean {
  return rel !== '' && !rel.startsWith('..') && !hasHiddenPart(rel) && isYamlName(rel);
}

/** Manifest files under dir, as paths relative to it; follows symbolic links
 *  (as the watcher does) but visits each real directory once. */
async function listManifests(dir: string): Promise<string[]> {
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

function isGone(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sortedMap<V>(m: Map<string, V>): Map<string, V> {
  return new Map([...m].sort(([a], [b]) => compareText(a, b)));
}

