// Names for addresses: which pod, namespace, network and node an IP is,
// from the cluster state and the compile step's output, updated after each
// reconcile from what changed (objects and map keys), not rebuilt. Pure: no I/O.
import ipaddr from 'ipaddr.js';
import { VW_NET_AUDIT, VW_NET_EXTERNAL_DENY, canonicalAddr } from '../kernel/abi.js';
import type { DesiredDelta } from '../model/incremental.js';
import { splitAttachmentKey } from '../model/attachments.js';
import type { AttachedInterface, ClusterState, DesiredState, ServiceAccess } from '../model/types.js';
import { Multimap } from '../model/indexes.js';
import type { ObjectRef } from '../sources/changes.js';
import type { EndpointKind } from './types.js';

export interface EndpointInfo {
  ip: string;
  kind: EndpointKind;
  namespace: string;
  pod: string;
  /** the pod's secondary interface this address is on (Multus: "eth1", "net1"); empty for its cluster-network interface */
  interface: string;
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
  /** audit mode of the network (VW_NET_AUDIT; docs/audit.md) */
  enforcement: 'audit' | 'enforce';
  /** "ns/pod", and "ns/pod@ifname" for a pod's secondary interface in the network */
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

/**
 * What an address is, as the directory holds it: a pod's key (its
 * EndpointInfo made when asked for, from the state and compile output of the
 * last update: ~120 bytes an address less at 100,000 pods), or the info
 * itself (nodes and Services: few).
 */
type Holder = string | EndpointInfo;

/** The names of every address, read-only, as a Map of EndpointInfo (made when read). */
export class EndpointView {
  constructor(
    private readonly held: ReadonlyMap<string, Holder>,
    private readonly infoOf: (ip: string, h: Holder) => EndpointInfo | undefined,
  ) {}

  get size(): number {
    return this.held.size;
  }

  has(ip: string): boolean {
    return this.held.has(ip);
  }

  get(ip: string): EndpointInfo | undefined {
    const h = this.held.get(ip);
    return h === undefined ? undefined : this.infoOf(ip, h);
  }

  keys(): IterableIterator<string> {
    return this.held.keys();
  }

  *values(): IterableIterator<EndpointInfo> {
    for (const [ip, h] of this.held) {
      const info = this.infoOf(ip, h);
      if (info !== undefined) yield info;
    }
  }

  *entries(): IterableIterator<[string, EndpointInfo]> {
    for (const [ip, h] of this.held) {
      const info = this.infoOf(ip, h);
      if (info !== undefined) yield [ip, info];
    }
  }

  [Symbol.iterator](): IterableIterator<[string, EndpointInfo]> {
    return this.entries();
  }
}

export class Directory {
  private readonly held = new Map<string, Holder>();
  /** ip -> what it is (pods' entries are made from the last update's state when read) */
  readonly byIp = new EndpointView(this.held, (ip, h) => (typeof h === 'string' ? this.podInfo(ip, h) : h));
  /** the state and compile output of the last update (pods' entries are made from them) */
  private state: ClusterState | undefined;
  private desired: DesiredState | undefined;
  /** host-side interface -> local pod "ns/name" (and its interface, for a secondary one) */
  readonly podByIfindex = new Map<number, { namespace: string; pod: string; interface: string; network: string }>();
  /** bridge ports among those: the pod's MAC (the only source MAC its from_pod passes) */
  readonly portMacs = new Map<number, string>();
  readonly networks = new Map<string, NetworkInfo>();
  readonly networkByVrf = new Map<number, string>();
  /** the cluster's pod and service ranges: an unknown address inside them is "unknown", outside "external" */
  readonly clusterCidrs: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];

