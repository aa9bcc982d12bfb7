// The lab's kube-proxy view of the Services (model/services.ts computes who
// stands behind each; this turns it into DNAT rule sets for nftables.ts).
import type { L4Protocol } from '../model/types.js';
import type { ServiceBackend, ServiceEndpoints } from '../model/services.js';

/** One DNAT rule set of a kube-proxy: VIP:port/protocol -> backends of the VIP's family. */
export interface DnatTarget {
  service: string; // "ns/name"
  vip: string;
  family: 4 | 6;
  protocol: L4Protocol;
  port: number;
  backends: ServiceBackend[]; // same family as vip; may be empty (kube-proxy rejects then)
}

/** The kube-proxy view: one entry per (VIP, port), backends of the VIP's family. */
export function dnatTargets(services: readonly ServiceEndpoints[]): DnatTarget[] {
  const out: DnatTarget[] = [];
  for (const svc of services) {
    for (const vip of svc.vips) {
      const family = ipFamily(vip);
      for (const p of svc.ports) {
        out.push({
          service: svc.key,
          vip,
          family,
          protocol: p.protocol,
          port: p.port,
          backends: p.backends.filter((b) => ipFamily(b.ip) === family),
        });
      }
    }
  }
  return out;
}

/** 4 or 6 for a canonical address (IPv4 canonical text has no colon). */
export function ipFamily(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4;
}
