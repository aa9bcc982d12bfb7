// Builds and removes the lab's network: one netns per node and per pod, a veth
// per pod (ptp-style /32 and /128 routes), and an underlay bridge joining the
// nodes; pods' Multus secondary interfaces as wiring-multus.ts says. Nothing
// here touches the host's root network namespace: every link is created
// inside a lab namespace with its peer placed directly in another.
import fs from 'node:fs';
import { NODE_LINK_LOCAL, UNDERLAY_PREFIX } from './ipam.js';
import { ipBatch, inNetns, run } from './exec.js';
import { multusFdbLines, multusNodeLines, multusPodLines } from './wiring-multus.js';
import type { RunOptions } from './exec.js';
import { NETNS_DIR, NODE_UNDERLAY_IF, POD_IF, UNDERLAY_BRIDGE, labNetnsPrefix, underlayPortIf } from './names.js';
import type { LabPlan, PlannedNode, PlannedPod } from './plan.js';
import { bridgeNodeLines, bridgePodLines } from './wiring-bridge.js';

/** Every namespace the plan needs, nodes first. */
export function planNetns(plan: LabPlan): string[] {
  return [
    ...plan.nodes.map((n) => n.netns),
    ...(plan.underlayNetns ? [plan.underlayNetns] : []),
    ...plan.pods.filter((p) => !p.hostNetwork).map((p) => p.netns),
  ];
}

function podsOn(plan: LabPlan, node: PlannedNode): PlannedPod[] {
  return plan.pods.filter((p) => p.nodeIndex === node.index && !p.hostNetwork);
}

/** Bridge with one port per node; each node's end of its port veth is `ul0`. */
function underlayLines(plan: LabPlan): string[] {
  const lines = [
    'link set lo up',
    // No IGMP/MLD querier here: snooping would only get in the way of ND.
    `link add ${UNDERLAY_BRIDGE} type bridge mcast_snooping 0`,
    `link set ${UNDERLAY_BRIDGE} up`,
  ];
  for (const node of plan.nodes) {
    const port = underlayPortIf(plan.lab, node.index);
    lines.push(
      `link add ${port} type veth peer name ${NODE_UNDERLAY_IF} netns ${node.netns}`,
      `link set ${port} master ${UNDERLAY_BRIDGE}`,
      `link set ${port} up`,
    );
  }
  return lines;
}

/** Node links and addresses: loopback, one veth per pod, the underlay port and its routes. */
function nodeLines(plan: LabPlan, node: PlannedNode): string[] {
  const lines = ['link set lo up'];
  if (plan.cni === 'bridge') lines.push(...bridgeNodeLines(node, podsOn(plan, node)));
  else lines.push(`addr add ${node.gateway.v6}/128 dev lo`);
  for (const pod of plan.cni === 'bridge' ? [] : podsOn(plan, node)) {
    const dev = pod.hostIf as string;
    lines.push(
      `link add ${dev} type veth peer name ${POD_IF} netns ${pod.netns}`,
      `link set ${dev} up`,
      `addr add ${node.gateway.v4}/32 dev ${dev}`,
      `addr add ${NODE_LINK_LOCAL}/64 dev ${dev} nodad`,
    );
  }
  if (node.underlay) {
    lines.push(
      `link set ${NODE_UNDERLAY_IF} up`,
      `addr add ${node.underlay.v4}/${UNDERLAY_PREFIX.v4} dev ${NODE_UNDERLAY_IF}`,
      `addr add ${node.underlay.v6}/${UNDERLAY_PREFIX.v6} dev ${NODE_UNDERLAY_IF} nodad`,
    );
    for (const other of plan.nodes) {
      if (other.index === node.index || !other.underlay) continue;
      lines.push(
        `route add ${other.podCidrs.v4} via ${other.underlay.v4} dev ${NODE_UNDERLAY_IF}`,
        `route add ${other.podCidrs.v6} via ${other.underlay.v6} dev ${NODE_UNDERLAY_IF}`,
      );
    }
  }
  // Multus secondary networks: after ul0 (their VXLANs run over it).
  lines.push(...multusNodeLines(plan, node, podsOn(plan, node)));
  return lines;
}

/** Host routes to each pod; added once the pod side is up. */
function nodeRouteLines(plan: LabPlan, node: PlannedNode): string[] {
  if (plan.cni === 'bridge') return []; // on-link subnet of the bridge
  return podsOn(plan, node).flatMap((pod) => [
    `route add ${pod.ips.v4}/32 dev ${pod.hostIf as string}`,
    `route add ${pod.ips.v6}/128 dev ${pod.hostIf as string}`,
  ]);
}

