// Service addresses a pod may connect to, and who may (design section 3
// rule 3): ClusterIPs, and the frontends outside the service ranges that
// kube-proxy and the portmap CNI plugin DNAT to pods. Pure.
//
// A frontend outside the service ranges is written as the same client
// entries a ClusterIP gets, plus one marker entry (client_vrf
// VW_SVC_FRONTEND_VRF) that tells the datapath "this address and port is a
// frontend: judge a pod's packet to it like one to a ClusterIP" (else it
// would be judged as a packet to the node or to an outside address, rule 6,
// and kube-proxy's SNAT would make the backend see the node):
//   - every nodePort of a NodePort or LoadBalancer Service, at the address
//     VW_SVC_NODE_ADDR ('::': any node address or outside address; kube-proxy
//     answers NodePorts on every local address, listed or not);
//   - every externalIP and load balancer IP, on each Service port;
//   - every container hostPort of a pod (not host-network), at each address
//     of the pod's node, or at its hostIP; its clients are the networks that
//     may reach that pod under rules 1 and 2 (a quarantined pod: nobody).
// A frontend address inside the cluster's pod or service ranges (other than
// a node's own) is refused and reported: kube-proxy would capture traffic to
// another pod or Service there. Two owners of the same address, port and
// protocol (two Services, a Service and a hostPort, a ClusterIP written
// twice), and a frontend on a node address whose port is also a NodePort,
// are given only the networks all of them allow (fail closed), and reported.
import { VW_SVC_FRONTEND_VRF, VW_SVC_NODE_ADDR } from '../kernel/abi.js';
import { intersect, writeEntries, type ClientSet } from './clientsets.js';
import type { ClusterRanges } from './ranges.js';
import {
  serviceEntryKey,
  type ClusterState,
  type DesiredServiceEntry,
  type L4Protocol,
  type PodObject,
  type PodPlacement,
  type ServiceObject,
  type ServiceProblemKind,
  type SourceProblem,
} from './types.js';
import { canonicalIp } from './ip.js';
import { isTunnelPort } from './tunnels.js';
import { compareText } from '../util/order.js';

/** One address:port/protocol that clients reach a Service (or hostPort) by. */
export interface FrontendClaim {
  addr: string;
  port: number;
  protocol: L4Protocol;
  /** Outside the service ranges: needs the marker entry. */
  marker: boolean;
  /** owner ("Service ns/name", "Pod ns/name") -> who it lets in */
  owners: Map<string, ClientSet>;
}

/** By "addr|port|protocol". */
export type FrontendClaims = Map<string, FrontendClaim>;

export type Report = (kind: ServiceProblemKind, message: string) => void;

export interface FrontendKey {
  addr: string;
  port: number;
  protocol: L4Protocol;
  marker: boolean;
}

export function claimFrontend(claims: FrontendClaims, key: FrontendKey, owner: string, clients: ClientSet): void {
  const k = `${key.addr}|${key.port}|${key.protocol}`;
  let c = claims.get(k);
  if (c === undefined) {
    c = { addr: key.addr, port: key.port, protocol: key.protocol, marker: key.marker, owners: new Map() };
    claims.set(k, c);
  }
  // The same owner twice (an address that is both an external and a load
  // balancer IP): the same clients, nothing to intersect.
  if (!c.owners.has(owner)) c.owners.set(owner, clients);
  c.marker ||= key.marker;
}

export interface FrontendContext {
  ranges: ClusterRanges;
  hostAddrs: ReadonlySet<string>;
}

/** Why `addr` cannot be a frontend outside the service ranges, or undefined when it can. */
function refusal(addr: string, ctx: FrontendContext): string | undefined {
  if (addr === '0.0.0.0' || addr === '::') return 'is the unspecified address';
  if (ctx.hostAddrs.has(addr)) return undefined; // a node's own address: judged as a frontend there
  const range = ctx.ranges.kindOf(addr);
  if (range === undefined) return undefined;
  const what = range === 'pod' ? 'pod' : 'Service';
  return `is inside the cluster's ${range} ranges (kube-proxy would capture traffic to that ${what} address)`;
}

/**
 * The NodePorts, external IPs and load balancer IPs of one Service; port i
 * of spec.ports lets in clientsByPort[i]. Headless Services have none
 * (kube-proxy does not program them).
 */
