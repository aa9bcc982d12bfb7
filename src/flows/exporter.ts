// Flow export (issue 15): every change of the flow store, as one JSON line per
// flow record (the JSON of `vrfwall flows -o json`), through an allow/deny
// filter and a field mask, to a sink (a rotating file). offer() is called by
// the store's listener, so it never waits and makes no JSON: flows wait in a
// bounded queue (records), and a single writer makes their JSON and appends
// it in batches, yielding to the event loop at each write. When the
// sink is slower than the flows the queue fills and records are dropped and
// counted, the flooder's first: a full queue makes room by dropping the
// newest queued record of the source address that holds the most, unless the
// new record's source holds as many (then the new one is dropped), so a pod
// that floods new flows cannot push other pods' records out of the export.
// A failed write counts its records as dropped and keeps the error for
// status. Enforcement and the API never wait for the disk.
import { fromFlowMsg, toFlowMsg } from '../api/convert.js';
import { applyFieldMask, type FieldMask } from './field-mask.js';
import type { FlowPredicate } from './filter.js';
import type { ExportSink } from './rotating-file.js';
import type { Flow } from './types.js';
import type { FlowExportStatusMsg, FlowMsg } from '../api/messages.js';

export interface FlowExportStats {
  file: string;
  /** records in the sink */
  written: number;
  bytesWritten: number;
  /** records lost: queue full, or a failed write */
  dropped: number;
  /** records left out by the filter */
  filtered: number;
  rotations: number;
  queued: number;
  /** age of the oldest queued record (0: nothing queued) */
  lagMs: number;
  /** failed writes */
  writeErrors: number;
  lastError: string;
  lastErrorMs: number;
}

export interface FlowExporterOptions {
  predicate: FlowPredicate;
  mask: FieldMask;
  /** most records queued (each a Flow object, ~0.7 KB) */
  maxQueueRecords: number;
  /** bytes per write: records are added to a write until it reaches this */
  batchBytes?: number;
  now?: () => number;
  /** a write failed (for the log) */
  onError?: (message: string, records: number) => void;
}

/** One exported line (with its newline) of a flow. */
export function exportLine(f: Flow, mask: FieldMask): string {
  return JSON.stringify(applyFieldMask(toFlowMsg(f), mask)) + '\n';
}

export class FlowExporter {
  /** queued flows (their JSON is made by the writer, off the store's put path; undefined: dropped to make
   *  room), when each was queued and its source address */
  private flows: (Flow | undefined)[] = [];
  private times: number[] = [];
  private sources: string[] = [];
  /** first queued entry of flows/times; entries before it are written (or lost) */
  private head = 0;
  /** records queued and not dropped */
  private live = 0;
  /** per source address: the positions (base + index) of its queued records, oldest first */
  private readonly bySource = new Map<string, number[]>();
  /** position of flows[0] */
  private base = 0;
  /** the source with the most queued records, as far as offers have seen (approximate after drains) */
  private heaviest = '';
  private writing: Promise<void> | undefined;
  private closed = false;
  private readonly now: () => number;
  private readonly batchBytes: number;
  private readonly counts = { written: 0, bytesWritten: 0, dropped: 0, filtered: 0, writeErrors: 0 };
  private lastError = '';
  private lastErrorMs = 0;

  constructor(
    private readonly sink: ExportSink,
    private readonly opts: FlowExporterOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.batchBytes = opts.batchBytes ?? 256 * 1024;
  }

  /** A flow was put in the store: queue it (or count it dropped). Never waits; no JSON here. */
  offer(f: Flow): void {
    if (this.closed) return;
    if (!this.opts.predicate(f)) {
      this.counts.filtered++;
      return;
    }
    const source = f.source.ip;
    if (this.live >= this.opts.maxQueueRecords && !this.makeRoom(source)) {
      this.counts.dropped++;
      return;
    }
    const held = this.bySource.get(source);
    const pos = this.base + this.flows.length;
    if (held === undefined) this.bySource.set(source, [pos]);
    else held.push(pos);
    if ((this.bySource.get(this.heaviest)?.length ?? 0) < (held?.length ?? 1)) this.heaviest = source;
    this.flows.push(f);
    this.times.push(this.now());
    this.sources.push(source);
    this.live++;
    this.writing ??= this.drain();
  }

