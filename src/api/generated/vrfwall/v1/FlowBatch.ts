// Original file: proto/vrfwall/v1/flow.proto

import type { Flow as _vrfwall_v1_Flow, Flow__Output as _vrfwall_v1_Flow__Output } from '../../vrfwall/v1/Flow.js';

/**
 * Several flows in one message: a large history costs far fewer messages.
 */
export interface FlowBatch {
  'flows'?: (_vrfwall_v1_Flow)[];
}

/**
 * Several flows in one message: a large history costs far fewer messages.
 */
export interface FlowBatch__Output {
  'flows': (_vrfwall_v1_Flow__Output)[];
}
