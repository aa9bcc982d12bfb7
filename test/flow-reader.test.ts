// The flow reader (src/flows/reader.ts) without a kernel: the addon calls it
// makes are a fake (a flows table in an ArrayBuffer, ring-buffer batches
// handed to its callback, the counters and flow_stats dumps), so what is
// tested is what it does with them: events into the store (NEW once, DROP
// updates the verdict), scans that decode only the slots that moved, polls
// that skip the scan while the datapath's counters stand still, and stop()
// giving every fd, ring and mapping back. The kernel side is flows-datapath
// and flows-lab.
import { afterEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import * as abi from '../src/kernel/abi.js';
import type { MapDump, NativeAddon } from '../src/kernel/native.js';
import { Directory } from '../src/flows/directory.js';
import { FlowReader } from '../src/flows/reader.js';
import { FlowStore } from '../src/flows/store.js';
import { strictAddon } from './helpers/fake-maps.js';

const FD = { flows: 11, flow_events: 12, flow_stats: 13, counters: 14 } as const;
const RING = 99;
const SLOTS = 8;

class FakeFlowKernel {
  table = new ArrayBuffer(SLOTS * abi.FlowLayout.vw_flow.size);
  counters = Buffer.alloc(16);
  stats = [0n, 0n, 0n, 0n];
  hasCounters = true;
  onRecords: ((batch: Buffer, count: number) => void) | undefined;
  readonly calls: string[] = [];
  readonly mapped = new Set<ArrayBuffer>();

  slot(i: number, key: abi.FlowKey, value: abi.FlowValue): void {
    Buffer.from(this.table).set(abi.encodeFlow(key, value), i * abi.FlowLayout.vw_flow.size);
  }

  addon(): NativeAddon {
    const u32 = (n: number): Buffer => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b;
    };
    const impl: Partial<NativeAddon> = {
      objGet: (p: string) => {
        const name = p.split('/').pop() as keyof typeof FD;
        if (name === 'counters' && !this.hasCounters) throw new Error('ENOENT');
        this.calls.push(`objGet ${name}`);
        return FD[name];
      },
      ringbufOpen: (fd: number, cb: (batch: Buffer, count: number) => void) => {
        expect(fd).toBe(FD.flow_events);
        this.onRecords = cb;
        return RING;
      },
      ringbufClose: (h: number) => {
        this.calls.push(`ringbufClose ${h}`);
        return true;
      },
      closeFd: (fd: number) => void this.calls.push(`closeFd ${fd}`),
      possibleCpus: () => 1,
      mapDump: (fd: number): MapDump => {
        if (fd === FD.counters) {
          this.calls.push('dump counters');
          return { count: 1, keys: u32(0), values: Buffer.from(this.counters) } as MapDump;
        }
        if (fd === FD.flow_stats) {
          const values = Buffer.alloc(8 * this.stats.length);
          this.stats.forEach((v, i) => values.writeBigUInt64LE(v, i * 8));
          return { count: this.stats.length, keys: Buffer.concat(this.stats.map((_, i) => u32(i))), values } as MapDump;
        }
        throw new Error(`unexpected dump of fd ${fd}`);
      },
      mapMmap: (fd: number) => {
        expect(fd).toBe(FD.flows);
        this.calls.push('mmap flows');
        const m = this.table.slice(0); // a scan reads its own view
        this.mapped.add(m);
        return m;
      },
      mapUnmap: (m: ArrayBuffer) => {
        expect(this.mapped.delete(m)).toBe(true);
      },
    };
    return strictAddon(impl);
  }
}

const key = (peerPort: number): abi.FlowKey => ({
  selfAddr: '10.244.1.10',
  peerAddr: '10.244.2.20',
  ifindex: 7,
  selfPort: 40000,
  peerPort,
  ethertype: 0x0800,
  proto: 17,
});

