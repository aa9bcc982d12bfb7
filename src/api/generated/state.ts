import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Endpoint as _vrfwall_v1_Endpoint, Endpoint__Output as _vrfwall_v1_Endpoint__Output } from './vrfwall/v1/Endpoint.js';
import type { EndpointInfo as _vrfwall_v1_EndpointInfo, EndpointInfo__Output as _vrfwall_v1_EndpointInfo__Output } from './vrfwall/v1/EndpointInfo.js';
import type { ExplainRequest as _vrfwall_v1_ExplainRequest, ExplainRequest__Output as _vrfwall_v1_ExplainRequest__Output } from './vrfwall/v1/ExplainRequest.js';
import type { ExplainResponse as _vrfwall_v1_ExplainResponse, ExplainResponse__Output as _vrfwall_v1_ExplainResponse__Output } from './vrfwall/v1/ExplainResponse.js';
import type { ExplainStep as _vrfwall_v1_ExplainStep, ExplainStep__Output as _vrfwall_v1_ExplainStep__Output } from './vrfwall/v1/ExplainStep.js';
import type { Flow as _vrfwall_v1_Flow, Flow__Output as _vrfwall_v1_Flow__Output } from './vrfwall/v1/Flow.js';
import type { FlowBatch as _vrfwall_v1_FlowBatch, FlowBatch__Output as _vrfwall_v1_FlowBatch__Output } from './vrfwall/v1/FlowBatch.js';
import type { FlowCounters as _vrfwall_v1_FlowCounters, FlowCounters__Output as _vrfwall_v1_FlowCounters__Output } from './vrfwall/v1/FlowCounters.js';
import type { FlowExportStatus as _vrfwall_v1_FlowExportStatus, FlowExportStatus__Output as _vrfwall_v1_FlowExportStatus__Output } from './vrfwall/v1/FlowExportStatus.js';
import type { FlowFilter as _vrfwall_v1_FlowFilter, FlowFilter__Output as _vrfwall_v1_FlowFilter__Output } from './vrfwall/v1/FlowFilter.js';
import type { FlowGroup as _vrfwall_v1_FlowGroup, FlowGroup__Output as _vrfwall_v1_FlowGroup__Output } from './vrfwall/v1/FlowGroup.js';
import type { FlowServiceClient as _vrfwall_v1_FlowServiceClient, FlowServiceDefinition as _vrfwall_v1_FlowServiceDefinition } from './vrfwall/v1/FlowService.js';
import type { GetFlowStatsRequest as _vrfwall_v1_GetFlowStatsRequest, GetFlowStatsRequest__Output as _vrfwall_v1_GetFlowStatsRequest__Output } from './vrfwall/v1/GetFlowStatsRequest.js';
import type { GetFlowStatsResponse as _vrfwall_v1_GetFlowStatsResponse, GetFlowStatsResponse__Output as _vrfwall_v1_GetFlowStatsResponse__Output } from './vrfwall/v1/GetFlowStatsResponse.js';
import type { GetFlowsRequest as _vrfwall_v1_GetFlowsRequest, GetFlowsRequest__Output as _vrfwall_v1_GetFlowsRequest__Output } from './vrfwall/v1/GetFlowsRequest.js';
import type { GetFlowsResponse as _vrfwall_v1_GetFlowsResponse, GetFlowsResponse__Output as _vrfwall_v1_GetFlowsResponse__Output } from './vrfwall/v1/GetFlowsResponse.js';
import type { ListEndpointsRequest as _vrfwall_v1_ListEndpointsRequest, ListEndpointsRequest__Output as _vrfwall_v1_ListEndpointsRequest__Output } from './vrfwall/v1/ListEndpointsRequest.js';
import type { ListEndpointsResponse as _vrfwall_v1_ListEndpointsResponse, ListEndpointsResponse__Output as _vrfwall_v1_ListEndpointsResponse__Output } from './vrfwall/v1/ListEndpointsResponse.js';
import type { ListNetworksRequest as _vrfwall_v1_ListNetworksRequest, ListNetworksRequest__Output as _vrfwall_v1_ListNetworksRequest__Output } from './vrfwall/v1/ListNetworksRequest.js';
import type { ListNetworksResponse as _vrfwall_v1_ListNetworksResponse, ListNetworksResponse__Output as _vrfwall_v1_ListNetworksResponse__Output } from './vrfwall/v1/ListNetworksResponse.js';
import type { LostFlows as _vrfwall_v1_LostFlows, LostFlows__Output as _vrfwall_v1_LostFlows__Output } from './vrfwall/v1/LostFlows.js';
import type { ManifestDocument as _vrfwall_v1_ManifestDocument, ManifestDocument__Output as _vrfwall_v1_ManifestDocument__Output } from './vrfwall/v1/ManifestDocument.js';
import type { MapFill as _vrfwall_v1_MapFill, MapFill__Output as _vrfwall_v1_MapFill__Output } from './vrfwall/v1/MapFill.js';
import type { Network as _vrfwall_v1_Network, Network__Output as _vrfwall_v1_Network__Output } from './vrfwall/v1/Network.js';
import type { NodeFailure as _vrfwall_v1_NodeFailure, NodeFailure__Output as _vrfwall_v1_NodeFailure__Output } from './vrfwall/v1/NodeFailure.js';
import type { NodeReport as _vrfwall_v1_NodeReport, NodeReport__Output as _vrfwall_v1_NodeReport__Output } from './vrfwall/v1/NodeReport.js';
import type { ServerStatusRequest as _vrfwall_v1_ServerStatusRequest, ServerStatusRequest__Output as _vrfwall_v1_ServerStatusRequest__Output } from './vrfwall/v1/ServerStatusRequest.js';
import type { ServerStatusResponse as _vrfwall_v1_ServerStatusResponse, ServerStatusResponse__Output as _vrfwall_v1_ServerStatusResponse__Output } from './vrfwall/v1/ServerStatusResponse.js';
import type { StateServiceClient as _vrfwall_v1_StateServiceClient, StateServiceDefinition as _vrfwall_v1_StateServiceDefinition } from './vrfwall/v1/StateService.js';
import type { WhatIfChange as _vrfwall_v1_WhatIfChange, WhatIfChange__Output as _vrfwall_v1_WhatIfChange__Output } from './vrfwall/v1/WhatIfChange.js';
import type { WhatIfGroup as _vrfwall_v1_WhatIfGroup, WhatIfGroup__Output as _vrfwall_v1_WhatIfGroup__Output } from './vrfwall/v1/WhatIfGroup.js';
import type { WhatIfRequest as _vrfwall_v1_WhatIfRequest, WhatIfRequest__Output as _vrfwall_v1_WhatIfRequest__Output } from './vrfwall/v1/WhatIfRequest.js';
import type { WhatIfResponse as _vrfwall_v1_WhatIfResponse, WhatIfResponse__Output as _vrfwall_v1_WhatIfResponse__Output } from './vrfwall/v1/WhatIfResponse.js';
import type { WhatIfVerdict as _vrfwall_v1_WhatIfVerdict, WhatIfVerdict__Output as _vrfwall_v1_WhatIfVerdict__Output } from './vrfwall/v1/WhatIfVerdict.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  vrfwall: {
    v1: {
      AggregateKey: EnumTypeDefinition
      Endpoint: MessageTypeDefinition<_vrfwall_v1_Endpoint, _vrfwall_v1_Endpoint__Output>
      EndpointInfo: MessageTypeDefinition<_vrfwall_v1_EndpointInfo, _vrfwall_v1_EndpointInfo__Output>
      ExplainRequest: MessageTypeDefinition<_vrfwall_v1_ExplainRequest, _vrfwall_v1_ExplainRequest__Output>
      ExplainResponse: MessageTypeDefinition<_vrfwall_v1_ExplainResponse, _vrfwall_v1_ExplainResponse__Output>
      ExplainStep: MessageTypeDefinition<_vrfwall_v1_ExplainStep, _vrfwall_v1_ExplainStep__Output>
      Flow: MessageTypeDefinition<_vrfwall_v1_Flow, _vrfwall_v1_Flow__Output>
      FlowBatch: MessageTypeDefinition<_vrfwall_v1_FlowBatch, _vrfwall_v1_FlowBatch__Output>
      FlowCounters: MessageTypeDefinition<_vrfwall_v1_FlowCounters, _vrfwall_v1_FlowCounters__Output>
      FlowExportStatus: MessageTypeDefinition<_vrfwall_v1_FlowExportStatus, _vrfwall_v1_FlowExportStatus__Output>
      FlowFilter: MessageTypeDefinition<_vrfwall_v1_FlowFilter, _vrfwall_v1_FlowFilter__Output>
      FlowGroup: MessageTypeDefinition<_vrfwall_v1_FlowGroup, _vrfwall_v1_FlowGroup__Output>
      FlowService: SubtypeConstructor<typeof grpc.Client, _vrfwall_v1_FlowServiceClient> & { service: _vrfwall_v1_FlowServiceDefinition }
      GetFlowStatsRequest: MessageTypeDefinition<_vrfwall_v1_GetFlowStatsRequest, _vrfwall_v1_GetFlowStatsRequest__Output>
      GetFlowStatsResponse: MessageTypeDefinition<_vrfwall_v1_GetFlowStatsResponse, _vrfwall_v1_GetFlowStatsResponse__Output>
      GetFlowsRequest: MessageTypeDefinition<_vrfwall_v1_GetFlowsRequest, _vrfwall_v1_GetFlowsRequest__Output>
      GetFlowsResponse: MessageTypeDefinition<_vrfwall_v1_GetFlowsResponse, _vrfwall_v1_GetFlowsResponse__Output>
      GroupBy: EnumTypeDefinition
      ListEndpointsRequest: MessageTypeDefinition<_vrfwall_v1_ListEndpointsRequest, _vrfwall_v1_ListEndpointsRequest__Output>
      ListEndpointsResponse: MessageTypeDefinition<_vrfwall_v1_ListEndpointsResponse, _vrfwall_v1_ListEndpointsResponse__Output>
      ListNetworksRequest: MessageTypeDefinition<_vrfwall_v1_ListNetworksRequest, _vrfwall_v1_ListNetworksRequest__Output>
      ListNetworksResponse: MessageTypeDefinition<_vrfwall_v1_ListNetworksResponse, _vrfwall_v1_ListNetworksResponse__Output>
      LostFlows: MessageTypeDefinition<_vrfwall_v1_LostFlows, _vrfwall_v1_LostFlows__Output>
      ManifestDocument: MessageTypeDefinition<_vrfwall_v1_ManifestDocument, _vrfwall_v1_ManifestDocument__Output>
      MapFill: MessageTypeDefinition<_vrfwall_v1_MapFill, _vrfwall_v1_MapFill__Output>
      Network: MessageTypeDefinition<_vrfwall_v1_Network, _vrfwall_v1_Network__Output>
      NodeFailure: MessageTypeDefinition<_vrfwall_v1_NodeFailure, _vrfwall_v1_NodeFailure__Output>
      NodeReport: MessageTypeDefinition<_vrfwall_v1_NodeReport, _vrfwall_v1_NodeReport__Output>
      ServerStatusRequest: MessageTypeDefinition<_vrfwall_v1_ServerStatusRequest, _vrfwall_v1_ServerStatusRequest__Output>
      ServerStatusResponse: MessageTypeDefinition<_vrfwall_v1_ServerStatusResponse, _vrfwall_v1_ServerStatusResponse__Output>
      SortBy: EnumTypeDefinition
      StateService: SubtypeConstructor<typeof grpc.Client, _vrfwall_v1_StateServiceClient> & { service: _vrfwall_v1_StateServiceDefinition }
      TrafficDirection: EnumTypeDefinition
      Verdict: EnumTypeDefinition
      WhatIfChange: MessageTypeDefinition<_vrfwall_v1_WhatIfChange, _vrfwall_v1_WhatIfChange__Output>
      WhatIfGroup: MessageTypeDefinition<_vrfwall_v1_WhatIfGroup, _vrfwall_v1_WhatIfGroup__Output>
      WhatIfRequest: MessageTypeDefinition<_vrfwall_v1_WhatIfRequest, _vrfwall_v1_WhatIfRequest__Output>
      WhatIfResponse: MessageTypeDefinition<_vrfwall_v1_WhatIfResponse, _vrfwall_v1_WhatIfResponse__Output>
      WhatIfVerdict: MessageTypeDefinition<_vrfwall_v1_WhatIfVerdict, _vrfwall_v1_WhatIfVerdict__Output>
    }
  }
}

