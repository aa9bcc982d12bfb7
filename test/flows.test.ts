// Unit tests of the flow modules without a kernel: every filter field,
// allow/deny lists, the bounded store, aggregation, request validation, the
// stream writer's backpressure and drop-oldest queue, and the proto files.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FLOW_LIMITS, parseFlowsRequest, selectFlows, ApiError } from '../src/api/flow-service.js';
import type { GetFlowsRequest } from '../src/api/messages.js';
import { loadApi } from '../src/api/proto.js';
import { StreamWriter } from '../src/api/stream.js';
import { aggregate, inWindow } from '../src/flows/aggregate.js';
import { FilterError, compileFilter, compileFilters, type FlowFilterSpec } from '../src/flows/filter.js';
import { FlowStore } from '../src/flows/store.js';
import type { Flow, FlowEndpoint } from '../src/flows/types.js';

function ep(p: Partial<FlowEndpoint>): FlowEndpoint {
  return { ip: '', port: 0, namespace: '', pod: '', network: '', node: '', service: '', kind: 'pod', interface: '', ...p };
}

let n = 0;
function flow(p: Partial<Flow> = {}): Flow {
  n++;
  return {
    id: `f${n}`,
    node: 'node1',
    ifindex: 3,
    source: ep({ ip: '10.244.1.10', port: 40000, namespace: 'default', pod: 'pod4', network: 'default/default-podnetwork' }),
    destination: ep({ ip: '10.244.2.10', port: 8080, namespace: 'iso', pod: 'pod1', network: 'iso/default-podnetwork' }),
    protocol: 6,
    protocolName: 'tcp',
    ethertype: 0x0800,
    direction: 'EGRESS',
    verdict: 'DROPPED',
    dropReason: 'ISOLATED',
    allowRule: '',
    code: 1,
    forward: { packets: 3, bytes: 222, droppedPackets: 3, tcpFlags: 2 },
    reverse: { packets: 0, bytes: 0, droppedPackets: 0, tcpFlags: 0 },
    firstSeenMs: 1000,
    lastSeenMs: 2000,
    ...p,
  };
}

const A = flow();
const B = flow({
  source: ep({ ip: 'fd00:10:244:1::b', port: 5353, namespace: 'iso', pod: 'pod2', network: 'iso/default-podnetwork' }),
  destination: ep({ ip: 'fd00:10:244:2::a', port: 53, namespace: 'kube-system', pod: 'coredns', network: 'default/default-podnetwork' }),
  protocol: 17,
  protocolName: 'udp',
  direction: 'INGRESS',
  verdict: 'ALLOWED',
  dropReason: '',
  allowRule: 'SAME_NETWORK',
  node: 'node2',
  forward: { packets: 10, bytes: 1000, droppedPackets: 0, tcpFlags: 0 },
  reverse: { packets: 10, bytes: 2000, droppedPackets: 0, tcpFlags: 0 },
  firstSeenMs: 3000,
  lastSeenMs: 5000,
});
const C = flow({ destination: ep({ ip: '192.0.2.7', port: 443, kind: 'external' }), verdict: 'ALLOWED', dropReason: '', allowRule: 'NOT_POD', lastSeenMs: 9000 });
const ALL = [A, B, C];

const pick = (spec: FlowFilterSpec) => ALL.filter(compileFilter(spec, 'allow[0]')).map((f) => f.id);

