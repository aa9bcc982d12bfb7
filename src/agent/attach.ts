// Keeps the two vrfwall programs attached to exactly the interfaces of local
// pods, and first on every hook it owns. tcx links (kernel 6.6+) are created
// with BPF_F_BEFORE (before every program already there) and pinned, so
// they survive the agent; a new agent adopts them and swaps in its programs
// atomically (link update). Older kernels get clsact + cls_bpf at priority 1,
// replaced in place (attach-tc.ts).
//
// After every sync each wanted hook is queried: when anything runs before
// vrfwall (a program attached later with BPF_F_BEFORE; an adopted link keeps
// its old position across a link update), vrfwall attaches itself first again
// and only then lets go of the old attachment, so the hook is never without
// it, and the event is reported (OrderEvent). A tcx hook holds a program only
// once, so the new link starts with a fresh copy of the program (same pinned
// maps) and is switched back to the agent's own instance once the old link
// is gone.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { NativeAddon, TcDirection } from '../kernel/native.js';
import { isBpfError } from '../kernel/native.js';
import { TcAttacher } from './attach-tc.js';
import { describeProgram, xdpByDevice, type ForeignProgram, type OrderEvent } from './hookorder.js';

export { TC_HANDLE, TC_HANDLE_ALT, TC_PRIORITY } from './attach-tc.js';

export type AttachMode = 'tcx' | 'tc';

export interface Programs {
  fromPod: number; // tc ingress of the host-side interface
  toPod: number; // tc egress
}

/** Loads another instance of a direction's program (sharing the pinned maps); the caller closes it. */
export type SpareProgram = (dir: TcDirection) => number;

const DIRECTIONS: readonly TcDirection[] = ['ingress', 'egress'];
// Errors by which a kernel says it has no tcx.
const NO_TCX = new Set(['EINVAL', 'EOPNOTSUPP', 'ENOTSUPP', 'ENOTSUP']);
/** A link pinned under this suffix is a replacement caught between pin and rename (bpffs refuses '.' in names). */
const NEW_SUFFIX = '-new';
const XDP_AHEAD = 'XDP runs before tc on this device; vrfwall cannot go ahead of it';

export interface AttachResult {
  attached: number;
  updated: number;
  detached: number;
  /** hooks where vrfwall was not first and put itself first again */
  reordered: number;
  /** every hook found with something ahead of vrfwall, restored or not */
  order: OrderEvent[];
  /** interfaces no local pod claims any more that still exist: kept enforcing (sorted) */
  retained: number[];
}

export function emptyResult(): AttachResult {
  return { attached: 0, updated: 0, detached: 0, reordered: 0, order: [], retained: [] };
}

function pinName(ifindex: number, dir: TcDirection): string {
  return `${ifindex}-${dir}`;
}

function parsePinName(name: string): { ifindex: number; dir: TcDirection } | undefined {
  const m = /^(\d+)-(ingress|egress)$/.exec(name);
  return m ? { ifindex: Number(m[1]), dir: m[2] as TcDirection } : undefined;
}

export class Attacher {
  private mode: AttachMode | undefined;
  private readonly tc: TcAttacher;
  /** pin name -> id of our tcx link there, as of the last sync */
  private links = new Map<string, number>();

  constructor(
    private readonly bpf: NativeAddon,
    private readonly linkDir: string,
    private readonly programs: Programs,
    private readonly log: Logger,
    requested: AttachMode | 'auto' = 'auto',
    private readonly spare?: SpareProgram,
  ) {
    fs.mkdirSync(linkDir, { recursive: true });
    if (requested !== 'auto') this.mode = requested;
    else if (fs.readdirSync(linkDir).some((n) => parsePinName(n) !== undefined)) this.mode = 'tcx'; // adopting pinned links
    this.tc = new TcAttacher(bpf, programs);
  }

  get attachMode(): AttachMode | undefined {
    return this.mode;
  }

