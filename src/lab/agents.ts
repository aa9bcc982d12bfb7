// The lab's one way to start a vrfwall agent per node, and to know it is ready.
//
// Contract with the agent (src/cli/main.ts `agent`): it runs in the node's
// network namespace, entered with `nsenter --net` (not `ip netns exec`, which
// remounts /sys and would hide the bpffs at /sys/fs/bpf), and after each
// successful reconcile writes /run/vrfwall/<instance>/status.json:
//   { "pid": n, "generation": n, "synced": true, "attached": ["ns/pod", ...], "time": iso }
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RUN_ROOT, agentInstance, agentLogFile, agentOutFile, agentStatusFile, builtinDir, clusterFile, netnsPath } from './names.js';
import type { LabPlan } from './plan.js';
import { isAlive, runs, spawnDetached, tail, terminate } from './procs.js';
import { distScript } from './scripts.js';
import { agentApiArgs, labTls } from './relay.js';

export interface AgentSpec {
  node: string;
  nodeNetns: string;
  /** the user's directory and the lab's built-in one (cluster DNS, `kubernetes`) */
  manifests: string[];
  clusterFile: string;
  instance: string;
  logFile: string;
  /** the process's own stdout/stderr (crashes before logging starts) */
  outFile: string;
  /** pods the agent must list as attached before the lab is ready */
  localPods: string[];
  /** flags of its mutual-TLS API listener, for the lab's relay (relay.ts agentApiArgs) */
  apiArgs?: string[];
}

export interface AgentStatus {
  pid: number;
  generation: number;
  synced: boolean;
  attached: string[];
  time: string;
}

export const DEFAULT_AGENT_TIMEOUT_MS = 30_000;
const AGENT_STOP_GRACE_MS = 5_000;
const POLL_MS = 100;

export function agentSpecs(plan: LabPlan, manifestsDir: string): AgentSpec[] {
  // With the lab's certificates (made when it starts agents, relay.ts), every
  // agent, also one a test starts again, listens on mutual TLS for the relay.
  const tls = labTls(plan.lab);
  const withApi = fs.existsSync(tls.agent.cert);
  return plan.nodes.map((node) => {
    const instance = agentInstance(plan.lab, node.name);
    return {
      node: node.name,
      nodeNetns: node.netns,
      manifests: [manifestsDir, builtinDir(plan.lab)],
      clusterFile: clusterFile(plan.lab),
      instance,
      logFile: agentLogFile(plan.lab, node.name),
      outFile: agentOutFile(plan.lab, node.name),
      // Every interface the agent must enforce on: the pods' own and their secondary ones ("ns/pod@ifname").
      localPods: plan.pods
        .filter((p) => p.node === node.name && !p.hostNetwork)
        .flatMap((p) => [p.key, ...(p.attachments ?? []).map((a) => `${p.key}@${a.interface}`)]),
      ...(withApi ? { apiArgs: agentApiArgs(tls, node) } : {}),
    };
  });
}

/** Command line of a node's agent. */
export function agentCommand(spec: AgentSpec): { file: string; args: string[] } {
  return {
    file: 'nsenter',
    args: [
      `--net=${netnsPath(spec.nodeNetns)}`,
      '--',
      process.execPath,
      distScript('lab/main.js'),
      'agent',
      '--node-name', spec.node,
      ...spec.manifests.flatMap((dir) => ['--manifests', dir]),
      '--lab-file', spec.clusterFile,
      '--instance', spec.instance,
      '--log-file', spec.logFile,
      ...(spec.apiArgs ?? []),
    ],
  };
}

/** Starts one agent, detached; returns its pid (nsenter execs the agent, so the pid is the agent's). */
export function launchAgent(spec: AgentSpec): number {
  // A status file left by an earlier run must not pass for this agent's (the
  // pid check below also guards this). The rest of the run dir (e.g. VRF ids)
  // belongs to the agent and survives restarts.
  fs.rmSync(agentStatusFile(spec.instance), { force: true });
  const { file, args } = agentCommand(spec);
  const child = spawnDetached(file, args, { outFile: spec.outFile });
  if (child.pid === undefined) throw new Error(`could not start the agent for ${spec.node}: ${file} did not start`);
  child.on('error', () => undefined); // reported by waitAgentsReady as "exited"
  child.unref();
  return child.pid;
}

function readStatus(instance: string): AgentStatus | undefined {
  try {
    return JSON.parse(fs.readFileSync(agentStatusFile(instance), 'utf8')) as AgentStatus;
  } catch {
    return undefined; // not written yet, or caught mid-write by a non-atomic writer
  }
}

function readiness(spec: AgentSpec, pid: number): { ready: boolean; why: string } {
  const st = readStatus(spec.instance);
  if (!st) return { ready: false, why: `no ${agentStatusFile(spec.instance)} yet` };
  if (st.pid !== pid) return { ready: false, why: `status is from pid ${st.pid}, not ${pid}` };
  if (!st.synced) return { ready: false, why: `not synced (generation ${st.generation})` };
  const missing = spec.localPods.filter((p) => !st.attached.includes(p));
  if (missing.length > 0) return { ready: false, why: `not attached to ${missing.join(', ')}` };
  return { ready: true, why: '' };
}

function agentFailure(spec: AgentSpec, pid: number, why: string): Error {
  const logs = [spec.logFile, spec.outFile].map((f) => ({ f, t: tail(f, 10) })).filter((x) => x.t !== '');
  const shown = logs.map((x) => `--- ${path.basename(x.f)}\n${x.t}`).join('\n');
  return new Error(`agent for ${spec.node} (pid ${pid}) ${why}${shown ? `; its last log lines:\n${shown}` : '; it wrote no log'}`);
}

/** Waits until every agent says synced and lists all its local pods as attached. */
export async function waitAgentsReady(
  agents: { spec: AgentSpec; pid: number }[],
  timeoutMs = DEFAULT_AGENT_TIMEOUT_MS,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = agents;
  while (pending.length > 0) {
    signal?.throwIfAborted();
    const still: typeof pending = [];
    for (const a of pending) {
      const r = readiness(a.spec, a.pid);
      if (r.ready) continue;
      if (!isAlive(a.pid)) throw agentFailure(a.spec, a.pid, 'exited before it was ready');
      if (Date.now() >= deadline) throw agentFailure(a.spec, a.pid, `not ready after ${timeoutMs / 1000} s: ${r.why}`);
      still.push(a);
    }
    pending = still;
    if (pending.length > 0) await sleep(POLL_MS);
  }
}

/** SIGTERM the lab's agents, SIGKILL after a grace period. */
export async function stopAgents(agents: { instance: string; pid: number }[]): Promise<void> {
  await terminate(
    agents.filter((a) => runs(a.pid, a.instance)).map((a) => a.pid),
    AGENT_STOP_GRACE_MS,
  );
}

/** Run directories of a lab's agent instances (/run/vrfwall/<lab>-*). */
export function agentRunDirs(lab: string): string[] {
  try {
    return fs
      .readdirSync(RUN_ROOT)
      .filter((d) => d.startsWith(`${lab}-`))
      .map((d) => path.join(RUN_ROOT, d));
  } catch {
    return [];
  }
}
