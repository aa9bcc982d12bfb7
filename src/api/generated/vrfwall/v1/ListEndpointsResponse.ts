// Original file: proto/vrfwall/v1/state.proto

import type { EndpointInfo as _vrfwall_v1_EndpointInfo, EndpointInfo__Output as _vrfwall_v1_EndpointInfo__Output } from '../../vrfwall/v1/EndpointInfo.js';
import type { NodeReport as _vrfwall_v1_NodeReport, NodeReport__Output as _vrfwall_v1_NodeReport__Output } from '../../vrfwall/v1/NodeReport.js';

export interface ListEndpointsResponse {
  'endpoints'?: (_vrfwall_v1_EndpointInfo)[];
  'node'?: (string);
  /**
   * relay only
   */
  'nodes'?: (_vrfwall_v1_NodeReport | null);
}

export interface ListEndpointsResponse__Output {
  'endpoints': (_vrfwall_v1_EndpointInfo__Output)[];
  'node': (string);
  /**
   * relay only
   */
  'nodes': (_vrfwall_v1_NodeReport__Output | null);
}
