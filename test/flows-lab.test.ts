// Flow statistics and the gRPC API end to end, on the real kernel: a 2-node
// lab of the CN2 example, real packets between pod namespaces, the agents'
// API over their unix sockets (our client and Python grpcio), metrics, and a
// flood of 100,000 distinct flows. Each block makes the traffic it reads and
// leaves every agent running (the test that stops one starts it again), so
// the blocks pass in any order and alone (-t).
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, collect, socketOf } from '../src/api/client.js';
import type { ExplainResponse, FlowMsg, GetFlowsRequest, GetFlowsResponse, ServerStatusResponse } from '../src/api/messages.js';
import { flowsOf } from '../src/api/messages.js';
import { PROTO_DIR } from '../src/api/proto.js';
import { agentSpecs, launchAgent, waitAgentsReady } from '../src/lab/agents.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { isAlive } from '../src/lab/procs.js';
import { PIN_ROOT, netnsPath } from '../src/lab/names.js';
import { writeState, type LabState } from '../src/lab/state.js';
import { ROOT, podOf, readCounters, readFlowTable, readPinnedMap, timeUntil } from './helpers/lab.js';
import * as abi from '../src/kernel/abi.js';
import { PROBE_SPORT } from '../src/api/packet.js';

const run = promisify(execFile);
const LAB = 'tflows';
const EXAMPLE = path.join(ROOT, 'examples/cn2-isolated-namespace');
const ISOLATED = new Set(['isolated-namespace-demo/pod1', 'isolated-namespace-demo/pod2']);
const sameNet = (a: string, b: string) => ISOLATED.has(a) === ISOLATED.has(b);
const UDP_HDRS = 14 + 20 + 8; // Ethernet + IPv4 + UDP

let state: LabState;
const clients = new Map<string, AgentClient>();

function client(node: string): AgentClient {
  let c = clients.get(node);
  if (!c) {
    const agent = state.agents.find((a) => a.node === node);
    if (!agent) throw new Error(`no agent on ${node}`);
    c = new AgentClient({ label: node, address: `unix:${socketOf(agent.instance)}`, creds: grpc.credentials.createInsecure() });
    clients.set(node, c);
  }
  return c;
}

function request(r: Partial<GetFlowsRequest>): GetFlowsRequest {
  return { allow: [], deny: [], last: 0, first: 0, sinceMs: 0, untilMs: 0, follow: false, batchSize: 0, ...r };
}

async function flows(node: string, r: Partial<GetFlowsRequest>): Promise<FlowMsg[]> {
  const msgs = await collect(client(node).getFlows(request(r)));
  return msgs.flatMap(flowsOf);
}

/** Sends `count` UDP datagrams of `size` payload bytes from a pod, from a fixed source port. */
async function sendUdp(from: string, to: string, opts: { count: number; size: number; sport: number; dport: number; gapMs?: number }): Promise<void> {
  const src = podOf(state, from);
  const dst = podOf(state, to);
  const script = `
    const s = require('node:dgram').createSocket('udp4');
    const buf = Buffer.alloc(${opts.size}, 7);
    s.bind(${opts.sport}, async () => {
      for (let i = 0; i < ${opts.count}; i++) {
        await new Promise((r) => s.send(buf, ${opts.dport}, ${JSON.stringify(dst.ips.v4)}, r));
        ${opts.gapMs ? `await new Promise((r) => setTimeout(r, ${opts.gapMs}));` : ''}
      }
      s.close();
    });`;
  await run('ip', ['netns', 'exec', src.netns, process.execPath, '-e', script]);
}

/** A pair of pods on different nodes, in the same network (open) or not (isolated). */
function crossPair(open: boolean): [string, string] {
  const pods = state.plan.pods.filter((p) => !p.hostNetwork).map((p) => p.key);
  for (const a of pods)
    for (const b of pods)
      if (a !== b && podOf(state, a).node !== podOf(state, b).node && sameNet(a, b) === open && !b.startsWith('kube-system/')) return [a, b];
  throw new Error(`no ${open ? 'open' : 'isolated'} cross-node pair in the example`);
}

const bySrcPort = (port: number) => (f: FlowMsg) => f.source.port === port;

beforeAll(async () => {
  await labDown(LAB);
  state = await labUp(EXAMPLE, { lab: LAB, nodes: 2, log: () => undefined });
}, 90_000);

