// The agent's work queue (src/agent/workqueue.ts): coalescing, keys added
// while processed, per-key exponential backoff. Fake timers: no kernel, no waiting.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExponentialBackoff, WorkQueue } from '../src/agent/workqueue.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('work queue', () => {
  it('coalesces repeated adds of one key, keeps distinct keys, and tells the worker once', () => {
    let ready = 0;
    const q = new WorkQueue<string>(() => ready++);
    q.add('Pod a/x');
    q.add('Pod a/x');
    q.add('Namespace a');
    q.add('Pod a/x');
    expect(ready).toBe(1);
    expect(q.take()).toEqual(['Pod a/x', 'Namespace a']);
    expect(q.length).toBe(0);
  });

  it('a key added while its batch is processed is queued again after done(), not handed out twice at once', () => {
    let ready = 0;
    const q = new WorkQueue<string>(() => ready++);
    q.add('k');
    const batch = q.take();
    q.add('k'); // changed again meanwhile
    q.add('other');
    expect(q.take()).toEqual([]); // one batch at a time
    expect(ready).toBe(1);
    q.done(batch);
    expect(ready).toBe(2);
    expect(q.take().sort()).toEqual(['k', 'other']);
    // Positive control for "not queued": a key not added during processing does not come back.
    q.done(['k', 'other']);
    expect(q.take()).toEqual([]);
  });

  it('retries a failing key with exponential backoff per key, capped, and forget() starts over', () => {
    const q = new WorkQueue<string>(() => undefined, { baseMs: 10, maxMs: 50 });
    const delays = [1, 2, 3, 4, 5].map(() => q.addRateLimited('bad'));
    expect(delays).toEqual([10, 20, 40, 50, 50]);
    // Another key has its own count.
    expect(q.addRateLimited('fine')).toBe(10);
    q.forget('bad');
    expect(q.addRateLimited('bad')).toBe(10);
  });

  it('a rate-limited key arrives after its delay, not before', () => {
    let ready = 0;
    const q = new WorkQueue<string>(() => ready++, { baseMs: 100, maxMs: 1000 });
    q.addRateLimited('k'); // 100 ms
    q.addRateLimited('k'); // replaces it: 200 ms
    expect(q.pendingRetries).toBe(1);
    vi.advanceTimersByTime(199);
    expect(q.length).toBe(0);
    expect(ready).toBe(0);
    vi.advanceTimersByTime(1);
    expect(ready).toBe(1);
    expect(q.take()).toEqual(['k']);
  });

  it('shutDown drops queued keys and pending retries', () => {
    let ready = 0;
    const q = new WorkQueue<string>(() => ready++, { baseMs: 5, maxMs: 5 });
    q.addRateLimited('k');
    q.add('j');
    q.shutDown();
    vi.advanceTimersByTime(100);
    q.add('l');
    expect(q.take()).toEqual([]);
    expect(ready).toBe(1);
  });
});

describe('exponential backoff', () => {
  it('doubles from the base up to the cap', () => {
    const b = new ExponentialBackoff<number>({ baseMs: 5, maxMs: 1000 });
    const seen = Array.from({ length: 10 }, () => b.when(1));
    expect(seen).toEqual([5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    expect(b.retries(1)).toBe(10);
    expect(b.retries(2)).toBe(0);
  });
});

// The agent's reconcile loop (src/agent/agent.ts kick()) drives the queue
// this way: ready() kicks after the current task; a kick takes every queued
// key as one batch unless one is running; success forgets the keys' failures,
// failure re-adds each after its backoff; done() kicks again when more waits.
// The loop below is that protocol, with a reconcile that fails on command.
describe('work queue driven as the agent drives it', () => {
  function loop(reconcile: (batch: string[]) => Promise<void>) {
    const batches: string[][] = [];
    let running: Promise<void> | undefined;
    const q: WorkQueue<string> = new WorkQueue<string>(() => queueMicrotask(kick), { baseMs: 100, maxMs: 1000 });
    function kick(): void {
      if (running) return;
      const batch = q.take();
      if (batch.length === 0) return;
      batches.push(batch);
      running = reconcile(batch)
        .then(() => batch.forEach((k) => q.forget(k)))
        .catch(() => batch.forEach((k) => q.addRateLimited(k)))
        .finally(() => {
          running = undefined;
          q.done(batch);
        });
    }
    return { q, batches };
  }

  it('changes during a reconcile make exactly one more batch; a failed batch returns after its backoff while others go on', async () => {
    let fail = true;
    let release: (() => void) | undefined;
    const { q, batches } = loop(
      (batch) =>
        new Promise<void>((resolve, reject) => {
          if (batch.includes('Pod a/bad') && fail) reject(new Error('map full'));
          else if (batch.includes('Pod a/slow') && release === undefined) release = resolve; // the first one waits
          else resolve();
        }),
    );
    q.add('Pod a/slow');
    q.add('Namespace a');
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([['Pod a/slow', 'Namespace a']]);
    // while it runs: three notifications, one of them twice
    q.add('Pod a/x');
    q.add('Pod a/slow');
    q.add('Pod a/x');
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toHaveLength(1); // never two reconciles at once
    release!();
    await vi.advanceTimersByTimeAsync(0);
    expect(batches).toEqual([['Pod a/slow', 'Namespace a'], ['Pod a/x', 'Pod a/slow']]);

    // a failing key: retried after 100 ms, then 200 ms; a healthy change in between is not held up
    q.add('Pod a/bad');
    await vi.advanceTimersByTimeAsync(0);
    expect(batches.at(-1)).toEqual(['Pod a/bad']);
    q.add('Pod a/ok');
    await vi.advanceTimersByTimeAsync(0);
    expect(batches.at(-1)).toEqual(['Pod a/ok']);
    await vi.advanceTimersByTimeAsync(99);
    expect(batches).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(1);
    expect(batches.at(-1)).toEqual(['Pod a/bad']); // retry 1, fails again
    expect(q.retries('Pod a/bad')).toBe(2);
    fail = false;
    await vi.advanceTimersByTimeAsync(199);
    expect(batches).toHaveLength(5);
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toHaveLength(6); // retry 2 succeeds: its failures are forgotten
    expect(q.retries('Pod a/bad')).toBe(0);
    await vi.advanceTimersByTimeAsync(5000);
    expect(batches).toHaveLength(6); // and nothing comes back
  });
});
