// Original file: proto/vrfwall/v1/state.proto

import type { Long } from '@grpc/proto-loader';

export interface MapFill {
  'name'?: (string);
  'type'?: (string);
  'maxEntries'?: (number);
  /**
   * for arrays: max_entries; for the ring buffer: 0
   */
  'entries'?: (number | string | Long);
  /**
   * entries / max_entries
   */
  'fill'?: (number | string);
}

export interface MapFill__Output {
  'name': (string);
  'type': (string);
  'maxEntries': (number);
  /**
   * for arrays: max_entries; for the ring buffer: 0
   */
  'entries': (number);
  /**
   * entries / max_entries
   */
  'fill': (number);
}
