// The compile step: cluster state -> the map contents the datapath should
// have. Pure (no I/O, no clock), deterministic for equal inputs.
import type { PolicyInfo } from './policy-types.js';
import { applyEndpointPolicy, compilePolicy } from './netpol.js';
import {
  VW_CIDR_POD,
  VW_CIDR_SERVICE,
  VW_EP_HOST,
  VW_EP_THIS_NODE,
  VW_EP_LOCAL,
  VW_EP_NO_BACKEND,
  VW_EP_PTP,
  VW_EP_QUARANTINE,
  VW_NET_EXTERNAL_DENY,
  VW_NO_MAC,
} from '../kernel/abi.js';
import { canonicalCidr, canonicalIp } from './ip.js';
import { attachedInterface, podAttachments, type AttachmentContext } from './attachments.js';
import { implicitNetworks, isolatedNetworkOf, namespaceIsolation, placePod, type PlacementContext } from './placement.js';
import { routerPairs } from './routers.js';
import { serviceMaps } from './servicemaps.js';
import {
  DEFAULT_NETWORK,
  type AttachedInterface,
  type ClusterConfig,
  type ClusterState,
  type DesiredEndpoint,
  type DesiredServiceEntry,
  type DesiredState,
  type InterfaceIndex,
  type NamespaceObject,
  type PodObject,
  type PodPlacement,
  type PortMacs,
  type SourceProblem,
  type VrfAllocation,
} from './types.js';
import { allocateVrfs } from './vrf.js';
import { modeFlags, networkModes, type NetworkModes } from './enforcement.js';
import ipaddr from 'ipaddr.js';
import { compareText } from '../util/order.js';

/** Namespace label or annotation: may an isolated network reach addresses
 *  outside the cluster? "allow" (default) or "deny". */
export const EXTERNAL_KEY = 'vrfwall.dev/external';

const podKey = (p: PodObject): string => `${p.metadata.namespace}/${p.metadata.name}`;

