// The relay (src/relay/) against fake agents that are real gRPC servers: the
// agents' own FlowService over a FlowStore this test fills, and a
// StateService with fixed answers, each on its own mutual-TLS port; the
// relay talks to them with the real client library, and the test talks to
// the relay the way the CLI does. Checks: time order and node names,
// last/first over the whole cluster, follow across nodes, stats/networks/
// endpoints merged, explain on the hosting nodes, a node that is down or
// has another CA's certificate reported (never silently missing), a slow
// client's loss counted per node. Certificates are made with openssl.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, collect, resolveTargets } from '../src/api/client.js';
import { FlowServiceImpl } from '../src/api/flow-service.js';
import { flowsOf, type WhatIfChangeMsg, type WhatIfResponse, type ExplainResponse, type GetFlowStatsResponse, type GetFlowsResponse, type ListEndpointsResponse, type ListNetworksResponse, type ServerStatusResponse } from '../src/api/messages.js';
import { ApiServer } from '../src/api/server.js';
import { loadApi } from '../src/api/proto.js';
import { FlowStore } from '../src/flows/store.js';
import type { Flow } from '../src/flows/types.js';
import { loadRelayConfig } from '../src/relay/config.js';
import { agentsOfPods, parseSelector } from '../src/relay/discovery.js';
import { compareFlows, mergeExplain, mergeFlows, mergeGroups } from '../src/relay/merge.js';
import { Relay } from '../src/relay/relay.js';
import { printAggregate } from '../src/cli/flows.js';
import YAML from 'yaml';
import { TestApiServer, type KObject, type PolicyRule } from './helpers/apiserver.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-relay-'));
const file = (name: string): string => path.join(dir, name);
const openssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

function makeCa(name: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`]);
}
function makeCert(name: string, ca: string, san: string): void {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  fs.writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\n`);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
}

const T0 = Date.now() - 60_000;

function flow(node: string, i: number, over: Partial<Flow> = {}): Flow {
  const ep = (pod: string, ip: string) => ({ ip, port: 80, namespace: 'ns', pod, network: 'ns/net', node, service: '', kind: 'pod' as const, interface: '' });
  return {
    id: `${node}-${i}`,
    node,
    ifindex: 3,
    source: ep(`a-${node}`, `10.0.0.${i % 250}`),
    destination: ep('b', '10.0.1.1'),
    protocol: 6,
    protocolName: 'tcp',
    ethertype: 0x800,
    direction: 'EGRESS',
    verdict: i % 3 === 0 ? 'DROPPED' : 'ALLOWED',
    dropReason: i % 3 === 0 ? 'ISOLATED' : '',
    allowRule: i % 3 === 0 ? '' : 'SAME_NETWORK',
    code: 0,
    forward: { packets: i + 1, bytes: 100 * (i + 1), droppedPackets: i % 3 === 0 ? i + 1 : 0, tcpFlags: 2 },
    reverse: { packets: 0, bytes: 0, droppedPackets: 0, tcpFlags: 0 },
    firstSeenMs: T0 + i,
    lastSeenMs: T0 + i * 10,
    ...over,
  };
}

/** A what-if change: ns/a-node2 -> ns/b:port, as the agent on `seenAt` found it. */
function change(seenAt: string, port: number, packets: number): WhatIfChangeMsg {
  const e = (pod: string, ip: string, node: string, p: number) => ({ ip, port: p, namespace: 'ns', pod, network: 'ns/net', node, service: '', kind: 'pod' as const, interface: '' });
  return {
    kind: 'ALLOWED_TO_DROPPED',
    source: e('a-node2', '10.0.0.2', 'node2', 40000 + port),
    destination: e('b', '10.0.1.1', 'node1', port),
    protocol: 6,
    protocolName: 'tcp',
    before: { verdict: 'ALLOWED', reason: 'SAME_NETWORK', hook: 'to_pod' },
    after: { verdict: 'DROPPED', reason: 'ISOLATED', hook: 'from_pod' },
    packets,
    bytes: packets * 100,
    sourceNetworkAfter: 'ns/net',
    destinationNetworkAfter: 'ns/other',
    nodes: [seenAt],
    lastSeenMs: T0,
  };
}

/** A fake agent's WhatIf: port 80 seen at both ends (node2 sends, node1 receives), port 81 only at node1. */
function whatIfAnswer(node: string): WhatIfResponse {
  const changes = node === 'node2' ? [change('node2', 80, 9)] : [change('node1', 80, 4), change('node1', 81, 2)];
  return { changes, groups: [], conversations: changes.length + 1, applied: ['Namespace ns'], notes: [], node };
}

