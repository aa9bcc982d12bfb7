// TypeScript shapes of the proto messages as @grpc/proto-loader presents
// them (camelCase, enums as names, 64-bit numbers as numbers). Kept by hand
// next to proto/vrfwall/v1/*.proto; test/api.test.ts round-trips them.
import type { FlowFilterSpec } from '../flows/filter.js';
import type { Flow, FlowEndpoint } from '../flows/types.js';

export type VerdictName = 'VERDICT_UNSPECIFIED' | 'VERDICT_ALLOWED' | 'VERDICT_DROPPED';
export type DirectionName = 'DIRECTION_UNSPECIFIED' | 'DIRECTION_EGRESS' | 'DIRECTION_INGRESS';

/** Flow (which is what the API serves) with its enums as names; its counters have no enum or 64-bit field to present differently. */
export type FlowMsg = Omit<Flow, 'direction' | 'verdict'> & {
  direction: DirectionName;
  verdict: VerdictName;
};

/** FlowFilter as it arrives: FlowFilterSpec with enum names. */
export type FlowFilterMsg = Omit<FlowFilterSpec, 'verdict' | 'direction'> & { verdict?: string[]; direction?: string[] };

export interface GetFlowsRequest {
  allow: FlowFilterMsg[];
  deny: FlowFilterMsg[];
  last: number;
  first: number;
  sinceMs: number;
  untilMs: number;
  follow: boolean;
  batchSize: number;
}

export interface GetFlowsResponse {
  flow?: FlowMsg;
  lost?: { count: number; where: string };
  batch?: { flows: FlowMsg[] };
  item?: 'flow' | 'lost' | 'batch';
}

/** The flows of one GetFlows message, whichever form it has. */
export function flowsOf(m: GetFlowsResponse): FlowMsg[] {
  if (m.flow) return [m.flow];
  return m.batch?.flows ?? [];
}

export type GroupByName = 'GROUP_BY_UNSPECIFIED' | 'GROUP_BY_NAMESPACE' | 'GROUP_BY_NETWORK' | 'GROUP_BY_POD';
export type SortByName = 'SORT_BY_UNSPECIFIED' | 'SORT_BY_BYTES' | 'SORT_BY_PACKETS' | 'SORT_BY_FLOWS';

export interface GetFlowStatsRequest {
  allow: FlowFilterMsg[];
  deny: FlowFilterMsg[];
  sinceMs: number;
  untilMs: number;
  groupBy: GroupByName;
  sortBy: SortByName;
  top: number;
}

export interface FlowGroupMsg {
  source: string;
  destination: string;
  verdict: VerdictName;
  reason: string;
  flows: number;
  packets: number;
  bytes: number;
  droppedPackets: number;
}

export interface GetFlowStatsResponse {
  groups: FlowGroupMsg[];
  flows: number;
  node: string;
}

export interface MapFillMsg {
  name: string;
  type: string;
  maxEntries: number;
  entries: number;
  fill: number;
}

export interface ServerStatusResponse {
  version: string;
  node: string;
  uptimeSeconds: number;
  flowsHeld: number;
  flowsMax: number;
  flowsSeen: number;
  flowsEvicted: number;
  eventsReceived: number;
  eventsLost: number;
  streamFlowsLost: number;
  attachMode: string;
  maps: MapFillMsg[];
  lastSyncMs: number;
  generation: number;
  synced: boolean;
  kernelFlowsCreated: number;
  streams: number;
}

export interface NetworkMsg {
  name: string;
  vrfId: number;
  externalDeny: boolean;
  pods: string[];
  reaches: string[];
}

export interface ListNetworksResponse {
  networks: NetworkMsg[];
  node: string;
}

export interface ListEndpointsRequest {
  namespace: string;
  network: string;
  localOnly: boolean;
}

export interface EndpointInfoMsg {
  ip: string;
  kind: string;
  namespace: string;
  pod: string;
  network: string;
  node: string;
  local: boolean;
  ifindex: number;
  quarantined: boolean;
  reason: string;
  service: string;
}

export interface ListEndpointsResponse {
  endpoints: EndpointInfoMsg[];
  node: string;
}

export interface ExplainRequest {
  source: string;
  destination: string;
  protocol: string;
  port: number;
  family: string;
}

export interface ExplainStepMsg {
  hook: string;
  pod: string;
  ifindex: number;
  verdict: VerdictName;
  reason: string;
  rule: string;
}

export interface ExplainResponse {
  verdict: VerdictName;
  reason: string;
  rule: string;
  steps: ExplainStepMsg[];
  source: FlowEndpoint;
  destination: FlowEndpoint;
  node: string;
  note: string;
}
