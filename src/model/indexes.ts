// Small helpers for the incremental compile's indexes (multimaps and set comparisons).
import type { PodPlacement } from './types.js';

export function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (s === undefined) m.set(k, (s = new Set()));
  s.add(v);
}

/** Remove `v` under `k`; the key goes when nothing is left under it. */
export function removeFrom<K, V>(m: Map<K, Set<V> | Map<V, unknown>>, k: K, v: V): void {
  const s = m.get(k);
  if (s === undefined) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}

export function setOrDelete<V>(m: Map<string, V[]>, k: string, v: V[]): void {
  if (v.length > 0) m.set(k, v);
  else m.delete(k);
}

export function sameSet<T>(a: ReadonlySet<T>, b: ReadonlySet<T>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/** Elements in exactly one of `a` and `b`, into `out`. */
export function diffSets<T>(a: ReadonlySet<T>, b: ReadonlySet<T>, out: Set<T>): void {
  for (const x of a) if (!b.has(x)) out.add(x);
  for (const x of b) if (!a.has(x)) out.add(x);
}

/** Keys whose value differs (or that are in only one of `a` and `b`), into `out`. */
export function diffMaps<K, V>(a: ReadonlyMap<K, V>, b: ReadonlyMap<K, V>, out: Set<K>): void {
  for (const [k, v] of a) if (!b.has(k) || b.get(k) !== v) out.add(k);
  for (const k of b.keys()) if (!a.has(k)) out.add(k);
}

const NONE: readonly never[] = Object.freeze([]);

/**
 * Key -> a set of strings, holding a lone member as itself: most addresses
 * have one claimant, and a Set per address would cost ~150 bytes each at
 * 100,000 pods.
 */
export class Multimap<K> {
  private readonly m = new Map<K, string | Set<string>>();

  add(k: K, v: string): void {
    const x = this.m.get(k);
    if (x === undefined) this.m.set(k, v);
    else if (typeof x === 'string') {
      if (x !== v) this.m.set(k, new Set([x, v]));
    } else x.add(v);
  }

  delete(k: K, v: string): void {
    const x = this.m.get(k);
    if (x === undefined) return;
    if (typeof x === 'string') {
      if (x === v) this.m.delete(k);
      return;
    }
    x.delete(v);
    if (x.size === 1) this.m.set(k, x.values().next().value as string);
    else if (x.size === 0) this.m.delete(k);
  }

  values(k: K): Iterable<string> {
    const x = this.m.get(k);
    return x === undefined ? NONE : typeof x === 'string' ? [x] : x;
  }

  size(k: K): number {
    const x = this.m.get(k);
    return x === undefined ? 0 : typeof x === 'string' ? 1 : x.size;
  }

  /** The members of `k` in string order. */
  sorted(k: K): string[] {
    const x = this.m.get(k);
    return x === undefined ? [] : typeof x === 'string' ? [x] : [...x].sort();
  }

  /** The greatest member of `k` (undefined: none). */
  max(k: K): string | undefined {
    const x = this.m.get(k);
    if (x === undefined || typeof x === 'string') return x;
    let best: string | undefined;
    for (const v of x) if (best === undefined || v > best) best = v;
    return best;
  }
}

/**
 * One shared copy of each distinct placement: a namespace's pods are placed
 * alike ("namespace x is not isolated"), and a placement object and its text
 * per pod cost ~100 bytes each at 100,000 pods. Placements are never changed
 * after they are made, so sharing is safe. Bounded: starts over when it has
 * grown past `max` distinct values (held placements keep theirs).
 */
export class PlacementInterner {
  private readonly m = new Map<string, PodPlacement>();

  constructor(private readonly max = 65_536) {}

  intern(p: PodPlacement): PodPlacement {
    const key = p.kind === 'network' ? `network\0${p.network}\0${p.why}` : `${p.kind}\0${p.why}`;
    const have = this.m.get(key);
    if (have !== undefined) return have;
    if (this.m.size >= this.max) this.m.clear();
    this.m.set(key, p);
    return p;
  }

  get size(): number {
    return this.m.size;
  }
}
