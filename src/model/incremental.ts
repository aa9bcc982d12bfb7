// The incremental compile: the same desired maps as compile() (compile.ts,
// the reference), kept up to date from the objects that changed instead of
// recomputed from the whole cluster. A change recomputes what can depend on
// it and reports the map keys whose entries may differ (DesiredDelta).
//
// What depends on what (each arrow: "a change here recomputes that"):
//   - Namespace, VirtualNetwork, VirtualNetworkRouter -> the cluster-wide
//     part (networks, VRF ids, router pairs, network flags; a few thousand
//     objects at most, recomputed whole) -> the pods of a changed namespace,
//     pods and namespaces with network annotations when the set of networks
//     changed, Services whose backend networks' reach changed;
//   - Node, host-network pod -> host addresses -> the endpoints, pods and
//     Services that use those addresses, hostPorts, frontends;
//   - Pod -> its placement, addresses, interfaces -> the endpoints of its
//     addresses and of every other pod claiming one of them (address
//     conflicts quarantine all claimants), the Services that select it or
//     have one of its addresses as a backend;
//   - Service, EndpointSlice -> that Service's entries and frontend claims ->
//     the claims it shares with other owners, the backends' NO_BACKEND bit;
//   - observed interfaces and bridge MACs -> the pods using them.
// Problems are kept per object and assembled on demand (their order differs
// from compile()'s; their set does not).
import { emptyPolicyInfo, policyValueEquals, type PolicyInfo, type PolicyValue } from './policy-types.js';
import { applyEndpointPolicy, compilePolicy, policyActive } from './netpol.js';
import { VW_CIDR_SERVICE, VW_EP_HOST, VW_EP_THIS_NODE, VW_EP_LOCAL, VW_EP_NO_BACKEND, VW_EP_PTP, VW_EP_QUARANTINE, VW_NO_MAC } from '../kernel/abi.js';
import ipaddr from 'ipaddr.js';
import type { ObjectRef } from '../sources/changes.js';
import { attachedInterface, hasMultusAnnotation, podAttachments, type AttachmentContext } from './attachments.js';
import { ClaimIndex, sameEntry } from './claimindex.js';
import { clusterPart, emptyClusterPart, hasNetworkAnnotation, reachOf, type ClusterPart } from './clusterpart.js';
import { canonicalPodIps, claimWinner, clusterCidrs, isSecondaryClaim, losesClaim } from './compile.js';
import { claimPodHostPorts, claimServiceFrontends, publishesHostPorts, type FrontendClaims } from './frontends.js';
import { canonicalIp } from './ip.js';
import { addTo, diffMaps, diffSets, Multimap, PlacementInterner, removeFrom, sameSet, setOrDelete } from './indexes.js';
import { placePod, type PlacementContext } from './placement.js';
import { clusterRanges, type ClusterRanges } from './ranges.js';
import { mapSelectorMatches } from './selector.js';
import { compileService, hostPortClients, markerKeys, type ServiceContext, type ServiceResult } from './servicemaps.js';
import { endpointsOfService } from './services.js';
import type {
  AttachedInterface,
  ClusterConfig,
  ClusterState,
  DesiredEndpoint,
  DesiredServiceEntry,
  DesiredState,
  EndpointSliceObject,
  InterfaceIndex,
  PodObject,
  PodPlacement,
  PortMacs,
  ServiceAccess,
  ServiceProblemKind,
  SourceProblem,
  VrfAllocation,
} from './types.js';
import { compareText } from '../util/order.js';

/** Keys of the desired maps whose entries may have changed (added, modified
 *  or removed): the new entry is in `desired`, or none is. */
export interface DesiredDelta {
  endpoints: Set<string>;
  vrfPairs: Set<string>;
  networks: Set<number>;
  cidrs: Set<string>;
  services: Set<string>;
  backends: Set<string>;
  ports: Set<number>;
  attach: Set<string>;
  placements: Set<string>;
  serviceAccess: Set<string>;
  /** NetworkPolicy: DesiredState.policy and .policyCidrs keys (policyKeyText, policyCidrKeyText) */
  policy: Set<string>;
  policyCidrs: Set<string>;
}

export function emptyDelta(): DesiredDelta {
  return {
    endpoints: new Set(),
    vrfPairs: new Set(),
    networks: new Set(),
    cidrs: new Set(),
    services: new Set(),
    backends: new Set(),
    ports: new Set(),
    attach: new Set(),
    placements: new Set(),
    serviceAccess: new Set(),
    policy: new Set(),
    policyCidrs: new Set(),
  };
}

/** `into` := `into` ∪ `other` (in place). */
export function mergeDelta(into: DesiredDelta, other: DesiredDelta): DesiredDelta {
  for (const k of Object.keys(into) as (keyof DesiredDelta)[]) for (const x of other[k] as Set<never>) (into[k] as Set<unknown>).add(x);
  return into;
}

/** How many keys a delta names, over all maps. */
export function deltaSize(d: DesiredDelta): number {
  return Object.values(d).reduce((n: number, s: Set<unknown>) => n + s.size, 0);
}

const LOCAL = 1;
const ANNOTATED = 2;
const HOST_PORTS = 4;

/**
 * What the compiler keeps of one pod. Six fields, the rest read from the pod
 * object or one bit field: 100,000 of them (~70 bytes each instead of ~100).
 */
class PodRec {
  constructor(
    readonly key: string,
    readonly obj: PodObject,
    /** Canonical, unique, in the pod's order. */
    readonly ips: readonly string[],
    /** Placement before address conflicts (hostNetwork pods: host). */
    readonly base: PodPlacement,
    readonly badIps: readonly SourceProblem[],
    private readonly bits: number,
  ) {}

  get ns(): string {
    return this.obj.metadata.namespace;
  }

  get host(): boolean {
    return this.obj.spec.hostNetwork;
  }

  /** It runs on this node. */
  get local(): boolean {
    return (this.bits & LOCAL) !== 0;
  }

  /** Its own annotations name a network (re-placed when networks change). */
  get annotated(): boolean {
    return (this.bits & ANNOTATED) !== 0;
  }

  get hostPorts(): boolean {
    return (this.bits & HOST_PORTS) !== 0;
  }
}

/** A secondary interface of a pod ("ns/pod@ifname", attachments.ts): a claim
 *  on addresses like a pod's, with its own placement. */
class AttRec {
  constructor(
    readonly key: string,
    readonly pod: string,
    readonly ips: readonly string[],
    readonly base: PodPlacement,
    readonly local: boolean,
  ) {}

