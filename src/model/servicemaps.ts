// Services -> the services and backends map entries (design section 3 rules
// 3 and 4). Pure; part of the compile step.
//
// A Service has no network of its own: where its backends are decides.
//
// Shared Services (sharing.ts): every Service of kube-system,
// default/kubernetes, Services annotated vrfwall.dev/shared: "true", and
// every Service of a namespace annotated opencontrail.org/isolation.service:
// "false". Every network may use their ClusterIPs (one VW_SVC_ANY_VRF entry,
// VW_SVC_SHARED), and their backend pods of their own namespace on the
// target ports (rule 4: the form a connection has after kube-proxy's DNAT,
// and the only form the backend's node sees when the client is elsewhere).
//
// Every other Service gets no backends entries (its backends are reached
// under rules 1 and 2 only), and its ClusterIP:port answers the union, over
// the port's backends, of the networks that may reach that backend directly:
//   - a pod of its own namespace in network B: B, and every network a router
//     joins to B (VW_SVC_ROUTER);
//   - a node or host-network address: every network (rule 6);
//   - an address outside the cluster's pod and service ranges: every network
//     that may go outside (rule 6, vrfwall.dev/external);
//   - a node or outside address on a port that is itself a Service frontend
//     (another Service's NodePort, external or load balancer IP, a pod's
//     hostPort): nobody. The next node DNATs it again, masquerades it, and
//     the pod behind sees the node (rule 6): no hook could judge it.
//   - a node or outside address on a tunnel port (UDP 4789, 8472, 6081;
//     tunnels.ts): nobody. The datapath drops a pod's tunnel packets to
//     such addresses (TUNNEL); kube-proxy's DNAT must not carry them past.
//   - a quarantined pod, a pod of another namespace, an address in the
//     cluster ranges that no pod owns: nobody.
// Backends nobody checks on arrival (outside addresses, frontends) limit the
// whole port: kube-proxy sends any client to any backend, so the port
// answers only the networks every such backend allows (fail closed), not the
// union that pod backends get (their to-pod hook judges each connection).
// No backends: no entries (SERVICE_DENIED).
//
// Backends are identified by address: the pod that owns the address in the
// cluster state, whatever an EndpointSlice's targetRef says. A backend that
// is a pod of another namespace gains nothing from the Service (also when the
// Service is shared) and is reported, as is a Service whose backends are in
// several networks (each connection is then judged by the backend it reaches:
// the receiver's to-pod hook checks rules 1 and 2).
//
// A shared Service with a backend outside the cluster does not let networks
// that deny outside addresses use it (a ClusterIP never opens a path that
// addressing the backend directly would not), except the cluster's own
// Services (kube-system, default/kubernetes), which only cluster
// administrators write: a managed API server is often outside the ranges.
//
// The same clients may use the Service's frontends outside the service
// ranges (NodePorts, external and load balancer IPs; frontends.ts).
//
// Audit mode (enforcement.ts): a port whose backends are all pods of OPEN
// networks (no node, outside or frontend backend) gets one more entry, for
// client VW_SVC_AUDIT_VRF (flags VW_SVC_AUDIT): a client of an OPEN network
// that the port does not answer passes there as AUDIT (SERVICE_DENIED). The
// same for a pod's hostPort. Shared Services answer every network already.
import { splitAttachmentKey } from './attachments.js';
import { VW_SVC_ANY_VRF, VW_SVC_AUDIT, VW_SVC_AUDIT_VRF, VW_SVC_NODE_ADDR, VW_SVC_ROUTER, VW_SVC_SHARED } from '../kernel/abi.js';
import { addClient, anyClient, intersect, isAny, unionInto, writeEntries, type ClientSet } from './clientsets.js';
import { isTunnelPort, TUNNEL_UDP_PORTS } from './tunnels.js';
import { claimFrontend, claimHostPorts, claimServiceFrontends, resolveFrontends, type FrontendClaims } from './frontends.js';
import { clusterRanges, type ClusterRanges } from './ranges.js';
import { serviceEndpoints, type ServiceEndpoints } from './services.js';
import { namespaceSharingProblems, sharingOf } from './sharing.js';
import {
  serviceEntryKey,
  type ClusterState,
  type DesiredServiceEntry,
  type NamespaceObject,
  type ServiceObject,
  type PodPlacement,
  type ServiceAccess,
  type ServiceProblemKind,
  type SourceProblem,
  type VrfAllocation,
} from './types.js';
import { compareText } from '../util/order.js';

