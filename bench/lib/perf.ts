// Where a process spends its CPU, by `perf record` on its pid (node started
// with --perf-basic-prof names JavaScript functions). perf samples without
// signalling the process, unlike node --cpu-prof, whose SIGPROF interrupts
// the BPF verifier (EAGAIN) when the agent loads its programs.
import { spawn, type ChildProcess } from 'node:child_process';
import { killAndWait, run } from './sys.js';

export interface PerfRecording {
  child: ChildProcess;
  file: string;
}

export function perfRecord(pid: number, file: string): PerfRecording {
  const child = spawn('perf', ['record', '-q', '-F', '499', '-g', '-p', String(pid), '-o', file], { stdio: 'ignore' });
  return { child, file };
}

/** Everything one CPU runs (kernel and user), e.g. the core that carries a traffic test. */
export function perfRecordCpu(cpu: number, file: string): PerfRecording {
  const child = spawn('perf', ['record', '-q', '-F', '999', '-g', '-C', String(cpu), '-o', file], { stdio: 'ignore' });
  return { child, file };
}

export interface HotSymbol {
  symbol: string;
  /** share of the samples, percent */
  percent: number;
}

/** Stops the recording and returns the symbols with the most self samples. */
export async function perfHot(rec: PerfRecording, top = 80): Promise<HotSymbol[]> {
  await killAndWait(rec.child, 'SIGINT', 10_000);
  const out = await run('perf', ['report', '-i', rec.file, '--no-children', '--sort', 'sym', '--stdio', '-q', '-g', 'none'], { timeoutMs: 120_000 });
  const hot: HotSymbol[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*([\d.]+)%\s+\[[^\]]+\]\s+(.+?)\s*$/.exec(line);
    if (m) hot.push({ percent: Number(m[1]), symbol: m[2]! });
    if (hot.length >= top) break;
  }
  return hot;
}

/** Of the samples whose own symbol is `leaf`: how many, and by the nearest caller frame matching `caller` (none: its direct caller). */
export interface LeafCallers {
  samples: number;
  by: Record<string, number>;
}

/** Who calls `leaf` in a -g recording (already stopped): perf script's call chains, leaf first. */
export async function perfLeafCallers(file: string, leaf: string, caller: RegExp): Promise<LeafCallers> {
  const out = await run('perf', ['script', '-i', file, '-F', 'ip,sym'], { timeoutMs: 120_000 });
  return leafCallersOf(out, leaf, caller);
}

/** The parsing half of perfLeafCallers: chains are blocks of "address symbol" lines separated by blank lines. */
export function leafCallersOf(script: string, leaf: string, caller: RegExp): LeafCallers {
  const res: LeafCallers = { samples: 0, by: {} };
  for (const block of script.split(/\n\s*\n/)) {
    const syms = block
      .split('\n')
      .map((l) => /^\s*[0-9a-f]+\s+(.+?)\s*$/.exec(l)?.[1])
      .filter((s): s is string => s !== undefined);
    if (syms[0] !== leaf) continue;
    res.samples++;
    const who = syms.slice(1).find((s) => caller.test(s)) ?? `(none; called by ${syms[1] ?? 'nothing'})`;
    res.by[who] = (res.by[who] ?? 0) + 1;
  }
  return res;
}