  get host(): boolean {
    return false;
  }

  get badIps(): readonly SourceProblem[] {
    return NO_PROBLEMS;
  }
}

/** What claims addresses: a pod's primary interface or a secondary one. */
type ClaimRec = PodRec | AttRec;

/** A pod without bad addresses (nearly all) shares this instead of an empty array of its own. */
const NO_PROBLEMS: readonly SourceProblem[] = Object.freeze([]);



const HOST_PLACEMENT: PodPlacement = Object.freeze({ kind: 'host', why: 'hostNetwork pod: its addresses are node addresses' });
const HOST_EP: DesiredEndpoint = { vrfId: 0, flags: VW_EP_HOST, ifindex: 0 };
const THIS_NODE_EP: DesiredEndpoint = { vrfId: 0, flags: VW_EP_HOST | VW_EP_THIS_NODE, ifindex: 0 };

// Most endpoints hold one of a few values (a network's VRF, flags, no local
// interface): one shared, frozen object per distinct value instead of one per
// address (~40 bytes each at 100,000 pods). Bounded: starts over past this.
const endpointShared = new Map<string, DesiredEndpoint>();
const ENDPOINT_SHARED_MAX = 65_536;
function sharedEndpoint(ep: DesiredEndpoint): DesiredEndpoint {
  const k = `${ep.vrfId}/${ep.flags}/${ep.ifindex}`;
  const have = endpointShared.get(k);
  if (have !== undefined) return have;
  if (endpointShared.size >= ENDPOINT_SHARED_MAX) endpointShared.clear();
  const frozen = Object.isFrozen(ep) ? ep : Object.freeze({ vrfId: ep.vrfId, flags: ep.flags, ifindex: ep.ifindex });
  endpointShared.set(k, frozen);
  return frozen;
}

export class IncrementalCompiler {
  private state: ClusterState | undefined;
  private readonly ranges: ClusterRanges;
  private readonly baseCidrs: Map<string, number>;
  private readonly configProblems: SourceProblem[] = [];
  private cluster: ClusterPart;

  // ---- the desired maps (DesiredState, kept in place) ----
  private readonly endpoints = new Map<string, DesiredEndpoint>();
  private readonly cidrs = new Map<string, number>();
  private readonly attach = new Map<string, number[]>();
  private readonly ports: PortMacs = new Map();
  private readonly services = new Map<string, DesiredServiceEntry>();
  private readonly backends = new Map<string, DesiredServiceEntry>();
  private readonly serviceAccess = new Map<string, ServiceAccess>();
  private readonly placements = new Map<string, PodPlacement>();
  /** one copy of each distinct placement (most pods share their namespace's) */
  private readonly placementsShared = new PlacementInterner();
  /** NetworkPolicy's maps (empty with no policy) */
  private readonly policy = new Map<string, PolicyValue>();
  private readonly policyCidrs = new Map<string, PolicyValue>();
  private policyInfo: PolicyInfo = emptyPolicyInfo();
  private policyProblems: SourceProblem[] = [];
  /** the last update had policy state (so a removal clears it once) */
  private policyWasActive = false;

  // ---- pods ----
  private readonly pods = new Map<string, PodRec>();
  private readonly podsByNs = new Map<string, Set<string>>();
  /** address -> pods (own network stack) claiming it */
  private readonly claimants = new Multimap<string>();
  /** address -> how many nodes and host-network pods have it */
  private readonly hostCount = new Map<string, number>();
  private readonly hostAddrs = new Set<string>();
  /** address -> how many of this node's own (its Node, host-network pods on it) have it: VW_EP_THIS_NODE */
  private readonly thisNodeCount = new Map<string, number>();
  private readonly nodeAddrs = new Map<string, string[]>();
  private readonly nodeProblems = new Map<string, SourceProblem[]>();
  private readonly annotatedPods = new Set<string>();
  /** pods with a Multus annotation (their attachments read NADs and networks) */
  private readonly multusPods = new Set<string>();
  /** "ns/pod@ifname" -> the secondary interface */
  private readonly atts = new Map<string, AttRec>();
  /** pod -> its attachments' keys */
  private readonly attsOf = new Map<string, readonly string[]>();
  /** pod -> its secondary interfaces (DesiredState.attachments) */
  private readonly attachments = new Map<string, AttachedInterface[]>();
  /** pod -> what its Multus annotations got wrong */
  private readonly attProblems = new Map<string, SourceProblem[]>();
  /** pods of this node with their own network stack */
  private readonly localKeys = new Set<string>();
  private readonly hostPortPods = new Set<string>();
  private readonly podProblems = new Map<string, SourceProblem[]>();
  private ifByIp = new Map<string, number>();
  private macs: PortMacs = new Map();
  /** ifindex -> local pods attached on it */
  private readonly attachOwners = new Map<number, Set<string>>();

  // ---- Services ----
  private readonly svcResults = new Map<string, ServiceResult>();
  private readonly svcProblems = new Map<string, SourceProblem[]>();
  private readonly servicesByNs = new Map<string, Set<string>>();
  private readonly slicesOf = new Map<string, Set<string>>();
  private readonly sliceService = new Map<string, string>();
  private readonly svcByIp = new Multimap<string>();
  private readonly svcByNet = new Map<string, Set<string>>();
  private readonly unchecked = new Set<string>();
  private readonly backendOwners = new Map<string, Map<string, DesiredServiceEntry>>();
  private readonly backendAddrs = new Map<string, number>();
  private readonly vipCount = new Map<string, number>();
  private readonly vipProblems = new Map<string, SourceProblem>();

  // ---- frontend claims (Services' and hostPorts') ----
  private readonly claims = new ClaimIndex();
  private readonly hostPortProblems = new Map<string, SourceProblem[]>();

  constructor(
    private readonly config: ClusterConfig,
    allocation: VrfAllocation,
  ) {
    this.baseCidrs = clusterCidrs(config, this.configProblems);
    this.ranges = clusterRanges(this.baseCidrs);
    this.cluster = emptyClusterPart(allocation);
  }