export interface ServiceMapInputs {
  state: ClusterState;
  allocation: VrfAllocation;
  /** Network pairs a router joins, "a|b" (routers.ts pairKey). */
  networkPairs: ReadonlySet<string>;
  /** Node and host-network addresses (canonical). */
  hostAddrs: ReadonlySet<string>;
  /** Pod placements ("ns/name"). */
  podPlacements: ReadonlyMap<string, PodPlacement>;
  /** "ns/name" -> canonical addresses of pods with their own network stack. */
  podIps: ReadonlyMap<string, readonly string[]>;
  /** The cluster's pod and service ranges (canonical CIDR -> VW_CIDR_*). */
  cidrs: ReadonlyMap<string, number>;
  /** VRF ids of networks that may not reach outside addresses. */
  externalDenied: ReadonlySet<number>;
  /** Audit mode's OPEN networks (enforcement.ts). */
  open: ReadonlySet<string>;
}

export interface ServiceMaps {
  services: Map<string, DesiredServiceEntry>;
  backends: Map<string, DesiredServiceEntry>;
  access: Map<string, ServiceAccess>;
  /** Every ClusterIP of every Service (the compile step makes sure each one
   *  is inside a service range, so it is judged by rule 3 and never as an
   *  outside address, entries or not). */
  vips: Set<string>;
  problems: SourceProblem[];
}

/** What a backend address is, found from the cluster state. */
type Backend =
  | { kind: 'pod'; pod: string; namespace: string; placement: PodPlacement | undefined }
  | { kind: 'host' }
  | { kind: 'outside' }
  | { kind: 'unknown'; why: string };

/** What the per-Service work reads of the rest of the cluster. Lookups, so
 *  that the whole-state compile (serviceMaps) and the incremental one
 *  (incremental.ts) give it the same answers from their own indexes. */
export interface ServiceContext {
  allocation: VrfAllocation;
  /** VRF ids of networks that may not reach outside addresses. */
  externalDenied: ReadonlySet<number>;
  /** Node and host-network addresses (canonical). */
  hostAddrs: ReadonlySet<string>;
  ranges: ClusterRanges;
  /** Pods claiming an address, in "ns/name" order; undefined: none. */
  claimantsOf(ip: string): readonly string[] | undefined;
  placementOf(pod: string): PodPlacement | undefined;
  /** network -> networks a router joins to it */
  routed: ReadonlyMap<string, readonly string[]>;
  /** "addr|port|protocol" of every frontend outside the service ranges (VW_SVC_NODE_ADDR: NodePorts) */
  frontends: ReadonlySet<string>;
  /** Audit mode's OPEN networks (enforcement.ts). */
  open: ReadonlySet<string>;
}

/** One Service's share of the services and backends maps. */
export interface ServiceResult {
  key: string;
  vips: string[];
  /** Its rule-4 entries (shared Services); across Services the first by key wins. */
  backends: Map<string, DesiredServiceEntry>;
  /** Its claims on frontends (ClusterIPs first), owner "Service ns/name". */
  claims: FrontendClaims;
  /** Before frontend conflicts (resolveFrontends adds those). */
  access: ServiceAccess;
  problems: SourceProblem[];
  /** What it read of the rest of the cluster, beyond its own objects and
   *  namespace: its backend addresses (what they are), the networks of its
   *  backend pods (who reaches them), and whether a backend is a node or
   *  outside address (reads the allocation, external settings, frontends). */
  deps: { ips: string[]; networks: string[]; unchecked: boolean };
}

export function serviceMaps(inputs: ServiceMapInputs): ServiceMaps {
  const { state } = inputs;
  const out: ServiceMaps = { services: new Map(), backends: new Map(), access: new Map(), vips: new Set(), problems: [] };
  const computed = serviceEndpoints(state);
  out.problems.push(...computed.problems);
  const ctx = serviceContext(inputs, computed.services);
  const claims: FrontendClaims = new Map();
  for (const ns of [...state.namespaces.values()].sort((a, b) => compareText(a.metadata.name, b.metadata.name))) {
    out.problems.push(...namespaceSharingProblems(ns));
  }

  for (const svc of computed.services) {
    const obj = state.services.get(svc.key);
    if (obj === undefined) continue;
    const r = compileService(svc, obj, state.namespaces.get(svc.namespace), ctx);
    for (const vip of r.vips) out.vips.add(vip);
    out.problems.push(...r.problems);
    for (const [k, e] of r.backends) if (!out.backends.has(k)) out.backends.set(k, e);
    mergeClaims(claims, r.claims);
    out.access.set(svc.key, r.access);
  }

  claimHostPorts(
    claims,
    { state, placements: inputs.podPlacements, ranges: ctx.ranges, hostAddrs: inputs.hostAddrs, reach: (net) => hostPortClients(net, ctx) },
    out.problems,
  );
  resolveFrontends(claims, out.services, (owner, kind, message) => {
    const key = /^Service (\S+)$/.exec(owner)?.[1];
    const access = key === undefined ? undefined : out.access.get(key);
    if (access !== undefined) access.problems[kind] = (access.problems[kind] ?? 0) + 1;
    out.problems.push({ source: owner, message });
  });
  return out;
}

