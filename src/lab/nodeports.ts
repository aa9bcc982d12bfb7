// NodePort allocation, the lab's stand-in for the API server's allocator
// (pure). Every port of a NodePort or LoadBalancer Service needs a nodePort;
// a port whose manifest sets one keeps exactly it, every other port gets the
// lowest free one of 30000-32767. Services are visited in "ns/name" order and
// earlier allocations are kept, so the same manifests always give the same
// nodePorts and adding a Service never moves another one (like clusterips.ts).
//
// Decisions: a nodePort number is handed out once whatever the protocol (the
// API server's allocator is one bitmap too); two manifests claiming the same
// nodePort/protocol is a conflict the lab reports (frontends.ts), the
// allocator only avoids handing such a number out again.
import { compareText } from '../util/order.js';

export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;

export interface NodePortInput {
  /** "ns/name" */
  key: string;
  /** NodePort or LoadBalancer: its ports need nodePorts */
  wantsNodePorts: boolean;
  ports: { port: number; protocol: string; nodePort?: number }[];
}

/** "ns/name" -> "port/PROTO" -> nodePort: what the lab allocated (the cluster file's `nodePorts`). */
export type NodePortAllocation = Record<string, Record<string, number>>;

/** The key of a Service port in a NodePortAllocation. */
export function nodePortSlot(port: number, protocol: string): string {
  return `${port}/${protocol}`;
}

/**
 * Allocations for every port that needs one. `previous` is what the lab
 * handed out before; an entry is kept while its Service port exists, still
 * needs one and its number is not claimed by a manifest.
 */
export function allocateNodePorts(services: NodePortInput[], previous: NodePortAllocation): NodePortAllocation {
  const sorted = [...services].sort((a, b) => compareText(a.key, b.key));
  const taken = new Set<number>();
  // nodePorts set in manifests first: they win over earlier allocations. A
  // port whose nodePort is the earlier allocation (the source filled it in)
  // does not claim it: it is kept below.
  const isPrevious = (s: NodePortInput, slot: string, n: number | undefined) => n !== undefined && previous[s.key]?.[slot] === n;
  for (const s of sorted) {
    for (const p of s.ports) {
      const slot = nodePortSlot(p.port, p.protocol);
      if (p.nodePort !== undefined && !isPrevious(s, slot, p.nodePort)) taken.add(p.nodePort);
    }
  }
  const out: NodePortAllocation = {};
  const pending: { key: string; slot: string }[] = [];
  for (const s of sorted) {
    if (!s.wantsNodePorts) continue;
    for (const p of s.ports) {
      const slot = nodePortSlot(p.port, p.protocol);
      if (p.nodePort !== undefined && !isPrevious(s, slot, p.nodePort)) continue;
      const prev = previous[s.key]?.[slot];
      if (prev !== undefined && !taken.has(prev)) {
        taken.add(prev);
        (out[s.key] ??= {})[slot] = prev;
      } else {
        pending.push({ key: s.key, slot });
      }
    }
  }
  let next = NODE_PORT_MIN;
  for (const { key, slot } of pending) {
    while (next <= NODE_PORT_MAX && taken.has(next)) next++;
    if (next > NODE_PORT_MAX) throw new Error(`no free nodePort left in ${NODE_PORT_MIN}-${NODE_PORT_MAX} for Service ${key} port ${slot}`);
    taken.add(next);
    (out[key] ??= {})[slot] = next;
  }
  return out;
}
