import { describe, expect, it } from 'vitest';
import { DEFAULT_NETWORK } from '../src/model/types.js';
import { allocateVrfs, DEFAULT_VRF_ID, emptyAllocation } from '../src/model/vrf.js';

describe('VRF allocation', () => {
  it('gives the default network id 1 and new names fresh ids in sorted order', () => {
    const a = allocateVrfs(['b/default-podnetwork', 'a/default-podnetwork', DEFAULT_NETWORK], emptyAllocation());
    expect(a.ids).toEqual({
      [DEFAULT_NETWORK]: DEFAULT_VRF_ID,
      'a/default-podnetwork': 2,
      'b/default-podnetwork': 3,
    });
    expect(a.next).toBe(4);
  });

  it('always contains the default network, even when not asked for', () => {
    expect(allocateVrfs([], emptyAllocation()).ids).toEqual({ [DEFAULT_NETWORK]: 1 });
    expect(allocateVrfs([], { ids: {}, next: 0 }).ids).toEqual({ [DEFAULT_NETWORK]: 1 });
  });

  it('keeps ids of names still present, whatever else changes', () => {
    const first = allocateVrfs(['x/n', 'y/n', 'z/n'], emptyAllocation());
    const second = allocateVrfs(['a/n', 'z/n', 'x/n'], first);
    expect(second.ids['x/n']).toBe(first.ids['x/n']);
    expect(second.ids['z/n']).toBe(first.ids['z/n']);
    expect(second.ids['a/n']).toBe(first.next);
  });

  it('releases names that are gone and never reuses their ids', () => {
    const a = allocateVrfs(['x/n', 'y/n'], emptyAllocation()); // x=2, y=3
    const b = allocateVrfs(['x/n'], a);
    expect(b.ids).not.toHaveProperty('y/n');
    const c = allocateVrfs(['x/n', 'w/n'], b);
    expect(c.ids['w/n']).toBe(4);
    // y comes back: it is a new network now, with a new id.
    const d = allocateVrfs(['x/n', 'w/n', 'y/n'], c);
    expect(d.ids['y/n']).toBe(5);
    const used = Object.values(d.ids);
    expect(new Set(used).size).toBe(used.length);
  });

  it('does not modify the previous allocation', () => {
    const prev = allocateVrfs(['x/n'], emptyAllocation());
    const snapshot = structuredClone(prev);
    allocateVrfs(['y/n'], prev);
    expect(prev).toEqual(snapshot);
  });

  it('repairs a damaged previous allocation towards distinct ids', () => {
    const damaged = {
      ids: { [DEFAULT_NETWORK]: 7, 'a/n': 5, 'b/n': 5, 'c/n': 1, 'd/n': -3, 'e/n': 9 },
      next: 3, // lower than ids in use
    };
    const r = allocateVrfs(['a/n', 'b/n', 'c/n', 'd/n', 'e/n'], damaged);
    expect(r.ids[DEFAULT_NETWORK]).toBe(1);
    expect(r.ids['e/n']).toBe(9); // valid and unique: kept
    const ids = Object.values(r.ids);
    expect(new Set(ids).size).toBe(ids.length);
    // a and b shared 5: neither keeps it; c claimed the default id; d was invalid.
    for (const n of ['a/n', 'b/n', 'c/n', 'd/n']) expect(r.ids[n]).toBeGreaterThan(9);
    expect(r.next).toBe(14);
  });
});