/** A fake agent: the real FlowService over a store, fixed state answers, on mutual TLS. */
class FakeAgent {
  readonly store = new FlowStore(100_000);
  whatIfCalls = 0;
  server!: ApiServer;
  address = '';

  constructor(
    readonly node: string,
    private readonly cert: string,
    private readonly port = 0,
    private readonly host = '127.0.0.1',
  ) {}

  async start(): Promise<void> {
    const flows = new FlowServiceImpl(this.store, this.node);
    const node = this.node;
    const state: grpc.UntypedServiceImplementation = {
      ServerStatus: (_c: unknown, cb: grpc.sendUnaryData<Partial<ServerStatusResponse>>) =>
        cb(null, { node, version: 'fake', synced: true, flowsHeld: this.store.stats().held, flowsMax: 100_000, generation: 7 }),
      ListNetworks: (_c: unknown, cb: grpc.sendUnaryData<Partial<ListNetworksResponse>>) =>
        cb(null, { node, networks: [{ name: 'ns/net', vrfId: 1, externalDeny: node === 'node2', enforcement: 'enforce', pods: [`ns/a-${node}`], reaches: node === 'node1' ? ['ns/other'] : [] }] }),
      ListEndpoints: (_c: unknown, cb: grpc.sendUnaryData<Partial<ListEndpointsResponse>>) =>
        cb(null, {
          node,
          endpoints: ['node1', 'node2'].map((n) => ({ ip: n === 'node1' ? '10.0.0.1' : '10.0.0.2', kind: 'pod', namespace: 'ns', pod: `a-${n}`, network: 'ns/net', node: n, local: n === node, ifindex: n === node ? 9 : 0, quarantined: false, reason: '', service: '', interface: '' })),
        }),
      Explain: (c: grpc.ServerUnaryCall<{ source: string }, unknown>, cb: grpc.sendUnaryData<Partial<ExplainResponse>>) => {
        // node1 hosts the sender and allows; node2 hosts the receiver and drops
        const hook = node === 'node1' ? 'from_pod' : 'to_pod';
        const verdict = node === 'node1' ? 'VERDICT_ALLOWED' : 'VERDICT_DROPPED';
        cb(null, { verdict, reason: node === 'node1' ? 'SAME_NETWORK' : 'ISOLATED', node, steps: [{ hook, pod: `ns/a-${node}`, ifindex: 9, verdict, reason: c.request.source, rule: '', policy: '' }] });
      },
      WhatIf: (_c: unknown, cb: grpc.sendUnaryData<WhatIfResponse>) => {
        this.whatIfCalls++;
        cb(null, whatIfAnswer(node));
      },
    };
    this.server = new ApiServer(flows.handlers(), state, { listen: `${this.host}:${this.port}`, tls: { cert: file(`${this.cert}.crt`), key: file(`${this.cert}.key`), ca: file('ca.crt') } });
    await this.server.start();
    this.server.setServing(true);
    this.address = this.server.addresses[0] as string;
  }

  stop(): Promise<void> {
    return this.server.stop(100);
  }
}

const log = pino({ level: 'silent' });

function startRelay(agents: FakeAgent[], extra: Record<string, unknown> = {}): Promise<Relay> {
  const { config } = loadRelayConfig(
    {
      listen: '127.0.0.1:0',
      tlsCert: file('relay.crt'),
      tlsKey: file('relay.key'),
      tlsCa: file('ca.crt'),
      agents: agents.map((a) => `${a.node}=${a.address}`),
      nodeTimeout: 3,
      ...extra,
    },
    {},
  );
  const relay = new Relay(config, log);
  return relay.start().then(() => relay);
}

function clientOf(relay: Relay): AgentClient {
  const [t] = resolveTargets({ server: relay.server.addresses[0] as string, tlsCert: file('client.crt'), tlsKey: file('client.key'), tlsCa: file('ca.crt') });
  return new AgentClient(t!);
}

