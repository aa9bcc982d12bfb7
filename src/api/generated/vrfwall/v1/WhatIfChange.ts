// Original file: proto/vrfwall/v1/state.proto

import type { Endpoint as _vrfwall_v1_Endpoint, Endpoint__Output as _vrfwall_v1_Endpoint__Output } from '../../vrfwall/v1/Endpoint.js';
import type { WhatIfVerdict as _vrfwall_v1_WhatIfVerdict, WhatIfVerdict__Output as _vrfwall_v1_WhatIfVerdict__Output } from '../../vrfwall/v1/WhatIfVerdict.js';
import type { Long } from '@grpc/proto-loader';

/**
 * One conversation (judged by its opening direction) whose pass/drop changes.
 */
export interface WhatIfChange {
  /**
   * ALLOWED_TO_DROPPED, DROPPED_TO_ALLOWED, ALLOWED_TO_AUDIT, DROPPED_TO_AUDIT
   */
  'kind'?: (string);
  /**
   * who opened it, named as now
   */
  'source'?: (_vrfwall_v1_Endpoint | null);
  'destination'?: (_vrfwall_v1_Endpoint | null);
  'protocol'?: (number);
  'protocolName'?: (string);
  'before'?: (_vrfwall_v1_WhatIfVerdict | null);
  'after'?: (_vrfwall_v1_WhatIfVerdict | null);
  /**
   * both ways, as the sender's end counted them (else the receiver's)
   */
  'packets'?: (number | string | Long);
  'bytes'?: (number | string | Long);
  /**
   * the network the proposal puts it in ('' none)
   */
  'sourceNetworkAfter'?: (string);
  'destinationNetworkAfter'?: (string);
  /**
   * where it was seen
   */
  'nodes'?: (string)[];
  'lastSeenMs'?: (number | string | Long);
}

/**
 * One conversation (judged by its opening direction) whose pass/drop changes.
 */
export interface WhatIfChange__Output {
  /**
   * ALLOWED_TO_DROPPED, DROPPED_TO_ALLOWED, ALLOWED_TO_AUDIT, DROPPED_TO_AUDIT
   */
  'kind': (string);
  /**
   * who opened it, named as now
   */
  'source': (_vrfwall_v1_Endpoint__Output | null);
  'destination': (_vrfwall_v1_Endpoint__Output | null);
  'protocol': (number);
  'protocolName': (string);
  'before': (_vrfwall_v1_WhatIfVerdict__Output | null);
  'after': (_vrfwall_v1_WhatIfVerdict__Output | null);
  /**
   * both ways, as the sender's end counted them (else the receiver's)
   */
  'packets': (number);
  'bytes': (number);
  /**
   * the network the proposal puts it in ('' none)
   */
  'sourceNetworkAfter': (string);
  'destinationNetworkAfter': (string);
  /**
   * where it was seen
   */
  'nodes': (string)[];
  'lastSeenMs': (number);
}
