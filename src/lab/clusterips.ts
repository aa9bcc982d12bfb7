// ClusterIP allocation, the lab's stand-in for the API server's allocator
// (pure). Services that set spec.clusterIP(s) keep exactly those (a v4-only
// spec stays single-stack, as in Kubernetes). Every other Service gets one
// IPv4 from 10.96.0.0/16 and one IPv6 from fd00:10:96::/108: the lowest free
// IPv4 (10.96.0.1 and 10.96.0.10 are reserved for `kubernetes` and
// `kube-dns`), and the IPv6 with the same host number when free. Services
// are visited in "ns/name" order and earlier allocations are kept, so the
// same manifests always give the same addresses and adding a Service never
// moves another one.
import ipaddr from 'ipaddr.js';
import { compareText } from '../util/order.js';

export const SERVICE_V4_BASE = '10.96.0.0';
export const SERVICE_V6_BASE = 'fd00:10:96::';
const V4_HOSTS = 1 << 16; // /16
const V6_HOSTS = 1 << 20; // /108
/** 10.96.0.1 (kubernetes) and 10.96.0.10 (kube-dns), and the network address. */
const RESERVED_HOSTS = new Set([0, 1, 10]);

export interface ServiceIpInput {
  key: string;
  /** ClusterIPs the cluster state has now: the manifest's, or an earlier allocation. */
  clusterIPs: string[];
  /** headless or ExternalName: no ClusterIP wanted */
  noClusterIP: boolean;
}

export type Allocation = Record<string, { clusterIPs: string[] }>;

function v4Of(host: number): string {
  return `10.96.${host >> 8}.${host & 0xff}`;
}

function v6Of(host: number): string {
  return ipaddr.parse(`${SERVICE_V6_BASE}${host.toString(16)}`).toString();
}

/**
 * Allocations for every Service that needs one. `previous` is what the lab
 * handed out before (the cluster file's `services`); an entry is kept while
 * its Service exists and its addresses are not claimed by a manifest.
 */
export function allocateClusterIPs(services: ServiceIpInput[], previous: Allocation): Allocation {
  const sorted = [...services].sort((a, b) => compareText(a.key, b.key));
  const taken = new Set<string>();
  // Addresses set in manifests first: they win over earlier allocations.
  const allocated = (s: ServiceIpInput) => {
    const prev = previous[s.key]?.clusterIPs;
    return prev !== undefined && prev.length > 0 && prev.every((ip) => s.clusterIPs.includes(ip));
  };
  for (const s of sorted) if (!allocated(s)) s.clusterIPs.forEach((ip) => taken.add(ip));
  const out: Allocation = {};
  const pending: ServiceIpInput[] = [];
  for (const s of sorted) {
    if (s.noClusterIP || (s.clusterIPs.length > 0 && !allocated(s))) continue;
    const prev = previous[s.key]?.clusterIPs ?? [];
    if (prev.length > 0 && prev.every((ip) => !taken.has(ip))) {
      prev.forEach((ip) => taken.add(ip));
      out[s.key] = { clusterIPs: [...prev] };
    } else {
      pending.push(s);
    }
  }
  let next = 0;
  for (const s of pending) {
    while (next < V4_HOSTS && (RESERVED_HOSTS.has(next) || taken.has(v4Of(next)))) next++;
    if (next >= V4_HOSTS - 1) throw new Error(`no free ClusterIP left in ${SERVICE_V4_BASE}/16 for Service ${s.key}`);
    const v4 = v4Of(next);
    let v6 = v6Of(next);
    for (let h = 2; taken.has(v6) && h < V6_HOSTS; h++) v6 = v6Of(h);
    taken.add(v4).add(v6);
    out[s.key] = { clusterIPs: [v4, v6] };
  }
  return out;
}

