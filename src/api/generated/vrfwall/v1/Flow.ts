// Original file: proto/vrfwall/v1/flow.proto

import type { Endpoint as _vrfwall_v1_Endpoint, Endpoint__Output as _vrfwall_v1_Endpoint__Output } from '../../vrfwall/v1/Endpoint.js';
import type { TrafficDirection as _vrfwall_v1_TrafficDirection, TrafficDirection__Output as _vrfwall_v1_TrafficDirection__Output } from '../../vrfwall/v1/TrafficDirection.js';
import type { Verdict as _vrfwall_v1_Verdict, Verdict__Output as _vrfwall_v1_Verdict__Output } from '../../vrfwall/v1/Verdict.js';
import type { FlowCounters as _vrfwall_v1_FlowCounters, FlowCounters__Output as _vrfwall_v1_FlowCounters__Output } from '../../vrfwall/v1/FlowCounters.js';
import type { Long } from '@grpc/proto-loader';

/**
 * One conversation at one local pod's interface, oriented to whoever opened it.
 */
export interface Flow {
  'id'?: (string);
  'node'?: (string);
  'ifindex'?: (number);
  'source'?: (_vrfwall_v1_Endpoint | null);
  'destination'?: (_vrfwall_v1_Endpoint | null);
  /**
   * IP protocol number
   */
  'protocol'?: (number);
  'protocolName'?: (string);
  'direction'?: (_vrfwall_v1_TrafficDirection);
  /**
   * of the latest packet
   */
  'verdict'?: (_vrfwall_v1_Verdict);
  /**
   * when DROPPED (or AUDIT): a name of enum vw_drop_reason, docs/drop-reasons.md (ISOLATED ... TUNNEL, POLICY_EGRESS, POLICY_INGRESS)
   */
  'dropReason'?: (string);
  /**
   * when ALLOWED: the rule of design section 3
   */
  'allowRule'?: (string);
  'code'?: (number);
  /**
   * source -> destination
   */
  'forward'?: (_vrfwall_v1_FlowCounters | null);
  /**
   * destination -> source
   */
  'reverse'?: (_vrfwall_v1_FlowCounters | null);
  'firstSeenMs'?: (number | string | Long);
  'lastSeenMs'?: (number | string | Long);
  'ethertype'?: (number);
  /**
   * NetworkPolicy at the local hook, when one selects the pod: the policy that allowed,
   */
  'policy'?: (string);
}

/**
 * One conversation at one local pod's interface, oriented to whoever opened it.
 */
export interface Flow__Output {
  'id': (string);
  'node': (string);
  'ifindex': (number);
  'source': (_vrfwall_v1_Endpoint__Output | null);
  'destination': (_vrfwall_v1_Endpoint__Output | null);
  /**
   * IP protocol number
   */
  'protocol': (number);
  'protocolName': (string);
  'direction': (_vrfwall_v1_TrafficDirection__Output);
  /**
   * of the latest packet
   */
  'verdict': (_vrfwall_v1_Verdict__Output);
  /**
   * when DROPPED (or AUDIT): a name of enum vw_drop_reason, docs/drop-reasons.md (ISOLATED ... TUNNEL, POLICY_EGRESS, POLICY_INGRESS)
   */
  'dropReason': (string);
  /**
   * when ALLOWED: the rule of design section 3
   */
  'allowRule': (string);
  'code': (number);
  /**
   * source -> destination
   */
  'forward': (_vrfwall_v1_FlowCounters__Output | null);
  /**
   * destination -> source
   */
  'reverse': (_vrfwall_v1_FlowCounters__Output | null);
  'firstSeenMs': (number);
  'lastSeenMs': (number);
  'ethertype': (number);
  /**
   * NetworkPolicy at the local hook, when one selects the pod: the policy that allowed,
   */
  'policy': (string);
}
