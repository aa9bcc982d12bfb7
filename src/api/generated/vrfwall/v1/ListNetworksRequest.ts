// Original file: proto/vrfwall/v1/state.proto


export interface ListNetworksRequest {
}

export interface ListNetworksRequest__Output {
}
