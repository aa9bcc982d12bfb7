// Original file: proto/vrfwall/v1/flow.proto

export const GroupBy = {
  /**
   * = namespace
   */
  GROUP_BY_UNSPECIFIED: 'GROUP_BY_UNSPECIFIED',
  GROUP_BY_NAMESPACE: 'GROUP_BY_NAMESPACE',
  GROUP_BY_NETWORK: 'GROUP_BY_NETWORK',
  /**
   * top talkers
   */
  GROUP_BY_POD: 'GROUP_BY_POD',
} as const;

export type GroupBy =
  /**
   * = namespace
   */
  | 'GROUP_BY_UNSPECIFIED'
  | 0
  | 'GROUP_BY_NAMESPACE'
  | 1
  | 'GROUP_BY_NETWORK'
  | 2
  /**
   * top talkers
   */
  | 'GROUP_BY_POD'
  | 3

export type GroupBy__Output = typeof GroupBy[keyof typeof GroupBy]
