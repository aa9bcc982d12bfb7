// Original file: proto/vrfwall/v1/flow.proto

import type { Verdict as _vrfwall_v1_Verdict, Verdict__Output as _vrfwall_v1_Verdict__Output } from '../../vrfwall/v1/Verdict.js';
import type { Long } from '@grpc/proto-loader';

export interface FlowGroup {
  'source'?: (string);
  'destination'?: (string);
  'verdict'?: (_vrfwall_v1_Verdict);
  /**
   * drop reason or allow rule
   */
  'reason'?: (string);
  'flows'?: (number | string | Long);
  'packets'?: (number | string | Long);
  'bytes'?: (number | string | Long);
  'droppedPackets'?: (number | string | Long);
  /**
   * with aggregate_by: the group's value of each key, in order
   */
  'keys'?: (string)[];
}

export interface FlowGroup__Output {
  'source': (string);
  'destination': (string);
  'verdict': (_vrfwall_v1_Verdict__Output);
  /**
   * drop reason or allow rule
   */
  'reason': (string);
  'flows': (number);
  'packets': (number);
  'bytes': (number);
  'droppedPackets': (number);
  /**
   * with aggregate_by: the group's value of each key, in order
   */
  'keys': (string)[];
}
