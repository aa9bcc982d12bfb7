// GetFlowsResponse straight through protobufjs's generated encoder. The
// serializer @grpc/proto-loader installs first converts every message with
// fromObject (enum names -> numbers, 64-bit checks), which took half of the
// server's time for a 100,000-flow history; the bytes are the same.
import protobuf from 'protobufjs';
import type * as grpc from '@grpc/grpc-js';
import { PACKAGE, PROTO_DIR, PROTO_FILES } from './proto.js';
import type { FlowMsg, GetFlowsResponse } from './messages.js';

interface Encoder {
  response: protobuf.Type;
  verdict: Record<string, number>;
  direction: Record<string, number>;
}

let cached: Encoder | undefined;

function encoder(): Encoder {
  if (cached) return cached;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : `${PROTO_DIR}/${target}`);
  root.loadSync(PROTO_FILES, { keepCase: false });
  cached = {
    response: root.lookupType(`${PACKAGE}.GetFlowsResponse`),
    verdict: root.lookupEnum(`${PACKAGE}.Verdict`).values,
    direction: root.lookupEnum(`${PACKAGE}.TrafficDirection`).values,
  };
  return cached;
}

export function encodeFlowsResponse(m: GetFlowsResponse): Buffer {
  const e = encoder();
  const flow = (f: FlowMsg) => ({ ...f, verdict: e.verdict[f.verdict] ?? 0, direction: e.direction[f.direction] ?? 0 });
  const msg = m.flow ? { flow: flow(m.flow) } : m.batch ? { batch: { flows: m.batch.flows.map(flow) } } : { lost: m.lost };
  const bytes = e.response.encode(msg).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The FlowService definition with GetFlows answered by encodeFlowsResponse. */
export function withFastFlowEncoder(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const getFlows = service.GetFlows;
  if (!getFlows) return service;
  return { ...service, GetFlows: { ...getFlows, responseSerialize: (m: GetFlowsResponse) => encodeFlowsResponse(m) } };
}
