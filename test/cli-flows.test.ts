// `vrfwall flows` turns its flags into a GetFlows request (src/cli/flows.ts
// flowsRequest): enum words become the proto's enum names, and a word that
// names none is an error naming the flag and the choices, not a filter the
// server would read as UNSPECIFIED and match nothing with.
import { describe, expect, it } from 'vitest';
import { aggregateRequest, flowRow, flowsRequest } from '../src/cli/flows.js';
import { toFlowMsg } from '../src/api/convert.js';
import { aggregateByKeys } from '../src/flows/aggregate.js';
import type { Flow } from '../src/flows/types.js';

type Flags = Parameters<typeof flowsRequest>[0];
const none = { namespace: [], pod: [], fromPod: [], toPod: [], network: [], verdict: [], reason: [], ip: [], port: [], protocol: [], direction: [], exclude: [], follow: false, aggregateBy: [], sort: 'bytes' };
const flags = (f: Partial<Flags>): Flags => ({ ...none, ...f }) as Flags;

describe('flows command: request from flags', () => {
  it('enum words become proto enum names, in allow and in --exclude', () => {
    const r = flowsRequest(flags({ verdict: ['dropped', 'Allowed'], direction: ['egress'], exclude: ['verdict=allowed', 'direction=INGRESS', 'port=53'] }));
    expect(r.allow).toEqual([expect.objectContaining({ verdict: ['VERDICT_DROPPED', 'VERDICT_ALLOWED'], direction: ['DIRECTION_EGRESS'] })]);
    expect(r.deny).toEqual([{ verdict: ['VERDICT_ALLOWED'] }, { direction: ['DIRECTION_INGRESS'] }, { port: [53] }]);
  });

  it('the text output says AUDIT and the reason enforce mode would drop it for', () => {
    const ep = { ip: '10.244.1.10', port: 80, namespace: 'ns-staged', pod: 'pod1', network: 'ns-staged/default-podnetwork', node: 'n1', service: '', kind: 'pod' as const, interface: '' };
    const counters = { packets: 1, bytes: 60, droppedPackets: 0, tcpFlags: 0 };
    const base: Flow = {
      id: 'x', node: 'n1', ifindex: 3, source: ep, destination: { ...ep, ip: '10.244.0.10', namespace: 'default', pod: 'pod3', network: 'default/default-podnetwork' },
      protocol: 6, protocolName: 'TCP', ethertype: 0x800, direction: 'EGRESS', verdict: 'AUDIT', dropReason: 'ISOLATED', allowRule: '', code: 1,
      forward: counters, reverse: counters, firstSeenMs: 0, lastSeenMs: 0,
    };
    const row = flowRow(toFlowMsg(base));
    expect(row.slice(5, 7)).toEqual(['AUDIT', 'ISOLATED']);
    expect(flowRow(toFlowMsg({ ...base, verdict: 'ALLOWED', dropReason: '', allowRule: 'SAME_NETWORK' })).slice(5, 7)).toEqual(['ALLOWED', 'SAME_NETWORK']);
  });

  it('--verdict audit (audit mode) is VERDICT_AUDIT, also in --exclude', () => {
    const r = flowsRequest(flags({ verdict: ['audit'], exclude: ['verdict=AUDIT'] }));
    expect(r.allow).toEqual([expect.objectContaining({ verdict: ['VERDICT_AUDIT'] })]);
    expect(r.deny).toEqual([{ verdict: ['VERDICT_AUDIT'] }]);
  });

  it('a word that is no value of the enum (or is UNSPECIFIED) is an error naming the flag and the choices', () => {
    expect(() => flowsRequest(flags({ verdict: ['alowed'] }))).toThrow('--verdict "alowed": one of allowed, dropped, audit');
    expect(() => flowsRequest(flags({ verdict: ['unspecified'] }))).toThrow('--verdict "unspecified": one of allowed, dropped');
    expect(() => flowsRequest(flags({ direction: ['out'] }))).toThrow('--direction "out": one of egress, ingress');
    expect(() => flowsRequest(flags({ exclude: ['verdict=maybe'] }))).toThrow('--exclude verdict "maybe": one of allowed, dropped');
  });
});

describe('flows --aggregate-by', () => {
  it('key words become AggregateKey names with the filters, sort and top of the command; bad combinations are errors', () => {
    const r = aggregateRequest(flags({ aggregateBy: ['namespace', 'Verdict', 'port'], verdict: ['dropped'], sort: 'packets', top: 5 }));
    expect(r).toMatchObject({ aggregateBy: ['AGGREGATE_KEY_NAMESPACE', 'AGGREGATE_KEY_VERDICT', 'AGGREGATE_KEY_PORT'], sortBy: 'SORT_BY_PACKETS', top: 5 });
    expect(r.allow).toEqual([expect.objectContaining({ verdict: ['VERDICT_DROPPED'] })]);
    expect(() => aggregateRequest(flags({ aggregateBy: ['node'] }))).toThrow('--aggregate-by "node": one of namespace, pod, network, port, verdict, reason');
    expect(() => aggregateRequest(flags({ aggregateBy: ['pod', 'pod'] }))).toThrow('--aggregate-by: pod is named twice');
    expect(() => aggregateRequest(flags({ aggregateBy: ['pod'], follow: true }))).toThrow(/cannot be combined with --follow/);
    expect(() => aggregateRequest(flags({ aggregateBy: ['pod'], last: 3 }))).toThrow(/--top/);
  });

  it('groups by any combination of keys with packet and byte totals', () => {
    const ep = (ns: string, pod: string, port: number) => ({ ip: '10.0.0.1', port, namespace: ns, pod, network: `${ns}/net`, node: 'n1', service: '', kind: 'pod' as const, interface: '' });
    const flow = (i: number, src: string, dst: string, port: number, dropped: boolean): Flow => ({
      id: String(i), node: 'n1', ifindex: 1, source: ep(src, `p${i}`, 40000 + i), destination: ep(dst, 'web', port), protocol: 6, protocolName: 'tcp', ethertype: 0x800,
      direction: 'EGRESS', verdict: dropped ? 'DROPPED' : 'ALLOWED', dropReason: dropped ? 'ISOLATED' : '', allowRule: dropped ? '' : 'SAME_NETWORK', code: 0,
      forward: { packets: i, bytes: 100 * i, droppedPackets: dropped ? i : 0, tcpFlags: 0 }, reverse: { packets: 1, bytes: 10, droppedPackets: 0, tcpFlags: 0 },
      firstSeenMs: 1, lastSeenMs: 2,
    });
    const flows = [flow(1, 'a', 'b', 80, false), flow(2, 'a', 'b', 80, false), flow(3, 'a', 'b', 443, true), flow(4, 'c', 'b', 80, true)];
    const g = aggregateByKeys(flows, ['NAMESPACE', 'PORT', 'VERDICT'], 'BYTES', 0);
    expect(g.map((x) => [x.keys, x.flows, x.packets, x.bytes, x.droppedPackets])).toEqual([
      [['c -> b', '80', 'DROPPED'], 1, 5, 410, 4],
      [['a -> b', '80', 'ALLOWED'], 2, 5, 320, 0],
      [['a -> b', '443', 'DROPPED'], 1, 4, 310, 3],
    ]);
    expect(aggregateByKeys(flows, ['REASON'], 'FLOWS', 1).map((x) => [x.keys, x.flows])).toEqual([[['ISOLATED'], 2]]);
  });
});