  /** The desired maps as compile() would give them for the last update's
   *  inputs. The maps are live: the next update changes them in place. */
  desired(): DesiredState {
    const problems: SourceProblem[] = [...this.configProblems, ...this.cluster.problems];
    for (const m of [this.nodeProblems, this.podProblems, this.attProblems, this.hostPortProblems, this.svcProblems]) for (const ps of m.values()) problems.push(...ps);
    for (const p of this.vipProblems.values()) problems.push(p);
    problems.push(...this.claims.problems());
    problems.push(...this.policyProblems);
    return {
      endpoints: this.endpoints,
      vrfPairs: this.cluster.vrfPairs,
      networks: this.cluster.networkFlags,
      cidrs: this.cidrs,
      attach: this.attach,
      ports: this.ports,
      services: this.services,
      backends: this.backends,
      serviceAccess: this.serviceAccess,
      placements: this.placements,
      attachments: this.attachments,
      allocation: this.cluster.allocation,
      policy: this.policy,
      policyCidrs: this.policyCidrs,
      policyInfo: this.policyInfo,
      problems,
    };
  }

  /** The state of the last update. */
  get lastState(): ClusterState | undefined {
    return this.state;
  }

  get allocation(): VrfAllocation {
    return this.cluster.allocation;
  }

  /** Local pods' interfaces ("ns/name", and "ns/name@ifname" for secondary
   *  ones) with their canonical addresses: one interface each. */
  localPods(): Map<string, readonly string[]> {
    const out = new Map<string, readonly string[]>();
    for (const key of this.localKeys) {
      const rec = this.pods.get(key);
      if (rec !== undefined && rec.ips.length > 0) out.set(key, rec.ips);
      for (const a of this.attsOf.get(key) ?? []) {
        const att = this.atts.get(a);
        if (att !== undefined && att.ips.length > 0) out.set(a, att.ips);
      }
    }
    return out;
  }

  /** Local secondary interfaces ("ns/name@ifname") -> their NetworkAttachmentDefinition ("ns/name"), where network-status names one. */
  localAttachmentNads(): Map<string, string> {
    const out = new Map<string, string>();
    for (const key of this.localKeys) for (const a of this.attachments.get(key) ?? []) if (a.nad !== undefined) out.set(a.key, a.nad);
    return out;
  }

  /**
   * Bring the desired maps to `state`. `changed`: the objects that differ
   * from the previous update's state ("all": every object, as on the first
   * update). `interfaces` and `macs` as for compile().
   */
  update(state: ClusterState, changed: readonly ObjectRef[] | 'all', interfaces: InterfaceIndex, macs: PortMacs = new Map()): DesiredDelta {
    const delta = emptyDelta();
    const prevState = this.state;
    this.state = state;
    const w = new Work();
    if (prevState === undefined) {
      // The ranges come from the configuration: in from the first update on.
      for (const [c, k] of this.baseCidrs) if (!this.cidrs.has(c)) this.cidrs.set(c, k);
      for (const c of this.baseCidrs.keys()) delta.cidrs.add(c);
    }
    if (changed === 'all' || prevState === undefined) {
      w.cluster = true;
      const keys = (m: ReadonlyMap<string, unknown> | undefined): string[] => [...(m?.keys() ?? [])];
      for (const k of new Set([...keys(prevState?.namespaces), ...keys(state.namespaces)])) w.namespaces.add(k);
      for (const k of new Set([...keys(prevState?.pods), ...keys(state.pods)])) w.pods.add(k);
      for (const k of new Set([...keys(prevState?.nodes), ...keys(state.nodes)])) w.nodes.add(k);
      for (const k of new Set([...keys(prevState?.services), ...keys(state.services)])) w.services.add(k);
      for (const k of new Set([...keys(prevState?.endpointSlices), ...keys(state.endpointSlices)])) w.slices.add(k);
    } else {
      for (const c of changed) {
        switch (c.kind) {
          case 'Namespace':
            w.cluster = true;
            w.namespaces.add(c.key);
            break;
          case 'VirtualNetwork':
          case 'VirtualNetworkRouter':
            w.cluster = true;
            break;
          case 'Node':
            w.nodes.add(c.key);
            break;
          case 'Pod':
            w.pods.add(c.key);
            break;
          case 'Service':
            w.services.add(c.key);
            break;
          case 'EndpointSlice':
            w.slices.add(c.key);
            break;
          case 'NetworkAttachmentDefinition':
            w.nads = true;
            break;
        }
      }
    }

    if (w.cluster) this.updateCluster(state, w, delta);
    // Attachments read NADs, networks and VirtualNetworks' subnets: few pods have any.
    if (w.cluster || w.nads) for (const p of this.multusPods) w.pods.add(p);
    // Pods are indexed by their namespace's name, whether it exists or not.
    for (const ns of w.namespaces) {
      for (const p of this.podsByNs.get(ns) ?? []) w.pods.add(p);
      for (const s of this.servicesByNs.get(ns) ?? []) w.services.add(s);
    }
    for (const key of w.slices) this.updateSlice(key, state.endpointSlices.get(key), w);
    for (const node of w.nodes) this.updateNode(node, state, w);
    for (const key of w.pods) this.updatePod(key, state, w);
    this.updateInterfaces(interfaces, macs, w);

    if (w.hostAddrsChanged) {
      // Frontend addresses are refused or accepted by whether they are a node's.
      for (const [key, obj] of state.services) if (obj.spec.externalIPs.length > 0 || obj.spec.loadBalancerIPs.length > 0) w.services.add(key);
    }
    // Every pod claiming a touched address may change (conflicts).
    for (const ip of w.ips) {
      w.endpointIps.add(ip);
      for (const p of this.claimants.values(ip)) w.finalPods.add(p);
      for (const s of this.svcByIp.values(ip)) w.services.add(s);
    }
    for (const key of w.finalPods) this.finishPod(key, w, delta);
    // Placements decided: what hostPorts and Services read of pods is settled.
    for (const key of w.placed) {
      const rec = this.claimRec(key);
      for (const ip of rec?.ips ?? []) for (const s of this.svcByIp.values(ip)) w.services.add(s);
    }
    if (w.allHostPorts) for (const p of this.hostPortPods) w.hostPortPods.add(p);
    for (const key of w.hostPortPods) this.updateHostPorts(key, w);
    for (const key of w.services) this.updateServiceMarkers(key, state, w);
    // Backends that are frontends answer nobody: a changed set of frontends rejudges them.
    if (w.markersChanged) for (const s of this.unchecked) w.services.add(s);
    for (const key of w.services) this.updateService(key, state, w, delta);
    for (const owner of this.claims.resolve(this.services, delta.services)) {
      const svc = /^Service (\S+)$/.exec(owner)?.[1];
      if (svc !== undefined) w.accessOf.add(svc);
    }
    for (const key of w.accessOf) this.refreshAccess(key, delta);
    for (const ip of w.endpointIps) this.refreshEndpoint(ip, delta);
    // A recomputed Service drops and takes back its outside ClusterIP's range: no change.
    if (prevState !== undefined) for (const [c, before] of w.cidrsBefore) if (this.cidrs.get(c) === before) delta.cidrs.delete(c);
    this.updatePolicy(state, prevState === undefined ? 'all' : changed, delta);
    return delta;
  }

