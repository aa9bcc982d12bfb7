// The native addon against the real kernel: object loading and pinned-map
// reuse, map operations, errors, tcx links, the tc fallback and test runs.
// Fixture: test/fixtures/pass.bpf.c (build with `make bpf addon`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { native, isBpfError, type BpfError, type LoadedObject } from '../src/kernel/native.js';
import {
  createNetns,
  createVethPair,
  deleteNetns,
  deleteStaleNetns,
  ownedName,
  succeedsIn,
  withNetns,
} from './helpers/netns.js';
import { pinRootOf, removeStalePins } from './helpers/datapath.js';

const FIXTURE = fileURLToPath(new URL('../build/fixtures/pass.bpf.o', import.meta.url));
const XDP_FIXTURE = fileURLToPath(new URL('../build/fixtures/xdp_pass.bpf.o', import.meta.url));
const NS_PREFIX = 'vrfwall-tnat-';
const PIN_PREFIX = 'tnat-';
const PIN_ROOT = pinRootOf(PIN_PREFIX);

// Kernel values (linux/bpf.h, linux/pkt_cls.h).
const BPF_MAP_TYPE_HASH = 1;
const BPF_MAP_TYPE_PERCPU_ARRAY = 6;
const BPF_MAP_TYPE_LPM_TRIE = 11;
const BPF_LINK_TYPE_TCX = 11;
const BPF_TCX_INGRESS = 46;
const BPF_TCX_EGRESS = 47;
const BPF_NOEXIST = 1;
const TC_ACT_UNSPEC = -1;
const TC_ACT_OK = 0;
const TC_ACT_SHOT = 2;

// Fixture layout (test/fixtures/pass.bpf.c).
const FX_COUNT_SLOTS = 4;
const FX_COUNT_CLASSIFY = 2;
const FX_SCRATCH_SIZE = 4; // maxEntries override used below

const addon = native();
const cpus = addon.possibleCpus();
const openFds: number[] = [];

function track(obj: LoadedObject): LoadedObject {
  openFds.push(...Object.values(obj.programs), ...Object.values(obj.maps));
  return obj;
}

function fd(table: Record<string, number>, name: string): number {
  const v = table[name];
  if (v === undefined) throw new Error(`fixture has no '${name}'`);
  return v;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

function u64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
}

/** LPM key: u32 prefix length (host order) + 4 address bytes. */
function prefixKey(len: number, addr: [number, number, number, number]): Buffer {
  return Buffer.concat([u32(len), Buffer.from(addr)]);
}

/** LPM value: s32 tc action + u32 padding. */
function actionValue(action: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32LE(action);
  return b;
}

/** Sum of a per-CPU u64 value (roundup(8, 8) bytes per possible CPU). */
function perCpuSum(v: Buffer): bigint {
  let sum = 0n;
  for (let off = 0; off < v.length; off += 8) sum += v.readBigUInt64LE(off);
  return sum;
}

/** Ethernet + minimal IPv4 header (UDP, no payload). */
function ipv4Frame(src: [number, number, number, number], dst: [number, number, number, number]): Buffer {
  const f = Buffer.alloc(14 + 20);
  f.writeUInt16BE(0x0800, 12); // ETH_P_IP
  f[14] = 0x45; // version 4, IHL 5
  f.writeUInt16BE(20, 16); // total length
  f[22] = 64; // TTL
  f[23] = 17; // UDP
  Buffer.from(src).copy(f, 26);
  Buffer.from(dst).copy(f, 30);
  return f;
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an exception');
}

function expectBpfError(fn: () => unknown, code: string, syscall: string): BpfError {
  const e = catchError(fn);
  expect(isBpfError(e), String(e)).toBe(true);
  const err = e as BpfError;
  expect(err.code).toBe(code);
  expect(err.syscall).toBe(syscall);
  expect(err.message.startsWith(`${syscall}(`)).toBe(true);
  return err;
}

let first: LoadedObject;
let second: LoadedObject;

beforeAll(() => {
  expect(fs.existsSync(FIXTURE), `${FIXTURE} missing: run 'make bpf addon'`).toBe(true);
  deleteStaleNetns(NS_PREFIX);
  removeStalePins(PIN_PREFIX);
  first = track(addon.loadObject(FIXTURE, { pinRoot: PIN_ROOT, maxEntries: { fx_scratch: FX_SCRATCH_SIZE } }));
  second = track(addon.loadObject(FIXTURE, { pinRoot: PIN_ROOT }));
});

