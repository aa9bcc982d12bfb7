// A pod's secondary interfaces (Multus, design section 2): which interfaces
// it has, their addresses, and the network each is in. Pure.
//
// What the pod has comes from `k8s.v1.cni.cncf.io/network-status` (what
// Multus attached); what it may have from `k8s.v1.cni.cncf.io/networks` (what
// it asked for) and the NetworkAttachmentDefinitions. Every non-default
// network-status entry is an interface whose addresses are the pod's: it
// always becomes endpoints, in its network only when nothing about it is
// doubtful, else quarantined (never unknown, never another network). The
// primary interface's placement is decided elsewhere (placement.ts) and never
// by an attachment.
import ipaddr from 'ipaddr.js';
import { NETWORK_STATUS_ANNOTATION, NETWORKS_ANNOTATION, parseNetworkSelections, parseNetworkStatus, statusOf, type NetworkStatusEntry } from './multus.js';
import { canonicalIp } from './ip.js';
import { networkChoice, type PlacementContext } from './placement.js';
import type { AttachedInterface, NetworkAttachmentDefinitionObject, PodObject, PodPlacement, SourceProblem, VirtualNetworkObject } from './types.js';

/** One secondary interface of a pod, and where it is. */
export interface PodAttachment extends AttachedInterface {
  placement: PodPlacement;
}

/** Without its placement (DesiredState.attachments). */
export function attachedInterface(a: PodAttachment): AttachedInterface {
  return { key: a.key, ifname: a.ifname, ...(a.nad !== undefined ? { nad: a.nad } : {}), ips: a.ips };
}

export interface PodAttachments {
  attachments: PodAttachment[];
  /** annotations that do not parse (the attachments themselves say why they are quarantined) */
  problems: SourceProblem[];
}

export interface AttachmentContext extends PlacementContext {
  attachmentDefinitions: ReadonlyMap<string, NetworkAttachmentDefinitionObject>;
  virtualNetworks: ReadonlyMap<string, VirtualNetworkObject>;
  /** The cluster's pod ranges (--pod-cidr): a secondary interface's address counts as the pod's only inside them. */
  podCIDRs: readonly string[];
}

const NONE: PodAttachments = Object.freeze({ attachments: [], problems: [] }) as unknown as PodAttachments;

/** The attachment key of a pod's interface. */
export function attachmentKey(podKey: string, ifname: string): string {
  return [podKey, ifname].join('@');
}

/** "ns/pod@ifname" -> ["ns/pod", "ifname"]; a pod key (no '@': pod names are DNS names) -> [key, undefined]. */
export function splitAttachmentKey(key: string): [string, string | undefined] {
  const at = key.indexOf('@');
  return at < 0 ? [key, undefined] : [key.slice(0, at), key.slice(at + 1)];
}

/** The networks' subnets (VirtualNetwork v4Subnet, v6Subnet), sorted, once each:
 *  where secondary interfaces' addresses are, besides the pod CIDRs. */
export function networkSubnets(vns: Iterable<VirtualNetworkObject>): string[] {
  const out = new Set<string>();
  for (const vn of vns) for (const c of [vn.spec.v4Subnet, vn.spec.v6Subnet]) if (c !== undefined) out.add(c);
  return [...out].sort();
}

/** Does the pod carry either Multus annotation (its attachments depend on NADs and networks)? */
export function hasMultusAnnotation(pod: Pick<PodObject, 'metadata'>): boolean {
  const a = pod.metadata.annotations;
  return a[NETWORKS_ANNOTATION] !== undefined || a[NETWORK_STATUS_ANNOTATION] !== undefined;
}

