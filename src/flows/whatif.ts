// What-if's replay: the recorded conversations judged under the current and
// the proposed state (src/model/verdict.ts), and those whose pass/drop
// changes, one per conversation however many ends saw it, grouped by source
// and destination namespace, network and port. Pure: flows and two
// evaluators in, changes out; the agent (src/api/whatif.ts), the relay and
// the CLI's merge of several agents use it.
import { judgeConnection, passes, type ConnectionDecision, type VerdictEvaluator } from '../model/verdict.js';
import type { FlowEndpoint, Flow } from './types.js';
import type { WhatIfChangeKind, WhatIfChangeMsg, WhatIfGroupMsg, WhatIfResponse, WhatIfVerdictMsg } from '../api/messages.js';
import { compareText } from '../util/order.js';

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;

/** What replay reads of a flow (the store's Flow, or an API FlowMsg). */
export type ReplayFlow = Pick<Flow, 'node' | 'source' | 'destination' | 'protocol' | 'protocolName' | 'ethertype' | 'forward' | 'reverse' | 'lastSeenMs'> & {
  direction: string;
};

/** One conversation, oriented by its opening direction: the same key at the sender's and the receiver's end. */
export function conversationKey(c: { protocol: number; source: FlowEndpoint; destination: FlowEndpoint }): string {
  return `${c.protocol}|${c.source.ip}|${c.source.port}|${c.destination.ip}|${c.destination.port}`;
}

const verdictMsg = (d: ConnectionDecision): WhatIfVerdictMsg => ({ verdict: d.verdict, reason: d.reason, hook: d.hook });

/** AUDIT passes ("allowed now"); "would be AUDIT" is a kind of its own. */
function changeKind(before: ConnectionDecision, after: ConnectionDecision): WhatIfChangeKind | undefined {
  if (after.verdict === 'AUDIT' && before.verdict === 'DROPPED') return 'DROPPED_TO_AUDIT';
  if (passes(before.verdict) && after.verdict === 'DROPPED') return 'ALLOWED_TO_DROPPED';
  if (before.verdict === 'DROPPED' && passes(after.verdict)) return 'DROPPED_TO_ALLOWED';
  if (before.verdict === 'ALLOWED' && after.verdict === 'AUDIT') return 'ALLOWED_TO_AUDIT';
  return undefined;
}

export interface ReplayContext {
  before: VerdictEvaluator;
  after: VerdictEvaluator;
  /** the network the proposal puts an endpoint in ('' none, or not a pod) */
  networkAfter(e: FlowEndpoint): string;
}

/**
 * Each conversation (its records at either end merged: counters from the
 * sender's end when it has one) judged at both hooks by its opening packet
 * as recorded, under both states. A record at the receiver of a Service
 * connection names the backend after kube-proxy's DNAT; its sender is then
 * judged as addressing the backend directly, which design section 3 makes
 * the same pass/drop as the ClusterIP (rules 3 and 4).
 */
export function replayFlows(flows: Iterable<ReplayFlow>, ctx: ReplayContext): { changes: WhatIfChangeMsg[]; conversations: number } {
  const byKey = new Map<string, { rec: ReplayFlow; nodes: Set<string> }>();
  for (const f of flows) {
    if (f.ethertype !== ETH_P_IP && f.ethertype !== ETH_P_IPV6) continue;
    const key = conversationKey(f);
    const had = byKey.get(key);
    if (had === undefined) byKey.set(key, { rec: f, nodes: new Set([f.node]) });
    else {
      had.nodes.add(f.node);
      if (f.direction === 'EGRESS' && had.rec.direction !== 'EGRESS') had.rec = f;
    }
  }
  const changes: WhatIfChangeMsg[] = [];
  for (const { rec, nodes } of byKey.values()) {
    const packet = { src: rec.source.ip, dst: rec.destination.ip, protocol: rec.protocol, sport: rec.source.port, dport: rec.destination.port };
    const before = judgeConnection(ctx.before, packet);
    const after = judgeConnection(ctx.after, packet);
    const kind = changeKind(before, after);
    if (kind === undefined) continue;
    changes.push({
      kind,
      source: rec.source,
      destination: rec.destination,
      protocol: rec.protocol,
      protocolName: rec.protocolName,
      before: verdictMsg(before),
      after: verdictMsg(after),
      packets: rec.forward.packets + rec.reverse.packets,
      bytes: rec.forward.bytes + rec.reverse.bytes,
      sourceNetworkAfter: ctx.networkAfter(rec.source),
      destinationNetworkAfter: ctx.networkAfter(rec.destination),
      nodes: [...nodes].sort(compareText),
      lastSeenMs: rec.lastSeenMs,
    });
  }
  return { changes: sortChanges(changes), conversations: byKey.size };
}

