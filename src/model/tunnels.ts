// Tunnel ports an overlay device in a node's namespace decapsulates on: the
// UDP destinations bpf/lib/policy.h vw_is_tunnel drops from pods (TUNNEL).
// Keep the two lists equal. A Service backend on a node or outside address
// at one of these ports would let kube-proxy's DNAT carry the same forged
// packet past that check, so such a port answers nobody (servicemaps.ts).
export const TUNNEL_UDP_PORTS: ReadonlySet<number> = new Set([
  4789, // VXLAN (IANA): Calico, Antrea
  8472, // VXLAN, the Linux default: flannel, Cilium
  6081, // Geneve: Cilium, Antrea, OVN
]);

/** Would a packet to this port and protocol be a tunnel packet to the node? */
export function isTunnelPort(port: number, protocol: string): boolean {
  return protocol === 'UDP' && TUNNEL_UDP_PORTS.has(port);
}
