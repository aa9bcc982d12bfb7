// Where each object of the manifest source is defined: object key -> the
// files (and positions in them) that define it, kept up to date file by file,
// with the keys whose definitions changed since the last publish. A change to
// one file then costs that file's objects, not the cluster's (issue 13).
import type { ManifestObject } from './documents.js';
import { namespacedKey } from '../model/types.js';
import { compareText } from '../util/order.js';

type Kind = ManifestObject['kind'];

/** One definition: the object at position `i` of file `file`'s object list. */
export interface Definition {
  /** the file's key in the source (sorted order is the order of definitions) */
  file: string;
  i: number;
}

/** Positions are packed with the file's number into one number (no object
 *  per definition): i * FILE_IDS + file id. */
const FILE_IDS = 2 ** 20;

/** An object's key in the ClusterState map of its kind: "ns/name", or the name. */
export function mapKey(o: ManifestObject): string {
  return o.kind === 'Namespace' ? o.metadata.name : namespacedKey(o.metadata.namespace, o.metadata.name);
}

export class Definitions {
  /** Per kind, by map key: where it is defined. A single definition is held
   *  as one number: nearly every key has one, and an object or array each
   *  would cost ~50 bytes an object at 100,000 objects. */
  private readonly byKind = new Map<Kind, Map<string, number | number[]>>();
  private readonly dirty = new Map<Kind, Set<string>>();
  /** Kinds of which every key is dirty (the first objects of a kind, an overlay
   *  change): not listed key by key in `dirty` (100,000 Set entries at a sync). */
  private readonly allDirty = new Set<Kind>();
  private readonly fileIds = new Map<string, number>();
  private readonly fileNames: string[] = [];

  get(kind: Kind, key: string): Definition[] {
    const d = this.byKind.get(kind)?.get(key);
    if (d === undefined) return [];
    return (typeof d === 'number' ? [d] : d).map((n) => this.definition(n));
  }

  /** The one definition of a key; undefined when it has none or several. */
  only(kind: Kind, key: string): Definition | undefined {
    const d = this.byKind.get(kind)?.get(key);
    return typeof d === 'number' ? this.definition(d) : undefined;
  }

  private definition(n: number): Definition {
    return { file: this.fileNames[n % FILE_IDS]!, i: Math.floor(n / FILE_IDS) };
  }

  /** Replaces what file `file` defines: `prev` (its last object list, or none)
   *  by `next`. Keys whose objects differ (by identity, count or order) become
   *  dirty; so do keys for which `alsoDirty` holds (e.g. conflicts, whose
   *  problem names document positions that may have moved). True when some
   *  key's objects changed. */
  replace(file: string, prev: readonly ManifestObject[] | undefined, next: readonly ManifestObject[] | undefined, alsoDirty: (kind: Kind, key: string) => boolean): boolean {
    let id = this.fileIds.get(file);
    if (id === undefined) {
      id = this.fileNames.length;
      if (id >= FILE_IDS) throw new Error(`more than ${FILE_IDS} manifest files`);
      this.fileIds.set(file, id);
      this.fileNames.push(file);
    }
    if (prev === undefined || prev.length === 0) {
      // A new file (every file, at the first scan): its objects are all new here.
      (next ?? []).forEach((o, i) => {
        const key = mapKey(o);
        this.add(o.kind, key, i * FILE_IDS + id);
        if (!this.allDirty.has(o.kind)) this.markDirty(o.kind, key);
      });
      return next !== undefined && next.length > 0;
    }
    // kind/key -> the file's one object of that key, or null when it has several
    const before = new Map<string, ManifestObject | null>();
    for (const o of prev ?? []) {
      const k = `${o.kind}/${mapKey(o)}`;
      before.set(k, before.has(k) ? null : o);
    }
    const after = new Map<string, number[]>();
    (next ?? []).forEach((o, i) => {
      const k = `${o.kind}/${mapKey(o)}`;
      const at = after.get(k);
      if (at === undefined) after.set(k, [i]);
      else at.push(i);
    });
    let changed = false; // not counting alsoDirty: those are only recomputed
    for (const o of prev ?? []) {
      const key = mapKey(o);
      const k = `${o.kind}/${key}`;
      const was = before.get(k);
      if (was === undefined) continue; // seen already (several of one key)
      before.delete(k);
      const at = after.get(k);
      const same = was !== null && at !== undefined && at.length === 1 && next![at[0]!] === was;
      if (!same) changed = true;
      this.remove(o.kind, key, id);
      if (!same || alsoDirty(o.kind, key)) this.markDirty(o.kind, key);
      if (at !== undefined) {
        for (const i of at) this.add(o.kind, key, i * FILE_IDS + id);
        after.delete(k);
      }
    }
    for (const [, at] of after) {
      const o = next![at[0]!]!;
      // This string is the key in the index and in the published map (one
      // instance per object, not one each).
      const key = mapKey(o);
      for (const i of at) this.add(o.kind, key, i * FILE_IDS + id);
      this.markDirty(o.kind, key);
      changed = true;
    }
    return changed;
  }

