// What runs before vrfwall on a hook it owns, in words an operator can act
// on. vrfwall's programs must run first: a program ahead of them that ends
// the chain (tcx: TCX_PASS/TCX_REDIRECT; cls_bpf direct action: TC_ACT_OK,
// TC_ACT_REDIRECT; XDP: XDP_TX/XDP_REDIRECT) decides in their place.
import type { NativeAddon, TcDirection } from '../kernel/native.js';

/** A program that is not this agent's, where it sits. */
export interface ForeignProgram {
  id: number;
  /** the kernel's program name ('' when it is gone) */
  name: string;
  /** 'tcx', 'tc priority 1 handle 0x1 bpf', 'xdp' ... */
  where: string;
}

/** One hook where vrfwall was found not to run first. */
export interface OrderEvent {
  ifindex: number;
  dir: TcDirection;
  /** what ran before vrfwall when the agent looked */
  ahead: ForeignProgram[];
  /** vrfwall put itself first again (make-before-break: no moment without it) */
  restored: boolean;
  /** why it could not (when !restored) */
  why?: string;
}

export function describeProgram(bpf: NativeAddon, id: number, where: string): ForeignProgram {
  let name = '';
  try {
    name = bpf.progInfo(id)?.name ?? '';
  } catch {
    // no right to open it by id, or it went away: the id still names it
  }
  return { id, name, where };
}

/** "id 12 (cil_from_container, tcx)" */
export function programText(p: ForeignProgram): string {
  return `id ${p.id} (${p.name === '' ? '?' : p.name}, ${p.where})`;
}

/** XDP programs by device, from one netlink dump. XDP runs before tc on a
 *  device's receive path: on a pod's host-side interface it sees what the
 *  pod sends before the from-pod hook does. */
export function xdpByDevice(bpf: NativeAddon): Map<number, ForeignProgram[]> {
  const out = new Map<number, ForeignProgram[]>();
  for (const x of bpf.xdpList()) {
    const progs: ForeignProgram[] = [];
    for (const [id, mode] of [
      [x.drvProgId, 'xdp driver'],
      [x.skbProgId, 'xdp generic'],
      [x.hwProgId, 'xdp offload'],
    ] as const) {
      if (id !== 0) progs.push(describeProgram(bpf, id, mode));
    }
    out.set(x.ifindex, progs);
  }
  return out;
}
