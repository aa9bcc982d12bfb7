// The fast GetFlows encoder (src/api/encode.ts) against the reference: the
// serializer @grpc/proto-loader builds from proto/ (what every other method
// uses). Same bytes for every message GetFlows can send (each oneof form),
// with samples that set every field of every message type reachable from
// GetFlowsResponse to a non-default value (checked against the .proto, so a
// field added there without a sample here fails) and every enum value; an
// enum name the proto does not have is refused, never encoded as 0.
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { encodeFlowsResponse } from '../src/api/encode.js';
import type { DirectionName, FlowMsg, GetFlowsResponse, VerdictName } from '../src/api/messages.js';
import { PACKAGE, PROTO_DIR, PROTO_FILES, loadApi } from '../src/api/proto.js';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : `${PROTO_DIR}/${target}`);
root.loadSync(PROTO_FILES, { keepCase: false });
const RESPONSE = root.lookupType(`${PACKAGE}.GetFlowsResponse`);
const VERDICTS = Object.keys(root.lookupEnum(`${PACKAGE}.Verdict`).values) as VerdictName[];
const DIRECTIONS = Object.keys(root.lookupEnum(`${PACKAGE}.TrafficDirection`).values) as DirectionName[];

const reference = (m: GetFlowsResponse): Buffer => loadApi().flowService.GetFlows!.responseSerialize(m);

function flow(i: number): FlowMsg {
  const endpoint = (side: string) => ({
    ip: i % 2 ? `fd00:10:244:1::${i}` : `10.244.1.${i}`,
    port: 40000 + i,
    namespace: `ns-${side}`,
    pod: `pod-${side}-${i}`,
    network: `ns-${side}/default-podnetwork`,
    node: 'node-ü', // non-ASCII: UTF-8 lengths
    service: `ns-${side}/svc`,
    kind: 'pod' as const,
    interface: i % 3 ? `net${i}` : '', // a secondary interface, or the cluster-network one (empty)
  });
  return {
    id: `0a0b0c${i}`,
    node: 'node1',
    ifindex: 7 + i,
    source: endpoint('a'),
    destination: endpoint('b'),
    protocol: 17,
    protocolName: 'udp',
    ethertype: 0x86dd,
    direction: DIRECTIONS[i % DIRECTIONS.length]!,
    verdict: VERDICTS[i % VERDICTS.length]!,
    dropReason: 'ISOLATED',
    allowRule: 'SAME_NETWORK',
    policy: 'allowed by NetworkPolicy ns-b/web', // issue 16
    code: 4,
    // 64-bit fields past 2^32 and up to 2^53: every varint length up to 8 bytes
    forward: { packets: 2 ** 40 + i, bytes: Number.MAX_SAFE_INTEGER - i, droppedPackets: 3, tcpFlags: 0x12 },
    reverse: { packets: 1, bytes: 300, droppedPackets: 2 ** 33, tcpFlags: 0xff },
    firstSeenMs: 1_796_000_000_000 + i,
    lastSeenMs: 1_796_000_000_500 + i,
  };
}

/** Every form GetFlows sends, with every enum value of both enums somewhere. */
function samples(): GetFlowsResponse[] {
  const flows = Array.from({ length: Math.max(VERDICTS.length, DIRECTIONS.length) + 1 }, (_, i) => flow(i + 1));
  return [
    ...flows.map((f) => ({ flow: f, item: 'flow' as const })),
    { batch: { flows }, item: 'batch' },
    { batch: { flows: [flows[0]!] } },
    { lost: { count: 2 ** 35 + 1, where: 'stream queue' }, item: 'lost' },
    { nodes: { answered: ['node1', 'node-ü'], failed: [{ node: 'node2', error: 'unreachable' }] }, item: 'nodes' },
  ];
}

/** The fields of every message type reachable from `t` that no sample sets to a non-default value. */
function uncovered(t: protobuf.Type, values: unknown[], where = t.name, seen = new Set<string>()): string[] {
  const out: string[] = [];
  for (const field of t.fieldsArray) {
    field.resolve();
    const set = values.flatMap((v) => {
      const x = (v as Record<string, unknown> | undefined)?.[field.name];
      return x === undefined || x === null || x === '' || x === 0 || x === false || (Array.isArray(x) && x.length === 0) ? [] : field.repeated ? (x as unknown[]) : [x];
    });
    if (set.length === 0) out.push(`${where}.${field.name}`);
    if (field.resolvedType instanceof protobuf.Type && !seen.has(`${where}.${field.name}`)) {
      seen.add(`${where}.${field.name}`);
      out.push(...uncovered(field.resolvedType, set, `${where}.${field.name}`, seen));
    }
  }
  return out;
}

describe('fast GetFlows encoder', () => {
  it('the samples set every field of every message in GetFlowsResponse, and every enum value', () => {
    expect(uncovered(RESPONSE, samples())).toEqual([]);
    const flows = samples().flatMap((m) => (m.flow ? [m.flow] : (m.batch?.flows ?? [])));
    expect(new Set(flows.map((f) => f.verdict))).toEqual(new Set(VERDICTS));
    expect(new Set(flows.map((f) => f.direction))).toEqual(new Set(DIRECTIONS));
    // positive control for the coverage check: a field left at its default is found
    expect(uncovered(RESPONSE, [{ flow: { ...flow(1), code: 0 } }])).toContain('GetFlowsResponse.flow.code');
  });

  it.each(samples().map((m, i) => [i, Object.keys(m).filter((k) => k !== 'item')[0], m] as const))(
    'sample %i (%s): the same bytes as the reference serializer',
    (_i, _form, m) => {
      const fast = encodeFlowsResponse(m);
      expect(fast.length).toBeGreaterThan(10);
      expect(fast.toString('hex')).toBe(reference(m).toString('hex'));
      // and what the bytes say is the message (decoded by the reference)
      const back = loadApi().flowService.GetFlows!.responseDeserialize(fast) as GetFlowsResponse;
      expect({ ...back, item: undefined }).toEqual({ flow: undefined, lost: undefined, batch: undefined, nodes: undefined, ...m, item: undefined });
    },
  );

  it('refuses an enum name the proto does not have (the reference would encode 0: unspecified)', () => {
    const bad = { ...flow(1), verdict: 'VERDICT_MAYBE' as VerdictName };
    expect(() => encodeFlowsResponse({ flow: bad })).toThrow(/Flow\.verdict: "VERDICT_MAYBE" is not a value of the enum/);
    // control: VERDICT_AUDIT (audit mode) is one, and arrives as itself
    const audited = { ...flow(1), verdict: 'VERDICT_AUDIT' as VerdictName, dropReason: 'ISOLATED' };
    const back = loadApi().flowService.GetFlows!.responseDeserialize(encodeFlowsResponse({ flow: audited })) as GetFlowsResponse;
    expect(back.flow?.verdict).toBe('VERDICT_AUDIT');
    expect(back.flow?.dropReason).toBe('ISOLATED');
    expect(() => encodeFlowsResponse({ batch: { flows: [flow(2), { ...flow(3), direction: 'EGRESS' as DirectionName }] } })).toThrow(/Flow\.direction: "EGRESS"/);
    expect(() => encodeFlowsResponse({ flow: { ...flow(1), verdict: 'toString' as VerdictName } })).toThrow(/Flow\.verdict/);
    // what the check prevents: the reference turns the unknown name into VERDICT_UNSPECIFIED
    const decoded = loadApi().flowService.GetFlows!.responseDeserialize(reference({ flow: bad })) as GetFlowsResponse;
    expect(decoded.flow?.verdict).toBe('VERDICT_UNSPECIFIED');
  });
});
