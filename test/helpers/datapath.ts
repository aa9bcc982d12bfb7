// The datapath objects on the real kernel for BPF_PROG_TEST_RUN tests: pin
// directories owned by one test process, both programs loaded with one pin
// root (so they share the maps), the __sk_buff context a run takes, and a
// run checked by its tc action and the per-CPU counter slot it moved.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import * as abi from '../../src/kernel/abi.js';
import { probeDecision, skbCtx } from '../../src/kernel/skb.js';

export { probeDecision, skbCtx };
export { flowTable } from './flowtable.js';
import type { LoadedObject, NativeAddon } from '../../src/kernel/native.js';
import { ensureBpffs, removePins } from '../../src/agent/bpffs.js';
import { ROOT } from './lab.js';
import { processAlive } from './netns.js';

export const PIN_BASE = '/sys/fs/bpf/vrfwall';
/** progTestRun needs an existing device: ifindex 1 is the loopback of the test's netns. */
export const HERE = 1;
/** The probe key every TestDatapath writes into its config map (an agent picks a random one). */
export const TEST_PROBE_KEY = 0x7e57c0de;
/** The flow table's hash seed in tests (the agent picks a random one). */
export const TEST_FLOW_SEED = 0x5eed5eed;
/** An explain probe's context on HERE. */
export const probeCtx = (ifindex = HERE): Buffer => skbCtx(ifindex, TEST_PROBE_KEY);


/**
 * Mounts bpffs if needed and removes the pin directories `${prefix}<pid>` and
 * `${prefix}<pid>-*` under PIN_BASE that runs of the same test file which are
 * gone left behind (and this process's own). Call it at the start of a file.
 */
export function removeStalePins(prefix: string): void {
  ensureBpffs();
  if (!fs.existsSync(PIN_BASE)) return;
  for (const d of fs.readdirSync(PIN_BASE)) {
    if (!d.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)(-|$)/.exec(d.slice(prefix.length))?.[1]);
    if (Number.isInteger(pid) && (pid === process.pid || !processAlive(pid))) removePins(path.join(PIN_BASE, d));
  }
}

/** This process's pin directory for a test file: `${PIN_BASE}/${prefix}<pid>` (not created). */
export function pinRootOf(prefix: string): string {
  return path.join(PIN_BASE, `${prefix}${process.pid}`);
}

/** removeStalePins(prefix), then pinRootOf(prefix). */
export function freshPinRoot(prefix: string): string {
  removeStalePins(prefix);
  return pinRootOf(prefix);
}

/** Who a test frame is from or to: one address per family. */
export interface Party {
  v4: string;
  v6: string;
}

/** The pod and service CIDRs the tests' parties are drawn from (10.244/16, 10.96/16 and their IPv6 twins). */
export const CLUSTER_CIDRS: readonly (readonly [string, number])[] = [
  ['10.244.0.0/16', abi.VW_CIDR_POD],
  ['fd00:10:244::/48', abi.VW_CIDR_POD],
  ['10.96.0.0/16', abi.VW_CIDR_SERVICE],
  ['fd00:10:96::/108', abi.VW_CIDR_SERVICE],
];

export type Dir = 'from' | 'to';
export type Want = { allow: abi.AllowRule } | { drop: abi.DropReason } | { audit: abi.DropReason };
export const allow = (rule: abi.AllowRule): Want => ({ allow: rule });
export const drop = (reason: abi.DropReason): Want => ({ drop: reason });
/** Audit mode: passes, counted as AUDIT with the drop reason it would have had. */
export const audit = (reason: abi.DropReason): Want => ({ audit: reason });

/** The counter slot a verdict grows, e.g. "from_pod/dropped/SPOOFED". */
export function slotName(dir: Dir, want: Want): string {
  const prog = dir === 'from' ? 'from_pod' : 'to_pod';
  if ('allow' in want) return `${prog}/allowed/${abi.allowRuleName(want.allow)}`;
  if ('audit' in want) return `${prog}/audit/${abi.dropReasonName(want.audit)}`;
  return `${prog}/dropped/${abi.dropReasonName(want.drop)}`;
}

export type Counted = Record<string, { packets: bigint; bytes: bigint }>;

function closeObject(n: NativeAddon, obj: LoadedObject): void {
  for (const fd of [...Object.values(obj.programs), ...Object.values(obj.maps)]) n.closeFd(fd);
}

/** from_pod.o, to_pod.o and session_gc.o loaded with one pin root; every fd stays open until close(). */
export class TestDatapath {
  readonly cpus: number;
  /** [from_pod.o, to_pod.o, session_gc.o] as the addon loaded them (the loading tests compare their maps) */
  readonly loaded: readonly [LoadedObject, LoadedObject, LoadedObject];
  readonly fromPod: number;
  readonly toPod: number;
  readonly sessionGc: number;

  constructor(
    readonly n: NativeAddon,
    readonly pinRoot: string,
    maxEntries: Record<string, number> = {},
  ) {
    this.cpus = n.possibleCpus();
    fs.mkdirSync(pinRoot, { recursive: true });
    const load = (prog: string) => n.loadObject(path.join(ROOT, 'build/bpf', `${prog}.o`), { pinRoot, maxEntries });
    const objs: LoadedObject[] = [];
    try {
      for (const prog of ['from_pod', 'to_pod', 'session_gc']) objs.push(load(prog));
    } catch (e) {
      // afterAll gets no object to close: leave nothing behind here
      for (const obj of objs) closeObject(n, obj);
      removePins(pinRoot);
      throw e;
    }
    this.loaded = [objs[0]!, objs[1]!, objs[2]!];
    this.fromPod = this.loaded[0].programs.from_pod ?? -1;
    this.toPod = this.loaded[1].programs.to_pod ?? -1;
    this.sessionGc = this.loaded[2].programs.session_gc ?? -1;
    // The verdict cache on, as under an agent: every write below retires it.
    this.n.mapUpdate(this.mapFd(abi.MapName.cacheCtl), Buffer.alloc(4), abi.encodeCacheCtl({ epoch: 1, flowSeed: TEST_FLOW_SEED }));
    this.putConfig({});
  }

