// Original file: proto/vrfwall/v1/state.proto

import type { Verdict as _vrfwall_v1_Verdict, Verdict__Output as _vrfwall_v1_Verdict__Output } from '../../vrfwall/v1/Verdict.js';
import type { ExplainStep as _vrfwall_v1_ExplainStep, ExplainStep__Output as _vrfwall_v1_ExplainStep__Output } from '../../vrfwall/v1/ExplainStep.js';
import type { Endpoint as _vrfwall_v1_Endpoint, Endpoint__Output as _vrfwall_v1_Endpoint__Output } from '../../vrfwall/v1/Endpoint.js';
import type { NodeReport as _vrfwall_v1_NodeReport, NodeReport__Output as _vrfwall_v1_NodeReport__Output } from '../../vrfwall/v1/NodeReport.js';

export interface ExplainResponse {
  'verdict'?: (_vrfwall_v1_Verdict);
  /**
   * drop reason when dropped, allow rule when allowed
   */
  'reason'?: (string);
  /**
   * the rule of design section 3 that decided
   */
  'rule'?: (string);
  'steps'?: (_vrfwall_v1_ExplainStep)[];
  'source'?: (_vrfwall_v1_Endpoint | null);
  'destination'?: (_vrfwall_v1_Endpoint | null);
  'node'?: (string);
  /**
   * e.g. which hooks live on other nodes
   */
  'note'?: (string);
  /**
   * relay only: the nodes asked
   */
  'nodes'?: (_vrfwall_v1_NodeReport | null);
}

export interface ExplainResponse__Output {
  'verdict': (_vrfwall_v1_Verdict__Output);
  /**
   * drop reason when dropped, allow rule when allowed
   */
  'reason': (string);
  /**
   * the rule of design section 3 that decided
   */
  'rule': (string);
  'steps': (_vrfwall_v1_ExplainStep__Output)[];
  'source': (_vrfwall_v1_Endpoint__Output | null);
  'destination': (_vrfwall_v1_Endpoint__Output | null);
  'node': (string);
  /**
   * e.g. which hooks live on other nodes
   */
  'note': (string);
  /**
   * relay only: the nodes asked
   */
  'nodes': (_vrfwall_v1_NodeReport__Output | null);
}
