// Original file: proto/vrfwall/v1/state.proto

import type { Network as _vrfwall_v1_Network, Network__Output as _vrfwall_v1_Network__Output } from '../../vrfwall/v1/Network.js';
import type { NodeReport as _vrfwall_v1_NodeReport, NodeReport__Output as _vrfwall_v1_NodeReport__Output } from '../../vrfwall/v1/NodeReport.js';

export interface ListNetworksResponse {
  'networks'?: (_vrfwall_v1_Network)[];
  'node'?: (string);
  /**
   * relay only
   */
  'nodes'?: (_vrfwall_v1_NodeReport | null);
}

export interface ListNetworksResponse__Output {
  'networks': (_vrfwall_v1_Network__Output)[];
  'node': (string);
  /**
   * relay only
   */
  'nodes': (_vrfwall_v1_NodeReport__Output | null);
}
