// Original file: proto/vrfwall/v1/flow.proto


export interface NodeFailure {
  'node'?: (string);
  /**
   * why it did not answer (unreachable, TLS refused, timeout)
   */
  'error'?: (string);
}

export interface NodeFailure__Output {
  'node': (string);
  /**
   * why it did not answer (unreachable, TLS refused, timeout)
   */
  'error': (string);
}
