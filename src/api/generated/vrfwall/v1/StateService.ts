// Original file: proto/vrfwall/v1/state.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ExplainRequest as _vrfwall_v1_ExplainRequest, ExplainRequest__Output as _vrfwall_v1_ExplainRequest__Output } from '../../vrfwall/v1/ExplainRequest.js';
import type { ExplainResponse as _vrfwall_v1_ExplainResponse, ExplainResponse__Output as _vrfwall_v1_ExplainResponse__Output } from '../../vrfwall/v1/ExplainResponse.js';
import type { ListEndpointsRequest as _vrfwall_v1_ListEndpointsRequest, ListEndpointsRequest__Output as _vrfwall_v1_ListEndpointsRequest__Output } from '../../vrfwall/v1/ListEndpointsRequest.js';
import type { ListEndpointsResponse as _vrfwall_v1_ListEndpointsResponse, ListEndpointsResponse__Output as _vrfwall_v1_ListEndpointsResponse__Output } from '../../vrfwall/v1/ListEndpointsResponse.js';
import type { ListNetworksRequest as _vrfwall_v1_ListNetworksRequest, ListNetworksRequest__Output as _vrfwall_v1_ListNetworksRequest__Output } from '../../vrfwall/v1/ListNetworksRequest.js';
import type { ListNetworksResponse as _vrfwall_v1_ListNetworksResponse, ListNetworksResponse__Output as _vrfwall_v1_ListNetworksResponse__Output } from '../../vrfwall/v1/ListNetworksResponse.js';
import type { ServerStatusRequest as _vrfwall_v1_ServerStatusRequest, ServerStatusRequest__Output as _vrfwall_v1_ServerStatusRequest__Output } from '../../vrfwall/v1/ServerStatusRequest.js';
import type { ServerStatusResponse as _vrfwall_v1_ServerStatusResponse, ServerStatusResponse__Output as _vrfwall_v1_ServerStatusResponse__Output } from '../../vrfwall/v1/ServerStatusResponse.js';
import type { WhatIfRequest as _vrfwall_v1_WhatIfRequest, WhatIfRequest__Output as _vrfwall_v1_WhatIfRequest__Output } from '../../vrfwall/v1/WhatIfRequest.js';
import type { WhatIfResponse as _vrfwall_v1_WhatIfResponse, WhatIfResponse__Output as _vrfwall_v1_WhatIfResponse__Output } from '../../vrfwall/v1/WhatIfResponse.js';