afterAll(() => {
  for (const f of openFds.splice(0)) {
    try {
      addon.closeFd(f);
    } catch {
      // already closed by a test
    }
  }
  fs.rmSync(PIN_ROOT, { recursive: true, force: true });
});

describe('loadObject', () => {
  it('reports the addon build', () => {
    expect(addon.libbpfVersion()).toMatch(/^1\.\d+$/);
    expect(cpus).toBeGreaterThanOrEqual(1);
  });

  it('returns every program and map by name', () => {
    expect(Object.keys(first.programs).sort()).toEqual(['fx_classify', 'fx_drop', 'fx_pass']);
    expect(Object.keys(first.maps).sort()).toEqual(['fx_counts', 'fx_prefixes', 'fx_scratch', 'fx_sources']);
    expect(addon.mapInfo(fd(first.maps, 'fx_sources'))).toMatchObject({
      type: BPF_MAP_TYPE_HASH,
      keySize: 4,
      valueSize: 8,
      maxEntries: 64,
      name: 'fx_sources',
    });
    expect(addon.progId(fd(first.programs, 'fx_pass'))).toBeGreaterThan(0);
  });

  it('pins maps by name and reuses them on a second load', () => {
    for (const name of ['fx_sources', 'fx_counts', 'fx_prefixes']) {
      expect(fs.existsSync(`${PIN_ROOT}/${name}`)).toBe(true);
      expect(addon.mapInfo(fd(second.maps, name)).id).toBe(addon.mapInfo(fd(first.maps, name)).id);
    }
    // Not pinned: each load has its own.
    expect(addon.mapInfo(fd(second.maps, 'fx_scratch')).id).not.toBe(
      addon.mapInfo(fd(first.maps, 'fx_scratch')).id,
    );
    // Programs are new each time.
    expect(addon.progId(fd(second.programs, 'fx_pass'))).not.toBe(addon.progId(fd(first.programs, 'fx_pass')));

    const key = u32(0xc0a80001);
    addon.mapUpdate(fd(first.maps, 'fx_sources'), key, u64(4242n));
    expect(addon.mapLookup(fd(second.maps, 'fx_sources'), key)?.readBigUInt64LE()).toBe(4242n);
    expect(addon.mapDelete(fd(second.maps, 'fx_sources'), key)).toBe(true);
    expect(addon.mapLookup(fd(first.maps, 'fx_sources'), key)).toBeNull();
  });

  it('applies maxEntries overrides', () => {
    expect(addon.mapInfo(fd(first.maps, 'fx_scratch')).maxEntries).toBe(FX_SCRATCH_SIZE);
    expect(addon.mapInfo(fd(second.maps, 'fx_scratch')).maxEntries).toBe(64);
  });

  it('refuses to reuse a pinned map of another size', () => {
    const err = expectBpfError(
      () => addon.loadObject(FIXTURE, { pinRoot: PIN_ROOT, maxEntries: { fx_sources: 128 } }),
      'EINVAL',
      'bpf_object__load',
    );
    expect(err.message).toContain('fx_sources');
  });

  it('reports a missing file and an unknown map name', () => {
    expectBpfError(() => addon.loadObject('/nonexistent/x.bpf.o', { pinRoot: PIN_ROOT }), 'ENOENT', 'bpf_object__open_file');
    expectBpfError(
      () => addon.loadObject(FIXTURE, { pinRoot: PIN_ROOT, maxEntries: { no_such_map: 1 } }),
      'ENOENT',
      'bpf_object__find_map_by_name',
    );
  });

  it('pins and re-opens an object', () => {
    const pin = `${PIN_ROOT}/sources_again`;
    addon.objPin(fd(first.maps, 'fx_sources'), pin);
    const again = addon.objGet(pin);
    openFds.push(again);
    expect(addon.mapInfo(again).id).toBe(addon.mapInfo(fd(first.maps, 'fx_sources')).id);
    fs.unlinkSync(pin);
  });
});