export function compile(
  state: ClusterState,
  config: ClusterConfig,
  interfaces: InterfaceIndex,
  previous: VrfAllocation,
  macs: PortMacs = new Map(),
  /** the last compile's policy ids, kept for the same contents (DesiredState.policyInfo) */
  previousPolicy?: PolicyInfo,
): DesiredState {
  const problems: SourceProblem[] = [];
  const namespaces = [...state.namespaces.values()].sort(byName);
  const pods = [...state.pods.values()].sort((a, b) => compareText(podKey(a), podKey(b)));

  for (const ns of namespaces) checkIsolationValues(ns, problems);
  // Networks: the implicit ones and every VirtualNetwork (a VirtualNetwork
  // named like an implicit network is that network, with its labels).
  const networkNames = implicitNetworks(namespaces);
  const noPods = new Set<string>();
  for (const [name, vn] of state.virtualNetworks) {
    networkNames.add(name);
    if (!vn.spec.podNetwork) noPods.add(name);
  }
  const allocation = allocateVrfs(networkNames, previous);
  const ctx: PlacementContext = { networks: networkNames, noPods, namespaces: new Set(state.namespaces.keys()) };
  const routed = routerPairs({
    namespaces: state.namespaces,
    virtualNetworks: state.virtualNetworks,
    routers: state.routers,
    networks: networkNames,
  });
  problems.push(...routed.problems);

  const placements = new Map<string, PodPlacement>();
  const attachments = new Map<string, AttachedInterface[]>();
  const attachCtx: AttachmentContext = { ...ctx, attachmentDefinitions: state.attachmentDefinitions, virtualNetworks: state.virtualNetworks, podCIDRs: config.podCIDRs };
  // Every interface's addresses, by its key: "ns/pod" (the primary) or
  // "ns/pod@ifname" (a secondary one), in key order.
  const claimList: [string, string[]][] = [];
  const podOfClaim = new Map<string, PodObject>();
  const podIps = podAddresses(pods, problems);
  for (const pod of pods) {
    const key = podKey(pod);
    placements.set(
      key,
      pod.spec.hostNetwork
        ? { kind: 'host', why: 'hostNetwork pod: its addresses are node addresses' }
        : placePod(pod, state.namespaces.get(pod.metadata.namespace), ctx),
    );
    if (pod.spec.hostNetwork) continue;
    claimList.push([key, podIps.get(key) ?? []]);
    podOfClaim.set(key, pod);
    const atts = podAttachments(pod, attachCtx);
    problems.push(...atts.problems);
    if (atts.attachments.length > 0) attachments.set(key, atts.attachments.map(attachedInterface));
    for (const a of atts.attachments) {
      placements.set(a.key, a.placement);
      claimList.push([a.key, a.ips]);
      podOfClaim.set(a.key, pod);
    }
  }
  const claimIps = new Map(claimList.sort(([a], [b]) => compareText(a, b)));

  const hostAddrs = hostAddresses(state, pods, problems);
  // Placed by their attachment, before any address conflict (losesClaim).
  const placedSecondary = new Set([...claimIps.keys()].filter((k) => isSecondaryClaim(k) && placements.get(k)?.kind === 'network'));
  const placed = (k: string): boolean => placedSecondary.has(k);
  quarantineAddressConflicts(claimIps, hostAddrs, placements, placed);

  const ifByIp = new Map<string, number>();
  for (const [ip, ifindex] of interfaces) {
    const c = canonicalIp(ip);
    if (c !== undefined) ifByIp.set(c, ifindex);
  }

  const endpoints = new Map<string, DesiredEndpoint>();
  const thisNode = thisNodeAddresses(state, pods, config.nodeName);
  for (const ip of [...hostAddrs].sort()) endpoints.set(ip, { vrfId: 0, flags: VW_EP_HOST | (thisNode.has(ip) ? VW_EP_THIS_NODE : 0), ifindex: 0 });

  // Addresses that are some pod's own: no secondary interface's claim on them makes an endpoint;
  // nor does a secondary claim that lost a contested address to another one.
  const ownIps = new Set<string>();
  for (const [key, ips] of claimIps) if (!isSecondaryClaim(key)) for (const ip of ips) ownIps.add(ip);
  const claimantsOf = new Map<string, string[]>();
  for (const [key, ips] of claimIps) for (const ip of ips) claimantsOf.set(ip, [...(claimantsOf.get(ip) ?? []), key]);
  const attach = new Map<string, number[]>();
  for (const [key, ips] of claimIps) {
    const pod = podOfClaim.get(key) as PodObject;
    const placement = placements.get(key);
    const local = pod.spec.nodeName === config.nodeName;
    const ifindexes = new Set<number>();
    for (const ip of ips) {
      const ifindex = local ? ifByIp.get(ip) : undefined;
      if (ifindex !== undefined) ifindexes.add(ifindex);
      // A host address stays a host address; the pod claiming it is
      // quarantined above, and the datapath's spoofing check stops it from
      // sending as the node (the endpoint is not LOCAL on its interface).
      if (hostAddrs.has(ip)) continue;
      if (isSecondaryClaim(key) && ownIps.has(ip)) continue;
      const all = claimantsOf.get(ip) ?? [];
      const winner = all.length > 1 ? claimWinner(all, placed) : undefined;
      if (winner !== undefined && winner !== key) continue;
      const vrfId = placement?.kind === 'network' ? allocation.ids[placement.network] : undefined;
      // Quarantined local pods keep LOCAL + ifindex: the datapath needs the
      // interface to check the source address and to let the pod reach its node.
      const localBits = ifindex !== undefined ? VW_EP_LOCAL : 0;
      const ep: DesiredEndpoint =
        vrfId === undefined
          ? { vrfId: 0, flags: VW_EP_QUARANTINE | localBits, ifindex: ifindex ?? 0 }
          : { vrfId, flags: localBits, ifindex: ifindex ?? 0 };
      const prev = endpoints.get(ip);
      // Only several quarantined claimants share an address; keep whichever is local.
      if (prev === undefined || (prev.flags & VW_EP_LOCAL) === 0) endpoints.set(ip, ep);
    }
    if (local && ifindexes.size > 0) attach.set(key, [...ifindexes].sort((a, b) => a - b));
  }
  const ports = bridgePorts(attach, macs, problems);
  markPtp(endpoints, ports);

  for (const [key, p] of placements) {
    if (p.kind === 'quarantine') problems.push({ source: `Pod ${key}`, message: `quarantined: ${p.why}` });
  }

  const cidrs = clusterCidrs(config, problems);
  const modes = networkModes(state, networkNames);
  problems.push(...modes.problems);
  const networks = networkFlags(allocation, state, problems, modes);
  const externalDenied = new Set<number>();
  for (const [vrf, flags] of networks) if ((flags & VW_NET_EXTERNAL_DENY) !== 0) externalDenied.add(vrf);
  const svc = serviceMaps({
    state,
    allocation,
    networkPairs: routed.pairs,
    hostAddrs,
    podPlacements: placements,
    podIps: claimIps,
    cidrs: new Map(cidrs),
    externalDenied,
    open: modes.open,
  });
  problems.push(...svc.problems);
  coverVips(svc.vips, cidrs, problems);
  markNoBackend(endpoints, svc.backends);
  // NetworkPolicy last: it reads which endpoints are pods, local, quarantined.
  const pol = compilePolicy({ state, endpoints, nodeName: config.nodeName, enabled: config.networkPolicy !== false, ...(previousPolicy ? { previous: previousPolicy } : {}) });
  if (pol.fields.size > 0) applyEndpointPolicy(endpoints, pol.fields); // none: nothing to do (no policy work)
  problems.push(...pol.problems);

  return {
    endpoints,
    vrfPairs: vrfPairsOf(routed.pairs, allocation),
    networks,
    cidrs,
    services: svc.services,
    backends: svc.backends,
    serviceAccess: svc.access,
    attach,
    ports,
    placements,
    attachments,
    allocation,
    policy: pol.policy,
    policyCidrs: pol.policyCidrs,
    policyInfo: pol.info,
    problems,
  };
}