  /** Marks every key of a kind dirty (its objects depend on the overlay, overlay.ts). */
  markKind(kind: Kind): void {
    this.allDirty.add(kind);
  }

  /** The dirty keys by kind (in no particular order, each once); clears them. */
  takeDirty(): Map<Kind, string[]> {
    const out = new Map<Kind, string[]>();
    for (const [kind, keys] of this.dirty) out.set(kind, [...keys]);
    for (const kind of this.allDirty) {
      const index = this.byKind.get(kind) ?? new Map<string, unknown>();
      const gone = [...(this.dirty.get(kind) ?? [])].filter((k) => !index.has(k));
      out.set(kind, [...index.keys(), ...gone]);
    }
    this.dirty.clear();
    this.allDirty.clear();
    return out;
  }

  private markDirty(kind: Kind, key: string): void {
    let d = this.dirty.get(kind);
    if (d === undefined) this.dirty.set(kind, (d = new Set()));
    d.add(key);
  }

  private remove(kind: Kind, key: string, id: number): void {
    const m = this.byKind.get(kind);
    const d = m?.get(key);
    if (m === undefined || d === undefined) return;
    if (typeof d === 'number') {
      if (d % FILE_IDS === id) m.delete(key);
      return;
    }
    const rest = d.filter((n) => n % FILE_IDS !== id);
    if (rest.length === 0) m.delete(key);
    else m.set(key, rest.length === 1 ? rest[0]! : rest);
  }

  private add(kind: Kind, key: string, def: number): void {
    let m = this.byKind.get(kind);
    if (m === undefined) {
      this.byKind.set(kind, (m = new Map()));
      this.allDirty.add(kind);
    }
    const d = m.get(key);
    if (d === undefined) {
      m.set(key, def);
      return;
    }
    // In file order (then position), as a scan of the sorted files lists them.
    const name = (n: number): string => this.fileNames[n % FILE_IDS]!;
    const list = [...(typeof d === 'number' ? [d] : d), def];
    list.sort((a, b) => compareText(name(a), name(b)) || a - b);
    m.set(key, list);
  }
}

/**
 * `prev` with `changes` applied (key -> new value, undefined to delete), in
 * sorted key order like `prev`; `prev` itself when nothing differs by
 * identity. Never mutates `prev` (it belongs to a published snapshot). O(size)
 * for the copy, with no sort of the unchanged keys.
 */
export function updatedMap<V>(prev: ReadonlyMap<string, V>, changes: ReadonlyMap<string, V | undefined>): Map<string, V> {
  let differs = false;
  let reshape = false; // keys added or removed
  for (const [k, v] of changes) {
    const had = prev.has(k);
    if (v === undefined ? had : !had) reshape = differs = true;
    else if (v !== undefined && prev.get(k) !== v) differs = true;
  }
  if (!differs) return prev as Map<string, V>;
  if (!reshape) {
    // Setting an existing key keeps its place: the order stays sorted.
    const out = new Map(prev);
    for (const [k, v] of changes) out.set(k, v!);
    return out;
  }
  const added = [...changes].filter(([k, v]) => v !== undefined && !prev.has(k)).sort(([a], [b]) => compareText(a, b));
  const out = new Map<string, V>();
  let j = 0;
  for (const [k, v] of prev) {
    while (j < added.length && added[j]![0] < k) {
      out.set(added[j]![0], added[j]![1]!);
      j++;
    }
    if (changes.has(k)) {
      const c = changes.get(k);
      if (c !== undefined) out.set(k, c);
    } else out.set(k, v);
  }
  for (; j < added.length; j++) out.set(added[j]![0], added[j]![1]!);
  return out;
}

