// How full every pinned map of an agent instance is (ServerStatus, metrics).
// Hash-like maps are counted with a batch dump; arrays are always full; the
// ring buffer has no entries to count.
import fs from 'node:fs';
import path from 'node:path';
import type { NativeAddon } from '../kernel/native.js';

const MAP_TYPES: Record<number, string> = {
  1: 'hash',
  2: 'array',
  5: 'percpu_hash',
  6: 'percpu_array',
  9: 'lru_hash',
  10: 'lru_percpu_hash',
  11: 'lpm_trie',
  27: 'ringbuf',
};
const COUNTED = new Set(['hash', 'percpu_hash', 'lru_hash', 'lru_percpu_hash', 'lpm_trie']);
const ARRAYS = new Set(['array', 'percpu_array']);

export interface MapFill {
  name: string;
  type: string;
  maxEntries: number;
  entries: number;
  fill: number;
}

/** `known` gives entry counts someone already has (the flow reader's last scan), saving a dump. */
export function readMapFill(bpf: NativeAddon, mapsDir: string, known: Record<string, number> = {}): MapFill[] {
  let names: string[];
  try {
    names = fs.readdirSync(mapsDir).sort();
  } catch {
    return [];
  }
  const out: MapFill[] = [];
  for (const name of names) {
    let fd: number;
    try {
      fd = bpf.objGet(path.join(mapsDir, name));
    } catch {
      continue; // removed meanwhile, or not a map
    }
    try {
      const info = bpf.mapInfo(fd);
      const type = MAP_TYPES[info.type] ?? `type ${info.type}`;
      const entries = known[name] !== undefined ? (known[name] as number) : COUNTED.has(type) ? bpf.mapDump(fd).count : ARRAYS.has(type) ? info.maxEntries : 0;
      const fill = type === 'ringbuf' || info.maxEntries === 0 ? 0 : entries / info.maxEntries;
      out.push({ name, type, maxEntries: info.maxEntries, entries, fill });
    } catch {
      // not a map (or gone): skip
    } finally {
      bpf.closeFd(fd);
    }
  }
  return out;
}

/** The same, at most once per `ttlMs` (a scrape and a status call share it). */
export class MapFillCache {
  private at = 0;
  private last: MapFill[] = [];
  constructor(
    private readonly bpf: NativeAddon,
    private readonly mapsDir: string,
    private readonly ttlMs = 1000,
    private readonly known: () => Record<string, number> = () => ({}),
  ) {}
  get(): MapFill[] {
    if (Date.now() - this.at >= this.ttlMs) {
      this.last = readMapFill(this.bpf, this.mapsDir, this.known());
      this.at = Date.now();
    }
    return this.last;
  }
}
