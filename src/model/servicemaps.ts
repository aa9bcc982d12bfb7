// Services -> the services and backends map entries (design section 3 rules
// 3 and 4). Pure; part of the compile step.
//
// A Service's network is found like a pod's (design section 2): its own
// network annotation, else its namespace's annotation, else the isolated
// namespace's network, else the default network. A bad annotation
// quarantines the Service: no entries, so nobody reaches it. Who may use a
// Service in network N:
//   - N is the default network: every network (one VW_SVC_ANY_VRF entry,
//     VW_SVC_SHARED), as CN2 shares its default service network;
//   - otherwise N itself, and every network a router joins to N (VW_SVC_ROUTER).
// The same clients may use each backend on each target port (rule 4): this is
// the form a connection has after kube-proxy's DNAT, and the only form the
// backend's node sees when the client is elsewhere. Backends that are node or
// host-network addresses need no entry (rule 6 already allows them).
import { VW_SVC_ANY_VRF, VW_SVC_ROUTER, VW_SVC_SHARED } from '../bpf/abi.js';
import { placePod, type PlacementContext } from './placement.js';
import { serviceEndpoints } from './services.js';
import {
  DEFAULT_NETWORK,
  serviceEntryKey,
  type ClusterState,
  type DesiredServiceEntry,
  type PodPlacement,
  type SourceProblem,
  type VrfAllocation,
} from './types.js';

export interface ServiceMapInputs {
  state: ClusterState;
  ctx: PlacementContext;
  allocation: VrfAllocation;
  /** Network pairs a router joins, "a|b" (routers.ts pairKey). */
  networkPairs: ReadonlySet<string>;
  /** Node and host-network addresses (canonical). */
  hostAddrs: ReadonlySet<string>;
  /** Pod placements, to tell when a backend is in another network. */
  podPlacements: ReadonlyMap<string, PodPlacement>;
}

export interface ServiceMaps {
  services: Map<string, DesiredServiceEntry>;
  backends: Map<string, DesiredServiceEntry>;
  placements: Map<string, PodPlacement>;
  /** Every ClusterIP that got an entry (the compile step makes sure each one
   *  is inside a service range, so replies from it are judged as such). */
  vips: Set<string>;
  problems: SourceProblem[];
}

interface Client {
  vrf: number;
  flags: number;
}

export function serviceMaps(inputs: ServiceMapInputs): ServiceMaps {
  const { state, ctx, allocation } = inputs;
  const out: ServiceMaps = {
    services: new Map(),
    backends: new Map(),
    placements: new Map(),
    vips: new Set(),
    problems: [],
  };
  const computed = serviceEndpoints(state);
  out.problems.push(...computed.problems);

  for (const svc of computed.services) {
    const obj = state.services.get(svc.key);
    if (obj === undefined) continue;
    const placement = placePod(obj, state.namespaces.get(svc.namespace), ctx, 'Service');
    out.placements.set(svc.key, placement);
    if (placement.kind !== 'network') {
      out.problems.push({ source: `Service ${svc.key}`, message: `quarantined, nobody can use it: ${placement.why}` });
      continue;
    }
    const network = placement.network;
    const svcVrf = allocation.ids[network];
    if (svcVrf === undefined) continue; // every existing network has an id; defensive
    const clients = clientsOf(network, svcVrf, inputs);

    const add = (map: Map<string, DesiredServiceEntry>, addr: string, port: number, protocol: DesiredServiceEntry['protocol']): void => {
      for (const c of clients) {
        const entry: DesiredServiceEntry = { addr, port, protocol, clientVrf: c.vrf, svcVrf, flags: c.flags };
        const key = serviceEntryKey(entry);
        // Two Services sharing a backend port: either entry grants the same
        // client the same thing; keep the first (sorted by Service).
        if (!map.has(key)) map.set(key, entry);
      }
    };
    const elsewhere = new Set<string>();
    for (const p of svc.ports) {
      for (const vip of svc.vips) {
        add(out.services, vip, p.port, p.protocol);
        out.vips.add(vip);
      }
      for (const b of p.backends) {
        if (inputs.hostAddrs.has(b.ip)) continue;
        add(out.backends, b.ip, b.port, p.protocol);
        const bp = b.pod === undefined ? undefined : inputs.podPlacements.get(b.pod);
        if (bp?.kind === 'network' && bp.network !== network) elsewhere.add(`${b.pod} (${bp.network})`);
      }
    }
    if (elsewhere.size > 0) {
      out.problems.push({
        source: `Service ${svc.key}`,
        message:
          `in network ${network} (${placement.why}) but backend pods ${[...elsewhere].sort().join(', ')} ` +
          `are not: clients allowed to use ${network} reach them on the target ports`,
      });
    }
  }
  return out;
}

function clientsOf(network: string, svcVrf: number, inputs: ServiceMapInputs): Client[] {
  if (network === DEFAULT_NETWORK) return [{ vrf: VW_SVC_ANY_VRF, flags: VW_SVC_SHARED }];
  const clients: Client[] = [{ vrf: svcVrf, flags: 0 }];
  for (const pair of [...inputs.networkPairs].sort()) {
    const [a, b] = pair.split('|');
    const other = a === network ? b : b === network ? a : undefined;
    const vrf = other === undefined ? undefined : inputs.allocation.ids[other];
    if (vrf !== undefined) clients.push({ vrf, flags: VW_SVC_ROUTER });
  }
  return clients;
}
