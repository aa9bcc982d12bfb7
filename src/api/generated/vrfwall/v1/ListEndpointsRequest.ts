// Original file: proto/vrfwall/v1/state.proto


export interface ListEndpointsRequest {
  /**
   * optional filters
   */
  'namespace'?: (string);
  'network'?: (string);
  'localOnly'?: (boolean);
}

export interface ListEndpointsRequest__Output {
  /**
   * optional filters
   */
  'namespace': (string);
  'network': (string);
  'localOnly': (boolean);
}
