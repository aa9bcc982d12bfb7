// Original file: proto/vrfwall/v1/flow.proto

import type { FlowGroup as _vrfwall_v1_FlowGroup, FlowGroup__Output as _vrfwall_v1_FlowGroup__Output } from '../../vrfwall/v1/FlowGroup.js';
import type { NodeReport as _vrfwall_v1_NodeReport, NodeReport__Output as _vrfwall_v1_NodeReport__Output } from '../../vrfwall/v1/NodeReport.js';
import type { Long } from '@grpc/proto-loader';

export interface GetFlowStatsResponse {
  'groups'?: (_vrfwall_v1_FlowGroup)[];
  /**
   * flows that matched
   */
  'flows'?: (number | string | Long);
  'node'?: (string);
  /**
   * relay only
   */
  'nodes'?: (_vrfwall_v1_NodeReport | null);
}

export interface GetFlowStatsResponse__Output {
  'groups': (_vrfwall_v1_FlowGroup__Output)[];
  /**
   * flows that matched
   */
  'flows': (number);
  'node': (string);
  /**
   * relay only
   */
  'nodes': (_vrfwall_v1_NodeReport__Output | null);
}
