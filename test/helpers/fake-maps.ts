// An in-memory stand-in for the addon's map calls (mapInfo, mapDump,
// mapLookup, mapUpdate, mapUpdateBatch, mapDeleteBatch), for unit tests of
// the code that plans and applies map writes without a kernel. Every call
// is logged in order; a call can be made to fail once.
import type { MapDump, MapInfo, NativeAddon } from '../../src/kernel/native.js';

export type MapOp = { op: 'update' | 'delete'; fd: number; keys: string[] };

export class FakeMaps {
  /** fd -> key hex -> value */
  readonly maps = new Map<number, Map<string, Buffer>>();
  readonly sizes = new Map<number, { keySize: number; valueSize: number }>();
  readonly log: MapOp[] = [];
  /** called before every batch write; throw from it to fail that call */
  beforeWrite: ((op: MapOp) => void) | undefined;

  map(fd: number): Map<string, Buffer> {
    let m = this.maps.get(fd);
    if (m === undefined) this.maps.set(fd, (m = new Map()));
    return m;
  }

  /** A map's key and value sizes: fixed by its first write (0 while it was never written). */
  private size(fd: number): { keySize: number; valueSize: number } {
    return this.sizes.get(fd) ?? { keySize: 0, valueSize: 0 };
  }

  private learn(fd: number, keyBytes: number, valueBytes: number | undefined, count: number): void {
    if (this.sizes.has(fd) || count === 0 || valueBytes === undefined) return;
    this.sizes.set(fd, { keySize: keyBytes / count, valueSize: valueBytes / count });
  }

  private split(fd: number, buf: Buffer, count: number, which: 'keySize' | 'valueSize'): Buffer[] {
    const n = this.size(fd)[which];
    if (buf.length !== n * count) throw new TypeError(`fake map ${fd}: ${buf.length} bytes for ${count} entries of ${n}`);
    return Array.from({ length: count }, (_, i) => Buffer.from(buf.subarray(i * n, (i + 1) * n)));
  }

  /** The subset of NativeAddon the map writers use; anything else throws. */
  addon(): NativeAddon {
    const impl: Partial<NativeAddon> = {
      mapInfo: (fd): MapInfo => ({ type: 1, id: fd, ...this.size(fd), maxEntries: 1 << 16, flags: 0, name: `fake${fd}` }),
      mapDump: (fd): MapDump => {
        const m = this.map(fd);
        return {
          count: m.size,
          keys: Buffer.concat([...m.keys()].map((k) => Buffer.from(k, 'hex'))),
          values: Buffer.concat([...m.values()]),
        } as MapDump;
      },
      mapLookup: (fd, key) => this.map(fd).get(key.toString('hex')) ?? null,
      mapUpdate: (fd, key, value) => {
        this.learn(fd, key.length, value.length, 1);
        this.map(fd).set(key.toString('hex'), Buffer.from(value));
      },
      mapUpdateBatch: (fd, keys, values, count) => {
        this.learn(fd, keys.length, values.length, count);
        const ks = this.split(fd, keys, count, 'keySize');
        const vs = this.split(fd, values, count, 'valueSize');
        const op: MapOp = { op: 'update', fd, keys: ks.map((k) => k.toString('hex')) };
        this.beforeWrite?.(op);
        this.log.push(op);
        ks.forEach((k, i) => this.map(fd).set(k.toString('hex'), vs[i]!));
      },
      mapDeleteBatch: (fd, keys, count) => {
        const ks = this.split(fd, keys, count, 'keySize');
        const op: MapOp = { op: 'delete', fd, keys: ks.map((k) => k.toString('hex')) };
        this.beforeWrite?.(op);
        this.log.push(op);
        for (const k of ks) this.map(fd).delete(k.toString('hex'));
      },
    };
    return strictAddon(impl);
  }
}

/** A fake addon of the calls in `impl`; any other call throws, naming it (a test never runs on a half fake by accident). */
export function strictAddon(impl: Partial<NativeAddon>): NativeAddon {
  return new Proxy(impl, {
    get: (t, p) => {
      if (p in t) return t[p as keyof NativeAddon];
      if (p === 'then') return undefined;
      throw new Error(`fake addon: ${String(p)} is not faked`);
    },
  }) as NativeAddon;
}
