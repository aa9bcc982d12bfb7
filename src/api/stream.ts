// Writing a server stream without unbounded buffering: write() returning
// false means the client (or the HTTP/2 window) is behind, so we wait for
// 'drain'. Live items (follow) go through a bounded queue that drops its
// oldest entry when full; the client is told how many it lost with a
// `lost` message before the next item. A cancelled call stops everything.
import type { EventEmitter } from 'node:events';

/** The part of a grpc-js ServerWritableStream this uses. */
export interface WritableCall<T> extends EventEmitter {
  write(message: T): boolean;
  end(): void;
  readonly cancelled: boolean;
}

export class StreamWriter<T> {
  private readonly queue: T[] = [];
  private pendingLost = 0;
  private pumping = false;
  private closed = false;
  private waiter: (() => void) | undefined;
  /** items this stream dropped from its queue */
  dropped = 0;

  constructor(
    private readonly call: WritableCall<T>,
    private readonly maxQueue: number,
    private readonly lostMessage: (count: number) => T,
    private readonly onDrop: (count: number) => void = () => undefined,
  ) {
    const wake = () => {
      const w = this.waiter;
      this.waiter = undefined;
      w?.();
    };
    call.on('drain', wake);
    call.on('cancelled', () => {
      this.closed = true;
      wake();
    });
    call.on('close', () => {
      this.closed = true;
      wake();
    });
  }

  get isClosed(): boolean {
    return this.closed || this.call.cancelled;
  }

  /** Write now, waiting for drain when the stream is full. False once closed. */
  async write(message: T): Promise<boolean> {
    if (this.isClosed) return false;
    if (!this.call.write(message)) await this.drained();
    return !this.isClosed;
  }

  /** Queue a live item; the oldest goes when the queue is full. */
  offer(message: T): void {
    if (this.isClosed) return;
    if (this.queue.length >= this.maxQueue) {
      this.queue.shift();
      this.dropped++;
      this.pendingLost++;
      this.onDrop(1);
    }
    this.queue.push(message);
    void this.pump();
  }

  /** Starts delivering queued items (call once the history is written). */
  async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.isClosed && (this.queue.length > 0 || this.pendingLost > 0)) {
        if (this.pendingLost > 0) {
          const n = this.pendingLost;
          this.pendingLost = 0;
          if (!(await this.write(this.lostMessage(n)))) break;
          continue;
        }
        const next = this.queue.shift() as T;
        if (!(await this.write(next))) break;
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Hold pump() until history is written: items queue meanwhile. */
  hold(): void {
    this.pumping = true;
  }

  release(): void {
    this.pumping = false;
    void this.pump();
  }

  get queued(): number {
    return this.queue.length;
  }

  private drained(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }
}

/** Resolves when the client's call is over (cancelled, closed or failed), at once when the writer already is. */
export function callOver(call: EventEmitter, writer: { readonly isClosed: boolean }): Promise<void> {
  return new Promise<void>((resolve) => {
    if (writer.isClosed) resolve();
    call.on('cancelled', resolve);
    call.on('close', resolve);
    call.on('error', resolve);
  });
}
