// TypeScript shapes of the API's messages as @grpc/proto-loader presents them
// (LOADER_OPTIONS: camelCase, 64-bit numbers as numbers, enums as names,
// defaults). The types are generated from proto/ by proto-loader-gen-types
// (`make api-types`, into src/api/generated/; test/api-types.test.ts checks
// the committed files are what the generator makes). Here: the names the code
// uses for them, and the few shapes kept by hand on purpose, each checked
// against the generated types at compile time (ProtoConformance below).
import type { FlowFilterSpec } from '../flows/filter.js';
import type { Flow, FlowEndpoint } from '../flows/types.js';
import type { EndpointInfo__Output } from './generated/vrfwall/v1/EndpointInfo.js';
import type { Endpoint__Output } from './generated/vrfwall/v1/Endpoint.js';
import type { ExplainRequest__Output } from './generated/vrfwall/v1/ExplainRequest.js';
import type { ExplainResponse__Output } from './generated/vrfwall/v1/ExplainResponse.js';
import type { ExplainStep__Output } from './generated/vrfwall/v1/ExplainStep.js';
import type { Flow as FlowIn, Flow__Output } from './generated/vrfwall/v1/Flow.js';
import type { FlowFilter as FlowFilterIn, FlowFilter__Output } from './generated/vrfwall/v1/FlowFilter.js';
import type { FlowGroup__Output } from './generated/vrfwall/v1/FlowGroup.js';
import type { GetFlowStatsRequest as GetFlowStatsRequestIn, GetFlowStatsRequest__Output } from './generated/vrfwall/v1/GetFlowStatsRequest.js';
import type { GetFlowStatsResponse__Output } from './generated/vrfwall/v1/GetFlowStatsResponse.js';
import type { GetFlowsRequest as GetFlowsRequestIn, GetFlowsRequest__Output } from './generated/vrfwall/v1/GetFlowsRequest.js';
import type { GetFlowsResponse as GetFlowsResponseIn, GetFlowsResponse__Output } from './generated/vrfwall/v1/GetFlowsResponse.js';
import type { GroupBy__Output } from './generated/vrfwall/v1/GroupBy.js';
import type { AggregateKey__Output } from './generated/vrfwall/v1/AggregateKey.js';
import type { LostFlows__Output } from './generated/vrfwall/v1/LostFlows.js';
import type { ListEndpointsRequest__Output } from './generated/vrfwall/v1/ListEndpointsRequest.js';
import type { ListEndpointsResponse__Output } from './generated/vrfwall/v1/ListEndpointsResponse.js';
import type { ListNetworksResponse__Output } from './generated/vrfwall/v1/ListNetworksResponse.js';
import type { MapFill__Output } from './generated/vrfwall/v1/MapFill.js';
import type { NodeReport__Output } from './generated/vrfwall/v1/NodeReport.js';
import type { Network__Output } from './generated/vrfwall/v1/Network.js';
import type { ServerStatusResponse__Output } from './generated/vrfwall/v1/ServerStatusResponse.js';
import type { FlowExportStatus__Output } from './generated/vrfwall/v1/FlowExportStatus.js';
import type { SortBy__Output } from './generated/vrfwall/v1/SortBy.js';
import type { TrafficDirection__Output } from './generated/vrfwall/v1/TrafficDirection.js';
import type { Verdict__Output } from './generated/vrfwall/v1/Verdict.js';
import type { WhatIfRequest__Output } from './generated/vrfwall/v1/WhatIfRequest.js';
import type { WhatIfChange as WhatIfChangeIn, WhatIfChange__Output } from './generated/vrfwall/v1/WhatIfChange.js';
import type { WhatIfGroup__Output } from './generated/vrfwall/v1/WhatIfGroup.js';
import type { WhatIfResponse as WhatIfResponseIn, WhatIfResponse__Output } from './generated/vrfwall/v1/WhatIfResponse.js';
import type { WhatIfVerdict__Output } from './generated/vrfwall/v1/WhatIfVerdict.js';

export type VerdictName = Verdict__Output;
export type DirectionName = TrafficDirection__Output;
export type GroupByName = GroupBy__Output;
export type AggregateKeyName = AggregateKey__Output;
export type SortByName = SortBy__Output;
export type FlowGroupMsg = FlowGroup__Output;
/** Which agents answered a relay's answer, and which did not (agents leave it unset). */
export type NodeReportMsg = NodeReport__Output;
/** The relay-only fields (`nodes`, `nodeStatus`) are optional here, so an agent's answers need not name them. */
type RelayFields<T, K extends keyof T> = Omit<T, K> & { [P in K]?: T[P] };
export type GetFlowStatsResponse = RelayFields<GetFlowStatsResponse__Output, 'nodes'>;
export type MapFillMsg = MapFill__Output;
export type FlowExportStatusMsg = FlowExportStatus__Output;
export type ServerStatusResponse = Omit<ServerStatusResponse__Output, 'nodes' | 'nodeStatus' | 'flowExport' | 'enforcement'> & {
  /** the node-wide audit setting, "audit" or "enforce" (agents; a relay's summary leaves it out) */
  enforcement?: string;
  nodes?: NodeReportMsg | null;
  /** the flow export's counters; absent: no export */
  flowExport?: FlowExportStatusMsg | null;
  /** relay: each answering agent's own status */
  nodeStatus?: ServerStatusResponse[];
};
export type NetworkMsg = Network__Output;
export type ListNetworksResponse = RelayFields<ListNetworksResponse__Output, 'nodes'>;
export type ListEndpointsRequest = ListEndpointsRequest__Output;
export type EndpointInfoMsg = EndpointInfo__Output;
export type ListEndpointsResponse = RelayFields<ListEndpointsResponse__Output, 'nodes'>;
export type ExplainRequest = ExplainRequest__Output;
export type ExplainStepMsg = ExplainStep__Output;

