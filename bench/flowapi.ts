// Part 4: the flow API (issue 5), and the flow side of part 3's memory target.
//
// One one-node lab with the vrfwall agent (its flow store raised to 100,000
// with VRFWALL_MAX_FLOWS, which the lab's agent inherits). A pod floods
// distinct UDP flows to a pod of another isolated namespace (dropped at
// from_pod: one kernel flow entry and one ring-buffer NEW event per datagram)
// until the agent's store holds 100,000 flows. Then:
// - 4a: GetFlows without a filter over the unix socket, call -> last message,
//   every flow decoded by the client (@grpc/grpc-js, as `vrfwall flows` does);
// - memory: the agent's VmRSS before the flood and with 100,000 flows held (target 3c itself is
//   measured in part 3: one agent with 100k endpoints and 100k flows);
// - agent CPU while nothing happens but the kernel flow map is full (what a
//   periodic reader costs at rest), and during the flood per new flow;
// - 4b: a --follow stream and a sender in the pod that sends one datagram of a
//   new flow every few ms, stamping the wall clock just before each send; the
//   latency is the client's receive time minus that stamp (one machine, one clock).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { AgentClient, socketOf } from '../src/api/client.js';
import type { GetFlowsRequest, GetFlowsResponse, ServerStatusResponse } from '../src/api/messages.js';
import { flowsOf } from '../src/api/messages.js';
import { labDown, labUp } from '../src/lab/lab.js';
import type { PlannedPod } from '../src/lab/plan.js';
import { PREFIX, QUICK } from './lib/env.js';
import type { PartResult, Table, Target } from './lib/report.js';
import { percentile, round, sample } from './lib/stats.js';
import { CLK_TCK, rssKb, run, sleep } from './lib/sys.js';

const LAB = `${PREFIX}f`;
const FLOWS = 100_000;
const GETFLOWS_REPEATS = QUICK ? 2 : 5;
const FOLLOW_SAMPLES = QUICK ? 100 : 500;
const FOLLOW_GAP_MS = 5;
const IDLE_WINDOW_MS = QUICK ? 3000 : 10_000;
const NS_SRC = 'flowbench-a';
const NS_DST = 'flowbench-b';
/** The follow probe's destination ports: far from the flood's. */
const FOLLOW_PORT_BASE = 1000;
const FLOOD_PORTS = [10_000, 65_000] as const;

function manifests(dir: string): void {
  const ns = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  labels:\n    vrfwall.dev/isolated: "true"\n`;
  const pod = (namespace: string, name: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n  nodeName: node1\n  containers:\n    - name: c\n      image: none\n`;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'flowbench.yaml'), [ns(NS_SRC), ns(NS_DST), pod(NS_SRC, 'src'), pod(NS_DST, 'dst')].join('---\n'));
}

/** utime + stime of a process, in ms. */
function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

function request(r: Partial<GetFlowsRequest>): GetFlowsRequest {
  return { allow: [], deny: [], last: 0, first: 0, sinceMs: 0, untilMs: 0, follow: false, batchSize: 0, ...r };
}

/** Datagrams from one pod: `sockets` sockets x the given destination ports, paced so the ring buffer keeps up. */
export function floodScript(dstIp: string, sockets: number, ports: readonly [number, number]): string {
  return `
    const dgram = require('node:dgram');
    const buf = Buffer.alloc(1);
    (async () => {
      const socks = [];
      for (let i = 0; i < ${sockets}; i++) { const s = dgram.createSocket('udp4'); await new Promise((r) => s.bind(0, r)); socks.push(s); }
      let pending = 0;
      for (let port = ${ports[0]}; port < ${ports[1]}; port++) {
        for (const s of socks) { pending++; s.send(buf, port, ${JSON.stringify(dstIp)}, () => { pending--; }); }
        if (port % 250 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      while (pending > 0) await new Promise((r) => setTimeout(r, 5));
      for (const s of socks) s.close();
    })();`;
}