describe('loadObjectAsync (a worker thread loads and verifies)', () => {
  it('loads as loadObject does: the pinned maps are reused, a write through one fd is read back through the other', async () => {
    const loaded = track(await addon.loadObjectAsync(FIXTURE, { pinRoot: PIN_ROOT }));
    expect(Object.keys(loaded.programs).sort()).toEqual(['fx_classify', 'fx_drop', 'fx_pass']);
    expect(Object.keys(loaded.maps).sort()).toEqual(['fx_counts', 'fx_prefixes', 'fx_scratch', 'fx_sources']);
    expect(addon.mapInfo(fd(loaded.maps, 'fx_sources')).id).toBe(addon.mapInfo(fd(first.maps, 'fx_sources')).id);
    expect(addon.progId(fd(loaded.programs, 'fx_pass'))).not.toBe(addon.progId(fd(first.programs, 'fx_pass')));
    const key = u32(0xc0a80002);
    addon.mapUpdate(fd(loaded.maps, 'fx_sources'), key, u64(77n));
    expect(addon.mapLookup(fd(first.maps, 'fx_sources'), key)?.readBigUInt64LE()).toBe(77n);
    expect(addon.mapDelete(fd(first.maps, 'fx_sources'), key)).toBe(true);
  });

  it('the JS thread runs while the verifier does', async () => {
    // The datapath's from_pod: ~0.1 s of verification, on the worker thread.
    const fromPod = fileURLToPath(new URL('../build/bpf/from_pod.o', import.meta.url));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const load = addon.loadObjectAsync(fromPod, { pinRoot: `${PIN_ROOT}/datapath` });
      expect(ticks).toBe(0);
      track(await load);
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0); // the event loop turned while it loaded
  });

  it('rejects with the errors loadObject throws (errno, code, syscall, the verifier\'s or libbpf\'s words)', async () => {
    const rejection = async (p: Promise<unknown>): Promise<BpfError> => {
      const e = await p.then(
        () => new Error('expected a rejection'),
        (x: unknown) => x,
      );
      expect(isBpfError(e), String(e)).toBe(true);
      return e as BpfError;
    };
    const missing = await rejection(addon.loadObjectAsync('/nonexistent/x.bpf.o', { pinRoot: PIN_ROOT }));
    expect([missing.code, missing.syscall]).toEqual(['ENOENT', 'bpf_object__open_file']);
    const size = await rejection(addon.loadObjectAsync(FIXTURE, { pinRoot: PIN_ROOT, maxEntries: { fx_sources: 128 } }));
    expect([size.code, size.syscall]).toEqual(['EINVAL', 'bpf_object__load']);
    expect(size.message).toContain('fx_sources');
    const unknown = await rejection(addon.loadObjectAsync(FIXTURE, { pinRoot: PIN_ROOT, maxEntries: { no_such_map: 1 } }));
    expect([unknown.code, unknown.syscall]).toEqual(['ENOENT', 'bpf_object__find_map_by_name']);
    // Arguments are checked at the call, as loadObject's.
    expect(() => addon.loadObjectAsync(FIXTURE, { pinRoot: '' })).toThrow(TypeError);
  });
});

