// Original file: proto/vrfwall/v1/flow.proto

import type { Flow as _vrfwall_v1_Flow, Flow__Output as _vrfwall_v1_Flow__Output } from '../../vrfwall/v1/Flow.js';
import type { LostFlows as _vrfwall_v1_LostFlows, LostFlows__Output as _vrfwall_v1_LostFlows__Output } from '../../vrfwall/v1/LostFlows.js';
import type { FlowBatch as _vrfwall_v1_FlowBatch, FlowBatch__Output as _vrfwall_v1_FlowBatch__Output } from '../../vrfwall/v1/FlowBatch.js';
import type { NodeReport as _vrfwall_v1_NodeReport, NodeReport__Output as _vrfwall_v1_NodeReport__Output } from '../../vrfwall/v1/NodeReport.js';

export interface GetFlowsResponse {
  'flow'?: (_vrfwall_v1_Flow | null);
  'lost'?: (_vrfwall_v1_LostFlows | null);
  /**
   * history, when the request set batch_size
   */
  'batch'?: (_vrfwall_v1_FlowBatch | null);
  /**
   * relay only: first, and again whenever a node goes or comes back (follow)
   */
  'nodes'?: (_vrfwall_v1_NodeReport | null);
  'item'?: "flow"|"lost"|"batch"|"nodes";
}

export interface GetFlowsResponse__Output {
  'flow'?: (_vrfwall_v1_Flow__Output | null);
  'lost'?: (_vrfwall_v1_LostFlows__Output | null);
  /**
   * history, when the request set batch_size
   */
  'batch'?: (_vrfwall_v1_FlowBatch__Output | null);
  /**
   * relay only: first, and again whenever a node goes or comes back (follow)
   */
  'nodes'?: (_vrfwall_v1_NodeReport__Output | null);
  'item'?: "flow"|"lost"|"batch"|"nodes";
}