/** One datagram of a new flow every gap ms; prints "<port> <wall ms>" just before each send. */
export function followSenderScript(dstIp: string, count: number, gapMs: number, base: number): string {
  return `
    const s = require('node:dgram').createSocket('udp4');
    const buf = Buffer.alloc(1);
    s.bind(0, async () => {
      for (let i = 0; i < ${count}; i++) {
        const port = ${base} + i;
        const at = performance.timeOrigin + performance.now();
        await new Promise((r) => s.send(buf, port, ${JSON.stringify(dstIp)}, r));
        process.stdout.write(port + ' ' + at + '\\n');
        await new Promise((r) => setTimeout(r, ${gapMs}));
      }
      s.close();
    });`;
}

async function status(c: AgentClient): Promise<ServerStatusResponse> {
  return c.unary<ServerStatusResponse>('state', 'ServerStatus', {}, 10_000);
}

/** Flows per message in the batched calls (what `vrfwall flows` asks for). */
const BATCH_SIZE = 500;

/** GetFlows without a filter: ms from the call to its end, and how many flows came. */
function getAll(c: AgentClient, batchSize: number): Promise<{ ms: number; flows: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let flows = 0;
    const s = c.getFlows(request({ batchSize }));
    s.on('data', (m: GetFlowsResponse) => {
      flows += flowsOf(m).length;
    });
    s.on('error', reject);
    s.on('end', () => resolve({ ms: performance.now() - t0, flows }));
  });
}

