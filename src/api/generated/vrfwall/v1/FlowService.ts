// Original file: proto/vrfwall/v1/flow.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { GetFlowStatsRequest as _vrfwall_v1_GetFlowStatsRequest, GetFlowStatsRequest__Output as _vrfwall_v1_GetFlowStatsRequest__Output } from '../../vrfwall/v1/GetFlowStatsRequest.js';
import type { GetFlowStatsResponse as _vrfwall_v1_GetFlowStatsResponse, GetFlowStatsResponse__Output as _vrfwall_v1_GetFlowStatsResponse__Output } from '../../vrfwall/v1/GetFlowStatsResponse.js';
import type { GetFlowsRequest as _vrfwall_v1_GetFlowsRequest, GetFlowsRequest__Output as _vrfwall_v1_GetFlowsRequest__Output } from '../../vrfwall/v1/GetFlowsRequest.js';
import type { GetFlowsResponse as _vrfwall_v1_GetFlowsResponse, GetFlowsResponse__Output as _vrfwall_v1_GetFlowsResponse__Output } from '../../vrfwall/v1/GetFlowsResponse.js';

export interface FlowServiceClient extends grpc.Client {
  GetFlowStats(argument: _vrfwall_v1_GetFlowStatsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_GetFlowStatsResponse__Output>): grpc.ClientUnaryCall;
  GetFlowStats(argument: _vrfwall_v1_GetFlowStatsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_vrfwall_v1_GetFlowStatsResponse__Output>): grpc.ClientUnaryCall;
  GetFlowStats(argument: _vrfwall_v1_GetFlowStatsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_GetFlowStatsResponse__Output>): grpc.ClientUnaryCall;
  GetFlowStats(argument: _vrfwall_v1_GetFlowStatsRequest, callback: grpc.requestCallback<_vrfwall_v1_GetFlowStatsResponse__Output>): grpc.ClientUnaryCall;
  getFlowStats(argument: _vrfwall_v1_GetFlowStatsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_GetFlowStatsResponse__Output>): grpc.ClientUnaryCall;
  getFlowStats(argument: _vrfwall_v1_GetFlowStatsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_vrfwall_v1_GetFlowStatsResponse__Output>): grpc.ClientUnaryCall;
  getFlowStats(argument: _vrfwall_v1_GetFlowStatsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_GetFlowStatsResponse__Output>): grpc.ClientUnaryCall;
  getFlowStats(argument: _vrfwall_v1_GetFlowStatsRequest, callback: grpc.requestCallback<_vrfwall_v1_GetFlowStatsResponse__Output>): grpc.ClientUnaryCall;
  
  GetFlows(argument: _vrfwall_v1_GetFlowsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_vrfwall_v1_GetFlowsResponse__Output>;
  GetFlows(argument: _vrfwall_v1_GetFlowsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_vrfwall_v1_GetFlowsResponse__Output>;
  getFlows(argument: _vrfwall_v1_GetFlowsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_vrfwall_v1_GetFlowsResponse__Output>;
  getFlows(argument: _vrfwall_v1_GetFlowsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_vrfwall_v1_GetFlowsResponse__Output>;
  
}

export interface FlowServiceHandlers extends grpc.UntypedServiceImplementation {
  GetFlowStats: grpc.handleUnaryCall<_vrfwall_v1_GetFlowStatsRequest__Output, _vrfwall_v1_GetFlowStatsResponse>;
  
  GetFlows: grpc.handleServerStreamingCall<_vrfwall_v1_GetFlowsRequest__Output, _vrfwall_v1_GetFlowsResponse>;
  
}

export interface FlowServiceDefinition extends grpc.ServiceDefinition {
  GetFlowStats: MethodDefinition<_vrfwall_v1_GetFlowStatsRequest, _vrfwall_v1_GetFlowStatsResponse, _vrfwall_v1_GetFlowStatsRequest__Output, _vrfwall_v1_GetFlowStatsResponse__Output>
  GetFlows: MethodDefinition<_vrfwall_v1_GetFlowsRequest, _vrfwall_v1_GetFlowsResponse, _vrfwall_v1_GetFlowsRequest__Output, _vrfwall_v1_GetFlowsResponse__Output>
}
