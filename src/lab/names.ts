// Every name and path the lab uses, in one place, so `lab down` can find all
// of a lab's leftovers from the lab name alone.
import { createHash } from 'node:crypto';
import path from 'node:path';

/** Lab names end up inside netns names and the `<lab>-*` cleanup globs: no '-'. */
const LAB_NAME = /^[a-z0-9]{1,20}$/;

export const NETNS_PREFIX = 'vrfwall-';
export const RUN_ROOT = '/run/vrfwall';
export const PIN_ROOT = '/sys/fs/bpf/vrfwall';
export const NETNS_DIR = '/run/netns';

export function checkLabName(lab: string): void {
  if (!LAB_NAME.test(lab)) {
    throw new Error(`invalid lab name "${lab}": use 1-20 lowercase letters or digits (no '-')`);
  }
}

/** Node names are node1..nodeN; spec.nodeName must use them. */
export function nodeName(index: number): string {
  return `node${index}`;
}

/** 1-based node index of a node name, or undefined if it is not one of ours. */
export function nodeIndexOf(name: string, nodeCount: number): number | undefined {
  const m = /^node([1-9][0-9]*)$/.exec(name);
  if (!m) return undefined;
  const i = Number(m[1]);
  return i <= nodeCount ? i : undefined;
}

export function labNetnsPrefix(lab: string): string {
  return `${NETNS_PREFIX}${lab}-`;
}

export function nodeNetns(lab: string, index: number): string {
  return `${labNetnsPrefix(lab)}n${index}`;
}

export function podNetns(lab: string, index: number): string {
  return `${labNetnsPrefix(lab)}p${index}`;
}

export function underlayNetns(lab: string): string {
  return `${labNetnsPrefix(lab)}ul`;
}

/** Short tag of the lab name, so interfaces say which lab made them. */
function labTag(lab: string): string {
  return createHash('sha1').update(lab).digest('hex').slice(0, 4);
}

/** Node-side veth of pod k: "vw" + 4 hex + "p" + k, at most 15 chars (IFNAMSIZ - 1). */
export function podHostIf(lab: string, podIndex: number): string {
  return `vw${labTag(lab)}p${podIndex}`;
}

/** Node-side veth of pod k's n-th secondary interface (Multus attachment): "vw" + 4 hex + "p" + k + "a" + n, n <= 99. */
export function podAttachmentIf(lab: string, podIndex: number, n: number): string {
  return `vw${labTag(lab)}p${podIndex}a${n}`;
}

/** Bridge of secondary network i on every node (its pods' secondary veths and VXLAN are its ports). */
export function secondaryBridge(lab: string, networkIndex: number): string {
  return `vw${labTag(lab)}b${networkIndex}`;
}

/** VXLAN device of secondary network i on every node (multi-node labs), a port of its bridge. */
export function secondaryVxlan(lab: string, networkIndex: number): string {
  return `vw${labTag(lab)}x${networkIndex}`;
}

/** Underlay-side veth of node i, inside the underlay namespace. */
export function underlayPortIf(lab: string, nodeIndex: number): string {
  return `vw${labTag(lab)}n${nodeIndex}`;
}

export const POD_IF = 'eth0';
export const NODE_UNDERLAY_IF = 'ul0';
export const UNDERLAY_BRIDGE = 'br0';

export function labDir(lab: string): string {
  return path.join(RUN_ROOT, 'lab', lab);
}

export function stateFile(lab: string): string {
  return path.join(labDir(lab), 'state.json');
}

export function clusterFile(lab: string): string {
  return path.join(labDir(lab), 'cluster.json');
}

export function agentInstance(lab: string, node: string): string {
  return `${lab}-${node}`;
}

export function agentLogFile(lab: string, node: string): string {
  return path.join(labDir(lab), `agent-${node}.log`);
}

/** stdout/stderr of the agent process (crash traces that never reach pino). */
export function agentOutFile(lab: string, node: string): string {
  return path.join(labDir(lab), `agent-${node}.out`);
}

export function agentStatusFile(instance: string): string {
  return path.join(RUN_ROOT, instance, 'status.json');
}

export function responderLogFile(lab: string, podIndex: number): string {
  return path.join(labDir(lab), `responder-p${podIndex}.log`);
}

export function netnsPath(netns: string): string {
  return path.join(NETNS_DIR, netns);
}

/** Manifests the lab itself provides (cluster DNS, `kubernetes` Service); the agents read it too. */
export function builtinDir(lab: string): string {
  return path.join(labDir(lab), 'builtin');
}

/** What the lab's kube-proxy programmed: Services, backends, DNS records (LabServicesFile). */
export function servicesFile(lab: string): string {
  return path.join(labDir(lab), 'services.json');
}

export function kubeProxyLogFile(lab: string): string {
  return path.join(labDir(lab), 'kube-proxy.log');
}

export function apiserverLogFile(lab: string): string {
  return path.join(labDir(lab), 'apiserver.log');
}
