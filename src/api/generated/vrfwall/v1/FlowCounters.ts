// Original file: proto/vrfwall/v1/flow.proto

import type { Long } from '@grpc/proto-loader';

export interface FlowCounters {
  'packets'?: (number | string | Long);
  'bytes'?: (number | string | Long);
  'droppedPackets'?: (number | string | Long);
  /**
   * OR of the TCP flags seen this way
   */
  'tcpFlags'?: (number);
}

export interface FlowCounters__Output {
  'packets': (number);
  'bytes': (number);
  'droppedPackets': (number);
  /**
   * OR of the TCP flags seen this way
   */
  'tcpFlags': (number);
}
