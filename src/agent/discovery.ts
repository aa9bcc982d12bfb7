// Finds the host-side interface of each local pod from its IP, in the node's
// network namespace. Two wirings, both read from netlink (iproute2 JSON):
//
// - ptp (Calico, the ptp plugin, `lab --cni ptp`): the CNI installs a host
//   route (/32, /128) for the pod IP out of the pod's veth. That device is it.
// - bridge (flannel, the bridge plugin, `lab --cni bridge`): the pod's veth is
//   a port of a Linux bridge that holds the node's gateway address on the pod
//   subnet. No per-pod route: the node reaches the pod through the neighbour
//   table (pod IP -> pod MAC) and the bridge's forwarding database (MAC ->
//   port). Pod IP -> MAC -> port is the interface. A bridge that holds no
//   address on the pod's subnet (the bridge plugin's `isGateway: false`,
//   common for Multus L2 networks) works the same way: a pod address outside
//   every bridge's subnets is looked for on each bridge that holds no prefix
//   of its family, and only while it is found behind exactly one port.
//
// Only veth and netkit devices are pod interfaces: a claimed address that
// resolves to a bridge's uplink, VXLAN or tap port, or a host route through a
// tunnel device, places nothing (hooks there would judge other traffic as
// the pod's).
//
// Learning the MAC (bridge wiring). The node knows a pod's MAC only after an
// ARP/ND exchange with it. For every local pod IP on a bridge subnet the
// agent asks the kernel for a *managed* neighbour entry (NTF_MANAGED, Linux
// 5.16+): the kernel resolves it at once (ARP request / neighbour
// solicitation to the pod) and keeps re-resolving it, so the pod's replies
// also keep the bridge's FDB entry from ageing out. The agent is woken by
// the neighbour event (`ip monitor neigh`) and attaches. The MAC could also be
// read from the peer veth, but that lives in the pod's namespace, which the
// node's namespace cannot name reliably (the CRI pins it where it likes).
// Until the pod answers, its own hooks are not attached; its endpoint is in
// the maps from the Pod object on, so every other pod's hooks already
// enforce isolation against it (and a container's processes start after the
// CNI has configured the address, by which time the port is resolved).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import ipaddr from 'ipaddr.js';
import { canonicalIp } from '../model/ip.js';
import { VW_NO_MAC } from '../kernel/abi.js';
import type { InterfaceIndex, PortMacs } from '../model/types.js';

const run = promisify(execFile);

interface IpRoute {
  dst: string;
  dev?: string;
  type?: string;
  scope?: string;
}

interface IpLink {
  ifindex: number;
  ifname: string;
  master?: string;
  linkinfo?: { info_kind?: string };
}

interface IpNeigh {
  dst: string;
  dev?: string;
  lladdr?: string;
  managed?: null;
  state?: string[];
}

interface FdbEntry {
  mac: string;
  ifname?: string;
  master?: string;
  flags?: string[];
  state?: string;
}

async function jsonOf<T>(cmd: string, args: string[]): Promise<T[]> {
  const { stdout } = await run(cmd, ['-json', ...args], { maxBuffer: 64 * 1024 * 1024 });
  const text = stdout.trim();
  return text === '' ? [] : (JSON.parse(text) as T[]);
}

function hostRouteAddress(dst: string): string | undefined {
  const [addr, len] = dst.split('/');
  if (addr === undefined || !ipaddr.isValid(addr)) return undefined;
  const parsed = ipaddr.parse(addr);
  const full = parsed.kind() === 'ipv4' ? '32' : '128';
  if (len !== undefined && len !== full) return undefined;
  return canonicalIp(addr);
}

/** A connected subnet of a bridge (its gateway address's prefix). */
interface BridgeSubnet {
  bridge: string;
  net: [ipaddr.IPv4 | ipaddr.IPv6, number];
}

/** The device kinds a pod's host-side interface can be. */
const POD_PORT_KINDS: ReadonlySet<string> = new Set(['veth', 'netkit']);

function isPodPort(link: IpLink | undefined): boolean {
  return link !== undefined && POD_PORT_KINDS.has(link.linkinfo?.info_kind ?? '');
}

