// Small process and /proc helpers shared by the parts.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Runs a command, returns stdout; throws with stderr on failure or timeout. */
export async function run(file: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<string> {
  if (opts.input !== undefined) return runWithInput(file, args, opts.input, opts.timeoutMs ?? 120_000);
  try {
    const { stdout } = await execFileP(file, args, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20 });
    return stdout;
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`${file} ${args.slice(0, 6).join(' ')}: ${err.stderr?.trim() || err.message}`);
  }
}

function runWithInput(file: string, args: string[], input: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${file} ${args.slice(0, 6).join(' ')}: exit ${code}: ${err.trim().slice(0, 2000)}`));
    });
    child.stdin.end(input);
  });
}

/** `ip netns exec NS cmd...` */
export function inNetns(netns: string, file: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<string> {
  return run('ip', ['netns', 'exec', netns, file, ...args], opts);
}

/** Busy and total jiffies of all CPUs from /proc/stat (busy = all but idle and iowait). */
export interface CpuTimes {
  busy: number;
  total: number;
}

/** All CPUs, or one (its "cpuN" line). */
export function cpuTimes(cpu?: number): CpuTimes {
  const label = cpu === undefined ? 'cpu' : `cpu${cpu}`;
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.split(' ')[0] === label);
  if (!line) throw new Error(`/proc/stat has no ${label} line`);
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest is inside user
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

export const CLK_TCK = 100; // USER_HZ on Linux

/** Resident set size of a process in kB (VmRSS), or undefined if it is gone. */
export function rssKb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function killAndWait(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
