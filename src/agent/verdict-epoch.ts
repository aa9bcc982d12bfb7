// The verdict cache's policy epoch and the flow table's hash seed (the
// `cache_ctl` map, struct vw_cache_ctl; bpf/lib/verdict_cache.h). Every flow
// slot caches the last decision of each direction under the epoch it was
// made in; raising the epoch retires them all, so the next packet of every
// conversation is decided afresh against the maps just written.
import crypto from 'node:crypto';
import { Layout, decodeCacheCtl, encodeCacheCtl, type CacheCtl } from '../kernel/abi.js';
import type { NativeAddon } from '../kernel/native.js';

const KEY = Buffer.alloc(4);

export class VerdictEpoch {
  constructor(
    private readonly bpf: NativeAddon,
    private readonly fd: number,
  ) {}

  read(): CacheCtl {
    return decodeCacheCtl(this.bpf.mapLookup(this.fd, KEY) ?? Buffer.alloc(Layout.vw_cache_ctl.size));
  }

  /** At start: a random seed when the table has none. A restarted agent keeps
   *  the pinned seed (its flows stay in their slots) and the pinned epoch:
   *  starting over at a lower one could revive decisions cached long ago. */
  init(): CacheCtl {
    const now = this.read();
    if (now.flowSeed !== 0) return now;
    const next = { epoch: now.epoch, flowSeed: crypto.randomBytes(4).readUInt32LE(0) || 1 };
    this.bpf.mapUpdate(this.fd, KEY, encodeCacheCtl(next));
    return next;
  }

  /** Retire every cached decision: after any write to a map that can change
   *  a verdict, and after a sweep that removed sessions. Read-modify-write of
   *  the pinned value: the kernel's copy is the one that counts (a previous
   *  agent of this instance raised it too). */
  retireAll(): number {
    const now = this.read();
    const epoch = (now.epoch + 1) >>> 0 || 1; // 0 means "cache nothing"
    this.bpf.mapUpdate(this.fd, KEY, encodeCacheCtl({ ...now, epoch }));
    return epoch;
  }
}
