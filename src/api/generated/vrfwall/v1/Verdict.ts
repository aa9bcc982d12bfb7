// Original file: proto/vrfwall/v1/flow.proto

export const Verdict = {
  VERDICT_UNSPECIFIED: 'VERDICT_UNSPECIFIED',
  VERDICT_ALLOWED: 'VERDICT_ALLOWED',
  VERDICT_DROPPED: 'VERDICT_DROPPED',
} as const;

export type Verdict =
  | 'VERDICT_UNSPECIFIED'
  | 0
  | 'VERDICT_ALLOWED'
  | 1
  | 'VERDICT_DROPPED'
  | 2

export type Verdict__Output = typeof Verdict[keyof typeof Verdict]