describe('every filter field', () => {
  it.each<[string, FlowFilterSpec, Flow[]]>([
    ['namespace (either end)', { namespace: ['kube-system'] }, [B]],
    ['namespace, several values OR-ed', { namespace: ['kube-system', 'default'] }, [A, B, C]],
    ['pod prefix, either end', { pod: ['iso/pod'] }, [A, B]],
    ['pod prefix "ns/" is the namespace', { pod: ['default/'] }, [A, C]],
    ['source_pod', { sourcePod: ['iso/pod2'] }, [B]],
    ['destination_pod', { destinationPod: ['iso/pod1'] }, [A]],
    ['network', { network: ['iso/default-podnetwork'] }, [A, B]],
    ['verdict, with or without the API prefix', { verdict: ['VERDICT_ALLOWED'] }, [B, C]],
    ['verdict dropped', { verdict: ['dropped'] }, [A]],
    ['drop_reason', { dropReason: ['isolated'] }, [A]],
    ['ip (exact, v4)', { ip: ['10.244.2.10'] }, [A]],
    ['ip (CIDR, v4)', { ip: ['192.0.2.0/24'] }, [C]],
    ['ip (CIDR, v6)', { ip: ['fd00:10:244::/48'] }, [B]],
    ['ip (v4-mapped CIDR)', { ip: ['::ffff:10.244.0.0/112'] }, [A, C]],
    ['port (either end)', { port: [53] }, [B]],
    ['protocol by name and number', { protocol: ['udp', '6'] }, [A, B, C]],
    ['protocol icmp6 alias', { protocol: ['icmp6'] }, []],
    ['direction', { direction: ['DIRECTION_INGRESS'] }, [B]],
    ['node', { node: ['node2'] }, [B]],
    ['several fields AND-ed', { namespace: ['default'], verdict: ['ALLOWED'] }, [C]],
    ['empty filter matches all', {}, [A, B, C]],
  ])('%s', (_what, spec, want) => {
    expect(pick(spec)).toEqual(want.map((f) => f.id));
  });

  it.each<[FlowFilterSpec, RegExp]>([
    [{ pod: ['pod1'] }, /^allow\[0\]\.pod\[0\]: "pod1": use "namespace\/name-prefix"/],
    [{ namespace: [' '] }, /^allow\[0\]\.namespace\[0\]: must not be empty/],
    [{ verdict: ['MAYBE'] }, /^allow\[0\]\.verdict\[0\]: "MAYBE" is not one of ALLOWED, DROPPED/],
    [{ verdict: ['VERDICT_UNSPECIFIED'] }, /^allow\[0\]\.verdict\[0\]/],
    [{ dropReason: ['TOO_LOUD'] }, /^allow\[0\]\.drop_reason\[0\]: "TOO_LOUD" is not one of ISOLATED/],
    [{ ip: ['10.0.0.256'] }, /^allow\[0\]\.ip\[0\]: "10\.0\.0\.256" is not an IP address or CIDR/],
    [{ ip: ['10.0.0.0/33'] }, /^allow\[0\]\.ip\[0\]/],
    [{ port: [0] }, /^allow\[0\]\.port\[0\]: 0 is not a port/],
    [{ port: [70000] }, /^allow\[0\]\.port\[0\]/],
    [{ protocol: ['quic'] }, /^allow\[0\]\.protocol\[0\]: unknown protocol "quic"/],
    [{ direction: ['SIDEWAYS'] }, /^allow\[0\]\.direction\[0\]/],
    [{ node: [''] }, /^allow\[0\]\.node\[0\]/],
  ])('bad value %j names the field', (spec, msg) => {
    expect(() => compileFilter(spec, 'allow[0]')).toThrow(FilterError);
    expect(() => compileFilter(spec, 'allow[0]')).toThrow(msg);
  });

  it('allow list OR-ed, deny list subtracted', () => {
    const p = compileFilters([{ node: ['node2'] }, { verdict: ['DROPPED'] }], [{ protocol: ['udp'] }]);
    expect(ALL.filter(p).map((f) => f.id)).toEqual([A.id]);
    expect(ALL.filter(compileFilters([], [{ verdict: ['ALLOWED'] }])).map((f) => f.id)).toEqual([A.id]);
    expect(() => compileFilters([], [{ port: [-1] }])).toThrow(/^deny\[0\]\.port\[0\]/);
  });
});

