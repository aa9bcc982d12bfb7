// Which objects differ between two snapshots of the cluster: what a source
// tells its listeners along with the new snapshot, so they can recompute only
// what depends on those objects (the incremental compile, the flow directory).
//
// Sources keep an unchanged object's identity from one snapshot to the next
// (the Kubernetes source converts each object version once; the manifest
// source reuses parsed objects), so nearly every comparison ends at `===`;
// the structural comparison is the fallback that keeps a rebuilt but equal
// object from counting as a change.
import type { ClusterState } from '../model/types.js';

export type ObjectKind = 'Namespace' | 'Pod' | 'Node' | 'VirtualNetwork' | 'VirtualNetworkRouter' | 'Service' | 'EndpointSlice' | 'NetworkAttachmentDefinition' | 'NetworkPolicy';

/** One changed (added, modified or deleted) object: its kind and its key in
 *  the ClusterState map of that kind ("ns/name", or the name for Namespaces and Nodes). */
export interface ObjectRef {
  kind: ObjectKind;
  key: string;
}

/** The ClusterState map holding each kind. */
export const STATE_MAPS = {
  Namespace: 'namespaces',
  Pod: 'pods',
  Node: 'nodes',
  VirtualNetwork: 'virtualNetworks',
  VirtualNetworkRouter: 'routers',
  Service: 'services',
  EndpointSlice: 'endpointSlices',
  NetworkAttachmentDefinition: 'attachmentDefinitions',
  NetworkPolicy: 'networkPolicies',
} as const satisfies Record<ObjectKind, keyof ClusterState>;

export const OBJECT_KINDS = Object.keys(STATE_MAPS) as ObjectKind[];

/** Every object that was added, removed or changed from `prev` to `next`. */
export function changedObjects(prev: ClusterState, next: ClusterState): ObjectRef[] {
  const out: ObjectRef[] = [];
  for (const kind of OBJECT_KINDS) {
    const field = STATE_MAPS[kind];
    const a = prev[field] as ReadonlyMap<string, unknown>;
    const b = next[field] as ReadonlyMap<string, unknown>;
    if (a === b) continue;
    // Sources build each snapshot's maps in the same (sorted) order, so a
    // walk of both in step settles most entries without a hash lookup.
    const ia = a.entries();
    let removedToo = a.size !== b.size;
    for (const [key, v] of b) {
      const x = ia.next();
      if (!x.done && x.value[0] === key && x.value[1] === v) continue;
      if (x.done || x.value[0] !== key) removedToo = true;
      if (!sameValue(a.get(key), v)) out.push({ kind, key });
    }
    if (removedToo || !ia.next().done) for (const key of a.keys()) if (!b.has(key)) out.push({ kind, key });
  }
  return out;
}

/** Deep equality of plain data (objects, arrays, Maps, primitives), identity first. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !sameValue(v, b.get(k))) return false;
    return true;
  }
  if (Array.isArray(b) || b instanceof Map) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  for (const k of ka) if (!Object.hasOwn(rb, k) || !sameValue(ra[k], rb[k])) return false;
  return true;
}