export function claimServiceFrontends(
  claims: FrontendClaims,
  svc: ServiceObject,
  clientsByPort: readonly ClientSet[],
  ctx: FrontendContext,
  report: Report,
): void {
  if (svc.spec.headless || svc.spec.type === 'ExternalName') return;
  const owner = `Service ${svc.metadata.namespace}/${svc.metadata.name}`;
  const hasNodePorts = svc.spec.type === 'NodePort' || svc.spec.type === 'LoadBalancer';
  const addrs: { addr: string; what: string }[] = [];
  for (const addr of svc.spec.externalIPs) addrs.push({ addr, what: 'externalIP' });
  for (const addr of svc.spec.loadBalancerIPs) addrs.push({ addr, what: 'load balancer IP' });
  const usable: string[] = [];
  for (const { addr, what } of addrs) {
    const why = refusal(addr, ctx);
    if (why === undefined) usable.push(addr);
    else report('frontend_rejected', `${what} ${addr} ${why}: it gets no entries, and pods reach nothing through it`);
  }
  svc.spec.ports.forEach((p, i) => {
    const clients = clientsByPort[i] ?? new Map();
    if (hasNodePorts && p.nodePort !== undefined) {
      claimFrontend(claims, { addr: VW_SVC_NODE_ADDR, port: p.nodePort, protocol: p.protocol, marker: true }, owner, clients);
    }
    for (const addr of usable) claimFrontend(claims, { addr, port: p.port, protocol: p.protocol, marker: true }, owner, clients);
  });
}

export interface HostPortInputs extends FrontendContext {
  state: Pick<ClusterState, 'pods' | 'nodes'>;
  placements: ReadonlyMap<string, PodPlacement>;
  /** Who may reach a pod of this network under rules 1 and 2. */
  reach: (network: string) => ClientSet;
}

/** Every container hostPort of every scheduled pod with its own network stack. */
export function claimHostPorts(claims: FrontendClaims, inputs: HostPortInputs, problems: SourceProblem[]): void {
  // Few pods publish hostPorts: find them first, sort only them.
  const publishing: [string, PodObject][] = [];
  for (const entry of inputs.state.pods) if (publishesHostPorts(entry[1])) publishing.push(entry);
  for (const [key, pod] of publishing.sort(([a], [b]) => compareText(a, b))) claimPodHostPorts(claims, key, pod, inputs, problems);
}

export function publishesHostPorts(pod: PodObject): boolean {
  return pod.spec.ports.some((p) => p.hostPort !== undefined);
}

/** The hostPorts of one pod ("ns/name" `key`). */
export function claimPodHostPorts(
  claims: FrontendClaims,
  key: string,
  pod: PodObject,
  inputs: Omit<HostPortInputs, 'state'> & { state: Pick<ClusterState, 'nodes'> },
  problems: SourceProblem[],
): void {
  // A host-network pod's hostPorts are the node's own ports (rule 6).
  if (pod.spec.hostNetwork || pod.spec.nodeName === undefined) return;
  const published = pod.spec.ports.filter((p) => p.hostPort !== undefined);
  const source = `Pod ${key}`;
  const placement = inputs.placements.get(key);
  const clients: ClientSet = placement?.kind === 'network' ? inputs.reach(placement.network) : new Map();
  const nodeAddrs = [...new Set((inputs.state.nodes.get(pod.spec.nodeName)?.addresses ?? []).map(canonicalIp))]
    .filter((a): a is string => a !== undefined)
    .sort();
  for (const p of published) {
    const hostPort = p.hostPort as number;
    if (isTunnelPort(hostPort, p.protocol)) {
      // vrfwall cannot see this: what arrives is from a node (rule 6).
      problems.push({
        source,
        message:
          `hostPort ${hostPort}/${p.protocol} is a tunnel port (VXLAN, Geneve): the node’s DNAT would hand this pod the ` +
          'overlay packets other nodes send here, of every network; forbid hostPorts (Pod Security baseline) or this port',
      });
    }
    const addrs = p.hostIP !== undefined ? [p.hostIP] : nodeAddrs;
    if (addrs.length === 0) {
      problems.push({
        source,
        message:
          `hostPort ${hostPort}/${p.protocol}: node ${pod.spec.nodeName} has no known address, so a pod's ` +
          'connection to it is judged as one to the node',
      });
    }
    for (const addr of addrs) {
      const why = refusal(addr, inputs);
      if (why !== undefined) {
        problems.push({ source, message: `hostPort ${hostPort}/${p.protocol}: hostIP ${addr} ${why}: no entries` });
        continue;
      }
      claimFrontend(claims, { addr, port: hostPort, protocol: p.protocol, marker: true }, source, clients);
    }
  }
}

