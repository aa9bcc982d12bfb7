// Original file: proto/vrfwall/v1/state.proto


/**
 * The verdict a conversation's opening packet gets under one state.
 */
export interface WhatIfVerdict {
  /**
   * ALLOWED, DROPPED or AUDIT (passes, reason = what it would have been)
   */
  'verdict'?: (string);
  /**
   * allow rule or drop reason
   */
  'reason'?: (string);
  /**
   * from_pod or to_pod: the hook that decided
   */
  'hook'?: (string);
}

/**
 * The verdict a conversation's opening packet gets under one state.
 */
export interface WhatIfVerdict__Output {
  /**
   * ALLOWED, DROPPED or AUDIT (passes, reason = what it would have been)
   */
  'verdict': (string);
  /**
   * allow rule or drop reason
   */
  'reason': (string);
  /**
   * from_pod or to_pod: the hook that decided
   */
  'hook': (string);
}