beforeAll(() => {
  makeCa('ca');
  makeCa('other-ca');
  for (const n of ['node1', 'node2', 'node3']) makeCert(n, 'ca', 'IP:127.0.0.1');
  makeCert('stranger', 'other-ca', 'IP:127.0.0.1');
  makeCert('relay', 'ca', 'IP:127.0.0.1');
  makeCert('client', 'ca', 'DNS:client');
  makeCert('named-agent', 'ca', 'DNS:vrfwall-agent');
}, 60_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('merge logic', () => {
  it('time order across nodes, then last/first over the whole cluster', () => {
    const a = [flow('node1', 1), flow('node1', 5)].map((f) => ({ ...f, direction: 'DIRECTION_EGRESS' as const, verdict: 'VERDICT_ALLOWED' as const }));
    const b = [flow('node2', 3), flow('node2', 9)].map((f) => ({ ...f, direction: 'DIRECTION_EGRESS' as const, verdict: 'VERDICT_ALLOWED' as const }));
    expect(mergeFlows([a, b], { last: 0, first: 0 }).map((f) => f.id)).toEqual(['node1-1', 'node2-3', 'node1-5', 'node2-9']);
    expect(mergeFlows([a, b], { last: 2, first: 0 }).map((f) => f.id)).toEqual(['node1-5', 'node2-9']);
    expect(mergeFlows([a, b], { last: 0, first: 3 }).map((f) => f.id)).toEqual(['node1-1', 'node2-3', 'node1-5']);
    // same time: by node, then id (stable)
    expect(compareFlows({ ...a[0]!, lastSeenMs: 1 }, { ...b[0]!, lastSeenMs: 1 })).toBeLessThan(0);
  });

  it('stats groups of the same key are summed before the top N is cut', () => {
    const g = (source: string, bytes: number) => ({ source, destination: 'd', verdict: 'VERDICT_ALLOWED' as const, reason: 'R', flows: 1, packets: 1, bytes, droppedPackets: 0, keys: [] });
    // x is second on each node but first in the cluster
    const merged = mergeGroups([[g('y', 10), g('x', 8)], [g('z', 11), g('x', 8)]], 'SORT_BY_BYTES', 1);
    expect(merged).toEqual([{ ...g('x', 16), flows: 2, packets: 2 }]);
  });

  it("explain across two nodes: the first drop decides, else the first AUDIT, else the last allow", () => {
    type V = ExplainResponse['verdict'];
    const answer = (node: string, hook: string, verdict: V, reason: string): ExplainResponse =>
      ({ verdict, reason, rule: reason, steps: [{ hook, pod: 'p', ifindex: 1, verdict, reason, rule: reason }], source: null, destination: null, node, note: '' }) as unknown as ExplainResponse;
    const allowedFrom = answer('node1', 'from_pod', 'VERDICT_ALLOWED', 'SAME_NETWORK');
    expect(mergeExplain([allowedFrom, answer('node2', 'to_pod', 'VERDICT_AUDIT', 'ISOLATED')])).toMatchObject({ verdict: 'VERDICT_AUDIT', reason: 'ISOLATED' });
    expect(mergeExplain([answer('node2', 'to_pod', 'VERDICT_AUDIT', 'ISOLATED'), answer('node1', 'from_pod', 'VERDICT_DROPPED', 'ISOLATED')])).toMatchObject({ verdict: 'VERDICT_DROPPED', node: 'from_pod@node1, to_pod@node2' });
    // the control: two allows give the receiver's
    expect(mergeExplain([allowedFrom, answer('node2', 'to_pod', 'VERDICT_ALLOWED', 'ROUTER')])).toMatchObject({ verdict: 'VERDICT_ALLOWED', reason: 'ROUTER' });
  });

  it('agents of the DaemonSet pods: matching labels, running, with an IP and a node', () => {
    const sel = parseSelector('app=vrfwall,component=agent');
    const pod = (name: string, labels: Record<string, string>, nodeName: string, podIP: string, phase = 'Running') => ({
      metadata: { name, namespace: 'vrfwall-system', labels },
      spec: { nodeName },
      status: { podIP, phase },
    });
    const pods = [
      pod('a', { app: 'vrfwall', component: 'agent' }, 'n2', '10.0.0.2'),
      pod('b', { app: 'vrfwall', component: 'agent' }, 'n1', 'fd00::1'),
      pod('relay', { app: 'vrfwall', component: 'relay' }, 'n1', '10.0.0.9'),
      pod('c', { app: 'vrfwall', component: 'agent' }, 'n3', '', 'Pending'),
    ];
    expect(agentsOfPods(pods, sel, 9444)).toEqual([
      { node: 'n1', address: '[fd00::1]:9444' },
      { node: 'n2', address: '10.0.0.2:9444' },
    ]);
    expect(() => parseSelector('app in (a,b)')).toThrow(/equality only/);
  });

  it('settings: clear errors naming the setting', () => {
    const base = { tlsCert: file('relay.crt'), tlsKey: file('relay.key'), tlsCa: file('ca.crt') };
    expect(() => loadRelayConfig({ ...base, tlsCa: undefined }, {})).toThrow(/--listen needs --tls-cert, --tls-key and --tls-ca/);
    expect(() => loadRelayConfig({ ...base, agents: ['node1=nowhere'] }, {})).toThrow(/--agents "node1=nowhere": use host:port/);
    expect(() => loadRelayConfig({ ...base, agents: ['a=h:1', 'a=h:2'] }, {})).toThrow(/node a is listed twice/);
    expect(() => loadRelayConfig({ ...base, selector: 'x' }, {})).toThrow(/--selector/);
    expect(() => loadRelayConfig({ ...base }, { VRFWALL_NODE_TIMEOUT: 'soon' })).toThrow(/VRFWALL_NODE_TIMEOUT: "soon" is not a number/);
    expect(() => loadRelayConfig({ ...base, agents: ['a=h:1'], uiListen: '9446' }, {})).toThrow(/--ui-listen 9446: use host:port/);
    expect(() => loadRelayConfig({ ...base, agents: ['a=h:1'], uiMatrix: '/tmp/m.json' }, {})).toThrow(/--ui-matrix .* needs --ui-listen/);
    // positive control
    const ok = loadRelayConfig({ ...base, agents: ['node1=127.0.0.1:1'] }, {});
    expect(ok.config.discovery).toEqual({ kind: 'static', agents: [{ node: 'node1', address: '127.0.0.1:1' }] });
    expect(ok.config.ui).toBeUndefined(); // the web UI is off unless asked for
    expect(loadRelayConfig({ ...base, agents: ['a=h:1'] }, { VRFWALL_UI_LISTEN: '127.0.0.1:9446' }).config.ui).toEqual({ listen: '127.0.0.1:9446' });
  });
});

describe('relay with fake agents over mutual TLS', () => {
  const agents: FakeAgent[] = [];
  let relay: Relay;
  let client: AgentClient;

  beforeAll(async () => {
    agents.push(new FakeAgent('node1', 'node1'), new FakeAgent('node2', 'node2'));
    for (const a of agents) await a.start();
    for (let i = 0; i < 30; i++) agents[0]!.store.put(flow('node1', 2 * i));
    for (let i = 0; i < 30; i++) agents[1]!.store.put(flow('node2', 2 * i + 1));
    relay = await startRelay(agents);
    client = clientOf(relay);
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await relay?.stop();
    for (const a of agents) await a.stop().catch(() => undefined);
  });

  it('GetFlows: every node, in time order, each flow with its node; the first message says who answered', async () => {
    const msgs = await collect(client.getFlows({}));
    expect(msgs[0]?.nodes).toEqual({ answered: ['node1', 'node2'], failed: [] });
    const flows = msgs.flatMap(flowsOf);
    expect(flows).toHaveLength(60);
    expect(flows.map((f) => f.lastSeenMs)).toEqual([...flows.map((f) => f.lastSeenMs)].sort((a, b) => a - b));
    expect(new Set(flows.map((f) => f.node))).toEqual(new Set(['node1', 'node2']));
    // interleaved: the nodes' flows alternate in time
    expect(flows.slice(0, 4).map((f) => f.id)).toEqual(['node1-0', 'node2-1', 'node1-2', 'node2-3']);
  });

  it('last/first over the whole cluster, batches, filters passed on, bad filters refused by the relay', async () => {
    const last = (await collect(client.getFlows({ last: 5, batchSize: 2 }))).flatMap(flowsOf);
    expect(last.map((f) => f.id)).toEqual(['node2-55', 'node1-56', 'node2-57', 'node1-58', 'node2-59']);
    const first = (await collect(client.getFlows({ first: 3 }))).flatMap(flowsOf);
    expect(first.map((f) => f.id)).toEqual(['node1-0', 'node2-1', 'node1-2']);
    const dropped = (await collect(client.getFlows({ allow: [{ verdict: ['VERDICT_DROPPED'] }] }))).flatMap(flowsOf);
    expect(dropped.length).toBe(20);
    expect(dropped.every((f) => f.verdict === 'VERDICT_DROPPED')).toBe(true);
    await expect(collect(client.getFlows({ allow: [{ ip: ['not-an-ip'] }] }))).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/allow\[0\]\.ip\[0\]/) });
  });

  it('GetFlowStats, ServerStatus, ListNetworks, ListEndpoints merged with their node report', async () => {
    const stats = await client.unary<GetFlowStatsResponse>('flows', 'GetFlowStats', { groupBy: 'GROUP_BY_POD', sortBy: 'SORT_BY_PACKETS', top: 0 });
    expect(stats.flows).toBe(60);
    expect(stats.nodes).toEqual({ answered: ['node1', 'node2'], failed: [] });
    const packets = (n: string) => Array.from({ length: 30 }, (_, i) => (n === 'node1' ? 2 * i : 2 * i + 1) + 1).reduce((a, b) => a + b, 0);
    expect(stats.groups.reduce((n, g) => n + g.packets, 0)).toBe(packets('node1') + packets('node2'));

    const status = await client.unary<ServerStatusResponse>('state', 'ServerStatus', {});
    expect(status.node).toBe('relay');
    expect(status.nodeStatus?.map((s) => [s.node, s.flowsHeld])).toEqual([['node1', 30], ['node2', 30]]);
    expect(status.flowsHeld).toBe(60);
    expect(status.synced).toBe(true);

    const nets = await client.unary<ListNetworksResponse>('state', 'ListNetworks', {});
    expect(nets.networks).toEqual([{ name: 'ns/net', vrfId: 1, externalDeny: true, enforcement: 'enforce', pods: ['ns/a-node1', 'ns/a-node2'], reaches: ['ns/other'] }]);
    expect(nets.nodes?.answered).toEqual(['node1', 'node2']);

    const eps = await client.unary<ListEndpointsResponse>('state', 'ListEndpoints', {});
    // each pod once, from the node that hosts it (local, with its interface)
    expect(eps.endpoints.map((e) => [e.pod, e.node, e.local, e.ifindex])).toEqual([['a-node1', 'node1', true, 9], ['a-node2', 'node2', true, 9]]);
  });

  it('flows --aggregate-by through the relay: groups of both nodes summed, with totals', async () => {
    const lines: string[] = [];
    const req = { allow: [], deny: [], sinceMs: 0, untilMs: 0, groupBy: 'GROUP_BY_UNSPECIFIED' as const, sortBy: 'SORT_BY_FLOWS' as const, top: 0, aggregateBy: ['AGGREGATE_KEY_VERDICT' as const, 'AGGREGATE_KEY_PORT' as const] };
    await printAggregate([client], req, 'json', (l) => lines.push(l));
    const r = JSON.parse(lines[0]!) as { keys: string[]; flows: number; groups: { keys: string[]; flows: number; packets: number }[] };
    expect(r.keys).toEqual(['verdict', 'port']);
    expect(r.flows).toBe(60);
    // every third flow (of both nodes) is dropped: 20 of 60
    expect(r.groups.map((g) => [g.keys, g.flows])).toEqual([[['ALLOWED', '80'], 40], [['DROPPED', '80'], 20]]);
    const packets = Array.from({ length: 60 }, (_, i) => i + 1).reduce((a, b) => a + b, 0);
    expect(r.groups.reduce((n, g) => n + g.packets, 0)).toBe(packets);
    lines.length = 0;
    await printAggregate([client], { ...req, aggregateBy: ['AGGREGATE_KEY_REASON'] }, 'table', (l) => lines.push(l));
    expect(lines[0]).toMatch(/^REASON\s+FLOWS\s+PACKETS\s+BYTES\s+DROPPED PKTS\nSAME_NETWORK\s+40\s/);
    expect(lines[1]).toMatch(/^total: 60 flows, \d+ packets/);
    await expect(client.unary('flows', 'GetFlowStats', { ...req, aggregateBy: ['AGGREGATE_KEY_NODE'] })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });

  it('Explain goes to the nodes that host the sender and the receiver; their hooks merged', async () => {
    const r = await client.unary<ExplainResponse>('state', 'Explain', { source: 'ns/a-node1', destination: '10.0.0.2', protocol: 'tcp', port: 80 });
    expect(r.steps.map((s) => s.hook)).toEqual(['from_pod', 'to_pod']);
    expect(r.verdict).toBe('VERDICT_DROPPED');
    expect(r.node).toBe('from_pod@node1, to_pod@node2');
    expect(r.nodes).toEqual({ answered: ['node1', 'node2'], failed: [] });
    // a pod's secondary interface ("ns/pod@eth1", Multus) is on its pod's node
    const sec = await client.unary<ExplainResponse>('state', 'Explain', { source: 'ns/a-node1@eth1', destination: 'ns/a-node2@net1' });
    expect(sec.nodes?.answered).toEqual(['node1', 'node2']);
    // a pair on one node asks only that node
    const one = await client.unary<ExplainResponse>('state', 'Explain', { source: 'ns/a-node1', destination: 'ns/a-node1' });
    expect(one.nodes?.answered).toEqual(['node1']);
    await expect(client.unary('state', 'Explain', { source: 'ns/nobody', destination: '192.0.2.1' })).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
  });

  it('WhatIf: every node asked, a conversation seen at both ends one change (sender’s counters, both nodes), groups of the merge', async () => {
    const doc = { file: 'ns.yaml', text: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n' };
    const r = await client.unary<WhatIfResponse>('state', 'WhatIf', { documents: [doc], windowSeconds: 0 });
    expect(r.changes.map((c) => [c.destination.port, c.nodes, c.packets])).toEqual([
      [80, ['node1', 'node2'], 9],
      [81, ['node1'], 2],
    ]);
    expect(r.groups.map((g) => [g.port, g.conversations, g.packets])).toEqual([
      [80, 1, 9],
      [81, 1, 2],
    ]);
    expect(r.conversations).toBe(5);
    expect(r.node).toBe('relay');
    expect(r.nodes).toEqual({ answered: ['node1', 'node2'], failed: [] });
    // a manifest that does not parse is refused by the relay: no agent is asked
    const calls = agents.map((a) => a.whatIfCalls);
    await expect(client.unary('state', 'WhatIf', { documents: [{ file: 'bad.yaml', text: 'a: [' }] })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^bad\.yaml#1: YAML error/),
    });
    expect(agents.map((a) => a.whatIfCalls)).toEqual(calls);
  });

  it('follow: live flows of every node; a node that joins is reported', async () => {
    const s = client.getFlows({ follow: true, last: 1 });
    const got: GetFlowsResponse[] = [];
    s.on('data', (m: GetFlowsResponse) => got.push(m));
    s.on('error', () => undefined);
    const until = async (cond: () => boolean, what: string) => {
      for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
      if (!cond()) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(got.slice(-3))}`);
    };
    await until(() => got.some((m) => m.flow?.id === 'node2-59'), 'history');
    expect(got[0]?.nodes?.answered).toEqual(['node1', 'node2']);
    const now = Date.now();
    agents[0]!.store.put(flow('node1', 1000, { lastSeenMs: now }));
    agents[1]!.store.put(flow('node2', 1001, { lastSeenMs: now }));
    await until(() => ['node1-1000', 'node2-1001'].every((id) => got.some((m) => m.flow?.id === id)), 'live flows of both nodes');
    const node3 = new FakeAgent('node3', 'node3');
    await node3.start();
    try {
      relay.pool.setMembers([...agents, node3].map((a) => ({ node: a.node, address: a.address })));
      await until(() => got.some((m) => m.nodes?.answered.includes('node3') === true), 'node3 reported');
      node3.store.put(flow('node3', 7, { lastSeenMs: Date.now() }));
      await until(() => got.some((m) => m.flow?.id === 'node3-7'), 'node3 live flow');
    } finally {
      s.cancel();
      relay.pool.setMembers(agents.map((a) => ({ node: a.node, address: a.address })));
      await node3.stop();
    }
  });

  it('a slow client loses flows per node, counted and named; the other node is not held up', async () => {
    const slowRelay = await startRelay(agents, { nodeQueue: 16 });
    // HTTP/2's default 64 KiB window (not the CLI's 4 MiB): the relay feels a client that stops reading at once
    const api = loadApi();
    const creds = grpc.credentials.createSsl(fs.readFileSync(file('ca.crt')), fs.readFileSync(file('client.key')), fs.readFileSync(file('client.crt')));
    const c = new api.FlowClient(slowRelay.server.addresses[0] as string, creds);
    try {
      const s = (c as unknown as { GetFlows(r: object): grpc.ClientReadableStream<GetFlowsResponse> }).GetFlows({ follow: true, sinceMs: Date.now() + 1 }); // no history
      const got: GetFlowsResponse[] = [];
      s.on('data', (m: GetFlowsResponse) => got.push(m));
      s.on('error', () => undefined);
      for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(got[0]?.nodes?.answered).toEqual(['node1', 'node2']);
      s.pause(); // the client stops reading
      const base = Date.now() + 5;
      const N = 20_000;
      // in slices, so the agent's own queue (4,096) keeps up and the loss is the relay's
      for (let i = 0; i < N; i++) {
        agents[0]!.store.put(flow('node1', 10_000 + i, { lastSeenMs: base + i }));
        if (i % 500 === 499) await new Promise((r) => setTimeout(r, 5));
      }
      agents[1]!.store.put(flow('node2', 99_999, { lastSeenMs: base + N }));
      await new Promise((r) => setTimeout(r, 1500));
      s.resume();
      const sent = () => got.flatMap(flowsOf).filter((f) => f.node === 'node1' && Number(f.id.slice(6)) >= 10_000).length;
      const lost = () => got.reduce((n, m) => n + (m.lost?.count ?? 0), 0);
      for (let i = 0; i < 200 && (sent() + lost() < N || !got.some((m) => m.flow?.id === 'node2-99999')); i++) await new Promise((r) => setTimeout(r, 25));
      // every flow node1 sent is delivered or counted as lost (lost at the agent's or the relay's queue, each named)
      expect(lost()).toBeGreaterThan(0);
      expect(sent() + lost()).toBe(N);
      expect(got.filter((m) => m.lost).every((m) => /node1/.test(m.lost!.where))).toBe(true);
      expect(got.some((m) => /^relay queue for node node1/.test(m.lost?.where ?? ''))).toBe(true);
      expect(got.some((m) => m.flow?.id === 'node2-99999')).toBe(true);
      expect(slowRelay.services.streamLost).toBeGreaterThan(0);
      s.cancel();
    } finally {
      c.close();
      await slowRelay.stop();
    }
  }, 30_000);

  it('a node that is down is reported in every answer; the others still answer', async () => {
    const downRelay = await startRelay([...agents, Object.assign(new FakeAgent('node9', 'node1'), { address: '127.0.0.1:1' })]);
    const c = clientOf(downRelay);
    try {
      const msgs = await collect(c.getFlows({}));
      expect(msgs[0]?.nodes?.answered).toEqual(['node1', 'node2']);
      expect(msgs[0]?.nodes?.failed.map((f) => f.node)).toEqual(['node9']);
      expect(msgs[0]?.nodes?.failed[0]?.error).toMatch(/UNAVAILABLE/);
      expect(msgs.flatMap(flowsOf).length).toBeGreaterThanOrEqual(60);
      const status = await c.unary<ServerStatusResponse>('state', 'ServerStatus', {});
      expect(status.nodes?.failed.map((f) => f.node)).toEqual(['node9']);
      expect(status.synced).toBe(false);
      const stats = await c.unary<GetFlowStatsResponse>('flows', 'GetFlowStats', {});
      expect(stats.nodes?.failed.map((f) => f.node)).toEqual(['node9']);
      const nets = await c.unary<ListNetworksResponse>('state', 'ListNetworks', {});
      expect(nets.nodes?.failed.map((f) => f.node)).toEqual(['node9']);
    } finally {
      c.close();
      await downRelay.stop();
    }
  });

  it('an agent whose certificate is of another CA is refused with a TLS error; the rest keeps working', async () => {
    const stranger = new FakeAgent('node3', 'stranger');
    await stranger.start();
    const r = await startRelay([...agents, stranger]);
    const c = clientOf(r);
    try {
      const msgs = await collect(c.getFlows({}));
      expect(msgs[0]?.nodes?.answered).toEqual(['node1', 'node2']);
      expect(msgs[0]?.nodes?.failed).toHaveLength(1);
      expect(msgs[0]?.nodes?.failed[0]).toMatchObject({ node: 'node3', error: expect.stringMatching(/^TLS refused: .*certificate/i) });
      expect(msgs.flatMap(flowsOf).some((f) => f.node === 'node1')).toBe(true);
    } finally {
      c.close();
      await r.stop();
      await stranger.stop();
    }
  });

  it('a node that goes down during follow is reported, and again when it is back', async () => {
    const spare = new FakeAgent('node3', 'node3');
    await spare.start();
    const port = Number(spare.address.split(':')[1]);
    const r = await startRelay([...agents, spare]);
    const c = clientOf(r);
    // the relay retries every 2 s (DEFAULT_RELAY_LIMITS.retryMs)
    const s = c.getFlows({ follow: true, sinceMs: Date.now() + 1 });
    const got: GetFlowsResponse[] = [];
    s.on('data', (m: GetFlowsResponse) => got.push(m));
    s.on('error', () => undefined);
    const until = async (cond: () => boolean, what: string) => {
      for (let i = 0; i < 400 && !cond(); i++) await new Promise((res) => setTimeout(res, 25));
      if (!cond()) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(got.filter((m) => m.nodes))}`);
    };
    let back: FakeAgent | undefined;
    try {
      await until(() => got[0]?.nodes?.answered.includes('node3') === true, 'node3 answering');
      await spare.stop();
      await until(() => got.some((m) => m.nodes?.failed.some((f) => f.node === 'node3') === true), 'node3 reported down');
      agents[0]!.store.put(flow('node1', 5000, { lastSeenMs: Date.now() + 10 }));
      await until(() => got.some((m) => m.flow?.id === 'node1-5000'), "node1's flows still coming");
      back = new FakeAgent('node3', 'node3', port);
      await back.start();
      const downAt = got.findIndex((m) => m.nodes?.failed.some((f) => f.node === 'node3'));
      await until(() => got.slice(downAt + 1).some((m) => m.nodes?.answered.includes('node3') === true), 'node3 back');
    } finally {
      s.cancel();
      c.close();
      await r.stop();
      await back?.stop();
    }
  }, 30_000);
});