/** Intersects what owners of one frontend allow, then writes client and marker entries into `services`. */
export function resolveFrontends(
  claims: FrontendClaims,
  services: Map<string, DesiredServiceEntry>,
  report: (owner: string, kind: ServiceProblemKind, message: string) => void,
): void {
  const sorted = [...claims.values()].sort((a, b) => compareText(a.addr, b.addr) || a.port - b.port || compareText(a.protocol, b.protocol));
  const resolved = new Map<FrontendClaim, ClientSet>();
  for (const c of sorted) resolved.set(c, claimClients(c, report));
  for (const c of sorted) {
    const wildcard = wildcardOf(c, claims);
    const w = wildcard === undefined ? undefined : { claim: wildcard, clients: resolved.get(wildcard) ?? new Map() };
    claimEntries(c, resolved.get(c) ?? new Map(), w, services, report);
  }
}

/** The NodePort claim on the same port and protocol that also applies to
 *  frontend `c` (when `c` is a frontend on a node address). */
export function wildcardOf(c: FrontendClaim, claims: FrontendClaims): FrontendClaim | undefined {
  return c.marker && c.addr !== VW_SVC_NODE_ADDR ? claims.get(`${VW_SVC_NODE_ADDR}|${c.port}|${c.protocol}`) : undefined;
}

/** What every owner of `c` allows (reports owners that conflict). */
export function claimClients(c: FrontendClaim, report: (owner: string, kind: ServiceProblemKind, message: string) => void): ClientSet {
  const owners = [...c.owners].sort(([a], [b]) => compareText(a, b));
  let clients = owners[0]?.[1] ?? new Map();
  for (const [, other] of owners.slice(1)) clients = intersect(clients, other);
  if (owners.length > 1) {
    for (const [owner] of owners) {
      const others = owners.map(([o]) => o).filter((o) => o !== owner);
      report(owner, 'frontend_conflict', `${describe(c)} is also claimed by ${others.join(', ')}: only the networks all of them allow may use it`);
    }
  }
  return clients;
}

/** The client and marker entries of `c` into `services`, given what its
 *  owners allow and the NodePort claim that also applies (wildcardOf). */
export function claimEntries(
  c: FrontendClaim,
  own: ClientSet,
  wildcard: { claim: FrontendClaim; clients: ClientSet } | undefined,
  services: Map<string, DesiredServiceEntry>,
  report: (owner: string, kind: ServiceProblemKind, message: string) => void,
): void {
  let clients = own;
  if (wildcard !== undefined) {
    // The datapath takes an address's own marker before the NodePort one:
    // on a node address both DNATs may apply, so allow only what both allow.
    clients = intersect(clients, wildcard.clients);
    const nodePortOwners = [...wildcard.claim.owners.keys()].sort();
    for (const owner of [...c.owners.keys()].sort()) {
      const message = `${describe(c)} is also a NodePort of ${nodePortOwners.join(', ')}: only the networks both allow may use it`;
      report(owner, 'frontend_conflict', message);
    }
  }
  writeEntries(services, c.addr, c.port, c.protocol, clients, serviceEntryKey);
  if (c.marker) {
    const marker: DesiredServiceEntry = { ...key(c), clientVrf: VW_SVC_FRONTEND_VRF, svcVrf: 0, flags: 0 };
    services.set(serviceEntryKey(marker), marker);
  }
}

function key(c: FrontendClaim): Pick<DesiredServiceEntry, 'addr' | 'port' | 'protocol'> {
  return { addr: c.addr, port: c.port, protocol: c.protocol };
}

function describe(c: FrontendClaim): string {
  if (c.addr === VW_SVC_NODE_ADDR) return `NodePort ${c.port}/${c.protocol}`;
  if (!c.marker) return `ClusterIP ${c.addr}:${c.port}/${c.protocol}`;
  return `frontend ${c.addr.includes(':') ? `[${c.addr}]` : c.addr}:${c.port}/${c.protocol}`;
}