  // What each address is claimed by, to settle it again when one claimant
  // changes (update()): a Service's virtual IP wins, then a pod (the last by
  // key), then a node, then a Service's external or load balancer IP (the first).
  private readonly nodeClaims = new Multimap<string>();
  private readonly podClaims = new Multimap<string>();
  private readonly vipClaims = new Multimap<string>();
  /** address -> Service -> "external IP" / "load balancer IP" (few) */
  private readonly otherClaims = new Map<string, Map<string, string>>();
  private readonly nodeIps = new Map<string, readonly string[]>();
  private readonly svcIps = new Map<string, { vips: readonly string[]; others: [string, string][] }>();
  /** claim ("ns/pod" or "ns/pod@ifname") -> its network */
  private readonly podNetwork = new Map<string, string>();
  /** pod -> its secondary interfaces as of the last update (their claims) */
  private readonly podAttachments = new Map<string, readonly AttachedInterface[]>();
  private readonly networkPods = new Map<string, Set<string>>();
  private readonly localPods = new Set<string>();
  private lastAllocation: DesiredState['allocation'] | undefined;

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

  /**
   * Bring the names up to date with a reconcile: `changed` are the objects
   * that changed and `delta` the map keys that did since the last update
   * (undefined / "all": anything may have; everything is looked at again).
   */
  update(state: ClusterState, desired: DesiredState, delta?: DesiredDelta, changed: readonly ObjectRef[] | 'all' = 'all'): void {
    // The pods' claims were made from the last update's state: a pod's
    // addresses before are its addresses there (no copy of every pod's list).
    const before = this.state;
    this.state = state;
    this.desired = desired;
    const all = delta === undefined || changed === 'all';
    const pods = new Set<string>();
    const nodes = new Set<string>();
    const services = new Set<string>();
    if (all) {
      for (const k of [...(before?.pods.keys() ?? []), ...state.pods.keys()]) pods.add(k);
      for (const k of [...this.nodeIps.keys(), ...state.nodes.keys()]) nodes.add(k);
      const svcs = (state as { services?: Map<string, ServiceLike> }).services;
      for (const k of [...this.svcIps.keys(), ...(svcs?.keys() ?? [])]) services.add(k);
    } else {
      for (const c of changed) {
        if (c.kind === 'Pod') pods.add(c.key);
        else if (c.kind === 'Node') nodes.add(c.key);
        else if (c.kind === 'Service') services.add(c.key);
      }
      // Keys of secondary interfaces ("ns/pod@ifname") are their pod's business.
      for (const k of delta.placements) pods.add(splitAttachmentKey(k)[0]);
      for (const k of delta.attach) pods.add(splitAttachmentKey(k)[0]);
      for (const k of delta.serviceAccess) services.add(k);
      // An endpoint's interface shows in its pod's entry.
      for (const ip of delta.endpoints) for (const p of this.podClaims.values(ip)) pods.add(splitAttachmentKey(p)[0]);
    }
    const ips = new Set<string>();
    const nets = new Set<string>();
    let localChanged = all;
    for (const name of nodes) this.updateNode(name, state, ips);
    for (const key of pods) {
      const atts = [...(this.podAttachments.get(key) ?? []), ...(desired.attachments.get(key) ?? [])];
      if (this.localPods.has(key) || desired.attach.has(key) || atts.some((a) => this.localPods.has(a.key) || desired.attach.has(a.key))) localChanged = true;
      this.updatePod(key, before, state, desired, ips, nets);
    }
    for (const key of services) this.updateService(key, state, ips);
    for (const ip of ips) this.settle(ip, state, desired);

    if (all || delta.networks.size > 0 || delta.vrfPairs.size > 0 || desired.allocation !== this.lastAllocation) {
      this.rebuildNetworks(desired);
    } else {
      for (const net of nets) this.refreshNetworkPods(net);
    }
    this.lastAllocation = desired.allocation;
    if (localChanged) this.rebuildLocal(desired);
    if (all || delta.ports.size > 0) {
      this.portMacs.clear();
      for (const [ifindex, mac] of desired.ports ?? []) this.portMacs.set(ifindex, mac);
    }
    if (all || delta.cidrs.size > 0) {
      this.clusterCidrs.length = 0;
      for (const cidr of desired.cidrs.keys()) {
        try {
          this.clusterCidrs.push(ipaddr.parseCIDR(cidr));
        } catch {
          // the compile step only emits canonical CIDRs
        }
      }
    }
  }

