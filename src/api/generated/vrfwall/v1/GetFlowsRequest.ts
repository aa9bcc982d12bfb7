// Original file: proto/vrfwall/v1/flow.proto

import type { FlowFilter as _vrfwall_v1_FlowFilter, FlowFilter__Output as _vrfwall_v1_FlowFilter__Output } from '../../vrfwall/v1/FlowFilter.js';
import type { Long } from '@grpc/proto-loader';

export interface GetFlowsRequest {
  /**
   * OR'ed; empty = every flow
   */
  'allow'?: (_vrfwall_v1_FlowFilter)[];
  /**
   * subtracted
   */
  'deny'?: (_vrfwall_v1_FlowFilter)[];
  /**
   * the N most recently active flows
   */
  'last'?: (number);
  /**
   * the N least recently active flows
   */
  'first'?: (number);
  /**
   * active at or after
   */
  'sinceMs'?: (number | string | Long);
  /**
   * active at or before
   */
  'untilMs'?: (number | string | Long);
  /**
   * then stream new and changed flows until cancelled
   */
  'follow'?: (boolean);
  /**
   * history flows per message (FlowBatch); 0 = one Flow per message
   */
  'batchSize'?: (number);
}

export interface GetFlowsRequest__Output {
  /**
   * OR'ed; empty = every flow
   */
  'allow': (_vrfwall_v1_FlowFilter__Output)[];
  /**
   * subtracted
   */
  'deny': (_vrfwall_v1_FlowFilter__Output)[];
  /**
   * the N most recently active flows
   */
  'last': (number);
  /**
   * the N least recently active flows
   */
  'first': (number);
  /**
   * active at or after
   */
  'sinceMs': (number);
  /**
   * active at or before
   */
  'untilMs': (number);
  /**
   * then stream new and changed flows until cancelled
   */
  'follow': (boolean);
  /**
   * history flows per message (FlowBatch); 0 = one Flow per message
   */
  'batchSize': (number);
}
