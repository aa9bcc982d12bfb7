// Starts and stops the lab's long-running helpers: the responder of each lab
// pod, the cluster DNS server (in the built-in DNS pod), and the API server
// stand-in (in node1's namespace, behind the `kubernetes` Service).
import { APISERVER_NAME, API_TARGET_PORT } from './builtin.js';
import { distScript } from './scripts.js';
import { apiserverLogFile, responderLogFile, servicesFile } from './names.js';
import type { PlannedNode, PlannedPod } from './plan.js';
import { runs, spawnDetached, tail, terminate } from './procs.js';

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 1_000;
/** Every helper script's name ends with this (responder.js, dns-responder.js). */
export const RESPONDER_MARKER = 'responder.js';

function responderArgs(pod: PlannedPod): string[] {
  const args = ['--name', pod.key];
  for (const port of pod.ports) args.push('--tcp', String(port), '--udp', String(port));
  for (const port of pod.sctpPorts ?? []) args.push('--sctp', String(port));
  // A host-network pod shares the node's addresses; answer UDP from the one asked.
  if (pod.hostNetwork) args.push('--udp-bind', pod.ips.v4, '--udp-bind', pod.ips.v6);
  // So do the interfaces of a pod with secondary ones: a reply from :: would
  // leave from the address of the route back (eth0's), not the one probed.
  if (pod.attachments !== undefined) {
    const all = [pod.ips.v4, pod.ips.v6, ...pod.attachments.flatMap((a) => [a.ips.v4, a.ips.v6])];
    for (const ip of all) if (ip !== undefined) args.push('--udp-bind', ip);
  }
  return args;
}

/** Runs a script in a netns, detached; resolves with its pid once it reports ready over IPC. */
export function startReady(what: string, netns: string, script: string, args: string[], log: string, signal?: AbortSignal): Promise<number> {
  const child = spawnDetached('ip', ['netns', 'exec', netns, process.execPath, distScript(script), ...args], {
    outFile: log,
    ipc: true,
  });
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      cleanup();
      if (child.pid !== undefined) void terminate([child.pid], 0);
      const logTail = tail(log);
      reject(new Error(`${what} in ${netns}: ${why}${logTail ? `\n${logTail}` : ''}`));
    };
    const timer = setTimeout(() => fail(`not ready after ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    const onAbort = () => fail('aborted');
    const onExit = (code: number | null, sig: string | null) => fail(`exited (${code ?? sig}) before it was ready`);
    const onError = (err: Error) => fail(err.message);
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      child.off('exit', onExit);
      child.off('error', onError);
    };
    signal?.addEventListener('abort', onAbort);
    child.on('exit', onExit);
    child.on('error', onError);
    child.once('message', () => {
      cleanup();
      if (child.connected) child.disconnect();
      child.unref();
      resolve(child.pid as number);
    });
  });
}

/** Starts a pod's responder (the DNS server for the built-in DNS pod); resolves with its pid once it listens. */
export function startResponder(lab: string, pod: PlannedPod, signal?: AbortSignal): Promise<number> {
  const log = responderLogFile(lab, pod.index);
  if (pod.builtin === 'dns') {
    const args = ['--name', pod.key, '--records', servicesFile(lab)];
    return startReady(`DNS server of ${pod.key}`, pod.netns, 'lab/dns-responder.js', args, log, signal);
  }
  return startReady(`responder of ${pod.key}`, pod.netns, 'lab/responder.js', responderArgs(pod), log, signal);
}

/** The API server stand-in: TCP 6443 on the control-plane node, answering its name. */
export function startApiserver(lab: string, node: PlannedNode, signal?: AbortSignal): Promise<number> {
  const args = ['--name', APISERVER_NAME, '--tcp', String(API_TARGET_PORT)];
  return startReady(`API server stand-in on ${node.name}`, node.netns, 'lab/responder.js', args, apiserverLogFile(lab), signal);
}

/** Stops responders by pid, skipping pids that now belong to something else. */
export async function stopResponders(pids: number[]): Promise<void> {
  await terminate(pids.filter((pid) => runs(pid, RESPONDER_MARKER)), STOP_GRACE_MS);
}
