// Original file: proto/vrfwall/v1/flow.proto

/**
 * Who opened the flow, seen from the local pod.
 */
export const TrafficDirection = {
  DIRECTION_UNSPECIFIED: 'DIRECTION_UNSPECIFIED',
  /**
   * the local pod sent the first packet (from-pod hook)
   */
  DIRECTION_EGRESS: 'DIRECTION_EGRESS',
  /**
   * the peer did (to-pod hook)
   */
  DIRECTION_INGRESS: 'DIRECTION_INGRESS',
} as const;

/**
 * Who opened the flow, seen from the local pod.
 */
export type TrafficDirection =
  | 'DIRECTION_UNSPECIFIED'
  | 0
  /**
   * the local pod sent the first packet (from-pod hook)
   */
  | 'DIRECTION_EGRESS'
  | 1
  /**
   * the peer did (to-pod hook)
   */
  | 'DIRECTION_INGRESS'
  | 2

/**
 * Who opened the flow, seen from the local pod.
 */
export type TrafficDirection__Output = typeof TrafficDirection[keyof typeof TrafficDirection]
