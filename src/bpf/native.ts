// Typed face of the N-API addon in daemon/addon (libbpf, linked statically).
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

  /** tcx link (kernel 6.6+); returns the link fd. */
  tcxAttach(progFd: number, ifindex: number, dir: TcDirection): number;
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

  /** BPF_PROG_TEST_RUN. ctx is a struct __sk_buff image (optional). */
  progTestRun(progFd: number, data: Buffer, repeat: number, ctx?: Buffer): TestRunResult;

  /** Watch a BPF ring buffer map from the event loop (uv_poll, no thread):
   *  onRecords gets up to maxPerWake (default 4096) records per call, packed
   *  as [u32 len][4 zero bytes][payload][pad to 8] (abi.splitRingRecords).
   *  Returns a handle for ringbufClose. */
  ringbufOpen(mapFd: number, onRecords: (records: Buffer, count: number) => void, maxPerWake?: number): number;
  /** Stop watching; false when the handle was not open. */
  ringbufClose(handle: number): boolean;

  /** if_nametoindex in the calling thread's network namespace. */
  ifNameToIndex(name: string): number;
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

function addonPath(): string {
  // dist/bpf or src/bpf -> repo root
  const candidates = [
    process.env.VRFWALL_ADDON,
    path.resolve(here, '../../daemon/addon/build/Release/vrfwall_native.node'),
    path.resolve(here, '../../../daemon/addon/build/Release/vrfwall_native.node'),
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
  for (const p of candidates) if (fs.existsSync(p)) return p;
  throw new Error(
    `vrfwall native addon not found (looked in ${candidates.join(', ')}); run 'make build'`,
  );
}

let cached: NativeAddon | undefined;

export function native(): NativeAddon {
  if (!cached) {
    const require = createRequire(import.meta.url);
    cached = require(addonPath()) as NativeAddon;
  }
  return cached;
}

export function isBpfError(e: unknown): e is BpfError {
  return e instanceof Error && typeof (e as Partial<BpfError>).errno === 'number';
}