/** The MAC of each interface we enforce on that is a bridge port (ptp
 *  interfaces have none: no MAC checks there); a pod whose addresses resolve
 *  to different MACs keeps VW_NO_MAC (nothing from it passes) and is reported. */
function bridgePorts(attach: ReadonlyMap<string, number[]>, macs: PortMacs, problems: SourceProblem[]): PortMacs {
  const ports: PortMacs = new Map();
  for (const [key, ifindexes] of attach) {
    for (const i of ifindexes) {
      const mac = macs.get(i);
      if (mac === undefined) continue;
      ports.set(i, mac);
      if (mac === VW_NO_MAC) {
        problems.push({ source: `Pod ${key}`, message: 'its addresses resolve to different MACs on its bridge port: nothing it sends passes' });
      }
    }
  }
  return ports;
}

/** VW_EP_PTP on every local endpoint whose interface has no ports entry: from_pod
 *  then skips that lookup. Derived from the same `ports` this compile writes, and
 *  only ever a promise of absence (without it the datapath looks). */
function markPtp(endpoints: Map<string, DesiredEndpoint>, ports: PortMacs): void {
  for (const [ip, ep] of endpoints) {
    if ((ep.flags & VW_EP_LOCAL) !== 0 && !ports.has(ep.ifindex)) endpoints.set(ip, { ...ep, flags: ep.flags | VW_EP_PTP });
  }
}

