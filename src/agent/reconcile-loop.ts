// The agent's scheduling, shaped like a client-go controller's worker: keys
// go into a work queue (workqueue.ts: coalesced, never processed twice at
// once); while nothing is being reconciled, every queued key is taken as one
// batch; a batch that fails puts each of its keys back after its own backoff
// (doubling per failure, reset by a success). The first batch is run by
// start(), which fails with it; later ones run as keys arrive. Reconciling
// itself is the caller's (agent.ts).
import { WorkQueue, type BackoffSettings } from './workqueue.js';

export interface ReconcileLoopOptions {
  /** one pass over everything the keys name; throws to have them retried */
  reconcile: (batch: readonly string[]) => Promise<void>;
  /** a batch failed: its keys come back after `retryMs` (the longest of their backoffs) */
  failed: (err: unknown, keys: readonly string[], retryMs: number) => void;
  backoff?: BackoffSettings;
}

export class ReconcileLoop {
  // Kicked after the current task: a notification adds all its keys first, then one batch takes them.
  private readonly queue: WorkQueue<string>;
  private running: Promise<void> | undefined;
  /** the first batch has run: later keys are processed as they come */
  private started = false;
  private stopped = false;

  constructor(private readonly o: ReconcileLoopOptions) {
    this.queue = new WorkQueue<string>(() => queueMicrotask(() => this.kick()), o.backoff);
  }

  add(key: string): void {
    this.queue.add(key);
  }

  /** Runs the first batch (`key` and whatever is queued), rejecting with its
   *  error; afterwards keys are processed as they arrive. */
  async start(key: string): Promise<void> {
    this.queue.add(key);
    const batch = this.queue.take();
    const first = this.o.reconcile(batch);
    this.running = first.catch(() => undefined);
    try {
      await first;
    } finally {
      this.running = undefined;
      this.queue.done(batch);
    }
    this.started = true;
    this.kick();
  }

  /** No batch after this; resolves when the one running (if any) is over. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.shutDown();
    await this.running;
  }

  /** The queue has keys and nothing is being processed: process them all, as one batch. */
  private kick(): void {
    if (this.stopped || !this.started || this.running) return;
    const batch = this.queue.take();
    if (batch.length === 0) return;
    this.running = this.o
      .reconcile(batch)
      .then(() => {
        for (const k of batch) this.queue.forget(k);
      })
      .catch((e: unknown) => {
        // Each key comes back after its own backoff (doubling per failure).
        let delay = 0;
        for (const k of batch) delay = Math.max(delay, this.queue.addRateLimited(k));
        this.o.failed(e, batch, delay);
      })
      .finally(() => {
        this.running = undefined;
        this.queue.done(batch); // kicks again when more is queued
      });
  }
}
