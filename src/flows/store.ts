// The bounded in-memory flow store. Insertion order of the Map is the order
// of last change, so the first entry is the least recently active flow and
// the one evicted when the store is full. Every eviction is counted.
import type { Flow } from './types.js';

export type FlowListener = (flow: Flow) => void;

export interface StoreStats {
  held: number;
  max: number;
  /** distinct flows ever added */
  seen: number;
  /** flows pushed out because the store was full */
  evicted: number;
}

export class FlowStore {
  private readonly flows = new Map<string, Flow>();
  private readonly listeners = new Set<FlowListener>();
  private seen = 0;
  private evicted = 0;

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`flow store size must be a positive integer, got ${max}`);
  }

  get(id: string): Flow | undefined {
    return this.flows.get(id);
  }

  /** Add or replace a flow; listeners hear about it. */
  put(flow: Flow): void {
    const had = this.flows.delete(flow.id);
    if (!had) {
      this.seen++;
      while (this.flows.size >= this.max) {
        const oldest = this.flows.keys().next();
        if (oldest.done) break;
        this.flows.delete(oldest.value);
        this.evicted++;
      }
    }
    this.flows.set(flow.id, flow);
    for (const l of this.listeners) l(flow);
  }

  /** Every flow, least recently changed first. */
  all(): Flow[] {
    return [...this.flows.values()];
  }

  get size(): number {
    return this.flows.size;
  }

  stats(): StoreStats {
    return { held: this.flows.size, max: this.max, seen: this.seen, evicted: this.evicted };
  }

  subscribe(listener: FlowListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get subscribers(): number {
    return this.listeners.size;
  }
}