function value(lastNs: bigint, packets: bigint, verdict: number = abi.Verdict.ALLOWED): abi.FlowValue {
  return {
    firstNs: lastNs - 1000n,
    lastNs,
    eventTick: 0,
    cache: 0n,
    packets: [packets, 0n],
    bytes: [packets * 100n, 0n],
    drops: [verdict === abi.Verdict.DROPPED ? packets : 0n, 0n],
    verdict,
    code: verdict === abi.Verdict.ALLOWED ? abi.AllowRule.SAME_NETWORK : abi.DropReason.ISOLATED,
    lastDir: abi.Direction.FROM_POD,
    firstDir: abi.Direction.FROM_POD,
    tcpFlags: [0, 0],
  };
}

/** A ring-buffer batch as the addon delivers it: [u32 len][4 zero bytes][record][pad to 8]. */
function batch(...events: { key: abi.FlowKey; type: number; verdict: number; code: number; len: number; tsNs: bigint }[]): Buffer {
  const f = abi.FlowLayout.vw_flow_event.fields;
  return Buffer.concat(
    events.map((e) => {
      const rec = Buffer.alloc(8 + abi.FlowLayout.vw_flow_event.size);
      rec.writeUInt32LE(abi.FlowLayout.vw_flow_event.size, 0);
      const r = rec.subarray(8);
      abi.encodeFlowKey(e.key).copy(r, f.key);
      r.writeUInt8(e.type, f.type);
      r.writeUInt8(abi.Direction.FROM_POD, f.dir);
      r.writeUInt8(e.verdict, f.verdict);
      r.writeUInt8(e.code, f.code);
      r.writeUInt32LE(e.len, f.len);
      r.writeBigUInt64LE(e.tsNs, f.ts_ns);
      return rec;
    }),
  );
}

const now = (): bigint => process.hrtime.bigint();
let reader: FlowReader | undefined;

function make(kernel: FakeFlowKernel, pollMs = 100): { reader: FlowReader; store: FlowStore } {
  const store = new FlowStore(1000);
  const dir = new Directory();
  reader = new FlowReader(kernel.addon(), store, () => dir, { mapsDir: '/sys/fs/bpf/vrfwall/x/maps', node: 'node1', pollMs }, pino({ level: 'silent' }));
  return { reader, store };
}

afterEach(() => {
  reader?.stop();
  reader = undefined;
  vi.useRealTimers();
});

describe('flow reader: ring-buffer events', () => {
  it('a NEW event makes a flow of its one packet; a DROP event on it changes its verdict, not its counters; a short record is skipped', async () => {
    const kernel = new FakeFlowKernel();
    const { reader, store } = make(kernel, 60_000);
    reader.start();
    const ts = now();
    kernel.onRecords!(batch({ key: key(53), type: abi.FlowEventType.NEW, verdict: abi.Verdict.ALLOWED, code: abi.AllowRule.SAME_NETWORK, len: 90, tsNs: ts }), 1);
    expect(store.all()).toHaveLength(1);
    expect(store.all()[0]).toMatchObject({ verdict: 'ALLOWED', allowRule: 'SAME_NETWORK', node: 'node1', forward: { packets: 1, bytes: 90 } });
    expect(store.all()[0]!.destination.port).toBe(53);

    // a scan brings the full counters of the flow
    kernel.slot(0, key(53), value(ts + 1_000_000n, 5n));
    await reader.scan();
    const first = store.all()[0]!;
    expect(first.forward.packets).toBe(5);
    kernel.onRecords!(batch({ key: key(53), type: abi.FlowEventType.DROP, verdict: abi.Verdict.DROPPED, code: abi.DropReason.ISOLATED, len: 90, tsNs: ts + 5_000_000n }), 1);
    expect(store.all()).toHaveLength(1);
    // the verdict changes; the counters and the first sighting are the flow's, not the one packet's
    expect(store.all()[0]).toMatchObject({ verdict: 'DROPPED', dropReason: 'ISOLATED', forward: { packets: 5 }, firstSeenMs: first.firstSeenMs });

    // a record shorter than an event (a newer datapath's, or garbage) is not read
    const short = Buffer.alloc(16);
    short.writeUInt32LE(8, 0);
    kernel.onRecords!(short, 1);
    expect(reader.stats().eventsReceived).toBe(2);
  });
});

