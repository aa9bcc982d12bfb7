// Makes one BPF map hold exactly a desired set of entries: dump what the
// kernel has, diff by key bytes, apply updates then deletes in batches.
import type { NativeAddon } from '../kernel/native.js';

export interface MapEntry {
  key: Buffer;
  value: Buffer;
}

/** Desired contents of a map, keyed by the hex of the encoded key. */
export type MapImage = Map<string, MapEntry>;

export interface SyncResult {
  updated: number;
  deleted: number;
}

/** The kernel's current contents of a (non-per-CPU) map. */
export function readImage(bpf: NativeAddon, fd: number): MapImage {
  const info = bpf.mapInfo(fd);
  const dump = bpf.mapDump(fd);
  const image: MapImage = new Map();
  for (let i = 0; i < dump.count; i++) {
    const key = dump.keys.subarray(i * info.keySize, (i + 1) * info.keySize);
    const value = dump.values.subarray(i * info.valueSize, (i + 1) * info.valueSize);
    image.set(key.toString('hex'), { key: Buffer.from(key), value: Buffer.from(value) });
  }
  return image;
}

// The addon falls back to one element at a time where a map type has no batch
// operations (LPM tries), so these are single calls whatever the map.
function updateAll(bpf: NativeAddon, fd: number, entries: MapEntry[]): void {
  if (entries.length === 0) return;
  bpf.mapUpdateBatch(fd, Buffer.concat(entries.map((e) => e.key)), Buffer.concat(entries.map((e) => e.value)), entries.length);
}

function deleteAll(bpf: NativeAddon, fd: number, keys: Buffer[]): void {
  if (keys.length === 0) return;
  bpf.mapDeleteBatch(fd, Buffer.concat(keys), keys.length);
}

export interface SyncPlan {
  fd: number;
  updates: MapEntry[];
  deletes: Buffer[];
}

/**
 * What must change for the map at `fd` to hold exactly `desired` (the map
 * writer's form: key bytes as a latin1 string -> value), read from the kernel
 * (the safety net: catches any drift). The dump is compared in place,
 * without an image of it: a resync of 100,000 unchanged endpoints costs their
 * comparison, not 200,000 Buffers and hex strings.
 */
export function planWrittenSync(bpf: NativeAddon, fd: number, desired: ReadonlyMap<string, Buffer>): SyncPlan {
  const info = bpf.mapInfo(fd);
  const dump = bpf.mapDump(fd);
  const ks = info.keySize;
  const vs = info.valueSize;
  const same = new Set<string>();
  const deletes: Buffer[] = [];
  const { keys, values } = dump;
  for (let i = 0; i < dump.count; i++) {
    const k = latin1At(keys, i * ks, ks);
    const want = desired.get(k);
    if (want === undefined) deletes.push(Buffer.from(keys.subarray(i * ks, (i + 1) * ks)));
    else if (sameBytes(want, values, i * vs, vs)) same.add(k);
  }
  const updates: MapEntry[] = [];
  for (const [k, value] of desired) if (!same.has(k)) updates.push({ key: Buffer.from(k, 'latin1'), value });
  return { fd, updates, deletes };
}

/** Bytes as a latin1 string; an endpoint's 16-byte key without a native call per key. */
function latin1At(b: Buffer, at: number, len: number): string {
  if (len !== 16) return b.toString('latin1', at, at + len);
  return String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!, b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!, b[at + 8]!, b[at + 9]!, b[at + 10]!, b[at + 11]!, b[at + 12]!, b[at + 13]!, b[at + 14]!, b[at + 15]!);
}

/** `a` equals `b[at, at+len)` (small values: a loop beats a native call). */
function sameBytes(a: Buffer, b: Buffer, at: number, len: number): boolean {
  if (a.length !== len) return false;
  for (let j = 0; j < len; j++) if (a[j] !== b[at + j]) return false;
  return true;
}

/**
 * Applies plans: every update of every map first (in the order given), then
 * every delete (in reverse order). A changed entry is replaced atomically, and
 * nothing is removed before what replaces it is in place, so a reader never
 * sees a state missing both the old and the new entry.
 */
export function applyPlans(bpf: NativeAddon, plans: SyncPlan[]): SyncResult {
  const result: SyncResult = { updated: 0, deleted: 0 };
  for (const p of plans) {
    updateAll(bpf, p.fd, p.updates);
    result.updated += p.updates.length;
  }
  for (const p of [...plans].reverse()) {
    deleteAll(bpf, p.fd, p.deletes);
    result.deleted += p.deletes.length;
  }
  return result;
}
