// Original file: proto/vrfwall/v1/flow.proto


export interface Endpoint {
  'ip'?: (string);
  'port'?: (number);
  'namespace'?: (string);
  'pod'?: (string);
  /**
   * "ns/name"; empty when not a pod in a network
   */
  'network'?: (string);
  'node'?: (string);
  /**
   * "ns/name" when ip is a Service virtual IP
   */
  'service'?: (string);
  /**
   * pod, host, service, external, unknown
   */
  'kind'?: (string);
  /**
   * the pod's secondary interface the address is on (Multus: "eth1"); empty for its cluster-network interface
   */
  'interface'?: (string);
}

export interface Endpoint__Output {
  'ip': (string);
  'port': (number);
  'namespace': (string);
  'pod': (string);
  /**
   * "ns/name"; empty when not a pod in a network
   */
  'network': (string);
  'node': (string);
  /**
   * "ns/name" when ip is a Service virtual IP
   */
  'service': (string);
  /**
   * pod, host, service, external, unknown
   */
  'kind': (string);
  /**
   * the pod's secondary interface the address is on (Multus: "eth1"); empty for its cluster-network interface
   */
  'interface': (string);
}
