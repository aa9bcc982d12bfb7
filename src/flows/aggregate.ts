// Flow statistics: flows grouped by (source, destination, verdict, reason)
// at the level of namespaces, networks or pods, summed, sorted, cut to the
// top N. Counts are the flows' totals: a flow counts in a time window when
// it was active in it (first seen <= until, last seen >= since).
import { podLabel } from './label.js';
import type { Flow, FlowEndpoint } from './types.js';
import { compareText } from '../util/order.js';

export type GroupBy = 'NAMESPACE' | 'NETWORK' | 'POD';
export type SortBy = 'BYTES' | 'PACKETS' | 'FLOWS';

export interface FlowGroup {
  source: string;
  destination: string;
  verdict: Flow['verdict'];
  /** drop reason or allow rule */
  reason: string;
  flows: number;
  packets: number;
  bytes: number;
  droppedPackets: number;
  /** with aggregateByKeys: the group's value of each key, in order */
  keys?: string[];
}

/** What aggregateByKeys groups by (the API's AggregateKey). */
export type AggregateKey = 'NAMESPACE' | 'POD' | 'NETWORK' | 'PORT' | 'VERDICT' | 'REASON';

/** What a non-pod endpoint is called in a group: its kind, or its Service. */
function other(e: FlowEndpoint): string {
  if (e.service) return `svc:${e.service}`;
  return `(${e.kind})`;
}

export function groupLabel(e: FlowEndpoint, by: GroupBy): string {
  switch (by) {
    case 'NAMESPACE':
      return e.namespace || other(e);
    case 'NETWORK':
      return e.network || other(e);
    case 'POD':
      return e.pod ? podLabel(e) : e.service ? `svc:${e.service}` : e.ip || other(e);
  }
}

export function aggregate(flows: Iterable<Flow>, by: GroupBy, sort: SortBy, top: number): FlowGroup[] {
  const groups = new Map<string, FlowGroup>();
  for (const f of flows) {
    const source = groupLabel(f.source, by);
    const destination = groupLabel(f.destination, by);
    const reason = f.verdict === 'ALLOWED' ? f.allowRule : f.dropReason;
    const key = `${source}\0${destination}\0${f.verdict}\0${reason}`;
    let g = groups.get(key);
    if (!g) {
      g = { source, destination, verdict: f.verdict, reason, flows: 0, packets: 0, bytes: 0, droppedPackets: 0 };
      groups.set(key, g);
    }
    g.flows++;
    g.packets += f.forward.packets + f.reverse.packets;
    g.bytes += f.forward.bytes + f.reverse.bytes;
    g.droppedPackets += f.forward.droppedPackets + f.reverse.droppedPackets;
  }
  const field = sort === 'BYTES' ? 'bytes' : sort === 'PACKETS' ? 'packets' : 'flows';
  const out = [...groups.values()].sort(
    (a, b) => b[field] - a[field] || compareText(a.source, b.source) || compareText(a.destination, b.destination),
  );
  return top > 0 ? out.slice(0, top) : out;
}

/** A flow's value of one key: endpoints as "source -> destination", as the group_by labels. */
export function keyValue(f: Flow, key: AggregateKey): string {
  switch (key) {
    case 'NAMESPACE':
    case 'POD':
    case 'NETWORK':
      return `${groupLabel(f.source, key)} -> ${groupLabel(f.destination, key)}`;
    case 'PORT':
      return String(f.destination.port);
    case 'VERDICT':
      return f.verdict;
    case 'REASON':
      return f.verdict === 'ALLOWED' ? f.allowRule : f.dropReason;
  }
}

/**
 * Totals of flows grouped by any combination of keys (`vrfwall flows
 * --aggregate-by`); each group's `keys` holds its values in the keys' order.
 * Sorted by `sort` (then by the keys' values), cut at `top` (0: all).
 */
export function aggregateByKeys(flows: Iterable<Flow>, keys: readonly AggregateKey[], sort: SortBy, top: number): FlowGroup[] {
  const groups = new Map<string, FlowGroup>();
  for (const f of flows) {
    const values = keys.map((k) => keyValue(f, k));
    const id = values.join('\0');
    let g = groups.get(id);
    if (!g) {
      g = { source: '', destination: '', verdict: f.verdict, reason: '', flows: 0, packets: 0, bytes: 0, droppedPackets: 0, keys: values };
      groups.set(id, g);
    }
    g.flows++;
    g.packets += f.forward.packets + f.reverse.packets;
    g.bytes += f.forward.bytes + f.reverse.bytes;
    g.droppedPackets += f.forward.droppedPackets + f.reverse.droppedPackets;
  }
  const field = sort === 'BYTES' ? 'bytes' : sort === 'PACKETS' ? 'packets' : 'flows';
  const out = [...groups.values()].sort((a, b) => b[field] - a[field] || compareText(values(a), values(b)));
  return top > 0 ? out.slice(0, top) : out;
}

const values = (g: FlowGroup): string => (g.keys ?? []).join('\0');

/** Was the flow active in [sinceMs, untilMs]? 0 = open end. */
export function inWindow(f: Flow, sinceMs: number, untilMs: number): boolean {
  return (sinceMs <= 0 || f.lastSeenMs >= sinceMs) && (untilMs <= 0 || f.firstSeenMs <= untilMs);
}
