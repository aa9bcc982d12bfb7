// Where each object of the manifest source is defined: object key -> the
// files (and positions in them) that define it, kept up to date file by file,
// with the keys whose definitions changed since the last publish. A change to
// one file then costs that file's objects, not the cluster's (issue 13).
import type { ManifestObject } from './documents.js';
import { objectKey } from './documents.js';

/** One definition: the object at position `i` of a file's object list. */
export interface Definition {
  /** the file's key in the source (sorted order is the order of definitions) */
  file: string;
  objects: readonly ManifestObject[];
  i: number;
}

export class Definitions {
  /** A single definition is held as itself: nearly every key has one, and an
   *  array each would cost ~30 bytes an object at 100,000 objects. */
  private readonly byKey = new Map<string, Definition | Definition[]>();
  private readonly dirty = new Set<string>();

  get(key: string): readonly Definition[] {
    const d = this.byKey.get(key);
    return d === undefined ? [] : Array.isArray(d) ? d : [d];
  }

  /** Replaces what file `file` defines: `prev` (its last object list, or none)
   *  by `next`. Keys whose objects differ (by identity, count or order) become
   *  dirty; so do keys in `alsoDirty` (e.g. conflicts, whose problem names
   *  document positions that may have moved). True when some key's objects
   *  changed. */
  replace(file: string, prev: readonly ManifestObject[] | undefined, next: readonly ManifestObject[] | undefined, alsoDirty: (key: string) => boolean): boolean {
    const before = groupByKey(prev ?? []);
    const after = groupByKey(next ?? []);
    let changed = false; // not counting alsoDirty: those are only recomputed
    for (const [key, objs] of before) {
      const now = after.get(key);
      const same = now !== undefined && now.length === objs.length && now.every((o, j) => o === objs[j]);
      if (!same) changed = true;
      if (!same || alsoDirty(key)) this.dirty.add(key);
      this.remove(key, file);
    }
    if (next !== undefined) {
      for (const [key, positions] of indexesByKey(next)) {
        if (!before.has(key)) {
          this.dirty.add(key);
          changed = true;
        }
        for (const i of positions) this.add(key, { file, objects: next, i });
      }
    }
    return changed;
  }

  /** Marks every key of a kind dirty (its objects depend on the lab file). */
  markKind(kind: ManifestObject['kind']): void {
    const prefix = `${kind}/`;
    for (const key of this.byKey.keys()) if (key.startsWith(prefix)) this.dirty.add(key);
  }

  /** The dirty keys, sorted; clears them. */
  takeDirty(): string[] {
    const out = [...this.dirty].sort(cmp);
    this.dirty.clear();
    return out;
  }

  private remove(key: string, file: string): void {
    const d = this.byKey.get(key);
    if (d === undefined) return;
    if (!Array.isArray(d)) {
      if (d.file === file) this.byKey.delete(key);
      return;
    }
    const rest = d.filter((x) => x.file !== file);
    if (rest.length === 0) this.byKey.delete(key);
    else this.byKey.set(key, rest.length === 1 ? rest[0]! : rest);
  }

  private add(key: string, def: Definition): void {
    const d = this.byKey.get(key);
    if (d === undefined) {
      this.byKey.set(key, def);
      return;
    }
    // In file order (then position), as a scan of the sorted files lists them.
    const list = [...(Array.isArray(d) ? d : [d]), def];
    list.sort((a, b) => cmp(a.file, b.file) || a.i - b.i);
    this.byKey.set(key, list);
  }
}

function groupByKey(objects: readonly ManifestObject[]): Map<string, ManifestObject[]> {
  const out = new Map<string, ManifestObject[]>();
  for (const o of objects) {
    const k = objectKey(o);
    const list = out.get(k);
    if (list === undefined) out.set(k, [o]);
    else list.push(o);
  }
  return out;
}

function indexesByKey(objects: readonly ManifestObject[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  objects.forEach((o, i) => {
    const k = objectKey(o);
    const list = out.get(k);
    if (list === undefined) out.set(k, [i]);
    else list.push(i);
  });
  return out;
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
  const added = [...changes].filter(([k, v]) => v !== undefined && !prev.has(k)).sort(([a], [b]) => cmp(a, b));
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

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
