// The map writer's memory of what it wrote (WrittenImages: key bytes as a
// latin1 string -> value bytes) must give the same changes as the full images
// it replaces: a delta's changed and removed keys are written, unchanged ones
// are not, and recording the changes gives what a full write would remember.
import { describe, expect, it } from 'vitest';
import { changedEntries, desiredImages, desiredWritten, recordChanges, writtenOf } from '../src/agent/images.js';
import * as abi from '../src/kernel/abi.js';
import { encodeEndpoint, encodeEndpointKey } from '../src/kernel/abi.js';
import { emptyDelta } from '../src/model/incremental.js';
import type { DesiredState } from '../src/model/types.js';
import { desiredState } from './helpers/desired.js';

function desired(endpoints: [string, number][], pairs: string[]): DesiredState {
  return desiredState({
    endpoints: new Map(endpoints.map(([ip, vrfId]) => [ip, { vrfId, flags: 0, ifindex: 0 }])),
    vrfPairs: new Set(pairs),
    networks: new Map([
      [1, 0],
      [2, 0],
    ]),
  });
}

const hexes = (w: Map<string, Buffer>): [string, string][] =>
  [...w].map(([k, v]): [string, string] => [Buffer.from(k, 'latin1').toString('hex'), v.toString('hex')]).sort();

describe('map writer images: what was written, compactly', () => {
  it('a delta writes the changed and removed keys only, and recording it equals a full write of the new state', () => {
    const before = desired(
      [
        ['10.0.0.1', 1],
        ['10.0.0.2', 1],
        ['fd00::3', 2],
      ],
      ['1:2', '2:1'],
    );
    const written = writtenOf(desiredImages(before));
    // The latin1 key is the key's bytes: the full image's hex keys, decoded.
    expect([...written.endpoints.keys()].map((k) => Buffer.from(k, 'latin1').toString('hex')).sort()).toEqual([...desiredImages(before).endpoints.keys()].sort());

    // 10.0.0.2 moves to network 2, fd00::3 goes, 10.0.0.4 comes; 10.0.0.1 is
    // named by the delta but unchanged (positive control: it is looked up and left alone).
    const after = desired(
      [
        ['10.0.0.1', 1],
        ['10.0.0.2', 2],
        ['10.0.0.4', 1],
      ],
      ['1:2', '2:1'],
    );
    const delta = emptyDelta();
    for (const ip of ['10.0.0.1', '10.0.0.2', 'fd00::3', '10.0.0.4']) delta.endpoints.add(ip);
    delta.vrfPairs.add('1:2');
    const changes = changedEntries(written, after, delta);
    const hexOf = (b: Buffer): string => b.toString('hex');
    const keyHex = (ip: string): string => hexOf(encodeEndpointKey(ip));
    expect(changes.endpoints.updates.map((e) => hexOf(e.key)).sort()).toEqual([keyHex('10.0.0.2'), keyHex('10.0.0.4')].sort());
    const moved = changes.endpoints.updates.find((e) => hexOf(e.key) === keyHex('10.0.0.2'));
    expect(moved?.value.equals(encodeEndpoint({ vrfId: 2, flags: 0, ifindex: 0 }))).toBe(true);
    expect(changes.endpoints.deletes.map(hexOf)).toEqual([keyHex('fd00::3')]);
    expect(changes.vrfPairs.updates).toEqual([]);
    expect(changes.vrfPairs.deletes).toEqual([]);

    recordChanges(written, changes);
    const reference = writtenOf(desiredImages(after));
    for (const m of Object.keys(reference) as (keyof typeof reference)[]) expect(hexes(written[m])).toEqual(hexes(reference[m]));
  });

  it('the full write’s images are the reference images, key for key, for every map and address form', () => {
    const d = desired(
      [
        ['10.0.0.1', 1],
        ['0.0.0.0', 2],
        ['255.255.255.255', 1],
        ['fd00::3', 2],
        ['::ffff:10.0.0.9', 1], // not a dotted quad: the general encoder
        ['2001:db8::1', 3],
      ],
      ['1:2', '2:1', '2:3'],
    );
    d.cidrs.set('10.0.0.0/8', 1);
    d.ports.set(7, '02:00:00:00:00:07');
    d.services.set('10.96.0.1|80|TCP|1', { addr: '10.96.0.1', port: 80, protocol: 'TCP', clientVrf: 1, svcVrf: 2, flags: 0 });
    d.backends.set('10.0.0.1|8080|TCP|2', { addr: '10.0.0.1', port: 8080, protocol: 'TCP', clientVrf: 2, svcVrf: 1, flags: 0 });
    d.policy.set('3|7|6|0', { flags: 1, ranges: [{ lo: 80, hi: 80 }] });
    d.policy.set('3|7|0|0', { flags: 0, ranges: [{ lo: 0, hi: 65535 }] });
    d.policyCidrs.set('10.1.0.0/16|3|17|1', { flags: 0, ranges: [{ lo: 53, hi: 53 }, { lo: 8000, hi: 8010 }] });
    d.policyCidrs.set('fd00:1::/64|4|0|0', { flags: 0, ranges: [{ lo: 0, hi: 65535 }] });
    d.policyCidrs.set('10.1.3.0/24|3|17|0', { flags: 0, ranges: [] }); // an except nothing else allows: denies
    const fast = desiredWritten(d);
    const reference = writtenOf(desiredImages(d));
    for (const m of Object.keys(reference) as (keyof typeof reference)[]) {
      expect(hexes(fast[m]), m).toEqual(hexes(reference[m]));
      expect(fast[m].size, m).toBeGreaterThan(0); // every map has entries: the comparison compares something
    }
  });
});