describe('map operations', () => {
  it('HASH: element ops, batch update, dump, batch delete', () => {
    const m = fd(first.maps, 'fx_sources');
    const n = 20;
    const keys = Buffer.alloc(n * 4);
    const values = Buffer.alloc(n * 8);
    for (let i = 0; i < n; i++) {
      keys.writeUInt32LE(1000 + i, i * 4);
      values.writeBigUInt64LE(BigInt(i * 7), i * 8);
    }
    addon.mapUpdateBatch(m, keys, values, n);

    const dump = addon.mapDump(fd(second.maps, 'fx_sources'));
    expect(dump.count).toBe(n);
    expect(dump.keys.length).toBe(n * 4);
    expect(dump.values.length).toBe(n * 8);
    const got = new Map<number, bigint>();
    for (let i = 0; i < dump.count; i++) got.set(dump.keys.readUInt32LE(i * 4), dump.values.readBigUInt64LE(i * 8));
    for (let i = 0; i < n; i++) expect(got.get(1000 + i)).toBe(BigInt(i * 7));

    // Update flags reach the kernel.
    expectBpfError(() => addon.mapUpdate(m, u32(1000), u64(1n), BPF_NOEXIST), 'EEXIST', 'bpf_map_update_elem');

    // Delete the first half with one missing key in the middle: it is skipped.
    const half = Buffer.concat([keys.subarray(0, 20), u32(999_999), keys.subarray(20, 40)]);
    addon.mapDeleteBatch(m, half, 11);
    expect(addon.mapDump(m).count).toBe(n / 2);
    expect(addon.mapLookup(m, u32(1000))).toBeNull();
    expect(addon.mapLookup(m, u32(1000 + n - 1))?.readBigUInt64LE()).toBe(BigInt((n - 1) * 7));

    addon.mapDeleteBatch(m, keys, n);
    expect(addon.mapDump(m)).toMatchObject({ count: 0 });
    expect(addon.mapDelete(m, u32(1000))).toBe(false);
  });

  it('PERCPU_ARRAY: one 8-byte slot per possible CPU', () => {
    const m = fd(first.maps, 'fx_counts');
    expect(addon.mapInfo(m).type).toBe(BPF_MAP_TYPE_PERCPU_ARRAY);
    const slot = 8 * cpus;
    const value = Buffer.alloc(slot);
    for (let c = 0; c < cpus; c++) value.writeBigUInt64LE(BigInt(100 + c), c * 8);
    addon.mapUpdate(m, u32(3), value);
    expect(addon.mapLookup(fd(second.maps, 'fx_counts'), u32(3))).toEqual(value);

    // Batch update of two slots, then a dump: every slot of an array is there.
    const keys = Buffer.concat([u32(1), u32(3)]);
    const values = Buffer.alloc(2 * slot);
    for (let c = 0; c < cpus; c++) {
      values.writeBigUInt64LE(11n, c * 8);
      values.writeBigUInt64LE(33n, slot + c * 8);
    }
    addon.mapUpdateBatch(m, keys, values, 2);
    const dump = addon.mapDump(m);
    expect(dump.count).toBe(FX_COUNT_SLOTS);
    expect(dump.values.length).toBe(FX_COUNT_SLOTS * slot);
    for (let i = 0; i < dump.count; i++) {
      const k = dump.keys.readUInt32LE(i * 4);
      const sum = perCpuSum(dump.values.subarray(i * slot, (i + 1) * slot));
      if (k === 1) expect(sum).toBe(11n * BigInt(cpus));
      if (k === 3) expect(sum).toBe(33n * BigInt(cpus));
    }

    // Arrays cannot delete elements: the kernel says so.
    expectBpfError(() => addon.mapDelete(m, u32(1)), 'EINVAL', 'bpf_map_delete_elem');
  });

  it('LPM_TRIE: batch update, dump by key iteration, delete', () => {
    const m = fd(first.maps, 'fx_prefixes');
    expect(addon.mapInfo(m).type).toBe(BPF_MAP_TYPE_LPM_TRIE);
    const keys = Buffer.concat([
      prefixKey(8, [10, 0, 0, 0]),
      prefixKey(16, [10, 1, 0, 0]),
      prefixKey(24, [10, 1, 2, 0]),
    ]);
    const values = Buffer.concat([actionValue(TC_ACT_OK), actionValue(TC_ACT_SHOT), actionValue(TC_ACT_UNSPEC)]);
    addon.mapUpdateBatch(m, keys, values, 3);

    const dump = addon.mapDump(fd(second.maps, 'fx_prefixes'));
    expect(dump.count).toBe(3);
    const entries = new Map<string, number>();
    for (let i = 0; i < dump.count; i++) {
      entries.set(dump.keys.subarray(i * 8, i * 8 + 8).toString('hex'), dump.values.readInt32LE(i * 8));
    }
    expect(entries.get(prefixKey(16, [10, 1, 0, 0]).toString('hex'))).toBe(TC_ACT_SHOT);
    expect(entries.get(prefixKey(24, [10, 1, 2, 0]).toString('hex'))).toBe(TC_ACT_UNSPEC);

    addon.mapDeleteBatch(m, keys, 3);
    expect(addon.mapDump(m).count).toBe(0);
  });

  it('reports E2BIG with the number written when a hash is full', () => {
    const m = fd(first.maps, 'fx_scratch');
    const n = FX_SCRATCH_SIZE + 2;
    const keys = Buffer.alloc(n * 4);
    for (let i = 0; i < n; i++) keys.writeUInt32LE(i + 1, i * 4);
    const err = expectBpfError(() => addon.mapUpdateBatch(m, keys, Buffer.alloc(n * 4), n), 'E2BIG', 'bpf_map_update_batch');
    expect(err.errno).toBe(7);
    expect(err.message).toContain(`map 'fx_scratch' fd ${m}`);
    expect(err.message).toContain(`${FX_SCRATCH_SIZE} of ${n} entries written`);
    expect(addon.mapDump(m).count).toBe(FX_SCRATCH_SIZE);
  });
});

