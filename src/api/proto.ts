// The API's protobuf definitions, loaded at run time from proto/ with
// @grpc/proto-loader (the same files other languages generate stubs from).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PROTO_FILES = ['vrfwall/v1/flow.proto', 'vrfwall/v1/state.proto'];

/** The repository's proto/ above src/api or dist/api (or a deeper build such as build/bench/src/api). */
function findProtoDir(): string {
  for (let dir = here; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'proto');
    if (fs.existsSync(path.join(candidate, PROTO_FILES[0] as string))) return candidate;
    if (path.dirname(dir) === dir) return path.resolve(here, '../../proto'); // the error names this path
  }
}
export const PROTO_DIR = findProtoDir();
export const PACKAGE = 'vrfwall.v1';

/** camelCase fields, 64-bit numbers as JS numbers, enums as their names. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export interface LoadedApi {
  definition: protoLoader.PackageDefinition;
  flowService: grpc.ServiceDefinition;
  stateService: grpc.ServiceDefinition;
  FlowClient: grpc.ServiceClientConstructor;
  StateClient: grpc.ServiceClientConstructor;
}

let cached: LoadedApi | undefined;

export function loadApi(): LoadedApi {
  if (cached) return cached;
  const definition = protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS);
  const root = grpc.loadPackageDefinition(definition) as unknown as {
    vrfwall: { v1: { FlowService: grpc.ServiceClientConstructor; StateService: grpc.ServiceClientConstructor } };
  };
  const { FlowService, StateService } = root.vrfwall.v1;
  cached = {
    definition,
    flowService: FlowService.service,
    stateService: StateService.service,
    FlowClient: FlowService,
    StateClient: StateService,
  };
  return cached;
}
