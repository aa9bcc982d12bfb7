// Original file: proto/vrfwall/v1/flow.proto

import type { NodeFailure as _vrfwall_v1_NodeFailure, NodeFailure__Output as _vrfwall_v1_NodeFailure__Output } from '../../vrfwall/v1/NodeFailure.js';

/**
 * A relay's account of the agents behind an answer (`vrfwall relay`, one
 * answer for the whole cluster): which nodes answered and which did not, so
 * a node that is down is never silently missing. Agents never set it.
 */
export interface NodeReport {
  'answered'?: (string)[];
  'failed'?: (_vrfwall_v1_NodeFailure)[];
}

/**
 * A relay's account of the agents behind an answer (`vrfwall relay`, one
 * answer for the whole cluster): which nodes answered and which did not, so
 * a node that is down is never silently missing. Agents never set it.
 */
export interface NodeReport__Output {
  'answered': (string)[];
  'failed': (_vrfwall_v1_NodeFailure__Output)[];
}
