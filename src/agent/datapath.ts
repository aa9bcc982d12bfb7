// Loads the two datapath objects so that they share one set of pinned maps.
// A second load with the same pin root (a restarted or upgraded agent) reuses
// the pinned maps with their contents: enforcement never sees an empty map.
import path from 'node:path';
import fs from 'node:fs';
import type { LoadedObject, NativeAddon } from '../kernel/native.js';
import { FlowLayout, FlowMapName, Layout, MapName as MAP, VW_COUNTERS_MAX, VW_FLOWS_MAX } from '../kernel/abi.js';
import type { Programs } from './attach.js';

/** The policy and session maps both objects share, by their names in the objects (one list: abi.ts MapName). */
export const MAP_NAMES = Object.values(MAP);
export type MapName = (typeof MAP)[keyof typeof MAP];

export interface Datapath {
  programs: Programs;
  /** the session sweep (bpf/session_gc.c), run by the agent, never attached */
  sessionGc: number;
  maps: Record<MapName, number>;
}

export interface InstancePaths {
  /** /sys/fs/bpf/vrfwall/<instance> */
  root: string;
  maps: string;
  links: string;
}

export function instancePaths(bpffsRoot: string, instance: string): InstancePaths {
  const root = path.join(bpffsRoot, instance);
  return { root, maps: path.join(root, 'maps'), links: path.join(root, 'links') };
}

function required(table: Record<string, number>, name: string, file: string): number {
  const fd = table[name];
  if (fd === undefined) throw new Error(`${file} has no '${name}' (stale build? run 'make build')`);
  return fd;
}

const BPF_MAP_TYPE_ARRAY = 2;
const BPF_F_MMAPABLE = 1 << 10;

/** A flows map pinned by an older agent (the LRU hash before the open-addressed
 *  table) cannot be reused: unpin it so the load makes a new one. Flows are
 *  statistics; every map that enforces is kept. The old programs hold their own
 *  reference until the new ones replace them. */
function dropStaleFlowTable(bpf: NativeAddon, mapsDir: string): void {
  const pin = path.join(mapsDir, FlowMapName.flows);
  if (!fs.existsSync(pin)) return;
  const fd = bpf.objGet(pin);
  try {
    const info = bpf.mapInfo(fd);
    if (info.type === BPF_MAP_TYPE_ARRAY && info.flags & BPF_F_MMAPABLE && info.valueSize === FlowLayout.vw_flow.size && info.maxEntries === VW_FLOWS_MAX) return;
  } finally {
    bpf.closeFd(fd);
  }
  fs.unlinkSync(pin);
}

/** Maps whose layout grew (audit mode: a third verdict in `counters`, a flags
 *  word in `config`; issue 16: 32 code slots, the endpoint's policy fields) and that the agent refills: a pinned one of
 *  the old layout is unpinned, so the load makes a new one. Counters are
 *  statistics; the agent writes the whole config before it attaches. */
function dropStaleLayouts(bpf: NativeAddon, mapsDir: string): void {
  const want: Record<string, (info: { valueSize: number; maxEntries: number }) => boolean> = {
    [MAP.counters]: (i) => i.maxEntries === VW_COUNTERS_MAX,
    [MAP.config]: (i) => i.valueSize === Layout.vw_config.size,
    // issue 16 grew vw_endpoint by the policy fields: the agent writes every
    // endpoint into the new map before it attaches; the old programs keep the old map
    [MAP.endpoints]: (i) => i.valueSize === Layout.vw_endpoint.size,
  };
  for (const [name, ok] of Object.entries(want)) {
    const pin = path.join(mapsDir, name);
    if (!fs.existsSync(pin)) continue;
    const fd = bpf.objGet(pin);
    let fine: boolean;
    try {
      fine = ok(bpf.mapInfo(fd));
    } finally {
      bpf.closeFd(fd);
    }
    if (!fine) fs.unlinkSync(pin);
  }
}

/** Loads on a worker thread of the addon (map creation and the verifier:
 *  ~0.7 s of kernel time for the three objects): the caller's JS thread is
 *  free meanwhile, e.g. for the source's first list. from_pod first: it
 *  creates and pins the maps the others reuse. */
export async function loadDatapath(
  bpf: NativeAddon,
  bpfDir: string,
  paths: InstancePaths,
  maxEntries: Partial<Record<MapName, number>> = {},
): Promise<Datapath> {
  fs.mkdirSync(paths.maps, { recursive: true });
  const sizes: Record<string, number> = {};
  for (const [name, n] of Object.entries(maxEntries)) if (n !== undefined) sizes[name] = n;

  const fromFile = path.join(bpfDir, 'from_pod.o');
  const toFile = path.join(bpfDir, 'to_pod.o');
  const gcFile = path.join(bpfDir, 'session_gc.o');
  dropStaleFlowTable(bpf, paths.maps);
  dropStaleLayouts(bpf, paths.maps);
  const loaded: LoadedObject[] = [];
  try {
    for (const file of [fromFile, toFile, gcFile]) loaded.push(await bpf.loadObjectAsync(file, { pinRoot: paths.maps, maxEntries: sizes }));
  } catch (e) {
    for (const obj of loaded) for (const fd of [...Object.values(obj.programs), ...Object.values(obj.maps)]) bpf.closeFd(fd);
    throw e;
  }
  const [from, to, gc] = loaded as [LoadedObject, LoadedObject, LoadedObject];

  const maps = {} as Record<MapName, number>;
  for (const name of MAP_NAMES) maps[name] = required(from.maps, name, fromFile);
  // to_pod's map fds refer to the same pinned maps, and internal maps
  // (.rodata and the like) are held by the programs: keep one set open.
  const keep = new Set(Object.values(maps));
  for (const fd of [...Object.values(from.maps), ...Object.values(to.maps), ...Object.values(gc.maps)]) {
    if (!keep.has(fd)) bpf.closeFd(fd);
  }
  return {
    programs: { fromPod: required(from.programs, 'from_pod', fromFile), toPod: required(to.programs, 'to_pod', toFile) },
    sessionGc: required(gc.programs, 'session_gc', gcFile),
    maps,
  };
}

/**
 * Another instance of one of the two programs, on the same pinned maps (the
 * maps must exist: loadDatapath ran with the same sizes). A tcx hook holds a
 * program once; the Attacher needs a second one to move its link first
 * without a moment where the hook is without vrfwall.
 */
export function loadSpareProgram(
  bpf: NativeAddon,
  bpfDir: string,
  paths: InstancePaths,
  which: keyof Programs,
  maxEntries: Partial<Record<MapName, number>> = {},
): number {
  const [file, prog] = which === 'fromPod' ? ['from_pod.o', 'from_pod'] : ['to_pod.o', 'to_pod'];
  const sizes: Record<string, number> = {};
  for (const [name, n] of Object.entries(maxEntries)) if (n !== undefined) sizes[name] = n;
  const obj = bpf.loadObject(path.join(bpfDir, file), { pinRoot: paths.maps, maxEntries: sizes });
  for (const fd of Object.values(obj.maps)) bpf.closeFd(fd);
  for (const [name, fd] of Object.entries(obj.programs)) if (name !== prog) bpf.closeFd(fd);
  return required(obj.programs, prog, path.join(bpfDir, file));
}

export function closeDatapath(bpf: NativeAddon, dp: Datapath): void {
  for (const fd of [...Object.values(dp.maps), dp.programs.fromPod, dp.programs.toPod, dp.sessionGc]) bpf.closeFd(fd);
}