describe('GetFlows requests', () => {
  const req = (r: Partial<GetFlowsRequest>): GetFlowsRequest => ({ allow: [], deny: [], last: 0, first: 0, sinceMs: 0, untilMs: 0, follow: false, batchSize: 0, ...r });
  const codeOf = (r: Partial<GetFlowsRequest>) => {
    try {
      parseFlowsRequest(req(r), DEFAULT_FLOW_LIMITS);
      return 'ok';
    } catch (e) {
      return e instanceof ApiError ? `${e.code} ${e.message}` : e instanceof FilterError ? `filter ${e.message}` : String(e);
    }
  };

  it('validates with messages that name the field; limits are RESOURCE_EXHAUSTED (8)', () => {
    expect(codeOf({})).toBe('ok');
    expect(codeOf({ last: 1, first: 1 })).toMatch(/^3 first: cannot be combined with last/);
    expect(codeOf({ sinceMs: 5, untilMs: 4 })).toMatch(/^3 until_ms: before since_ms/);
    expect(codeOf({ follow: true, untilMs: 4 })).toMatch(/^3 until_ms: cannot be combined with follow/);
    expect(codeOf({ sinceMs: -1 })).toMatch(/^3 since_ms/);
    expect(codeOf({ last: 100_001 })).toMatch(/^8 last: at most 100000/);
    expect(codeOf({ first: 100_001 })).toMatch(/^8 first:/);
    expect(codeOf({ allow: [{ port: [0] }] })).toMatch(/^filter allow\[0\]\.port\[0\]/);
    expect(codeOf({ batchSize: 1000 })).toBe('ok');
    expect(codeOf({ batchSize: 1001 })).toMatch(/^8 batch_size: at most 1000/);
    expect(codeOf({ batchSize: -1 })).toMatch(/^3 batch_size/);
  });

  it('last N, first N and the since/until window', () => {
    const q = (r: Partial<GetFlowsRequest>) => selectFlows(ALL, parseFlowsRequest(req(r), DEFAULT_FLOW_LIMITS)).map((f) => f.id);
    expect(q({})).toEqual([A.id, B.id, C.id]); // least recently active first
    expect(q({ last: 2 })).toEqual([B.id, C.id]);
    expect(q({ first: 1 })).toEqual([A.id]);
    expect(q({ sinceMs: 4000 })).toEqual([B.id, C.id]);
    expect(q({ untilMs: 2500 })).toEqual([A.id, C.id]); // C: first seen 1000
    expect(inWindow(B, 5001, 0)).toBe(false);
  });
});

describe('the flow store', () => {
  it('holds at most max flows, evicts the least recently changed, counts what it saw and evicted', () => {
    const store = new FlowStore(2);
    const heard: string[] = [];
    const off = store.subscribe((f) => heard.push(f.id));
    const [x, y, z] = [flow(), flow(), flow()];
    store.put(x);
    store.put(y);
    store.put({ ...x, lastSeenMs: 99 }); // x is now the most recent
    store.put(z); // evicts y
    expect(store.all().map((f) => f.id)).toEqual([x.id, z.id]);
    expect(store.stats()).toEqual({ held: 2, max: 2, seen: 3, evicted: 1 });
    expect(heard).toEqual([x.id, y.id, x.id, z.id]);
    off();
    store.put(flow());
    expect(heard).toHaveLength(4);
    expect(() => new FlowStore(0)).toThrow(/positive integer/);
  });

  it('gives back every field of every flow as put, whatever it holds them as (compact records, shared parties)', () => {
    const store = new FlowStore(10);
    // Every field distinct, so a field read back from another's place fails.
    const a: Flow = {
      id: 'aa', node: 'n1', ifindex: 7,
      source: { ip: '10.0.0.1', port: 1111, namespace: 'ns-a', pod: 'pa', network: 'ns-a/net', node: 'n1', service: '', kind: 'pod', interface: 'eth1' },
      destination: { ip: '10.96.0.9', port: 2222, namespace: 'ns-b', pod: '', network: '', node: '', service: 'ns-b/svc', kind: 'service', interface: '' },
      protocol: 6, protocolName: 'TCP', ethertype: 0x0800, direction: 'EGRESS', verdict: 'ALLOWED', dropReason: '', allowRule: 'SAME_NETWORK', code: 3,
      forward: { packets: 11, bytes: 12_345_678_901, droppedPackets: 13, tcpFlags: 0x12 },
      reverse: { packets: 21, bytes: 22, droppedPackets: 23, tcpFlags: 0x18 },
      firstSeenMs: 1_796_000_000_001, lastSeenMs: 1_796_000_000_999,
    };
    // Same parties, other ports and direction: they share what they can.
    const b: Flow = { ...a, id: 'bb', source: { ...a.destination, port: 3333 }, destination: { ...a.source, port: 4444 }, direction: 'INGRESS', verdict: 'DROPPED', dropReason: 'ISOLATED', allowRule: '' };
    store.put(a);
    store.put(b);
    expect(store.get('aa')).toEqual(a);
    expect(store.get('bb')).toEqual(b);
    expect(store.all()).toEqual([a, b]);
    // What a reader gets is its own: changing it changes nothing held.
    store.get('aa')!.source.pod = 'changed';
    expect(store.get('aa')).toEqual(a);
    expect(store.get('cc')).toBeUndefined();
  });
});