/** Pod side: its addresses on eth0, the node as on-link gateway for both families. */
function podLines(plan: LabPlan, pod: PlannedPod): string[] {
  const node = plan.nodes[pod.nodeIndex - 1] as PlannedNode;
  if (plan.cni === 'bridge') return bridgePodLines(node, pod);
  return [
    'link set lo up',
    `link set ${POD_IF} up`,
    `addr add ${pod.ips.v4}/32 dev ${POD_IF}`,
    // nodad: usable at once, no ~2 s tentative phase.
    `addr add ${pod.ips.v6}/128 dev ${POD_IF} nodad`,
    `route add ${node.gateway.v4} dev ${POD_IF} scope link`,
    `route add default via ${node.gateway.v4} dev ${POD_IF}`,
    `route add ::/0 via ${NODE_LINK_LOCAL} dev ${POD_IF}`,
  ];
}

const NODE_SYSCTLS = [
  'net.ipv4.ip_forward=1',
  'net.ipv6.conf.all.forwarding=1',
  'net.ipv6.conf.default.forwarding=1',
  // A node forwarding v6 solicits neighbours from its link-local address; while
  // that is tentative (DAD, ~2 s) it sends no solicitation at all, so
  // cross-node v6 would be dead for the first seconds. Links made later in
  // this namespace (ul0, pod veths) inherit "default".
  'net.ipv6.conf.default.accept_dad=0',
];

/** Creates the whole topology. On failure the caller tears down by lab prefix. */
export async function createTopology(plan: LabPlan, opts: RunOptions = {}): Promise<void> {
  const existing = listLabNetns(plan.lab);
  if (existing.length > 0) {
    throw new Error(`namespaces of lab "${plan.lab}" already exist (${existing.join(', ')}); run: vrfwall lab down --name ${plan.lab}`);
  }
  await ipBatch(planNetns(plan).map((ns) => `netns add ${ns}`), undefined, opts);
  await Promise.all(
    plan.nodes.map((n) => inNetns(n.netns, 'sysctl', ['-q', '-w', ...NODE_SYSCTLS], opts)),
  );
  if (plan.underlayNetns) await ipBatch(underlayLines(plan), plan.underlayNetns, opts);
  await Promise.all(plan.nodes.map((n) => ipBatch(nodeLines(plan, n), n.netns, opts)));
  await Promise.all(
    plan.nodes.map(async (n) => {
      const fdb = multusFdbLines(plan, n);
      if (fdb.length > 0) await inNetns(n.netns, 'bridge', ['-batch', '-'], { ...opts, input: fdb.join('\n') + '\n' });
    }),
  );
  await Promise.all(
    plan.pods
      .filter((p) => !p.hostNetwork)
      .map(async (p) => {
        const multus = multusPodLines(plan, p);
        await ipBatch([...podLines(plan, p), ...multus.lines], p.netns, opts);
        if (multus.v6Lines.length > 0) await run('ip', ['-6', '-n', p.netns, '-batch', '-'], { ...opts, input: multus.v6Lines.join('\n') + '\n' });
      }),
  );
  await Promise.all(plan.nodes.map((n) => ipBatch(nodeRouteLines(plan, n), n.netns, opts)));
}

/** Namespaces whose names start with `vrfwall-<lab>-`, whatever made them. */
export function listLabNetns(lab: string): string[] {
  const prefix = labNetnsPrefix(lab);
  let names: string[];
  try {
    names = fs.readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith(prefix)).sort();
}

/** Pids of processes living in a namespace (responders, probes, agents). */
export async function netnsPids(netns: string): Promise<number[]> {
  try {
    const { stdout } = await run('ip', ['netns', 'pids', netns]);
    return stdout.split('\n').filter((l) => l.trim() !== '').map(Number).filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

/** Deletes namespaces (their interfaces go with them). Throws listing any that stayed. */
export async function deleteNetns(names: string[]): Promise<void> {
  if (names.length === 0) return;
  // -force: keep going past one failure so one stuck namespace does not keep the others.
  await run('ip', ['-force', '-batch', '-'], { input: names.map((n) => `netns del ${n}`).join('\n') + '\n' }).catch(() => undefined);
  const left = names.filter((n) => fs.existsSync(`${NETNS_DIR}/${n}`));
  if (left.length > 0) throw new Error(`could not delete namespaces: ${left.join(', ')}`);
}
