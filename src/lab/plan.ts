// What a lab will look like, computed from the pods alone (pure, no I/O):
// placement on nodes, namespaces, interface names, addresses, ports.
import { MAX_NODES, MAX_PODS_PER_NODE, FIRST_POD_HOST, nodeGateway, nodePodCidrs, nodeUnderlay, podAddress } from './ipam.js';
import type { DualStack } from './ipam.js';
import type { PlannedAttachment, PlannedSecondaryNetwork } from './attachments.js';
import type { LabPodSpec } from './manifests.js';
import { nodeIndexOf, nodeName, nodeNetns, podHostIf, podNetns, underlayNetns } from './names.js';

/** Port every responder listens on (TCP and UDP) when a pod declares none. */
export const DEFAULT_PORT = 8080;

export interface PlannedNode {
  index: number;
  name: string;
  netns: string;
  podCidrs: DualStack;
  gateway: DualStack;
  /** only with two or more nodes */
  underlay?: DualStack;
}

export interface PlannedPod {
  /** 1-based, over all pods sorted by "ns/name"; names the pod's netns and veth */
  index: number;
  key: string;
  namespace: string;
  name: string;
  node: string;
  nodeIndex: number;
  hostNetwork: boolean;
  /** the pod's own netns, or its node's for hostNetwork pods */
  netns: string;
  /** node-side veth (absent for hostNetwork pods) */
  hostIf?: string;
  ips: DualStack;
  /** the responder listens on TCP and UDP on each of these */
  ports: number[];
  /** ports the matrix probes */
  probe: { tcp: number; udp: number };
  /** SCTP container ports: the responder answers INITs to them (sctp.ts); absent: none */
  sctpPorts?: number[];
  /** made by the lab (the cluster DNS): runs its own server, not a responder, and is not in the matrix */
  builtin?: 'dns';
  /** Multus secondary interfaces (attachments.ts); absent: none */
  attachments?: PlannedAttachment[];
}

/** How pods are wired to their node: ptp (veth + host routes, like Calico) or bridge (like flannel). */
export type CniMode = 'ptp' | 'bridge';
export const CNI_MODES: readonly CniMode[] = ['ptp', 'bridge'];

export interface LabPlan {
  lab: string;
  /** absent in state files of older labs: ptp */
  cni?: CniMode;
  nodes: PlannedNode[];
  pods: PlannedPod[];
  underlayNetns?: string;
  /** networks of the pods' secondary interfaces (attachments.ts); absent: none */
  secondaryNetworks?: PlannedSecondaryNetwork[];
}

function planNodes(lab: string, count: number): PlannedNode[] {
  const nodes: PlannedNode[] = [];
  for (let i = 1; i <= count; i++) {
    nodes.push({
      index: i,
      name: nodeName(i),
      netns: nodeNetns(lab, i),
      podCidrs: nodePodCidrs(i),
      gateway: nodeGateway(i),
      ...(count > 1 ? { underlay: nodeUnderlay(i) } : {}),
    });
  }
  return nodes;
}

/** spec.nodeName when given (must be node1..nodeN), else round-robin in pod order. */
function placePods(pods: LabPodSpec[], nodeCount: number): Map<string, number> {
  const placement = new Map<string, number>();
  let next = 0;
  for (const pod of pods) {
    if (pod.nodeName !== undefined) {
      const i = nodeIndexOf(pod.nodeName, nodeCount);
      if (i === undefined) {
        const names = nodeCount === 1 ? nodeName(1) : `${nodeName(1)}..${nodeName(nodeCount)}`;
        throw new Error(`Pod ${pod.key}: spec.nodeName "${pod.nodeName}" is not a lab node (${names})`);
      }
      placement.set(pod.key, i);
    } else {
      placement.set(pod.key, (next % nodeCount) + 1);
      next++;
    }
  }
  return placement;
}

function uniq(ns: number[]): number[] {
  return [...new Set(ns)];
}

function portsOf(pod: LabPodSpec): { ports: number[]; probe: { tcp: number; udp: number }; sctpPorts?: number[] } {
  const all = uniq(pod.ports.map((p) => p.port));
  const first = (proto: string) => pod.ports.find((p) => p.protocol === proto)?.port ?? all[0] ?? DEFAULT_PORT;
  const sctp = uniq(pod.ports.filter((p) => p.protocol === 'SCTP').map((p) => p.port));
  return { ports: all.length > 0 ? all : [DEFAULT_PORT], probe: { tcp: first('TCP'), udp: first('UDP') }, ...(sctp.length > 0 ? { sctpPorts: sctp } : {}) };
}

/** Host-network pods share their node's stack, so their ports must not clash. */
function checkHostPorts(pods: PlannedPod[]): void {
  const used = new Map<string, string>();
  for (const pod of pods) {
    if (!pod.hostNetwork) continue;
    for (const port of pod.ports) {
      const slot = `${pod.node}:${port}`;
      const other = used.get(slot);
      if (other) throw new Error(`host-network Pods ${other} and ${pod.key} both use port ${port} on ${pod.node}`);
      used.set(slot, pod.key);
    }
  }
}

/** `pods` must be sorted by key (readLabManifests does this). */
export function planLab(lab: string, nodeCount: number, pods: LabPodSpec[], cni: CniMode = 'ptp'): LabPlan {
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_NODES) {
    throw new Error(`--nodes must be an integer from 1 to ${MAX_NODES}, got ${nodeCount}`);
  }
  const nodes = planNodes(lab, nodeCount);
  const placement = placePods(pods, nodeCount);
  const nextHost = new Map<number, number>(nodes.map((n) => [n.index, FIRST_POD_HOST]));
  const planned: PlannedPod[] = pods.map((pod, i) => {
    const nodeIndex = placement.get(pod.key) as number;
    const node = nodes[nodeIndex - 1] as PlannedNode;
    const index = i + 1;
    let ips: DualStack;
    if (pod.hostNetwork) {
      ips = node.gateway;
    } else {
      const host = nextHost.get(nodeIndex) as number;
      if (host - FIRST_POD_HOST >= MAX_PODS_PER_NODE) {
        throw new Error(`too many pods on ${node.name}: at most ${MAX_PODS_PER_NODE} fit in ${node.podCidrs.v4}`);
      }
      nextHost.set(nodeIndex, host + 1);
      ips = podAddress(nodeIndex, host);
    }
    return {
      index,
      key: pod.key,
      namespace: pod.namespace,
      name: pod.name,
      node: node.name,
      nodeIndex,
      hostNetwork: pod.hostNetwork,
      netns: pod.hostNetwork ? node.netns : podNetns(lab, index),
      ...(pod.hostNetwork ? {} : { hostIf: podHostIf(lab, index) }),
      ips,
      ...portsOf(pod),
      ...(pod.builtin ? { builtin: pod.builtin } : {}),
    };
  });
  checkHostPorts(planned);
  return { lab, cni, nodes, pods: planned, ...(nodeCount > 1 ? { underlayNetns: underlayNetns(lab) } : {}) };
}

/** Addresses the cluster file lists for a node (all of them "host" endpoints). */
export function nodeAddresses(node: PlannedNode): string[] {
  const out = [node.gateway.v4, node.gateway.v6];
  if (node.underlay) out.push(node.underlay.v4, node.underlay.v6);
  return out;
}
