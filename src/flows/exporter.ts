// Flow export (issue 15): every change of the flow store, as one JSON line per
// flow record (the JSON of `vrfwall flows -o json`), through an allow/deny
// filter and a field mask, to a sink (a rotating file). offer() is called by
// the store's listener, so it never waits: records wait in a bounded queue
// (records and bytes), and a single writer drains it in batches. When the
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
  queuedBytes: number;
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
  /** most records queued */
  maxQueueRecords: number;
  /** most bytes queued (counted in UTF-16 units: the same as bytes for the ASCII of flows) */
  maxQueueBytes: number;
  /** bytes per write at most (a single larger record is written alone) */
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
  private lines: string[] = [];
  private times: number[] = [];
  /** first queued entry of lines/times */
  private head = 0;
  private bytes = 0;
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

  /** A flow was put in the store: queue its record (or count it dropped). Never waits. */
  offer(f: Flow): void {
    if (this.closed) return;
    if (!this.opts.predicate(f)) {
      this.counts.filtered++;
      return;
    }
    this.enqueue(exportLine(f, this.opts.mask));
  }

  /** A flow record as the API sends it (the relay's export): the same as offer(). */
  offerMessage(m: FlowMsg): void {
    if (this.closed) return;
    if (!this.opts.predicate(fromFlowMsg(m))) {
      this.counts.filtered++;
      return;
    }
    this.enqueue(JSON.stringify(applyFieldMask(m, this.opts.mask)) + '\n');
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

  private enqueue(line: string): void {
    const queued = this.lines.length - this.head;
    if (queued >= this.opts.maxQueueRecords || this.bytes + line.length > this.opts.maxQueueBytes) {
      this.counts.dropped++;
      return;
    }
    this.lines.push(line);
    this.times.push(this.now());
    this.bytes += line.length;
    this.writing ??= this.drain();
  }

  stats(): FlowExportStats {
    const queued = this.lines.length - this.head;
    return {
      file: this.sink.current,
      ...this.counts,
      rotations: this.sink.rotations,
      queued,
      queuedBytes: this.bytes,
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
      while (this.head < this.lines.length) {
        // A batch: whole lines up to batchBytes (at least one line).
        let end = this.head;
        let size = 0;
        do size += (this.lines[end++] as string).length;
        while (end < this.lines.length && size + (this.lines[end] as string).length <= this.batchBytes);
        const data = this.lines.slice(this.head, end).join('');
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
        this.head = end;
        this.bytes -= size;
        if (this.head > 4096 && this.head * 2 > this.lines.length) {
          this.lines = this.lines.slice(this.head);
          this.times = this.times.slice(this.head);
          this.head = 0;
        }
      }
      this.lines = [];
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
