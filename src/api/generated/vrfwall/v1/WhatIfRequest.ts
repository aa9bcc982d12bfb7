// Original file: proto/vrfwall/v1/state.proto

import type { ManifestDocument as _vrfwall_v1_ManifestDocument, ManifestDocument__Output as _vrfwall_v1_ManifestDocument__Output } from '../../vrfwall/v1/ManifestDocument.js';

export interface WhatIfRequest {
  /**
   * upserts: kind + namespace + name replaces
   */
  'documents'?: (_vrfwall_v1_ManifestDocument)[];
  /**
   * replay the flows seen in the last N seconds; 0: all retained
   */
  'windowSeconds'?: (number);
}

export interface WhatIfRequest__Output {
  /**
   * upserts: kind + namespace + name replaces
   */
  'documents': (_vrfwall_v1_ManifestDocument__Output)[];
  /**
   * replay the flows seen in the last N seconds; 0: all retained
   */
  'windowSeconds': (number);
}
