// Original file: proto/vrfwall/v1/state.proto

import type { Long } from '@grpc/proto-loader';

/**
 * The changes counted by source and destination namespace, network and port.
 */
export interface WhatIfGroup {
  'kind'?: (string);
  'sourceNamespace'?: (string);
  'sourceNetwork'?: (string);
  'destinationNamespace'?: (string);
  'destinationNetwork'?: (string);
  'port'?: (number);
  'protocolName'?: (string);
  'beforeReason'?: (string);
  'afterReason'?: (string);
  'conversations'?: (number | string | Long);
  'packets'?: (number | string | Long);
  'bytes'?: (number | string | Long);
}

/**
 * The changes counted by source and destination namespace, network and port.
 */
export interface WhatIfGroup__Output {
  'kind': (string);
  'sourceNamespace': (string);
  'sourceNetwork': (string);
  'destinationNamespace': (string);
  'destinationNetwork': (string);
  'port': (number);
  'protocolName': (string);
  'beforeReason': (string);
  'afterReason': (string);
  'conversations': (number);
  'packets': (number);
  'bytes': (number);
}
