// The lab's kube-proxy datapath: one nftables table per node namespace that
// DNATs every Service ClusterIP:port/protocol to one of its backends, chosen
// at random per connection (`numgen random mod N` over a map of
// address . port), for IPv4 and IPv6. The script deletes and re-creates the
// table in one `nft -f` transaction, so a node never sees half a rule set.
//
// Hairpin: a pod that reaches its own Service may be sent to itself; its
// reply would then stay inside the pod and never be un-DNATed. Such
// connections (source == chosen backend) are SNATed to the node's address,
// as kube-proxy does with its masquerade mark.
//
// A Service port without backends gets no rule: the packet is routed towards
// the ClusterIP, which no node routes, so the client gets "unreachable".
//
// The other frontends (frontends.ts), in the same table:
// - externalIPs and LoadBalancer IPs: like a ClusterIP, plus kube-proxy's
//   masquerade mark (MASQ_MARK), so the backend sees the node as source;
// - NodePorts (every node): packets to a local address of the node (`fib
//   daddr type local`, loopback excluded, as kube-proxy's nftables mode does)
//   on a nodePort are DNATed to a backend and marked for masquerade;
// - hostPorts (the pod's node only): the same match on hostPort (or on
//   hostIP alone), DNAT to pod:containerPort, no mark: portmap masquerades
//   only hairpin connections, which the hairpin sets cover.
import { inNetns } from './exec.js';
import type { RunOptions } from './exec.js';
import type { HostPortTarget, NodePortTarget } from './frontends.js';
import type { ServiceBackend } from '../model/services.js';
import type { DnatTarget } from './dnat.js';

export const NFT_TABLE = 'vrfwall_kubeproxy';
/** nat/output priority (the "dstnat" keyword is only valid for prerouting in nft 1.0). */
const OUTPUT_DSTNAT_PRIORITY = -100;
/** kube-proxy's masquerade bit (--masquerade-bit 14). */
export const MASQ_MARK = '0x00004000';

const NFT_PROTO: Record<DnatTarget['protocol'], string> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

export interface NodeNat {
  /** the node's own addresses, used as the source of hairpinned connections */
  gateway: { v4: string; v6: string };
}

function familyWords(family: 4 | 6): { match: string; nat: string; addr: string } {
  return family === 4 ? { match: 'ip', nat: 'ip', addr: 'ipv4_addr' } : { match: 'ip6', nat: 'ip6', addr: 'ipv6_addr' };
}

/** The other frontends of one node: NodePorts and external IPs are the same on every node, hostPorts only the node's pods'. */
export interface NodeFrontends {
  nodePorts: NodePortTarget[];
  external: DnatTarget[];
  hostPorts: HostPortTarget[];
}

const NO_FRONTENDS: NodeFrontends = { nodePorts: [], external: [], hostPorts: [] };
const MARK_MASQ = `meta mark set meta mark | ${MASQ_MARK} `;

/** "dnat ... to" a random backend (address . port). */
function dnatTo(family: 4 | 6, backends: ServiceBackend[]): string {
  const map = backends.map((b, i) => `${i} : ${b.ip} . ${b.port}`).join(', ');
  return `dnat ${familyWords(family).nat} to numgen random mod ${backends.length} map { ${map} }`;
}

function dnatRule(t: DnatTarget, masquerade = false): string | undefined {
  if (t.backends.length === 0) return undefined;
  const f = familyWords(t.family);
  return (
    `    ${f.match} daddr ${t.vip} ${NFT_PROTO[t.protocol]} dport ${t.port} ` +
    `${masquerade ? MARK_MASQ : ''}${dnatTo(t.family, t.backends)} comment "${t.service}"`
  );
}

function nfproto(family: 4 | 6): string {
  return family === 4 ? 'meta nfproto ipv4' : 'meta nfproto ipv6';
}

function nodePortRule(t: NodePortTarget): string | undefined {
  if (t.backends.length === 0) return undefined;
  return (
    `    ${nfproto(t.family)} ${NFT_PROTO[t.protocol]} dport ${t.nodePort} ` +
    `${MARK_MASQ}${dnatTo(t.family, t.backends)} comment "${t.service}:${t.port}"`
  );
}

