// Running `ip` and friends. Failures throw with the command line, exit status
// and the tool's own message, and for `ip -batch` the batch line that failed.
import { spawn } from 'node:child_process';

export interface RunOptions {
  input?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export class ExecError extends Error {
  constructor(
    message: string,
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'ExecError';
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(file: string, args: string[]): string {
  return [file, ...args].map(quote).join(' ');
}

/** `ip -batch -` reports "Command failed -:N"; name the line so the error is useful. */
function batchContext(stderr: string, input: string | undefined): string {
  const m = /Command failed -:(\d+)/.exec(stderr);
  if (!m || input === undefined) return '';
  const line = input.split('\n')[Number(m[1]) - 1];
  return line === undefined ? '' : ` (batch line ${m[1]}: "${line}")`;
}

export function run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const cmd = commandLine(file, args);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: timeoutMs,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => {
      const why = err.name === 'AbortError' ? 'aborted' : err.message;
      reject(new ExecError(`${cmd}: ${why}`, cmd, null, stderr));
    });
    child.on('close', (code, signal) => {
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const timedOut = code === null && Date.now() - started >= timeoutMs;
      const status = timedOut ? `timed out after ${timeoutMs} ms` : code === null ? `killed by ${signal}` : `exit ${code}`;
      const msg = stderr.trim() || stdout.trim();
      reject(new ExecError(`${cmd}: ${status}${msg ? `: ${msg}` : ''}${batchContext(stderr, opts.input)}`, cmd, code, stderr));
    });
    child.stdin.on('error', () => {
      // The child may exit before reading its input; its exit status tells why.
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs `ip` commands, one per line, in one process (in `netns` if given). */
export function ipBatch(lines: string[], netns?: string, opts: RunOptions = {}): Promise<RunResult> {
  if (lines.length === 0) return Promise.resolve({ stdout: '', stderr: '' });
  const args = [...(netns ? ['-n', netns] : []), '-batch', '-'];
  return run('ip', args, { ...opts, input: lines.join('\n') + '\n' });
}

/** Runs a command inside a named network namespace. */
export function inNetns(netns: string, file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('ip', ['netns', 'exec', netns, file, ...args], opts);
}
