// Agent lifecycle on the real kernel, with real traffic: SIGTERM leaves
// enforcement in place; an agent built differently takes over with no moment
// where isolation opens or allowed traffic drops (tcx link update, and tc
// replace in the clsact fallback); `agent --cleanup` removes every program
// and pin it made.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../src/kernel/native.js';
import { TC_HANDLE, TC_PRIORITY } from '../src/agent/attach.js';
import { agentSpecs, type AgentSpec } from '../src/lab/agents.js';
import { labDown, labMatrix, labUp } from '../src/lab/lab.js';
import { PIN_ROOT, RUN_ROOT, netnsPath } from '../src/lab/names.js';
import { isAlive } from '../src/lab/procs.js';
import type { LabState } from '../src/lab/state.js';
import { withNetns } from './helpers/netns.js';
import { ROOT, matrixMismatches, readEndpoints, startAgentWith, timeUntil, udpStream } from './helpers/lab.js';
import { EXAMPLE, exampleOpen } from './helpers/cn2-example.js';

const LAB = 't4blife';
const INSTANCE = `${LAB}-node1`;
/** The programs compiled again (the Makefile's flags) with a define that changes nothing: a different build. */
function otherBuild(dir: string): void {
  const cflags = execFileSync('make', ['-s', '--no-print-directory', 'print-bpf-cflags'], { cwd: ROOT, encoding: 'utf8' }).trim().split(/\s+/);
  for (const prog of ['from_pod', 'to_pod', 'session_gc']) {
    execFileSync('clang', [...cflags, '-DVW_LIFECYCLE_TEST_BUILD=2', '-c', `bpf/${prog}.c`, '-o', path.join(dir, `${prog}.o`)], { cwd: ROOT });
  }
}

interface Hooks {
  tcx: { ingress: number[]; egress: number[] };
  tc: { ingress: number; egress: number };
}