describe('errors', () => {
  it('a bad fd is EBADF with errno, code and syscall', () => {
    const err = expectBpfError(() => addon.mapLookup(1_000_000, u32(0)), 'EBADF', 'bpf_obj_get_info_by_fd');
    expect(err.errno).toBe(9);
    expect(err).toBeInstanceOf(Error);
    expectBpfError(() => addon.progTestRun(1_000_000, ipv4Frame([1, 1, 1, 1], [2, 2, 2, 2]), 1), 'EBADF', 'bpf_prog_test_run_opts');
    expectBpfError(() => addon.linkInfo(1_000_000), 'EBADF', 'bpf_obj_get_info_by_fd');
    expectBpfError(() => addon.closeFd(1_000_000), 'EBADF', 'close');
  });

  it('an fd of the wrong kind is EINVAL', () => {
    expectBpfError(() => addon.mapInfo(fd(first.programs, 'fx_pass')), 'EINVAL', 'bpf_obj_get_info_by_fd');
    expectBpfError(() => addon.progId(fd(first.maps, 'fx_sources')), 'EINVAL', 'bpf_obj_get_info_by_fd');
  });

  it('wrong buffer sizes and argument types are TypeErrors naming the argument', () => {
    const m = fd(first.maps, 'fx_sources');
    expect(() => addon.mapLookup(m, Buffer.alloc(3))).toThrow(TypeError);
    expect(() => addon.mapLookup(m, Buffer.alloc(3))).toThrow(/mapLookup: argument 'key' must be 4 bytes/);
    expect(() => addon.mapUpdate(m, u32(1), Buffer.alloc(4))).toThrow(/argument 'value' must be 8 bytes/);
    expect(() => addon.mapUpdateBatch(m, Buffer.alloc(10), Buffer.alloc(16), 2)).toThrow(/argument 'keys' must be 8 bytes/);
    expect(() => addon.mapUpdateBatch(m, Buffer.alloc(8), Buffer.alloc(15), 2)).toThrow(/argument 'values' must be 16 bytes/);
    expect(() => addon.mapDeleteBatch(m, Buffer.alloc(9), 2)).toThrow(TypeError);
    // Per-CPU values must cover every possible CPU.
    expect(() => addon.mapUpdate(fd(first.maps, 'fx_counts'), u32(0), Buffer.alloc(8 * cpus + 8))).toThrow(
      new RegExp(`argument 'value' must be ${8 * cpus} bytes \\(roundup\\(valueSize, 8\\) \\* possibleCpus`),
    );
    const loose = addon as unknown as Record<string, (...a: unknown[]) => unknown>;
    expect(() => loose.mapLookup?.('7', u32(0))).toThrow(/argument 'fd' must be a number/);
    expect(() => loose.mapLookup?.(-1, u32(0))).toThrow(TypeError);
    expect(() => loose.mapLookup?.(m, 'key')).toThrow(/argument 'key' must be a Buffer/);
    expect(() => loose.tcxAttach?.(3, 1, 'sideways')).toThrow(/'dir' must be 'ingress' or 'egress'/);
    expect(() => loose.tcxAttach?.(3, 1, 'ingress', 'middle')).toThrow(/'where' must be 'first' or 'last'/);
    expect(() => loose.tcxChain?.(0, 'ingress')).toThrow(/'ifindex' must be > 0/);
    expect(() => loose.tcList?.(1, 'up')).toThrow(/'dir' must be 'ingress' or 'egress'/);
    expect(() => loose.loadObject?.(FIXTURE, {})).toThrow(/pinRoot/);
    expect(() => loose.closeFd?.(1)).toThrow(TypeError);
  });
});

