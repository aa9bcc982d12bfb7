// Original file: proto/vrfwall/v1/state.proto


export interface EndpointInfo {
  'ip'?: (string);
  /**
   * pod, host, service
   */
  'kind'?: (string);
  'namespace'?: (string);
  'pod'?: (string);
  'network'?: (string);
  'node'?: (string);
  'local'?: (boolean);
  'ifindex'?: (number);
  'quarantined'?: (boolean);
  'reason'?: (string);
  'service'?: (string);
  /**
   * the pod's secondary interface the address is on (Multus: "eth1"); empty for its cluster-network interface
   */
  'interface'?: (string);
}

export interface EndpointInfo__Output {
  'ip': (string);
  /**
   * pod, host, service
   */
  'kind': (string);
  'namespace': (string);
  'pod': (string);
  'network': (string);
  'node': (string);
  'local': (boolean);
  'ifindex': (number);
  'quarantined': (boolean);
  'reason': (string);
  'service': (string);
  /**
   * the pod's secondary interface the address is on (Multus: "eth1"); empty for its cluster-network interface
   */
  'interface': (string);
}
