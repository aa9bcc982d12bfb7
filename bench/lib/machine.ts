// What machine and tools produced the numbers.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { native } from '../../src/kernel/native.js';
import { REPO } from './env.js';
import type { Machine } from './report.js';

function firstLine(file: string, args: string[]): string {
  try {
    const out = execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
    return out.split('\n').find((l) => l.trim() !== '')?.trim() ?? '?';
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    const text = `${err.stdout ?? ''}\n${err.stderr ?? ''}`.split('\n').find((l) => l.trim() !== '');
    return text?.trim() ?? 'not installed';
  }
}

function libbpf(): string {
  try {
    return native().libbpfVersion();
  } catch (e) {
    return `unknown (${e instanceof Error ? e.message : String(e)})`;
  }
}

export function machine(): Machine {
  return {
    hostname: os.hostname(),
    kernel: os.release(),
    cpu: os.cpus()[0]?.model ?? '?',
    cpus: os.cpus().length,
    memoryMB: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
    libbpf: libbpf(),
    tools: {
      trafgen: firstLine('trafgen', ['-v']),
      iptables: firstLine('iptables', ['--version']),
      ipset: firstLine('ipset', ['--version']),
      nft: firstLine('nft', ['--version']),
      perf: firstLine('perf', ['--version']),
      clang: firstLine('clang', ['--version']),
    },
    loadAverageAtStart: os.loadavg(),
  };
}

export function git(): { commit: string; dirty: boolean } {
  const opts = { cwd: REPO, encoding: 'utf8' as const, stdio: ['ignore', 'pipe', 'ignore'] as ['ignore', 'pipe', 'ignore'] };
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], opts).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], opts).trim() !== '';
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: true };
  }
}
