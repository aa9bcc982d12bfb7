// A flow as the agent keeps it and the API serves it: one conversation seen
// at one local pod's interface, enriched with names. Plain data.

/** AUDIT (audit mode, docs/audit.md): passed, but enforce mode would have dropped it for dropReason. */
export type Verdict = 'ALLOWED' | 'DROPPED' | 'AUDIT';
/** EGRESS: the local pod opened the flow (first packet at from_pod);
 *  INGRESS: the peer did (first packet at to_pod). */
export type TrafficDirection = 'EGRESS' | 'INGRESS';
export type EndpointKind = 'pod' | 'host' | 'service' | 'external' | 'unknown';

export interface FlowEndpoint {
  ip: string;
  port: number;
  namespace: string;
  pod: string;
  /** "ns/name", empty when not a pod in a network */
  network: string;
  node: string;
  /** "ns/name" when ip is a Service virtual IP */
  service: string;
  kind: EndpointKind;
  /** the pod's secondary interface the address is on (Multus: "eth1"); empty for its cluster-network interface */
  interface: string;
}

export interface FlowCounters {
  packets: number;
  bytes: number;
  droppedPackets: number;
  /** OR of the TCP flags seen this way */
  tcpFlags: number;
}

export interface Flow {
  /** hex of the kernel flow key (+ instance when the kernel entry was recreated) */
  id: string;
  node: string;
  ifindex: number;
  source: FlowEndpoint;
  destination: FlowEndpoint;
  protocol: number;
  protocolName: string;
  ethertype: number;
  direction: TrafficDirection;
  /** verdict of the latest packet */
  verdict: Verdict;
  /** drop reason name when DROPPED, else '' */
  dropReason: string;
  /** allow rule name when ALLOWED, else '' */
  allowRule: string;
  /** NetworkPolicy at the local hook when a policy selects the pod (src/flows/policy-name.ts): the policy that
   *  allowed, or the policies selecting the pod when POLICY_EGRESS/POLICY_INGRESS dropped it; absent otherwise */
  policy?: string;
  code: number;
  /** source -> destination */
  forward: FlowCounters;
  /** destination -> source */
  reverse: FlowCounters;
  firstSeenMs: number;
  lastSeenMs: number;
}
