// Reads the datapath's flow statistics into the store:
// - flow_events (ring buffer): new flows and drops arrive within
//   VW_FLOW_EVENT_POLL_MS (a timer drains the ring; the programs wake the
//   uv_poll only when it fills) on the event loop (addon/ringbuf.cc);
// - flows (an open-addressed table of slots, key inside, mapped into this
//   process: read in place, no copy): a pass at most every pollMs, and only when the
//   datapath's global packet counters (the small `counters` array) moved
//   since the previous scan: a node at rest costs one tiny dump per poll,
//   not a dump of up to 65,536 flow entries. Only entries whose last_ns moved
//   are decoded. The scans are held to a CPU budget (SCAN_BUDGET of one
//   core): under a flood a scan that took 50 ms waits 1 s before the next,
//   one that took 200 ms waits 4 s, so the agent does not compete with the
//   packet path for the CPU; new flows and drops still arrive at once;
// - flow_stats (per-CPU array): events written and lost, flows created.
import path from 'node:path';
import type { Logger } from 'pino';
import {
  MapName,
  Direction,
  FlowEventType,
  FlowLayout,
  FlowMapName,
  FlowStat,
  VW_FLOW_EVENT_POLL_MS,
  VW_FLOW_EVENT_TICK_SHIFT,
  decodeFlow,
  decodeFlowEvent,
  decodeFlowKey,
  decodeFlowStats,
  splitRingRecords,
  keyToAddr,
  type FlowEvent,
  type FlowKey,
  type FlowValue,
} from '../kernel/abi.js';
import type { NativeAddon } from '../kernel/native.js';
import type { Directory } from './directory.js';
import { MonoClock, flowFromKernel, flowId } from './enrich.js';
import type { Flow } from './types.js';
import type { FlowStore } from './store.js';

export interface FlowReaderOptions {
  /** /sys/fs/bpf/vrfwall/<instance>/maps */
  mapsDir: string;
  node: string;
  pollMs: number;
  /** records handed to JS per ring-buffer wake-up */
  maxEventsPerWake?: number;
  /** NetworkPolicy's name for a flow ('' for none; src/flows/policy-name.ts) */
  policyName?: (f: Flow) => string;
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
  /** polls that found the datapath's counters unchanged and read no flow entry */
  scansSkipped: number;
  /** wall time of the last scan, yields included */
  lastScanMs: number;
  /** CPU-busy time of the last scan (the synchronous slices) */
  lastScanBusyMs: number;
}

/** Slack under the previous scan's start: a packet stamped just before it may land after the dump read its entry,
 *  and coarse BPF timestamps run up to one tick (4 ms at HZ=250) behind. Keep it >= 1 tick. */
const SCAN_OVERLAP_NS = 10_000_000n;
const LAST_NS_WORD = FlowLayout.vw_flow.fields.last_ns / 8;
const FIRST_NS_WORD = FlowLayout.vw_flow.fields.first_ns / 8;
const KEY_OFFSET = FlowLayout.vw_flow.fields.key;
/** Entries decoded between two yields to the event loop. */
const SCAN_SLICE = 2000;
const ADDR_CACHE_MAX = 4096;
/** Ring-buffer records handled per event-loop turn. */
const EVENTS_PER_WAKE = 1024;
/** Share of one core the counter scans may use (busy time / wall time). */
const SCAN_BUDGET = 0.05;
/** A scan at least this often even when the global counters look unchanged
 *  (belt and braces: a datapath that stops counting must not freeze the flows). */
const FORCED_SCAN_MS = 30_000;

export class FlowReader {
  private fds: { flows: number; events: number; stats: number; counters: number | undefined } | undefined;
  /** the flows table, mapped by scans in progress (unmapped when each ends, or by stop) */
  private readonly mappings = new Set<ArrayBuffer>();
  private ring: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** the counters map's values at the last scan: unchanged = no packet since */
  private lastCounters: Buffer | undefined;
  private lastFullScanAt = 0;
  private stopped = false;
  private lastScanNs = 0n;
  private lastCount = 0;
  private readonly addrCache = new Map<string, string>();
  private readonly clock = new MonoClock();
  private readonly counts: ReaderStats = { eventsReceived: 0, scans: 0, scansSkipped: 0, lastScanMs: 0, lastScanBusyMs: 0 };

  constructor(
    private readonly bpf: NativeAddon,
    private readonly store: FlowStore,
    private readonly directory: () => Directory,
    private readonly opts: FlowReaderOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    const open = (name: string) => this.bpf.objGet(path.join(this.opts.mapsDir, name));
    let counters: number | undefined;
    try {
      counters = open(MapName.counters);
    } catch {
      counters = undefined; // no global counters: every poll scans
    }
    this.fds = { flows: open(FlowMapName.flows), events: open(FlowMapName.flowEvents), stats: open(FlowMapName.flowStats), counters };
    this.ring = this.bpf.ringbufOpen(this.fds.events, (batch) => this.onRecords(batch), this.opts.maxEventsPerWake ?? EVENTS_PER_WAKE, VW_FLOW_EVENT_POLL_MS);
    this.stopped = false;
    this.schedule(this.opts.pollMs);
  }