  // ---- NetworkPolicy ------------------------------------------------------

  /**
   * NetworkPolicy's maps and endpoint fields, recomputed whole (netpol.ts,
   * as compile() does) whenever policies exist, and diffed into the delta.
   * No policy before and now: nothing runs.
   */
  private updatePolicy(state: ClusterState, changed: readonly ObjectRef[] | 'all', delta: DesiredDelta): void {
    const enabled = this.config.networkPolicy !== false;
    const active = policyActive(state, enabled);
    if (!active && !this.policyWasActive) {
      this.policyInfo = this.policyInfo.enabled === enabled ? this.policyInfo : emptyPolicyInfo(enabled);
      return;
    }
    // Policy reads pods, namespaces, policies, Services and slices (ClusterIPs) directly, and the rest only through
    // the endpoints (which are pods, local, quarantined): nothing of those changed, nothing to recompute.
    if (active && this.policyWasActive && changed !== 'all' && delta.endpoints.size === 0 && !changed.some((c) => POLICY_INPUTS.has(c.kind))) return;
    const pol = compilePolicy({ state, endpoints: this.endpoints, nodeName: this.config.nodeName, enabled, previous: this.policyInfo });
    replaceMap(this.policy, pol.policy, delta.policy);
    replaceMap(this.policyCidrs, pol.policyCidrs, delta.policyCidrs);
    applyEndpointPolicy(this.endpoints, pol.fields, delta.endpoints);
    this.policyInfo = pol.info;
    this.policyProblems = pol.problems;
    this.policyWasActive = active;
  }

  // ---- the cluster-wide part ----------------------------------------------

  private updateCluster(state: ClusterState, w: Work, delta: DesiredDelta): void {
    const old = this.cluster;
    const next = clusterPart(state, old.allocation);
    const { allocation, externalDenied, networks, noPods, nsAnnotated } = next;
    this.cluster = next;

    for (const [name, id] of Object.entries(old.allocation.ids)) {
      const now = allocation.ids[name];
      if (now !== undefined && now !== id) w.everything = true; // a repaired allocation: start over
    }
    if (w.everything) {
      for (const k of this.pods.keys()) w.pods.add(k);
      for (const k of state.pods.keys()) w.pods.add(k);
      for (const k of this.svcResults.keys()) w.services.add(k);
      for (const k of state.services.keys()) w.services.add(k);
      w.allHostPorts = true;
    }
    diffSets(old.vrfPairs, next.vrfPairs, delta.vrfPairs);
    diffMaps(old.networkFlags, next.networkFlags, delta.networks);

    // Where pods go reads the set of networks (and namespace names, for
    // legacy annotations) only through network annotations.
    if (!sameSet(old.networks, networks) || !sameSet(old.noPods, noPods) || !sameSet(old.nsNames, next.nsNames)) {
      for (const p of this.annotatedPods) w.pods.add(p);
      for (const ns of new Set([...old.nsAnnotated, ...nsAnnotated])) w.namespaces.add(ns);
    }
    // Namespaces new to the cluster: their pods were placed without them.
    for (const ns of next.nsNames) if (!old.nsNames.has(ns)) w.namespaces.add(ns);
    for (const ns of old.nsNames) if (!next.nsNames.has(ns)) w.namespaces.add(ns);

    // Who reaches a network's pods (podClients): its id and its router peers' ids.
    const nets = new Set([...Object.keys(old.allocation.ids), ...Object.keys(allocation.ids), ...old.routed.keys(), ...next.routed.keys()]);
    let reachChanged = false;
    for (const net of nets) {
      if (reachOf(old, net) === reachOf(next, net)) continue;
      reachChanged = true;
      for (const s of this.svcByNet.get(net) ?? []) w.services.add(s);
    }
    if (reachChanged) w.allHostPorts = true;
    // Outside backends are reachable from every network that may go outside:
    // any new or removed network, any changed external setting. (The ids a
    // Service's access names otherwise are its backend networks and their
    // router peers: the reach signature above.)
    if (!sameRecord(old.allocation.ids, allocation.ids) || !sameSet(old.externalDenied, externalDenied)) {
      for (const s of this.unchecked) w.services.add(s);
    }
  }

  // ---- nodes and pods ------------------------------------------------------

  private updateNode(name: string, state: ClusterState, w: Work): void {
    const old = this.nodeAddrs.get(name) ?? [];
    const node = state.nodes.get(name);
    const problems: SourceProblem[] = [];
    const now: string[] = [];
    for (const a of node?.addresses ?? []) {
      const c = canonicalIp(a);
      if (c !== undefined) now.push(c);
      else problems.push({ source: `Node ${name}`, message: `address ${JSON.stringify(a)} is not an IP address` });
    }
    setOrDelete(this.nodeProblems, name, problems);
    if (node === undefined) this.nodeAddrs.delete(name);
    else this.nodeAddrs.set(name, now);
    const own = name === this.config.nodeName;
    for (const ip of old) this.hostAddr(ip, -1, w, own);
    for (const ip of now) this.hostAddr(ip, +1, w, own);
    // hostPorts bind node addresses; frontends refuse or accept by them.
    w.allHostPorts = true;
  }

  private hostAddr(ip: string, d: number, w: Work, thisNode: boolean): void {
    if (thisNode) {
      const t = (this.thisNodeCount.get(ip) ?? 0) + d;
      if (t > 0) this.thisNodeCount.set(ip, t);
      else this.thisNodeCount.delete(ip);
      if (t > 0 !== t - d > 0) {
        w.ips.add(ip);
        w.endpointIps.add(ip);
      }
    }
    const n = (this.hostCount.get(ip) ?? 0) + d;
    if (n > 0) this.hostCount.set(ip, n);
    else this.hostCount.delete(ip);
    const was = this.hostAddrs.has(ip);
    if (was === n > 0) return;
    if (n > 0) this.hostAddrs.add(ip);
    else this.hostAddrs.delete(ip);
    w.ips.add(ip);
    w.endpointIps.add(ip);
    w.hostAddrsChanged = true;
    w.allHostPorts = true;
  }

