// The cluster-wide part of the incremental compile (incremental.ts): what
// Namespaces, VirtualNetworks and routers decide for everyone — the set of
// networks, their VRF ids, router pairs and network flags. A few thousand
// objects at most, recomputed whole (with compile()'s own functions) when one
// of them changes.
import { VW_NET_EXTERNAL_DENY } from '../kernel/abi.js';
import { checkIsolationValues, networkFlags, vrfPairsOf } from './compile.js';
import { CN2_NETWORK_KEY, implicitNetworks, LEGACY_NETWORK_KEY, NETWORK_KEY } from './placement.js';
import { routerPairs } from './routers.js';
import { routedNetworks } from './servicemaps.js';
import { namespaceSharingProblems } from './sharing.js';
import type { ClusterState, ObjectMeta, SourceProblem, VrfAllocation } from './types.js';
import { allocateVrfs } from './vrf.js';
import { networkModes } from './enforcement.js';

export interface ClusterPart {
  networks: Set<string>;
  /** networks that take no pods (VirtualNetwork podNetwork: false) */
  noPods: Set<string>;
  nsNames: Set<string>;
  /** Namespaces whose annotations name a network. */
  nsAnnotated: Set<string>;
  allocation: VrfAllocation;
  /** network -> networks a router joins to it */
  routed: Map<string, string[]>;
  vrfPairs: Set<string>;
  networkFlags: Map<number, number>;
  externalDenied: Set<number>;
  /** Audit mode's OPEN networks (enforcement.ts). */
  open: Set<string>;
  problems: SourceProblem[];
}

export function emptyClusterPart(allocation: VrfAllocation): ClusterPart {
  return {
    networks: new Set(),
    noPods: new Set(),
    nsNames: new Set(),
    nsAnnotated: new Set(),
    allocation,
    routed: new Map(),
    vrfPairs: new Set(),
    networkFlags: new Map(),
    externalDenied: new Set(),
    open: new Set(),
    problems: [],
  };
}

export function clusterPart(state: ClusterState, previous: VrfAllocation): ClusterPart {
  const problems: SourceProblem[] = [];
  const namespaces = [...state.namespaces.values()];
  for (const ns of namespaces) checkIsolationValues(ns, problems);
  const networks = implicitNetworks(namespaces);
  const noPods = new Set<string>();
  for (const [name, vn] of state.virtualNetworks) {
    networks.add(name);
    if (!vn.spec.podNetwork) noPods.add(name);
  }
  const allocation = allocateVrfs(networks, previous);
  const routed = routerPairs({ namespaces: state.namespaces, virtualNetworks: state.virtualNetworks, routers: state.routers, networks });
  problems.push(...routed.problems);
  const modes = networkModes(state, networks);
  problems.push(...modes.problems);
  const flags = networkFlags(allocation, state, problems, modes);
  for (const ns of namespaces) problems.push(...namespaceSharingProblems(ns));
  const externalDenied = new Set<number>();
  for (const [vrf, f] of flags) if ((f & VW_NET_EXTERNAL_DENY) !== 0) externalDenied.add(vrf);
  const nsAnnotated = new Set<string>();
  for (const ns of namespaces) if (hasNetworkAnnotation(ns.metadata)) nsAnnotated.add(ns.metadata.name);
  return {
    networks,
    noPods,
    nsNames: new Set(state.namespaces.keys()),
    nsAnnotated,
    allocation,
    routed: routedNetworks(routed.pairs),
    vrfPairs: vrfPairsOf(routed.pairs, allocation),
    networkFlags: flags,
    externalDenied,
    open: modes.open,
    problems,
  };
}

/** Who reaches a network's pods (podClients), as text: its id, its router
 *  peers' ids, and whether it is OPEN (a Service's audit entry). */
export function reachOf(c: ClusterPart, net: string): string {
  const ids = (c.routed.get(net) ?? []).map((o) => `${o}=${c.allocation.ids[o] ?? 0}`);
  return `${c.allocation.ids[net] ?? 0}|${ids.join(',')}|${c.open.has(net) ? 'open' : ''}`;
}

/** Do the object's annotations name a network (placement.ts's keys)? */
export function hasNetworkAnnotation(meta: ObjectMeta): boolean {
  return meta.annotations[NETWORK_KEY] !== undefined || meta.annotations[CN2_NETWORK_KEY] !== undefined || meta.annotations[LEGACY_NETWORK_KEY] !== undefined;
}
