// A/B of two builds for the first packet of a flow (a new flow entry and its
// ring-buffer event) with a reader that keeps up, as the agent does: each
// frame is a new UDP flow of the local pod, run once, and the event loop
// turns between frames so the reader drains the ring (the condition under
// which a submit without flags wakes it). Same maps as part 1 (1k endpoints).
//
//   BENCH_A_DIR=/path/to/old/build/bpf [BENCH_B_DIR=build/bpf] [AB_FLOWS_N=2000] node build/bench/bench/ab-newflow.js
import { native } from '../src/kernel/native.js';
import * as abi from '../src/kernel/abi.js';
import * as pk from '../test/helpers/packets.js';
import { BUILD_BPF } from './lib/env.js';
import { load, skb, unload, type Loaded } from './progrun.js';
import { fmt, percentile, round, sample } from './lib/stats.js';

const A = process.env.BENCH_A_DIR;
const B = process.env.BENCH_B_DIR ?? BUILD_BPF;
const N = Number(process.env.AB_FLOWS_N ?? 2000);

async function main(): Promise<void> {
  if (!A) throw new Error('BENCH_A_DIR: the build/bpf directory of the baseline');
  const n = native();
  const ctx = skb(false);
  const builds: [string, Loaded, number][] = [];
  const got = { A: 0, B: 0 } as Record<string, number>;
  try {
    for (const [name, dir] of [['A', A], ['B', B]] as const) {
      const l = await load(n, 1_000, 'empty', dir, `nf${name}-`);
      const events = l.maps[abi.FlowMapName.flowEvents];
      if (events === undefined) throw new Error('no flow_events map');
      builds.push([name, l, n.ringbufOpen(events, (_b, count) => void (got[name] = (got[name] ?? 0) + count))]);
    }
    const ns: Record<string, number[]> = { A: [], B: [] };
    for (let i = 0; i < N; i++) {
      const frame = pk.ethernet(
        { type: pk.EthType.IPV4 },
        pk.ipv4({ src: '10.244.1.10', dst: '10.244.2.20', protocol: pk.IpProto.UDP }, pk.udp({ sport: 20_000 + (i % 40_000), dport: 1_000 + Math.floor(i / 40_000) })),
      );
      for (const [name, l] of i % 2 === 0 ? builds : [...builds].reverse()) {
        ns[name]!.push(n.progTestRun(l.progs.from_pod, frame, 1, ctx).duration);
      }
      await new Promise((r) => setTimeout(r, 1)); // the readers catch up
    }
    await new Promise((r) => setTimeout(r, 100));
    console.log(`first packet of a new flow (from_pod, same network, allowed), ns per packet over ${N} flows; reader keeps up`);
    console.log(`A = ${A}\nB = ${B}`);
    for (const name of ['A', 'B']) {
      const v = ns[name]!;
      console.log(`${name}: median ${fmt(sample(v))}  p90 ${percentile(v, 90)}  p99 ${percentile(v, 99)}  mean ${round(v.reduce((a, b) => a + b, 0) / v.length)}  events read ${got[name]}`);
    }
  } finally {
    for (const [, l, h] of builds) {
      n.ringbufClose(h);
      unload(n, l);
    }
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
