// Part 5: the relay (issue 15): one endpoint for every node's flows.
//
// A three-node lab with its agents and the relay `lab up` starts (in node1's
// namespace, in front of the agents' mutual-TLS listeners). On each node a
// pod floods distinct UDP flows to a pod of another isolated namespace
// (dropped at the sender's from_pod: each node's agent holds its own pod's
// flows) until the three agents hold 100,000 flows between them. Then, over
// the relay's unix socket, as `vrfwall flows --lab` asks it:
// - 5a: GetFlows without a filter (batches of 500): the relay asks the three
//   agents, merges 100,000 flows in time order and sends them; call -> last
//   message, every flow decoded by the client;
// - 5b: a `follow` stream through the relay while a pod on node2 (not the
//   relay's node) sends one datagram of a new flow every few ms, stamping the
//   wall clock before each send; latency = receive time minus the stamp.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { spawn } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { AgentClient, socketOf } from '../src/api/client.js';
import type { GetFlowsRequest, GetFlowsResponse, ServerStatusResponse } from '../src/api/messages.js';
import { flowsOf } from '../src/api/messages.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { floodScript, followSenderScript } from './flowapi.js';
import { PREFIX, QUICK } from './lib/env.js';
import type { PartResult, Target } from './lib/report.js';
import { percentile, round, sample } from './lib/stats.js';
import { rssKb, run, sleep } from './lib/sys.js';

const LAB = `${PREFIX}r`;
const NODES = 3;
const FLOWS = 100_000;
/** per node: 2 sockets x this many ports, a little over a third of FLOWS each */
const PORTS_PER_NODE = Math.ceil(FLOWS / NODES / 2) + 200;
const REPEATS = QUICK ? 2 : 5;
const FOLLOW_SAMPLES = QUICK ? 100 : 500;
const FOLLOW_GAP_MS = 5;
const FOLLOW_PORT_BASE = 1000;
const BATCH_SIZE = 500;
const NS_SRC = 'relaybench-a';
const NS_DST = 'relaybench-b';

function manifests(dir: string): void {
  const ns = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  labels:\n    vrfwall.dev/isolated: "true"\n`;
  const pod = (namespace: string, name: string, node: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n  nodeName: ${node}\n  containers:\n    - name: c\n      image: none\n`;
  const pods = Array.from({ length: NODES }, (_, i) => pod(NS_SRC, `src${i + 1}`, `node${i + 1}`));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'relaybench.yaml'), [ns(NS_SRC), ns(NS_DST), ...pods, pod(NS_DST, 'dst', 'node1')].join('---\n'));
}

function request(r: Partial<GetFlowsRequest>): GetFlowsRequest {
  return { allow: [], deny: [], last: 0, first: 0, sinceMs: 0, untilMs: 0, follow: false, batchSize: 0, ...r };
}

function getAll(c: AgentClient): Promise<{ ms: number; flows: number; failed: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let flows = 0;
    let failed = 0;
    const s = c.getFlows(request({ batchSize: BATCH_SIZE }));
    s.on('data', (m: GetFlowsResponse) => {
      flows += flowsOf(m).length;
      if (m.nodes) failed += m.nodes.failed.length;
    });
    s.on('error', reject);
    s.on('end', () => resolve({ ms: performance.now() - t0, flows, failed }));
  });
}

async function followLatency(c: AgentClient, netns: string, dstIp: string): Promise<{ latencies: number[]; missing: number }> {
  const received = new Map<number, number>();
  const last = FOLLOW_PORT_BASE + FOLLOW_SAMPLES - 1;
  const stream = c.getFlows(request({ follow: true, sinceMs: Date.now(), allow: [{ ip: [dstIp], protocol: ['udp'] }] }));
  stream.on('data', (m: GetFlowsResponse) => {
    const port = m.flow?.destination.port ?? 0;
    if (port >= FOLLOW_PORT_BASE && port <= last && !received.has(port)) received.set(port, performance.timeOrigin + performance.now());
  });
  const ended = new Promise<void>((resolve) => {
    stream.on('error', () => resolve());
    stream.on('end', () => resolve());
  });
  await sleep(500); // the relay has opened its streams to the agents
  const sent = new Map<number, number>();
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', followSenderScript(dstIp, FOLLOW_SAMPLES, FOLLOW_GAP_MS, FOLLOW_PORT_BASE)], { stdio: ['ignore', 'pipe', 'inherit'] });
  readline.createInterface({ input: child.stdout }).on('line', (l) => {
    const [port, at] = l.split(' ').map(Number);
    if (port !== undefined && at !== undefined) sent.set(port, at);
  });
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`follow sender exited ${code}`))));
  });
  const deadline = Date.now() + 3000;
  while (received.size < sent.size && Date.now() < deadline) await sleep(50);
  stream.cancel();
  await ended;
  const latencies = [...sent].flatMap(([port, at]) => (received.has(port) ? [(received.get(port) as number) - at] : []));
  return { latencies, missing: sent.size - latencies.length };
}

