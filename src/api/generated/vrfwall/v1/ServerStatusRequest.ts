// Original file: proto/vrfwall/v1/state.proto


export interface ServerStatusRequest {
}

export interface ServerStatusRequest__Output {
}
