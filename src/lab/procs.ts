// Lab background processes (responders, agents): detached spawn, liveness,
// and termination with a grace period.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../util/process.js';

const POLL_MS = 50;

export { isAlive };

/** The process's command line, or undefined if it is gone. */
export function cmdlineOf(pid: number): string[] | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s !== '');
  } catch {
    return undefined;
  }
}

/** True if pid still runs a command containing `marker` (guards against pid reuse). */
export function runs(pid: number, marker: string): boolean {
  return isAlive(pid) && (cmdlineOf(pid) ?? []).some((a) => a.includes(marker));
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** SIGTERM, then SIGKILL what is still alive after `graceMs`. Resolves when all are gone. */
export async function terminate(pids: number[], graceMs: number): Promise<void> {
  let alive = pids.filter(isAlive);
  for (const pid of alive) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(POLL_MS);
    alive = alive.filter(isAlive);
  }
  for (const pid of alive) signal(pid, 'SIGKILL');
  const killDeadline = Date.now() + 2_000;
  while (alive.length > 0 && Date.now() < killDeadline) {
    await sleep(POLL_MS);
    alive = alive.filter(isAlive);
  }
}

export interface DetachedOptions {
  /** stdout and stderr of the process go here (appended) */
  outFile: string;
  /** open an IPC channel (fd 3) the child can report readiness on */
  ipc?: boolean;
}

/**
 * Starts a process in its own session, so it outlives this CLI and a Ctrl-C in
 * the terminal does not reach it; `lab down` stops it by pid.
 */
export function spawnDetached(file: string, args: string[], opts: DetachedOptions) {
  const out = fs.openSync(opts.outFile, 'a');
  try {
    const stdio: ('ignore' | number | 'ipc')[] = ['ignore', out, out];
    if (opts.ipc) stdio.push('ipc');
    return spawn(file, args, { detached: true, stdio });
  } finally {
    fs.closeSync(out);
  }
}

/** Last lines of a log file, for error messages. */
export function tail(file: string, lines = 15): string {
  try {
    const text = fs.readFileSync(file, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
