// Multus secondary interfaces in the lab (issue 14), planned from the
// manifests alone (pure, no I/O): which pod gets which extra interface, in
// which network, with which addresses, and the per-network devices of every
// node. The wiring is in wiring-multus.ts.
//
// Decisions:
// - A pod's `k8s.v1.cni.cncf.io/networks` names NetworkAttachmentDefinitions;
//   a NAD's network is the VirtualNetwork of its namespace/name, or the one
//   its `vrfwall.dev/network: <ns>/<name>` annotation names. Whatever cannot
//   be resolved (annotation or NAD annotation that does not parse, NAD or
//   VirtualNetwork missing, a static address outside the subnet or taken)
//   gets no interface and a warning: Multus would refuse the pod, the lab is
//   lenient so that tests can run pods with bad attachments.
// - A network used by an attachment must have a v4Subnet or a v6Subnet (or
//   both): the lab refuses to come up otherwise, naming it.
// - Addresses: host numbers from 2 upward in pod key order, the same number
//   in both families; static `ips` as given. Node i's gateway on the network
//   is host number (size - 1 - i): .254 for node1, .253 for node2 in a /24
//   (a v6-only subnet counts as 65536 addresses, so ::fffe, ::fffd).
// - Every node has every used network's bridge and gateway, so any node
//   routes between networks and the pod network (no agent: all open).
import ipaddr from 'ipaddr.js';
import { canonicalIp } from '../model/ip.js';
import { isInterfaceName, parseNetworkSelections } from '../model/multus.js';
import { isDnsLabel, isDnsSubdomain } from '../model/placement.js';
import type { LabNetworkStatusEntry } from './cluster-file.js';
import type { LabAttachmentDefinition, LabManifests, LabNetwork } from './manifests.js';
import { POD_IF, podAttachmentIf, secondaryBridge, secondaryVxlan } from './names.js';
import { POD_BRIDGE } from './wiring-bridge.js';
import type { LabPlan, PlannedPod } from './plan.js';

/** The NAD annotation naming its network (design section 2). */
export const NAD_NETWORK_ANNOTATION = 'vrfwall.dev/network';
/** Name of the pod network in network-status (Multus writes its cluster network's name). */
export const DEFAULT_NETWORK_STATUS_NAME = 'lab';
/** Policy-routing tables in a pod with attachments: eth0's, then one per attachment. */
export const POD_IF_TABLE = 100;
/** podAttachmentIf() leaves room for two digits. */
export const MAX_ATTACHMENTS_PER_POD = 99;
/** A v6-only subnet's host numbers are counted up to this (as a /112). */
const V6_HOST_SPACE = 65536;
/** Secondary veths in multi-node labs: 1500 less the VXLAN header (as flannel's vxlan backend). */
export const VXLAN_MTU = 1450;

export interface Addresses {
  v4?: string;
  v6?: string;
}

/** A VirtualNetwork some attachment is in: one bridge (and VXLAN) per node. */
export interface PlannedSecondaryNetwork {
  /** 1-based over the used networks sorted by key; names the devices and is the VNI */
  index: number;
  /** the VirtualNetwork's "ns/name" */
  key: string;
  v4Subnet?: string;
  v6Subnet?: string;
  /** prefix lengths of the subnets, for the interfaces' addresses */
  prefix: { v4?: number; v6?: number };
  bridge: string;
  /** only with two or more nodes */
  vxlan?: string;
  vni: number;
  /** gateway addresses of node i at [i - 1] */
  gateways: Addresses[];
}

/** One secondary interface of a pod. */
export interface PlannedAttachment {
  /** "<nad-namespace>/<nad-name>": its name in network-status */
  name: string;
  /** the VirtualNetwork's "ns/name" */
  network: string;
  networkIndex: number;
  /** in the pod */
  interface: string;
  /** its peer on the node, a port of the network's bridge */
  hostIf: string;
  ips: Addresses;
  /** the pod's policy-routing table for traffic from these addresses */
  table: number;
}

export interface AttachmentPlan {
  plan: LabPlan;
  /** attachments the lab could not wire, one line each (the lab prints them) */
  warnings: string[];
}

type Resolved = { pod: PlannedPod; name: string; network: LabNetwork; ifname: string; ips: string[] };

