// Original file: proto/vrfwall/v1/flow.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Flows the server could not deliver: a slow reader's queue dropped its
 * oldest entries.
 */
export interface LostFlows {
  'count'?: (number | string | Long);
  'where'?: (string);
}

/**
 * Flows the server could not deliver: a slow reader's queue dropped its
 * oldest entries.
 */
export interface LostFlows__Output {
  'count': (number);
  'where': (string);
}