function hostPortRule(t: HostPortTarget): string {
  const match = t.hostIP !== undefined ? `${familyWords(t.family).match} daddr ${t.hostIP}` : nfproto(t.family);
  return (
    `    ${match} ${NFT_PROTO[t.protocol]} dport ${t.hostPort} ` +
    `${dnatTo(t.family, [{ ip: t.ip, port: t.containerPort }])} comment "${t.pod}"`
  );
}

/** Packets to a local address of the node (not loopback) go through `chain`. */
function toLocal(chain: string): string[] {
  return [
    `    fib daddr type local ip daddr != 127.0.0.0/8 jump ${chain}`,
    `    fib daddr type local ip6 daddr != ::1 jump ${chain}`,
  ];
}

function hairpinSet(name: string, family: 4 | 6, targets: Pick<DnatTarget, 'family' | 'backends'>[], also: string[] = []): string[] {
  const ips = [...new Set([...targets.filter((t) => t.family === family).flatMap((t) => t.backends.map((b) => b.ip)), ...also])].sort();
  const lines = [`  set ${name} {`, `    type ${familyWords(family).addr} . ${familyWords(family).addr}`];
  if (ips.length > 0) lines.push(`    elements = { ${ips.map((ip) => `${ip} . ${ip}`).join(', ')} }`);
  lines.push('  }');
  return lines;
}

/** The complete `nft -f` script for one node. */
export function nftScript(targets: DnatTarget[], node: NodeNat, frontends: NodeFrontends = NO_FRONTENDS): string {
  const defined = (r: string | undefined): r is string => r !== undefined;
  const rules = targets.map((t) => dnatRule(t)).filter(defined);
  const external = frontends.external.map((t) => dnatRule(t, true)).filter(defined);
  const nodePorts = frontends.nodePorts.map(nodePortRule).filter(defined);
  const hostPorts = frontends.hostPorts.map(hostPortRule);
  const hostPortIps = (family: 4 | 6) => frontends.hostPorts.filter((h) => h.family === family).map((h) => h.ip);
  const all = [...targets, ...frontends.external, ...frontends.nodePorts];
  return [
    // Declare (no-op if it exists) so the delete cannot fail on a fresh node.
    `table inet ${NFT_TABLE} {}`,
    `delete table inet ${NFT_TABLE}`,
    `table inet ${NFT_TABLE} {`,
    ...hairpinSet('hairpin4', 4, all, hostPortIps(4)),
    ...hairpinSet('hairpin6', 6, all, hostPortIps(6)),
    '  chain services {',
    ...rules,
    ...external,
    // portmap's chain and kube-proxy's are separate; hostPorts first, as a
    // hostPort the node serves is not a NodePort.
    ...(hostPorts.length > 0 ? toLocal('hostports') : []),
    ...(nodePorts.length > 0 ? toLocal('nodeports') : []),
    '  }',
    '  chain nodeports {',
    ...nodePorts,
    '  }',
    '  chain hostports {',
    ...hostPorts,
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '    jump services',
    '  }',
    '  chain output {',
    `    type nat hook output priority ${OUTPUT_DSTNAT_PRIORITY}; policy accept;`,
    '    jump services',
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ct status dnat ip saddr . ip daddr @hairpin4 snat ip to ${node.gateway.v4}`,
    `    ct status dnat ip6 saddr . ip6 daddr @hairpin6 snat ip6 to ${node.gateway.v6}`,
    // kube-proxy: NodePorts and external IPs with externalTrafficPolicy: Cluster.
    `    meta mark & ${MASQ_MARK} == ${MASQ_MARK} masquerade`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Applies a script atomically in a node namespace. */
export async function applyNft(netns: string, script: string, opts: RunOptions = {}): Promise<void> {
  await inNetns(netns, 'nft', ['-f', '-'], { ...opts, input: script });
}

/** The table as the kernel has it (for tests and debugging). */
export async function listNft(netns: string): Promise<string> {
  return (await inNetns(netns, 'nft', ['list', 'table', 'inet', NFT_TABLE])).stdout;
}
