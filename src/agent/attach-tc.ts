// The clsact/cls_bpf fallback (kernels without tcx, or --attach-mode tc).
//
// Filters of a clsact hook run by priority (lowest number first); filters of
// one cls_bpf instance (same priority and protocol) run newest first. vrfwall
// takes priority 1, the highest there is, with protocol all and handle
// 0x7677 ("vw"). A foreign cls_bpf filter at priority 1 shares that instance:
// when it was added after vrfwall's it runs first, so vrfwall adds itself
// again at its other handle (0x7678), which puts it at the head, and only
// then deletes the old one. A filter of another kind or protocol at priority
// 1 cannot share the slot: vrfwall then takes the lowest free priority after
// it (enforcing what that filter lets through), reports that it is not
// first, and moves to priority 1 as soon as the slot is free. On a kernel
// with tcx, tcx programs run before every tc filter: in tc mode they are
// reported, never moved.
import type { NativeAddon, TcDirection, TcFilter } from '../kernel/native.js';
import { isBpfError } from '../kernel/native.js';
import { describeProgram, xdpByDevice, type ForeignProgram } from './hookorder.js';
import type { AttachResult, Programs } from './attach.js';

/** Our cls_bpf filter's slot in the clsact qdisc ("vw"); the alternate handle is used to move first. */
export const TC_HANDLE = 0x7677;
export const TC_HANDLE_ALT = 0x7678;
export const TC_PRIORITY = 1;

const DIRECTIONS: readonly TcDirection[] = ['ingress', 'egress'];
const OURS = new Set([TC_HANDLE, TC_HANDLE_ALT]);

function isOurs(f: TcFilter): boolean {
  return f.chain === 0 && f.kind === 'bpf' && OURS.has(f.handle);
}

function filterText(f: TcFilter): string {
  return `tc priority ${f.priority} handle 0x${f.handle.toString(16)} ${f.kind}`;
}

export class TcAttacher {
  constructor(
    private readonly bpf: NativeAddon,
    private readonly programs: Programs,
  ) {}

  private prog(dir: TcDirection): number {
    return dir === 'ingress' ? this.programs.fromPod : this.programs.toPod;
  }

  /** Filters of chain 0 (where every packet starts), in run order. */
  private list(ifindex: number, dir: TcDirection): TcFilter[] {
    return this.bpf.tcList(ifindex, dir).filter((f) => f.chain === 0);
  }

  /** `retain`: keep our filters on interfaces no longer wanted (Attacher.sync); false only to remove everything. */
  sync(want: Set<number>, allInterfaces: number[], result: AttachResult, retain = true): void {
    const xdpOf = want.size > 0 ? xdpByDevice(this.bpf) : new Map<number, ForeignProgram[]>();
    for (const ifindex of allInterfaces) {
      // An interface we hold is kept until it is gone (Attacher.sync says why).
      const held = !want.has(ifindex) && retain && DIRECTIONS.some((dir) => this.list(ifindex, dir).some(isOurs));
      if (held) result.retained.push(ifindex);
      for (const dir of DIRECTIONS) {
        const mine = this.list(ifindex, dir).filter(isOurs);
        if (!want.has(ifindex) && !held) {
          for (const f of mine) this.detach(ifindex, dir, f);
          result.detached += mine.length;
          continue;
        }
        this.converge(ifindex, dir, mine, result);
        this.keepFirst(ifindex, dir, result, dir === 'ingress' ? (xdpOf.get(ifindex) ?? []) : []);
      }
    }
  }

  /** Exactly one filter of ours on the hook, running our current program. */
  private converge(ifindex: number, dir: TcDirection, mine: TcFilter[], result: AttachResult): void {
    const progId = this.bpf.progId(this.prog(dir));
    const [keep, ...extra] = mine;
    if (keep === undefined) {
      this.attachNew(ifindex, dir);
      result.attached++;
      return;
    }
    for (const f of extra) this.detach(ifindex, dir, f); // an interrupted move
    if (keep.progId !== progId) {
      this.bpf.tcAttach(this.prog(dir), ifindex, dir, keep.handle, keep.priority); // replace in place: atomic
      result.updated++;
    }
  }

