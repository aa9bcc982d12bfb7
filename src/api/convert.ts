// Store Flow <-> API message, and request filters -> FlowFilterSpec.
import type { FlowFilterSpec } from '../flows/filter.js';
import type { Flow } from '../flows/types.js';
import type { FlowFilterMsg, FlowMsg, VerdictName } from './messages.js';

export const verdictName = (v: Flow['verdict']): VerdictName => `VERDICT_${v}`;

export function toFlowMsg(f: Flow): FlowMsg {
  return {
    id: f.id,
    node: f.node,
    ifindex: f.ifindex,
    source: f.source,
    destination: f.destination,
    protocol: f.protocol,
    protocolName: f.protocolName,
    direction: f.direction === 'EGRESS' ? 'DIRECTION_EGRESS' : 'DIRECTION_INGRESS',
    verdict: verdictName(f.verdict),
    dropReason: f.dropReason,
    allowRule: f.allowRule,
    code: f.code,
    forward: f.forward,
    reverse: f.reverse,
    firstSeenMs: f.firstSeenMs,
    lastSeenMs: f.lastSeenMs,
    ethertype: f.ethertype,
    policy: f.policy ?? '',
  };
}

/** An API message back to the store's shape (the relay's export filters what the agents send). */
export function fromFlowMsg(m: FlowMsg): Flow {
  return {
    id: m.id,
    node: m.node,
    ifindex: m.ifindex,
    source: m.source,
    destination: m.destination,
    protocol: m.protocol,
    protocolName: m.protocolName,
    ethertype: m.ethertype,
    direction: m.direction === 'DIRECTION_INGRESS' ? 'INGRESS' : 'EGRESS',
    verdict: m.verdict === 'VERDICT_DROPPED' ? 'DROPPED' : m.verdict === 'VERDICT_AUDIT' ? 'AUDIT' : 'ALLOWED',
    dropReason: m.dropReason,
    allowRule: m.allowRule,
    ...(m.policy ? { policy: m.policy } : {}),
    code: m.code,
    forward: m.forward,
    reverse: m.reverse,
    firstSeenMs: m.firstSeenMs,
    lastSeenMs: m.lastSeenMs,
  };
}

/** A message filter as the filter module takes it (enum names pass through; it strips the prefixes). */
export function toFilterSpec(m: FlowFilterMsg): FlowFilterSpec {
  return { ...m };
}
