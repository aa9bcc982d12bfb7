// Flow export on the real kernel (issue 15 item 3): a 1-node lab of the CN2
// example (copied to a temp dir), its agent started again with
// --flow-export-file; a denied UDP probe (isolated -> default) is in the file
// with its reason, next to an allowed one (the positive control), and the
// agent's status and metrics count what was written.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, socketOf } from '../src/api/client.js';
import type { FlowMsg, ServerStatusResponse } from '../src/api/messages.js';
import { agentSpecs, launchAgent, stopAgents, waitAgentsReady } from '../src/lab/agents.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { writeState, type LabState } from '../src/lab/state.js';
import { netnsPath } from '../src/lab/names.js';
import { ROOT, podOf } from './helpers/lab.js';

const run = promisify(execFile);
const LAB = 'export1';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-export1-'));
const EXAMPLE = path.join(tmp, 'example');
const FILE = path.join(tmp, 'out', 'flows.jsonl');
let state: LabState;
let client: AgentClient | undefined;

async function sendUdp(from: string, to: string, sport: number): Promise<void> {
  const src = podOf(state, from);
  const dst = podOf(state, to);
  const script = `
    const s = require('node:dgram').createSocket('udp4');
    s.bind(${sport}, async () => {
      for (let i = 0; i < 3; i++) await new Promise((r) => s.send(Buffer.alloc(20, 7), 8080, ${JSON.stringify(dst.ips.v4)}, r));
      s.close();
    });`;
  await run('ip', ['netns', 'exec', src.netns, process.execPath, '-e', script]);
}

function exported(): FlowMsg[] {
  if (!fs.existsSync(FILE)) return [];
  return fs
    .readFileSync(FILE, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as FlowMsg);
}

beforeAll(async () => {
  fs.cpSync(path.join(ROOT, 'examples/cn2-isolated-namespace'), EXAMPLE, { recursive: true });
  fs.mkdirSync(path.dirname(FILE));
  await labDown(LAB);
  state = await labUp(EXAMPLE, { lab: LAB, nodes: 1, log: () => undefined });
  // The lab's agent again, exporting (it adopts its pins).
  await stopAgents(state.agents);
  const spec = agentSpecs(state.plan, EXAMPLE)[0]!;
  const pid = launchAgent({ ...spec, apiArgs: [...(spec.apiArgs ?? []), '--flow-export-file', FILE, '--flow-export-max-size', '10', '--flow-export-deny', '[{"protocol":["icmpv6"]}]'] });
  state.agents = [{ node: spec.node, instance: spec.instance, pid, logFile: spec.logFile }];
  writeState(state);
  await waitAgentsReady([{ spec, pid }]);
  client = new AgentClient({ label: spec.node, address: `unix:${socketOf(spec.instance)}`, creds: grpc.credentials.createInsecure() });
}, 120_000);

afterAll(async () => {
  client?.close();
  await labDown(LAB);
  fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe('flow export in a lab', () => {
  it('a denied probe is in the export file with its reason; an allowed one too (control); status counts them', async () => {
    const isolated = 'isolated-namespace-demo/pod1';
    const open = state.plan.pods.find((p) => !p.hostNetwork && p.key.startsWith('default/'))!.key;
    const sameNet = 'isolated-namespace-demo/pod2';
    await sendUdp(isolated, open, 32101); // denied: ISOLATED
    await sendUdp(isolated, sameNet, 32102); // allowed: the same network
    // ICMPv6 for the deny filter to leave out (a positive control for "filtered")
    await run('ip', ['netns', 'exec', podOf(state, isolated).netns, 'ping', '-6', '-c', '2', '-i', '0.2', '-W', '1', podOf(state, sameNet).ips.v6]).catch(() => undefined);
    const key = (e: FlowMsg['source']) => `${e.namespace}/${e.pod}`;
    let denied: FlowMsg | undefined;
    let allowed: FlowMsg | undefined;
    for (let i = 0; i < 100 && !(denied && allowed); i++) {
      const all = exported();
      denied = [...all].reverse().find((f) => f.source.port === 32101 && key(f.source) === isolated && key(f.destination) === open);
      allowed = [...all].reverse().find((f) => f.source.port === 32102 && key(f.source) === isolated && key(f.destination) === sameNet);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(denied).toMatchObject({ verdict: 'VERDICT_DROPPED', dropReason: 'ISOLATED', protocolName: 'udp', node: 'node1' });
    expect(denied!.forward.droppedPackets).toBeGreaterThan(0);
    expect(allowed).toMatchObject({ verdict: 'VERDICT_ALLOWED', dropReason: '', protocolName: 'udp' });
    // the deny filter left out ICMPv6 (neighbour discovery), and nothing else changed the record's shape
    expect(exported().some((f) => f.protocolName === 'icmpv6')).toBe(false);
    const s = await client!.unary<ServerStatusResponse>('state', 'ServerStatus', {});
    expect(s.flowExport).toMatchObject({ file: FILE, dropped: 0, lastError: '' });
    expect(s.flowExport!.written).toBeGreaterThanOrEqual(2);
    // and in the metrics, in the node's namespace
    const n = state.plan.nodes[0]!;
    const { stdout } = await run('nsenter', [`--net=${netnsPath(n.netns)}`, '--', 'curl', '-sf', 'http://127.0.0.1:9477/metrics']);
    expect(stdout).toMatch(/^vrfwall_flow_export_records_written_total [1-9]/m);
    expect(stdout).toMatch(/^vrfwall_flow_export_records_dropped_total 0$/m);
    expect(stdout).toMatch(/^vrfwall_flow_export_records_filtered_total [1-9]/m); // the pings the deny filter left out
    expect(stdout).toMatch(/^vrfwall_flow_export_lag_seconds \d/m);
  }, 30_000);
});
