// Original file: proto/vrfwall/v1/flow.proto

import type { FlowFilter as _vrfwall_v1_FlowFilter, FlowFilter__Output as _vrfwall_v1_FlowFilter__Output } from '../../vrfwall/v1/FlowFilter.js';
import type { GroupBy as _vrfwall_v1_GroupBy, GroupBy__Output as _vrfwall_v1_GroupBy__Output } from '../../vrfwall/v1/GroupBy.js';
import type { SortBy as _vrfwall_v1_SortBy, SortBy__Output as _vrfwall_v1_SortBy__Output } from '../../vrfwall/v1/SortBy.js';
import type { AggregateKey as _vrfwall_v1_AggregateKey, AggregateKey__Output as _vrfwall_v1_AggregateKey__Output } from '../../vrfwall/v1/AggregateKey.js';
import type { Long } from '@grpc/proto-loader';

export interface GetFlowStatsRequest {
  'allow'?: (_vrfwall_v1_FlowFilter)[];
  'deny'?: (_vrfwall_v1_FlowFilter)[];
  /**
   * window: flows active in it count with their totals
   */
  'sinceMs'?: (number | string | Long);
  'untilMs'?: (number | string | Long);
  'groupBy'?: (_vrfwall_v1_GroupBy);
  'sortBy'?: (_vrfwall_v1_SortBy);
  /**
   * 0 = all groups
   */
  'top'?: (number);
  /**
   * When set, group_by is ignored: groups are by these keys only, and each
   * FlowGroup says its values in `keys` (source/destination/verdict/reason
   * are then left unset).
   */
  'aggregateBy'?: (_vrfwall_v1_AggregateKey)[];
}

export interface GetFlowStatsRequest__Output {
  'allow': (_vrfwall_v1_FlowFilter__Output)[];
  'deny': (_vrfwall_v1_FlowFilter__Output)[];
  /**
   * window: flows active in it count with their totals
   */
  'sinceMs': (number);
  'untilMs': (number);
  'groupBy': (_vrfwall_v1_GroupBy__Output);
  'sortBy': (_vrfwall_v1_SortBy__Output);
  /**
   * 0 = all groups
   */
  'top': (number);
  /**
   * When set, group_by is ignored: groups are by these keys only, and each
   * FlowGroup says its values in `keys` (source/destination/verdict/reason
   * are then left unset).
   */
  'aggregateBy': (_vrfwall_v1_AggregateKey__Output)[];
}