afterAll(async () => {
  for (const c of clients.values()) c.close();
  await labDown(LAB);
}, 60_000);

describe('flows of real packets', () => {
  it('exactly 100 UDP packets from one pod to another are one flow of 100 packets and the right bytes, at both ends', async () => {
    const [from, to] = crossPair(true);
    const size = 100;
    await sendUdp(from, to, { count: 100, size, sport: 31001, dport: 9 });
    const want = (f: FlowMsg) => f.forward.packets === 100;
    for (const node of [podOf(state, from).node, podOf(state, to).node]) {
      let mine: FlowMsg[] = [];
      const t0 = Date.now();
      while (Date.now() - t0 < 3000) {
        mine = (await flows(node, { allow: [{ sourcePod: [from], destinationPod: [to], protocol: ['udp'] }] })).filter(bySrcPort(31001));
        if (mine.length === 1 && want(mine[0] as FlowMsg)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(mine, node).toHaveLength(1);
      const f = mine[0] as FlowMsg;
      expect(f).toMatchObject({ verdict: 'VERDICT_ALLOWED', allowRule: 'SAME_NETWORK', protocolName: 'udp', node });
      expect(f.forward.packets).toBe(100);
      expect(f.forward.bytes).toBe(100 * (UDP_HDRS + size));
      expect(f.destination.port).toBe(9);
      expect(`${f.source.namespace}/${f.source.pod}`).toBe(from);
      expect(f.direction).toBe(node === podOf(state, from).node ? 'DIRECTION_EGRESS' : 'DIRECTION_INGRESS');
    }
  });

  it('--follow delivers a new flow within a second', async () => {
    const [from, to] = crossPair(true);
    const node = podOf(state, from).node;
    const stream = client(node).getFlows(request({ follow: true, allow: [{ port: [31002] }] }));
    const got = new Promise<{ flow: FlowMsg; at: number }>((resolve, reject) => {
      stream.on('data', (m: GetFlowsResponse) => m.flow && resolve({ flow: m.flow, at: performance.now() }));
      stream.on('error', (e: grpc.ServiceError) => e.code !== grpc.status.CANCELLED && reject(e));
    });
    await new Promise((r) => setTimeout(r, 200)); // the stream is open
    const sent = performance.now();
    await sendUdp(from, to, { count: 1, size: 10, sport: 31002, dport: 9 });
    const { flow, at } = await Promise.race([got, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no flow within 1 s')), 1000))]);
    stream.cancel();
    expect(flow.source.port).toBe(31002);
    console.info(`follow: new flow delivered ${(at - sent).toFixed(0)} ms after the send started`);
    expect(at - sent).toBeLessThan(1000);
  });

  it('a denied connection shows DROPPED with its reason at the sender, and at the receiver once the sender is unenforced', async () => {
    const [from, to] = crossPair(false);
    const senderNode = podOf(state, from).node;
    const receiverNode = podOf(state, to).node;
    await sendUdp(from, to, { count: 3, size: 20, sport: 31003, dport: 8080 });
    let atSender: FlowMsg[] = [];
    for (let i = 0; i < 30 && atSender.length === 0; i++) {
      atSender = (await flows(senderNode, { allow: [{ verdict: ['VERDICT_DROPPED'], port: [31003] }] })).filter(bySrcPort(31003));
      if (atSender.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(atSender).toHaveLength(1);
    expect(atSender[0]).toMatchObject({ verdict: 'VERDICT_DROPPED', dropReason: 'ISOLATED', direction: 'DIRECTION_EGRESS' });
    // Nothing crossed: the receiver's agent has no such flow.
    expect((await flows(receiverNode, { allow: [{ port: [31003] }] })).filter(bySrcPort(31003))).toEqual([]);

    // Take the sender node's agent and all its attachments away (as in
    // enforcement.test.ts): its pods send unchecked, the receiver must drop.
    // Started again at the end, whatever happens: later tests find it running.
    const agent = state.agents.find((a) => a.node === senderNode)!;
    try {
      await receiverDrops(agent, from, to, receiverNode);
    } finally {
      await restartAgent(senderNode);
    }
  });
});

/** Starts the node's agent again (after a test stopped it) and waits until it is ready. */
async function restartAgent(node: string): Promise<void> {
  if (state.agents.some((a) => a.node === node && isAlive(a.pid))) return;
  const spec = agentSpecs(state.plan, EXAMPLE).find((s) => s.node === node)!;
  const pid = launchAgent(spec);
  await waitAgentsReady([{ spec, pid }]);
  state.agents = [...state.agents.filter((a) => a.node !== node), { node, instance: spec.instance, pid, logFile: spec.logFile }];
  writeState(state);
}

async function receiverDrops(agent: LabState['agents'][number], from: string, to: string, receiverNode: string): Promise<void> {
  const senderNode = agent.node;
  clients.get(senderNode)?.close();
  clients.delete(senderNode);
  process.kill(agent.pid, 'SIGKILL');
  await timeUntil(() => !isAlive(agent.pid), 5000, 'sender agent exit');
  const node = state.plan.nodes.find((n) => n.name === senderNode)!;
  execFileSync('nsenter', [
    `--net=${netnsPath(node.netns)}`, '--', process.execPath, path.join(ROOT, 'dist/cli/main.js'),
    'agent', '--cleanup', '--node-name', senderNode, '--instance', agent.instance,
  ]);
  state.agents = state.agents.filter((a) => a !== agent);
  writeState(state);
  expect(fs.existsSync(path.join(PIN_ROOT, agent.instance))).toBe(false);

  await sendUdp(from, to, { count: 3, size: 20, sport: 31004, dport: 8080 });
  let atReceiver: FlowMsg[] = [];
  for (let i = 0; i < 30 && atReceiver.length === 0; i++) {
    atReceiver = (await flows(receiverNode, { allow: [{ dropReason: ['ISOLATED'] }] })).filter(bySrcPort(31004));
    if (atReceiver.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  expect(atReceiver).toHaveLength(1);
  const f = atReceiver[0] as FlowMsg;
  expect(f).toMatchObject({ verdict: 'VERDICT_DROPPED', dropReason: 'ISOLATED', direction: 'DIRECTION_INGRESS', node: receiverNode });
  expect(`${f.source.namespace}/${f.source.pod}`).toBe(from);
  expect(`${f.destination.namespace}/${f.destination.pod}`).toBe(to);
  const t0 = Date.now();
  let latest = f;
  while (latest.forward.droppedPackets < 3 && Date.now() - t0 < 3000) {
    await new Promise((r) => setTimeout(r, 200));
    latest = (await flows(receiverNode, { allow: [{ port: [31004] }] })).filter(bySrcPort(31004))[0] ?? latest;
  }
  expect(latest.forward).toMatchObject({ packets: 3, droppedPackets: 3, bytes: 3 * (UDP_HDRS + 20) });
}

/** A node whose agent runs. */
const live = (): string => state.agents.find((a) => isAlive(a.pid))!.node;

describe('the API', () => {
  let node = '';
  beforeAll(async () => {
    node = live();
    // This block's own flows on `node`: three allowed and two dropped (at
    // the sender's from_pod), each from its own source port.
    const pods = state.plan.pods.filter((p) => !p.hostNetwork && !p.key.startsWith('kube-system/')).map((p) => p.key);
    const from = pods.find((k) => podOf(state, k).node === node)!;
    const open = pods.find((k) => k !== from && sameNet(k, from))!;
    const closed = pods.find((k) => !sameNet(k, from))!;
    const sends = [
      { to: open, sport: 31101 }, { to: open, sport: 31102 }, { to: open, sport: 31103 },
      { to: closed, sport: 31104 }, { to: closed, sport: 31105 },
    ];
    for (const x of sends) await sendUdp(from, x.to, { count: 2, size: 10, sport: x.sport, dport: 9 });
    const t0 = Date.now();
    for (;;) {
      const ports = new Set((await flows(node, { allow: [{ sourcePod: [from] }] })).map((f) => f.source.port));
      if (sends.every((x) => ports.has(x.sport))) break;
      if (Date.now() - t0 > 5000) throw new Error(`this block's flows: only ports ${[...ports].join(', ')} within 5 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 30_000);

  it('filters end to end: allow OR-ed, deny subtracted, last N', async () => {
    const all = await flows(node, {});
    expect(all.length).toBeGreaterThan(2);
    const udp = await flows(node, { allow: [{ protocol: ['udp'] }] });
    const dropped = await flows(node, { allow: [{ verdict: ['VERDICT_DROPPED'] }] });
    const either = await flows(node, { allow: [{ protocol: ['udp'] }, { verdict: ['VERDICT_DROPPED'] }] });
    const ids = (fs: FlowMsg[]) => new Set(fs.map((f) => f.id));
    expect(ids(either)).toEqual(new Set([...ids(udp), ...ids(dropped)]));
    const udpNotDropped = await flows(node, { allow: [{ protocol: ['udp'] }], deny: [{ verdict: ['VERDICT_DROPPED'] }] });
    expect(udpNotDropped.every((f) => f.protocolName === 'udp' && f.verdict === 'VERDICT_ALLOWED')).toBe(true);
    expect(udpNotDropped.length).toBe(udp.filter((f) => f.verdict === 'VERDICT_ALLOWED').length);
    const last2 = await flows(node, { last: 2 });
    expect(last2.map((f) => f.id)).toEqual(all.slice(-2).map((f) => f.id));
    // Batched: the same flows in the same order, in fewer messages. A late packet (a ping's retransmission on a
    // loaded machine) between the reads moves its flow to the end: then the batched read equals a read right after.
    const batchedMsgs = await collect(client(node).getFlows(request({ batchSize: 2 })));
    const after = await flows(node, {});
    expect(batchedMsgs.length).toBe(Math.ceil(all.length / 2));
    const batchedIds = batchedMsgs.flatMap(flowsOf).map((f) => f.id);
    expect([all.map((f) => f.id), after.map((f) => f.id)]).toContainEqual(batchedIds);
  });

  it('bad requests: INVALID_ARGUMENT naming the field; limits: RESOURCE_EXHAUSTED', async () => {
    const err = (r: Partial<GetFlowsRequest>) => collect(client(node).getFlows(request(r))).then(() => undefined, (e: grpc.ServiceError) => e);
    const bad = await err({ allow: [{ ip: ['10.0.0.300'] }] });
    expect(bad?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad?.details).toMatch(/allow\[0\]\.ip\[0\]/);
    const both = await err({ last: 1, first: 1 });
    expect(both?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(both?.details).toMatch(/^first:/);
    const big = await err({ last: 10_000_000 });
    expect(big?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(big?.details).toMatch(/^last:/);
    const hugeBatch = await err({ batchSize: 100_000 });
    expect(hugeBatch?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(hugeBatch?.details).toMatch(/^batch_size:/);
  });

  it('explain runs the loaded programs and counts nothing', async () => {
    const [from, to] = crossPair(false);
    const [ofrom, oto] = crossPair(true);
    const c = client(podOf(state, to).node); // the surviving receiver node
    const instance = state.agents.find((a) => a.node === podOf(state, to).node)!.instance;
    const before = readCounters(instance).map((x) => x.packets);
    const denied = await c.unary<ExplainResponse>('state', 'Explain', { source: from, destination: to, protocol: 'tcp', port: 8080, family: '' });
    expect(denied).toMatchObject({ verdict: 'VERDICT_DROPPED', reason: 'ISOLATED' });
    expect(denied.steps.map((s) => s.hook)).toEqual(['to_pod']);
    const toOpen = podOf(state, oto).node === podOf(state, to).node ? [ofrom, oto] : [oto, ofrom];
    const allowed = await c.unary<ExplainResponse>('state', 'Explain', { source: toOpen[0], destination: toOpen[1], protocol: 'udp', port: 53, family: 'ipv6' });
    expect(allowed).toMatchObject({ verdict: 'VERDICT_ALLOWED', reason: 'SAME_NETWORK' });
    expect(allowed.rule).toMatch(/^rule 1/);
    expect(allowed.source.ip).toContain(':');
    expect(readCounters(instance).map((x) => x.packets)).toEqual(before);
    const missing = await c.unary('state', 'Explain', { source: 'nope/x', destination: to, protocol: '', port: 0, family: '' }).catch((e: grpc.ServiceError) => e);
    expect((missing as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
    expect((missing as grpc.ServiceError).details).toMatch(/^source:/);
  });

  it('explain on a Service path (a ClusterIP) makes no session and records no flow; the real packet does both', async () => {
    const agent = state.agents.find((a) => isAlive(a.pid))!; // earlier tests stop some agents
    const from = state.plan.pods.find((p) => !p.hostNetwork && !p.key.startsWith('kube-system/') && p.node === agent.node)!;
    const instance = agent.instance;
    const DNS = '10.96.0.10';
    const ours = () => {
      const sessions = readPinnedMap(instance, 'sessions')
        .map((e) => abi.decodeSessionKey(e.key))
        .filter((k) => k.saddr === from.ips.v4 && k.daddr === DNS && k.sport === PROBE_SPORT);
      const flowKeys = readFlowTable(instance)
        .map((e) => e.key)
        .filter((k) => k.selfAddr === from.ips.v4 && k.peerAddr === DNS && k.selfPort === PROBE_SPORT);
      return { sessions: sessions.length, flows: flowKeys.length };
    };
    expect(ours()).toEqual({ sessions: 0, flows: 0 });
    const r = await client(from.node).unary<ExplainResponse>('state', 'Explain', {
      source: from.key,
      destination: DNS,
      protocol: 'udp',
      port: 53,
      family: '',
    });
    expect(r).toMatchObject({ verdict: 'VERDICT_ALLOWED', reason: 'SERVICE' });
    expect(ours()).toEqual({ sessions: 0, flows: 0 });
    // positive control: the same path with a real datagram makes both
    const script = `const s = require('node:dgram').createSocket('udp4'); s.bind(${PROBE_SPORT}, () => s.send('x', 53, '${DNS}', () => s.close()));`;
    await run('ip', ['netns', 'exec', from.netns, process.execPath, '-e', script]);
    await timeUntil(() => ours().sessions === 1 && ours().flows === 1, 2000, 'the real datagram made a session and a flow');
  });

  it('a client that is not ours (Python grpcio, stubs generated from proto/) lists flows and health over the unix socket', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-pygrpc-'));
    try {
      const healthDir = path.join(ROOT, 'node_modules/grpc-health-check/proto');
      execFileSync('/usr/bin/python3', [
        '-m', 'grpc_tools.protoc', `-I${PROTO_DIR}`, `-I${healthDir}`, `--python_out=${tmp}`, `--grpc_python_out=${tmp}`,
        'vrfwall/v1/flow.proto', 'vrfwall/v1/state.proto', 'health/v1/health.proto',
      ]);
      const sock = socketOf(state.agents.find((a) => a.node === node)!.instance);
      const script = `
import json, sys, grpc
sys.path.insert(0, ${JSON.stringify(tmp)})
from vrfwall.v1 import flow_pb2, flow_pb2_grpc, state_pb2, state_pb2_grpc
from health.v1 import health_pb2, health_pb2_grpc
ch = grpc.insecure_channel('unix://' + ${JSON.stringify(sock)})
flows = [r.flow for r in flow_pb2_grpc.FlowServiceStub(ch).GetFlows(flow_pb2.GetFlowsRequest(last=5), timeout=10) if r.HasField('flow')]
health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=''), timeout=10)
st = state_pb2_grpc.StateServiceStub(ch).ServerStatus(state_pb2.ServerStatusRequest(), timeout=10)
print(json.dumps({'flows': [{'id': f.id, 'verdict': flow_pb2.Verdict.Name(f.verdict), 'packets': f.forward.packets} for f in flows],
                  'health': health_pb2.HealthCheckResponse.ServingStatus.Name(health.status), 'node': st.node, 'held': st.flows_held}))
`;
      const { stdout } = await run('/usr/bin/python3', ['-c', script]);
      const out = JSON.parse(stdout) as { flows: { id: string; verdict: string; packets: number }[]; health: string; node: string; held: number };
      expect(out.health).toBe('SERVING');
      expect(out.node).toBe(node);
      expect(out.flows).toHaveLength(5);
      const ours = await flows(node, { last: 5 });
      expect(new Set(out.flows.map((f) => f.id)).size).toBe(5);
      expect(out.flows.every((f) => f.verdict.startsWith('VERDICT_') && f.packets >= 0)).toBe(true);
      expect(ours).toHaveLength(5);
      expect(out.held).toBeGreaterThanOrEqual(5);
      expect((fs.statSync(sock).mode & 0o777).toString(8)).toBe('600');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('Prometheus metrics on 127.0.0.1 in the node namespace', async () => {
    const n = state.plan.nodes.find((x) => x.name === node)!;
    const { stdout } = await run('nsenter', [`--net=${netnsPath(n.netns)}`, '--', 'curl', '-sf', 'http://127.0.0.1:9477/metrics']);
    expect(stdout).toMatch(/^vrfwall_packets_total\{direction="from_pod",verdict="dropped",reason="ISOLATED"\} [1-9]/m);
    expect(stdout).toMatch(/^vrfwall_flows_held \d+/m);
    expect(stdout).toMatch(/^vrfwall_map_fill_ratio\{map="flows"\} /m);
    expect(stdout).toMatch(/^vrfwall_reconcile_duration_seconds_count [1-9]/m);
    expect(stdout).toMatch(/^vrfwall_flow_events_lost_total\{where="ringbuf"\} \d+/m);
  });
});

describe('a flood of 100,000 distinct flows', () => {
  it('leaves the agent responsive, its memory bounded, and the loss counted', async () => {
    const node = live();
    const agent = state.agents.find((a) => a.node === node)!;
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${agent.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
    const rssBefore = rss();
    const src = state.plan.pods.find((p) => p.node === node && !p.hostNetwork && !p.key.startsWith('kube-system/'))!;
    const dst = state.plan.pods.find((p) => p.key !== src.key && !p.hostNetwork && !sameNet(p.key, src.key))!;
    // Two sockets x 50,000 destination ports, to a pod it may not reach: each
    // datagram is a new flow, dropped at from_pod with a NEW event.
    const script = `
      const dgram = require('node:dgram');
      const buf = Buffer.alloc(1);
      const socks = [dgram.createSocket('udp4'), dgram.createSocket('udp4')];
      let pending = 0;
      (async () => {
        for (const s of socks) await new Promise((r) => s.bind(0, r));
        for (let port = 10000; port < 60000; port++) {
          for (const s of socks) { pending++; s.send(buf, port, ${JSON.stringify(dst.ips.v4)}, () => { pending--; }); }
          if (port % 500 === 0) await new Promise((r) => setImmediate(r));
        }
        while (pending > 0) await new Promise((r) => setTimeout(r, 5));
        for (const s of socks) s.close();
      })();`;
    const c = client(node);
    const latencies: number[] = [];
    const flood = run('ip', ['netns', 'exec', src.netns, process.execPath, '-e', script]);
    let flooding = true;
    void flood.finally(() => (flooding = false));
    const t0 = Date.now();
    while (flooding) {
      const s = performance.now();
      await c.unary<ServerStatusResponse>('state', 'ServerStatus', {}, 5000);
      latencies.push(performance.now() - s);
      await new Promise((r) => setTimeout(r, 100));
    }
    await flood;
    const floodMs = Date.now() - t0;
    // Let the reader catch up, then the numbers must add up.
    let st = await c.unary<ServerStatusResponse>('state', 'ServerStatus', {});
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const next = await c.unary<ServerStatusResponse>('state', 'ServerStatus', {});
      if (next.eventsReceived === st.eventsReceived && next.flowsSeen === st.flowsSeen) break;
      st = next;
    }
    const s = performance.now();
    const last = await flows(node, { last: 10, allow: [{ ip: [dst.ips.v4] }] });
    const queryMs = performance.now() - s;
    const rssAfter = rss();
    console.info(
      `flood: ${floodMs} ms; status latency during it max ${Math.max(...latencies).toFixed(0)} ms over ${latencies.length} calls; ` +
        `kernel flows created ${st.kernelFlowsCreated}, events received ${st.eventsReceived}, lost in kernel ${st.eventsLost}; ` +
        `store held ${st.flowsHeld}/${st.flowsMax}, seen ${st.flowsSeen}, evicted ${st.flowsEvicted}; ` +
        `query after ${queryMs.toFixed(0)} ms; agent RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB`,
    );
    expect(latencies.length).toBeGreaterThan(0);
    expect(Math.max(...latencies)).toBeLessThan(1000);
    expect(queryMs).toBeLessThan(1000);
    expect(last).toHaveLength(10);
    expect(last.every((f) => f.verdict === 'VERDICT_DROPPED')).toBe(true);
    // Every new flow made an event; each was either delivered or counted lost.
    expect(st.kernelFlowsCreated).toBeGreaterThanOrEqual(100_000);
    expect(st.eventsReceived + st.eventsLost).toBeGreaterThanOrEqual(100_000);
    // The store stayed bounded and said what it dropped.
    expect(st.flowsHeld).toBeLessThanOrEqual(st.flowsMax);
    expect(st.flowsEvicted).toBeGreaterThanOrEqual(st.flowsSeen - st.flowsMax);
    expect(st.flowsEvicted).toBeGreaterThan(0);
    expect(rssAfter).toBeLessThan(400);
    expect(rssAfter - rssBefore).toBeLessThan(200);
  }, 60_000);
});
