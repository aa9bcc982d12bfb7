// The one place the agent writes the policy maps: the desired contents (from
// the incremental compile) into the pinned maps, either as the entries a
// delta names (the usual case: costs the change) or as a full diff against a
// dump of the kernel (first write, periodic resync, after a failure: the
// safety net that catches any drift). The agent is the maps' only writer, so
// between full diffs it diffs against what it wrote last. After any write
// that changed an entry it raises the verdict cache's policy epoch
// (verdict-epoch.ts): decisions cached under the old maps are retired before
// the next packet.
import type { NativeAddon } from '../kernel/native.js';
import type { DesiredDelta } from '../model/incremental.js';
import type { DesiredState } from '../model/types.js';
import type { Datapath } from './datapath.js';
import { MapName } from '../kernel/abi.js';
import { MAP_NAMES, changedEntries, desiredWritten, recordChanges, type MapImages, type WrittenImages } from './images.js';
import { applyPlans, planWrittenSync, type SyncPlan, type SyncResult } from './mapsync.js';
import type { VerdictEpoch } from './verdict-epoch.js';

/** Order of updates: images.ts MAP_NAMES (settings and ranges before the endpoints that use them). */
const ORDER: readonly [keyof MapImages, keyof Datapath['maps']][] = MAP_NAMES.map((m) => [m, MapName[m]]);

export class MapWriter {
  /** What the maps hold after the last successful write; undefined: read the kernel. */
  private written: WrittenImages | undefined;

  constructor(
    private readonly bpf: NativeAddon,
    private readonly maps: Datapath['maps'],
    private readonly epoch: VerdictEpoch,
  ) {}

  /** The next write diffs against the kernel's contents. */
  invalidate(): void {
    this.written = undefined;
  }

  get knowsKernel(): boolean {
    return this.written !== undefined;
  }

  /** Make the maps hold `desired`; `delta`: the keys that may have changed
   *  since the last write (undefined: any may have). */
  write(desired: DesiredState, delta: DesiredDelta | undefined): SyncResult {
    let result: SyncResult | undefined;
    try {
      result = this.apply(desired, delta);
      return result;
    } finally {
      // A write that failed half way may have changed entries too.
      if (result === undefined || result.updated + result.deleted > 0) this.epoch.retireAll();
    }
  }

  private apply(desired: DesiredState, delta: DesiredDelta | undefined): SyncResult {
    const written = this.written;
    this.written = undefined; // until this write has succeeded
    if (written === undefined || delta === undefined) {
      const images = desiredWritten(desired);
      const result = applyPlans(this.bpf, ORDER.map(([m, fd]) => planWrittenSync(this.bpf, this.maps[fd], images[m])));
      this.written = images;
      return result;
    }
    const changes = changedEntries(written, desired, delta);
    const plans: SyncPlan[] = ORDER.map(([m, fd]) => ({ fd: this.maps[fd], ...changes[m] }));
    const result = applyPlans(this.bpf, plans);
    recordChanges(written, changes);
    this.written = written;
    return result;
  }
}
