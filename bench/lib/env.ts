// Where things are and how long to run: one place for the paths, the names
// this benchmark may create (all prefixed, so leftovers can be found), and
// the BENCH_QUICK switch.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** Every name this benchmark creates starts with this (pins, netns, labs). */
export const PREFIX = 'bench6';
export const PIN_BASE = '/sys/fs/bpf/vrfwall';
export const RUN_BASE = '/run/vrfwall';

/** Lab names (1-20 lowercase letters/digits): one without agents, one with. */
export const LAB_PLAIN = `${PREFIX}n`;
export const LAB_VRFWALL = `${PREFIX}v`;
/** netns of the control-plane agent (no pods, no interfaces) */
export const CP_NETNS = `vrfwall-${PREFIX}-cp`;
export const CP_INSTANCE = `${PREFIX}-cp`;

export function pinRoot(name: string): string {
  return path.join(PIN_BASE, `${PREFIX}-${name}`);
}

/** Removes pins of earlier (crashed) runs of this benchmark. */
export function removeBenchPins(): void {
  if (!fs.existsSync(PIN_BASE)) return;
  for (const d of fs.readdirSync(PIN_BASE)) {
    if (d.startsWith(`${PREFIX}-`)) fs.rmSync(path.join(PIN_BASE, d), { recursive: true, force: true });
  }
}
