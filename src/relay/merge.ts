// The relay's pure part: the answers of several agents made into one, as one
// agent would give it for the whole cluster. No I/O here.
import type {
  EndpointInfoMsg,
  ExplainResponse,
  FlowGroupMsg,
  FlowMsg,
  NetworkMsg,
  NodeReportMsg,
  SortByName,
} from '../api/messages.js';
import { compareText } from '../util/order.js';

/** What one node gave for a fan-out: its answer, or why there is none. */
export type NodeResult<T> = { node: string; ok: true; value: T } | { node: string; ok: false; error: string };

/** Which nodes answered and which did not, each list in node order. */
export function nodeReport(results: readonly NodeResult<unknown>[]): NodeReportMsg {
  const sorted = [...results].sort((a, b) => compareText(a.node, b.node));
  return {
    answered: sorted.filter((r) => r.ok).map((r) => r.node),
    failed: sorted.flatMap((r) => (r.ok ? [] : [{ node: r.node, error: r.error }])),
  };
}

export function answers<T>(results: readonly NodeResult<T>[]): T[] {
  return results.flatMap((r) => (r.ok ? [r.value] : []));
}

/** Time order of the API (least recently active first); ties by node, then id, so the order is stable. */
export function compareFlows(a: FlowMsg, b: FlowMsg): number {
  return a.lastSeenMs - b.lastSeenMs || compareText(a.node, b.node) || compareText(a.id, b.id);
}

/**
 * The flows of every node in one time order, then `last`/`first` over the
 * whole cluster. Each node was asked with the same last/first N: the
 * cluster's N most recent flows are among the union of each node's N.
 */
export function mergeFlows(perNode: readonly FlowMsg[][], q: { last: number; first: number }): FlowMsg[] {
  const all = perNode.flat().sort(compareFlows);
  if (q.last > 0) return all.slice(-q.last);
  if (q.first > 0) return all.slice(0, q.first);
  return all;
}

/** GetFlowStats groups of several nodes: same (source, destination, verdict, reason) summed, then sorted and cut as one agent does. */
export function mergeGroups(perNode: readonly FlowGroupMsg[][], sortBy: SortByName, top: number): FlowGroupMsg[] {
  const groups = new Map<string, FlowGroupMsg>();
  for (const g of perNode.flat()) {
    const key = `${g.source}\0${g.destination}\0${g.verdict}\0${g.reason}\0${g.keys.join('\0')}`;
    const have = groups.get(key);
    if (!have) groups.set(key, { ...g });
    else {
      have.flows += g.flows;
      have.packets += g.packets;
      have.bytes += g.bytes;
      have.droppedPackets += g.droppedPackets;
    }
  }
  const field = sortBy === 'SORT_BY_PACKETS' ? 'packets' : sortBy === 'SORT_BY_FLOWS' ? 'flows' : 'bytes';
  const out = [...groups.values()].sort(
    (a, b) => b[field] - a[field] || compareText(a.source, b.source) || compareText(a.destination, b.destination) || compareText(a.keys.join('\0'), b.keys.join('\0')),
  );
  return top > 0 ? out.slice(0, top) : out;
}

const union = (a: readonly string[], b: readonly string[]): string[] => [...new Set([...a, ...b])].sort(compareText);

/** Networks by name; their pods and the networks they reach are the union of what the nodes say. */
export function mergeNetworks(perNode: readonly NetworkMsg[][]): NetworkMsg[] {
  const byName = new Map<string, NetworkMsg>();
  for (const n of perNode.flat()) {
    const have = byName.get(n.name);
    if (!have) byName.set(n.name, { ...n, pods: union([], n.pods), reaches: union([], n.reaches) });
    else {
      have.pods = union(have.pods, n.pods);
      have.reaches = union(have.reaches, n.reaches);
      // deny wins: a node that denies external traffic for it must not be hidden
      have.externalDeny ||= n.externalDeny;
    }
  }
  return [...byName.values()].sort((a, b) => compareText(a.name, b.name));
}

/**
 * Endpoints of every node, each once. Every agent knows the whole cluster's
 * endpoints, but only the node that hosts a pod knows its interface
 * (local, ifindex): that node's entry wins.
 */
export function mergeEndpoints(perNode: readonly EndpointInfoMsg[][]): EndpointInfoMsg[] {
  const byKey = new Map<string, EndpointInfoMsg>();
  for (const e of perNode.flat()) {
    const key = `${e.ip}\0${e.kind}\0${e.namespace}\0${e.pod}\0${e.service}`;
    const have = byKey.get(key);
    if (!have || (e.local && !have.local)) byKey.set(key, e);
  }
  return [...byKey.values()].sort((a, b) => compareText(`${a.namespace}/${a.pod}/${a.ip}`, `${b.namespace}/${b.pod}/${b.ip}`));
}

/** The node that hosts "ns/pod", "ns/pod@ifname" or an IP, from the endpoints the agents know; undefined when it is no pod. */
export function hostOf(who: string, endpoints: readonly EndpointInfoMsg[]): string | undefined {
  const slash = who.indexOf('/');
  // "ns/pod@eth1" (a secondary interface) lives where its pod does
  const pod = slash > 0 ? who.replace(/@[^/@]*$/, '') : who;
  const match = (e: EndpointInfoMsg): boolean =>
    e.kind === 'pod' && (slash > 0 ? `${e.namespace}/${e.pod}` === pod : e.ip === who);
  const hits = endpoints.filter(match);
  return (hits.find((e) => e.local) ?? hits[0])?.node || undefined;
}

/**
 * Explain answers of the nodes that host the sender and the receiver: the
 * sender's from_pod first, then the receiver's to_pod; the first drop
 * decides, else the first AUDIT (it passed, but enforce mode would have
 * dropped it there), else the last allow (as one agent decides with both hooks).
 */
export function mergeExplain(ok: readonly ExplainResponse[]): ExplainResponse | undefined {
  const base = ok[0];
  if (base === undefined || ok.length === 1) return base;
  const steps = ok
    .flatMap((r) => r.steps.map((s) => ({ s, node: r.node })))
    .sort((a, b) => (a.s.hook === b.s.hook ? 0 : a.s.hook === 'from_pod' ? -1 : 1));
  const decided =
    steps.find((x) => x.s.verdict === 'VERDICT_DROPPED') ?? steps.find((x) => x.s.verdict === 'VERDICT_AUDIT') ?? steps[steps.length - 1];
  if (!decided) return base;
  return {
    ...base,
    verdict: decided.s.verdict,
    reason: decided.s.reason,
    rule: decided.s.rule,
    steps: steps.map((x) => x.s),
    node: steps.map((x) => `${x.s.hook}@${x.node}`).join(', '),
    note: '',
  };
}