describe('progTestRun', () => {
  it('runs the classifier on crafted frames and updates its maps', () => {
    const prog = fd(first.programs, 'fx_classify');
    const prefixes = fd(first.maps, 'fx_prefixes');
    const counts = fd(first.maps, 'fx_counts');
    const sources = fd(first.maps, 'fx_sources');
    addon.mapUpdate(prefixes, prefixKey(24, [10, 9, 8, 0]), actionValue(TC_ACT_SHOT));
    const before = perCpuSum(addon.mapLookup(counts, u32(FX_COUNT_CLASSIFY)) ?? Buffer.alloc(0));

    const frame = ipv4Frame([10, 0, 0, 5], [10, 9, 8, 7]);
    const shot = addon.progTestRun(prog, frame, 5);
    expect(shot.retval).toBe(TC_ACT_SHOT);
    expect(shot.dataOut).toEqual(frame);
    // The kernel's mean ns per run: over 2000 runs of an LPM lookup it is a
    // whole number of at least 1 (a field left unread by the addon stays 0).
    const timed = addon.progTestRun(prog, frame, 2000);
    expect(Number.isInteger(timed.duration)).toBe(true);
    expect(timed.duration).toBeGreaterThan(0);

    expect(addon.progTestRun(prog, ipv4Frame([10, 0, 0, 5], [10, 9, 9, 7]), 1).retval).toBe(TC_ACT_OK);

    const arp = Buffer.alloc(42);
    arp.writeUInt16BE(0x0806, 12);
    expect(addon.progTestRun(prog, arp, 1).retval).toBe(TC_ACT_UNSPEC);

    // The program ran 5 + 2000 + 1 + 1 times and saw 10.0.0.5 2006 times.
    const after = perCpuSum(addon.mapLookup(counts, u32(FX_COUNT_CLASSIFY)) ?? Buffer.alloc(0));
    expect(after - before).toBe(2007n);
    expect(addon.mapLookup(sources, Buffer.from([10, 0, 0, 5]))?.readBigUInt64LE()).toBe(2006n);

    addon.mapDelete(prefixes, prefixKey(24, [10, 9, 8, 0]));
    addon.mapDelete(sources, Buffer.from([10, 0, 0, 5]));
  });

  it('accepts a __sk_buff context image', () => {
    // struct __sk_buff is 192 bytes on 6.x; all zero is a valid context.
    const ctx = Buffer.alloc(192);
    const r = addon.progTestRun(fd(first.programs, 'fx_drop'), ipv4Frame([1, 2, 3, 4], [5, 6, 7, 8]), 1, ctx);
    expect(r.retval).toBe(TC_ACT_SHOT);
  });
});

