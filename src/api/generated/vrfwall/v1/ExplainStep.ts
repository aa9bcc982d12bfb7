// Original file: proto/vrfwall/v1/state.proto

import type { Verdict as _vrfwall_v1_Verdict, Verdict__Output as _vrfwall_v1_Verdict__Output } from '../../vrfwall/v1/Verdict.js';

/**
 * One loaded program's verdict on the synthesized packet.
 */
export interface ExplainStep {
  /**
   * from_pod (sender's tc ingress) or to_pod (receiver's tc egress)
   */
  'hook'?: (string);
  'pod'?: (string);
  'ifindex'?: (number);
  'verdict'?: (_vrfwall_v1_Verdict);
  /**
   * drop reason or allow rule
   */
  'reason'?: (string);
  /**
   * "rule 1: same network" ... when allowed
   */
  'rule'?: (string);
  /**
   * NetworkPolicy, when one selects the pod at this hook: "allowed by NetworkPolicy ns/name",
   */
  'policy'?: (string);
}

/**
 * One loaded program's verdict on the synthesized packet.
 */
export interface ExplainStep__Output {
  /**
   * from_pod (sender's tc ingress) or to_pod (receiver's tc egress)
   */
  'hook': (string);
  'pod': (string);
  'ifindex': (number);
  'verdict': (_vrfwall_v1_Verdict__Output);
  /**
   * drop reason or allow rule
   */
  'reason': (string);
  /**
   * "rule 1: same network" ... when allowed
   */
  'rule': (string);
  /**
   * NetworkPolicy, when one selects the pod at this hook: "allowed by NetworkPolicy ns/name",
   */
  'policy': (string);
}