  /** The next poll after `ms`; a chain of timeouts so a slow scan pushes the next one out. */
  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, ms);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    try {
      if (this.activity()) await this.scan();
      else this.counts.scansSkipped++;
    } catch (e) {
      this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'flow scan failed');
    }
    // Hold the scans to their CPU budget: wait busy/budget before the next.
    this.schedule(Math.max(this.opts.pollMs, this.counts.lastScanBusyMs / SCAN_BUDGET));
  }

  /** Did any packet pass since the last scan? The counters map is a few
   *  hundred bytes per CPU; every packet that changes a flow entry also
   *  counts there. */
  private activity(): boolean {
    const fd = this.fds?.counters;
    if (fd === undefined || Date.now() - this.lastFullScanAt >= FORCED_SCAN_MS) return true;
    const now = this.bpf.mapDump(fd).values;
    const same = this.lastCounters !== undefined && now.equals(this.lastCounters);
    this.lastCounters = Buffer.from(now);
    return !same;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.ring !== undefined) this.bpf.ringbufClose(this.ring);
    this.ring = undefined;
    for (const fd of Object.values(this.fds ?? {})) if (fd !== undefined) this.bpf.closeFd(fd);
    this.fds = undefined;
    for (const m of this.mappings) this.bpf.mapUnmap(m);
    this.mappings.clear();
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
      const { policy: _old, ...rest } = existing;
      this.store.put(
        this.named({
          ...rest,
          verdict: f.verdict,
          dropReason: f.dropReason,
          allowRule: f.allowRule,
          code: f.code,
          lastSeenMs: Math.max(existing.lastSeenMs, at),
        }),
      );
      return;
    }
    if (existing && ev.type === FlowEventType.NEW && Math.abs(existing.firstSeenMs - at) <= 1) return;
    this.store.put(this.named(flowFromKernel(id, ev.key, eventValue(ev), dir, this.opts.node, this.clock)));
  }

  /** The flow with NetworkPolicy's name, when a policy selects its local pod. */
  private named(f: Flow): Flow {
    const policy = this.opts.policyName?.(f);
    return policy ? { ...f, policy } : f;
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

  /** Entries in the kernel flows map at the last scan (for map fill without another dump). */
  get kernelEntries(): number {
    return this.lastCount;
  }

  /** One pass over the flows table, read in place through the mapping (no
   *  copy of its 32 MiB); decode the slots whose last_ns moved since the last
   *  scan, yielding to the event loop every SCAN_SLICE of them so API calls
   *  are answered in between even when every entry changed (a flood). */
  async scan(): Promise<void> {
    if (!this.fds) return;
    // Mapped for the scan only: between scans the table's pages are not in this process's RSS.
    const mapping = this.bpf.mapMmap(this.fds.flows);
    this.mappings.add(mapping);
    try {
      await this.scanTable(mapping);
    } finally {
      if (this.mappings.delete(mapping)) this.bpf.mapUnmap(mapping);
    }
  }

  /** The slots are host-endian (the same machine wrote them): read as u64 words. */
  private async scanTable(mapping: ArrayBuffer): Promise<void> {
    const bytes = Buffer.from(mapping);
    const words = new BigUint64Array(mapping);
    const t0 = performance.now();
    let busy = 0;
    let sliceAt = t0;
    const startNs = this.clock.nowNs();
    this.lastFullScanAt = Date.now();
    const since = this.lastScanNs;
    this.clock.sync();
    const slotWords = FlowLayout.vw_flow.size / 8;
    const slots = bytes.length / FlowLayout.vw_flow.size;
    const dir = this.directory();
    let held = 0;
    let decoded = 0;
    for (let i = 0; i < slots; i++) {
      const firstNs = words[i * slotWords + FIRST_NS_WORD] as bigint;
      if (firstNs === 0n) continue; // an empty slot
      held++;
      if ((words[i * slotWords + LAST_NS_WORD] as bigint) < since) continue;
      if (++decoded % SCAN_SLICE === 0) {
        busy += performance.now() - sliceAt;
        await new Promise((r) => setImmediate(r));
        sliceAt = performance.now();
        if (!this.mappings.has(mapping)) return; // stopped meanwhile: unmapped
      }
      // a copy: the kernel goes on writing the slot
      const slot = Buffer.from(bytes.subarray(i * FlowLayout.vw_flow.size, (i + 1) * FlowLayout.vw_flow.size));
      const keyBytes = slot.subarray(KEY_OFFSET, KEY_OFFSET + FlowLayout.vw_flow_key.size);
      const id = flowId(keyBytes);
      const value = decodeFlow(slot, 0);
      const prev = this.store.get(id);
      if (prev && prev.lastSeenMs === this.clock.wallMs(value.lastNs) && sameCounts(prev, value)) continue;
      this.store.put(this.named(flowFromKernel(id, this.keyOf(keyBytes), value, dir, this.opts.node, this.clock)));
    }
    this.lastCount = held;
    this.lastScanNs = startNs > SCAN_OVERLAP_NS ? startNs - SCAN_OVERLAP_NS : 0n;
    this.counts.scans++;
    this.counts.lastScanMs = performance.now() - t0;
    this.counts.lastScanBusyMs = busy + (performance.now() - sliceAt);
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
    eventTick: Number((ev.tsNs >> BigInt(VW_FLOW_EVENT_TICK_SHIFT)) & 0xffffffffn),
    cache: 0n,
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
