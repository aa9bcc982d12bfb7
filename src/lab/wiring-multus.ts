// Wiring of the pods' Multus secondary interfaces (planned in attachments.ts),
// as the CNI bridge plugin behind a NetworkAttachmentDefinition would do it:
// - on every node, one Linux bridge per secondary network holding the node's
//   gateway address on the network's subnet (none when the NAD's config says
//   `"isGateway": false`: an L2 network), the pods' secondary host-side veths
//   its ports;
// - across nodes, one VXLAN device per network and node over the underlay
//   (a VNI per network, static flood entries to the other nodes), a port of
//   that bridge: each network is one L2 segment across the nodes;
// - in the pod, the interface's addresses and source-based routing: traffic
//   from an interface's addresses leaves through that interface (its own
//   table: the subnet and a default via the node's gateway on it), eth0's
//   addresses too (table POD_IF_TABLE), and the main table keeps its default
//   via eth0. So a source address picks the interface, as the matrix needs
//   when it probes "from ns/pod@net1".
import { NODE_LINK_LOCAL } from './ipam.js';
import { POD_IF, NODE_UNDERLAY_IF } from './names.js';
import { POD_IF_TABLE, VXLAN_MTU } from './attachments.js';
import type { PlannedSecondaryNetwork } from './attachments.js';
import type { LabPlan, PlannedNode, PlannedPod } from './plan.js';

const VXLAN_PORT = 4789;

function networks(plan: LabPlan): PlannedSecondaryNetwork[] {
  return plan.secondaryNetworks ?? [];
}

/** `ip` lines in a node: each network's bridge (+ VXLAN) and its pods' secondary veths. Run after the underlay port exists. */
export function multusNodeLines(plan: LabPlan, node: PlannedNode, pods: PlannedPod[]): string[] {
  const lines: string[] = [];
  const multiNode = plan.nodes.length > 1;
  for (const net of networks(plan)) {
    const gw = net.gateways[node.index - 1] ?? {};
    lines.push(`link add ${net.bridge} type bridge mcast_snooping 0`, `link set ${net.bridge} up`);
    if (gw.v4 !== undefined) lines.push(`addr add ${gw.v4}/${net.prefix.v4} dev ${net.bridge}`);
    if (gw.v6 !== undefined) lines.push(`addr add ${gw.v6}/${net.prefix.v6} dev ${net.bridge} nodad`);
    if (net.vxlan !== undefined && node.underlay) {
      lines.push(
        `link add ${net.vxlan} type vxlan id ${net.vni} local ${node.underlay.v4} dev ${NODE_UNDERLAY_IF} dstport ${VXLAN_PORT}`,
        `link set ${net.vxlan} master ${net.bridge}`,
        `link set ${net.vxlan} up`,
      );
    }
  }
  for (const pod of pods) {
    for (const a of pod.attachments ?? []) {
      const net = networks(plan).find((n) => n.index === a.networkIndex) as PlannedSecondaryNetwork;
      // Multi-node: the VXLAN's MTU on both ends, so no frame is too big for the tunnel.
      const mtu = multiNode ? ` mtu ${VXLAN_MTU}` : '';
      lines.push(
        `link add ${a.hostIf}${mtu} type veth peer name ${a.interface}${mtu} netns ${pod.netns}`,
        `link set ${a.hostIf} master ${net.bridge}`,
        `link set ${a.hostIf} up`,
      );
    }
  }
  return lines;
}

/** `bridge` lines in a node: flood each network's unknown and broadcast frames to every other node. */
export function multusFdbLines(plan: LabPlan, node: PlannedNode): string[] {
  const lines: string[] = [];
  for (const net of networks(plan)) {
    if (net.vxlan === undefined) continue;
    for (const other of plan.nodes) {
      if (other.index === node.index || !other.underlay) continue;
      lines.push(`fdb append 00:00:00:00:00:00 dev ${net.vxlan} dst ${other.underlay.v4}`);
    }
  }
  return lines;
}

/** A pod's secondary interfaces and routing: lines for `ip -batch` and, separately, for `ip -6 -batch` (v6 rules need the family). */
export function multusPodLines(plan: LabPlan, pod: PlannedPod): { lines: string[]; v6Lines: string[] } {
  const attachments = pod.attachments ?? [];
  if (attachments.length === 0) return { lines: [], v6Lines: [] };
  const node = plan.nodes[pod.nodeIndex - 1] as PlannedNode;
  const lines: string[] = [];
  const v6Lines: string[] = [];
  // eth0's own table: what the main table says about eth0, without the secondary subnets.
  const t0 = POD_IF_TABLE;
  if (plan.cni === 'bridge') {
    lines.push(`route add ${node.podCidrs.v4} dev ${POD_IF} table ${t0}`, `route add ${node.podCidrs.v6} dev ${POD_IF} table ${t0}`);
  } else {
    lines.push(`route add ${node.gateway.v4} dev ${POD_IF} scope link table ${t0}`);
  }
  lines.push(
    `route add default via ${node.gateway.v4} dev ${POD_IF} table ${t0}`,
    `route add ::/0 via ${NODE_LINK_LOCAL} dev ${POD_IF} table ${t0}`,
    `rule add from ${pod.ips.v4} lookup ${t0}`,
  );
  v6Lines.push(`rule add from ${pod.ips.v6} lookup ${t0}`);
  for (const a of attachments) {
    const net = networks(plan).find((n) => n.index === a.networkIndex) as PlannedSecondaryNetwork;
    const gw = net.gateways[node.index - 1] ?? {};
    lines.push(`link set ${a.interface} up`);
    if (a.ips.v4 !== undefined && net.v4Subnet !== undefined) {
      lines.push(
        `addr add ${a.ips.v4}/${net.prefix.v4} dev ${a.interface}`,
        `route add ${net.v4Subnet} dev ${a.interface} src ${a.ips.v4} table ${a.table}`,
        // no gateway (isGateway: false): an L2 network, nothing off the subnet
        ...(gw.v4 !== undefined ? [`route add default via ${gw.v4} dev ${a.interface} table ${a.table}`] : []),
        `rule add from ${a.ips.v4} lookup ${a.table}`,
      );
    }
    if (a.ips.v6 !== undefined && net.v6Subnet !== undefined) {
      // nodad: usable at once, no ~2 s tentative phase.
      lines.push(`addr add ${a.ips.v6}/${net.prefix.v6} dev ${a.interface} nodad`);
      v6Lines.push(
        `route add ${net.v6Subnet} dev ${a.interface} table ${a.table}`,
        ...(gw.v6 !== undefined ? [`route add ::/0 via ${gw.v6} dev ${a.interface} table ${a.table}`] : []),
        `rule add from ${a.ips.v6} lookup ${a.table}`,
      );
    }
  }
  return { lines, v6Lines };
}
