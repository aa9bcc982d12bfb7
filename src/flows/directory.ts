// Names for addresses: which pod, namespace, network and node an IP is,
// rebuilt after every reconcile from the cluster state and the compile
// step's output. Pure: no I/O.
import ipaddr from 'ipaddr.js';
import { canonicalAddr } from '../bpf/abi.js';
import type { ClusterState, DesiredState, ServiceAccess } from '../model/types.js';
import type { EndpointKind } from './types.js';

export interface EndpointInfo {
  ip: string;
  kind: EndpointKind;
  namespace: string;
  pod: string;
  /** "ns/name"; empty for host endpoints and quarantined pods */
  network: string;
  node: string;
  /** "ns/name" of a Service whose virtual IP this is */
  service: string;
  local: boolean;
  ifindex: number;
  quarantined: boolean;
  /** why the pod is where it is (placement reason) */
  reason: string;
  hostNetwork: boolean;
}

export interface NetworkInfo {
  name: string;
  vrfId: number;
  externalDeny: boolean;
  pods: string[];
  /** networks a router joins with this one */
  reaches: string[];
}

/** The part of a Service the directory uses; matches ClusterState.services when it exists. */
interface ServiceLike {
  metadata: { name: string; namespace: string };
  spec: { clusterIPs: string[]; externalIPs?: string[]; loadBalancerIPs?: string[] };
}

/** Who may use a Service, in words: a Service has no network of its own. */
export function serviceAccessText(access: ServiceAccess | undefined): string {
  if (access === undefined) return 'not compiled';
  const users = access.clients[0] === '*' ? 'every network' : access.clients.length > 0 ? access.clients.join(', ') : 'no network';
  const backends = access.backendNetworks.length > 0 ? `; backend pods in ${access.backendNetworks.join(', ')}` : '';
  return `${access.shared ? 'shared' : 'not shared'} (${access.why}); used by ${users}${backends}`;
}

export class Directory {
  readonly byIp = new Map<string, EndpointInfo>();
  /** host-side interface -> local pod "ns/name" */
  readonly podByIfindex = new Map<number, { namespace: string; pod: string; network: string }>();
  /** bridge ports among those: the pod's MAC (the only source MAC its from_pod passes) */
  readonly portMacs = new Map<number, string>();
  readonly networks = new Map<string, NetworkInfo>();
  readonly networkByVrf = new Map<number, string>();
  /** the cluster's pod and service ranges: an unknown address inside them is "unknown", outside "external" */
  readonly clusterCidrs: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];

  inCluster(ip: string): boolean {
    try {
      const a = ipaddr.process(ip);
      return this.clusterCidrs.some((c) => c[0].kind() === a.kind() && a.match(c));
    } catch {
      return false;
    }
  }

  lookup(ip: string): EndpointInfo | undefined {
    return this.byIp.get(ip);
  }

  static empty(): Directory {
    return new Directory();
  }
}

function canonical(ip: string): string | undefined {
  try {
    return canonicalAddr(ip);
  } catch {
    return undefined;
  }
}

export function buildDirectory(state: ClusterState, desired: DesiredState, node: string): Directory {
  const d = new Directory();
  const vrfNames = new Map<number, string>();
  for (const [name, id] of Object.entries(desired.allocation.ids)) vrfNames.set(id, name);

  for (const [name, id] of Object.entries(desired.allocation.ids)) {
    if (!desired.networks.has(id) && !hasEndpointIn(desired, id)) continue;
    d.networks.set(name, {
      name,
      vrfId: id,
      externalDeny: ((desired.networks.get(id) ?? 0) & 1) !== 0,
      pods: [],
      reaches: [],
    });
    d.networkByVrf.set(id, name);
  }
  for (const pair of desired.vrfPairs) {
    const [a, b] = pair.split(':').map(Number);
    const from = vrfNames.get(a ?? -1);
    const to = vrfNames.get(b ?? -1);
    if (from && to) d.networks.get(from)?.reaches.push(to);
  }
  for (const n of d.networks.values()) n.reaches.sort();

  for (const n of state.nodes.values()) {
    for (const a of n.addresses) {
      const ip = canonical(a);
      if (!ip) continue;
      d.byIp.set(ip, { ...blank(ip, 'host'), node: n.name, reason: `address of node ${n.name}` });
    }
  }

  for (const [key, pod] of state.pods) {
    const placement = desired.placements.get(key);
    const network = placement?.kind === 'network' ? placement.network : '';
    const local = desired.attach.has(key);
    if (network) d.networks.get(network)?.pods.push(key);
    for (const raw of pod.status.podIPs) {
      const ip = canonical(raw);
      if (!ip) continue;
      const ep = desired.endpoints.get(ip) ?? desired.endpoints.get(raw);
      const info: EndpointInfo = {
        ip,
        kind: pod.spec.hostNetwork ? 'host' : 'pod',
        namespace: pod.metadata.namespace,
        pod: pod.metadata.name,
        network,
        node: pod.spec.nodeName ?? '',
        service: '',
        local: local && !pod.spec.hostNetwork,
        ifindex: local ? (ep?.ifindex ?? 0) : 0,
        quarantined: placement?.kind === 'quarantine',
        reason: placement?.why ?? 'not placed',
        hostNetwork: pod.spec.hostNetwork,
      };
      // A host-network pod shares the node's address: keep the pod's name on it.
      d.byIp.set(ip, info);
      if (info.local && info.ifindex > 0) {
        d.podByIfindex.set(info.ifindex, { namespace: info.namespace, pod: info.pod, network });
      }
    }
  }
  for (const n of d.networks.values()) n.pods.sort();
  for (const [ifindex, mac] of desired.ports ?? []) d.portMacs.set(ifindex, mac);

  const services = (state as { services?: Map<string, ServiceLike> }).services;
  for (const svc of services?.values() ?? []) {
    const key = `${svc.metadata.namespace}/${svc.metadata.name}`;
    const access = serviceAccessText(desired.serviceAccess.get(key));
    const add = (raw: string, what: string, overwrite: boolean): void => {
      const ip = canonical(raw);
      if (!ip || (!overwrite && d.byIp.has(ip))) return;
      d.byIp.set(ip, { ...blank(ip, 'service'), namespace: svc.metadata.namespace, service: key, reason: `Service ${what}, ${access}` });
    };
    for (const raw of svc.spec.clusterIPs) add(raw, 'virtual IP', true);
    // External and load balancer IPs name the Service unless the address is
    // already a node's or a pod's (a node address stays the node).
    for (const raw of svc.spec.externalIPs ?? []) add(raw, 'external IP', false);
    for (const raw of svc.spec.loadBalancerIPs ?? []) add(raw, 'load balancer IP', false);
  }
  for (const cidr of desired.cidrs.keys()) {
    try {
      d.clusterCidrs.push(ipaddr.parseCIDR(cidr));
    } catch {
      // the compile step only emits canonical CIDRs
    }
  }
  void node;
  return d;
}

function hasEndpointIn(desired: DesiredState, vrf: number): boolean {
  for (const ep of desired.endpoints.values()) if (ep.vrfId === vrf) return true;
  return false;
}

function blank(ip: string, kind: EndpointKind): EndpointInfo {
  return {
    ip,
    kind,
    namespace: '',
    pod: '',
    network: '',
    node: '',
    service: '',
    local: false,
    ifindex: 0,
    quarantined: false,
    reason: '',
    hostNetwork: false,
  };
}