describe('flow reader: scans of the flows table', () => {
  it('decodes every used slot on the first scan, then only slots whose last_ns moved', async () => {
    const kernel = new FakeFlowKernel();
    const { reader, store } = make(kernel, 60_000);
    reader.start();
    const t = now();
    kernel.slot(0, key(80), value(t, 3n));
    kernel.slot(5, key(81), value(t, 4n, abi.Verdict.DROPPED));
    await reader.scan();
    expect(reader.kernelEntries).toBe(2);
    const byPort = () => new Map(store.all().map((f) => [f.destination.port, f]));
    expect(byPort().get(80)).toMatchObject({ forward: { packets: 3, bytes: 300 }, verdict: 'ALLOWED' });
    expect(byPort().get(81)).toMatchObject({ forward: { packets: 4, droppedPackets: 4 }, verdict: 'DROPPED', dropReason: 'ISOLATED' });

    // Slot 0 moves on; slot 5 is changed behind the reader's back but its
    // last_ns stays before the last scan: not decoded again (that is the point).
    const put = vi.spyOn(store, 'put');
    kernel.slot(0, key(80), value(now(), 10n));
    kernel.slot(5, key(81), value(t - 50_000_000n, 99n, abi.Verdict.DROPPED));
    await reader.scan();
    expect(put).toHaveBeenCalledTimes(1);
    expect(byPort().get(80)?.forward.packets).toBe(10);
    expect(byPort().get(81)?.forward.packets).toBe(4);
    expect(reader.stats().scans).toBe(2);
    expect(kernel.mapped.size).toBe(0); // each scan unmapped its view
  });

  it('polls scan only when the datapath counters moved; without a counters map every poll scans', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const kernel = new FakeFlowKernel();
    const { reader } = make(kernel, 100);
    reader.start();
    await vi.advanceTimersByTimeAsync(100); // first poll: a full scan (none for 30 s)
    expect(reader.stats()).toMatchObject({ scans: 1, scansSkipped: 0 });
    await vi.advanceTimersByTimeAsync(100); // counters read for the first time: nothing to compare with -> scan
    expect(reader.stats()).toMatchObject({ scans: 2, scansSkipped: 0 });
    await vi.advanceTimersByTimeAsync(300); // three polls, counters unchanged
    expect(reader.stats()).toMatchObject({ scans: 2, scansSkipped: 3 });
    kernel.counters.writeBigUInt64LE(1n, 0); // a packet passed
    await vi.advanceTimersByTimeAsync(100);
    expect(reader.stats()).toMatchObject({ scans: 3, scansSkipped: 3 });
    expect(kernel.calls.filter((c) => c === 'mmap flows')).toHaveLength(3);

    reader.stop();
    const noCounters = new FakeFlowKernel();
    noCounters.hasCounters = false;
    const other = make(noCounters, 100).reader;
    other.start();
    await vi.advanceTimersByTimeAsync(300);
    expect(other.stats()).toMatchObject({ scans: 3, scansSkipped: 0 });
  });

  it('kernel statistics are the flow_stats slots; stop() closes the ring, every fd and any mapping', () => {
    const kernel = new FakeFlowKernel();
    const { reader } = make(kernel);
    reader.start();
    kernel.stats = [5n, 2n, 7n, 1n];
    expect(reader.kernelStats()).toEqual({ eventsWritten: 5n, eventsLost: 2n, flowsCreated: 7n, flowFailures: 1n });
    reader.stop();
    expect(kernel.calls.filter((c) => c.startsWith('ringbufClose') || c.startsWith('closeFd')).sort()).toEqual(
      [`ringbufClose ${RING}`, ...Object.values(FD).map((fd) => `closeFd ${fd}`)].sort(),
    );
    expect(reader.kernelStats()).toEqual({ eventsWritten: 0n, eventsLost: 0n, flowsCreated: 0n, flowFailures: 0n });
  });
});
