// Helpers for tests that run labs with agents: expected matrices, reading an
// agent's pinned maps from the kernel, and streams between pods.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { decodeEndpoint, decodeEndpointKey, decodeCounters, type CounterEntry, type EndpointValue } from '../../src/kernel/abi.js';
import { native } from '../../src/kernel/native.js';
import { readImage, type MapEntry } from '../../src/agent/mapsync.js';
import { PIN_ROOT } from '../../src/lab/names.js';
import { flowTable } from './flowtable.js';
import { CELL_FIELDS, type Matrix } from '../../src/lab/protocol.js';
import { launchAgent, waitAgentsReady, type AgentSpec } from '../../src/lab/agents.js';
import { writeState, type LabState } from '../../src/lab/state.js';
import type { StreamRequest, StreamResult } from '../../src/lab/stream.js';

const run = promisify(execFile);
export const ROOT = path.resolve(import.meta.dirname, '../..');

/** Cells that differ from `open(src, dst)`, as readable strings (empty = as expected). Families not probed (null) are skipped. */
export function matrixMismatches(m: Matrix, open: (src: string, dst: string) => boolean): string[] {
  const out: string[] = [];
  for (const [src, row] of Object.entries(m.pods)) {
    for (const [dst, cell] of Object.entries(row)) {
      for (const f of CELL_FIELDS) {
        if (cell[f] !== null && cell[f] !== open(src, dst)) out.push(`${src} -> ${dst} ${f}: ${cell[f]}, expected ${open(src, dst)}`);
      }
    }
  }
  return out;
}

export function mapPin(instance: string, map: string): string {
  return path.join(PIN_ROOT, instance, 'maps', map);
}

/** Every entry of one of an agent instance's pinned maps (not per-CPU ones), read back from the kernel. */
export function readPinnedMap(instance: string, map: string): MapEntry[] {
  const bpf = native();
  const fd = bpf.objGet(mapPin(instance, map));
  try {
    return [...readImage(bpf, fd).values()];
  } finally {
    bpf.closeFd(fd);
  }
}

/** The flows table of an agent instance: its slots in use, read in place. */
export function readFlowTable(instance: string): ReturnType<typeof flowTable> {
  const bpf = native();
  const fd = bpf.objGet(mapPin(instance, 'flows'));
  try {
    return flowTable(bpf, fd);
  } finally {
    bpf.closeFd(fd);
  }
}

/** The endpoints map of an agent instance, read back from the kernel. */
export function readEndpoints(instance: string): Map<string, EndpointValue> {
  return new Map(readPinnedMap(instance, 'endpoints').map((e) => [decodeEndpointKey(e.key), decodeEndpoint(e.value)]));
}

/**
 * TCP connections from inside a pod's netns: per "host:port" ("[v6]:port"),
 * the reply (the lab responder answers with its pod's name), 'timeout', or an
 * error code.
 */
export async function tcpFromPod(state: LabState, from: string, targets: { host: string; port: number }[]): Promise<Record<string, string>> {
  const script = `import net from 'node:net';
    const targets = ${JSON.stringify(targets)};
    const one = (t) => new Promise((res) => {
      let d = ''; const s = net.connect({ host: t.host, port: t.port });
      const timer = setTimeout(() => { s.destroy(); res('timeout'); }, 1500);
      s.setEncoding('utf8'); s.on('data', (x) => (d += x));
      s.on('close', () => { clearTimeout(timer); res(d.trim() || 'closed'); });
      s.on('error', (e) => { clearTimeout(timer); res(e.code || 'error'); });
    });
    const out = {};
    await Promise.all(targets.map(async (t) => { out[t.host.includes(':') ? '[' + t.host + ']:' + t.port : t.host + ':' + t.port] = await one(t); }));
    console.log(JSON.stringify(out));`;
  const { stdout } = await run('ip', ['netns', 'exec', podOf(state, from).netns, process.execPath, '--input-type=module', '-e', script], {
    timeout: 20_000,
  });
  return JSON.parse(stdout.trim()) as Record<string, string>;
}

/** The per-CPU counters of an agent instance, summed over CPUs. */
export function readCounters(instance: string): CounterEntry[] {
  const bpf = native();
  const fd = bpf.objGet(mapPin(instance, 'counters'));
  try {
    return decodeCounters(bpf.mapDump(fd), bpf.possibleCpus());
  } finally {
    bpf.closeFd(fd);
  }
}

/** Polls `cond` every 5 ms; returns the ms it took, or throws after timeoutMs. */
export async function timeUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (cond()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function podOf(state: LabState, key: string): LabState['plan']['pods'][number] {
  const p = state.plan.pods.find((x) => x.key === key);
  if (!p) throw new Error(`no pod ${key} in lab ${state.lab}`);
  return p;
}

/** A UDP stream from one pod to another (runs inside the source pod's netns). */
export async function udpStream(state: LabState, from: string, to: string, ms: number, intervalMs = 5): Promise<StreamResult> {
  const src = podOf(state, from);
  const dst = podOf(state, to);
  const req: StreamRequest = { target: dst.ips.v4, port: dst.probe.udp, intervalMs, durationMs: ms };
  const script = path.join(ROOT, 'dist/lab/stream.js');
  if (!fs.existsSync(script)) throw new Error(`${script} missing: run make build`);
  const { stdout } = await run('ip', ['netns', 'exec', src.netns, process.execPath, script, JSON.stringify(req)]);
  return JSON.parse(stdout) as StreamResult;
}

/**
 * Starts a lab node's agent with extra VRFWALL_* settings in its environment,
 * records it as the lab's only agent, and waits until it has synced and
 * attached. Returns its pid.
 */
export async function startAgentWith(state: LabState, spec: AgentSpec, env: Record<string, string> = {}): Promise<number> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  let pid: number;
  try {
    pid = launchAgent(spec);
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, saved);
  }
  state.agents = [{ node: spec.node, instance: spec.instance, pid, logFile: spec.logFile }];
  writeState(state);
  await waitAgentsReady([{ spec, pid }], 20_000);
  return pid;
}
