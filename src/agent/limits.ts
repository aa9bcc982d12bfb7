// What the datapath cannot see, detected where it can be (docs/limits.md):
// read-only looks at the node's network namespace (devices, the programs on
// them, nftables/iptables rules) and at the cluster state. Each finding is
// something that can carry a pod's traffic past vrfwall's hooks, or turn a
// pod's connection into one "from the node" (rule 6).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { NativeAddon, TcDirection, TcFilter } from '../kernel/native.js';
import type { ClusterState } from '../model/types.js';
import { describeProgram, programText, xdpByDevice, type ForeignProgram } from './hookorder.js';

const run = promisify(execFile);

export const FINDING_KINDS = [
  /** a program besides vrfwall's on a pod's host-side interface */
  'pod-interface-program',
  /** a tcx/tc/XDP program on another device of the node: it may deliver to a pod with bpf_redirect_peer */
  'device-program',
  /** a tunnel device decapsulating in the node namespace: inner packets from anyone who reaches its port */
  'overlay-device',
  /** netkit pod devices: the CNI's program runs inside the device, before the host side's hooks */
  'netkit-device',
  /** a hostNetwork pod on this node: it is the node (rule 6), so is whatever it forwards */
  'host-network-pod',
  /** kube-proxy masquerades every Service connection: receivers see the node (rule 6) */
  'masquerade-all',
  /** kube-proxy IPVS mode: ClusterIPs are local addresses of the node */
  'ipvs',
  /** a node-local proxy device (NodeLocal DNSCache) */
  'node-local-proxy',
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

export interface Finding {
  kind: FindingKind;
  /** what it is about: "device eth0", "Pod ns/name", "nftables" */
  subject: string;
  detail: string;
}

export function findingKey(f: Finding): string {
  return `${f.kind}|${f.subject}|${f.detail}`;
}

/** What `ip -details -json link show` says about a device. */
export interface DeviceInfo {
  ifindex: number;
  ifname: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}

/** Tunnel kinds whose decapsulation hands inner packets to the node's routing. */
const OVERLAY_KINDS = new Set(['vxlan', 'geneve', 'ipip', 'ip6tnl', 'gre', 'gretap', 'ip6gre', 'ip6gretap', 'sit', 'erspan', 'ip6erspan', 'bareudp']);

export function overlayDetail(d: DeviceInfo): string {
  const kind = d.linkinfo?.info_kind ?? '';
  const data = d.linkinfo?.info_data ?? {};
  const parts = [kind];
  if (data.external === true || data.collect_metadata === true) parts.push('external (any VNI/remote)');
  else if (typeof data.id === 'number') parts.push(`id ${data.id}`);
  if (typeof data.port === 'number') parts.push(`UDP port ${data.port}`);
  if (typeof data.remote === 'string') parts.push(`remote ${data.remote}`);
  else if (kind === 'ipip' || kind === 'sit' || kind === 'gre' || kind === 'ip6tnl') parts.push('remote any');
  return `${parts.join(', ')}: decapsulates in the node namespace; a pod that reaches this port or protocol on a node address (allowed: rule 6) can have inner packets with any source delivered`;
}

/** Device findings that need no kernel query: tunnels, netkit, well-known proxy devices. */
export function deviceFindings(devices: DeviceInfo[]): Finding[] {
  const out: Finding[] = [];
  for (const d of devices) {
    const kind = d.linkinfo?.info_kind ?? '';
    const subject = `device ${d.ifname}`;
    if (OVERLAY_KINDS.has(kind)) out.push({ kind: 'overlay-device', subject, detail: overlayDetail(d) });
    if (kind === 'netkit') {
      out.push({ kind: 'netkit-device', subject, detail: 'netkit: programs attached to the device run in the pod-side transmit path, before the host side; vrfwall attaches to tcx/tc only' });
    }
    if (d.ifname === 'kube-ipvs0') {
      out.push({ kind: 'ipvs', subject, detail: 'kube-proxy IPVS mode: ClusterIPs are local addresses of the node, so a ClusterIP on a port no Service has reaches the node itself (rule 6)' });
    }
    if (d.ifname === 'nodelocaldns') {
      out.push({ kind: 'node-local-proxy', subject, detail: 'NodeLocal DNSCache: DNS queries are answered and forwarded by the node (rule 6)' });
    }
  }
  return out;
}

/**
 * kube-proxy with --masquerade-all: the rule that marks a ClusterIP
 * connection for masquerade carries no "not from a pod" condition.
 * nftables mode: chain service-*, `... daddr <ip> ... jump mark-for-masquerade`;
 * iptables-nft: chain KUBE-SVC-*, `jump KUBE-MARK-MASQ`; iptables-save:
 * `-A KUBE-SVC-* ... -j KUBE-MARK-MASQ`. Normally these have
 * `saddr != <cluster CIDR>` / `! -s` or an interface condition.
 */
export function masqueradeAllRules(nftRuleset: string, iptablesSave: string): string[] {
  const out: string[] = [];
  const unconditional = (line: string): boolean => !/saddr != |iifname != |iif != |! -s |! -i /.test(line);
  let chain = '';
  for (const raw of nftRuleset.split('\n')) {
    const line = raw.trim();
    const c = /^chain (\S+) \{$/.exec(line);
    if (c) {
      chain = (c[1] ?? '').replace(/^"|"$/g, '');
      continue;
    }
    const inService = chain.startsWith('service-') || chain.startsWith('KUBE-SVC-');
    if (inService && / daddr /.test(` ${line}`) && /jump (mark-for-masquerade|KUBE-MARK-MASQ)\b/.test(line) && unconditional(line)) out.push(line);
  }
  for (const raw of iptablesSave.split('\n')) {
    const line = raw.trim();
    if (/^-A KUBE-SVC-\S+ /.test(line) && / -d \S+/.test(line) && /-j KUBE-MARK-MASQ\b/.test(line) && unconditional(line)) out.push(line);
  }
  return out;
}

export function hostNetworkFindings(state: ClusterState, nodeName: string): Finding[] {
  const out: Finding[] = [];
  for (const [key, pod] of state.pods) {
    if (!pod.spec.hostNetwork || pod.spec.nodeName !== nodeName) continue;
    const ports = pod.spec.ports.map((p) => `${p.containerPort}/${p.protocol}`);
    out.push({
      kind: 'host-network-pod',
      subject: `Pod ${key}`,
      detail: `hostNetwork: it is the node (rule 6); what it forwards or proxies for pods is not judged as theirs${ports.length > 0 ? ` (ports ${ports.join(', ')})` : ''}`,
    });
  }
  return out.sort((a, b) => (a.subject < b.subject ? -1 : 1));
}

/** Programs that are not ours on a device: tcx chains, tc filters, XDP. */
export function foreignPrograms(bpf: NativeAddon, ifindex: number, own: Set<number>, xdp: ForeignProgram[]): ForeignProgram[] {
  const out: ForeignProgram[] = xdp.filter((p) => !own.has(p.id));
  for (const dir of ['ingress', 'egress'] as TcDirection[]) {
    let tcx: number[] = [];
    try {
      tcx = bpf.tcxChain(ifindex, dir).progIds;
    } catch {
      // no tcx in this kernel, or the device went away
    }
    for (const id of tcx) if (!own.has(id)) out.push(describeProgram(bpf, id, `tcx ${dir}`));
    let filters: TcFilter[] = [];
    try {
      filters = bpf.tcList(ifindex, dir);
    } catch {
      // device went away
    }
    for (const f of filters) {
      if (f.kind === 'bpf' && own.has(f.progId)) continue;
      const where = `tc ${dir} priority ${f.priority} ${f.kind}`;
      out.push(f.kind === 'bpf' && f.progId !== 0 ? describeProgram(bpf, f.progId, where) : { id: 0, name: '', where });
    }
  }
  return out;
}

export interface DetectInput {
  bpf: NativeAddon;
  nodeName: string;
  state: ClusterState;
  /** vrfwall's program ids */
  own: Set<number>;
  /** ifindex -> local pod ("ns/name") whose host-side interface it is */
  podInterfaces: Map<number, string>;
}

async function textOf(cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch {
    return ''; // not installed, or nothing there: nothing to report
  }
}

/** Everything detectable, in the calling process's network namespace. */
export async function detectLimits(input: DetectInput): Promise<Finding[]> {
  // nft shows nftables and iptables-nft rules; legacy (x_tables) rules only
  // the legacy save tools show. Either may be missing: nothing to report then.
  const [linksText, nft, ip4, ip6] = await Promise.all([
    run('ip', ['-details', '-json', 'link', 'show'], { maxBuffer: 64 * 1024 * 1024 }).then((r) => r.stdout),
    textOf('nft', ['list', 'ruleset']),
    textOf('iptables-legacy-save', ['-t', 'nat']),
    textOf('ip6tables-legacy-save', ['-t', 'nat']),
  ]);
  const iptables = ip4 + '\n' + ip6;
  const devices = (linksText.trim() === '' ? [] : JSON.parse(linksText)) as DeviceInfo[];
  const out = deviceFindings(devices);
  const xdpOf = xdpByDevice(input.bpf);
  for (const d of devices) {
    const foreign = foreignPrograms(input.bpf, d.ifindex, input.own, xdpOf.get(d.ifindex) ?? []);
    if (foreign.length === 0) continue;
    const pod = input.podInterfaces.get(d.ifindex);
    const list = foreign.map(programText).join(', ');
    out.push(
      pod !== undefined
        ? {
            kind: 'pod-interface-program',
            subject: `device ${d.ifname} (Pod ${pod})`,
            detail: `${list} beside vrfwall's programs: one that delivers with bpf_redirect_peer skips the receiving pod's to-pod hook`,
          }
        : {
            kind: 'device-program',
            subject: `device ${d.ifname}`,
            detail: `${list}: may redirect into a pod (bpf_redirect_peer/redirect_neigh) past its to-pod hook; only the sender's from-pod hook judges such traffic`,
          },
    );
  }
  const masq = masqueradeAllRules(nft, iptables);
  if (masq.length > 0) {
    out.push({
      kind: 'masquerade-all',
      subject: 'kube-proxy',
      detail: `${masq.length} ClusterIP rule(s) masquerade every client (e.g. "${masq[0]}"): receivers see the node (rule 6), so Service connections are judged only at the sender's from-pod hook`,
    });
  }
  out.push(...hostNetworkFindings(input.state, input.nodeName));
  return out;
}