  private updateNode(name: string, state: ClusterState, ips: Set<string>): void {
    for (const ip of this.nodeIps.get(name) ?? []) {
      this.nodeClaims.delete(ip, name);
      ips.add(ip);
    }
    const node = state.nodes.get(name);
    const now = node === undefined ? [] : canonicalAll(node.addresses);
    if (node === undefined) this.nodeIps.delete(name);
    else this.nodeIps.set(name, now);
    for (const ip of now) {
      this.nodeClaims.add(ip, name);
      ips.add(ip);
    }
  }

  // Entries change only where something came or went: deleting and adding
  // back the same key leaves a hole in a Map's table, and at 100,000 pods a
  // few changes of every pod double the tables (~7 MB each).
  private updatePod(key: string, prevState: ClusterState | undefined, state: ClusterState, desired: DesiredState, ips: Set<string>, nets: Set<string>): void {
    const pod = state.pods.get(key);
    this.updateClaim(key, pod !== undefined, podIpsIn(prevState, key), podIpsIn(state, key), desired, ips, nets);
    // Its secondary interfaces: claims of their own ("ns/pod@ifname").
    const was = this.podAttachments.get(key) ?? NO_ATTACHMENTS;
    const now = pod === undefined ? NO_ATTACHMENTS : (desired.attachments.get(key) ?? NO_ATTACHMENTS);
    for (const a of was) if (!now.some((b) => b.key === a.key)) this.updateClaim(a.key, false, a.ips, NO_IPS, desired, ips, nets);
    for (const a of now) this.updateClaim(a.key, true, was.find((b) => b.key === a.key)?.ips ?? NO_IPS, a.ips, desired, ips, nets);
    if (now.length > 0) this.podAttachments.set(key, now);
    else this.podAttachments.delete(key);
  }

  /** One interface's addresses and network membership. */
  private updateClaim(key: string, exists: boolean, before: readonly string[], now: readonly string[], desired: DesiredState, ips: Set<string>, nets: Set<string>): void {
    for (const ip of before) {
      if (!now.includes(ip)) this.podClaims.delete(ip, key);
      ips.add(ip);
    }
    for (const ip of now) {
      this.podClaims.add(ip, key); // a no-op for a claim it has
      ips.add(ip);
    }
    const oldNet = this.podNetwork.get(key);
    const placement = exists ? desired.placements.get(key) : undefined;
    const newNet = placement?.kind === 'network' ? placement.network : undefined;
    if (oldNet !== undefined) {
      if (oldNet !== newNet) this.networkPods.get(oldNet)?.delete(key);
      nets.add(oldNet);
    }
    if (newNet === undefined) {
      if (oldNet !== undefined) this.podNetwork.delete(key);
      return;
    }
    this.podNetwork.set(key, newNet);
    let set = this.networkPods.get(newNet);
    if (set === undefined) this.networkPods.set(newNet, (set = new Set()));
    set.add(key);
    nets.add(newNet);
  }

  private updateService(key: string, state: ClusterState, ips: Set<string>): void {
    const old = this.svcIps.get(key);
    for (const ip of old?.vips ?? []) {
      this.vipClaims.delete(ip, key);
      ips.add(ip);
    }
    for (const [ip] of old?.others ?? []) {
      const m = this.otherClaims.get(ip);
      m?.delete(key);
      if (m?.size === 0) this.otherClaims.delete(ip);
      ips.add(ip);
    }
    const svc = (state as { services?: Map<string, ServiceLike> }).services?.get(key);
    if (svc === undefined) {
      this.svcIps.delete(key);
      return;
    }
    const vips = canonicalAll(svc.spec.clusterIPs);
    const others: [string, string][] = [];
    for (const ip of canonicalAll(svc.spec.externalIPs ?? [])) others.push([ip, 'external IP']);
    for (const ip of canonicalAll(svc.spec.loadBalancerIPs ?? [])) others.push([ip, 'load balancer IP']);
    this.svcIps.set(key, { vips, others });
    for (const ip of vips) {
      this.vipClaims.add(ip, key);
      ips.add(ip);
    }
    for (const [ip, what] of others) {
      let m = this.otherClaims.get(ip);
      if (m === undefined) this.otherClaims.set(ip, (m = new Map()));
      if (!m.has(key)) m.set(key, what);
      ips.add(ip);
    }
  }

