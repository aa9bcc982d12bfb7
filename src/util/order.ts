// The one order of texts everywhere vrfwall sorts (keys, names, problems,
// listings): by UTF-16 code unit, as Array.prototype.sort without a
// comparator and Go's sort.Strings do. Not localeCompare: its order depends
// on the locale and folds case, so two nodes could list the same objects
// differently.

/** -1, 0 or 1 as `a` sorts before, with or after `b`. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Entries sorted by their keys (Map entries, Object.entries). */
export function byKey<V>(entries: Iterable<readonly [string, V]>): [string, V][] {
  return [...entries].map(([k, v]): [string, V] => [k, v]).sort(([a], [b]) => compareText(a, b));
}