  /** Priority 1; when a filter there cannot share it, the lowest free priority. */
  private attachNew(ifindex: number, dir: TcDirection): void {
    try {
      this.bpf.tcAttach(this.prog(dir), ifindex, dir, TC_HANDLE, TC_PRIORITY);
    } catch (e) {
      if (!isBpfError(e) || e.code !== 'EINVAL') throw e;
      const used = new Set(this.list(ifindex, dir).map((f) => f.priority));
      if (!used.has(TC_PRIORITY)) throw e; // not the slot: something else is wrong
      let p = TC_PRIORITY + 1;
      while (used.has(p)) p++;
      this.bpf.tcAttach(this.prog(dir), ifindex, dir, TC_HANDLE, p);
    }
  }

  private detach(ifindex: number, dir: TcDirection, f: TcFilter): void {
    try {
      this.bpf.tcDetach(ifindex, dir, f.handle, f.priority);
    } catch (e) {
      if (!isBpfError(e) || (e.code !== 'ENOENT' && e.code !== 'ENODEV')) throw e; // gone meanwhile
    }
  }

  /** Our filter must be the first of chain 0, with no tcx or XDP program before it. */
  private keepFirst(ifindex: number, dir: TcDirection, result: AttachResult, xdp: ForeignProgram[]): void {
    let filters = this.list(ifindex, dir);
    let at = filters.findIndex(isOurs);
    // First, but below priority 1 (its holder is gone): take priority 1
    // again before anybody else does.
    const mine = filters[at];
    if (at === 0 && mine !== undefined && mine.priority !== TC_PRIORITY) this.moveFirst(ifindex, dir, mine);
    const above = [...xdp, ...this.tcxAhead(ifindex, dir)];
    if (at === 0 && above.length === 0) return;
    const ahead: ForeignProgram[] = [...above, ...filters.slice(0, at).map((f) => this.describe(f))];
    let why: string | undefined;
    if (at > 0) {
      const moved = this.moveFirst(ifindex, dir, mine as TcFilter);
      filters = this.list(ifindex, dir);
      at = filters.findIndex(isOurs);
      if (at === 0) {
        if (moved) result.reordered++;
      } else {
        const holder = filters.find((f) => f.priority === TC_PRIORITY);
        why =
          holder !== undefined && (holder.kind !== 'bpf' || holder.protocol !== (mine as TcFilter).protocol)
            ? `tc priority ${TC_PRIORITY} is held by a ${holder.kind} filter (protocol 0x${holder.protocol.toString(16)}) that vrfwall cannot share`
            : 'another filter went first again at once';
      }
    }
    if (why === undefined && above.length > 0) {
      why = above.some((p) => p.where === 'tcx')
        ? 'tcx programs run before every tc filter; run the agent with --attach-mode tcx'
        : 'XDP runs before tc on this device; vrfwall cannot go ahead of it';
    }
    result.order.push({ ifindex, dir, ahead, restored: why === undefined, ...(why !== undefined ? { why } : {}) });
  }

  /** tcx programs: they run before every tc filter of the hook. */
  private tcxAhead(ifindex: number, dir: TcDirection): ForeignProgram[] {
    let tcx: number[] = [];
    try {
      tcx = this.bpf.tcxChain(ifindex, dir).progIds;
    } catch {
      // kernel without tcx
    }
    return tcx.map((id) => describeProgram(this.bpf, id, 'tcx'));
  }

  /** Add ours at priority 1 under the other handle (the head of that
   *  priority's list), then delete the old one. false when the kernel refuses. */
  private moveFirst(ifindex: number, dir: TcDirection, mine: TcFilter): boolean {
    const other = mine.handle === TC_HANDLE ? TC_HANDLE_ALT : TC_HANDLE;
    try {
      this.bpf.tcAttach(this.prog(dir), ifindex, dir, other, TC_PRIORITY);
    } catch (e) {
      if (isBpfError(e) && e.code === 'EINVAL') return false; // priority 1 held by a filter we cannot share
      throw e;
    }
    this.detach(ifindex, dir, mine);
    return true;
  }

  private describe(f: TcFilter): ForeignProgram {
    if (f.kind === 'bpf' && f.progId !== 0) return describeProgram(this.bpf, f.progId, filterText(f));
    return { id: 0, name: '', where: filterText(f) };
  }
}