// ---- kept by hand -----------------------------------------------------------
// The generated output types make every message field nullable and every
// filter field required; the server always sets a flow's endpoints and
// counters, and clients send partial filters.

/** Flow (which is what the API serves) with its enums as names; its counters have no enum or 64-bit field to present differently. */
export type FlowMsg = Omit<Flow, 'direction' | 'verdict'> & {
  direction: DirectionName;
  verdict: VerdictName;
};

/** FlowFilter as clients send it (fields optional) and the server reads it: FlowFilterSpec with enum names. */
export type FlowFilterMsg = Omit<FlowFilterSpec, 'verdict' | 'direction'> & { verdict?: VerdictName[]; direction?: DirectionName[] };

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
  lost?: LostFlows__Output;
  batch?: { flows: FlowMsg[] };
  /** relay only */
  nodes?: NodeReportMsg;
  item?: 'flow' | 'lost' | 'batch' | 'nodes';
}

/** The flows of one GetFlows message, whichever form it has. */
export function flowsOf(m: GetFlowsResponse): FlowMsg[] {
  if (m.flow) return [m.flow];
  return m.batch?.flows ?? [];
}

export interface GetFlowStatsRequest {
  allow: FlowFilterMsg[];
  deny: FlowFilterMsg[];
  sinceMs: number;
  untilMs: number;
  groupBy: GroupByName;
  sortBy: SortByName;
  top: number;
  aggregateBy: AggregateKeyName[];
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
  /** relay only */
  nodes?: NodeReportMsg | null;
}

export type WhatIfRequest = WhatIfRequest__Output;
export type WhatIfGroupMsg = WhatIfGroup__Output;
export type WhatIfVerdictMsg = WhatIfVerdict__Output;
export type WhatIfChangeKind = 'ALLOWED_TO_DROPPED' | 'DROPPED_TO_ALLOWED' | 'ALLOWED_TO_AUDIT' | 'DROPPED_TO_AUDIT';

/** WhatIfChange with its endpoints and verdicts always set, and its kind as a closed set. */
export interface WhatIfChangeMsg {
  kind: WhatIfChangeKind;
  source: FlowEndpoint;
  destination: FlowEndpoint;
  protocol: number;
  protocolName: string;
  before: WhatIfVerdictMsg;
  after: WhatIfVerdictMsg;
  packets: number;
  bytes: number;
  sourceNetworkAfter: string;
  destinationNetworkAfter: string;
  nodes: string[];
  lastSeenMs: number;
}

export interface WhatIfResponse {
  changes: WhatIfChangeMsg[];
  groups: WhatIfGroupMsg[];
  conversations: number;
  applied: string[];
  notes: string[];
  node: string;
  /** relay only */
  nodes?: NodeReportMsg | null;
}

/** Assignable<A, B>: A can be used where B is expected (a compile error otherwise). */
type Assignable<A extends B, B> = A;

/**
 * The hand-kept shapes against the generated ones (compile-time only): what
 * the server sends is valid input for the proto's type, and what arrives
 * (output with defaults) fits what the code reads, but for message fields the
 * generated types make nullable and the server always sets.
 */
export type ProtoConformance = [
  Assignable<FlowMsg, FlowIn>,
  // policy: optional in the store's Flow (NetworkPolicy names it only where a policy selects the pod)
  Assignable<FlowMsg, Omit<Flow__Output, 'policy'> & { policy?: string }>,
  Assignable<GetFlowsResponse, GetFlowsResponseIn>,
  Assignable<FlowFilterMsg, FlowFilterIn>,
  Assignable<FlowFilter__Output, FlowFilterMsg>,
  Assignable<GetFlowsRequest, GetFlowsRequestIn>,
  Assignable<GetFlowsRequest__Output, GetFlowsRequest>,
  Assignable<GetFlowStatsRequest, GetFlowStatsRequestIn>,
  Assignable<GetFlowStatsRequest__Output, GetFlowStatsRequest>,
  Assignable<FlowEndpoint, Endpoint__Output>,
  Assignable<Omit<ExplainResponse, 'source' | 'destination' | 'nodes'>, Omit<ExplainResponse__Output, 'source' | 'destination' | 'nodes'>>,
  Assignable<NonNullable<ExplainResponse__Output['nodes']>, NonNullable<ExplainResponse['nodes']>>,
  Assignable<NonNullable<GetFlowsResponse__Output['lost']>, NonNullable<GetFlowsResponse['lost']>>,
  Assignable<WhatIfChangeMsg, WhatIfChangeIn>,
  Assignable<Omit<WhatIfChange__Output, 'kind'>, Omit<WhatIfChangeMsg, 'kind' | 'source' | 'destination' | 'before' | 'after'>>,
  Assignable<WhatIfResponse, WhatIfResponseIn>,
  Assignable<Omit<WhatIfResponse__Output, 'changes' | 'nodes'>, Omit<WhatIfResponse, 'changes' | 'nodes'>>,
];