  private updatePod(key: string, state: ClusterState, w: Work): void {
    const old = this.pods.get(key);
    const obj = state.pods.get(key);
    if (old !== undefined && old.obj === obj && !w.namespaces.has(old.ns) && !w.cluster && !w.nads) return;
    if (old !== undefined) this.servicesSelecting(old, w);
    if (obj === undefined) {
      if (old !== undefined) this.unindexPod(old, w, undefined);
      this.pods.delete(key);
      this.setAttachments(key, undefined, state, w);
      w.finalPods.add(key);
      return;
    }
    const ns = obj.metadata.namespace;
    const badIps: SourceProblem[] = [];
    const canonical = canonicalPodIps(obj, badIps);
    // Already canonical (as sources give them): share the pod's own array and strings.
    const raw = obj.status.podIPs;
    const ips = canonical.length === raw.length && canonical.every((ip, i) => ip === raw[i]) ? raw : canonical;
    const ctx: PlacementContext = { networks: this.cluster.networks, noPods: this.cluster.noPods, namespaces: this.cluster.nsNames };
    const rec = new PodRec(
      key,
      obj,
      ips,
      obj.spec.hostNetwork ? HOST_PLACEMENT : this.placementsShared.intern(placePod(obj, state.namespaces.get(ns), ctx)),
      badIps.length > 0 ? badIps : NO_PROBLEMS,
      (obj.spec.nodeName === this.config.nodeName ? LOCAL : 0) | (hasNetworkAnnotation(obj.metadata) ? ANNOTATED : 0) | (publishesHostPorts(obj) ? HOST_PORTS : 0),
    );
    if (old !== undefined) this.unindexPod(old, w, rec);
    this.pods.set(key, rec);
    this.indexPod(rec, w);
    this.servicesSelecting(rec, w);
    this.setAttachments(key, rec, state, w);
    w.finalPods.add(key);
  }

  /** The pod's secondary interfaces, from its annotations (none when `rec` is undefined: the pod is gone). */
  private setAttachments(key: string, rec: PodRec | undefined, state: ClusterState, w: Work): void {
    const multus = rec !== undefined && hasMultusAnnotation(rec.obj);
    if (!multus && !this.multusPods.has(key)) return;
    for (const a of this.attsOf.get(key) ?? []) {
      const old = this.atts.get(a);
      for (const ip of old?.ips ?? []) {
        this.claimants.delete(ip, a);
        w.ips.add(ip);
      }
      this.atts.delete(a);
      w.finalPods.add(a);
    }
    this.attsOf.delete(key);
    this.attachments.delete(key);
    this.attProblems.delete(key);
    this.multusPods.delete(key);
    if (rec === undefined || !multus) return;
    this.multusPods.add(key);
    const ctx: AttachmentContext = {
      networks: this.cluster.networks,
      noPods: this.cluster.noPods,
      namespaces: this.cluster.nsNames,
      attachmentDefinitions: state.attachmentDefinitions,
      virtualNetworks: state.virtualNetworks,
      podCIDRs: this.config.podCIDRs,
    };
    const r = podAttachments(rec.obj, ctx);
    setOrDelete(this.attProblems, key, r.problems);
    const keys: string[] = [];
    for (const a of r.attachments) {
      this.atts.set(a.key, new AttRec(a.key, key, a.ips, this.placementsShared.intern(a.placement), rec.local));
      keys.push(a.key);
      for (const ip of a.ips) {
        this.claimants.add(ip, a.key);
        w.ips.add(ip);
      }
      w.finalPods.add(a.key);
    }
    if (keys.length > 0) {
      this.attsOf.set(key, keys);
      this.attachments.set(key, r.attachments.map(attachedInterface));
    }
  }

  /** A secondary claim its attachment placed in a network, before address conflicts (losesClaim). */
  private readonly placedByAttachment = (key: string): boolean => this.atts.get(key)?.base.kind === 'network';

  /** The record of a claim key: a pod's ("ns/pod") or a secondary interface's ("ns/pod@ifname"). */
  private claimRec(key: string): ClaimRec | undefined {
    return key.includes('@') ? this.atts.get(key) : this.pods.get(key);
  }

  private indexPod(rec: PodRec, w: Work): void {
    addTo(this.podsByNs, rec.ns, rec.key);
    if (rec.annotated) this.annotatedPods.add(rec.key);
    if (rec.local && !rec.host) this.localKeys.add(rec.key);
    if (rec.hostPorts) this.hostPortPods.add(rec.key);
    if (rec.hostPorts) w.hostPortPods.add(rec.key);
    for (const ip of rec.ips) {
      w.ips.add(ip);
      if (rec.host) this.hostAddr(ip, +1, w, rec.local);
      else this.claimants.add(ip, rec.key);
    }
  }

  /** `rec` out of the indexes, except the entries `next` (the pod's new
   *  record, indexed right after) keeps: deleting and adding back the same key
   *  leaves a hole in a Map's table, and at 100,000 pods a few changes of
   *  every pod double the tables. */
  private unindexPod(rec: PodRec, w: Work, next: PodRec | undefined): void {
    if (next?.ns !== rec.ns) removeFrom(this.podsByNs, rec.ns, rec.key);
    if (next?.annotated !== true) this.annotatedPods.delete(rec.key);
    if (next === undefined || !next.local || next.host) this.localKeys.delete(rec.key);
    if (next?.hostPorts !== true) this.hostPortPods.delete(rec.key);
    if (rec.hostPorts) w.hostPortPods.add(rec.key);
    for (const ip of rec.ips) {
      w.ips.add(ip);
      if (rec.host) this.hostAddr(ip, -1, w, rec.local);
      else if (next === undefined || next.host || !next.ips.includes(ip)) this.claimants.delete(ip, rec.key);
    }
  }

  /** Services of the pod's namespace whose selector picks it (their endpoints
   *  are derived from pods). A changed Service is recomputed anyway, so its
   *  current selector is the one to ask. */
  private servicesSelecting(rec: PodRec, w: Work): void {
    const picks = (sel: Record<string, string> | undefined): boolean =>
      sel !== undefined && Object.keys(sel).length > 0 && mapSelectorMatches(sel, rec.obj.metadata.labels);
    for (const s of this.servicesByNs.get(rec.ns) ?? []) {
      if (picks(this.state?.services.get(s)?.spec.selector)) w.services.add(s);
    }
  }

