// A/B of two builds of the datapath with part 1's paths and maps, in the same
// rounds: for a change to the programs, "before" and "after" measured side by
// side on this noisy machine, not in two runs minutes apart.
//
//   BENCH_A_DIR=/path/to/old/build/bpf [BENCH_B_DIR=build/bpf] [AB_ROUNDS=7]
//   [AB_REPEAT=200000] [AB_SIZE=1000] [AB_FLOWS=empty|full] node build/bench/bench/ab.js
//
// Not part of `make bench`; prints a table (net ns over the empty program,
// median of per-round values, and min–max) and writes nothing.
import fs from 'node:fs';
import path from 'node:path';
import { native } from '../src/kernel/native.js';
import { BENCH_BPF, BUILD_BPF, pinRoot } from './lib/env.js';
import { load, paths, skb, unload, verify, type FlowMode, type Loaded, type Prog } from './progrun.js';
import { sample, fmt, round } from './lib/stats.js';

const A = process.env.BENCH_A_DIR;
const B = process.env.BENCH_B_DIR ?? BUILD_BPF;
const ROUNDS = Number(process.env.AB_ROUNDS ?? 7);
const REPEAT = Number(process.env.AB_REPEAT ?? 200_000);
const SIZE = Number(process.env.AB_SIZE ?? 1_000);
const MODE = (process.env.AB_FLOWS ?? 'empty') as FlowMode;
const PROGS: readonly Prog[] = ['from_pod', 'to_pod'];

async function main(): Promise<void> {
  if (!A) throw new Error('BENCH_A_DIR: the build/bpf directory of the baseline');
  const n = native();
  const ctx = skb(false);
  const emptyRoot = pinRoot('ab-empty');
  fs.mkdirSync(emptyRoot, { recursive: true });
  const empty = n.loadObject(path.join(BENCH_BPF, 'empty.bpf.o'), { pinRoot: emptyRoot });
  const emptyFd = empty.programs.empty;
  if (emptyFd === undefined) throw new Error('empty.bpf.o has no program "empty"');
  const all = paths();
  const builds: [string, Loaded][] = [];
  try {
    builds.push(['A', await load(n, SIZE, MODE, A, 'abA-')], ['B', await load(n, SIZE, MODE, B, 'abB-')]);
    for (const [, l] of builds) verify(n, l, all);
    const net = new Map<string, number[]>();
    const push = (k: string, v: number): void => void (net.get(k) ?? net.set(k, []).get(k)!).push(v);
    const frame0 = all[0]!.frames.from_pod!.frame;
    for (let r = 0; r < ROUNDS; r++) {
      for (const p of all) {
        for (const prog of PROGS) {
          const e = p.frames[prog];
          if (!e) continue;
          // A and B back to back, order alternating per round, each paired with its own baseline run
          const order = r % 2 === 0 ? builds : [...builds].reverse();
          for (const [name, l] of order) {
            const base = n.progTestRun(emptyFd, frame0, REPEAT, ctx).duration;
            push(`${p.id}/${prog}/${name}`, n.progTestRun(l.progs[prog], e.frame, REPEAT, ctx).duration - base);
          }
        }
      }
    }
    console.log(`net ns over the empty program, median (min–max) of ${ROUNDS} rounds x ${REPEAT} runs; ${SIZE} endpoints, flows ${MODE}`);
    console.log(`A = ${A}\nB = ${B}`);
    console.log(['path', 'program', 'A', 'B', 'B - A (median of per-round differences)'].join('\t'));
    for (const p of all) {
      for (const prog of PROGS) {
        const a = net.get(`${p.id}/${prog}/A`);
        const b = net.get(`${p.id}/${prog}/B`);
        if (!a || !b) continue;
        const d = sample(b.map((v, i) => v - a[i]!));
        console.log([p.id, prog, fmt(sample(a)), fmt(sample(b)), `${round(d.median)}`].join('\t'));
      }
    }
  } finally {
    for (const [, l] of builds) unload(n, l);
    for (const f of [...Object.values(empty.programs), ...Object.values(empty.maps)]) n.closeFd(f);
    fs.rmSync(emptyRoot, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
