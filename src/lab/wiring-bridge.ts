// Bridge-style pod wiring (`vrfwall lab up --cni bridge`), as flannel and the
// CNI bridge plugin do it: every pod's host-side veth is a port of one Linux
// bridge per node, the bridge holds the node's gateway addresses, and pods on
// the same node reach each other at layer 2 (ARP / neighbour discovery and
// bridging, no routing, no host routes). The ptp wiring is in topology.ts.
import { NODE_LINK_LOCAL } from './ipam.js';
import { POD_IF } from './names.js';
import type { PlannedNode, PlannedPod } from './plan.js';

/** The node's pod bridge, named as flannel/the bridge plugin name theirs. */
export const POD_BRIDGE = 'cni0';

/** Prefix lengths of a node's pod subnets (ipam.ts: /24 and /64 per node). */
const SUBNET = { v4: 24, v6: 64 } as const;

/** Node side: the bridge with the gateway addresses, one enslaved veth per pod. */
export function bridgeNodeLines(node: PlannedNode, pods: PlannedPod[]): string[] {
  const lines = [
    // No IGMP/MLD querier on this link: snooping would only hold back
    // neighbour solicitations to solicited-node groups.
    `link add ${POD_BRIDGE} type bridge mcast_snooping 0`,
    `link set ${POD_BRIDGE} up`,
    `addr add ${node.gateway.v4}/${SUBNET.v4} dev ${POD_BRIDGE}`,
    `addr add ${node.gateway.v6}/${SUBNET.v6} dev ${POD_BRIDGE} nodad`,
    `addr add ${NODE_LINK_LOCAL}/64 dev ${POD_BRIDGE} nodad`,
  ];
  for (const pod of pods) {
    const dev = pod.hostIf as string;
    lines.push(
      `link add ${dev} type veth peer name ${POD_IF} netns ${pod.netns}`,
      `link set ${dev} master ${POD_BRIDGE}`,
      // Hairpin, as flannel's and the bridge plugin's hairpinMode: a pod that
      // reaches itself through a Service, NodePort or hostPort gets its DNATed
      // packet back on its own port (br_netfilter bridges it, so without this
      // the bridge drops it).
      `link set ${dev} type bridge_slave hairpin on`,
      `link set ${dev} up`,
    );
  }
  return lines;
}

/** Pod side: its addresses on the node's subnets (on-link peers), the bridge as gateway. */
export function bridgePodLines(node: PlannedNode, pod: PlannedPod): string[] {
  return [
    'link set lo up',
    `link set ${POD_IF} up`,
    `addr add ${pod.ips.v4}/${SUBNET.v4} dev ${POD_IF}`,
    // nodad: usable at once, no ~2 s tentative phase.
    `addr add ${pod.ips.v6}/${SUBNET.v6} dev ${POD_IF} nodad`,
    `route add default via ${node.gateway.v4} dev ${POD_IF}`,
    `route add ::/0 via ${NODE_LINK_LOCAL} dev ${POD_IF}`,
  ];
}
