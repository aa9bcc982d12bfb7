// Original file: proto/vrfwall/v1/flow.proto

export const Verdict = {
  VERDICT_UNSPECIFIED: 'VERDICT_UNSPECIFIED',
  VERDICT_ALLOWED: 'VERDICT_ALLOWED',
  VERDICT_DROPPED: 'VERDICT_DROPPED',
  /**
   * Audit mode (docs/audit.md): passed, but enforce mode would have dropped
   * it; drop_reason says why.
   */
  VERDICT_AUDIT: 'VERDICT_AUDIT',
} as const;

export type Verdict =
  | 'VERDICT_UNSPECIFIED'
  | 0
  | 'VERDICT_ALLOWED'
  | 1
  | 'VERDICT_DROPPED'
  | 2
  /**
   * Audit mode (docs/audit.md): passed, but enforce mode would have dropped
   * it; drop_reason says why.
   */
  | 'VERDICT_AUDIT'
  | 3

export type Verdict__Output = typeof Verdict[keyof typeof Verdict]