/** VW_EP_NO_BACKEND on every pod endpoint whose address no backends entry has: the
 *  datapath then skips the rule-4 lookup for packets to it. Derived from the same
 *  backends this compile writes; wrongly set it would only deny (vrfwall.h). Host
 *  endpoints never reach rule 4 and are left as they are. */
function markNoBackend(endpoints: Map<string, DesiredEndpoint>, backends: ReadonlyMap<string, DesiredServiceEntry>): void {
  const addrs = new Set<string>();
  for (const e of backends.values()) addrs.add(e.addr);
  for (const [ip, ep] of endpoints) {
    if ((ep.flags & VW_EP_HOST) === 0 && !addrs.has(ip)) endpoints.set(ip, { ...ep, flags: ep.flags | VW_EP_NO_BACKEND });
  }
}

/** Network-name pairs -> "src:dst" VRF id pairs, both orders. */
export function vrfPairsOf(pairs: ReadonlySet<string>, allocation: VrfAllocation): Set<string> {
  const out = new Set<string>();
  for (const pair of [...pairs].sort()) {
    const [a, b] = pair.split('|');
    const ia = a === undefined ? undefined : allocation.ids[a];
    const ib = b === undefined ? undefined : allocation.ids[b];
    if (ia === undefined || ib === undefined) continue;
    out.add(`${ia}:${ib}`);
    out.add(`${ib}:${ia}`);
  }
  return out;
}

/**
 * A ClusterIP outside the configured service CIDRs would be judged as an
 * outside address (rule 6: allowed to anyone whose network may go outside).
 * Give it a host-length service range entry of its own, so the Service rules
 * judge it, and say that the configuration is off.
 */
function coverVips(vips: ReadonlySet<string>, cidrs: Map<string, number>, problems: SourceProblem[]): void {
  const ranges = [...cidrs]
    .filter(([, kind]) => kind === VW_CIDR_SERVICE)
    .map(([c]) => ipaddr.parseCIDR(c));
  for (const vip of [...vips].sort()) {
    const addr = ipaddr.parse(vip);
    if (ranges.some(([net, len]) => net.kind() === addr.kind() && addr.match(net, len))) continue;
    cidrs.set(`${vip}/${addr.kind() === 'ipv4' ? 32 : 128}`, VW_CIDR_SERVICE);
    problems.push({
      source: 'config',
      message: `ClusterIP ${vip} is outside the service CIDRs; covered by a host-length service range`,
    });
  }
}

export function checkIsolationValues(ns: NamespaceObject, problems: SourceProblem[]): void {
  const iso = namespaceIsolation(ns);
  for (const bad of iso.badValues) {
    problems.push({
      source: `Namespace ${ns.metadata.name}`,
      message: `${bad} is neither "true" nor "false"; treated as isolated`,
    });
  }
  if (iso.isolated && isolatedNetworkOf(ns.metadata.name) === DEFAULT_NETWORK) {
    problems.push({
      source: `Namespace ${ns.metadata.name}`,
      message: 'the default namespace cannot be isolated: its network is the default network',
    });
  }
}

/** Node addresses and hostNetwork pods' addresses: rule 6 endpoints. */
function hostAddresses(state: ClusterState, pods: PodObject[], problems: SourceProblem[]): Set<string> {
  const out = new Set<string>();
  for (const node of state.nodes.values()) {
    for (const a of node.addresses) {
      const c = canonicalIp(a);
      if (c !== undefined) out.add(c);
      else problems.push({ source: `Node ${node.name}`, message: `address ${JSON.stringify(a)} is not an IP address` });
    }
  }
  for (const pod of pods) {
    if (!pod.spec.hostNetwork) continue;
    for (const ip of canonicalPodIps(pod, problems)) out.add(ip);
  }
  return out;
}

/** This node's own addresses (its Node's and its host-network pods'): the only host addresses ingress
 *  NetworkPolicy exempts (VW_EP_THIS_NODE). Problems are hostAddresses' to report. */