  /** The one name of `ip`, from its claimants. */
  private settle(ip: string, state: ClusterState, desired: DesiredState): void {
    const svcs = (state as { services?: Map<string, ServiceLike> }).services;
    const service = (key: string, what: string): EndpointInfo | undefined => {
      const svc = svcs?.get(key);
      if (svc === undefined) return undefined;
      const access = serviceAccessText(desired.serviceAccess.get(key));
      return { ...blank(ip, 'service'), namespace: svc.metadata.namespace, service: key, reason: `Service ${what}, ${access}` };
    };
    let info: Holder | undefined;
    const vip = this.vipClaims.max(ip);
    const pod = vip === undefined ? this.podClaims.max(ip) : undefined;
    const node = vip === undefined && pod === undefined ? this.nodeClaims.max(ip) : undefined;
    if (vip !== undefined) info = service(vip, 'virtual IP');
    else if (pod !== undefined) info = state.pods.has(splitAttachmentKey(pod)[0]) ? pod : undefined;
    else if (node !== undefined) info = { ...blank(ip, 'host'), node, reason: `address of node ${node}` };
    else {
      const others = this.otherClaims.get(ip);
      if (others !== undefined) {
        const key = minOf(others.keys());
        info = service(key, others.get(key) as string);
      }
    }
    if (info === undefined) this.held.delete(ip);
    else this.held.set(ip, info);
  }

  private podInfo(ip: string, key: string): EndpointInfo | undefined {
    const state = this.state;
    const desired = this.desired;
    if (state === undefined || desired === undefined) return undefined;
    const [podKey, ifname] = splitAttachmentKey(key);
    const pod = state.pods.get(podKey);
    if (pod === undefined) return undefined;
    const placement = desired.placements.get(key);
    const network = placement?.kind === 'network' ? placement.network : '';
    const local = desired.attach.has(key);
    const ep = desired.endpoints.get(ip);
    return {
      ip,
      kind: pod.spec.hostNetwork ? 'host' : 'pod',
      namespace: pod.metadata.namespace,
      pod: pod.metadata.name,
      interface: ifname ?? '',
      network,
      node: pod.spec.nodeName ?? '',
      service: '',
      local: local && !pod.spec.hostNetwork,
      ifindex: local ? (ep?.ifindex ?? 0) : 0,
      quarantined: placement?.kind === 'quarantine',
      reason: placement?.why ?? 'not placed',
      hostNetwork: pod.spec.hostNetwork,
    };
  }

  /** Local pods by their interfaces (few: the pods of this node). */
  private rebuildLocal(desired: DesiredState): void {
    this.localPods.clear();
    this.podByIfindex.clear();
    for (const key of [...desired.attach.keys()].sort()) {
      this.localPods.add(key);
      const [podKey, ifname] = splitAttachmentKey(key);
      for (const ip of this.claimIps(key)) {
        const info = this.byIp.get(ip);
        const ifindex = desired.endpoints.get(ip)?.ifindex ?? 0;
        const [namespace = '', pod = ''] = podKey.split('/');
        if (ifindex > 0 && info?.hostNetwork !== true) {
          this.podByIfindex.set(ifindex, { namespace, pod, interface: ifname ?? '', network: this.podNetwork.get(key) ?? '' });
        }
      }
    }
  }

