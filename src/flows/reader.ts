// Reads the datapath's flow statistics into the store:
// - flow_events (ring buffer): new flows and drops arrive within
//   milliseconds through a uv_poll on the event loop (daemon/addon/ringbuf.cc);
// - flows (LRU hash): every pollMs one batch dump; only entries whose
//   last_ns moved since the previous scan are decoded, so idle flows (and
//   flows the store already evicted) cost one 8-byte compare each;
// - flow_stats (per-CPU array): events written and lost, flows created.
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import {
  Direction,
  FlowEventType,
  FlowLayout,
  FlowMapName,
  FlowStat,
  decodeFlow,
  decodeFlowEvent,
  decodeFlowKey,
  decodeFlowStats,
  splitRingRecords,
  keyToAddr,
  type FlowEvent,
  type FlowKey,
  type FlowValue,
} from '../bpf/abi.js';
import type { NativeAddon } from '../bpf/native.js';
import type { Directory } from './directory.js';
import { MonoClock, flowFromKernel, flowId } from './enrich.js';
import type { FlowStore } from './store.js';

export interface FlowReaderOptions {
  /** /sys/fs/bpf/vrfwall/<instance>/maps */
  mapsDir: string;
  node: string;
  pollMs: number;
  /** records handed to JS per ring-buffer wake-up */
  maxEventsPerWake?: number;
}

export interface KernelFlowStats {
  eventsWritten: bigint;
  eventsLost: bigint;
  flowsCreated: bigint;
  flowFailures: bigint;
}

export interface ReaderStats {
  eventsReceived: number;
  scans: number;
  lastScanMs: number;
}

/** Slack under the previous scan's start: a packet stamped just before it may land after the dump read its entry. */
const SCAN_OVERLAP_NS = 10_000_000n;
const LAST_NS_OFFSET = FlowLayout.vw_flow.fields.last_ns;
const LITTLE_ENDIAN = os.endianness() === 'LE';
/** Entries decoded between two yields to the event loop. */
const SCAN_SLICE = 2000;
const ADDR_CACHE_MAX = 4096;
/** Ring-buffer records handled per event-loop turn. */
const EVENTS_PER_WAKE = 1024;

export class FlowReader {
  private fds: { flows: number; events: number; stats: number } | undefined;
  private ring: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastScanNs = 0n;
  private lastCount = 0;
  private readonly addrCache = new Map<string, string>();
  private scanning = false;
  private readonly clock = new MonoClock();
  private readonly counts: ReaderStats = { eventsReceived: 0, scans: 0, lastScanMs: 0 };

  constructor(
    private readonly bpf: NativeAddon,
    private readonly store: FlowStore,
    private readonly directory: () => Directory,
    private readonly opts: FlowReaderOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    const open = (name: string) => this.bpf.objGet(path.join(this.opts.mapsDir, name));
    this.fds = { flows: open(FlowMapName.flows), events: open(FlowMapName.flowEvents), stats: open(FlowMapName.flowStats) };
    this.ring = this.bpf.ringbufOpen(this.fds.events, (batch) => this.onRecords(batch), this.opts.maxEventsPerWake ?? EVENTS_PER_WAKE);
    this.timer = setInterval(() => this.scanSafely(), this.opts.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.ring !== undefined) this.bpf.ringbufClose(this.ring);
    this.ring = undefined;
    for (const fd of Object.values(this.fds ?? {})) this.bpf.closeFd(fd);
    this.fds = undefined;
  }

  stats(): ReaderStats {
    return { ...this.counts };
  }

  kernelStats(): KernelFlowStats {
    if (!this.fds) return { eventsWritten: 0n, eventsLost: 0n, flowsCreated: 0n, flowFailures: 0n };
    const s = decodeFlowStats(this.bpf.mapDump(this.fds.stats), this.bpf.possibleCpus());
    return {
      eventsWritten: s[FlowStat.EVENTS] ?? 0n,
      eventsLost: s[FlowStat.EVENTS_LOST] ?? 0n,
      flowsCreated: s[FlowStat.FLOWS_NEW] ?? 0n,
      flowFailures: s[FlowStat.FLOW_FAILED] ?? 0n,
    };
  }

