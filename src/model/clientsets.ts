// Sets of client networks that may use a Service address (design section 3
// rule 3): the value side of the services and backends map entries. Pure.
//
// A set maps a VRF id to the grant written for it; VW_SVC_ANY_VRF (0) stands
// for every network and, when present, is the only member (one entry says it).
import { VW_SVC_ANY_VRF, VW_SVC_ROUTER } from '../kernel/abi.js';
import type { DesiredServiceEntry, L4Protocol } from './types.js';

export interface Grant {
  /** VW_SVC_* */
  flags: number;
  /** The network of the backend that grants it (0: none, or not one network). */
  svcVrf: number;
}

export type ClientSet = Map<number, Grant>;

export function anyClient(grant: Grant): ClientSet {
  return new Map([[VW_SVC_ANY_VRF, grant]]);
}

export function isAny(set: ClientSet): boolean {
  return set.has(VW_SVC_ANY_VRF);
}

/** Add `vrf` to `set` (in place). A direct grant wins over one through a router. */
export function addClient(set: ClientSet, vrf: number, grant: Grant): void {
  if (isAny(set)) return;
  if (vrf === VW_SVC_ANY_VRF) {
    set.clear();
    set.set(VW_SVC_ANY_VRF, grant);
    return;
  }
  const had = set.get(vrf);
  if (had === undefined || ((had.flags & VW_SVC_ROUTER) !== 0 && (grant.flags & VW_SVC_ROUTER) === 0)) set.set(vrf, grant);
}

/** `into` := `into` ∪ `other` (in place). */
export function unionInto(into: ClientSet, other: ClientSet): void {
  for (const [vrf, grant] of other) addClient(into, vrf, grant);
}

/** `a` ∩ `b` (new set): every network is in "every network"; grants from the narrower side. */
export function intersect(a: ClientSet, b: ClientSet): ClientSet {
  if (isAny(a)) return new Map(b);
  if (isAny(b)) return new Map(a);
  const out: ClientSet = new Map();
  for (const [vrf, grant] of a) if (b.has(vrf)) out.set(vrf, grant);
  return out;
}

/** One map entry per client of `set` for addr:port/protocol, into `map` (first writer wins). */
export function writeEntries(
  map: Map<string, DesiredServiceEntry>,
  addr: string,
  port: number,
  protocol: L4Protocol,
  set: ClientSet,
  key: (e: DesiredServiceEntry) => string,
): void {
  for (const [vrf, grant] of [...set].sort(([x], [y]) => x - y)) {
    const entry: DesiredServiceEntry = { addr, port, protocol, clientVrf: vrf, svcVrf: grant.svcVrf, flags: grant.flags };
    const k = key(entry);
    if (!map.has(k)) map.set(k, entry);
  }
}