  private updateInterfaces(interfaces: InterfaceIndex, macs: PortMacs, w: Work): void {
    const ifByIp = new Map<string, number>();
    for (const [ip, ifindex] of interfaces) {
      const c = canonicalIp(ip);
      if (c !== undefined) ifByIp.set(c, ifindex);
    }
    for (const [ip, i] of ifByIp) if (this.ifByIp.get(ip) !== i) for (const p of this.claimants.values(ip)) w.finalPods.add(p);
    for (const [ip, i] of this.ifByIp) if (ifByIp.get(ip) !== i) for (const p of this.claimants.values(ip)) w.finalPods.add(p);
    this.ifByIp = ifByIp;
    const touched = new Set<number>();
    for (const [i, mac] of macs) if (this.macs.get(i) !== mac) touched.add(i);
    for (const i of this.macs.keys()) if (!macs.has(i)) touched.add(i);
    this.macs = new Map(macs);
    for (const i of touched) for (const p of this.attachOwners.get(i) ?? []) w.finalPods.add(p);
  }

  /** Final placement (address conflicts), attach, bridge ports, problems of one pod. */
  private finishPod(key: string, w: Work, delta: DesiredDelta): void {
    const rec = this.claimRec(key);
    const oldPlacement = this.placements.get(key);
    const oldAttach = this.attach.get(key);
    if (rec === undefined) {
      this.placements.delete(key);
      this.podProblems.delete(key);
      this.setAttach(key, undefined, w, delta);
    } else {
      const placement = rec.host ? rec.base : (this.conflictOf(rec) ?? rec.base);
      this.placements.set(key, placement);
      const problems: SourceProblem[] = [...rec.badIps];
      if (placement.kind === 'quarantine') problems.push({ source: `Pod ${key}`, message: `quarantined: ${placement.why}` });
      let ifs: number[] | undefined;
      if (!rec.host && rec.local) {
        const set = new Set<number>();
        for (const ip of rec.ips) {
          const i = this.ifByIp.get(ip);
          if (i !== undefined) set.add(i);
        }
        if (set.size > 0) ifs = [...set].sort((a, b) => a - b);
      }
      this.setAttach(key, ifs, w, delta);
      for (const i of ifs ?? []) {
        if (this.macs.get(i) === VW_NO_MAC) {
          problems.push({ source: `Pod ${key}`, message: 'its addresses resolve to different MACs on its bridge port: nothing it sends passes' });
        }
      }
      setOrDelete(this.podProblems, key, problems);
      for (const ip of rec.ips) w.endpointIps.add(ip);
    }
    const now = this.placements.get(key);
    if (!samePlacement(oldPlacement, now)) {
      delta.placements.add(key);
      w.placed.add(key);
      if (rec instanceof PodRec && rec.hostPorts) w.hostPortPods.add(key);
    }
    if (!sameNumbers(oldAttach, this.attach.get(key))) delta.attach.add(key);
  }

  /** Quarantine for an address that is a host address or claimed by several pods (compile's quarantineAddressConflicts). */
  private conflictOf(rec: ClaimRec): PodPlacement | undefined {
    const whys: { order: [string, number]; why: string }[] = [];
    for (const ip of rec.ips) {
      const all = this.claimants.sorted(ip);
      let why: string | undefined;
      if (this.hostAddrs.has(ip)) why = `IP ${ip} is a node or host-network address`;
      else if (all.length > 1 && losesClaim(rec.key, all, this.placedByAttachment)) why = `IP ${ip} is also claimed by pod ${all.filter((k) => k !== rec.key).join(', ')}`;
      if (why === undefined) continue;
      // compile() lists reasons in the order the addresses were first met:
      // by the first claimant (pods in key order), then its address order.
      const first = all[0] ?? rec.key;
      const firstIps = this.claimRec(first)?.ips ?? rec.ips;
      whys.push({ order: [first, firstIps.indexOf(ip)], why });
    }
    if (whys.length === 0) return undefined;
    whys.sort((a, b) => compareText(a.order[0], b.order[0]) || a.order[1] - b.order[1]);
    return { kind: 'quarantine', why: whys.map((x) => x.why).join('; ') };
  }

  private setAttach(key: string, ifs: number[] | undefined, w: Work, delta: DesiredDelta): void {
    const old = this.attach.get(key);
    if (sameNumbers(old, ifs)) {
      // Same interfaces; a MAC may still have changed.
      for (const i of ifs ?? []) this.refreshPort(i, w, delta);
      return;
    }
    for (const i of old ?? []) removeFrom(this.attachOwners, i, key);
    if (ifs === undefined) this.attach.delete(key);
    else this.attach.set(key, ifs);
    for (const i of ifs ?? []) addTo(this.attachOwners, i, key);
    for (const i of new Set([...(old ?? []), ...(ifs ?? [])])) this.refreshPort(i, w, delta);
  }

  /** ports: every attached interface with a known MAC (compile's bridgePorts). */
  private refreshPort(i: number, w: Work, delta: DesiredDelta): void {
    const mac = (this.attachOwners.get(i)?.size ?? 0) > 0 ? this.macs.get(i) : undefined;
    if (this.ports.get(i) === mac) return;
    if (mac === undefined) this.ports.delete(i);
    else this.ports.set(i, mac);
    delta.ports.add(i);
    // PTP on the endpoints of that interface.
    for (const p of this.attachOwners.get(i) ?? []) for (const ip of this.claimRec(p)?.ips ?? []) w.endpointIps.add(ip);
    for (const [ip, ifindex] of this.ifByIp) if (ifindex === i) w.endpointIps.add(ip);
  }

  private refreshEndpoint(ip: string, delta: DesiredDelta): void {
    const old = this.endpoints.get(ip);
    const now = this.endpointOf(ip);
    if (old === now || (old !== undefined && now !== undefined && old.vrfId === now.vrfId && old.flags === now.flags && old.ifindex === now.ifindex)) return;
    if (now === undefined) this.endpoints.delete(ip);
    else this.endpoints.set(ip, sharedEndpoint(now));
    delta.endpoints.add(ip);
  }