export function podAttachments(pod: PodObject, ctx: AttachmentContext): PodAttachments {
  if (pod.spec.hostNetwork || !hasMultusAnnotation(pod)) return NONE;
  const podKey = `${pod.metadata.namespace}/${pod.metadata.name}`;
  const source = `Pod ${podKey}`;
  const problems: SourceProblem[] = [];
  const asked = pod.metadata.annotations[NETWORKS_ANNOTATION];
  const selections = asked === undefined ? undefined : parseNetworkSelections(asked, pod.metadata.namespace);
  if (selections !== undefined && 'error' in selections) problems.push({ source, message: `${selections.error}; its secondary interfaces are quarantined` });
  const statusText = pod.metadata.annotations[NETWORK_STATUS_ANNOTATION];
  if (statusText === undefined) return { attachments: [], problems };
  const status = parseNetworkStatus(statusText);
  if ('error' in status) {
    problems.push({ source, message: `${status.error}; its secondary interfaces and their addresses cannot be known, none of them is enforced as the pod's` });
    return { attachments: [], problems };
  }

  // Entries by interface: one interface reported twice is one doubtful interface.
  const byIf = new Map<string, { entries: NetworkStatusEntry[]; n: number }>();
  const podIps = new Set(pod.status.podIPs.map((ip) => canonicalIp(ip) ?? ip));
  for (const [i, e] of status.ok.entries()) {
    if (e.default) continue;
    // Multus before "default" was written (v3.x) reports the cluster network
    // like any other: named for the CNI network (never "<ns>/<nad>"), with the
    // pod's own addresses. Those addresses are the pod's primary endpoints already.
    if (!e.name.includes('/') && e.ips.length > 0 && e.ips.every((ip) => podIps.has(ip))) continue;
    const ifname = e.interface ?? `status-${i + 1}`;
    const have = byIf.get(ifname);
    if (have === undefined) byIf.set(ifname, { entries: [e], n: i + 1 });
    else have.entries.push(e);
  }
  const primaryIfs = new Set(status.ok.filter((e) => e.default && e.interface !== undefined).map((e) => e.interface));
  const attachments: PodAttachment[] = [];
  for (const [ifname, { entries, n }] of [...byIf].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const first = entries[0]!;
    // network-status is the pod owner's to edit: an address it reports is taken as the pod's only inside the
    // cluster's pod ranges (where the operator lists the secondary networks' ranges too). Anything else (a
    // Service's ClusterIP, an outside address, another node's gateway) would become an endpoint that every
    // pod's hooks judge by this interface's placement: a claim on someone else's address.
    const reported = [...new Set(entries.flatMap((e) => e.ips))];
    const ips = reported.filter((ip) => inCidrs(ip, ctx.podCIDRs));
    const foreign = reported.filter((ip) => !ips.includes(ip));
    const nadKey = first.name.includes('/') ? first.name : undefined;
    const what = `interface ${ifname} (${nadKey !== undefined ? `NetworkAttachmentDefinition ${nadKey}` : `network-status name ${JSON.stringify(first.name)}`})`;
    const quarantine = (why: string): PodPlacement => ({ kind: 'quarantine', why: `${what}: ${why}` });
    let placement: PodPlacement;
    if (foreign.length > 0) placement = quarantine(`${foreign.join(', ')} not in the cluster's pod ranges (--pod-cidr): not taken as the pod's`);
    else if (first.interface === undefined) placement = quarantine(`${NETWORK_STATUS_ANNOTATION} entry ${n} names no interface`);
    else if (entries.length > 1) placement = quarantine(`${NETWORK_STATUS_ANNOTATION} reports the interface ${entries.length} times`);
    else if (primaryIfs.has(ifname)) placement = quarantine(`${NETWORK_STATUS_ANNOTATION} also reports it as the cluster-network interface`);
    else if (selections === undefined) placement = quarantine(`not asked for (the pod has no ${NETWORKS_ANNOTATION} annotation)`);
    else if ('error' in selections) placement = quarantine(`${NETWORKS_ANNOTATION} does not parse`);
    else {
      const sel = selections.ok.find((s) => statusOf(s, [first]) !== undefined);
      if (sel === undefined) placement = quarantine(`not asked for in ${NETWORKS_ANNOTATION}`);
      else placement = placeAttachment(`${sel.namespace}/${sel.name}`, ips, ctx, quarantine);
    }
    const a: PodAttachment = { key: attachmentKey(podKey, ifname), ifname, ips, placement };
    if (nadKey !== undefined) a.nad = nadKey;
    attachments.push(a);
  }
  return { attachments, problems };
}