export async function runRelay(signal: AbortSignal): Promise<PartResult> {
  const t0 = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-bench-relay-'));
  const savedMax = process.env.VRFWALL_MAX_FLOWS;
  let client: AgentClient | undefined;
  await labDown(LAB).catch(() => undefined);
  try {
    manifests(tmp);
    process.env.VRFWALL_MAX_FLOWS = String(FLOWS); // the lab's agents inherit it
    const upT0 = Date.now();
    const state = await labUp(tmp, { lab: LAB, nodes: NODES, agent: true, signal });
    const upMs = Date.now() - upT0;
    if (!state.relay) throw new Error(`lab ${LAB} started no relay`);
    const dst = state.plan.pods.find((p) => p.key === `${NS_DST}/dst`);
    const srcs = state.plan.pods.filter((p) => p.namespace === NS_SRC);
    if (!dst || srcs.length !== NODES) throw new Error(`lab ${LAB} lacks its pods`);
    client = new AgentClient({ label: 'relay', address: `unix:${socketOf(state.relay.instance)}`, creds: grpc.credentials.createInsecure() });
    const status = () => client!.unary<ServerStatusResponse>('state', 'ServerStatus', {}, 10_000);

    // Every node's pod floods its share at once; rounds until the agents hold FLOWS together.
    let st = await status();
    for (let round = 0; round < 4 && st.flowsHeld < FLOWS; round++) {
      signal.throwIfAborted();
      await Promise.all(
        srcs.map((p, i) => run('ip', ['netns', 'exec', p.netns, process.execPath, '-e', floodScript(dst.ips.v4, 2, [10_000 + i, 10_000 + i + PORTS_PER_NODE])], { timeoutMs: 240_000 })),
      );
      for (let i = 0; i < 50; i++) {
        await sleep(300);
        const next = await status();
        const settled = next.eventsReceived === st.eventsReceived;
        st = next;
        if (settled) break;
      }
    }
    if (st.flowsHeld < FLOWS) throw new Error(`the agents hold ${st.flowsHeld} flows after the flood (events lost: ${st.eventsLost})`);
    const perNode = (st.nodeStatus ?? []).map((s) => `${s.node} ${s.flowsHeld}`).join(', ');

    const times: number[] = [];
    let counted = 0;
    for (let i = 0; i < REPEATS; i++) {
      signal.throwIfAborted();
      const r = await getAll(client);
      if (r.failed > 0) throw new Error(`${r.failed} node(s) did not answer the relay`);
      times.push(r.ms);
      counted = r.flows;
    }
    const relayRss = (rssKb(state.relay.pid) ?? 0) / 1024;
    const node2 = srcs.find((p) => p.node === 'node2') ?? srcs[0]!;
    const follow = await followLatency(client, node2.netns, dst.ips.v4);
    if (follow.latencies.length === 0) throw new Error('the follow stream through the relay received none of the probe flows');
    const get = sample(times);
    const lat = sample(follow.latencies);
    const p50 = percentile(follow.latencies, 50);
    const p90 = percentile(follow.latencies, 90);
    const p99 = percentile(follow.latencies, 99);
    const targets: Target[] = [
      {
        id: '5a',
        description: `relay GetFlows returning ${counted.toLocaleString('en')} flows from ${NODES} agents, batch_size ${BATCH_SIZE} (median of ${REPEATS})`,
        target: 'report (no target)',
        measured: round(get.median / 1000, 3),
        unit: 's',
        met: true,
        note: `${round(get.min / 1000, 2)}–${round(get.max / 1000, 2)} s over ${REPEATS} calls; flows held: ${perNode}; relay RSS after the calls ${round(relayRss, 0)} MB`,
      },
      {
        id: '5b',
        description: 'packet to --follow client latency through the relay (sender on node2, relay on node1), p99',
        target: '<= 500 ms',
        measured: round(p99, 1),
        unit: 'ms',
        met: p99 <= 500,
        note: `${follow.latencies.length} flows: p50 ${round(p50, 1)} ms, p90 ${round(p90, 1)} ms, max ${round(lat.max, 1)} ms, ${follow.missing} not received`,
      },
    ];
    return {
      id: 'relay',
      title: '5. Relay',
      method:
        `A ${NODES}-node lab (\`${LAB}\`) with its agents (stores raised to ${FLOWS.toLocaleString('en')} flows, \`VRFWALL_MAX_FLOWS\`) and the relay \`lab up\` starts in node1. ` +
        'A pod on each node floods 1-byte UDP datagrams to a pod of another isolated namespace (each a new flow, dropped at the sender\'s from_pod) until the agents hold ' +
        `${FLOWS.toLocaleString('en')} flows together. 5a: \`GetFlows\` without a filter over the relay's unix socket, from the call to the end of the stream ` +
        '(the relay reads each agent over mutual TLS, merges in time order and sends), every message decoded by @grpc/grpc-js. ' +
        `5b: a \`follow\` stream through the relay filtered to the destination; a pod on node2 sends one datagram of a new flow every ${FOLLOW_GAP_MS} ms, stamped ` +
        'before each send; latency = the client\'s receive time (same clock) minus the stamp.',
      tables: [
        {
          title: `Relay, ${NODES} nodes`,
          columns: ['what', 'value'],
          rows: [
            ['lab up with the relay (s)', round(upMs / 1000, 1)],
            ['flows held per node', perNode],
            [`GetFlows of ${counted.toLocaleString('en')} flows via the relay: median / min / max (ms)`, `${round(get.median, 0)} / ${round(get.min, 0)} / ${round(get.max, 0)}`],
            ['follow through the relay: p50 / p90 / p99 / max (ms)', `${round(p50, 1)} / ${round(p90, 1)} / ${round(p99, 1)} / ${round(lat.max, 1)}`],
            ['relay RSS after the GetFlows calls (MB)', round(relayRss, 0)],
          ],
        },
      ],
      targets,
      notes: ['The relay, the three agents and the bench client share the same 2 cores.'],
      data: { getFlowsMs: get, followMs: { ...lat, p50, p90, p99, missing: follow.missing }, perNode, relayRssMB: relayRss, upMs },
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    if (savedMax === undefined) delete process.env.VRFWALL_MAX_FLOWS;
    else process.env.VRFWALL_MAX_FLOWS = savedMax;
    client?.close();
    await labDown(LAB).catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