  /** Program ids this agent attaches (to tell them from anybody else's). */
  ownProgramIds(): Set<number> {
    const out = new Set<number>();
    for (const fd of [this.programs.fromPod, this.programs.toPod]) if (fd >= 0) out.add(this.bpf.progId(fd));
    return out;
  }

  private prog(dir: TcDirection): number {
    return dir === 'ingress' ? this.programs.fromPod : this.programs.toPod;
  }

  /**
   * Attach to every interface in `want` and be first on each. An interface
   * we enforce on keeps its hooks until it is gone, even when no local pod
   * claims it any more: a pod's interface outlives a gap in what the agent
   * learns about it (a host route replaced non-atomically, a bridge's
   * neighbours flushed, a Multus network-status edited away), and letting go
   * would leave it unenforced. With no endpoint of its own left, everything
   * it sends is SPOOFED and everything sent to it UNKNOWN_ENDPOINT. Pods'
   * interfaces disappear with their pods; `agent --cleanup` removes the rest.
   */
  sync(want: Set<number>, allInterfaces: number[]): AttachResult {
    const result = emptyResult();
    this.syncPinnedLinks(want, result);
    if (this.mode !== 'tcx') this.tc.sync(want, allInterfaces, result);
    if (this.mode === 'tcx') this.keepTcxFirst(new Set([...want, ...result.retained]), result);
    result.retained.sort((a, b) => a - b);
    return result;
  }

  /** tcx links pinned in linkDir: update, drop stale ones, create missing ones.
   *  `retain`: keep the links of interfaces that still exist (sync); false only to remove everything (cleanup). */
  private syncPinnedLinks(want: Set<number>, result: AttachResult, retain = true): void {
    const have = new Map<string, number>();
    for (const name of fs.readdirSync(this.linkDir)) {
      const file = path.join(this.linkDir, name);
      if (name.endsWith(NEW_SUFFIX)) {
        this.dropPin(file); // an agent died between pinning a replacement and renaming it
        continue;
      }
      const parsed = parsePinName(name);
      if (!parsed) continue;
      const fd = this.bpf.objGet(file);
      try {
        const info = this.bpf.linkInfo(fd);
        const alive = info.ifindex === parsed.ifindex; // 0 once the interface is gone
        if (alive && (retain || want.has(parsed.ifindex))) {
          if (!want.has(parsed.ifindex) && !result.retained.includes(parsed.ifindex)) result.retained.push(parsed.ifindex);
          const progFd = this.prog(parsed.dir);
          if (info.progId !== this.bpf.progId(progFd)) {
            // Atomic, but the link keeps its place in the chain: keepTcxFirst checks it.
            this.bpf.linkUpdate(fd, progFd);
            result.updated++;
          }
          have.set(name, info.id);
          continue;
        }
        if (alive) this.bpf.linkDetach(fd);
        fs.unlinkSync(file);
        result.detached++;
      } finally {
        this.bpf.closeFd(fd);
      }
    }
    this.links = have;
    if (this.mode === 'tc') return;
    for (const ifindex of [...want, ...result.retained]) {
      for (const dir of DIRECTIONS) {
        const name = pinName(ifindex, dir);
        if (have.has(name)) continue;
        const id = this.attachTcx(ifindex, dir, path.join(this.linkDir, name));
        if (id === undefined) return; // fell back to tc
        this.links.set(name, id);
        result.attached++;
      }
    }
  }

  /** Detach and unlink a pinned link (an interrupted replacement). */
  private dropPin(file: string): void {
    try {
      const fd = this.bpf.objGet(file);
      try {
        this.bpf.linkDetach(fd);
      } catch {
        // already detached (its interface went away)
      } finally {
        this.bpf.closeFd(fd);
      }
    } finally {
      fs.rmSync(file, { force: true });
    }
  }

