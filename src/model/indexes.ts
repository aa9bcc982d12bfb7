// Small helpers for the incremental compile's indexes (multimaps and set comparisons).

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