/** Adds one owner's claims to `claims`, as claimFrontend would have. */
export function mergeClaims(claims: FrontendClaims, own: FrontendClaims): void {
  for (const c of own.values()) {
    for (const [owner, clients] of c.owners) claimFrontend(claims, { addr: c.addr, port: c.port, protocol: c.protocol, marker: c.marker }, owner, clients);
  }
}

/** One Service: its entries, claims, access and problems. */
export function compileService(
  svc: ServiceEndpoints,
  obj: ServiceObject,
  ns: NamespaceObject | undefined,
  ctx: ServiceContext,
): ServiceResult {
  const source = `Service ${svc.key}`;
  const problems: SourceProblem[] = [];
  const backends = new Map<string, DesiredServiceEntry>();
  const claims: FrontendClaims = new Map();
  const counts: Partial<Record<ServiceProblemKind, number>> = {};
  const report = (kind: ServiceProblemKind, message: string, n = 1): void => {
    counts[kind] = (counts[kind] ?? 0) + n;
    problems.push({ source, message });
  };
  const sharing = sharingOf(obj, ns);
  for (const p of sharing.problems) report('bad_annotation', p.message);

  const judged = judgeBackends(svc, sharing.shared, ctx, backends);
  const { clientsByPort, networks, foreign, unknown, misnamed, outside, viaFrontend, viaTunnel, closedPorts, netsByPort, uncheckedPorts } = judged;

  if (foreign.size > 0) {
    const list = [...foreign].sort(([a], [b]) => compareText(a, b)).map(([ip, pod]) => `${ip} (pod ${pod})`);
    report(
      'foreign_backend',
      `endpoints ${list.join(', ')} are pods of another namespace: a Service speaks only for pods of its own ` +
        `namespace (${svc.namespace}), so they gain nothing from it${sharing.shared ? ', shared or not' : ''}`,
      foreign.size,
    );
  }
  if (unknown.size > 0) {
    const list = [...unknown].sort(([a], [b]) => compareText(a, b)).map(([ip, why]) => `${ip} (${why})`);
    report('unknown_backend', `endpoints ${list.join(', ')} gain nothing from it`, unknown.size);
  }
  if (viaFrontend.size > 0) {
    report(
      'frontend_backend',
      `endpoints ${[...viaFrontend].sort().join(', ')} are Service frontends (a NodePort, hostPort, externalIP or ` +
        'load balancer IP): the next node would DNAT them again and the pod behind would see the node, so nobody ' +
        'may use the ports that lead there',
      viaFrontend.size,
    );
  }
  if (viaTunnel.size > 0) {
    report(
      'tunnel_backend',
      `endpoints ${[...viaTunnel].sort().join(', ')} are node or outside addresses on a tunnel port (UDP ` +
        `${[...TUNNEL_UDP_PORTS].join(', ')}): an overlay device there would decapsulate a forged inner packet ` +
        '(TUNNEL), so nobody may use the ports that lead there',
      viaTunnel.size,
    );
  }
  if (misnamed.size > 0) {
    const list = [...misnamed.values()].sort();
    problems.push({ source, message: `endpoint targetRef disagrees with the address (${list.join('; ')}): judged by the address` });
  }
  const backendNetworks = [...networks].sort();
  if (backendNetworks.length > 1) {
    report(
      'several_networks',
      `backend pods are in several networks (${backendNetworks.join(', ')}): each connection is judged by the backend it reaches`,
    );
  }

  let finalByPort: ClientSet[];
  if (sharing.shared) {
    const svcVrf = backendNetworks.length === 1 ? vrfOf(backendNetworks[0]!, ctx) : 0;
    const narrow = outside.size > 0 && ctx.externalDenied.size > 0 && !sharing.cluster;
    const shared = (): ClientSet =>
      narrow ? outsideClients(ctx, VW_SVC_SHARED, svcVrf) : anyClient({ flags: VW_SVC_SHARED, svcVrf });
    finalByPort = svc.ports.map((_, i) => (closedPorts.has(i) ? new Map() : shared()));
    if (narrow) {
      const denied = networkNames(ctx.externalDenied, ctx);
      report(
        'external_narrowed',
        `backends ${[...outside].sort().join(', ')} are outside the cluster: networks that may not go outside ` +
          `(${denied.join(', ')}) cannot use this shared Service`,
      );
    }
  } else {
    finalByPort = clientsByPort.map((c, i) =>
      closedPorts.has(i) || uncheckedPorts.has(i) ? c : withAuditEntry(c, netsByPort[i] ?? new Set(), ctx),
    );
  }

  svc.ports.forEach((p, i) => {
    const clients = finalByPort[i] ?? new Map();
    for (const vip of svc.vips) claimFrontend(claims, { addr: vip, port: p.port, protocol: p.protocol, marker: false }, source, clients);
  });
  claimServiceFrontends(claims, obj, finalByPort, { ranges: ctx.ranges, hostAddrs: ctx.hostAddrs }, report);

  const all: ClientSet = new Map();
  for (const c of finalByPort) unionInto(all, c);
  return {
    key: svc.key,
    vips: [...svc.vips],
    backends,
    claims,
    access: { shared: sharing.shared, why: sharing.why, backendNetworks, clients: clientNames(all, ctx), problems: counts },
    problems,
    deps: { ips: judged.ips, networks: backendNetworks, unchecked: judged.unchecked },
  };
}

