// VRF id allocation. Ids are node-local and only have to be stable while the
// agent runs and across its restarts (the allocation is persisted by the
// caller). The one safety property: two different networks never share an
// id, and an id once given to a network is never handed to another one while
// the allocation lives — a stale map entry carrying an old id then matches
// nothing instead of matching a stranger's network.
import { DEFAULT_NETWORK, type VrfAllocation } from './types.js';

/** The default network always has id 1; 0 means "no network" in the maps. */
export const DEFAULT_VRF_ID = 1;
const FIRST_DYNAMIC_ID = 2;
const MAX_VRF_ID = 0xffff_ffff; // __u32

export function emptyAllocation(): VrfAllocation {
  return { ids: { [DEFAULT_NETWORK]: DEFAULT_VRF_ID }, next: FIRST_DYNAMIC_ID };
}

/**
 * Allocation for exactly `names` (plus the default network), derived from
 * `previous`: names still present keep their id, new names get fresh ids in
 * sorted order (deterministic), names gone are released but their ids are not
 * reused (`next` only grows). Pure: `previous` is not modified.
 *
 * A damaged `previous` (e.g. read back from disk) is repaired towards safety:
 * an id that is not a valid u32 >= 2, or that a second name also holds, is
 * dropped and its name re-allocated.
 */
export function allocateVrfs(names: Iterable<string>, previous: VrfAllocation): VrfAllocation {
  const wanted = new Set(names);
  wanted.delete(DEFAULT_NETWORK);

  const prevIds = Object.entries(previous.ids);
  let next = Number.isSafeInteger(previous.next) ? Math.max(previous.next, FIRST_DYNAMIC_ID) : FIRST_DYNAMIC_ID;
  for (const [, id] of prevIds) if (isDynamicId(id)) next = Math.max(next, id + 1);

  // Which previous ids are trustworthy: valid and held by exactly one name.
  const holders = new Map<number, number>();
  for (const [, id] of prevIds) holders.set(id, (holders.get(id) ?? 0) + 1);

  const ids: Record<string, number> = { [DEFAULT_NETWORK]: DEFAULT_VRF_ID };
  const fresh: string[] = [];
  for (const name of [...wanted].sort()) {
    const id = previous.ids[name];
    if (id !== undefined && Object.hasOwn(previous.ids, name) && isDynamicId(id) && holders.get(id) === 1) {
      ids[name] = id;
    } else {
      fresh.push(name);
    }
  }
  for (const name of fresh) {
    if (next > MAX_VRF_ID) throw new Error('VRF ids exhausted (2^32 networks allocated)');
    ids[name] = next++;
  }
  return { ids, next };
}

function isDynamicId(id: number): boolean {
  return Number.isInteger(id) && id >= FIRST_DYNAMIC_ID && id <= MAX_VRF_ID;
}
