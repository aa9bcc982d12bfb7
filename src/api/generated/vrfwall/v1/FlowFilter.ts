// Original file: proto/vrfwall/v1/flow.proto

import type { Verdict as _vrfwall_v1_Verdict, Verdict__Output as _vrfwall_v1_Verdict__Output } from '../../vrfwall/v1/Verdict.js';
import type { TrafficDirection as _vrfwall_v1_TrafficDirection, TrafficDirection__Output as _vrfwall_v1_TrafficDirection__Output } from '../../vrfwall/v1/TrafficDirection.js';

/**
 * All set fields must match (AND); within a field any value (OR).
 */
export interface FlowFilter {
  /**
   * either endpoint
   */
  'namespace'?: (string)[];
  /**
   * "ns/name" prefix, either endpoint
   */
  'pod'?: (string)[];
  'sourcePod'?: (string)[];
  'destinationPod'?: (string)[];
  /**
   * "ns/name", either endpoint
   */
  'network'?: (string)[];
  'verdict'?: (_vrfwall_v1_Verdict)[];
  /**
   * e.g. ISOLATED, POLICY_INGRESS (docs/drop-reasons.md)
   */
  'dropReason'?: (string)[];
  /**
   * IP or CIDR, either endpoint
   */
  'ip'?: (string)[];
  /**
   * either endpoint
   */
  'port'?: (number)[];
  /**
   * tcp, udp, sctp, icmp, icmpv6 or a number
   */
  'protocol'?: (string)[];
  'direction'?: (_vrfwall_v1_TrafficDirection)[];
  'node'?: (string)[];
}

/**
 * All set fields must match (AND); within a field any value (OR).
 */
export interface FlowFilter__Output {
  /**
   * either endpoint
   */
  'namespace': (string)[];
  /**
   * "ns/name" prefix, either endpoint
   */
  'pod': (string)[];
  'sourcePod': (string)[];
  'destinationPod': (string)[];
  /**
   * "ns/name", either endpoint
   */
  'network': (string)[];
  'verdict': (_vrfwall_v1_Verdict__Output)[];
  /**
   * e.g. ISOLATED, POLICY_INGRESS (docs/drop-reasons.md)
   */
  'dropReason': (string)[];
  /**
   * IP or CIDR, either endpoint
   */
  'ip': (string)[];
  /**
   * either endpoint
   */
  'port': (number)[];
  /**
   * tcp, udp, sctp, icmp, icmpv6 or a number
   */
  'protocol': (string)[];
  'direction': (_vrfwall_v1_TrafficDirection__Output)[];
  'node': (string)[];
}