  private endpointOf(ip: string): DesiredEndpoint | undefined {
    if (this.hostAddrs.has(ip)) return this.thisNodeCount.has(ip) ? THIS_NODE_EP : HOST_EP;
    if (this.claimants.size(ip) === 0) return undefined;
    let chosen: DesiredEndpoint | undefined;
    const all = this.claimants.sorted(ip);
    // A pod's own address: secondary interfaces' claims on it make no endpoint (compile's ownIps); nor does a
    // secondary claim that lost the address to another (claimWinner).
    const owned = all.some((k) => !isSecondaryClaim(k));
    const winner = !owned && all.length > 1 ? claimWinner(all, this.placedByAttachment) : undefined;
    for (const key of all) {
      if (owned && isSecondaryClaim(key)) continue;
      if (winner !== undefined && winner !== key) continue;
      const rec = this.claimRec(key);
      if (rec === undefined) continue;
      const placement = this.placements.get(key);
      const ifindex = rec.local ? this.ifByIp.get(ip) : undefined;
      const vrfId = placement?.kind === 'network' ? this.cluster.allocation.ids[placement.network] : undefined;
      const localBits = ifindex !== undefined ? VW_EP_LOCAL : 0;
      const ep: DesiredEndpoint =
        vrfId === undefined
          ? { vrfId: 0, flags: VW_EP_QUARANTINE | localBits, ifindex: ifindex ?? 0 }
          : { vrfId, flags: localBits, ifindex: ifindex ?? 0 };
      // As compile(): the first local claimant stays, else the last one.
      if (chosen === undefined || (chosen.flags & VW_EP_LOCAL) === 0) chosen = ep;
    }
    if (chosen === undefined) return undefined;
    let flags = chosen.flags;
    if ((flags & VW_EP_LOCAL) !== 0 && !this.ports.has(chosen.ifindex)) flags |= VW_EP_PTP;
    if (!this.backendAddrs.has(ip)) flags |= VW_EP_NO_BACKEND;
    return flags === chosen.flags ? chosen : { ...chosen, flags };
  }

  // ---- Services ------------------------------------------------------------

  private updateSlice(key: string, slice: EndpointSliceObject | undefined, w: Work): void {
    const old = this.sliceService.get(key);
    if (old !== undefined) {
      removeFrom(this.slicesOf, old, key);
      w.services.add(old);
    }
    if (slice === undefined) {
      this.sliceService.delete(key);
      return;
    }
    const svc = `${slice.metadata.namespace}/${slice.serviceName}`;
    this.sliceService.set(key, svc);
    addTo(this.slicesOf, svc, key);
    w.services.add(svc);
  }

  private context(): ServiceContext {
    return {
      allocation: this.cluster.allocation,
      externalDenied: this.cluster.externalDenied,
      hostAddrs: this.hostAddrs,
      ranges: this.ranges,
      claimantsOf: (ip) => (this.claimants.size(ip) === 0 ? undefined : this.claimants.sorted(ip)),
      placementOf: (pod) => this.placements.get(pod),
      routed: this.cluster.routed,
      frontends: this.claims.frontends,
      open: this.cluster.open,
    };
  }

  /** The Service's marker claims (its frontends outside the service ranges): what other Services' backends are judged by. */
  private updateServiceMarkers(key: string, state: ClusterState, w: Work): void {
    const obj = state.services.get(key);
    const scratch: FrontendClaims = new Map();
    if (obj !== undefined && obj.spec.type !== 'ExternalName') {
      claimServiceFrontends(scratch, obj, [], { ranges: this.ranges, hostAddrs: this.hostAddrs }, () => undefined);
    }
    if (this.claims.setMarkers(`Service ${key}`, markerKeys(scratch))) w.markersChanged = true;
  }

  private updateHostPorts(key: string, w: Work): void {
    const owner = `Pod ${key}`;
    const rec = this.pods.get(key);
    const claims: FrontendClaims = new Map();
    const problems: SourceProblem[] = [];
    if (rec !== undefined && rec.hostPorts && this.state !== undefined) {
      const ctx = { allocation: this.cluster.allocation, routed: this.cluster.routed, open: this.cluster.open };
      claimPodHostPorts(
        claims,
        key,
        rec.obj,
        { state: this.state, placements: this.placements, ranges: this.ranges, hostAddrs: this.hostAddrs, reach: (net) => hostPortClients(net, ctx) },
        problems,
      );
    }
    setOrDelete(this.hostPortProblems, key, problems);
    if (this.claims.setMarkers(owner, markerKeys(claims))) w.markersChanged = true;
    this.claims.setClaims(owner, claims);
  }

  private updateService(key: string, state: ClusterState, w: Work, delta: DesiredDelta): void {
    const old = this.svcResults.get(key);
    const obj = state.services.get(key);
    if (old !== undefined) {
      for (const ip of old.deps.ips) this.svcByIp.delete(ip, key);
      for (const net of old.deps.networks) removeFrom(this.svcByNet, net, key);
      this.unchecked.delete(key);
      for (const vip of old.vips) this.vip(vip, -1, w, delta);
      this.setBackends(key, old.backends, undefined, w, delta);
      this.svcResults.delete(key);
    }
    const oldNs = this.svcNamespace.get(key);
    if (oldNs !== undefined) removeFrom(this.servicesByNs, oldNs, key);
    this.svcNamespace.delete(key);
    this.svcProblems.delete(key);
    w.accessOf.add(key);
    if (obj === undefined) {
      this.claims.setClaims(`Service ${key}`, new Map());
      return;
    }
    const ns = obj.metadata.namespace;
    addTo(this.servicesByNs, ns, key);
    this.svcNamespace.set(key, ns);
    const sliceKeys = this.slicesOf.get(key);
    const slices =
      sliceKeys === undefined || sliceKeys.size === 0
        ? undefined
        : [...sliceKeys].sort().map((k) => state.endpointSlices.get(k)).filter((s): s is EndpointSliceObject => s !== undefined);
    const problems: SourceProblem[] = [];
    const pods = [...(this.podsByNs.get(ns) ?? [])].map((p) => this.pods.get(p)?.obj).filter((p): p is PodObject => p !== undefined);
    const endpoints = endpointsOfService(obj, slices, pods, problems);
    if (endpoints === undefined) {
      setOrDelete(this.svcProblems, key, problems);
      this.claims.setClaims(`Service ${key}`, new Map());
      return;
    }
    const r = compileService(endpoints, obj, state.namespaces.get(ns), this.context());
    problems.push(...r.problems);
    setOrDelete(this.svcProblems, key, problems);
    this.svcResults.set(key, r);
    for (const ip of r.deps.ips) this.svcByIp.add(ip, key);
    for (const net of r.deps.networks) addTo(this.svcByNet, net, key);
    if (r.deps.unchecked) this.unchecked.add(key);
    for (const vip of r.vips) this.vip(vip, +1, w, delta);
    this.setBackends(key, undefined, r.backends, w, delta);
    this.claims.setClaims(`Service ${key}`, r.claims);
  }