  /** A new tcx link before every program on the hook, pinned at `file`; its id, or undefined when the kernel has no tcx. */
  private attachTcx(ifindex: number, dir: TcDirection, file: string, prog = this.prog(dir)): number | undefined {
    let fd: number;
    try {
      fd = this.bpf.tcxAttach(prog, ifindex, dir, 'first');
    } catch (e) {
      if (this.mode === undefined && isBpfError(e) && NO_TCX.has(e.code)) {
        this.log.warn({ err: e.message }, 'tcx links unavailable, falling back to clsact/cls_bpf');
        this.mode = 'tc';
        return undefined;
      }
      throw e;
    }
    try {
      const id = this.bpf.linkInfo(fd).id;
      this.bpf.objPin(fd, file);
      this.mode = 'tcx';
      return id;
    } catch (e) {
      this.bpf.linkDetach(fd);
      throw e;
    } finally {
      this.bpf.closeFd(fd);
    }
  }

  /** Every wanted hook: our link must be the first of the tcx chain, and no XDP program may precede it. */
  private keepTcxFirst(want: Set<number>, result: AttachResult): void {
    const xdpOf = xdpByDevice(this.bpf);
    for (const ifindex of want) {
      for (const dir of DIRECTIONS) {
        const name = pinName(ifindex, dir);
        const ours = this.links.get(name);
        if (ours === undefined) continue;
        const chain = this.bpf.tcxChain(ifindex, dir);
        const at = chain.linkIds.indexOf(ours);
        const xdp = dir === 'ingress' ? (xdpOf.get(ifindex) ?? []) : [];
        if (at === 0 && xdp.length === 0) continue;
        const ahead: ForeignProgram[] = [
          ...xdp,
          ...chain.progIds.slice(0, at < 0 ? chain.progIds.length : at).map((id) => describeProgram(this.bpf, id, 'tcx')),
        ];
        let first = at === 0;
        let failed: string | undefined;
        if (!first) {
          try {
            const id = this.moveFirst(ifindex, dir, name);
            this.links.set(name, id);
            first = this.bpf.tcxChain(ifindex, dir).linkIds[0] === id;
            if (first) result.reordered++;
          } catch (e) {
            // The old link still enforces where it is; the next reconcile tries again.
            failed = `could not move first: ${e instanceof Error ? e.message : String(e)}`;
          }
        }
        const why = failed ?? (!first ? 'another program went first again at once' : xdp.length > 0 ? XDP_AHEAD : undefined);
        result.order.push({ ifindex, dir, ahead, restored: why === undefined, ...(why !== undefined ? { why } : {}) });
      }
    }
  }

  /**
   * Make before break: a new link first in the chain (running a fresh copy of
   * the program: the hook refuses the same program twice), pinned in place of
   * the old one (rename over the pin), then the old link detached, then the
   * new link switched to the agent's program. Returns the new link's id.
   */
  private moveFirst(ifindex: number, dir: TcDirection, name: string): number {
    if (!this.spare) throw new Error('cannot move a tcx link without a spare program');
    const file = path.join(this.linkDir, name);
    const fresh = file + NEW_SUFFIX;
    fs.rmSync(fresh, { force: true });
    const copy = this.spare(dir);
    try {
      const id = this.attachTcx(ifindex, dir, fresh, copy);
      if (id === undefined) throw new Error(`tcx attach on ifindex ${ifindex} ${dir} refused`);
      let old: number | undefined;
      try {
        old = this.bpf.objGet(file);
        fs.renameSync(fresh, file);
      } catch (e) {
        if (old !== undefined) this.bpf.closeFd(old);
        this.dropPin(fresh);
        throw e;
      }
      try {
        this.bpf.linkDetach(old);
      } finally {
        this.bpf.closeFd(old);
      }
      const link = this.bpf.objGet(file);
      try {
        this.bpf.linkUpdate(link, this.prog(dir));
      } finally {
        this.bpf.closeFd(link);
      }
      return id;
    } finally {
      this.bpf.closeFd(copy);
    }
  }

  /** Remove every attachment (agent --cleanup). */
  detachAll(allInterfaces: number[]): AttachResult {
    const result = emptyResult();
    this.syncPinnedLinks(new Set(), result, false);
    this.tc.sync(new Set(), allInterfaces, result, false);
    return result;
  }
}
