// Original file: proto/vrfwall/v1/flow.proto

export const SortBy = {
  /**
   * = bytes
   */
  SORT_BY_UNSPECIFIED: 'SORT_BY_UNSPECIFIED',
  SORT_BY_BYTES: 'SORT_BY_BYTES',
  SORT_BY_PACKETS: 'SORT_BY_PACKETS',
  SORT_BY_FLOWS: 'SORT_BY_FLOWS',
} as const;

export type SortBy =
  /**
   * = bytes
   */
  | 'SORT_BY_UNSPECIFIED'
  | 0
  | 'SORT_BY_BYTES'
  | 1
  | 'SORT_BY_PACKETS'
  | 2
  | 'SORT_BY_FLOWS'
  | 3

export type SortBy__Output = typeof SortBy[keyof typeof SortBy]