  private readonly svcNamespace = new Map<string, string>();

  /** Rule-4 entries of one Service; across Services the first by key wins (as compile()'s writeEntries). */
  private setBackends(
    svc: string,
    old: Map<string, DesiredServiceEntry> | undefined,
    now: Map<string, DesiredServiceEntry> | undefined,
    w: Work,
    delta: DesiredDelta,
  ): void {
    const keys = new Set<string>();
    for (const k of old?.keys() ?? []) {
      removeFrom(this.backendOwners, k, svc);
      keys.add(k);
    }
    for (const [k, e] of now ?? []) {
      let owners = this.backendOwners.get(k);
      if (owners === undefined) this.backendOwners.set(k, (owners = new Map()));
      owners.set(svc, e);
      keys.add(k);
    }
    for (const k of keys) {
      const owners = this.backendOwners.get(k);
      let best: [string, DesiredServiceEntry] | undefined;
      for (const o of owners ?? []) if (best === undefined || o[0] < best[0]) best = o;
      const before = this.backends.get(k);
      const after = best?.[1];
      if (sameEntry(before, after)) continue;
      delta.backends.add(k);
      if (before !== undefined) this.backendAddr(before.addr, -1, w);
      if (after === undefined) this.backends.delete(k);
      else {
        this.backends.set(k, after);
        this.backendAddr(after.addr, +1, w);
      }
    }
  }

  private backendAddr(ip: string, d: number, w: Work): void {
    const n = (this.backendAddrs.get(ip) ?? 0) + d;
    if (n > 0) this.backendAddrs.set(ip, n);
    else this.backendAddrs.delete(ip);
    w.endpointIps.add(ip);
  }

  /** A ClusterIP outside the service ranges gets a host-length range (compile's coverVips). */
  private vip(vip: string, d: number, w: Work, delta: DesiredDelta): void {
    const was = (this.vipCount.get(vip) ?? 0) > 0;
    const n = (this.vipCount.get(vip) ?? 0) + d;
    if (n > 0) this.vipCount.set(vip, n);
    else this.vipCount.delete(vip);
    if (was === n > 0) return;
    const addr = ipaddr.parse(vip);
    const cidr = `${vip}/${addr.kind() === 'ipv4' ? 32 : 128}`;
    if (!w.cidrsBefore.has(cidr)) w.cidrsBefore.set(cidr, this.cidrs.get(cidr));
    if (n > 0) {
      if (this.serviceRangeCovers(addr)) return;
      this.cidrs.set(cidr, VW_CIDR_SERVICE);
      this.vipProblems.set(vip, { source: 'config', message: `ClusterIP ${vip} is outside the service CIDRs; covered by a host-length service range` });
    } else {
      if (!this.vipProblems.delete(vip)) return;
      const base = this.baseCidrs.get(cidr);
      if (base === undefined) this.cidrs.delete(cidr);
      else this.cidrs.set(cidr, base);
    }
    delta.cidrs.add(cidr);
  }

  private serviceRangeCovers(addr: ipaddr.IPv4 | ipaddr.IPv6): boolean {
    for (const [c, kind] of this.baseCidrs) {
      if (kind !== VW_CIDR_SERVICE) continue;
      const [net, len] = ipaddr.parseCIDR(c);
      if (net.kind() === addr.kind() && addr.match(net, len)) return true;
    }
    return false;
  }

  private refreshAccess(key: string, delta: DesiredDelta): void {
    const r = this.svcResults.get(key);
    const before = this.serviceAccess.get(key);
    let now: ServiceAccess | undefined;
    if (r !== undefined) {
      const problems = { ...r.access.problems };
      for (const [kind, n] of Object.entries(this.claims.conflictsOf(`Service ${key}`)) as [ServiceProblemKind, number][]) {
        problems[kind] = (problems[kind] ?? 0) + n;
      }
      now = { ...r.access, problems };
    }
    if (now === undefined) this.serviceAccess.delete(key);
    else this.serviceAccess.set(key, now);
    if (JSON.stringify(before) !== JSON.stringify(now)) delta.serviceAccess.add(key);
  }
}

/** What one update has to look at. */
class Work {
  cluster = false;
  everything = false;
  /** a NetworkAttachmentDefinition changed */
  nads = false;
  /** host-length ranges of outside ClusterIPs touched: their value before this update */
  readonly cidrsBefore = new Map<string, number | undefined>();
  readonly namespaces = new Set<string>();
  readonly nodes = new Set<string>();
  readonly pods = new Set<string>();
  readonly services = new Set<string>();
  readonly slices = new Set<string>();
  /** addresses whose owners changed */
  readonly ips = new Set<string>();
  /** pods whose final placement, attach and ports are recomputed */
  readonly finalPods = new Set<string>();
  /** pods whose placement changed */
  readonly placed = new Set<string>();
  readonly endpointIps = new Set<string>();
  readonly hostPortPods = new Set<string>();
  allHostPorts = false;
  hostAddrsChanged = false;
  markersChanged = false;
  readonly accessOf = new Set<string>();
}






function sameRecord(a: Record<string, number>, b: Record<string, number>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => b[k] === a[k]);
}



function sameNumbers(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function samePlacement(a: PodPlacement | undefined, b: PodPlacement | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.kind === b.kind && a.why === b.why && (a.kind !== 'network' || (b.kind === 'network' && a.network === b.network));
}



/** The kinds NetworkPolicy's compile reads directly (netpol.ts). */
const POLICY_INPUTS: ReadonlySet<string> = new Set(['NetworkPolicy', 'Namespace', 'Pod', 'Service', 'EndpointSlice', 'Node']);

/** `into` := `next` (in place); keys added, changed or removed go to `changed`. */
function replaceMap(into: Map<string, PolicyValue>, next: ReadonlyMap<string, PolicyValue>, changed: Set<string>): void {
  for (const k of into.keys()) {
    if (!next.has(k)) {
      into.delete(k);
      changed.add(k);
    }
  }
  for (const [k, v] of next) {
    const had = into.get(k);
    if (had !== undefined && policyValueEquals(had, v)) continue;
    into.set(k, v);
    changed.add(k);
  }
}