describe('agent lifecycle', () => {
  const altDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-t4b-build-'));
  let state: LabState;
  let spec: AgentSpec;
  let pid: number;
  const bpf = native();

  const hooksOf = (dev: string): Hooks =>
    withNetns(state.plan.nodes[0]!.netns, () => {
      const i = bpf.ifNameToIndex(dev);
      const tc = (dir: 'ingress' | 'egress'): number => {
        try {
          return bpf.tcQuery(i, dir, TC_HANDLE, TC_PRIORITY);
        } catch {
          return 0; // no clsact qdisc at all
        }
      };
      return { tcx: { ingress: bpf.tcxQuery(i, 'ingress'), egress: bpf.tcxQuery(i, 'egress') }, tc: { ingress: tc('ingress'), egress: tc('egress') } };
    });
  const devs = (): string[] => state.plan.pods.filter((p) => p.hostIf !== undefined).map((p) => p.hostIf!);

  /** Starts an agent (env: VRFWALL_* settings for this one), waits until it has synced and attached. */
  async function start(env: Record<string, string> = {}): Promise<number> {
    pid = await startAgentWith(state, spec, env);
    return pid;
  }

  async function sigterm(p: number): Promise<void> {
    process.kill(p, 'SIGTERM');
    await timeUntil(() => !isAlive(p), 5000, 'agent exit after SIGTERM');
  }

  /** One isolated and one allowed UDP stream (5 ms apart) while `during` runs. */
  async function streams(ms: number, during: () => Promise<void>) {
    const iso = udpStream(state, 'non-isolated-namespace-demo/pod3', 'isolated-namespace-demo/pod1', ms);
    const ok = udpStream(state, 'isolated-namespace-demo/pod1', 'isolated-namespace-demo/pod2', ms);
    await new Promise((r) => setTimeout(r, 300));
    await during();
    const [i, o] = await Promise.all([iso, ok]);
    expect(i.sent).toBeGreaterThan(100);
    expect(i.received).toBe(0);
    expect(o.sent).toBeGreaterThan(100);
    expect(o.received).toBe(o.sent);
    return { iso: i, ok: o };
  }

  function cleanup(): void {
    execFileSync('nsenter', [
      `--net=${netnsPath(state.plan.nodes[0]!.netns)}`, '--', process.execPath, path.join(ROOT, 'dist/cli/main.js'),
      'agent', '--cleanup', '--node-name', 'node1', '--instance', INSTANCE,
    ]);
  }

  beforeAll(async () => {
    otherBuild(altDir);
    await labDown(LAB);
    state = await labUp(EXAMPLE, { lab: LAB, nodes: 1, log: () => undefined });
    spec = agentSpecs(state.plan, state.manifests)[0]!;
    pid = state.agents[0]!.pid;
  });
  afterAll(async () => {
    await labDown(LAB);
    fs.rmSync(altDir, { recursive: true, force: true });
  });

  it('SIGTERM: the agent exits, programs and maps stay and keep enforcing', async () => {
    const before = devs().map(hooksOf);
    const endpoints = readEndpoints(INSTANCE);
    await streams(2500, async () => {
      await sigterm(pid);
    });
    const log = fs.readFileSync(spec.logFile, 'utf8');
    expect(log).toContain('"signal":"SIGTERM"');
    expect(devs().map(hooksOf)).toEqual(before);
    for (const h of before) expect([h.tcx.ingress.length, h.tcx.egress.length]).toEqual([1, 1]);
    expect(readEndpoints(INSTANCE)).toEqual(endpoints);
    expect(matrixMismatches(await labMatrix(LAB), exampleOpen)).toEqual([]);
  });

  it('a different build takes over atomically (tcx link update): no open moment, nothing allowed lost', async () => {
    await start(); // the current build, adopting what the stopped agent left
    const before = devs().map(hooksOf);
    await streams(3500, async () => {
      await sigterm(pid);
      await start({ VRFWALL_BPF_DIR: altDir });
    });
    const after = devs().map(hooksOf);
    for (const [i, h] of after.entries()) {
      expect([h.tcx.ingress.length, h.tcx.egress.length]).toEqual([1, 1]); // one program per hook, never two
      expect(h.tcx.ingress[0]).not.toBe(before[i]!.tcx.ingress[0]); // the new build's programs
      expect(h.tcx.egress[0]).not.toBe(before[i]!.tcx.egress[0]);
    }
    // The old programs are gone from the kernel, not just from the hooks.
    const exists = (id: number): boolean => {
      try {
        execFileSync('bpftool', ['prog', 'show', 'id', String(id)], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    };
    const old = before.flatMap((h) => [...h.tcx.ingress, ...h.tcx.egress]);
    await timeUntil(() => old.every((id) => !exists(id)), 3000, 'old programs freed');
  });

  it('--cleanup removes every program and pin (tcx)', async () => {
    await sigterm(pid);
    cleanup();
    for (const h of devs().map(hooksOf)) expect(h).toEqual({ tcx: { ingress: [], egress: [] }, tc: { ingress: 0, egress: 0 } });
    expect(fs.existsSync(path.join(PIN_ROOT, INSTANCE))).toBe(false);
    expect(fs.existsSync(path.join(RUN_ROOT, INSTANCE))).toBe(false);
    // Nothing enforces any more: the isolated pair talks.
    const r = await udpStream(state, 'non-isolated-namespace-demo/pod3', 'isolated-namespace-demo/pod1', 300);
    expect(r.received).toBeGreaterThan(0);
  });

  it('tc fallback (--attach-mode tc) end to end: enforcement, atomic replace across builds, cleanup', async () => {
    await start({ VRFWALL_ATTACH_MODE: 'tc' });
    const first = devs().map(hooksOf);
    for (const h of first) {
      expect(h.tcx).toEqual({ ingress: [], egress: [] });
      expect(h.tc.ingress).toBeGreaterThan(0);
      expect(h.tc.egress).toBeGreaterThan(0);
    }
    expect(matrixMismatches(await labMatrix(LAB), exampleOpen)).toEqual([]);
    await streams(3500, async () => {
      await sigterm(pid);
      await start({ VRFWALL_ATTACH_MODE: 'tc', VRFWALL_BPF_DIR: altDir });
    });
    for (const [i, h] of devs().map(hooksOf).entries()) {
      expect(h.tc.ingress).toBeGreaterThan(0);
      expect(h.tc.ingress).not.toBe(first[i]!.tc.ingress);
      expect(h.tc.egress).not.toBe(first[i]!.tc.egress);
    }
    await sigterm(pid);
    cleanup();
    for (const h of devs().map(hooksOf)) expect(h).toEqual({ tcx: { ingress: [], egress: [] }, tc: { ingress: 0, egress: 0 } });
    expect(fs.existsSync(path.join(PIN_ROOT, INSTANCE))).toBe(false);
  });
});
