// Typed face of the N-API addon in addon/ (libbpf, linked statically).
// Every function throws a BpfError (errno + message naming the call) on failure.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

export type TcDirection = 'ingress' | 'egress';

export interface LoadedObject {
  /** program name (the C function name) -> program fd */
  programs: Record<string, number>;
  /** map name -> map fd */
  maps: Record<string, number>;
}

export interface LoadOptions {
  /** Maps declared with LIBBPF_PIN_BY_NAME are pinned (or reused) here. */
  pinRoot: string;
  /** Override max_entries per map name before loading. */
  maxEntries?: Record<string, number>;
}

export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
}

export interface LinkInfo {
  id: number;
  progId: number;
  type: number;
  /** for tcx links */
  ifindex: number;
  attachType: number;
}

/** A tcx hook's programs in run order, with the link holding each (0: attached without a link). */
export interface TcxChain {
  progIds: number[];
  linkIds: number[];
  /** bumped by the kernel on every change of the hook */
  revision: number;
}

/** One filter of a clsact hook, as the kernel dumps it (priority order, then list order). */
export interface TcFilter {
  chain: number;
  priority: number;
  /** ETH_P_* in host order; 3 = ETH_P_ALL */
  protocol: number;
  handle: number;
  /** classifier: 'bpf', 'u32', 'flower', ... */
  kind: string;
  /** cls_bpf only; 0 otherwise */
  progId: number;
  /** cls_bpf only: the name the attacher gave (libbpf: "<prog>:[<id>]") */
  name: string;
  directAction: boolean;
}

export interface XdpAttachment {
  /** the program when only one mode is in use, else 0 */
  progId: number;
  drvProgId: number;
  skbProgId: number;
  hwProgId: number;
}

export interface ProgInfo {
  id: number;
  type: number;
  name: string;
  tag: string;
}

/** Where a new tcx link goes: before every program on the hook, or after. */
export type TcxPosition = 'first' | 'last';

export interface TestRunResult {
  retval: number;
  /** average ns per run as reported by the kernel */
  duration: number;
  dataOut: Buffer;
  /** the context after the run, when a ctx was passed */
  ctxOut?: Buffer;
}

export interface MapDump {
  count: number;
  keys: Buffer;
  /** For per-CPU maps: count * roundup(valueSize, 8) * possibleCpus bytes. */
  values: Buffer;
}

export interface NativeAddon {
  libbpfVersion(): string;
  possibleCpus(): number;
  /** Open, size, load an ELF object; returns dup'ed fds (the object is closed). */
  loadObject(file: string, opts: LoadOptions): LoadedObject;
  /** loadObject on a worker thread: map creation and the verifier (~0.7 s of
   *  kernel time for the datapath's three objects) overlap the JS thread's
   *  work; the same errors, as a rejection. */
  loadObjectAsync(file: string, opts: LoadOptions): Promise<LoadedObject>;
  closeFd(fd: number): void;
  objPin(fd: number, file: string): void;
  objGet(file: string): number;
  mapInfo(fd: number): MapInfo;
  progId(fd: number): number;