function thisNodeAddresses(state: ClusterState, pods: PodObject[], nodeName: string): Set<string> {
  const out = new Set<string>();
  for (const a of state.nodes.get(nodeName)?.addresses ?? []) {
    const c = canonicalIp(a);
    if (c !== undefined) out.add(c);
  }
  for (const pod of pods) if (pod.spec.hostNetwork && pod.spec.nodeName === nodeName) for (const ip of canonicalPodIps(pod, [])) out.add(ip);
  return out;
}

/** "ns/name" -> canonical IPs, for pods with their own network stack. */
function podAddresses(pods: PodObject[], problems: SourceProblem[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const pod of pods) {
    if (!pod.spec.hostNetwork) out.set(podKey(pod), canonicalPodIps(pod, problems));
  }
  return out;
}

export function canonicalPodIps(pod: PodObject, problems: SourceProblem[]): string[] {
  const ips = new Set<string>();
  for (const ip of pod.status.podIPs) {
    const c = canonicalIp(ip);
    if (c !== undefined) ips.add(c);
    else problems.push({ source: `Pod ${podKey(pod)}`, message: `pod IP ${JSON.stringify(ip)} is not an IP address` });
  }
  return [...ips];
}

/** A secondary interface's claim ("ns/pod@ifname"): from network-status, an
 *  annotation its pod's owner may edit. */
export function isSecondaryClaim(key: string): boolean {
  return key.includes('@');
}

/**
 * Whether `key` loses its claim on an address `claimants` (two or more)
 * claim. A pod's own address (status.podIPs, which the kubelet reports) wins
 * over secondary interfaces' claims, so that no pod can quarantine another by
 * writing its address into its own network-status. Among secondary claims
 * only, one its attachment placed in a network (asked for in the networks
 * annotation, its NAD and network there, the address in that network's
 * subnet: `placed`) beats those quarantined for their own faults (an entry
 * written into network-status that nothing asked for); otherwise every
 * claimant loses. A claimant that loses to a winner also gives that address
 * no endpoint of its own (claimWinner).
 */
export function losesClaim(key: string, claimants: readonly string[], placed: (key: string) => boolean): boolean {
  const winner = claimWinner(claimants, placed);
  return winner === undefined || winner !== key;
}

/** The one claimant of a contested address that keeps it, if any (losesClaim). */
export function claimWinner(claimants: readonly string[], placed: (key: string) => boolean): string | undefined {
  const own = claimants.filter((k) => !isSecondaryClaim(k));
  if (own.length > 0) return own.length === 1 ? own[0] : undefined;
  const valid = claimants.filter(placed);
  return valid.length === 1 ? valid[0] : undefined;
}

/**
 * An address claimed by two pods, or by a pod and the host, cannot be given to
 * either pod's network: whichever we chose, the other pod's traffic would be
 * judged as the wrong pod's. Fail closed: every pod claiming a contested
 * address is quarantined (all its addresses), and the address itself is
 * quarantined too (or stays a host address when the node owns it). A claim is
 * one interface ("ns/pod" or "ns/pod@ifname"): a contested secondary address
 * quarantines that interface, not the whole pod.
 */
function quarantineAddressConflicts(
  podIps: Map<string, string[]>,
  hostAddrs: Set<string>,
  placements: Map<string, PodPlacement>,
  placed: (key: string) => boolean,
): void {
  const claims = new Map<string, string[]>();
  for (const [key, ips] of podIps) for (const ip of ips) claims.set(ip, [...(claims.get(ip) ?? []), key]);

  const reasons = new Map<string, string[]>();
  const blame = (key: string, why: string): void => {
    reasons.set(key, [...(reasons.get(key) ?? []), why]);
  };
  for (const [ip, keys] of claims) {
    if (hostAddrs.has(ip)) {
      for (const key of keys) blame(key, `IP ${ip} is a node or host-network address`);
    } else if (keys.length > 1) {
      for (const key of keys) {
        if (losesClaim(key, keys, placed)) blame(key, `IP ${ip} is also claimed by pod ${keys.filter((k) => k !== key).join(', ')}`);
      }
    }
  }
  for (const [key, whys] of reasons) placements.set(key, { kind: 'quarantine', why: whys.join('; ') });
}