describe('map writer images: NetworkPolicy entries', () => {
  it('encode the compile step’s text keys into the kernel keys (abi.ts), and a delta of policy keys writes and deletes them', () => {
    const before = desired([['10.0.0.1', 1]], []);
    before.policy.set('3|7|6|0', { flags: 0, ranges: [{ lo: 80, hi: 81 }] });
    before.policyCidrs.set('10.1.0.0/16|3|6|0', { flags: 0, ranges: [{ lo: 80, hi: 80 }] });
    const written = desiredWritten(before);
    const [key] = [...written.policy.keys()];
    expect(abi.decodePolicyKey(Buffer.from(key!, 'latin1'))).toEqual({ set: 3, identity: 7, proto: 6, slot: 0 });
    expect(abi.decodePolicyValue(written.policy.get(key!)!)).toEqual({ flags: 0, ranges: [{ lo: 80, hi: 81 }] });
    const [ckey] = [...written.policyCidrs.keys()];
    expect(abi.decodePolicyCidrKey(Buffer.from(ckey!, 'latin1'))).toEqual({ set: 3, proto: 6, slot: 0, cidr: '10.1.0.0/16' });

    const after = desired([['10.0.0.1', 1]], []);
    after.policy.set('3|7|6|0', { flags: 0, ranges: [{ lo: 80, hi: 81 }] }); // unchanged (the control)
    after.policy.set('3|8|0|0', { flags: 0, ranges: [{ lo: 0, hi: 65535 }] }); // new
    const delta = emptyDelta();
    for (const k of ['3|7|6|0', '3|8|0|0']) delta.policy.add(k);
    delta.policyCidrs.add('10.1.0.0/16|3|6|0'); // removed
    const changes = changedEntries(written, after, delta);
    expect(changes.policy.updates.map((e) => abi.decodePolicyKey(e.key))).toEqual([{ set: 3, identity: 8, proto: 0, slot: 0 }]);
    expect(changes.policy.deletes).toEqual([]);
    expect(changes.policyCidrs.deletes.map((k) => abi.decodePolicyCidrKey(k).cidr)).toEqual(['10.1.0.0/16']);
    recordChanges(written, changes);
    const reference = writtenOf(desiredImages(after));
    for (const m of Object.keys(reference) as (keyof typeof reference)[]) expect(hexes(written[m])).toEqual(hexes(reference[m]));
  });

  it('a key the compile step got wrong throws (nothing half-written)', () => {
    const d = desired([], []);
    d.policy.set('3|7|1|0', { flags: 0, ranges: [] }); // proto 1 (ICMP) is no policy protocol
    expect(() => desiredWritten(d)).toThrow(/bad proto/);
  });
});