/** What each backend of `svc` is, who may reach it directly (per port), and
 *  (shared Services) its rule-4 entries into `backends`. */
function judgeBackends(
  svc: ServiceEndpoints,
  shared: boolean,
  ctx: ServiceContext,
  backends: Map<string, DesiredServiceEntry>,
): {
  clientsByPort: ClientSet[];
  networks: Set<string>;
  foreign: Map<string, string>; // ip -> pod of another namespace
  unknown: Map<string, string>; // ip -> why it is nobody
  misnamed: Map<string, string>; // ip -> what its targetRef claims
  outside: Set<string>;
  viaFrontend: Set<string>; // "ip:port" of backends that are frontends
  viaTunnel: Set<string>; // "ip:port" of node or outside backends on a tunnel port
  closedPorts: Set<number>; // indexes of ports with such a backend
  netsByPort: Set<string>[]; // per port: the networks of its pod backends
  uncheckedPorts: Set<number>; // indexes of ports with a node or outside backend
  ips: string[]; // every backend address (judged by what it is)
  unchecked: boolean; // a backend is a node or outside address
} {
  const r = {
    clientsByPort: [] as ClientSet[],
    networks: new Set<string>(),
    foreign: new Map<string, string>(),
    unknown: new Map<string, string>(),
    misnamed: new Map<string, string>(),
    outside: new Set<string>(),
    viaFrontend: new Set<string>(),
    viaTunnel: new Set<string>(),
    closedPorts: new Set<number>(),
    netsByPort: [] as Set<string>[],
    uncheckedPorts: new Set<number>(),
    ips: [] as string[],
    unchecked: false,
  };
  const ips = new Set<string>();
  svc.ports.forEach((p, index) => {
    const clients: ClientSet = new Map();
    const nets = new Set<string>();
    r.netsByPort.push(nets);
    // What the backends nobody checks on arrival allow; undefined: none such.
    let limit: ClientSet | undefined;
    const restrict = (allowed: ClientSet): void => {
      limit = limit === undefined ? new Map(allowed) : intersect(limit, allowed);
    };
    for (const b of p.backends) {
      ips.add(b.ip);
      const what = classify(b.ip, ctx);
      // The address decides; a targetRef that says otherwise is only reported
      // (a pod's secondary interface, "ns/pod@ifname", is that pod's).
      if (b.pod !== undefined && what.kind !== 'unknown' && (what.kind !== 'pod' || splitAttachmentKey(what.pod)[0] !== b.pod)) {
        const is = what.kind === 'pod' ? `pod ${what.pod}` : what.kind === 'host' ? 'a node address' : 'an outside address';
        r.misnamed.set(b.ip, `${b.ip} says it is pod ${b.pod} but is ${is}`);
      }
      switch (what.kind) {
        case 'pod': {
          if (what.namespace !== svc.namespace) {
            r.foreign.set(b.ip, what.pod);
            break;
          }
          if (what.placement?.kind !== 'network') break; // quarantined (reported as such)
          const net = what.placement.network;
          r.networks.add(net);
          nets.add(net);
          unionInto(clients, podClients(net, ctx));
          if (shared) {
            const grant = { flags: VW_SVC_SHARED, svcVrf: vrfOf(net, ctx) };
            writeEntries(backends, b.ip, b.port, p.protocol, anyClient(grant), serviceEntryKey);
          }
          break;
        }
        case 'host':
        case 'outside': {
          r.unchecked = true;
          r.uncheckedPorts.add(index);
          if (isTunnelPort(b.port, p.protocol)) {
            r.viaTunnel.add(b.ip.includes(':') ? `[${b.ip}]:${b.port}` : `${b.ip}:${b.port}`);
            r.closedPorts.add(index);
            restrict(new Map());
            break;
          }
          if (isFrontend(ctx, b.ip, b.port, p.protocol)) {
            r.viaFrontend.add(b.ip.includes(':') ? `[${b.ip}]:${b.port}` : `${b.ip}:${b.port}`);
            r.closedPorts.add(index);
            restrict(new Map());
            break;
          }
          if (what.kind === 'host') {
            addClient(clients, VW_SVC_ANY_VRF, { flags: 0, svcVrf: 0 });
            break;
          }
          r.outside.add(b.ip);
          const direct = outsideClients(ctx, 0);
          unionInto(clients, direct);
          restrict(direct);
          break;
        }
        case 'unknown':
          r.unknown.set(b.ip, what.why);
          break;
      }
    }
    r.clientsByPort.push(limit === undefined ? clients : intersect(clients, limit));
  });
  r.ips = [...ips];
  return r;
}