type Family = 'ipv4' | 'ipv6';

function familyOf(ip: string): Family {
  return ipaddr.process(ip).kind();
}

function inSubnet(ip: string, s: BridgeSubnet): boolean {
  const a = ipaddr.process(ip);
  return a.kind() === s.net[0].kind() && a.match(s.net as [typeof a, number]);
}

export interface NeighbourRequest {
  ip: string;
  bridge: string;
}

export interface Discovered {
  /** pod IP -> ifindex: host routes (ptp) and neighbour + FDB (bridge) */
  byIp: InterfaceIndex;
  /** bridge port -> the MAC its pod's addresses resolve to (VW_NO_MAC: to several) */
  macs: PortMacs;
  /** every interface of this netns */
  all: number[];
  /** local pod IPs that may be behind a bridge port (on its subnet, or of a family some bridge holds no prefix of) whose port is not known yet */
  unresolved: string[];
  /** neighbour entries to make managed (resolve now, keep fresh) */
  manage: NeighbourRequest[];
  /** managed entries for addresses that are no longer local pods */
  release: NeighbourRequest[];
}

/** What a pod's IP was last seen behind; kept while port and MAC stay the same. */
interface Learned {
  bridge: string;
  mac: string;
  ifindex: number;
}

/**
 * Interface discovery with memory: a bridge port learned once stays known
 * while the port exists on the same bridge and the neighbour entry has not
 * changed MAC, even if the FDB entry ages out between two ARP refreshes.
 */
export class InterfaceDiscovery {
  private learned = new Map<string, Learned>();

