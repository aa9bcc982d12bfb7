// The local-manifest source: a directory of ordinary Kubernetes YAML (what one
// would `kubectl apply -R -f`), plus, optionally, an overlay's file that says
// what an API server would add (where pods run, their addresses; the lab
// writes one, overlay.ts). Both are watched; a burst of file events becomes
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
import type { FSWatcher } from 'chokidar';
import { statSync, type FSWatcher as DirWatcher } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type {
  ClusterState,
  NamespaceObject,
  NodeInfo,
  SourceProblem,
} from '../model/types.js';
import { objectKey, parseDocuments, parseManifests, type ManifestObject } from './documents.js';
import { textDigest, type ParsedFile } from './manifest-worker.js';
import { changedObjects, sameValue, STATE_MAPS } from './changes.js';
import { Definitions, updatedMap } from './definitions.js';
import { listManifests, startParseWorker, watchFileByName, watchManifestDir } from './manifest-files.js';
import { StateListeners } from './listeners.js';
import { emptyClusterState, type StateListener, type StateSource } from './source.js';
import type { ManifestOverlay } from './overlay.js';
import { stableJson } from '../util/json.js';
import { compareText } from '../util/order.js';
import { errText } from '../util/errors.js';

export interface ManifestSourceOptions {
  /** Directory of manifests, read recursively (*.yaml, *.yml; names starting
   *  with "." are skipped, e.g. editor files and ConfigMap "..data" links).
   *  Same as a one-element `dirs`; both may be given. */
  dir?: string;
  /** Several manifest directories, read as one (e.g. the user's manifests and
   *  the lab's built-in objects). An object defined in two of them with
   *  different content is not used, as within one directory. */
  dirs?: string[];
  /** What completes the manifests' objects the way an API server would
   *  (nodes, pod placement and addresses, allocated ClusterIPs). Without it
   *  pods have no addresses and there are no nodes. The lab gives one. */
  overlay?: ManifestOverlay;
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
  private readonly overlay: ManifestOverlay | undefined;
  private readonly absOverlay: string | undefined;
  private readonly log: Logger;
  private readonly debounceMs: number;
  private readonly resyncMs: number;
  private readonly parseWorkerMinBytes: number;

  private readonly files = new Map<string, FileEntry>(); // by fileKey()
  private overlayDigest: string | undefined; // of the last text read, to skip unchanged re-reads
  private overlayProblems: SourceProblem[] = [];