/** Is addr:port/protocol a frontend outside the service ranges, for a pod's
 *  packet to it (the datapath's own marker, then the NodePort one)? */
function isFrontend(ctx: ServiceContext, addr: string, port: number, protocol: string): boolean {
  return ctx.frontends.has(`${addr}|${port}|${protocol}`) || ctx.frontends.has(`${VW_SVC_NODE_ADDR}|${port}|${protocol}`);
}

/** Every frontend outside the service ranges, found by the same claims the
 *  services map gets (clients do not matter here). */
function frontendKeys(inputs: ServiceMapInputs, services: readonly ServiceEndpoints[], ranges: ClusterRanges): Set<string> {
  const scratch: FrontendClaims = new Map();
  const fctx = { ranges, hostAddrs: inputs.hostAddrs };
  for (const svc of services) {
    const obj = inputs.state.services.get(svc.key);
    if (obj !== undefined) claimServiceFrontends(scratch, obj, [], fctx, () => undefined);
  }
  claimHostPorts(scratch, { state: inputs.state, placements: inputs.podPlacements, ...fctx, reach: () => new Map() }, []);
  return markerKeys(scratch);
}

/** "addr|port|protocol" of the claims that need a marker entry. */
export function markerKeys(claims: FrontendClaims): Set<string> {
  return new Set([...claims.values()].filter((c) => c.marker).map((c) => `${c.addr}|${c.port}|${c.protocol}`));
}

/** Network pairs "a|b" -> network -> the networks a router joins to it. */
export function routedNetworks(networkPairs: ReadonlySet<string>): Map<string, string[]> {
  const routed = new Map<string, string[]>();
  for (const pair of [...networkPairs].sort()) {
    const [a, b] = pair.split('|') as [string, string];
    routed.set(a, [...(routed.get(a) ?? []), b]);
    routed.set(b, [...(routed.get(b) ?? []), a]);
  }
  return routed;
}

function serviceContext(inputs: ServiceMapInputs, services: readonly ServiceEndpoints[]): ServiceContext {
  const claimants = new Map<string, string[]>();
  for (const [pod, ips] of inputs.podIps) {
    for (const ip of ips) {
      const list = claimants.get(ip);
      if (list === undefined) claimants.set(ip, [pod]);
      else list.push(pod);
    }
  }
  const ranges = clusterRanges(inputs.cidrs);
  return {
    allocation: inputs.allocation,
    externalDenied: inputs.externalDenied,
    hostAddrs: inputs.hostAddrs,
    ranges,
    claimantsOf: (ip) => claimants.get(ip),
    placementOf: (pod) => inputs.podPlacements.get(pod),
    routed: routedNetworks(inputs.networkPairs),
    frontends: frontendKeys(inputs, services, ranges),
    open: inputs.open,
  };
}

