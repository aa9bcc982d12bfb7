// Giving back the memory a burst of work leaves behind. The first sync of a
// large cluster allocates several times what the agent then holds (parsed
// documents, the first compile, map images); V8 keeps those pages committed
// (and resident) until its memory reducer runs, which an agent that is idle
// afterwards may not trigger for a long time. A full collection right after
// such a burst returns them, once, at a moment when the agent has nothing else
// to do.
import v8 from 'node:v8';
import { performance } from 'node:perf_hooks';
import vm from 'node:vm';

type GcFunction = (options?: { type: 'major' | 'minor'; execution: 'sync' }) => void;
let gc: GcFunction | null | undefined;

/**
 * A garbage collection now: 'full' (the default) is a full, compacting one;
 * 'young' only scavenges the young generation (a millisecond or so). False
 * when this V8 does not offer one.
 */
export function collectGarbage(kind: 'full' | 'young' = 'full'): boolean {
  if (gc === undefined) {
    try {
      // The documented flag, set at run time: `gc` is then a global of new contexts.
      v8.setFlagsFromString('--expose-gc');
      const fn: unknown = vm.runInNewContext('gc');
      gc = typeof fn === 'function' ? (fn as GcFunction) : null;
    } catch {
      gc = null;
    }
  }
  if (gc === null) return false;
  gc(kind === 'young' ? { type: 'minor', execution: 'sync' } : undefined);
  return true;
}

/** Committed size of V8's young generation (both semi-spaces), bytes. */
function youngCommitted(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

export interface MemoryReducerOptions {
  /** how often the heap is looked at */
  periodMs: number;
  /** while busy, a collection when the heap has grown this much (allocated since
   *  the last one); unset: none while busy. A forced full collection stops
   *  everything (~100 ms with 100k pods): a change arriving then waits for it,
   *  while V8's own collector marks concurrently and pauses briefly. */
  growthBytes?: number;
  /** when the agent is quiet (event loop busy less than `quietUtilization` of the
   *  last period): a collection already when the heap has grown this much */
  quietGrowthBytes?: number;
  /** event-loop utilization (0..1) below which a period counts as quiet */
  quietUtilization?: number;
  /** young generation committed beyond this while quiet: scavenged, so V8 shrinks it */
  quietYoungBytes?: number;
  /** when quiet: a collection when the heap V8 keeps committed but unused has
   *  grown this much since the last one (V8's own collections free objects
   *  but keep their pages, so the heap can shrink without the RSS) */
  quietSlackBytes?: number;
  /** a memory-reducing collection (V8's low-memory one, which compacts and
   *  shrinks the young generation, and the C heap trimmed: the native addon's
   *  releaseMemory); used for the quiet collections when given */
  release?: () => boolean;
  /** told after each collection: its kind, live heap and RSS after, MB */
  onCollect?: (r: { kind: 'full' | 'young' | 'release'; heapMB: number; rssMB: number; ms: number }) => void;
}

/**
 * After a burst of work (a large reconcile, a relist, a flood of new flows)
 * V8 keeps the heap it grew to, resident, until its own memory reducer
 * decides to shrink it, which an agent that goes quiet afterwards may not
 * trigger for minutes. This looks at the heap every `periodMs`:
 * - if `growthBytes` is given, it collects fully when the heap has grown by
 *   that much since the last collection, even while busy;
 * - in a quiet period, when it has grown by `quietGrowthBytes` (the
 *   garbage of a smaller burst, collected when nobody waits for the agent),
 *   with `release` when given: a plain full collection frees objects but
 *   keeps the pages they were on (measured: 288 MB committed for 69 MB live
 *   after one; 159 MB and the RSS halved after a memory-reducing one);
 * - in a quiet period, when the heap committed but unused has grown by
 *   `quietSlackBytes` (V8's own collections ran: the heap shrank, its pages
 *   did not), the same;
 * - in a quiet period, with the young generation still at the size a burst
 *   grew it to (up to 2 x 16 MB, resident), it scavenges: V8 shrinks the
 *   young generation after a scavenge that follows a few seconds of low
 *   allocation (measured: 32 MB -> 1-2 MB, ~1 ms).
 * A busy agent collects rarely (its garbage is young and V8's scavenges take
 * it); a quiet one costs one heap-statistics read per period. Returns a stop
 * function.
 */
export function startMemoryReducer(o: MemoryReducerOptions): () => void {
  const quietGrowth = o.quietGrowthBytes ?? Infinity;
  const quietElu = o.quietUtilization ?? 0.05;
  const quietYoung = o.quietYoungBytes ?? Infinity;
  const quietSlack = o.quietSlackBytes ?? Infinity;
  const slackOf = (h: v8.HeapInfo): number => h.total_heap_size - h.used_heap_size;
  let base = v8.getHeapStatistics().used_heap_size;
  let baseSlack = slackOf(v8.getHeapStatistics());
  let elu = performance.eventLoopUtilization();
  const collect = (kind: 'full' | 'young' | 'release'): void => {
    const t0 = performance.now();
    if (!(kind === 'release' ? o.release?.() === true : collectGarbage(kind))) return;
    const after = v8.getHeapStatistics();
    const used = after.used_heap_size;
    if (kind !== 'young') {
      base = used;
      baseSlack = slackOf(after);
    }
    o.onCollect?.({ kind, heapMB: Math.round(used / 2 ** 20), rssMB: Math.round(process.memoryUsage.rss() / 2 ** 20), ms: Math.round(performance.now() - t0) });
  };
  const timer = setInterval(() => {
    const heap = v8.getHeapStatistics();
    const used = heap.used_heap_size;
    const now = performance.eventLoopUtilization();
    const quiet = performance.eventLoopUtilization(now, elu).utilization < quietElu;
    elu = now;
    if (quiet && (used >= base + quietGrowth || slackOf(heap) >= baseSlack + quietSlack)) collect(o.release ? 'release' : 'full');
    else if (o.growthBytes !== undefined && used >= base + o.growthBytes) collect('full');
    else if (quiet && youngCommitted() > quietYoung) collect('young');
  }, o.periodMs);
  timer.unref();
  return () => clearInterval(timer);
}
