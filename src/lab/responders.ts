// Starts and stops the responder process of each lab pod.
import { distScript } from './scripts.js';
import { responderLogFile } from './names.js';
import type { PlannedPod } from './plan.js';
import { runs, spawnDetached, tail, terminate } from './procs.js';

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 1_000;
export const RESPONDER_MARKER = 'responder.js';

function responderArgs(pod: PlannedPod): string[] {
  const args = ['--name', pod.key];
  for (const port of pod.ports) args.push('--tcp', String(port), '--udp', String(port));
  // A host-network pod shares the node's addresses; answer UDP from the one asked.
  if (pod.hostNetwork) args.push('--udp-bind', pod.ips.v4, '--udp-bind', pod.ips.v6);
  return args;
}

/** Starts a pod's responder; resolves with its pid once it listens. */
export function startResponder(lab: string, pod: PlannedPod, signal?: AbortSignal): Promise<number> {
  const log = responderLogFile(lab, pod.index);
  const script = distScript('lab/responder.js');
  const child = spawnDetached('ip', ['netns', 'exec', pod.netns, process.execPath, script, ...responderArgs(pod)], {
    outFile: log,
    ipc: true,
  });
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      cleanup();
      if (child.pid !== undefined) void terminate([child.pid], 0);
      const logTail = tail(log);
      reject(new Error(`responder of ${pod.key} in ${pod.netns}: ${why}${logTail ? `\n${logTail}` : ''}`));
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

/** Stops responders by pid, skipping pids that now belong to something else. */
export async function stopResponders(pids: number[]): Promise<void> {
  await terminate(pids.filter((pid) => runs(pid, RESPONDER_MARKER)), STOP_GRACE_MS);
}
