// Original file: proto/vrfwall/v1/state.proto


export interface ExplainRequest {
  /**
   * "ns/pod" or an IP
   */
  'source'?: (string);
  /**
   * "ns/pod" or an IP
   */
  'destination'?: (string);
  /**
   * tcp (default), udp, sctp, icmp, icmpv6
   */
  'protocol'?: (string);
  /**
   * destination port for tcp/udp/sctp (default 80)
   */
  'port'?: (number);
  /**
   * "ipv4" (default when both have one) or "ipv6"
   */
  'family'?: (string);
}

export interface ExplainRequest__Output {
  /**
   * "ns/pod" or an IP
   */
  'source': (string);
  /**
   * "ns/pod" or an IP
   */
  'destination': (string);
  /**
   * tcp (default), udp, sctp, icmp, icmpv6
   */
  'protocol': (string);
  /**
   * destination port for tcp/udp/sctp (default 80)
   */
  'port': (number);
  /**
   * "ipv4" (default when both have one) or "ipv6"
   */
  'family': (string);
}