/** The network a NAD puts its attachments in, or why there is none. */
function networkOf(nad: LabAttachmentDefinition, networks: Map<string, LabNetwork>): LabNetwork | string {
  const ref = nad.annotations[NAD_NETWORK_ANNOTATION];
  let key = `${nad.namespace}/${nad.name}`;
  if (ref !== undefined) {
    const m = /^([^/]+)\/([^/]+)$/.exec(ref.trim());
    if (m === null || !isDnsLabel(m[1] as string) || !isDnsSubdomain(m[2] as string)) {
      return `its annotation ${NAD_NETWORK_ANNOTATION}: ${JSON.stringify(ref)} is not "<namespace>/<name>"`;
    }
    key = `${m[1]}/${m[2]}`;
  }
  return networks.get(key) ?? `its network, VirtualNetwork ${key}, does not exist`;
}

const big = (a: ipaddr.IPv4 | ipaddr.IPv6): bigint => a.toByteArray().reduce((n, b) => (n << 8n) | BigInt(b), 0n);

function fromBig(n: bigint, v6: boolean): string {
  const bytes: number[] = [];
  for (let i = 0; i < (v6 ? 16 : 4); i++) {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/** A subnet's base and size; the address with host number h. */
class Subnet {
  readonly base: bigint;
  readonly size: bigint;
  readonly prefix: number;
  constructor(
    readonly cidr: string,
    readonly v6: boolean,
  ) {
    const [addr, len] = ipaddr.parseCIDR(cidr);
    this.base = big(addr);
    this.prefix = len;
    this.size = 1n << BigInt((v6 ? 128 : 32) - len);
  }
  host(h: number): string {
    return fromBig(this.base + BigInt(h), this.v6);
  }
  /** host number of an address inside, else undefined */
  hostOf(ip: string): number | undefined {
    const a = ipaddr.parse(ip);
    if ((a.kind() === 'ipv6') !== this.v6) return undefined;
    const off = big(a) - this.base;
    return off >= 0n && off < this.size ? Number(off) : undefined;
  }
}

/** Adds the pods' secondary interfaces and the networks' devices to a plan. */
export function planAttachments(plan: LabPlan, manifests: Pick<LabManifests, 'pods' | 'networks' | 'attachmentDefinitions'>): AttachmentPlan {
  const warnings: string[] = [];
  const networks = new Map(manifests.networks.map((n) => [n.key, n]));
  const nads = new Map(manifests.attachmentDefinitions.map((d) => [`${d.namespace}/${d.name}`, d]));
  const annotation = new Map(manifests.pods.filter((p) => p.networks !== undefined).map((p) => [p.key, p.networks as string]));

  const resolved: Resolved[] = [];
  for (const pod of plan.pods) {
    const value = annotation.get(pod.key);
    if (value === undefined) continue;
    const skip = (why: string) => warnings.push(`Pod ${pod.key}: ${why}; no interface for it`);
    if (pod.hostNetwork) {
      skip('host-network pods get no secondary interfaces (Multus ignores them)');
      continue;
    }
    const sels = parseNetworkSelections(value, pod.namespace);
    if ('error' in sels) {
      skip(sels.error);
      continue;
    }
    let wired = 0;
    for (const sel of sels.ok) {
      const name = `${sel.namespace}/${sel.name}`;
      const what = `attachment ${name} (${sel.interface})`;
      const nad = nads.get(name);
      if (nad === undefined) {
        skip(`${what}: NetworkAttachmentDefinition ${name} does not exist`);
        continue;
      }
      const network = networkOf(nad, networks);
      if (typeof network === 'string') {
        skip(`${what}: NetworkAttachmentDefinition ${name}: ${network}`);
        continue;
      }
      if (sel.interface === POD_IF || sel.interface === 'lo' || !isInterfaceName(sel.interface)) {
        skip(`${what}: interface ${sel.interface} is taken`);
        continue;
      }
      if (wired >= MAX_ATTACHMENTS_PER_POD) {
        skip(`${what}: more than ${MAX_ATTACHMENTS_PER_POD} attachments`);
        continue;
      }
      resolved.push({ pod, name, network, ifname: sel.interface, ips: sel.ips });
      wired++;
    }
  }

  const used = [...new Set(resolved.map((r) => r.network.key))].sort();
  // Each network's bridge is the one its NADs name (the bridge plugin's `bridge`), as the agent's discovery
  // expects; a network whose NADs name none, several, or one another network or the pod network uses gets a name
  // of the lab's own, and its interfaces will not be found (a warning says so).
  const namedBridge = new Map<string, string>();
  const claimed = new Map<string, number>();
  for (const key of used) {
    const names = new Set(resolved.filter((r) => r.network.key === key).map((r) => nads.get(r.name)?.bridge));
    const [only] = [...names];
    if (names.size === 1 && only !== undefined && isInterfaceName(only) && only !== POD_BRIDGE) {
      namedBridge.set(key, only);
      claimed.set(only, (claimed.get(only) ?? 0) + 1);
    } else if ([...names].some((n) => n !== undefined)) {
      warnings.push(`VirtualNetwork ${key}: its NetworkAttachmentDefinitions name the bridges ${[...names].map((n) => n ?? '(none)').join(', ')}; the lab names it itself, and the agent will not find its interfaces`);
    }
  }
  for (const [key, name] of namedBridge) {
    if ((claimed.get(name) ?? 0) > 1) {
      namedBridge.delete(key);
      warnings.push(`VirtualNetwork ${key}: bridge ${name} is named for another network too; the lab names it itself, and the agent will not find its interfaces`);
    }
  }
  const bare = used.filter((k) => networks.get(k)?.v4Subnet === undefined && networks.get(k)?.v6Subnet === undefined);
  if (bare.length > 0) {
    throw new Error(`VirtualNetwork ${bare.join(', ')}: has neither spec.v4Subnet nor spec.v6Subnet, so the lab has no addresses for the secondary interfaces in it`);
  }
  const nodeCount = plan.nodes.length;
  const secondary: PlannedSecondaryNetwork[] = [];
  const byNetwork = new Map<string, { net: PlannedSecondaryNetwork; subnets: { v4?: Subnet; v6?: Subnet }; hosts: number }>();
  used.forEach((key, i) => {
    const n = networks.get(key) as LabNetwork;
    const subnets = {
      ...(n.v4Subnet !== undefined ? { v4: new Subnet(n.v4Subnet, false) } : {}),
      ...(n.v6Subnet !== undefined ? { v6: new Subnet(n.v6Subnet, true) } : {}),
    };
    const sizes = [subnets.v4?.size, subnets.v6 ? (subnets.v6.size < V6_HOST_SPACE ? subnets.v6.size : BigInt(V6_HOST_SPACE)) : undefined];
    const hosts = Number(sizes.filter((s): s is bigint => s !== undefined).reduce((a, b) => (a < b ? a : b)));
    // Host numbers 2 .. hosts-2-nodes for pods, above them one gateway per node, then the broadcast.
    if (hosts - 2 - nodeCount < 2) {
      throw new Error(`VirtualNetwork ${key}: its subnet is too small for ${nodeCount} node gateway(s) and pods`);
    }
    const index = i + 1;
    // A NAD that says `"isGateway": false`: the bridge holds no address (an L2 network, nothing routed off it).
    const noGateway = [...nads.values()].some((d) => d.noGateway && resolved.some((r) => r.network.key === key && r.name === `${d.namespace}/${d.name}`));
    const gateways = plan.nodes.map((_, j) => {
      if (noGateway) return {};
      const h = hosts - 2 - j;
      return { ...(subnets.v4 ? { v4: subnets.v4.host(h) } : {}), ...(subnets.v6 ? { v6: subnets.v6.host(h) } : {}) };
    });
    const net: PlannedSecondaryNetwork = {
      index,
      key,
      ...(n.v4Subnet !== undefined ? { v4Subnet: n.v4Subnet } : {}),
      ...(n.v6Subnet !== undefined ? { v6Subnet: n.v6Subnet } : {}),
      prefix: { ...(subnets.v4 ? { v4: subnets.v4.prefix } : {}), ...(subnets.v6 ? { v6: subnets.v6.prefix } : {}) },
      bridge: namedBridge.get(key) ?? secondaryBridge(plan.lab, index),
      ...(nodeCount > 1 ? { vxlan: secondaryVxlan(plan.lab, index) } : {}),
      vni: index,
      gateways,
    };
    secondary.push(net);
    byNetwork.set(key, { net, subnets, hosts });
  });

  // Static addresses first (in pod order), then the others from host 2 up.
  const taken = new Map<string, Set<number>>(used.map((k) => [k, new Set<number>()]));
  const statics = new Map<Resolved, Addresses>();
  for (const r of resolved) {
    if (r.ips.length === 0) continue;
    const { subnets, hosts } = byNetwork.get(r.network.key) as { subnets: { v4?: Subnet; v6?: Subnet }; hosts: number };
    const seen = taken.get(r.network.key) as Set<number>;
    const out: Addresses = {};
    let bad: string | undefined;
    for (const ip of r.ips) {
      const v6 = ip.includes(':');
      const subnet = v6 ? subnets.v6 : subnets.v4;
      const h = subnet?.hostOf(ip);
      if (h === undefined) bad = `${ip} is not in the network's ${v6 ? 'v6Subnet' : 'v4Subnet'} (${subnet?.cidr ?? 'none'})`;
      else if (h === 0 || (!v6 && BigInt(h) === (subnet as Subnet).size - 1n)) bad = `${ip} is the subnet's ${h === 0 ? 'network' : 'broadcast'} address`;
      else if (h >= hosts - 1 - nodeCount && h <= hosts - 2) bad = `${ip} is a node's gateway address`;
      else if (seen.has(h) || out[v6 ? 'v6' : 'v4'] !== undefined) bad = `${ip} is taken`;
      else out[v6 ? 'v6' : 'v4'] = canonicalIp(ip) as string;
      if (bad !== undefined) break;
    }
    if (bad !== undefined) {
      warnings.push(`Pod ${r.pod.key}: attachment ${r.name} (${r.ifname}): ${bad}; no interface for it`);
      statics.set(r, {});
      continue;
    }
    for (const ip of Object.values(out)) seen.add((ip.includes(':') ? subnets.v6 : subnets.v4)?.hostOf(ip) as number);
    statics.set(r, out);
  }
  const next = new Map<string, number>(used.map((k) => [k, 2]));
  const attachments = new Map<PlannedPod, PlannedAttachment[]>();
  for (const r of resolved) {
    const { net, subnets, hosts } = byNetwork.get(r.network.key) as { net: PlannedSecondaryNetwork; subnets: { v4?: Subnet; v6?: Subnet }; hosts: number };
    let ips: Addresses;
    if (r.ips.length > 0) {
      ips = statics.get(r) as Addresses;
      if (ips.v4 === undefined && ips.v6 === undefined) continue; // refused above
    } else {
      const seen = taken.get(r.network.key) as Set<number>;
      let h = next.get(r.network.key) as number;
      while (seen.has(h)) h++;
      if (h > hosts - 2 - nodeCount) throw new Error(`VirtualNetwork ${r.network.key}: no address left for Pod ${r.pod.key}`);
      seen.add(h);
      next.set(r.network.key, h + 1);
      ips = { ...(subnets.v4 ? { v4: subnets.v4.host(h) } : {}), ...(subnets.v6 ? { v6: subnets.v6.host(h) } : {}) };
    }
    const list = attachments.get(r.pod) ?? [];
    const k = list.length + 1;
    list.push({
      name: r.name,
      network: r.network.key,
      networkIndex: net.index,
      interface: r.ifname,
      hostIf: podAttachmentIf(plan.lab, r.pod.index, k),
      ips,
      table: POD_IF_TABLE + k,
    });
    attachments.set(r.pod, list);
  }
  const pods = plan.pods.map((p) => {
    const list = attachments.get(p);
    return list === undefined ? p : { ...p, attachments: list };
  });
  return { plan: { ...plan, pods, ...(secondary.length > 0 ? { secondaryNetworks: secondary } : {}) }, warnings };
}

/** The pods' interfaces as Multus reports them, for the cluster file (MACs as read from the pods). */
export function networkStatusOf(pod: PlannedPod, macs: Map<string, string>): LabNetworkStatusEntry[] {
  const entry = (name: string, ifname: string, ips: string[], isDefault: boolean): LabNetworkStatusEntry => {
    const mac = macs.get(ifname);
    return { name, interface: ifname, ips, ...(mac !== undefined ? { mac } : {}), default: isDefault };
  };
  return [
    entry(DEFAULT_NETWORK_STATUS_NAME, POD_IF, [pod.ips.v4, pod.ips.v6], true),
    ...(pod.attachments ?? []).map((a) => entry(a.name, a.interface, [a.ips.v4, a.ips.v6].filter((x): x is string => x !== undefined), false)),
  ];
}
