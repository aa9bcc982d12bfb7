// GetFlowsResponse straight through protobufjs's generated encoder. The
// serializer @grpc/proto-loader installs first converts every message with
// fromObject (enum names -> numbers, 64-bit checks), which took half of the
// server's time for a 100,000-flow history; the bytes are the same
// (test/api-encode.test.ts compares them over every field), and an enum name
// the proto does not know is an error here, not a silent 0.
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

/** An enum value by name; a name the proto does not have is an error, never 0 (UNSPECIFIED would pass as an answer). */
function enumValue(values: Record<string, number>, name: string, field: string): number {
  const v = Object.hasOwn(values, name) ? values[name] : undefined;
  if (v === undefined) throw new TypeError(`${field}: ${JSON.stringify(name)} is not a value of the enum (${Object.keys(values).join(', ')})`);
  return v;
}

export function encodeFlowsResponse(m: GetFlowsResponse): Buffer {
  const e = encoder();
  const flow = (f: FlowMsg) => ({
    ...f,
    verdict: enumValue(e.verdict, f.verdict, 'Flow.verdict'),
    direction: enumValue(e.direction, f.direction, 'Flow.direction'),
  });
  const msg = m.flow ? { flow: flow(m.flow) } : m.batch ? { batch: { flows: m.batch.flows.map(flow) } } : m.nodes ? { nodes: m.nodes } : { lost: m.lost };
  const bytes = e.response.encode(msg).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The FlowService definition with GetFlows answered by encodeFlowsResponse. */
export function withFastFlowEncoder(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const getFlows = service.GetFlows;
  if (!getFlows) return service;
  return { ...service, GetFlows: { ...getFlows, responseSerialize: (m: GetFlowsResponse) => encodeFlowsResponse(m) } };
}