const who = (e: FlowEndpoint): string => (e.pod ? `${e.namespace}/${e.pod}${e.interface ? `@${e.interface}` : ''}` : e.service || e.ip);

function sortChanges(changes: WhatIfChangeMsg[]): WhatIfChangeMsg[] {
  return changes.sort(
    (a, b) =>
      compareText(a.kind, b.kind) ||
      compareText(who(a.source), who(b.source)) ||
      compareText(who(a.destination), who(b.destination)) ||
      a.destination.port - b.destination.port ||
      a.protocol - b.protocol ||
      compareText(conversationKey(a), conversationKey(b)),
  );
}

/** A side's namespace for grouping: its namespace, else what it is (external, host, ...). */
const groupNs = (e: FlowEndpoint): string => e.namespace || e.service.split('/')[0] || e.kind;

/** The changes counted by kind, source and destination namespace and network, port and the reasons. */
export function groupChanges(changes: readonly WhatIfChangeMsg[]): WhatIfGroupMsg[] {
  const groups = new Map<string, WhatIfGroupMsg>();
  for (const c of changes) {
    const g: WhatIfGroupMsg = {
      kind: c.kind,
      sourceNamespace: groupNs(c.source),
      sourceNetwork: c.source.network,
      destinationNamespace: groupNs(c.destination),
      destinationNetwork: c.destination.network,
      port: c.destination.port,
      protocolName: c.protocolName,
      beforeReason: c.before.reason,
      afterReason: c.after.reason,
      conversations: 0,
      packets: 0,
      bytes: 0,
    };
    const key = [g.kind, g.sourceNamespace, g.sourceNetwork, g.destinationNamespace, g.destinationNetwork, g.port, g.protocolName, g.beforeReason, g.afterReason].join('\0');
    const have = groups.get(key) ?? g;
    have.conversations += 1;
    have.packets += c.packets;
    have.bytes += c.bytes;
    groups.set(key, have);
  }
  return [...groups.values()].sort(
    (a, b) =>
      compareText(a.kind, b.kind) ||
      b.conversations - a.conversations ||
      compareText(`${a.sourceNamespace}/${a.sourceNetwork}`, `${b.sourceNamespace}/${b.sourceNetwork}`) ||
      compareText(`${a.destinationNamespace}/${a.destinationNetwork}`, `${b.destinationNamespace}/${b.destinationNetwork}`) ||
      a.port - b.port ||
      compareText(a.protocolName, b.protocolName),
  );
}

/**
 * Several agents' answers as one (the relay, and the CLI asking a lab's
 * agents one by one): a conversation seen at both ends is one change, with
 * the sender's end's counters and both nodes; where the ends disagree the
 * drop is kept (the first drop decides). Groups are counted anew.
 */
export function mergeWhatIf(answers: readonly WhatIfResponse[], node: string): WhatIfResponse {
  const byKey = new Map<string, WhatIfChangeMsg>();
  for (const r of answers) {
    for (const c of r.changes) {
      const key = conversationKey(c);
      const had = byKey.get(key);
      if (had === undefined) {
        byKey.set(key, { ...c, nodes: [...c.nodes] });
        continue;
      }
      const nodes = [...new Set([...had.nodes, ...c.nodes])].sort(compareText);
      const senderEnd = c.nodes.includes(c.source.node) && !had.nodes.includes(had.source.node);
      const drops = c.after.verdict === 'DROPPED' && had.after.verdict !== 'DROPPED';
      const keep = senderEnd || drops ? c : had;
      byKey.set(key, { ...keep, nodes });
    }
  }
  const changes = sortChanges([...byKey.values()]);
  return {
    changes,
    groups: groupChanges(changes),
    conversations: answers.reduce((n, r) => n + r.conversations, 0),
    applied: answers[0]?.applied ?? [],
    notes: [...new Set(answers.flatMap((r) => r.notes))],
    node,
  };
}