function classify(ip: string, ctx: ServiceContext): Backend {
  if (ctx.hostAddrs.has(ip)) return { kind: 'host' };
  const claimants = ctx.claimantsOf(ip);
  if (claimants !== undefined && claimants.length > 1) return { kind: 'unknown', why: `claimed by several pods: ${claimants.join(', ')}` };
  const pod = claimants?.[0];
  if (pod !== undefined) {
    return { kind: 'pod', pod, namespace: pod.slice(0, pod.indexOf('/')), placement: ctx.placementOf(pod) };
  }
  const range = ctx.ranges.kindOf(ip);
  if (range === undefined) return { kind: 'outside' };
  return { kind: 'unknown', why: range === 'pod' ? 'in the pod ranges, but no known pod has it' : 'a service address' };
}

/** Who may reach a pod of network `net` directly (rules 1 and 2). */
export function podClients(net: string, ctx: Pick<ServiceContext, 'allocation' | 'routed'>): ClientSet {
  const svcVrf = vrfOf(net, ctx);
  const set: ClientSet = new Map();
  if (svcVrf === 0) return set; // every existing network has an id; defensive
  set.set(svcVrf, { flags: 0, svcVrf });
  for (const other of ctx.routed.get(net) ?? []) {
    const vrf = vrfOf(other, ctx);
    if (vrf !== 0) addClient(set, vrf, { flags: VW_SVC_ROUTER, svcVrf });
  }
  return set;
}

/** Who may reach an address outside the cluster (rule 6): every network, or
 *  when some deny it, every other one by name. */
/**
 * `set` with the audit entry when every one of `nets` (the networks of a
 * port's pod backends; none: no entry) is OPEN, `set` itself otherwise. It
 * depends only on the backends' networks being OPEN (the incremental compile
 * rejudges a Service when that changes, clusterpart.ts reachOf). Its grant
 * names the backends' network (0: several).
 */
export function withAuditEntry(set: ClientSet, nets: ReadonlySet<string>, ctx: Pick<ServiceContext, 'allocation' | 'open'>): ClientSet {
  if (isAny(set) || nets.size === 0) return set;
  for (const n of nets) if (!ctx.open.has(n)) return set;
  const svcVrf = nets.size === 1 ? vrfOf([...nets][0] as string, ctx) : 0;
  const out = new Map(set);
  out.set(VW_SVC_AUDIT_VRF, { flags: VW_SVC_AUDIT, svcVrf });
  return out;
}

/** Who may use a hostPort of a pod of network `net`: who reaches the pod
 *  (rules 1 and 2), and in audit mode the OPEN networks. */
export function hostPortClients(net: string, ctx: Pick<ServiceContext, 'allocation' | 'routed' | 'open'>): ClientSet {
  return withAuditEntry(podClients(net, ctx), new Set([net]), ctx);
}

function outsideClients(ctx: Pick<ServiceContext, 'allocation' | 'externalDenied'>, flags: number, svcVrf = 0): ClientSet {
  if (ctx.externalDenied.size === 0) return anyClient({ flags, svcVrf });
  const set: ClientSet = new Map();
  for (const vrf of Object.values(ctx.allocation.ids)) {
    if (!ctx.externalDenied.has(vrf)) set.set(vrf, { flags, svcVrf });
  }
  return set;
}

function vrfOf(net: string, ctx: Pick<ServiceContext, 'allocation'>): number {
  return ctx.allocation.ids[net] ?? 0;
}

function networkNames(vrfs: Iterable<number>, ctx: Pick<ServiceContext, 'allocation'>): string[] {
  const byId = new Map(Object.entries(ctx.allocation.ids).map(([n, id]) => [id, n]));
  return [...vrfs].map((v) => byId.get(v) ?? `vrf ${v}`).sort();
}

function clientNames(set: ClientSet, ctx: Pick<ServiceContext, 'allocation'>): string[] {
  if (isAny(set)) return ['*'];
  return networkNames([...set.keys()].filter((v) => v !== VW_SVC_AUDIT_VRF), ctx);
}

