// The map writer's full write (first sync, every resync) against the real
// kernel maps: whatever another writer did to them (a changed value, an entry
// added, an entry removed), one full write leaves exactly the desired contents,
// read back from the kernel, and says what it changed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as abi from '../src/kernel/abi.js';
import { native, type NativeAddon } from '../src/kernel/native.js';
import { desiredImages } from '../src/agent/images.js';
import { readImage } from '../src/agent/mapsync.js';
import { MapWriter } from '../src/agent/mapwriter.js';
import { VerdictEpoch } from '../src/agent/verdict-epoch.js';
import { MAP_NAMES, type Datapath } from '../src/agent/datapath.js';
import type { DesiredState } from '../src/model/types.js';
import { TestDatapath, freshPinRoot } from './helpers/datapath.js';
import { desiredState } from './helpers/desired.js';

let n: NativeAddon;
let dp: TestDatapath;

beforeAll(() => {
  n = native();
  dp = new TestDatapath(n, freshPinRoot('mapwriter-test-'));
});

afterAll(() => dp?.close());

function desired(): DesiredState {
  return desiredState({
    endpoints: new Map([
      ['10.0.0.1', { vrfId: 2, flags: 0, ifindex: 0 }],
      ['10.0.0.2', { vrfId: 3, flags: abi.VW_EP_LOCAL, ifindex: 7 }],
      ['fd00::1', { vrfId: 2, flags: 0, ifindex: 0 }],
      ['::ffff:10.0.0.9', { vrfId: 3, flags: 0, ifindex: 0 }],
    ]),
    vrfPairs: new Set(['2:3', '3:2']),
    networks: new Map([
      [1, 0],
      [2, 0],
      [3, abi.VW_NET_EXTERNAL_DENY],
    ]),
    cidrs: new Map([['10.0.0.0/8', 1]]),
    ports: new Map([[7, '02:00:00:00:00:07']]),
    services: new Map([['10.96.0.1|80|TCP|2', { addr: '10.96.0.1', port: 80, protocol: 'TCP', clientVrf: 2, svcVrf: 3, flags: 0 }]]),
    policy: new Map([
      ['5|9|6|0', { flags: 0, ranges: [{ lo: 80, hi: 80 }] }],
      ['5|9|0|0', { flags: 0, ranges: [{ lo: 0, hi: 65535 }] }],
    ]),
    policyCidrs: new Map([
      ['10.1.0.0/16|5|17|0', { flags: 0, ranges: [{ lo: 53, hi: 53 }] }],
      ['10.1.3.0/24|5|17|0', { flags: 0, ranges: [] }],
      ['fd00:1::/64|6|0|0', { flags: 0, ranges: [{ lo: 0, hi: 65535 }] }],
    ]),
  });
}

const MAPS: [keyof ReturnType<typeof desiredImages>, string][] = [
  ['endpoints', abi.MapName.endpoints],
  ['vrfPairs', abi.MapName.vrfPairs],
  ['networks', abi.MapName.networks],
  ['cidrs', abi.MapName.cidrs],
  ['services', abi.MapName.services],
  ['ports', abi.MapName.ports],
  ['policy', abi.MapName.policy],
  ['policyCidrs', abi.MapName.policyCidrs],
];

/** Every map as sorted "key=value" hex lines, read from the kernel. */
function kernel(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [m, name] of MAPS) out[m] = [...readImage(n, dp.mapFd(name)).values()].map((e) => `${e.key.toString('hex')}=${e.value.toString('hex')}`).sort();
  return out;
}

function reference(d: DesiredState): Record<string, string[]> {
  const images = desiredImages(d);
  const out: Record<string, string[]> = {};
  for (const [m] of MAPS) out[m] = [...images[m].values()].map((e) => `${e.key.toString('hex')}=${e.value.toString('hex')}`).sort();
  return out;
}

describe('map writer, full write', () => {
  it('makes every map hold exactly the desired entries, whatever was changed, added or removed behind it', () => {
    const maps = {} as Datapath['maps'];
    for (const name of MAP_NAMES) (maps as Record<string, number>)[name] = dp.mapFd(name);
    const epoch = new VerdictEpoch(n, dp.mapFd(abi.MapName.cacheCtl));
    const writer = new MapWriter(n, maps, epoch);
    const d = desired();
    const want = reference(d);

    const first = writer.write(d, undefined);
    expect(kernel()).toEqual(want);
    expect(first.updated).toBe(Object.values(want).reduce((s, l) => s + l.length, 0));

    // Another writer: one endpoint's value changed, one endpoint removed, a stranger added, a pair removed.
    const epFd = dp.mapFd(abi.MapName.endpoints);
    n.mapUpdate(epFd, abi.encodeEndpointKey('10.0.0.1'), abi.encodeEndpoint({ vrfId: 3, flags: 0, ifindex: 0 }));
    expect(n.mapDelete(epFd, abi.encodeEndpointKey('fd00::1'))).toBe(true);
    n.mapUpdate(epFd, abi.encodeEndpointKey('10.9.9.9'), abi.encodeEndpoint({ vrfId: 2, flags: 0, ifindex: 0 }));
    expect(n.mapDelete(dp.mapFd(abi.MapName.vrfPairs), abi.encodeVrfPair({ srcVrf: 3, dstVrf: 2 }))).toBe(true);
    // and in the policy maps: a value changed, a stranger block added
    n.mapUpdate(dp.mapFd(abi.MapName.policy), abi.encodePolicyKey({ set: 5, identity: 9, proto: 6, slot: 0 }), abi.encodePolicyValue({ ranges: [{ lo: 1, hi: 65535 }] }));
    n.mapUpdate(dp.mapFd(abi.MapName.policyCidrs), abi.encodePolicyCidrKey({ set: 5, proto: 6, slot: 0, cidr: '10.2.0.0/16' }), abi.encodePolicyValue({ ranges: [{ lo: 0, hi: 65535 }] }));
    expect(kernel()).not.toEqual(want); // the drift is there before the resync

    const epochBefore = epoch.read().epoch;
    writer.invalidate(); // a resync: diff against the kernel, not against what it wrote
    const resync = writer.write(d, undefined);
    expect(kernel()).toEqual(want);
    expect(resync).toEqual({ updated: 4, deleted: 2 });
    expect(epoch.read().epoch).toBeGreaterThan(epochBefore); // decisions cached under the drift are retired

    // Nothing left to change: a second resync writes nothing.
    writer.invalidate();
    expect(writer.write(d, undefined)).toEqual({ updated: 0, deleted: 0 });
    expect(kernel()).toEqual(want);
  });
});