  /** A full queue: drop the newest queued record of the heaviest source, unless `source` holds as many. */
  private makeRoom(source: string): boolean {
    const heavy = this.bySource.get(this.heaviest);
    if (heavy === undefined || this.heaviest === source || (this.bySource.get(source)?.length ?? 0) + 1 >= heavy.length) return false;
    // The newest: a record the writer has taken (before head) left this list when it was taken.
    const i = (heavy.pop() as number) - this.base;
    if (heavy.length === 0) this.bySource.delete(this.heaviest);
    this.flows[i] = undefined;
    this.live--;
    this.counts.dropped++;
    return true;
  }

  /** The writer takes a record: it can no longer be dropped to make room (it still counts as queued until written). */
  private take(i: number): void {
    if (this.flows[i] === undefined) return;
    const source = this.sources[i] as string;
    const held = this.bySource.get(source);
    held?.shift();
    if (held !== undefined && held.length === 0) this.bySource.delete(source);
  }

  /** A flow record as the API sends it (the relay's export): the same as offer() (the same JSON back). */
  offerMessage(m: FlowMsg): void {
    this.offer(fromFlowMsg(m));
  }

  /** Records lost before they reached the exporter (an agent's stream queue, for the relay). */
  countDropped(n: number): void {
    this.counts.dropped += n;
  }

  /** A problem upstream of the exporter (the relay: a node's stream), for status. */
  noteError(message: string): void {
    this.lastError = message;
    this.lastErrorMs = this.now();
  }

  stats(): FlowExportStats {
    const queued = this.live;
    return {
      file: this.sink.current,
      ...this.counts,
      rotations: this.sink.rotations,
      queued,
      lagMs: queued > 0 ? Math.max(0, this.now() - (this.times[this.head] as number)) : 0,
      lastError: this.lastError,
      lastErrorMs: this.lastErrorMs,
    };
  }

  /** Resolves when everything queued so far has been written (or dropped). */
  async flush(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  /** Stops taking records, writes what is queued, closes the sink. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    await this.sink.close();
  }

  private async drain(): Promise<void> {
    try {
      while (this.head < this.flows.length) {
        // A batch: whole records up to batchBytes (at least one), made into JSON now.
        const lines: string[] = [];
        let end = this.head;
        let size = 0;
        do {
          const f = this.flows[end++];
          if (f === undefined) continue; // dropped to make room
          const line = exportLine(f, this.opts.mask);
          lines.push(line);
          size += line.length;
        } while (end < this.flows.length && size < this.batchBytes);
        for (let i = this.head; i < end; i++) this.take(i);
        const data = lines.join('');
        const n = lines.length;
        try {
          if (n > 0) await this.sink.write(data);
          this.counts.written += n;
          this.counts.bytesWritten += Buffer.byteLength(data, 'utf8');
        } catch (e) {
          this.counts.dropped += n;
          this.counts.writeErrors++;
          this.lastError = e instanceof Error ? e.message : String(e);
          this.lastErrorMs = this.now();
          this.opts.onError?.(this.lastError, n);
        }
        // written: let the flows go
        this.live -= n;
        this.flows.fill(undefined, this.head, end);
        this.head = end;
        if (this.head > 4096 && this.head * 2 > this.flows.length) {
          this.flows = this.flows.slice(this.head);
          this.times = this.times.slice(this.head);
          this.sources = this.sources.slice(this.head);
          this.base += this.head;
          this.head = 0;
        }
      }
      this.base += this.flows.length;
      this.flows = [];
      this.times = [];
      this.sources = [];
      this.head = 0;
    } finally {
      this.writing = undefined;
    }
  }
}

/** The status message of the export's counters. */
export function exportStatus(s: FlowExportStats): FlowExportStatusMsg {
  return {
    file: s.file,
    written: s.written,
    dropped: s.dropped,
    rotations: s.rotations,
    queued: s.queued,
    lagSeconds: s.lagMs / 1000,
    lastError: s.lastError,
    lastErrorMs: s.lastErrorMs,
    bytesWritten: s.bytesWritten,
    filtered: s.filtered,
  };
}
