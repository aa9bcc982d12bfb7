// The agent's scheduling (src/agent/reconcile-loop.ts, what agent.ts runs its
// reconciles with), driven by a fake reconcile: batches, keys that arrive
// while one runs, retries with backoff, the first batch's error, stop().
// Fake timers: no kernel, no waiting.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReconcileLoop } from '../src/agent/reconcile-loop.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

/** A reconcile that records its batches and finishes (or fails) when told. */
function fakeReconcile() {
  const batches: string[][] = [];
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const failures: { keys: readonly string[]; retryMs: number }[] = [];
  const loop = new ReconcileLoop({
    reconcile: (batch) =>
      new Promise<void>((resolve, reject) => {
        batches.push([...batch]);
        pending.push({ resolve, reject });
      }),
    failed: (_e, keys, retryMs) => failures.push({ keys, retryMs }),
    backoff: { baseMs: 100, maxMs: 1000 },
  });
  /** Lets queued microtasks (the loop's kicks) run. */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  const finish = async (ok = true): Promise<void> => {
    const p = pending.shift();
    if (p === undefined) throw new Error('no batch is running');
    if (ok) p.resolve();
    else p.reject(new Error('map write failed'));
    await settle();
  };
  /** start() with its first batch done: the loop takes keys as they come. */
  const started = async (): Promise<void> => {
    const first = loop.start('#resync');
    await settle();
    await finish();
    await first;
  };
  return { loop, batches, failures, settle, finish, started, running: () => pending.length };
}

describe('the agent’s reconcile loop', () => {
  it('runs nothing before start(); start() runs the first batch with what was queued, then keys as they come', async () => {
    const f = fakeReconcile();
    f.loop.add('Pod a/x');
    await f.settle();
    expect(f.batches).toEqual([]); // not started: queued only
    const started = f.loop.start('#resync');
    await f.settle();
    expect(f.batches).toEqual([['Pod a/x', '#resync']]);
    await f.finish();
    await started;
    f.loop.add('Namespace a');
    f.loop.add('Pod a/y');
    await f.settle();
    expect(f.batches[1]).toEqual(['Namespace a', 'Pod a/y']); // one batch for one notification's keys
  });

  it('keys that arrive while a batch runs make exactly one more batch after it, never a second one at the same time', async () => {
    const f = fakeReconcile();
    await f.started();
    f.loop.add('Pod a/x');
    await f.settle();
    expect(f.running()).toBe(1);
    f.loop.add('Pod a/x'); // the same object changed again meanwhile
    f.loop.add('Pod a/y');
    await f.settle();
    expect(f.running()).toBe(1); // one at a time
    expect(f.batches.length).toBe(2);
    await f.finish();
    expect(f.batches[2]?.sort()).toEqual(['Pod a/x', 'Pod a/y']);
    await f.finish();
    expect(f.batches.length).toBe(3); // and nothing more
  });

  it('a failed batch comes back after its backoff (100, then 200 ms), a success resets it, a healthy key is not held up', async () => {
    const f = fakeReconcile();
    await f.started();
    f.loop.add('Pod a/bad');
    await f.settle();
    await f.finish(false);
    expect(f.failures).toEqual([{ keys: ['Pod a/bad'], retryMs: 100 }]);
    // Another object's change goes through at once.
    f.loop.add('Pod a/good');
    await f.settle();
    expect(f.batches.at(-1)).toEqual(['Pod a/good']);
    await f.finish();
    vi.advanceTimersByTime(99);
    await f.settle();
    expect(f.batches.length).toBe(3); // not yet
    vi.advanceTimersByTime(1);
    await f.settle();
    expect(f.batches.at(-1)).toEqual(['Pod a/bad']);
    await f.finish(false);
    expect(f.failures.at(-1)).toEqual({ keys: ['Pod a/bad'], retryMs: 200 });
    vi.advanceTimersByTime(200);
    await f.settle();
    await f.finish(); // succeeds now
    f.loop.add('Pod a/bad');
    await f.settle();
    await f.finish(false);
    expect(f.failures.at(-1)).toEqual({ keys: ['Pod a/bad'], retryMs: 100 }); // the success reset its count
  });

  it('start() fails with the first batch’s error, and the loop then runs nothing', async () => {
    const f = fakeReconcile();
    const started = f.loop.start('#resync');
    await f.settle();
    const failing = f.finish(false);
    await expect(started).rejects.toThrow('map write failed');
    await failing;
    f.loop.add('Pod a/x');
    await f.settle();
    expect(f.batches.length).toBe(1);
    expect(f.failures).toEqual([]); // the first batch's error is start()'s, not a retry
  });

  it('stop() waits for the batch under way and no batch starts after it', async () => {
    const f = fakeReconcile();
    await f.started();
    f.loop.add('Pod a/x');
    await f.settle();
    let stopped = false;
    const stopping = f.loop.stop().then(() => (stopped = true));
    f.loop.add('Pod a/y');
    await f.settle();
    expect(stopped).toBe(false); // the running batch is not over
    await f.finish();
    await stopping;
    expect(stopped).toBe(true);
    vi.advanceTimersByTime(10_000);
    await f.settle();
    expect(f.batches.length).toBe(2); // Pod a/y never ran
  });
});
