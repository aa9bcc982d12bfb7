// `make bench`: runs the parts of issues 6 and 12 one after the other and
// writes bench/results.json and bench/RESULTS.md (rendered from the same object).
//
// BENCH_QUICK=1   every part briefly (iteration; numbers indicative only)
// BENCH_PROGRUN_ROUNDS / _REPEAT / _FIRST, BENCH_TRAFFIC_ROUNDS / _WINDOW_MS,
// BENCH_TRAFFIC_EXTRA=1, BENCH_FLOWS_FILL=datapath|addon: see bench/progrun.ts,
// bench/traffic.ts and bench/lib/flowtable.ts
// BENCH_PARTS=a,b only these parts (progrun, traffic, controlplane, flowapi, relay);
//                 the other parts keep their entries from the previous results.json
// BENCH_RENDER=1  run nothing: write RESULTS.md again from results.json and
//                 findings.md (after editing the findings)
import fs from 'node:fs';
import path from 'node:path';
import { OUT_JSON, OUT_MD, QUICK, removeBenchPins } from './lib/env.js';
import { git, machine } from './lib/machine.js';
import { resultsMarkdown, type BenchResults, type PartResult } from './lib/report.js';
import { runProgTestRun } from './progrun.js';
import { runTraffic } from './traffic.js';
import { runControlPlane } from './controlplane.js';
import { runFlowApi } from './flowapi.js';
import { runRelay } from './relay.js';

const PARTS: Record<string, { title: string; run: (signal: AbortSignal) => Promise<PartResult> }> = {
  progrun: { title: '1. Per-packet cost (BPF_PROG_TEST_RUN)', run: () => runProgTestRun() },
  traffic: { title: '2. Traffic', run: (s) => runTraffic(s) },
  controlplane: { title: '3. Control plane', run: (s) => runControlPlane(s) },
  flowapi: { title: '4. Flow API', run: (s) => runFlowApi(s) },
  relay: { title: '5. Relay', run: (s) => runRelay(s) },
};

const NOT_RERUN = '_Not rerun in this run:';

function failed(id: string, title: string, err: unknown, seconds: number): PartResult {
  const msg = err instanceof Error ? err.message : String(err);
  return { id, title, method: '', tables: [], targets: [], notes: [`**The part failed:** ${msg}`], data: { error: msg }, seconds };
}

function previous(): BenchResults | undefined {
  try {
    return JSON.parse(fs.readFileSync(OUT_JSON, 'utf8')) as BenchResults;
  } catch {
    return undefined;
  }
}

function writeMarkdown(results: BenchResults): void {
  // Hand-written findings from profiling (the reasons behind missed targets) follow the generated part.
  const findings = path.join(path.dirname(OUT_MD), 'findings.md');
  const extra = fs.existsSync(findings) ? '\n' + fs.readFileSync(findings, 'utf8') : '';
  fs.writeFileSync(OUT_MD, resultsMarkdown(results) + extra);
}

async function main(): Promise<void> {
  if (process.env.BENCH_RENDER === '1') {
    const r = previous();
    if (!r) throw new Error(`BENCH_RENDER: no ${OUT_JSON} to render`);
    writeMarkdown(r);
    console.error(`bench: wrote ${OUT_MD} from ${OUT_JSON}`);
    return;
  }
  const wanted = (process.env.BENCH_PARTS ?? Object.keys(PARTS).join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const w of wanted) if (!PARTS[w]) throw new Error(`BENCH_PARTS: unknown part '${w}' (have ${Object.keys(PARTS).join(', ')})`);

  // First SIGINT/SIGTERM aborts the running part, which cleans up after itself.
  const ac = new AbortController();
  const onSignal = (sig: string): void => {
    if (ac.signal.aborted) return;
    console.error(`bench: ${sig}, stopping and cleaning up`);
    ac.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  removeBenchPins();
  const startedAt = new Date().toISOString();
  const g = git();
  const mach = machine(); // load average at the start
  const fresh = new Map<string, PartResult>();
  for (const id of Object.keys(PARTS)) {
    const part = PARTS[id]!;
    if (!wanted.includes(id) || ac.signal.aborted) continue;
    console.error(`bench: ${part.title} ...`);
    const t0 = Date.now();
    try {
      fresh.set(id, await part.run(ac.signal));
    } catch (e) {
      console.error(`bench: ${part.title} failed: ${e instanceof Error ? e.stack : String(e)}`);
      fresh.set(id, failed(id, part.title, e, (Date.now() - t0) / 1000));
    }
    console.error(`bench: ${part.title} done in ${Math.round((Date.now() - t0) / 1000)} s`);
  }
  // Parts not run now keep their entries from results.json as it is *now*
  // (read at the end, so a run of other parts that finished meanwhile is kept).
  const prev = previous();
  const parts: PartResult[] = [];
  for (const id of Object.keys(PARTS)) {
    const now = fresh.get(id);
    if (now) {
      parts.push(now);
      continue;
    }
    const old = prev?.parts.find((p) => p.id === id);
    if (!old) continue;
    // The date of the run the figures come from, once (a part kept over several runs keeps its first date).
    const kept = old.notes.find((n) => n.startsWith(NOT_RERUN)) ?? `${NOT_RERUN} figures from ${prev!.startedAt}._`;
    parts.push({ ...old, notes: [...old.notes.filter((n) => !n.startsWith(NOT_RERUN)), kept] });
  }
  removeBenchPins();

  const results: BenchResults = {
    version: 1,
    quick: QUICK,
    startedAt,
    finishedAt: new Date().toISOString(),
    gitCommit: g.commit,
    gitDirty: g.dirty,
    machine: mach,
    commands: [
      'make bench                      # everything (installs trafgen, iptables, ipset, nftables, perf if missing)',
      'BENCH_QUICK=1 make bench        # every part briefly',
      'BENCH_PARTS=progrun make bench  # one part; the others keep their last figures',
      'BENCH_TRAFFIC_ROUNDS=16 BENCH_PARTS=traffic make bench  # more rounds (default 8); BENCH_TRAFFIC_EXTRA=1 adds the iptables 100-pod and ipset rule sets',
      'BENCH_RENDER=1 node build/bench/bench/main.js  # RESULTS.md again from results.json and findings.md',
      'BENCH_CP_PROFILE=manifests:100000 BENCH_PARTS=controlplane make bench  # part 3 with that run\'s agent under perf record',
      'BENCH_CP_CHANGES=1000 BENCH_CP_CHANGE_BUDGET_S=120 BENCH_PARTS=controlplane make bench  # part 3: changes per run, and the time budget of a run\'s changes',
      'node build/bench/bench/lib/heapsnapshot.js FILE.heapsnapshot  # summary of a V8 heap snapshot (by constructor, largest holders)',
      'node build/bench/bench/profile.js service-backend to_pod 1000 empty 8  # perf profile of one datapath path (after make bench)',
    ],
    parts,
    targets: parts.flatMap((p) => p.targets),
  };
  fs.writeFileSync(OUT_JSON, JSON.stringify(results, null, 2) + '\n');
  writeMarkdown(results);
  console.error(`bench: wrote ${OUT_JSON} and ${OUT_MD}`);
  for (const t of results.targets) {
    const m = t.measured === null ? '—' : `${Math.round(t.measured * 100) / 100} ${t.unit}`;
    console.error(`  ${t.met === null ? (t.reportOnly ? 'report' : 'n/a   ') : t.met ? 'met   ' : 'MISSED'} ${t.id} ${t.description}: ${m} (target ${t.target})`);
  }
  if (ac.signal.aborted) process.exitCode = 130;
}

main().catch((e: unknown) => {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