  /**
   * @param localPods the IPs of each local (non-host-network) pod; one pod's
   *        addresses share its interface, so one resolved IP places all of them
   * @param podCIDRs managed neighbour entries are only ever removed inside these
   * @param bridgeOf addresses that may only be behind a port of this bridge (a Multus interface whose
   *        NetworkAttachmentDefinition names its bridge); looked for there only
   */
  async discover(localPods: readonly (readonly string[])[] = [], podCIDRs: readonly string[] = [], bridgeOf: ReadonlyMap<string, string> = new Map()): Promise<Discovered> {
    const [links, v4, v6] = await Promise.all([
      jsonOf<IpLink>('ip', ['-details', 'link', 'show']),
      jsonOf<IpRoute>('ip', ['-4', 'route', 'show', 'table', 'main']),
      jsonOf<IpRoute>('ip', ['-6', 'route', 'show', 'table', 'main']),
    ]);
    const byName = new Map(links.map((l) => [l.ifname, l]));
    const out: InterfaceIndex = new Map();
    for (const r of [...v4, ...v6]) {
      if (r.dev === undefined || (r.type !== undefined && r.type !== 'unicast')) continue;
      const addr = hostRouteAddress(r.dst);
      const link = byName.get(r.dev);
      if (addr !== undefined && isPodPort(link) && r.dev !== 'lo') out.set(addr, (link as IpLink).ifindex);
    }
    const routed = new Set(out.keys());
    const result: Discovered = { byIp: out, macs: new Map(), all: links.map((l) => l.ifindex), unresolved: [], manage: [], release: [] };

    const bridges = new Set(links.filter((l) => l.linkinfo?.info_kind === 'bridge').map((l) => l.ifname));
    if (bridges.size === 0) {
      this.learned.clear();
      return result;
    }
    const subnets: BridgeSubnet[] = [];
    for (const r of [...v4, ...v6]) {
      if (r.dev === undefined || !bridges.has(r.dev) || !r.dst.includes('/') || hostRouteAddress(r.dst) !== undefined) continue;
      try {
        const net = ipaddr.parseCIDR(r.dst);
        // every bridge has fe80::/64: it says nothing about pod subnets
        if (net[0].range() !== 'linkLocal') subnets.push({ bridge: r.dev, net });
      } catch {
        // not a prefix (e.g. "default"): no pods behind it
      }
    }
    // Where a pod address may be: its bridge subnet's bridge, else every
    // bridge without a prefix of its family (an address-less L2 bridge).
    const addressless = (f: Family): string[] => [...bridges].filter((b) => !subnets.some((s) => s.bridge === b && s.net[0].kind() === f)).sort();
    // Bridges a NAD names belong to their networks: an address without a hint is not looked for on them.
    const named = new Set(bridgeOf.values());
    const candidatesOf = (ip: string): string[] => {
      const want = bridgeOf.get(ip);
      if (want !== undefined) return bridges.has(want) ? [want] : [];
      const subnet = subnets.find((s) => inSubnet(ip, s));
      return subnet !== undefined ? [subnet.bridge] : addressless(familyOf(ip)).filter((b) => !named.has(b));
    };
    const [neighbours, fdb] = await Promise.all([jsonOf<IpNeigh>('ip', ['neigh', 'show']), jsonOf<FdbEntry>('bridge', ['fdb', 'show'])]);

    // MAC -> port, per bridge: learned entries only (not the ports' own
    // permanent addresses, not the bridge's "self" entries).
    const portOf = new Map<string, number>();
    for (const e of fdb) {
      if (e.master === undefined || !bridges.has(e.master) || e.ifname === undefined) continue;
      if (e.state === 'permanent' || e.flags?.includes('self')) continue;
      const port = byName.get(e.ifname);
      if (port?.master === e.master && isPodPort(port)) portOf.set(`${e.master}|${e.mac.toLowerCase()}`, port.ifindex);
    }
    const isPortOf = (ifindex: number, bridge: string): boolean => links.some((l) => l.ifindex === ifindex && l.master === bridge && isPodPort(l));

    // neighbour entries by "ip|bridge" (an address looked for on several
    // address-less bridges has one entry on each), and the addresses that have any
    const neighOf = new Map<string, IpNeigh>();
    const neighIps = new Set<string>();
    const learned = new Map<string, Learned>();
    // An address found behind ports of two bridges is nobody's (fail closed).
    const foundOn = new Map<string, Set<string>>();
    for (const n of neighbours) {
      if (n.dev === undefined || !bridges.has(n.dev)) continue;
      const ip = canonicalIp(n.dst);
      if (ip === undefined) continue;
      neighOf.set(`${ip}|${n.dev}`, n);
      neighIps.add(ip);
      const want = bridgeOf.get(ip);
      if (want !== undefined && want !== n.dev) continue; // an answer on another bridge than its NAD's places nothing
      const mac = n.lladdr?.toLowerCase();
      const before = this.learned.get(ip);
      // Memory first: while the port stays on the bridge and the address
      // keeps its MAC, the pod is there, even when the FDB entry aged out (or
      // the probe is in flight) or puts the MAC behind another port (only a
      // frame forged with that MAC, from a port not enforced yet, does that:
      // one pod, one port).
      let port: number | undefined;
      if (before !== undefined && before.bridge === n.dev && (mac === undefined || mac === before.mac) && isPortOf(before.ifindex, n.dev)) {
        port = before.ifindex;
      } else if (mac !== undefined) {
        port = portOf.get(`${n.dev}|${mac}`);
      }
      if (port === undefined) continue;
      const on = foundOn.get(ip) ?? new Set<string>();
      foundOn.set(ip, on.add(n.dev));
      if (on.size > 1) {
        learned.delete(ip);
        continue;
      }
      // A port comes from the FDB (mac known) or from memory (before known).
      learned.set(ip, { bridge: n.dev, mac: mac ?? (before as Learned).mac, ifindex: port });
    }
    for (const [ip, l] of learned) if (!out.has(ip)) out.set(ip, l.ifindex);
    // A local pod whose neighbour entry is gone altogether stays where it
    // was learnt while its port is on the bridge: the kernel flushes a
    // device's neighbours when its MAC changes (a bridge whose address was
    // not set takes the lowest of its ports', so a new port can do it), and
    // until the entry is back (managed again below) the pod would otherwise
    // be nowhere, its hooks detached and its traffic unchecked.
    const localIps = new Set(localPods.flat().flatMap((ip) => canonicalIp(ip) ?? []));
    for (const [ip, before] of this.learned) {
      if (learned.has(ip) || neighIps.has(ip) || !localIps.has(ip) || !isPortOf(before.ifindex, before.bridge)) continue;
      if ((bridgeOf.get(ip) ?? before.bridge) !== before.bridge) continue;
      learned.set(ip, before);
      if (!out.has(ip)) out.set(ip, before.ifindex);
    }
    this.learned = learned;

    // One pod, one interface: a resolved address places the pod's others.
    for (const ips of localPods) {
      const ports = new Set(ips.map((ip) => out.get(ip)).filter((i): i is number => i !== undefined));
      if (ports.size !== 1) continue;
      const [port] = [...ports] as [number];
      for (const ip of ips) if (!out.has(ip)) out.set(ip, port);
    }
    result.macs = portMacs(localPods, learned);

    // Managed entries wanted: a bridge-subnet address on its bridge; an
    // address for address-less bridges on the one it was found on, else on each.
    const wanted = new Set<string>();
    for (const ips of localPods) {
      for (const ip of ips) {
        if (routed.has(ip)) continue; // a host route (ptp)
        // found, or placed by its pod's other address: that port's bridge
        const placed = out.get(ip);
        const bridge = learned.get(ip)?.bridge ?? (placed !== undefined ? links.find((l) => l.ifindex === placed)?.master : undefined);
        const on = bridge !== undefined ? [bridge] : candidatesOf(ip);
        if (on.length === 0) continue;
        if (!out.has(ip)) result.unresolved.push(ip);
        for (const b of on) {
          wanted.add(`${ip}|${b}`);
          const n = neighOf.get(`${ip}|${b}`);
          if (n === undefined || !('managed' in n)) result.manage.push({ ip, bridge: b });
        }
      }
    }
    const cidrs = podCIDRs.flatMap((c) => {
      try {
        return [ipaddr.parseCIDR(c)];
      } catch {
        return [];
      }
    });
    for (const [key, n] of neighOf) {
      const ip = key.slice(0, key.lastIndexOf('|'));
      if (!('managed' in n) || wanted.has(key) || n.dev === undefined) continue;
      const a = ipaddr.process(ip);
      if (cidrs.some((c) => c[0].kind() === a.kind() && a.match(c as [typeof a, number]))) result.release.push({ ip, bridge: n.dev });
    }
    return result;
  }
}

