// Original file: proto/vrfwall/v1/flow.proto

/**
 * What flows are grouped by when a request names keys (aggregate_by): each
 * group has one value per key, in the request's order (FlowGroup.keys).
 */
export const AggregateKey = {
  AGGREGATE_KEY_UNSPECIFIED: 'AGGREGATE_KEY_UNSPECIFIED',
  /**
   * "source ns -> destination ns"
   */
  AGGREGATE_KEY_NAMESPACE: 'AGGREGATE_KEY_NAMESPACE',
  /**
   * "ns/pod -> ns/pod" (or the Service, address or kind of a non-pod side)
   */
  AGGREGATE_KEY_POD: 'AGGREGATE_KEY_POD',
  /**
   * "source network -> destination network"
   */
  AGGREGATE_KEY_NETWORK: 'AGGREGATE_KEY_NETWORK',
  /**
   * the destination port (0: none, e.g. ICMP)
   */
  AGGREGATE_KEY_PORT: 'AGGREGATE_KEY_PORT',
  /**
   * ALLOWED or DROPPED
   */
  AGGREGATE_KEY_VERDICT: 'AGGREGATE_KEY_VERDICT',
  /**
   * drop reason or allow rule
   */
  AGGREGATE_KEY_REASON: 'AGGREGATE_KEY_REASON',
} as const;

/**
 * What flows are grouped by when a request names keys (aggregate_by): each
 * group has one value per key, in the request's order (FlowGroup.keys).
 */
export type AggregateKey =
  | 'AGGREGATE_KEY_UNSPECIFIED'
  | 0
  /**
   * "source ns -> destination ns"
   */
  | 'AGGREGATE_KEY_NAMESPACE'
  | 1
  /**
   * "ns/pod -> ns/pod" (or the Service, address or kind of a non-pod side)
   */
  | 'AGGREGATE_KEY_POD'
  | 2
  /**
   * "source network -> destination network"
   */
  | 'AGGREGATE_KEY_NETWORK'
  | 3
  /**
   * the destination port (0: none, e.g. ICMP)
   */
  | 'AGGREGATE_KEY_PORT'
  | 4
  /**
   * ALLOWED or DROPPED
   */
  | 'AGGREGATE_KEY_VERDICT'
  | 5
  /**
   * drop reason or allow rule
   */
  | 'AGGREGATE_KEY_REASON'
  | 6

/**
 * What flows are grouped by when a request names keys (aggregate_by): each
 * group has one value per key, in the request's order (FlowGroup.keys).
 */
export type AggregateKey__Output = typeof AggregateKey[keyof typeof AggregateKey]