describe('the flow store, held in columns', () => {
  it('agrees with a plain ordered Map over many random puts, updates and evictions (slots reused, a block of columns added)', () => {
    // A small deterministic generator: the same sequence every run.
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const max = 5000; // past the first block of columns (4,096 slots): a block is added
    const store = new FlowStore(max);
    const model = new Map<string, Flow>();
    let evicted = 0;
    for (let i = 0; i < 40_000; i++) {
      const id = `k${rnd(9000)}`;
      const f: Flow = {
        ...flow({ id }),
        ifindex: rnd(2 ** 32),
        code: rnd(256),
        verdict: rnd(2) === 0 ? 'ALLOWED' : 'DROPPED',
        direction: rnd(2) === 0 ? 'EGRESS' : 'INGRESS',
        dropReason: `reason${rnd(5)}`,
        protocol: rnd(256),
        ethertype: rnd(2) === 0 ? 0x86dd : rnd(65536),
        forward: { packets: rnd(1000), bytes: rnd(2 ** 31) * 1024, droppedPackets: rnd(9), tcpFlags: rnd(256) },
        reverse: { packets: rnd(1000), bytes: rnd(2 ** 31), droppedPackets: rnd(9), tcpFlags: rnd(65536) },
        lastSeenMs: 1_796_000_000_000 + i,
        source: { ...flow().source, port: rnd(65536), pod: `p${rnd(50)}` },
        destination: { ...flow().destination, port: rnd(65536) },
      };
      if (!model.delete(id) && model.size >= max) {
        model.delete(model.keys().next().value as string);
        evicted++;
      }
      model.set(id, f);
      store.put(f);
      if (i % 9999 === 0) expect(store.all()).toEqual([...model.values()]);
    }
    expect(store.all()).toEqual([...model.values()]);
    for (const id of ['k0', 'k1', 'k8999']) expect(store.get(id)).toEqual(model.get(id));
    expect(store.stats()).toMatchObject({ held: model.size, evicted });
  });

  it('refuses a flow whose integer fields would not read back as put, and keeps what it held', () => {
    const store = new FlowStore(4);
    const ok = flow();
    store.put(ok);
    expect(() => store.put(flow({ ifindex: -1 }))).toThrow(/ifindex must be an unsigned 32-bit integer/);
    expect(() => store.put(flow({ code: 1.5 }))).toThrow(/code must be/);
    expect(() => store.put({ ...flow(), reverse: { packets: 0, bytes: 0, droppedPackets: 0, tcpFlags: 2 ** 16 } })).toThrow(/reverse.tcpFlags must be an unsigned 16-bit/);
    expect(() => store.put({ ...flow(), source: { ...ok.source, port: 65_536 } })).toThrow(/source.port must be an unsigned 16-bit/);
    expect(() => store.put(flow({ protocol: 256 }))).toThrow(/protocol must be an unsigned 8-bit/);
    expect(store.all()).toEqual([ok]);
  });
});

