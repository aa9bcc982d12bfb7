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
import { inNetns } from './exec.js';
import type { RunOptions } from './exec.js';
import type { DnatTarget } from '../model/services.js';

export const NFT_TABLE = 'vrfwall_kubeproxy';
/** nat/output priority (the "dstnat" keyword is only valid for prerouting in nft 1.0). */
const OUTPUT_DSTNAT_PRIORITY = -100;

const NFT_PROTO: Record<DnatTarget['protocol'], string> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

export interface NodeNat {
  /** the node's own addresses, used as the source of hairpinned connections */
  gateway: { v4: string; v6: string };
}

function familyWords(family: 4 | 6): { match: string; nat: string; addr: string } {
  return family === 4 ? { match: 'ip', nat: 'ip', addr: 'ipv4_addr' } : { match: 'ip6', nat: 'ip6', addr: 'ipv6_addr' };
}

function dnatRule(t: DnatTarget): string | undefined {
  if (t.backends.length === 0) return undefined;
  const f = familyWords(t.family);
  const map = t.backends.map((b, i) => `${i} : ${b.ip} . ${b.port}`).join(', ');
  return (
    `    ${f.match} daddr ${t.vip} ${NFT_PROTO[t.protocol]} dport ${t.port} ` +
    `dnat ${f.nat} to numgen random mod ${t.backends.length} map { ${map} } comment "${t.service}"`
  );
}

function hairpinSet(name: string, family: 4 | 6, targets: DnatTarget[]): string[] {
  const ips = [...new Set(targets.filter((t) => t.family === family).flatMap((t) => t.backends.map((b) => b.ip)))].sort();
  const lines = [`  set ${name} {`, `    type ${familyWords(family).addr} . ${familyWords(family).addr}`];
  if (ips.length > 0) lines.push(`    elements = { ${ips.map((ip) => `${ip} . ${ip}`).join(', ')} }`);
  lines.push('  }');
  return lines;
}

/** The complete `nft -f` script for one node. */
export function nftScript(targets: DnatTarget[], node: NodeNat): string {
  const rules = targets.map(dnatRule).filter((r): r is string => r !== undefined);
  return [
    // Declare (no-op if it exists) so the delete cannot fail on a fresh node.
    `table inet ${NFT_TABLE} {}`,
    `delete table inet ${NFT_TABLE}`,
    `table inet ${NFT_TABLE} {`,
    ...hairpinSet('hairpin4', 4, targets),
    ...hairpinSet('hairpin6', 6, targets),
    '  chain services {',
    ...rules,
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
