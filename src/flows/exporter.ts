// Flow export (issue 15): every change of the flow store, as one JSON line per
// flow record (the JSON of `vrfwall flows -o json`), through an allow/deny
// filter and a field mask, to a sink (a rotating file). offer() is called by
// the store's listener, so it never waits and makes no JSON: flows wait in a
// bounded queue (records), and a single writer makes their JSON and appends
// it in batches, yielding to the event loop at each write. When the
// sink is slower than the flows the queue fills and new records are dropped
// and counted; a failed write counts its records as dropped and keeps the
// error for status. Enforcement and the API never wait for the disk.
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
  /** queued flows (their JSON is made by the writer, off the store's put path) and when each was queued */
  private flows: Flow[] = [];
  private times: number[] = [];
  /** first queued entry of flows/times; entries before it are written (or lost) */
  private head = 0;
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
    if (this.flows.length - this.head >= this.opts.maxQueueRecords) {
      this.counts.dropped++;
      return;
    }
    this.flows.push(f);
    this.times.push(this.now());
    this.writing ??= this.drain();
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
    const queued = this.flows.length - this.head;
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
          const line = exportLine(this.flows[end++] as Flow, this.opts.mask);
          lines.push(line);
          size += line.length;
        } while (end < this.flows.length && size < this.batchBytes);
        const data = lines.join('');
        const n = end - this.head;
        try {
          await this.sink.write(data);
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
        this.flows.fill(undefined as unknown as Flow, this.head, end);
        this.head = end;
        if (this.head > 4096 && this.head * 2 > this.flows.length) {
          this.flows = this.flows.slice(this.head);
          this.times = this.times.slice(this.head);
          this.head = 0;
        }
      }
      this.flows = [];
      this.times = [];
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
