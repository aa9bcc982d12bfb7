// Original file: proto/vrfwall/v1/state.proto

import type { WhatIfChange as _vrfwall_v1_WhatIfChange, WhatIfChange__Output as _vrfwall_v1_WhatIfChange__Output } from '../../vrfwall/v1/WhatIfChange.js';
import type { WhatIfGroup as _vrfwall_v1_WhatIfGroup, WhatIfGroup__Output as _vrfwall_v1_WhatIfGroup__Output } from '../../vrfwall/v1/WhatIfGroup.js';
import type { NodeReport as _vrfwall_v1_NodeReport, NodeReport__Output as _vrfwall_v1_NodeReport__Output } from '../../vrfwall/v1/NodeReport.js';
import type { Long } from '@grpc/proto-loader';

export interface WhatIfResponse {
  'changes'?: (_vrfwall_v1_WhatIfChange)[];
  'groups'?: (_vrfwall_v1_WhatIfGroup)[];
  /**
   * replayed (relay: summed over nodes before merging the two ends)
   */
  'conversations'?: (number | string | Long);
  /**
   * the objects the proposal upserts, "Kind ns/name", sorted
   */
  'applied'?: (string)[];
  /**
   * what the proposal leaves unused or what its compile reports anew
   */
  'notes'?: (string)[];
  'node'?: (string);
  /**
   * relay only
   */
  'nodes'?: (_vrfwall_v1_NodeReport | null);
}

export interface WhatIfResponse__Output {
  'changes': (_vrfwall_v1_WhatIfChange__Output)[];
  'groups': (_vrfwall_v1_WhatIfGroup__Output)[];
  /**
   * replayed (relay: summed over nodes before merging the two ends)
   */
  'conversations': (number);
  /**
   * the objects the proposal upserts, "Kind ns/name", sorted
   */
  'applied': (string)[];
  /**
   * what the proposal leaves unused or what its compile reports anew
   */
  'notes': (string)[];
  'node': (string);
  /**
   * relay only
   */
  'nodes': (_vrfwall_v1_NodeReport__Output | null);
}