/**
 * The MAC each bridge port may send from (the datapath's ports map): the one
 * the addresses of its pod resolve to. Addresses of one pod resolving to
 * different MACs make it VW_NO_MAC (nothing passes: fail closed); other
 * neighbours on the bridge (the node's entries for a pod's link-local
 * address and the like) do not count.
 */
function portMacs(localPods: readonly (readonly string[])[], learned: ReadonlyMap<string, Learned>): PortMacs {
  const macs: PortMacs = new Map();
  for (const ips of localPods) {
    for (const ip of ips) {
      const l = learned.get(ip);
      if (l === undefined) continue;
      const have = macs.get(l.ifindex);
      macs.set(l.ifindex, have === undefined || have === l.mac ? l.mac : VW_NO_MAC);
    }
  }
  return macs;
}

/** Makes neighbour entries managed (resolution starts at once) and removes released ones. */
export async function applyNeighbours(manage: NeighbourRequest[], release: NeighbourRequest[]): Promise<void> {
  const lines = [
    // "replace" keeps a known link-layer address and only adds the flag.
    ...manage.map((n) => `neigh replace ${n.ip} dev ${n.bridge} managed`),
    ...release.map((n) => `neigh del ${n.ip} dev ${n.bridge}`),
  ];
  if (lines.length === 0) return;
  await new Promise<void>((resolve, reject) => {
    const child = execFile('ip', ['-force', '-batch', '-'], (err, _out, stderr) => {
      if (err) reject(new Error(`ip neigh: ${stderr.trim() || err.message}`));
      else resolve();
    });
    child.stdin?.end(lines.join('\n') + '\n');
  });
}

/** What the node's routing and neighbour tables say about pod interfaces, in this netns. */
export async function discoverInterfaces(): Promise<Discovered> {
  return new InterfaceDiscovery().discover();
}
