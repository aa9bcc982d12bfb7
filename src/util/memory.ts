// Giving back the memory a burst of work leaves behind. The first sync of a
// large cluster allocates several times what the agent then holds (parsed
// documents, the first compile, map images); V8 keeps those pages committed
// (and resident) until its memory reducer runs, which an agent that is idle
// afterwards may not trigger for a long time. A full collection right after
// such a burst returns them, once, at a moment when the agent has nothing else
// to do.
import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | null | undefined;

/** A full, compacting garbage collection; false when this V8 does not offer one. */
export function collectGarbage(): boolean {
  if (gc === undefined) {
    try {
      // The documented flag, set at run time: `gc` is then a global of new contexts.
      v8.setFlagsFromString('--expose-gc');
      const fn: unknown = vm.runInNewContext('gc');
      gc = typeof fn === 'function' ? (fn as () => void) : null;
    } catch {
      gc = null;
    }
  }
  if (gc === null) return false;
  gc();
  return true;
}

export interface MemoryReducerOptions {
  /** how often the heap is looked at */
  periodMs: number;
  /** a collection when the heap has grown this much (allocated since the last one) */
  growthBytes: number;
  /** told after each collection: live heap and RSS before/after, MB */
  onCollect?: (r: { heapMB: number; rssMB: number; ms: number }) => void;
}

/**
 * After a burst of work (a large reconcile, a relist) V8 keeps the heap it
 * grew to, resident, until its own memory reducer decides to shrink it, which
 * an agent that goes quiet afterwards may not trigger for minutes. This looks
 * at the heap every `periodMs` and collects fully when it has grown by
 * `growthBytes` since the last collection, so what stays resident follows
 * what the agent holds. A quiet agent costs one heap-statistics read per
 * period; one busy with small changes collects rarely (its garbage is young
 * and V8's scavenges take it). Returns a stop function.
 */
export function startMemoryReducer(o: MemoryReducerOptions): () => void {
  let base = v8.getHeapStatistics().used_heap_size;
  const timer = setInterval(() => {
    const s = v8.getHeapStatistics();
    if (s.used_heap_size < base + o.growthBytes) return;
    const t0 = performance.now();
    if (!collectGarbage()) return;
    base = v8.getHeapStatistics().used_heap_size;
    o.onCollect?.({ heapMB: Math.round(base / 2 ** 20), rssMB: Math.round(process.memoryUsage.rss() / 2 ** 20), ms: Math.round(performance.now() - t0) });
  }, o.periodMs);
  timer.unref();
  return () => clearInterval(timer);
}
