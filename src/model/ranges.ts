// The cluster's pod and service ranges, to tell where an address is
// (design section 3 rule 6: "outside the cluster's pod and service CIDRs").
import ipaddr from 'ipaddr.js';
import { VW_CIDR_POD } from '../kernel/abi.js';

export type RangeKind = 'pod' | 'service';

export interface ClusterRanges {
  /** Which range holds canonical address `ip`; undefined: outside the cluster. Pod wins over service. */
  kindOf(ip: string): RangeKind | undefined;
}

/** From the compile step's cidrs (canonical CIDR -> VW_CIDR_*). */
export function clusterRanges(cidrs: ReadonlyMap<string, number>): ClusterRanges {
  const parsed = [...cidrs].map(([cidr, kind]) => ({
    range: ipaddr.parseCIDR(cidr),
    kind: kind === VW_CIDR_POD ? ('pod' as const) : ('service' as const),
  }));
  // Pod ranges first: an overlap keeps the stricter pod meaning, as the datapath does.
  parsed.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'pod' ? -1 : 1));
  return {
    kindOf(ip: string): RangeKind | undefined {
      const addr = ipaddr.parse(ip);
      return parsed.find(({ range: [net, len] }) => net.kind() === addr.kind() && addr.match(net, len))?.kind;
    },
  };
}
