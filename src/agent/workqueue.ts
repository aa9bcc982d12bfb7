// A work queue of keys, shaped like client-go's workqueue with its default
// controller rate limiter:
//   - a key added while queued is queued once (coalescing); a key added while
//     its batch is being processed is queued again after done() (never lost,
//     never processed twice at the same time);
//   - a failed key comes back after a per-key exponential backoff (base,
//     2·base, 4·base, ... up to max), reset by forget() after a success;
//   - the worker takes every queued key at once (a batch): the agent's
//     reconcile covers many objects in one pass over the maps.
// Timers are the global ones (tests use fake timers).

export interface BackoffSettings {
  /** first retry delay */
  baseMs: number;
  /** longest retry delay */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { baseMs: 5, maxMs: 30_000 };

/** Per-key exponential backoff (client-go ItemExponentialFailureRateLimiter). */
export class ExponentialBackoff<K> {
  private readonly failures = new Map<K, number>();

  constructor(private readonly settings: BackoffSettings = DEFAULT_BACKOFF) {}

  /** The delay before the next retry of `key`; counts one more failure. */
  when(key: K): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.settings.baseMs * 2 ** n, this.settings.maxMs);
  }

  forget(key: K): void {
    this.failures.delete(key);
  }

  retries(key: K): number {
    return this.failures.get(key) ?? 0;
  }
}

export class WorkQueue<K> {
  /** queued, in order of arrival */
  private readonly queue = new Set<K>();
  /** handed to the worker, not done yet */
  private readonly processing = new Set<K>();
  /** added again while processing: queued after done() */
  private readonly again = new Set<K>();
  private readonly waiting = new Map<K, NodeJS.Timeout>();
  private readonly backoff: ExponentialBackoff<K>;
  private shuttingDown = false;

  /** `ready` is called (synchronously) whenever keys are queued and none is being processed. */
  constructor(
    private readonly ready: () => void,
    settings: BackoffSettings = DEFAULT_BACKOFF,
  ) {
    this.backoff = new ExponentialBackoff(settings);
  }

  add(key: K): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.again.add(key);
      return;
    }
    const wasIdle = this.queue.size === 0;
    this.queue.add(key);
    if (wasIdle && this.processing.size === 0) this.ready();
  }

  /** Add `key` after its backoff delay (one more failure of it). */
  addRateLimited(key: K): number {
    const delay = this.backoff.when(key);
    if (this.shuttingDown) return delay;
    // A later retry of the same key replaces an earlier one: the key is added once.
    clearTimeout(this.waiting.get(key));
    const t = setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, delay);
    t.unref?.();
    this.waiting.set(key, t);
    return delay;
  }

  /** The key succeeded: its next failure starts from the base delay again. */
  forget(key: K): void {
    this.backoff.forget(key);
  }

  retries(key: K): number {
    return this.backoff.retries(key);
  }

  /** Every queued key, now being processed; empty while a batch is being processed. */
  take(): K[] {
    if (this.processing.size > 0) return [];
    const batch = [...this.queue];
    this.queue.clear();
    for (const k of batch) this.processing.add(k);
    return batch;
  }

  /** The batch from take() is processed (successfully or not). */
  done(batch: readonly K[]): void {
    for (const k of batch) this.processing.delete(k);
    for (const k of this.again) if (!this.processing.has(k)) this.queue.add(k);
    for (const k of this.queue) this.again.delete(k);
    if (this.queue.size > 0 && this.processing.size === 0 && !this.shuttingDown) this.ready();
  }

  get length(): number {
    return this.queue.size;
  }

  get busy(): boolean {
    return this.processing.size > 0;
  }

  /** Keys waiting for their retry. */
  get pendingRetries(): number {
    return this.waiting.size;
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const t of this.waiting.values()) clearTimeout(t);
    this.waiting.clear();
    this.queue.clear();
    this.again.clear();
  }
}