  private state: ClusterState = emptyClusterState();
  /** Some input (a file's objects or problems, the overlay's content) changed since
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
  private readonly listeners: StateListeners;

  private readonly dirty = new Set<string>();
  /** Files seen empty after having content: key -> when first seen so. */
  private readonly turnedEmpty = new Map<string, number>();
  /** Files with a follow-up read pending (RECHECK_MS). */
  private readonly recheck = new Set<string>();
  private overlayDirty = false;
  private timer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private watchers: FSWatcher[] = [];
  private overlayWatcher: DirWatcher | undefined;
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
    this.overlay = opts.overlay;
    this.absOverlay = opts.overlay === undefined ? undefined : path.resolve(opts.overlay.file);
    this.log = opts.logger.child({ source: 'manifests' });
    this.listeners = new StateListeners(this.log);
    this.debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.resyncMs = opts.resyncMs ?? 30_000;
    this.parseWorkerMinBytes = opts.parseWorkerMinBytes ?? 8 * 2 ** 20;
  }

  current(): ClusterState {
    return this.state;
  }

  onChange(listener: StateListener): () => void {
    return this.listeners.add(listener);
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
    this.overlayWatcher?.close();
    await this.chain;
    this.listeners.clear();
  }

  // ---- watching -------------------------------------------------------------

  private async startWatchers(): Promise<void> {
    for (let i = 0; i < this.dirs.length && !this.stopped; i++) this.watchers.push(await this.watchManifests(i));
    if (this.absOverlay !== undefined && !this.stopped) this.overlayWatcher = this.watchOverlay(this.absOverlay);
    // Through the coalescing window, like any burst of events.
    if (!this.stopped) {
      await this.markEverything();
      this.schedule();
    }
  }

  private async watchManifests(index: number): Promise<FSWatcher> {
    return watchManifestDir(
      this.dirs[index]!.abs,
      {
        touched: (rel) => {
          const key = fileKey(index, rel);
          this.markDirty(key);
          if (this.recheck.has(key)) return;
          this.recheck.add(key);
          setTimeout(() => {
            this.recheck.delete(key);
            this.markDirty(key);
          }, RECHECK_MS).unref();
        },
        dirGone: (rel) => {
          const prefix = fileKey(index, rel + path.sep);
          for (const known of this.files.keys()) if (known.startsWith(prefix)) this.markDirty(known);
        },
      },
      this.log,
    );
  }

  private watchOverlay(abs: string): DirWatcher {
    return watchFileByName(
      abs,
      () => {
        this.overlayDirty = true;
        this.schedule();
      },
      this.log,
    );
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
    if (this.absOverlay !== undefined) this.overlayDirty = true;
  }

  private async update(): Promise<void> {
    const keys = [...this.dirty].sort();
    this.dirty.clear();
    const overlay = this.overlayDirty;
    this.overlayDirty = false;
    const worker = this.files.size === 0 && this.estimatedBytes(keys) >= this.parseWorkerMinBytes ? startParseWorker(this.log) : undefined;
    if (worker !== undefined) {
      // The first scan of a large tree: read and parsed on a worker thread,
      // applied here in order as its batches come back; the overlay's file
      // is read meanwhile.
      const batches: Promise<ParsedFile[]>[] = [];
      for (let i = 0; i < keys.length; i += PARSE_BATCH) batches.push(worker.parse(keys.slice(i, i + PARSE_BATCH).map((key) => ({ key, abs: this.absPath(key) ?? '' }))));
      try {
        if (overlay) await this.readOverlay();
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
      if (overlay) await this.readOverlay();
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

  /** The overlay's content changed: every object of the kinds it completes is resolved again. */
  private overlayChanged(): void {
    this.inputsChanged = true;
    for (const kind of this.overlay?.kinds ?? []) this.definitions.markKind(kind);
  }

  // ---- the overlay's file ---------------------------------------------------

  private async readOverlay(): Promise<void> {
    if (this.overlay === undefined || this.absOverlay === undefined) return;
    const file = this.overlay.file;
    let text: string;
    try {
      text = await fs.readFile(this.absOverlay, 'utf8');
    } catch (e) {
      if (isGone(e)) {
        // No file: no content (e.g. no pod has an address yet, or the lab went away).
        if (this.overlayDigest !== undefined || this.overlayProblems.length > 0) this.overlayChanged();
        this.overlayDigest = undefined;
        this.overlayProblems = this.overlay.load(undefined);
        return;
      }
      this.overlayDigest = undefined;
      this.overlayProblems = [{ source: file, message: `cannot read: ${errText(e)}; keeping its last good content` }];
      this.inputsChanged = true; // the problems only: the content is kept
      return;
    }
    const digest = textDigest(text);
    if (digest === this.overlayDigest) return;
    this.overlayDigest = digest;
    // A new text is taken as new content (the writer rewrites the file only
    // when something in it changed). An unusable text leaves the overlay's
    // last good content in effect: forgetting addresses would remove
    // endpoints the datapath knows (closed, but needlessly disruptive for a
    // bad write); its problems say so.
    this.overlayChanged();
    this.overlayProblems = this.overlay.load(text);
    for (const p of this.overlayProblems) this.log.warn(p, 'overlay file problem');
  }

  // ---- assembling the snapshot ---------------------------------------------

  private publish(): void {
    if (!this.inputsChanged || this.stopped) return;
    this.inputsChanged = false;
    const prev = this.state;

    // Only the objects whose definitions changed (or that take a changed
    // overlay's part) are resolved again; each kind's map is the previous
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
      nodes: this.overlay?.nodes() ?? this.noNodes,
      virtualNetworks: changed('virtualNetworks', prev.virtualNetworks),
      routers: changed('routers', prev.routers),
      services: changed('services', prev.services),
      endpointSlices: changed('endpointSlices', prev.endpointSlices),
      attachmentDefinitions: changed('attachmentDefinitions', prev.attachmentDefinitions),
      networkPolicies: changed('networkPolicies', prev.networkPolicies),
      problems: [...problems, ...this.overlayProblems],
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
    this.listeners.notify(state, changeSet);
  }

  /** The object a key stands for now (undefined: none usable), noting or
   *  clearing its conflict. */
  private resolve(kind: ManifestObject['kind'], key: string): ManifestObject | undefined {
    const objectOf = (d: { file: string; i: number }): ManifestObject => this.files.get(d.file)!.objects.objects[d.i]!;
    const only = this.definitions.only(kind, key);
    if (only !== undefined && this.conflicts.size === 0) return this.completed(objectOf(only));
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
    return this.completed(objectOf(first));
  }

  /** An object as the overlay completes it (as it is, without one). */
  private completed(o: ManifestObject): ManifestObject {
    return this.overlay === undefined ? o : this.overlay.complete(o, (key) => this.state.pods.get(key));
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

}


// ---- helpers ---------------------------------------------------------------

/** Identifies a text for change detection (a collision would only delay
 *  noticing an edit until the next one). */
const EMPTY_DIGEST = textDigest('');







function isGone(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}


function sortedMap<V>(m: Map<string, V>): Map<string, V> {
  return new Map([...m].sort(([a], [b]) => compareText(a, b)));
}