/** Sends FOLLOW_SAMPLES new flows while a --follow stream listens; latency per flow in ms. */
async function followLatency(c: AgentClient, src: PlannedPod, dstIp: string): Promise<{ latencies: number[]; missing: number }> {
  const received = new Map<number, number>();
  const ports = [FOLLOW_PORT_BASE, FOLLOW_PORT_BASE + FOLLOW_SAMPLES - 1];
  const stream = c.getFlows(request({ follow: true, sinceMs: Date.now(), allow: [{ ip: [dstIp], protocol: ['udp'] }] }));
  stream.on('data', (m: GetFlowsResponse) => {
    const port = m.flow?.destination.port ?? 0;
    if (port >= ports[0]! && port <= ports[1]! && !received.has(port)) received.set(port, performance.timeOrigin + performance.now());
  });
  const ended = new Promise<void>((resolve) => {
    stream.on('error', () => resolve());
    stream.on('end', () => resolve());
  });
  await sleep(300); // the stream is open and subscribed
  const sent = new Map<number, number>();
  const child = spawn('ip', ['netns', 'exec', src.netns, process.execPath, '-e', followSenderScript(dstIp, FOLLOW_SAMPLES, FOLLOW_GAP_MS, FOLLOW_PORT_BASE)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: child.stdout });
  lines.on('line', (l) => {
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
  const latencies: number[] = [];
  for (const [port, at] of sent) {
    const got = received.get(port);
    if (got !== undefined) latencies.push(got - at);
  }
  return { latencies, missing: sent.size - latencies.length };
}

export async function runFlowApi(signal: AbortSignal): Promise<PartResult> {
  const t0 = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-bench-flows-'));
  const savedMax = process.env.VRFWALL_MAX_FLOWS;
  let client: AgentClient | undefined;
  await labDown(LAB).catch(() => undefined);
  try {
    manifests(tmp);
    process.env.VRFWALL_MAX_FLOWS = String(FLOWS); // the lab's agent inherits it
    const state = await labUp(tmp, { lab: LAB, agent: true, signal });
    const agent = state.agents[0];
    if (!agent) throw new Error(`lab ${LAB} started no agent`);
    const src = state.plan.pods.find((p) => p.key === `${NS_SRC}/src`);
    const dst = state.plan.pods.find((p) => p.key === `${NS_DST}/dst`);
    if (!src || !dst) throw new Error(`lab ${LAB} lacks its pods`);
    client = new AgentClient({ label: agent.node, address: `unix:${socketOf(agent.instance)}`, creds: grpc.credentials.createInsecure() });
    await sleep(1000);
    const rssBefore = (rssKb(agent.pid) ?? 0) / 1024;

    // Flood until the store holds FLOWS flows (events the ring could not take are lost, so more may be needed).
    const floodCpu0 = cpuMs(agent.pid);
    const floodT0 = Date.now();
    let st = await status(client);
    const seen0 = st.flowsSeen;
    for (let round = 0; round < 4 && st.flowsHeld < FLOWS; round++) {
      signal.throwIfAborted();
      await run('ip', ['netns', 'exec', src.netns, process.execPath, '-e', floodScript(dst.ips.v4, 2, FLOOD_PORTS)], { timeoutMs: 180_000 });
      for (let i = 0; i < 50; i++) {
        await sleep(200);
        const next = await status(client);
        const settled = next.eventsReceived === st.eventsReceived;
        st = next;
        if (settled) break;
      }
    }
    const floodMs = Date.now() - floodT0;
    const floodCpu = cpuMs(agent.pid) - floodCpu0;
    const newFlows = st.flowsSeen - seen0;
    const rssFull = (rssKb(agent.pid) ?? 0) / 1024;
    if (st.flowsHeld < FLOWS) throw new Error(`the agent holds ${st.flowsHeld} flows after the flood (events lost in the ring: ${st.eventsLost})`);

    // At rest with the kernel map full: what the reader costs when nothing happens.
    const idleCpu0 = cpuMs(agent.pid);
    const idleT0 = Date.now();
    await sleep(IDLE_WINDOW_MS);
    const idleCpuPct = ((cpuMs(agent.pid) - idleCpu0) / (Date.now() - idleT0)) * 100;
    const kernelFlows = st.maps.find((m) => m.name === 'flows');

    // One flow per message and batched, alternating, side by side in this run.
    const getFlows: number[] = [];
    const getSingle: number[] = [];
    let counted = 0;
    for (let i = 0; i < GETFLOWS_REPEATS; i++) {
      signal.throwIfAborted();
      const single = await getAll(client, 0);
      const batched = await getAll(client, BATCH_SIZE);
      if (single.flows !== batched.flows) throw new Error(`GetFlows gave ${single.flows} flows one by one but ${batched.flows} batched`);
      getSingle.push(single.ms);
      getFlows.push(batched.ms);
      counted = batched.flows;
    }
    const rssAfterQueries = (rssKb(agent.pid) ?? 0) / 1024;

    signal.throwIfAborted();
    const follow = await followLatency(client, src, dst.ips.v4);
    if (follow.latencies.length === 0) throw new Error('the --follow stream received none of the probe flows');
    const lat = sample(follow.latencies);
    const p99 = percentile(follow.latencies, 99);
    const p50 = percentile(follow.latencies, 50);
    const get = sample(getFlows);
    const one = sample(getSingle);

    const tables: Table[] = [
      {
        title: `GetFlows without a filter, ${counted.toLocaleString('en')} flows over the unix socket (ms, ${GETFLOWS_REPEATS} calls)`,
        columns: ['messages', 'median', 'min', 'max', 'flows per call', 'time vs one per message'],
        rows: [
          ['one Flow each', round(one.median, 0), round(one.min, 0), round(one.max, 0), counted, '1.00'],
          [`batches of ${BATCH_SIZE}`, round(get.median, 0), round(get.min, 0), round(get.max, 0), counted, round(get.median / one.median, 2)],
        ],
      },
      {
        title: `Packet → --follow client (ms, ${follow.latencies.length} new flows, one every ${FOLLOW_GAP_MS} ms)`,
        columns: ['p50', 'p90', 'p99', 'max', 'not received within 3 s'],
        rows: [[round(p50, 1), round(percentile(follow.latencies, 90), 1), round(p99, 1), round(lat.max, 1), follow.missing]],
      },
      {
        title: 'Agent memory and CPU with the flow store full',
        columns: ['what', 'value'],
        rows: [
          ['agent RSS before the flood (MB)', round(rssBefore, 0)],
          [`agent RSS with ${st.flowsHeld.toLocaleString('en')} flows held (MB)`, round(rssFull, 0)],
          ['agent RSS after the GetFlows calls (MB)', round(rssAfterQueries, 0)],
          ['kernel flows map entries / max', kernelFlows ? `${kernelFlows.entries} / ${kernelFlows.maxEntries}` : '—'],
          [`agent CPU at rest, kernel map full (% of one core over ${IDLE_WINDOW_MS / 1000} s)`, round(idleCpuPct, 1)],
          ['flood: new flows seen by the agent', newFlows],
          ['flood: agent CPU per new flow (µs)', newFlows > 0 ? round((floodCpu * 1000) / newFlows, 1) : '—'],
          ['flood: wall time (s)', round(floodMs / 1000, 1)],
          ['ring-buffer events received / lost in the kernel', `${st.eventsReceived} / ${st.eventsLost}`],
        ],
      },
    ];
    const targets: Target[] = [
      {
        id: '4a',
        description: `GetFlows returning ${counted.toLocaleString('en')} flows, batch_size ${BATCH_SIZE} (median of ${GETFLOWS_REPEATS})`,
        target: '<= 1 s',
        measured: round(get.median / 1000, 3),
        unit: 's',
        met: get.median <= 1000,
        note: `${round(get.min / 1000, 2)}–${round(get.max / 1000, 2)} s over ${GETFLOWS_REPEATS} calls; one Flow per message: ${round(one.median / 1000, 2)} s (${round(get.median / one.median, 2)}×)`,
      },
      {
        id: '4b',
        description: 'packet to --follow client latency, p99',
        target: '<= 200 ms',
        measured: round(p99, 1),
        unit: 'ms',
        met: p99 <= 200,
        note: `${follow.latencies.length} flows: p50 ${round(p50, 1)} ms, max ${round(lat.max, 1)} ms, ${follow.missing} not received`,
      },
    ];
    return {
      id: 'flowapi',
      title: '4. Flow API',
      method:
        `A one-node lab (\`${LAB}\`) with the vrfwall agent, its store raised to ${FLOWS.toLocaleString('en')} flows (\`VRFWALL_MAX_FLOWS\`). ` +
        `A pod floods 1-byte UDP datagrams (2 sockets × ${FLOOD_PORTS[1] - FLOOD_PORTS[0]} destination ports) to a pod of another isolated namespace: ` +
        'each is a new flow, dropped at from_pod, announced by a ring-buffer event (the kernel map holds 65,536; the store keeps the rest). ' +
        `4a: \`GetFlows\` without a filter over the agent's unix socket, from the call to the end of the stream, every message decoded by @grpc/grpc-js. ` +
        `4b: a \`follow\` stream filtered to the destination; a sender in the pod sends one datagram of a new flow every ${FOLLOW_GAP_MS} ms and stamps ` +
        '`performance.timeOrigin + performance.now()` before each send; latency = the client\'s receive time (same clock) minus the stamp. ' +
        'Memory: VmRSS of the agent. CPU: utime+stime of the agent from /proc.',
      tables,
      targets,
      notes: [
        'The bench client runs on the same 2 cores as the agent: its decoding of 100k messages is inside the 4a figure, as it would be for `vrfwall flows`.',
        `Memory: the flows add ${round(rssFull - rssBefore, 0)} MB to this agent (lab endpoints only); target 3c (part 3) measures one agent with 100k endpoints and 100k flows.`,
      ],
      data: {
        getFlowsMs: get,
        followMs: { ...lat, p50, p99, missing: follow.missing },
        rssMB: { before: rssBefore, full: rssFull, afterQueries: rssAfterQueries },
        idleCpuPct,
        flood: { ms: floodMs, cpuMs: floodCpu, newFlows, eventsReceived: st.eventsReceived, eventsLost: st.eventsLost },
        flowsHeld: st.flowsHeld,
      },
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