/** Every allocated network -> VW_NET_* flags (external access, audit mode). */
export function networkFlags(
  allocation: VrfAllocation,
  state: ClusterState,
  problems: SourceProblem[],
  modes: Pick<NetworkModes, 'audited' | 'open'>,
): Map<number, number> {
  const denied = new Set<string>();
  for (const ns of [...state.namespaces.values()].sort(byName)) {
    const setting = externalSetting(ns, problems);
    if (setting !== 'deny') continue;
    if (namespaceIsolation(ns).isolated && isolatedNetworkOf(ns.metadata.name) !== DEFAULT_NETWORK) {
      denied.add(isolatedNetworkOf(ns.metadata.name));
    } else {
      // The default network is shared by every non-isolated namespace; one
      // namespace cannot decide for all of them.
      problems.push({
        source: `Namespace ${ns.metadata.name}`,
        message:
          `${EXTERNAL_KEY}=deny has no effect: the namespace is not isolated ` +
          '(its pods are in the shared default network)',
      });
    }
  }
  // A VirtualNetwork's spec.external speaks for the whole network (also for
  // the default network, if someone writes a VirtualNetwork for it).
  for (const [name, vn] of state.virtualNetworks) if (vn.spec.external === 'deny') denied.add(name);
  const out = new Map<number, number>();
  for (const [name, id] of Object.entries(allocation.ids)) {
    out.set(id, (denied.has(name) ? VW_NET_EXTERNAL_DENY : 0) | modeFlags(modes, name));
  }
  return out;
}

/** "allow" | "deny" | undefined (unset). Label and annotation are both read;
 *  deny wins, and an unknown value reads as deny (the restrictive choice). */
function externalSetting(ns: NamespaceObject, problems: SourceProblem[]): 'allow' | 'deny' | undefined {
  const values = [ns.metadata.labels[EXTERNAL_KEY], ns.metadata.annotations[EXTERNAL_KEY]].filter(
    (v): v is string => v !== undefined,
  );
  if (values.length === 0) return undefined;
  let result: 'allow' | 'deny' = 'allow';
  for (const v of values) {
    const norm = v.trim().toLowerCase();
    if (norm === 'allow') continue;
    if (norm !== 'deny') {
      problems.push({
        source: `Namespace ${ns.metadata.name}`,
        message: `${EXTERNAL_KEY}=${JSON.stringify(v)} is neither "allow" nor "deny"; treated as deny`,
      });
    }
    result = 'deny';
  }
  return result;
}

export function clusterCidrs(config: ClusterConfig, problems: SourceProblem[]): Map<string, number> {
  const out = new Map<string, number>();
  const add = (list: string[], kind: number, what: string): void => {
    for (const text of list) {
      const c = canonicalCidr(text);
      if (c === undefined) {
        problems.push({ source: 'config', message: `${what} CIDR ${JSON.stringify(text)} does not parse; ignored` });
      } else if (out.has(c)) {
        const kept = out.get(c) === VW_CIDR_POD ? 'pod' : 'service';
        problems.push({ source: 'config', message: `CIDR ${c} is listed twice; kept as ${kept} CIDR` });
      } else {
        out.set(c, kind);
      }
    }
  };
  // Pod CIDRs first: an overlap listed as both keeps the stricter pod meaning
  // (unknown sources inside it are dropped).
  add(config.podCIDRs, VW_CIDR_POD, 'pod');
  add(config.serviceCIDRs, VW_CIDR_SERVICE, 'service');
  return out;
}

function byName(a: NamespaceObject, b: NamespaceObject): number {
  return compareText(a.metadata.name, b.metadata.name);
}