  private onRecords(batch: Buffer): void {
    try {
      this.clock.sync();
      const dir = this.directory();
      for (const rec of splitRingRecords(batch)) {
        if (rec.length < FlowLayout.vw_flow_event.size) continue;
        this.counts.eventsReceived++;
        this.applyEvent(decodeFlowEvent(rec, 0, (b, o) => this.keyOf(b.subarray(o, o + FlowLayout.vw_flow_key.size))), dir);
      }
    } catch (e) {
      this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'flow events: bad batch');
    }
  }

  /** An event carries the packet that made it; the next scan brings the full counters. */
  private applyEvent(ev: FlowEvent, dir: Directory): void {
    const id = flowId(ev.keyBytes);
    const existing = this.store.get(id);
    const at = this.clock.wallMs(ev.tsNs);
    if (existing && ev.type === FlowEventType.DROP) {
      const f = flowFromKernel(id, ev.key, eventValue(ev), dir, this.opts.node, this.clock);
      this.store.put({
        ...existing,
        verdict: f.verdict,
        dropReason: f.dropReason,
        allowRule: f.allowRule,
        code: f.code,
        lastSeenMs: Math.max(existing.lastSeenMs, at),
      });
      return;
    }
    if (existing && ev.type === FlowEventType.NEW && Math.abs(existing.firstSeenMs - at) <= 1) return;
    this.store.put(flowFromKernel(id, ev.key, eventValue(ev), dir, this.opts.node, this.clock));
  }

  /** decodeFlowKey with the address texts cached: a flood repeats the same few addresses. */
  private keyOf(keyBytes: Buffer): FlowKey {
    const f = FlowLayout.vw_flow_key.fields;
    const addr = (off: number): string => {
      const k = keyBytes.toString('latin1', off, off + 16);
      let text = this.addrCache.get(k);
      if (text === undefined) {
        if (this.addrCache.size >= ADDR_CACHE_MAX) this.addrCache.clear();
        text = keyToAddr(keyBytes, off);
        this.addrCache.set(k, text);
      }
      return text;
    };
    const k = decodeFlowKey(keyBytes, 0, false);
    return { ...k, selfAddr: addr(f.self_addr), peerAddr: addr(f.peer_addr) };
  }

  private scanSafely(): void {
    if (this.scanning) return; // the previous scan is still yielding its way through
    this.scanning = true;
    this.scan()
      .catch((e: unknown) => this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'flow scan failed'))
      .finally(() => {
        this.scanning = false;
      });
  }

  /** Entries in the kernel flows map at the last scan (for map fill without another dump). */
  get kernelEntries(): number {
    return this.lastCount;
  }

  /** One batch dump of the flows map; decode what changed since the last scan,
   *  yielding to the event loop every SCAN_SLICE entries so API calls are
   *  answered in between even when every entry changed (a flood). */
  async scan(): Promise<void> {
    if (!this.fds) return;
    const t0 = performance.now();
    const startNs = this.clock.nowNs();
    const since = this.lastScanNs;
    const dump = this.bpf.mapDump(this.fds.flows);
    this.clock.sync();
    const keySize = FlowLayout.vw_flow_key.size;
    const valueSize = FlowLayout.vw_flow.size;
    const dir = this.directory();
    this.lastCount = dump.count;
    for (let i = 0; i < dump.count; i++) {
      if (i > 0 && i % SCAN_SLICE === 0) {
        await new Promise((r) => setImmediate(r));
        if (!this.fds) return;
      }
      const vOff = i * valueSize;
      const lastNs = LITTLE_ENDIAN ? dump.values.readBigUInt64LE(vOff + LAST_NS_OFFSET) : dump.values.readBigUInt64BE(vOff + LAST_NS_OFFSET);
      if (lastNs < since) continue;
      const keyBytes = dump.keys.subarray(i * keySize, (i + 1) * keySize);
      const id = flowId(keyBytes);
      const value = decodeFlow(dump.values, vOff);
      const prev = this.store.get(id);
      if (prev && prev.lastSeenMs === this.clock.wallMs(value.lastNs) && sameCounts(prev, value)) continue;
      this.store.put(flowFromKernel(id, this.keyOf(keyBytes), value, dir, this.opts.node, this.clock));
    }
    this.lastScanNs = startNs > SCAN_OVERLAP_NS ? startNs - SCAN_OVERLAP_NS : 0n;
    this.counts.scans++;
    this.counts.lastScanMs = performance.now() - t0;
  }
}

function sameCounts(prev: { forward: { packets: number }; reverse: { packets: number } }, v: FlowValue): boolean {
  return prev.forward.packets + prev.reverse.packets === Number(v.packets[0] + v.packets[1]);
}

/** The one packet an event describes, as a flow value. */
function eventValue(ev: FlowEvent): FlowValue {
  const one = (d: number, n: bigint): [bigint, bigint] => (d === Direction.FROM_POD ? [n, 0n] : [0n, n]);
  const dropped = ev.verdict === 1;
  return {
    firstNs: ev.tsNs,
    lastNs: ev.tsNs,
    eventNs: ev.tsNs,
    packets: one(ev.dir, 1n),
    bytes: one(ev.dir, BigInt(ev.len)),
    drops: one(ev.dir, dropped ? 1n : 0n),
    verdict: ev.verdict,
    code: ev.code,
    lastDir: ev.dir,
    firstDir: ev.dir,
    tcpFlags: [0, 0],
  };
}
