// Where things are and how long to run: one place for the paths, the names
// this benchmark may create (all prefixed, so leftovers can be found), and
// the BENCH_QUICK switch.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive as alive } from '../../src/util/process.js';

function findRepo(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'vrfwall') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('bench: cannot find the vrfwall repository above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const REPO = findRepo();
/** from_pod.o and to_pod.o; BENCH_BPF_DIR compares another build (e.g. an older commit's). */
export const BUILD_BPF = process.env.BENCH_BPF_DIR ?? path.join(REPO, 'build/bpf');
export const BENCH_BPF = path.join(REPO, 'build/bench/bpf');
export const OUT_JSON = path.join(REPO, 'bench/results.json');
export const OUT_MD = path.join(REPO, 'bench/RESULTS.md');

/** BENCH_QUICK=1: every part runs briefly (fewer repeats, smaller sizes). */
export const QUICK = process.env.BENCH_QUICK === '1';

/** A positive integer from the environment (e.g. BENCH_TRAFFIC_ROUNDS), or the default. */
export function envInt(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: a positive integer, not '${raw}'`);
  return v;
}

/** Every name this benchmark creates starts with this (pins, netns, labs). */
export const PREFIX = 'bench6';
/** Names of this run: PREFIX plus the pid, so two runs at once (say one of
 *  BENCH_PARTS=controlplane and one of progrun) never remove each other's pins. */
export const RUN_PREFIX = `${PREFIX}-${process.pid}`;
export const PIN_BASE = '/sys/fs/bpf/vrfwall';
export const RUN_BASE = '/run/vrfwall';

/** Lab names (1-20 lowercase letters/digits): one without agents, one with.
 *  Not per run: the traffic and flow-API parts saturate the machine, two of
 *  them at once would measure nothing; each removes its lab before it starts. */
export const LAB_PLAIN = `${PREFIX}n`;
export const LAB_VRFWALL = `${PREFIX}v`;
/** netns of the control-plane agents (no pods, no interfaces) */
export const CP_NETNS = `vrfwall-${RUN_PREFIX}-cp`;
export const CP_INSTANCE = `${RUN_PREFIX}-cp`;

export function pinRoot(name: string): string {
  return path.join(PIN_BASE, `${RUN_PREFIX}-${name}`);
}


/** The pid in a name of some run (`bench6-<pid>-...`), if it has one. */
function runPid(name: string): number | undefined {
  const m = new RegExp(`^(?:vrfwall-)?${PREFIX}-(\\d+)-`).exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Our own names, and those of earlier runs whose process is gone. */
function removable(name: string): boolean {
  const pid = runPid(name);
  return pid !== undefined && (pid === process.pid || !alive(pid));
}

/** Removes pins and run directories of this run and of crashed earlier runs;
 *  never those of a run that is still going. */
export function removeBenchPins(): void {
  for (const base of [PIN_BASE, RUN_BASE]) {
    if (!fs.existsSync(base)) continue;
    for (const d of fs.readdirSync(base)) if (removable(d)) fs.rmSync(path.join(base, d), { recursive: true, force: true });
  }
}

/** Network namespaces of crashed earlier runs (`vrfwall-bench6-<pid>-*`). */
export function staleNetns(list: string[]): string[] {
  return list.filter((n) => n.startsWith(`vrfwall-${PREFIX}-`) && removable(n));
}