export interface StateServiceClient extends grpc.Client {
  Explain(argument: _vrfwall_v1_ExplainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  Explain(argument: _vrfwall_v1_ExplainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_vrfwall_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  Explain(argument: _vrfwall_v1_ExplainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  Explain(argument: _vrfwall_v1_ExplainRequest, callback: grpc.requestCallback<_vrfwall_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  explain(argument: _vrfwall_v1_ExplainRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  explain(argument: _vrfwall_v1_ExplainRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_vrfwall_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  explain(argument: _vrfwall_v1_ExplainRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  explain(argument: _vrfwall_v1_ExplainRequest, callback: grpc.requestCallback<_vrfwall_v1_ExplainResponse__Output>): grpc.ClientUnaryCall;
  
  ListEndpoints(argument: _vrfwall_v1_ListEndpointsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  ListEndpoints(argument: _vrfwall_v1_ListEndpointsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_vrfwall_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  ListEndpoints(argument: _vrfwall_v1_ListEndpointsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  ListEndpoints(argument: _vrfwall_v1_ListEndpointsRequest, callback: grpc.requestCallback<_vrfwall_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  listEndpoints(argument: _vrfwall_v1_ListEndpointsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  listEndpoints(argument: _vrfwall_v1_ListEndpointsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_vrfwall_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  listEndpoints(argument: _vrfwall_v1_ListEndpointsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  listEndpoints(argument: _vrfwall_v1_ListEndpointsRequest, callback: grpc.requestCallback<_vrfwall_v1_ListEndpointsResponse__Output>): grpc.ClientUnaryCall;
  
  ListNetworks(argument: _vrfwall_v1_ListNetworksRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  ListNetworks(argument: _vrfwall_v1_ListNetworksRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_vrfwall_v1_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  ListNetworks(argument: _vrfwall_v1_ListNetworksRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  ListNetworks(argument: _vrfwall_v1_ListNetworksRequest, callback: grpc.requestCallback<_vrfwall_v1_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  listNetworks(argument: _vrfwall_v1_ListNetworksRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  listNetworks(argument: _vrfwall_v1_ListNetworksRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_vrfwall_v1_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  listNetworks(argument: _vrfwall_v1_ListNetworksRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  listNetworks(argument: _vrfwall_v1_ListNetworksRequest, callback: grpc.requestCallback<_vrfwall_v1_ListNetworksResponse__Output>): grpc.ClientUnaryCall;
  
  ServerStatus(argument: _vrfwall_v1_ServerStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ServerStatusResponse__Output>): grpc.ClientUnaryCall;
  ServerStatus(argument: _vrfwall_v1_ServerStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_vrfwall_v1_ServerStatusResponse__Output>): grpc.ClientUnaryCall;
  ServerStatus(argument: _vrfwall_v1_ServerStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ServerStatusResponse__Output>): grpc.ClientUnaryCall;
  ServerStatus(argument: _vrfwall_v1_ServerStatusRequest, callback: grpc.requestCallback<_vrfwall_v1_ServerStatusResponse__Output>): grpc.ClientUnaryCall;
  serverStatus(argument: _vrfwall_v1_ServerStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ServerStatusResponse__Output>): grpc.ClientUnaryCall;
  serverStatus(argument: _vrfwall_v1_ServerStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_vrfwall_v1_ServerStatusResponse__Output>): grpc.ClientUnaryCall;
  serverStatus(argument: _vrfwall_v1_ServerStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_ServerStatusResponse__Output>): grpc.ClientUnaryCall;
  serverStatus(argument: _vrfwall_v1_ServerStatusRequest, callback: grpc.requestCallback<_vrfwall_v1_ServerStatusResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * What the proposed manifests would change for the recent flows (docs/what-if.md).
   * Nothing is applied anywhere: not to the maps, not to the agent's state.
   */
  WhatIf(argument: _vrfwall_v1_WhatIfRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_WhatIfResponse__Output>): grpc.ClientUnaryCall;
  WhatIf(argument: _vrfwall_v1_WhatIfRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_vrfwall_v1_WhatIfResponse__Output>): grpc.ClientUnaryCall;
  WhatIf(argument: _vrfwall_v1_WhatIfRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_WhatIfResponse__Output>): grpc.ClientUnaryCall;
  WhatIf(argument: _vrfwall_v1_WhatIfRequest, callback: grpc.requestCallback<_vrfwall_v1_WhatIfResponse__Output>): grpc.ClientUnaryCall;
  /**
   * What the proposed manifests would change for the recent flows (docs/what-if.md).
   * Nothing is applied anywhere: not to the maps, not to the agent's state.
   */
  whatIf(argument: _vrfwall_v1_WhatIfRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_WhatIfResponse__Output>): grpc.ClientUnaryCall;
  whatIf(argument: _vrfwall_v1_WhatIfRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_vrfwall_v1_WhatIfResponse__Output>): grpc.ClientUnaryCall;
  whatIf(argument: _vrfwall_v1_WhatIfRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_vrfwall_v1_WhatIfResponse__Output>): grpc.ClientUnaryCall;
  whatIf(argument: _vrfwall_v1_WhatIfRequest, callback: grpc.requestCallback<_vrfwall_v1_WhatIfResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface StateServiceHandlers extends grpc.UntypedServiceImplementation {
  Explain: grpc.handleUnaryCall<_vrfwall_v1_ExplainRequest__Output, _vrfwall_v1_ExplainResponse>;
  
  ListEndpoints: grpc.handleUnaryCall<_vrfwall_v1_ListEndpointsRequest__Output, _vrfwall_v1_ListEndpointsResponse>;
  
  ListNetworks: grpc.handleUnaryCall<_vrfwall_v1_ListNetworksRequest__Output, _vrfwall_v1_ListNetworksResponse>;
  
  ServerStatus: grpc.handleUnaryCall<_vrfwall_v1_ServerStatusRequest__Output, _vrfwall_v1_ServerStatusResponse>;
  
  /**
   * What the proposed manifests would change for the recent flows (docs/what-if.md).
   * Nothing is applied anywhere: not to the maps, not to the agent's state.
   */
  WhatIf: grpc.handleUnaryCall<_vrfwall_v1_WhatIfRequest__Output, _vrfwall_v1_WhatIfResponse>;
  
}

export interface StateServiceDefinition extends grpc.ServiceDefinition {
  Explain: MethodDefinition<_vrfwall_v1_ExplainRequest, _vrfwall_v1_ExplainResponse, _vrfwall_v1_ExplainRequest__Output, _vrfwall_v1_ExplainResponse__Output>
  ListEndpoints: MethodDefinition<_vrfwall_v1_ListEndpointsRequest, _vrfwall_v1_ListEndpointsResponse, _vrfwall_v1_ListEndpointsRequest__Output, _vrfwall_v1_ListEndpointsResponse__Output>
  ListNetworks: MethodDefinition<_vrfwall_v1_ListNetworksRequest, _vrfwall_v1_ListNetworksResponse, _vrfwall_v1_ListNetworksRequest__Output, _vrfwall_v1_ListNetworksResponse__Output>
  ServerStatus: MethodDefinition<_vrfwall_v1_ServerStatusRequest, _vrfwall_v1_ServerStatusResponse, _vrfwall_v1_ServerStatusRequest__Output, _vrfwall_v1_ServerStatusResponse__Output>
  WhatIf: MethodDefinition<_vrfwall_v1_WhatIfRequest, _vrfwall_v1_WhatIfResponse, _vrfwall_v1_WhatIfRequest__Output, _vrfwall_v1_WhatIfResponse__Output>
}