// Two namespaces joined by a veth pair: A (10.254.77.1) -- B (10.254.77.2).
// Programs are attached on B's end; A pings B through them.
describe('attachments in a network namespace', () => {
  const nsA = ownedName(NS_PREFIX, 'a');
  const nsB = ownedName(NS_PREFIX, 'b');
  const devA = 'tnat-a';
  const devB = 'tnat-b';
  const addrB = '10.254.77.2';
  let ifindexB = 0;

  beforeAll(() => {
    createNetns(nsA);
    createNetns(nsB);
    createVethPair({ ns: nsA, name: devA, peerNs: nsB, peer: devB, addr: '10.254.77.1/30', peerAddr: `${addrB}/30` });
    ifindexB = withNetns(nsB, () => addon.ifNameToIndex(devB));
  });

  afterAll(() => {
    deleteNetns(nsA);
    deleteNetns(nsB);
  });

  const pingB = (): boolean => succeedsIn(nsA, ['ping', '-c', '1', '-W', '1', '-q', addrB]);

  it('enterNetns moves only until restoreNetns', () => {
    const back = addon.enterNetns(`/run/netns/${nsB}`);
    try {
      expect(addon.ifNameToIndex(devB)).toBe(ifindexB);
    } finally {
      addon.restoreNetns(back);
    }
    expectBpfError(() => addon.ifNameToIndex(devB), 'ENODEV', 'if_nametoindex');
    expectBpfError(() => addon.enterNetns('/run/netns/vrfwall-tnat-none'), 'ENOENT', 'open');
  });

  it('tcx: attach, inspect, update, pin, re-open, detach', () => {
    const pass = fd(first.programs, 'fx_pass');
    const drop = fd(first.programs, 'fx_drop');
    const linkPin = `${PIN_ROOT}/link_ingress`;

    const link = withNetns(nsB, () => addon.tcxAttach(pass, ifindexB, 'ingress'));
    openFds.push(link);
    const info = addon.linkInfo(link);
    expect(info).toMatchObject({
      type: BPF_LINK_TYPE_TCX,
      progId: addon.progId(pass),
      ifindex: ifindexB,
      attachType: BPF_TCX_INGRESS,
    });
    expect(info.id).toBeGreaterThan(0);
    expect(pingB()).toBe(true);

    addon.linkUpdate(link, drop);
    expect(addon.linkInfo(link).progId).toBe(addon.progId(drop));
    expect(addon.linkInfo(link).id).toBe(info.id);
    expect(pingB()).toBe(false);

    addon.objPin(link, linkPin);
    const reopened = addon.objGet(linkPin);
    openFds.push(reopened);
    expect(addon.linkInfo(reopened)).toMatchObject({ id: info.id, progId: addon.progId(drop), ifindex: ifindexB });

    addon.linkDetach(reopened);
    // A detached tcx link stays open but no longer names a device.
    expect(addon.linkInfo(link).ifindex).toBe(0);
    expect(pingB()).toBe(true);
    fs.unlinkSync(linkPin);
  });

  it('tcx: egress attach type, and ENODEV for a missing device', () => {
    const pass = fd(first.programs, 'fx_pass');
    const link = withNetns(nsB, () => addon.tcxAttach(pass, ifindexB, 'egress'));
    openFds.push(link);
    expect(addon.linkInfo(link)).toMatchObject({ attachType: BPF_TCX_EGRESS, ifindex: ifindexB });
    addon.linkDetach(link);
    const err = expectBpfError(
      () => withNetns(nsB, () => addon.tcxAttach(pass, 1_000_000, 'ingress')),
      'ENODEV',
      'bpf_link_create',
    );
    expect(err.message).toContain('tcx ingress ifindex 1000000');
  });

  it('tcx: first and last positions; the chain in run order with link ids and revision', () => {
    // Three copies of fx_pass: a hook holds a program once.
    const progs = [0, 1, 2].map(() => track(addon.loadObject(FIXTURE, { pinRoot: PIN_ROOT })).programs.fx_pass!);
    const ids = progs.map((p) => addon.progId(p));
    const empty = withNetns(nsB, () => addon.tcxChain(ifindexB, 'egress'));
    expect(empty.progIds).toEqual([]);
    const links = withNetns(nsB, () => [
      addon.tcxAttach(progs[0]!, ifindexB, 'egress'),
      addon.tcxAttach(progs[1]!, ifindexB, 'egress', 'first'),
      addon.tcxAttach(progs[2]!, ifindexB, 'egress', 'last'),
    ]);
    openFds.push(...links);
    const linkIds = links.map((l) => addon.linkInfo(l).id);
    const c = withNetns(nsB, () => addon.tcxChain(ifindexB, 'egress'));
    expect(c.progIds).toEqual([ids[1], ids[0], ids[2]]);
    expect(c.linkIds).toEqual([linkIds[1], linkIds[0], linkIds[2]]);
    expect(c.revision).toBeGreaterThan(empty.revision);
    expect(withNetns(nsB, () => addon.tcxQuery(ifindexB, 'egress'))).toEqual(c.progIds);
    // The same program twice on one hook: refused.
    expectBpfError(() => withNetns(nsB, () => addon.tcxAttach(progs[0]!, ifindexB, 'egress', 'first')), 'EEXIST', 'bpf_link_create');
    for (const l of links) addon.linkDetach(l);
    expect(withNetns(nsB, () => addon.tcxChain(ifindexB, 'egress')).progIds).toEqual([]);
    expectBpfError(() => withNetns(nsB, () => addon.tcxChain(1_000_000, 'egress')), 'ENODEV', 'bpf_prog_query');
  });

  it('tcList: every clsact filter in run order (priority, then newest first); [] without clsact', () => {
    const pass = fd(first.programs, 'fx_pass');
    const drop = fd(first.programs, 'fx_drop');
    withNetns(nsB, () => {
      expect(addon.tcList(ifindexB, 'egress')).toEqual([]);
      addon.tcAttach(pass, ifindexB, 'egress', 1, 2);
      addon.tcAttach(drop, ifindexB, 'egress', 2, 1);
      addon.tcAttach(pass, ifindexB, 'egress', 3, 1);
      const list = addon.tcList(ifindexB, 'egress');
      expect(list.map((f) => [f.priority, f.handle, f.progId])).toEqual([
        [1, 3, addon.progId(pass)],
        [1, 2, addon.progId(drop)],
        [2, 1, addon.progId(pass)],
      ]);
      expect(list[0]).toMatchObject({ chain: 0, protocol: 3, kind: 'bpf', directAction: true, name: expect.stringMatching(/^fx_pass/) });
      for (const [h, p] of [[1, 2], [2, 1], [3, 1]] as const) addon.tcDetach(ifindexB, 'egress', h, p);
      expect(addon.tcList(ifindexB, 'egress')).toEqual([]);
      expect(addon.tcList(1_000_000, 'egress')).toEqual([]); // no such device: nothing attached
    });
  });

  it('progInfo, xdpQuery, xdpList and ifIndexToName', () => {
    const pass = fd(first.programs, 'fx_pass');
    expect(addon.progInfo(addon.progId(pass))).toMatchObject({ id: addon.progId(pass), name: 'fx_pass', type: 3 });
    expect(addon.progInfo(addon.progId(pass))?.tag).toMatch(/^[0-9a-f]{16}$/);
    expect(addon.progInfo(0x7fffffff)).toBeNull();
    withNetns(nsB, () => {
      expect(addon.ifIndexToName(ifindexB)).toBe(devB);
      expect(addon.ifIndexToName(1_000_000)).toBeNull();
      expect(addon.xdpQuery(ifindexB)).toEqual({ progId: 0, drvProgId: 0, skbProgId: 0, hwProgId: 0 });
      expect(addon.xdpList()).toEqual([]);
    });
    // An XDP program (generic mode), seen by both queries.
    execFileSync('ip', ['-n', nsB, 'link', 'set', 'dev', devB, 'xdpgeneric', 'obj', XDP_FIXTURE, 'sec', 'xdp']);
    try {
      withNetns(nsB, () => {
        const q = addon.xdpQuery(ifindexB);
        expect(q.skbProgId).toBeGreaterThan(0);
        expect(addon.progInfo(q.skbProgId)?.name).toBe('fx_xdp_pass');
        expect(addon.xdpList()).toEqual([{ ifindex: ifindexB, drvProgId: 0, skbProgId: q.skbProgId, hwProgId: 0 }]);
      });
    } finally {
      execFileSync('ip', ['-n', nsB, 'link', 'set', 'dev', devB, 'xdpgeneric', 'off']);
    }
    expect(withNetns(nsB, () => addon.xdpList())).toEqual([]);
  });

  it('tc fallback: attach, replace, query, detach', () => {
    const pass = fd(first.programs, 'fx_pass');
    const drop = fd(first.programs, 'fx_drop');
    const handle = 1;
    const prio = 1;
    withNetns(nsB, () => {
      expect(addon.tcQuery(ifindexB, 'ingress', handle, prio)).toBe(0);
      addon.tcAttach(pass, ifindexB, 'ingress', handle, prio);
      expect(addon.tcQuery(ifindexB, 'ingress', handle, prio)).toBe(addon.progId(pass));
      expect(addon.tcQuery(ifindexB, 'ingress', handle, prio + 1)).toBe(0);
      expect(addon.tcQuery(ifindexB, 'egress', handle, prio)).toBe(0);
    });
    expect(pingB()).toBe(true);

    // Replacing at the same (handle, priority) swaps the program in place.
    withNetns(nsB, () => addon.tcAttach(drop, ifindexB, 'ingress', handle, prio));
    expect(withNetns(nsB, () => addon.tcQuery(ifindexB, 'ingress', handle, prio))).toBe(addon.progId(drop));
    expect(pingB()).toBe(false);

    withNetns(nsB, () => {
      addon.tcDetach(ifindexB, 'ingress', handle, prio);
      expect(addon.tcQuery(ifindexB, 'ingress', handle, prio)).toBe(0);
      expectBpfError(() => addon.tcDetach(ifindexB, 'ingress', handle, prio), 'ENOENT', 'bpf_tc_detach');
    });
    expect(pingB()).toBe(true);
  });
});
