// Tunnel ports an overlay device in a node's namespace decapsulates on: the
// UDP destinations the datapath drops from pods (TUNNEL), from the ABI
// (bpf/vrfwall.h VW_TUNNEL_PORT_*, checked by test/abi.test.ts). A Service
// backend on a node or outside address at one of these ports would let
// kube-proxy's DNAT carry the same forged packet past that check, so such a
// port answers nobody (servicemaps.ts).
import { VW_TUNNEL_PORT_GENEVE, VW_TUNNEL_PORT_VXLAN, VW_TUNNEL_PORT_VXLAN_LINUX } from '../kernel/abi.js';

export const TUNNEL_UDP_PORTS: ReadonlySet<number> = new Set([VW_TUNNEL_PORT_VXLAN, VW_TUNNEL_PORT_VXLAN_LINUX, VW_TUNNEL_PORT_GENEVE]);

/** Would a packet to this port and protocol be a tunnel packet to the node? */
export function isTunnelPort(port: number, protocol: string): boolean {
  return protocol === 'UDP' && TUNNEL_UDP_PORTS.has(port);
}