describe('aggregation', () => {
  it('groups by namespace, network or pod with verdict and reason; sorts; cuts to top N', () => {
    const byNs = aggregate(ALL, 'NAMESPACE', 'BYTES', 0);
    expect(byNs.map((g) => [g.source, g.destination, g.verdict, g.reason, g.bytes])).toEqual([
      ['iso', 'kube-system', 'ALLOWED', 'SAME_NETWORK', 3000],
      ['default', '(external)', 'ALLOWED', 'NOT_POD', 222], // ties: by source, then destination
      ['default', 'iso', 'DROPPED', 'ISOLATED', 222],
    ]);
    const byNet = aggregate([A, A, B], 'NETWORK', 'FLOWS', 1);
    expect(byNet).toEqual([
      { source: 'default/default-podnetwork', destination: 'iso/default-podnetwork', verdict: 'DROPPED', reason: 'ISOLATED', flows: 2, packets: 6, bytes: 444, droppedPackets: 6 },
    ]);
    const talkers = aggregate(ALL, 'POD', 'PACKETS', 2);
    expect(talkers.map((g) => `${g.source}>${g.destination}:${g.packets}`)).toEqual(['iso/pod2>kube-system/coredns:20', 'default/pod4>192.0.2.7:3']);
  });
});

class FakeCall extends EventEmitter {
  written: unknown[] = [];
  room = Infinity;
  cancelled = false;
  write(m: unknown): boolean {
    this.written.push(m);
    this.room--;
    return this.room > 0;
  }
  end(): void {
    this.emit('finish');
  }
}

describe('stream writer', () => {
  it('waits for drain when write() returns false', async () => {
    const call = new FakeCall();
    call.room = 1;
    const w = new StreamWriter<number>(call, 4, (count) => -count);
    let done = false;
    const p = w.write(1).then((ok) => {
      done = ok;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false); // still waiting
    call.room = Infinity;
    call.emit('drain');
    await p;
    expect(done).toBe(true);
  });

  it('drops the oldest queued items when the client is slow, and says how many', async () => {
    const call = new FakeCall();
    const drops: number[] = [];
    const w = new StreamWriter<number>(call, 3, (count) => -count, (k) => drops.push(k));
    w.hold();
    for (let i = 1; i <= 10; i++) w.offer(i);
    expect(w.dropped).toBe(7);
    w.release();
    await new Promise((r) => setTimeout(r, 10));
    expect(call.written).toEqual([-7, 8, 9, 10]);
    expect(drops.reduce((a, b) => a + b, 0)).toBe(7);
  });

  it('stops on cancellation', async () => {
    const call = new FakeCall();
    call.room = 1;
    const w = new StreamWriter<number>(call, 3, (c) => -c);
    const p = w.write(1);
    call.cancelled = true;
    call.emit('cancelled');
    expect(await p).toBe(false);
    w.offer(2);
    expect(call.written).toEqual([1]);
  });
});

describe('proto files', () => {
  it('load with both services and the messages the server fills', () => {
    const api = loadApi();
    expect(Object.keys(api.flowService)).toEqual(['GetFlows', 'GetFlowStats']);
    expect(Object.keys(api.stateService).sort()).toEqual(['Explain', 'ListEndpoints', 'ListNetworks', 'ServerStatus', 'WhatIf']);
    const getFlows = api.flowService.GetFlows!;
    expect(getFlows.responseStream).toBe(true);
    // A flow message survives the wire format (serialize + deserialize).
    const bytes = getFlows.responseSerialize({ flow: { ...A, verdict: 'VERDICT_DROPPED', direction: 'DIRECTION_EGRESS' } });
    const back = getFlows.responseDeserialize(bytes) as { flow: { source: FlowEndpoint; forward: { bytes: number }; verdict: string } };
    expect(back.flow.source).toEqual(A.source);
    expect(back.flow.forward.bytes).toBe(222);
    expect(back.flow.verdict).toBe('VERDICT_DROPPED');
  });
});