describe('relay finding the agents through the Kubernetes API', () => {
  /** The relay's Role in deploy/relay.yaml: the test API server refuses whatever it does not grant. */
  const relayRules = (): PolicyRule[] => {
    const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(import.meta.dirname, '../deploy/relay.yaml'), 'utf8')).map((d) => d.toJS() as { kind?: string; rules?: PolicyRule[] });
    return docs.find((d) => d.kind === 'Role')!.rules!;
  };
  const pod = (name: string, component: string, nodeName: string, podIP: string): KObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'vrfwall-system', labels: { 'app.kubernetes.io/name': 'vrfwall', 'app.kubernetes.io/component': component } },
    spec: { nodeName },
    status: { podIP, phase: 'Running' },
  });

  it("the DaemonSet's pods come and go: the relay's members follow, with only the relay's Role", async () => {
    const api = new TestApiServer({ rules: relayRules() });
    await api.start();
    const kubeconfig = file('kubeconfig');
    api.writeKubeconfig(kubeconfig);
    // two agents on one port at two loopback addresses, as agents on two nodes; one name in both certificates
    const a = new FakeAgent('kube1', 'named-agent', 0, '127.0.0.2');
    await a.start();
    const port = Number(a.address.split(':')[1]);
    const b = new FakeAgent('kube2', 'named-agent', port, '127.0.0.3');
    await b.start();
    a.store.put(flow('kube1', 1));
    b.store.put(flow('kube2', 2));
    api.apply('pods', pod('agent-a', 'agent', 'kube1', '127.0.0.2'));
    api.apply('pods', pod('relay-x', 'relay', 'kube1', '127.0.0.9')); // not an agent: the selector leaves it out
    const { config } = loadRelayConfig(
      { listen: '127.0.0.1:0', tlsCert: file('relay.crt'), tlsKey: file('relay.key'), tlsCa: file('ca.crt'), kubeconfig, agentPort: port, agentTlsServerName: 'vrfwall-agent', nodeTimeout: 3 },
      {},
    );
    expect(config.discovery.kind).toBe('kube');
    const relay = new Relay(config, log);
    await relay.start();
    const c = clientOf(relay);
    const answered = async () => (await c.unary<ServerStatusResponse>('state', 'ServerStatus', {})).nodes?.answered ?? [];
    const until = async (want: string[]) => {
      for (let i = 0; i < 200 && JSON.stringify(await answered()) !== JSON.stringify(want); i++) await new Promise((r) => setTimeout(r, 25));
      expect(await answered()).toEqual(want);
    };
    try {
      await until(['kube1']);
      api.apply('pods', pod('agent-b', 'agent', 'kube2', '127.0.0.3'));
      await until(['kube1', 'kube2']);
      const flows = (await collect(c.getFlows({}))).flatMap(flowsOf);
      expect(flows.map((f) => f.node)).toEqual(['kube1', 'kube2']);
      api.remove('pods', 'agent-a', 'vrfwall-system');
      await until(['kube2']);
      // a pod that is not Running is no member either
      api.apply('pods', { ...pod('agent-a', 'agent', 'kube1', '127.0.0.2'), status: { podIP: '', phase: 'Pending' } });
      await new Promise((r) => setTimeout(r, 300));
      expect(await answered()).toEqual(['kube2']);
      expect(api.stats.forbidden).toEqual([]);
      expect(api.stats.requests.get('list pods')).toBeGreaterThan(0);
      // positive control for the RBAC check: what the Role does not grant is refused and counted
      expect((await fetch(`${api.url}/api/v1/nodes`)).status).toBe(403);
      expect(api.stats.forbidden).toHaveLength(1);
    } finally {
      c.close();
      await relay.stop();
      await a.stop();
      await b.stop();
      await api.close();
    }
  }, 30_000);
});
