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