/**
 * CNI plugins whose interface has a side in the node's network namespace (a
 * veth peer on a bridge or routed, an OVS port) that the agent finds and
 * enforces on. Any other delegate is refused, unknown ones included (an
 * allow-list: a NAD's spec.config is its author's to write): macvlan, ipvlan,
 * host-device, SR-IOV, vlan, tap and the like have no node side, and traffic
 * between two such interfaces on one parent never reaches the node. vrfwall
 * does not attach inside the pod's namespace instead: whoever holds
 * NET_ADMIN there (a privileged or NET_ADMIN container) could detach the
 * hooks, and the agent would have to enter every pod's namespace. A refused
 * interface is quarantined, so every enforced pod's hooks drop what it sends
 * or is sent (docs/limits.md, "Interfaces vrfwall cannot attach to").
 */
export const NODE_SIDE_TYPES: ReadonlySet<string> = new Set(['bridge', 'ptp', 'ovs']);

/** The network of an asked-for, attached interface: its NAD's network, when it exists, takes pods and holds every address. */
function placeAttachment(nadKey: string, ips: readonly string[], ctx: AttachmentContext, quarantine: (why: string) => PodPlacement): PodPlacement {
  const nad = ctx.attachmentDefinitions.get(nadKey);
  if (nad === undefined) return quarantine(`NetworkAttachmentDefinition ${nadKey} does not exist (or the cluster has no NetworkAttachmentDefinition CRD)`);
  if (nad.cniType === undefined || !NODE_SIDE_TYPES.has(nad.cniType)) {
    const plugin = nad.cniType === undefined ? 'a plugin its spec.config does not name' : `the ${nad.cniType} plugin`;
    return quarantine(
      `NetworkAttachmentDefinition ${nadKey} uses ${plugin}: vrfwall enforces only on ${[...NODE_SIDE_TYPES].join(', ')} interfaces, which have a side in the node's network namespace (docs/limits.md)`,
    );
  }
  let network: string;
  let why: string;
  const choice = networkChoice(nad.metadata, ctx);
  if (choice.kind === 'bad') return quarantine(`NetworkAttachmentDefinition ${nadKey} ${choice.why}`);
  if (choice.kind === 'network') {
    network = choice.network;
    why = `NetworkAttachmentDefinition ${nadKey} annotation ${choice.keys.join(', ')}`;
  } else {
    network = nadKey;
    if (!ctx.networks.has(network)) return quarantine(`no network ${network} for NetworkAttachmentDefinition ${nadKey} (no VirtualNetwork of that name, no vrfwall.dev/network annotation)`);
    if (ctx.noPods?.has(network)) return quarantine(`network ${network} takes no pods (podNetwork: false)`);
    why = `NetworkAttachmentDefinition ${nadKey} (the network of its name)`;
  }
  const vn = ctx.virtualNetworks.get(network);
  const outside = ips.filter((ip) => !inSubnet(ip, vn));
  if (outside.length > 0) {
    const set = [vn?.spec.v4Subnet, vn?.spec.v6Subnet].filter((x) => x !== undefined);
    return quarantine(`${outside.join(', ')} outside network ${network}'s subnet (${set.length > 0 ? set.join(', ') : 'it sets none'})`);
  }
  return { kind: 'network', network, why };
}

/** Inside the network's subnet of its family; a family without a subnet takes no secondary address (fail closed). */
function inSubnet(ip: string, vn: VirtualNetworkObject | undefined): boolean {
  const addr = ipaddr.parse(ip);
  const subnet = addr.kind() === 'ipv4' ? vn?.spec.v4Subnet : vn?.spec.v6Subnet;
  return subnet !== undefined && inCidrs(ip, [subnet]);
}

function inCidrs(ip: string, cidrs: readonly string[]): boolean {
  const addr = ipaddr.parse(ip);
  return cidrs.some((c) => {
    const [net, len] = ipaddr.parseCIDR(c);
    return net.kind() === addr.kind() && addr.match(net, len);
  });
}
