// src/util/memory.ts: the full collection the agent runs after its first
// sync and after the heap has grown by a burst of work.
import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { native } from '../src/kernel/native.js';
import { collectGarbage, startMemoryReducer } from '../src/util/memory.js';

const used = (): number => v8.getHeapStatistics().used_heap_size;
const MB = 2 ** 20;

/** ~`mb` MB of small objects on the heap. */
function allocate(mb: number): { n: number; s: string }[] {
  return Array.from({ length: (mb * MB) / 64 }, (_, i) => ({ n: i, s: `x${i}` }));
}

/** 250,000 objects that stay, made among 750,000 that go, then a plain full
 *  collection: the heap used is small again, the pages it was on partly used. */
function fragmentedHeap(): unknown[] {
  const kept: unknown[] = [];
  let all: unknown[] = [];
  for (let i = 0; i < 1_000_000; i++) {
    const o = { n: i, s: `x${i}`, a: [i] };
    all.push(o);
    if (i % 4 === 0) kept.push(o);
  }
  all = [];
  collectGarbage();
  return kept;
}

describe('memory', () => {
  it('collectGarbage frees what nothing holds, and keeps what is held', () => {
    expect(collectGarbage()).toBe(true);
    const base = used();
    let garbage: unknown = allocate(40);
    const kept = allocate(20);
    garbage = undefined;
    expect(garbage).toBeUndefined();
    expect(used()).toBeGreaterThan(base + 40 * MB); // both are on the heap until a collection
    expect(collectGarbage()).toBe(true);
    // The garbage went, what is held stayed (positive control).
    expect(used()).toBeLessThan(base + 35 * MB);
    expect(used()).toBeGreaterThan(base + 10 * MB);
    expect(kept.length).toBeGreaterThan(0);
  });

  it('the reducer collects once the heap has grown by its threshold, not before', async () => {
    collectGarbage();
    const collected: number[] = [];
    const stop = startMemoryReducer({ periodMs: 20, growthBytes: 64 * MB, onCollect: (r) => collected.push(r.heapMB) });
    try {
      const small = allocate(8);
      await new Promise((r) => setTimeout(r, 150));
      expect(collected).toEqual([]); // grown by less than the threshold
      let big: unknown = allocate(100);
      big = undefined;
      expect(big).toBeUndefined();
      const t0 = Date.now();
      while (collected.length === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
      expect(collected).toHaveLength(1);
      expect(small.length).toBeGreaterThan(0);
    } finally {
      stop();
    }
  });

  it('a quiet agent: collects at the smaller quiet threshold, and scavenges a grown young generation until V8 shrinks it', async () => {
    collectGarbage();
    const young = (): number => v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0;
    // A burst of short-lived allocation grows the young generation (positive control).
    for (let i = 0; i < 20; i++) allocate(8);
    expect(young()).toBeGreaterThan(8 * MB);
    collectGarbage(); // the burst's garbage out of the baseline (a full collection leaves the young generation's size)
    const collected: { kind: string; heapMB: number }[] = [];
    const stop = startMemoryReducer({
      periodMs: 200,
      growthBytes: 256 * MB,
      quietGrowthBytes: 16 * MB,
      quietYoungBytes: 4 * MB,
      onCollect: (r) => collected.push(r),
    });
    try {
      const held = allocate(40); // grown by 40 MB: over the quiet threshold, far under growthBytes
      const t0 = Date.now();
      while ((!collected.some((c) => c.kind === 'full') || young() > 4 * MB) && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 100));
      expect(collected.filter((c) => c.kind === 'full').length).toBeGreaterThanOrEqual(1);
      expect(collected.some((c) => c.kind === 'young')).toBe(true);
      expect(young()).toBeLessThanOrEqual(4 * MB);
      expect(held.length).toBeGreaterThan(0);
    } finally {
      stop();
    }
  });

  it('releaseMemory (native): gives back the pages a plain full collection keeps, and keeps what is held', () => {
    const committed = (): number => v8.getHeapStatistics().total_heap_size;
    // Objects that stay, interleaved with garbage: their pages stay partly used.
    const kept = fragmentedHeap();
    const afterFull = committed();
    const live = used();
    expect(afterFull - live).toBeGreaterThan(32 * MB); // positive control: a full collection left that much committed
    expect(native().releaseMemory()).toEqual({ collected: true, trimmed: expect.any(Boolean) });
    expect(committed()).toBeLessThan(afterFull - 16 * MB);
    expect(used()).toBeGreaterThan(live - 8 * MB); // what is held stayed
    expect(kept).toHaveLength(250_000);
  });

  it('a quiet collection uses the release function when given', async () => {
    collectGarbage();
    const kinds: string[] = [];
    let released = 0;
    const stop = startMemoryReducer({
      periodMs: 100,
      growthBytes: 256 * MB,
      quietGrowthBytes: 16 * MB,
      release: () => {
        released++;
        return collectGarbage();
      },
      onCollect: (r) => kinds.push(r.kind),
    });
    try {
      const held = allocate(40);
      const t0 = Date.now();
      while (kinds.length === 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
      expect(kinds[0]).toBe('release');
      expect(released).toBeGreaterThanOrEqual(1);
      expect(held.length).toBeGreaterThan(0);
    } finally {
      stop();
    }
  });

  it('a quiet agent whose heap V8 already collected, but whose pages it kept, is released too', async () => {
    const committed = (): number => v8.getHeapStatistics().total_heap_size;
    collectGarbage();
    const kinds: string[] = [];
    let released = 0;
    const stop = startMemoryReducer({
      periodMs: 100,
      quietGrowthBytes: Infinity, // the growth rule cannot fire: only the kept pages can
      quietSlackBytes: 16 * MB,
      release: () => {
        released++;
        return native().releaseMemory().collected;
      },
      onCollect: (r) => kinds.push(r.kind),
    });
    try {
      // The heap is small again, its pages are not (positive control below).
      const kept = fragmentedHeap();
      expect(committed() - used()).toBeGreaterThan(32 * MB);
      const t0 = Date.now();
      while (released === 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
      expect(kinds[0]).toBe('release');
      expect(committed() - used()).toBeLessThan(32 * MB);
      expect(kept).toHaveLength(250_000);
    } finally {
      stop();
    }
  });
});
