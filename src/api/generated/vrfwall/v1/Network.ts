// Original file: proto/vrfwall/v1/state.proto


export interface Network {
  'name'?: (string);
  'vrfId'?: (number);
  'externalDeny'?: (boolean);
  'pods'?: (string)[];
  /**
   * networks a router joins with this one
   */
  'reaches'?: (string)[];
  /**
   * "audit" or "enforce": its audit mode (docs/audit.md)
   */
  'enforcement'?: (string);
}

export interface Network__Output {
  'name': (string);
  'vrfId': (number);
  'externalDeny': (boolean);
  'pods': (string)[];
  /**
   * networks a router joins with this one
   */
  'reaches': (string)[];
  /**
   * "audit" or "enforce": its audit mode (docs/audit.md)
   */
  'enforcement': (string);
}
