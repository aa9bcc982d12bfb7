// Keeps the two vrfwall programs attached to exactly the interfaces of local
// pods. tcx links (kernel 6.6+) are pinned, so they survive the agent; a new
// agent adopts them and swaps in its programs atomically (link update). Older
// kernels get clsact + cls_bpf at a fixed handle/priority, replaced in place.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { NativeAddon, TcDirection } from '../bpf/native.js';
import { isBpfError } from '../bpf/native.js';

export type AttachMode = 'tcx' | 'tc';

export interface Programs {
  fromPod: number; // tc ingress of the host-side interface
  toPod: number; // tc egress
}

// Our cls_bpf filter's slot in the clsact qdisc ("vw").
export const TC_HANDLE = 0x7677;
export const TC_PRIORITY = 1;

const DIRECTIONS: readonly TcDirection[] = ['ingress', 'egress'];
// Errors by which a kernel says it has no tcx.
const NO_TCX = new Set(['EINVAL', 'EOPNOTSUPP', 'ENOTSUPP', 'ENOTSUP']);

export interface AttachResult {
  attached: number;
  updated: number;
  detached: number;
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

  constructor(
    private readonly bpf: NativeAddon,
    private readonly linkDir: string,
    private readonly programs: Programs,
    private readonly log: Logger,
    requested: AttachMode | 'auto' = 'auto',
  ) {
    fs.mkdirSync(linkDir, { recursive: true });
    if (requested !== 'auto') this.mode = requested;
    else if (fs.readdirSync(linkDir).length > 0) this.mode = 'tcx'; // adopting pinned links
  }

  get attachMode(): AttachMode | undefined {
    return this.mode;
  }

  private prog(dir: TcDirection): number {
    return dir === 'ingress' ? this.programs.fromPod : this.programs.toPod;
  }

  /** Attach to every interface in `want`, detach from every other one we hold. */
  sync(want: Set<number>, allInterfaces: number[]): AttachResult {
    const result: AttachResult = { attached: 0, updated: 0, detached: 0 };
    this.syncPinnedLinks(want, result);
    if (this.mode !== 'tcx') this.syncTc(want, allInterfaces, result);
    return result;
  }

  /** tcx links pinned in linkDir: update, drop stale ones, create missing ones. */
  private syncPinnedLinks(want: Set<number>, result: AttachResult): void {
    const have = new Set<string>();
    for (const name of fs.readdirSync(this.linkDir)) {
      const parsed = parsePinName(name);
      const file = path.join(this.linkDir, name);
      if (!parsed) continue;
      const fd = this.bpf.objGet(file);
      try {
        const info = this.bpf.linkInfo(fd);
        const alive = info.ifindex === parsed.ifindex; // 0 once the interface is gone
        if (alive && want.has(parsed.ifindex)) {
          const progFd = this.prog(parsed.dir);
          if (info.progId !== this.bpf.progId(progFd)) {
            this.bpf.linkUpdate(fd, progFd);
            result.updated++;
          }
          have.add(name);
          continue;
        }
        if (alive) this.bpf.linkDetach(fd);
        fs.unlinkSync(file);
        result.detached++;
      } finally {
        this.bpf.closeFd(fd);
      }
    }
    if (this.mode === 'tc') return;
    for (const ifindex of want) {
      for (const dir of DIRECTIONS) {
        if (have.has(pinName(ifindex, dir))) continue;
        if (!this.attachTcx(ifindex, dir)) return; // fell back to tc
        result.attached++;
      }
    }
  }

  private attachTcx(ifindex: number, dir: TcDirection): boolean {
    let fd: number;
    try {
      fd = this.bpf.tcxAttach(this.prog(dir), ifindex, dir);
    } catch (e) {
      if (this.mode === undefined && isBpfError(e) && NO_TCX.has(e.code)) {
        this.log.warn({ err: e.message }, 'tcx links unavailable, falling back to clsact/cls_bpf');
        this.mode = 'tc';
        return false;
      }
      throw e;
    }
    try {
      this.bpf.objPin(fd, path.join(this.linkDir, pinName(ifindex, dir)));
    } catch (e) {
      this.bpf.linkDetach(fd);
      throw e;
    } finally {
      this.bpf.closeFd(fd);
    }
    this.mode = 'tcx';
    return true;
  }

  /** clsact/cls_bpf: replace is atomic; interfaces not wanted lose our filter. */
  private syncTc(want: Set<number>, allInterfaces: number[], result: AttachResult): void {
    for (const ifindex of allInterfaces) {
      for (const dir of DIRECTIONS) {
        const progId = this.tcQuery(ifindex, dir);
        if (want.has(ifindex)) {
          if (progId === this.bpf.progId(this.prog(dir))) continue;
          this.bpf.tcAttach(this.prog(dir), ifindex, dir, TC_HANDLE, TC_PRIORITY);
          if (progId === 0) result.attached++;
          else result.updated++;
        } else if (progId !== 0) {
          this.bpf.tcDetach(ifindex, dir, TC_HANDLE, TC_PRIORITY);
          result.detached++;
        }
      }
    }
  }

  private tcQuery(ifindex: number, dir: TcDirection): number {
    try {
      return this.bpf.tcQuery(ifindex, dir, TC_HANDLE, TC_PRIORITY);
    } catch (e) {
      if (isBpfError(e) && (e.code === 'ENOENT' || e.code === 'EINVAL')) return 0; // no clsact
      throw e;
    }
  }

  /** Remove every attachment (agent --cleanup). */
  detachAll(allInterfaces: number[]): AttachResult {
    const result: AttachResult = { attached: 0, updated: 0, detached: 0 };
    this.syncPinnedLinks(new Set(), result);
    this.syncTc(new Set(), allInterfaces, result);
    return result;
  }
}
