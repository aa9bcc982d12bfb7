// The segmentation graph the web UI draws: networks, their pods (and
// "ns/pod@ifname" secondary interfaces), Services and the routers joining
// networks, from ListNetworks + ListEndpoints. Pure: no I/O.
import type { EndpointInfoMsg, NetworkMsg } from '../../api/messages.js';

export type GraphNodeKind = 'network' | 'pod' | 'service' | 'router';

export interface GraphNode {
  id: string;
  label: string;
  kind: GraphNodeKind;
  /** a network of its own namespace only (an isolated namespace) */
  isolated?: boolean;
  quarantined?: boolean;
  /** why, for the node's tooltip */
  detail?: string;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** A namespace's own default network (design section 2): only an isolated namespace has one besides "default". */
export function isIsolatedNetwork(name: string): boolean {
  return name.endsWith('/default-podnetwork') && !name.startsWith('default/');
}

/**
 * The networks a Service answers, from the agents' description of its
 * address ("used by every network" / "used by a, b"); a Service whose
 * description names none is drawn unattached rather than guessed.
 */
export function serviceNetworks(reason: string, networks: readonly string[]): string[] {
  const m = /used by ([^;]+)/.exec(reason);
  if (!m) return [];
  const used = (m[1] ?? '').trim();
  if (used === 'every network') return [...networks];
  return used.split(',').map((s) => s.trim()).filter((n) => networks.includes(n));
}

export function buildGraph(networks: readonly NetworkMsg[], endpoints: readonly EndpointInfoMsg[]): Graph {
  const nodes = new Map<string, GraphNode>();
  const edges = new Map<string, GraphEdge>();
  const edge = (source: string, target: string): void => {
    const id = `${source}->${target}`;
    edges.set(id, { id, source, target });
  };
  const names = networks.map((n) => n.name);
  const quarantined = new Map<string, string>();
  for (const e of endpoints) if (e.kind === 'pod' && e.quarantined) quarantined.set(`${e.namespace}/${e.pod}`, e.reason);

  for (const n of networks) {
    const id = `net:${n.name}`;
    nodes.set(id, { id, label: n.name, kind: 'network', isolated: isIsolatedNetwork(n.name), detail: `VRF ${n.vrfId}${n.externalDeny ? ', external traffic denied' : ''}` });
    for (const p of n.pods) {
      const pid = `pod:${p}`;
      const base = p.split('@')[0] ?? p;
      const why = quarantined.get(base);
      nodes.set(pid, { id: pid, label: p, kind: 'pod', ...(why !== undefined ? { quarantined: true, detail: why } : {}) });
      edge(pid, id);
    }
    for (const other of n.reaches) {
      // one router node per joined pair, whichever side lists it
      const [a, b] = [n.name, other].sort();
      const rid = `router:${a}|${b}`;
      nodes.set(rid, { id: rid, label: 'router', kind: 'router', detail: `joins ${a} and ${b}` });
      edge(rid, `net:${n.name}`);
      if (names.includes(other)) edge(rid, `net:${other}`);
    }
  }
  for (const e of endpoints) {
    if (e.kind !== 'service' || !e.service) continue;
    const sid = `svc:${e.service}`;
    if (!nodes.has(sid)) nodes.set(sid, { id: sid, label: e.service, kind: 'service', detail: `${e.ip}: ${e.reason}` });
    for (const net of serviceNetworks(e.reason, names)) edge(sid, `net:${net}`);
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()] };
}
