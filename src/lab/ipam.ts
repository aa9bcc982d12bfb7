// Lab address plan. Node i (1-based) owns 10.244.i.0/24 and fd00:10:244:i::/64
// (i written as a hex group, so node 10 is fd00:10:244:a::); its pods get
// host numbers 10..254 (.10 / ::a up). Node i's underlay address is
// 10.250.0.i/24 and fd00:10:250::i/64.
import { requireCanonicalIp } from '../model/ip.js';

export const POD_CIDRS = ['10.244.0.0/16', 'fd00:10:244::/48'];
export const SERVICE_CIDRS = ['10.96.0.0/16', 'fd00:10:96::/108'];
export const UNDERLAY_PREFIX = { v4: 24, v6: 64 } as const;

/** The node side of every pod veth carries this link-local gateway (nodad). */
export const NODE_LINK_LOCAL = 'fe80::1';

export const FIRST_POD_HOST = 10;
export const LAST_POD_HOST = 254;
export const MAX_PODS_PER_NODE = LAST_POD_HOST - FIRST_POD_HOST + 1;
/** 10.244.i.0/24 and 10.250.0.i leave room for nodes 1..254. */
export const MAX_NODES = 254;

export interface DualStack {
  v4: string;
  v6: string;
}


function dual(v4: string, v6: string): DualStack {
  return { v4: requireCanonicalIp(v4), v6: requireCanonicalIp(v6) };
}

function hex(n: number): string {
  return n.toString(16);
}

function checkNode(i: number): void {
  if (!Number.isInteger(i) || i < 1 || i > MAX_NODES) throw new Error(`node index ${i} out of range 1..${MAX_NODES}`);
}

export function nodePodCidrs(i: number): DualStack {
  checkNode(i);
  return { v4: `10.244.${i}.0/24`, v6: `fd00:10:244:${hex(i)}::/64` };
}

/**
 * The node's own addresses inside its pod ranges: 10.244.i.1 (on every pod
 * veth, ptp-style) and fd00:10:244:i::1 (on the node's loopback, so the node
 * has a global v6 source for traffic to its pods).
 */
export function nodeGateway(i: number): DualStack {
  checkNode(i);
  return dual(`10.244.${i}.1`, `fd00:10:244:${hex(i)}::1`);
}

export function nodeUnderlay(i: number): DualStack {
  checkNode(i);
  return dual(`10.250.0.${i}`, `fd00:10:250::${hex(i)}`);
}

/** Address of the pod with the given host number on node i. */
export function podAddress(i: number, host: number): DualStack {
  checkNode(i);
  if (!Number.isInteger(host) || host < FIRST_POD_HOST || host > LAST_POD_HOST) {
    throw new Error(`pod host number ${host} out of range ${FIRST_POD_HOST}..${LAST_POD_HOST}`);
  }
  return dual(`10.244.${i}.${host}`, `fd00:10:244:${hex(i)}::${hex(host)}`);
}