  private rebuildNetworks(desired: DesiredState): void {
    this.networks.clear();
    this.networkByVrf.clear();
    const vrfNames = new Map<number, string>();
    for (const [name, id] of Object.entries(desired.allocation.ids)) vrfNames.set(id, name);
    for (const [name, id] of Object.entries(desired.allocation.ids)) {
      if (!desired.networks.has(id) && !this.hasAddressedPod(name)) continue;
      const flags = desired.networks.get(id) ?? 0;
      this.networks.set(name, this.networkInfo(name, id, (flags & VW_NET_EXTERNAL_DENY) !== 0, [], (flags & VW_NET_AUDIT) !== 0 ? 'audit' : 'enforce'));
      this.networkByVrf.set(id, name);
    }
    for (const pair of desired.vrfPairs) {
      const [a, b] = pair.split(':').map(Number);
      const from = vrfNames.get(a ?? -1);
      const to = vrfNames.get(b ?? -1);
      if (from && to) this.networks.get(from)?.reaches.push(to);
    }
    for (const n of this.networks.values()) n.reaches.sort();
  }

  /** Some pod placed in the network has an address: the network has an
   *  endpoint (address conflicts quarantine, so such an address is that pod's).
   *  From the network's members, not a scan of every endpoint per network. */
  private hasAddressedPod(net: string): boolean {
    for (const key of this.networkPods.get(net) ?? []) if (this.claimIps(key).length > 0) return true;
    return false;
  }

  /** The addresses of a pod's interface: its pod IPs, or a secondary interface's. */
  private claimIps(key: string): readonly string[] {
    const [podKey, ifname] = splitAttachmentKey(key);
    if (ifname === undefined) return podIpsIn(this.state, key);
    return this.podAttachments.get(podKey)?.find((a) => a.key === key)?.ips ?? NO_IPS;
  }

  private refreshNetworkPods(net: string): void {
    const n = this.networks.get(net);
    if (n !== undefined) this.networks.set(net, this.networkInfo(n.name, n.vrfId, n.externalDeny, n.reaches, n.enforcement));
  }

  /** The pods of a network are sorted when asked for (a large network changes often, is listed rarely). */
  private networkInfo(name: string, vrfId: number, externalDeny: boolean, reaches: string[], enforcement: NetworkInfo['enforcement']): NetworkInfo {
    const members = this.networkPods;
    let sorted: string[] | undefined;
    return {
      name,
      vrfId,
      externalDeny,
      enforcement,
      reaches,
      get pods(): string[] {
        sorted ??= [...(members.get(name) ?? [])].sort();
        return sorted;
      },
    };
  }
}

const NO_IPS: readonly string[] = Object.freeze([]);
const NO_ATTACHMENTS: readonly AttachedInterface[] = Object.freeze([]);

/** A pod's canonical addresses in a state (its own list when already canonical). */
function podIpsIn(state: ClusterState | undefined, key: string): readonly string[] {
  const pod = state?.pods.get(key);
  return pod === undefined ? NO_IPS : canonicalAll(pod.status.podIPs);
}

function minOf(keys: Iterable<string>): string {
  let best: string | undefined;
  for (const k of keys) if (best === undefined || k < best) best = k;
  return best ?? '';
}

/** Canonical and unique; `raw` itself when it already is (shared, not copied). */
function canonicalAll(raw: readonly string[]): readonly string[] {
  const out: string[] = [];
  for (const r of raw) {
    const ip = canonical(r);
    if (ip !== undefined && !out.includes(ip)) out.push(ip);
  }
  return out.length === raw.length && out.every((ip, i) => ip === raw[i]) ? raw : out;
}

function canonical(ip: string): string | undefined {
  try {
    return canonicalAddr(ip);
  } catch {
    return undefined;
  }
}

/** Names for every address of `state` (a Directory updated once with everything). */
export function buildDirectory(state: ClusterState, desired: DesiredState, node: string): Directory {
  const d = new Directory();
  d.update(state, desired);
  void node;
  return d;
}

function blank(ip: string, kind: EndpointKind): EndpointInfo {
  return {
    ip,
    kind,
    namespace: '',
    pod: '',
    interface: '',
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
