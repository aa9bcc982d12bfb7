// Where one datapath path spends its time: the path's frame run with
// BPF_PROG_TEST_RUN in a loop, set up exactly as part 1 sets it up, while
// `perf record -g` samples this process (a test run executes in the calling
// thread, so its kernel samples are the program, its helpers and the map
// code). This VM has no PMU, so perf samples on cpu-clock. The findings in
// bench/findings.md quote its output; rerun it when the datapath changes:
//
//   node build/bench/bench/profile.js [path] [from_pod|to_pod] [endpoints] [empty|full] [seconds]
//   (defaults: service-backend to_pod 1000 empty 8)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { native } from '../src/kernel/native.js';
import { removeBenchPins } from './lib/env.js';
import { perfHot, perfRecord } from './lib/perf.js';
import { load, paths, skb, unload, verify, type FlowMode, type Prog } from './progrun.js';
import { sleep } from './lib/sys.js';

const REPEAT = 1_000_000;

async function main(): Promise<void> {
  const [pathId = 'service-backend', progArg = 'to_pod', sizeArg = '1000', modeArg = 'empty', secsArg = '8'] = process.argv.slice(2);
  const all = paths();
  const p = all.find((x) => x.id === pathId);
  if (!p) throw new Error(`unknown path '${pathId}' (have ${all.map((x) => x.id).join(', ')})`);
  if (progArg !== 'from_pod' && progArg !== 'to_pod') throw new Error(`program must be from_pod or to_pod, not '${progArg}'`);
  const prog: Prog = progArg;
  const e = p.frames[prog];
  if (!e) throw new Error(`path ${pathId} has no ${prog} frame`);
  if (modeArg !== 'empty' && modeArg !== 'full') throw new Error(`flow map state must be empty or full, not '${modeArg}'`);
  const mode: FlowMode = modeArg;
  const size = Number(sizeArg);
  const secs = Number(secsArg);
  if (!Number.isInteger(size) || size < 6 || !(secs > 0)) throw new Error('endpoints: an integer >= 6; seconds: > 0');

  const n = native();
  removeBenchPins();
  const l = await load(n, size, mode);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-bench6-prof-'));
  try {
    verify(n, l, all);
    const rec = perfRecord(process.pid, path.join(dir, 'perf.data'));
    await sleep(500); // perf attached
    const ctx = skb(false);
    const t0 = Date.now();
    let runs = 0;
    let ns = 0;
    while (Date.now() - t0 < secs * 1000) {
      ns += n.progTestRun(l.progs[prog], e.frame, REPEAT, ctx).duration;
      runs++;
    }
    const hot = await perfHot(rec, 30);
    console.log(`${prog} ${pathId}, ${size} endpoints, flows ${mode}: ${runs} × ${REPEAT} runs, mean ${(ns / runs).toFixed(1)} ns per run (kernel's figure)`);
    console.log(`perf record -g -p ${process.pid} (cpu-clock), self samples, ${new Date().toISOString()}:`);
    for (const h of hot) console.log(`${h.percent.toFixed(2).padStart(6)} %  ${h.symbol}`);
  } finally {
    unload(n, l);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`profile: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