  /** What the agent does after every map write that can change a verdict:
   *  raise the epoch, so no decision cached before the write is used. Tests
   *  that write a map directly call this after it. */
  retire(): void {
    const fd = this.mapFd(abi.MapName.cacheCtl);
    const now = abi.decodeCacheCtl(this.n.mapLookup(fd, Buffer.alloc(4)) ?? Buffer.alloc(8));
    this.n.mapUpdate(fd, Buffer.alloc(4), abi.encodeCacheCtl({ ...now, epoch: now.epoch + 1 }));
  }

  /** Run the session sweep: what it removed and kept (cb[0..2]); retires the cache when it removed any, as the agent does. */
  sweepSessions(): { expired: number; revoked: number; kept: number } {
    const out = this.n.progTestRun(this.sessionGc, Buffer.alloc(64), 1, skbCtx(HERE)).ctxOut;
    const cb = (i: number) => out?.readUInt32LE(48 + 4 * i) ?? -1;
    if (cb(0) + cb(1) > 0) this.retire();
    return { expired: cb(0), revoked: cb(1), kept: cb(2) };
  }

  /** Write the datapath settings (timeouts, quota); zero fields mean the defaults. */
  putConfig(c: Partial<abi.DatapathConfig>): void {
    const full: abi.DatapathConfig = {
      tcpSynTimeoutNs: 0n,
      tcpEstablishedTimeoutNs: 0n,
      tcpClosingTimeoutNs: 0n,
      udpTimeoutNs: 0n,
      otherTimeoutNs: 0n,
      sessionQuota: 0,
      probeKey: TEST_PROBE_KEY,
      flags: 0,
      ...c,
    };
    this.n.mapUpdate(this.mapFd(abi.MapName.config), Buffer.alloc(4), abi.encodeConfig(full));
    this.retire();
  }

  mapFd(name: string): number {
    const fd = this.loaded[0].maps[name];
    if (fd === undefined) throw new Error(`map ${name} missing from the object`);
    return fd;
  }

  /** Every party's addresses (both families) into the endpoints map. */
  putEndpoints(entries: readonly (readonly [Party, abi.EndpointValue])[]): void {
    for (const [party, ep] of entries) {
      for (const addr of [party.v4, party.v6]) {
        this.n.mapUpdate(this.mapFd(abi.MapName.endpoints), abi.encodeEndpointKey(addr), abi.encodeEndpoint(ep));
      }
    }
    this.retire();
  }

  putCidrs(entries: readonly (readonly [string, number])[]): void {
    for (const [cidr, kind] of entries) {
      this.n.mapUpdate(this.mapFd(abi.MapName.cidrs), abi.encodeCidrKey(cidr), abi.encodeCidrValue({ kind }));
    }
    this.retire();
  }

  counters(): Map<string, abi.CounterEntry> {
    const entries = abi.decodeCounters(this.n.mapDump(this.mapFd(abi.MapName.counters)), this.cpus);
    return new Map(entries.map((e) => [e.name, e]));
  }

  /** The counter slots that moved while fn ran, by how much. */
  countedWhile(fn: () => void): Counted {
    const before = this.counters();
    fn();
    const counted: Counted = {};
    for (const [name, after] of this.counters()) {
      const b = before.get(name);
      const packets = after.packets - (b?.packets ?? 0n);
      if (packets !== 0n) counted[name] = { packets, bytes: after.bytes - (b?.bytes ?? 0n) };
    }
    return counted;
  }

  /** Run one frame through a program: its tc action and the counter slots it moved. */
  run(dir: Dir, frame: Buffer, ifindex = HERE): { action: number; counted: Counted } {
    let action = 0;
    const counted = this.countedWhile(() => {
      action = this.n.progTestRun(dir === 'from' ? this.fromPod : this.toPod, frame, 1, skbCtx(ifindex)).retval;
    });
    return { action, counted };
  }

  /** Run one frame; expect the action and exactly one counter slot grown by one packet of the frame's size. */
  expectVerdict(dir: Dir, frame: Buffer, want: Want): void {
    const out = this.run(dir, frame);
    const wanted = slotName(dir, want);
    expect(out.counted, `counted as ${wanted}`).toEqual({
      [wanted]: { packets: 1n, bytes: BigInt(frame.length) },
    });
    expect(out.action).toBe('drop' in want ? abi.TcAction.DROP : abi.TcAction.ALLOW);
  }

  /** Close every fd and remove the pins. */
  close(): void {
    for (const obj of this.loaded) closeObject(this.n, obj);
    removePins(this.pinRoot);
  }
}

/** Local pod endpoints as the compile step writes them, for SessionKeeper.sweep. */
export function localEndpoints(addrs: readonly string[]): Map<string, { flags: number }> {
  return new Map(addrs.map((a) => [a, { flags: abi.VW_EP_LOCAL }]));
}