  mapLookup(fd: number, key: Buffer): Buffer | null;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags?: number): void;
  /** false when the key was not there */
  mapDelete(fd: number, key: Buffer): boolean;
  /** keys/values are count*keySize / count*valueSize bytes, back to back */
  mapUpdateBatch(fd: number, keys: Buffer, values: Buffer, count: number): void;
  mapDeleteBatch(fd: number, keys: Buffer, count: number): void;
  /** Whole map; batch lookup where the map type has it, else key iteration. */
  mapDump(fd: number): MapDump;
  /** The values of a BPF_F_MMAPABLE array, mapped read-only and shared with the kernel (unmapped when collected). */
  mapMmap(fd: number): ArrayBuffer;
  /** Unmap a mapping from mapMmap now (it is detached: nothing reads through it after). */
  mapUnmap(mapping: ArrayBuffer): void;
  /** A memory-reducing V8 collection (compacting; the young generation shrunk) and malloc_trim(0): memory a burst left behind back to the system. */
  releaseMemory(): { collected: boolean; trimmed: boolean };

  /** tcx link (kernel 6.6+); returns the link fd. Default position: 'last' (the kernel's). */
  tcxAttach(progFd: number, ifindex: number, dir: TcDirection, where?: TcxPosition): number;
  /** Replace the program behind a link atomically. */
  linkUpdate(linkFd: number, progFd: number): void;
  linkInfo(linkFd: number): LinkInfo;
  linkDetach(linkFd: number): void;
  /** clsact + cls_bpf direct-action fallback; replaces at (handle, priority). */
  tcAttach(progFd: number, ifindex: number, dir: TcDirection, handle: number, priority: number): void;
  tcDetach(ifindex: number, dir: TcDirection, handle: number, priority: number): void;
  /** prog id attached at (handle, priority), or 0 */
  tcQuery(ifindex: number, dir: TcDirection, handle: number, priority: number): number;

  /** Ids of the programs attached through tcx at this hook, in run order. */
  tcxQuery(ifindex: number, dir: TcDirection): number[];
  /** The tcx hook in run order with link ids and revision; EINVAL on kernels without tcx. */
  tcxChain(ifindex: number, dir: TcDirection): TcxChain;
  /** Every filter of the clsact hook (all chains), in kernel order; [] without clsact. */
  tcList(ifindex: number, dir: TcDirection): TcFilter[];
  /** XDP programs of a device (0 = none), in the calling thread's netns. Dumps every device: use xdpList for many. */
  xdpQuery(ifindex: number): XdpAttachment;
  /** Every device of the calling thread's netns that has an XDP program (one netlink dump). */
  xdpList(): (Omit<XdpAttachment, 'progId'> & { ifindex: number })[];
  /** A loaded program's name and tag by id; null when it is gone. */
  progInfo(id: number): ProgInfo | null;

  /** BPF_PROG_TEST_RUN. ctx is a struct __sk_buff image (optional). */
  progTestRun(progFd: number, data: Buffer, repeat: number, ctx?: Buffer): TestRunResult;

  /** Watch a BPF ring buffer map from the event loop (uv_poll, no thread):
   *  onRecords gets up to maxPerWake (default 4096) records per call, packed
   *  as [u32 len][4 zero bytes][payload][pad to 8] (abi.splitRingRecords).
   *  Returns a handle for ringbufClose. Besides the ring's wake-ups (the programs wake it only when it fills, see
   *  bpf/lib/flow.h) a timer drains it every intervalMs (default 20, VW_FLOW_EVENT_POLL_MS; 0: wake-ups only). */
  ringbufOpen(mapFd: number, onRecords: (records: Buffer, count: number) => void, maxPerWake?: number, intervalMs?: number): number;
  /** Stop watching; false when the handle was not open. */
  ringbufClose(handle: number): boolean;

  /** if_nametoindex in the calling thread's network namespace. */
  ifNameToIndex(name: string): number;
  /** if_indextoname in the calling thread's network namespace; null when there is no such interface. */
  ifIndexToName(ifindex: number): string | null;
  /** setns(CLONE_NEWNET) of the calling (main) thread to the netns at `file`
   *  (e.g. /run/netns/NAME); returns an fd of the previous netns. */
  enterNetns(file: string): number;
  /** setns back to the netns fd returned by enterNetns, and close it. */
  restoreNetns(fd: number): void;
}

export interface BpfError extends Error {
  errno: number;
  code: string;
  syscall: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** node-gyp-build: picks addon/build/Release (a developer's `make build`) or else the
 *  prebuilt addon/prebuilds/<platform>-<arch> that the npm package ships. */
type NodeGypBuild = { resolve(dir: string): string };

/** Where the addon is: VRFWALL_ADDON (a .node file), else the addon/ folder next to
 *  dist/ or src/ (the repository, the installed package) or one above (the compiled bench). */
export function addonPath(): string {
  const explicit = process.env.VRFWALL_ADDON;
  if (explicit) {
    if (!fs.existsSync(explicit)) throw new Error(`vrfwall native addon: VRFWALL_ADDON=${explicit} does not exist`);
    return explicit;
  }
  const roots = [path.resolve(here, '../../addon'), path.resolve(here, '../../../addon')].filter((d) => fs.existsSync(d));
  const problems: string[] = [];
  for (const dir of roots) {
    try {
      return (require('node-gyp-build') as NodeGypBuild).resolve(dir);
    } catch (e) {
      problems.push((e as Error).message.trim().replace(/\s+/g, ' '));
    }
  }
  throw new Error(
    `vrfwall native addon (libbpf) not found for ${process.platform}-${process.arch} ` +
      `(${problems.length ? problems.join('; ') : `no addon/ folder next to ${path.resolve(here, '../..')}`}). ` +
      `The npm package ships it prebuilt for linux-x64 (glibc) only; from a checkout, run 'make build'.`,
  );
}

let cached: NativeAddon | undefined;

/** The addon, loaded on first use: commands that never touch the kernel (the API
 *  client: flows, status, explain) work where it cannot load. */
export function native(): NativeAddon {
  if (!cached) {
    const file = addonPath();
    try {
      cached = require(file) as NativeAddon;
    } catch (e) {
      throw new Error(`vrfwall native addon ${file} cannot load: ${(e as Error).message}`);
    }
  }
  return cached;
}

export function isBpfError(e: unknown): e is BpfError {
  return e instanceof Error && typeof (e as Partial<BpfError>).errno === 'number';
}
