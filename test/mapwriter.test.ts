// The order in which the agent writes the policy maps, without a kernel: the
// diff (planWrittenSync), its application (applyPlans: every update of every map,
// then every delete in reverse), and the map writer (mapwriter.ts) with its
// full diffs, delta writes, verdict-epoch raises and recovery from a write
// that failed half way. The maps are an in-memory fake (helpers/fake-maps.ts);
// that the real maps take these bytes is tested on the kernel elsewhere.
import { describe, expect, it } from 'vitest';
import { decodeCacheCtl } from '../src/kernel/abi.js';
import { MAP_NAMES, type Datapath, type MapName } from '../src/agent/datapath.js';
import { MapWriter } from '../src/agent/mapwriter.js';
import { applyPlans, planWrittenSync, type MapEntry } from '../src/agent/mapsync.js';
import { VerdictEpoch } from '../src/agent/verdict-epoch.js';
import { compile } from '../src/model/compile.js';
import { IncrementalCompiler } from '../src/model/incremental.js';
import { CN2_ISOLATED_LABEL } from '../src/model/placement.js';
import type { ClusterConfig, ClusterState, PodObject } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { emptyClusterState } from '../src/sources/source.js';
import { FakeMaps } from './helpers/fake-maps.js';

const e = (k: number, v: number): MapEntry => ({ key: Buffer.from([k]), value: Buffer.from([v]) });
const hex = (k: number): string => Buffer.from([k]).toString('hex');

describe('planWrittenSync: the full diff against what a map holds', () => {
  /** A fake map fd holding `entries` (key byte -> value byte). */
  const holding = (fake: FakeMaps, fd: number, entries: MapEntry[]): void => {
    if (entries.length > 0) applyPlans(fake.addon(), [{ fd, updates: entries, deletes: [] }]);
    fake.sizes.set(fd, { keySize: 1, valueSize: 1 });
  };
  const want = (entries: MapEntry[]): Map<string, Buffer> => new Map(entries.map((x) => [x.key.toString('latin1'), x.value]));

  it('writes new and changed entries, deletes what is not desired, leaves equal entries alone', () => {
    const fake = new FakeMaps();
    holding(fake, 7, [e(1, 10), e(2, 20), e(3, 30)]);
    const plan = planWrittenSync(fake.addon(), 7, want([e(1, 10), e(2, 21), e(4, 40)]));
    expect(plan.fd).toBe(7);
    expect(plan.updates).toEqual([e(2, 21), e(4, 40)]);
    expect(plan.deletes).toEqual([Buffer.from([3])]);
  });

  it('an empty desired map deletes everything; equal contents plan nothing', () => {
    const fake = new FakeMaps();
    holding(fake, 1, [e(1, 10), e(2, 20)]);
    expect(planWrittenSync(fake.addon(), 1, new Map())).toEqual({ fd: 1, updates: [], deletes: [Buffer.from([1]), Buffer.from([2])] });
    expect(planWrittenSync(fake.addon(), 1, want([e(2, 20), e(1, 10)]))).toEqual({ fd: 1, updates: [], deletes: [] });
  });
});

describe('applyPlans', () => {
  it('every update of every map in the order given, then every delete in reverse map order', () => {
    const fake = new FakeMaps();
    const plans = [1, 2, 3].map((fd) => ({ fd, updates: [e(fd, 1)], deletes: [] as Buffer[] }));
    applyPlans(fake.addon(), plans); // the maps now hold one entry each
    fake.log.length = 0;
    const result = applyPlans(fake.addon(), [
      { fd: 1, updates: [e(5, 1)], deletes: [Buffer.from([1])] },
      { fd: 2, updates: [], deletes: [Buffer.from([2])] },
      { fd: 3, updates: [e(6, 1), e(7, 1)], deletes: [Buffer.from([3])] },
    ]);
    expect(result).toEqual({ updated: 3, deleted: 3 });
    expect(fake.log).toEqual([
      { op: 'update', fd: 1, keys: [hex(5)] },
      { op: 'update', fd: 3, keys: [hex(6), hex(7)] }, // no call for a map without updates
      { op: 'delete', fd: 3, keys: [hex(3)] },
      { op: 'delete', fd: 2, keys: [hex(2)] },
      { op: 'delete', fd: 1, keys: [hex(1)] },
    ]);
  });

  it('an update that fails stops the apply before any delete: nothing is removed before its replacement is in', () => {
    const fake = new FakeMaps();
    applyPlans(fake.addon(), [{ fd: 1, updates: [e(1, 1)], deletes: [] }, { fd: 2, updates: [e(2, 1)], deletes: [] }]);
    fake.log.length = 0;
    fake.beforeWrite = (op) => {
      if (op.op === 'update' && op.fd === 2) throw new Error('map full');
    };
    expect(() =>
      applyPlans(fake.addon(), [
        { fd: 1, updates: [e(3, 1)], deletes: [Buffer.from([1])] },
        { fd: 2, updates: [e(4, 1)], deletes: [Buffer.from([2])] },
      ]),
    ).toThrow('map full');
    expect(fake.log).toEqual([{ op: 'update', fd: 1, keys: [hex(3)] }]);
    expect([...fake.map(1).keys()].sort()).toEqual([hex(1), hex(3)]);
  });
});

// ---- the map writer -------------------------------------------------------------

const CONFIG: ClusterConfig = { nodeName: 'node1', podCIDRs: ['10.244.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] };

function pod(namespace: string, name: string, ip: string): PodObject {
  return {
    kind: 'Pod',
    metadata: { name, namespace, labels: {}, annotations: {} },
    spec: { nodeName: 'node1', hostNetwork: false, ports: [] },
    status: { podIPs: [ip] },
  };
}

function cluster(isolated: boolean): ClusterState {
  const s = emptyClusterState();
  for (const ns of ['default', 'team']) {
    s.namespaces.set(ns, { kind: 'Namespace', metadata: { name: ns, labels: ns === 'team' && isolated ? { [CN2_ISOLATED_LABEL]: 'true' } : {}, annotations: {} } });
  }
  s.nodes.set('node1', { name: 'node1', addresses: ['192.168.50.1'] });
  for (const [ns, name, ip] of [['default', 'a', '10.244.0.10'], ['team', 'b', '10.244.0.11'], ['team', 'c', '10.244.0.12']] as const) {
    s.pods.set(`${ns}/${name}`, pod(ns, name, ip));
  }
  return s;
}

/** One fd a map, as loadDatapath gives them. */
function fds(): Datapath['maps'] {
  const maps = {} as Record<MapName, number>;
  MAP_NAMES.forEach((m, i) => (maps[m] = 100 + i));
  return maps;
}

function writer(): { fake: FakeMaps; maps: Datapath['maps']; w: MapWriter; epoch: () => number } {
  const fake = new FakeMaps();
  const maps = fds();
  const bpf = fake.addon();
  const w = new MapWriter(bpf, maps, new VerdictEpoch(bpf, maps.cache_ctl));
  return { fake, maps, w, epoch: () => decodeCacheCtl(fake.map(maps.cache_ctl).get('00000000') ?? Buffer.alloc(8)).epoch };
}

describe('MapWriter', () => {
  it('a first write diffs against the kernel, writes the maps in dependency order (endpoints last) and raises the epoch', () => {
    const { fake, maps, w, epoch } = writer();
    const ifaces = new Map([['10.244.0.10', 11], ['10.244.0.11', 12], ['10.244.0.12', 13]]);
    const desired = compile(cluster(true), CONFIG, ifaces, emptyAllocation());
    expect(w.knowsKernel).toBe(false);
    const r = w.write(desired, undefined);
    expect(r.deleted).toBe(0);
    expect(r.updated).toBeGreaterThan(3);
    expect(w.knowsKernel).toBe(true);
    const order = fake.log.map((op) => MAP_NAMES.find((m) => maps[m] === op.fd));
    const rank = ['ports', 'networks', 'cidrs', 'vrf_pairs', 'services', 'backends', 'endpoints'];
    expect(order.every((m) => m !== undefined && rank.includes(m))).toBe(true);
    expect(order.map((m) => rank.indexOf(m!))).toEqual([...order.map((m) => rank.indexOf(m!))].sort((a, b) => a - b));
    expect(order.at(-1)).toBe('endpoints');
    expect(fake.map(maps.endpoints).size).toBe(desired.endpoints.size);
    expect(epoch()).toBe(1);
  });

  it('a delta write touches only the entries that changed; nothing changed: no call and no epoch raise', () => {
    const { fake, maps, w, epoch } = writer();
    const compiler = new IncrementalCompiler(CONFIG, emptyAllocation());
    const ifaces = new Map([['10.244.0.10', 11], ['10.244.0.11', 12], ['10.244.0.12', 13]]);
    compiler.update(cluster(false), 'all', ifaces);
    w.write(compiler.desired(), undefined);
    const before = new Map(fake.map(maps.endpoints));
    fake.log.length = 0;

    // Nothing changed: nothing written.
    const none = compiler.update(cluster(false), [], ifaces);
    expect(w.write(compiler.desired(), none)).toEqual({ updated: 0, deleted: 0 });
    expect(fake.log).toEqual([]);
    expect(epoch()).toBe(1);

    // The namespace becomes isolated: its pods' endpoints move to its own network.
    const delta = compiler.update(cluster(true), [{ kind: 'Namespace', key: 'team' }], ifaces);
    const r = w.write(compiler.desired(), delta);
    expect(r.updated).toBeGreaterThan(0);
    const changed = [...fake.map(maps.endpoints)].filter(([k, v]) => !before.get(k)?.equals(v)).map(([k]) => k);
    expect(changed.length).toBe(2); // b and c, not a
    const endpointWrites = fake.log.filter((op) => op.fd === maps.endpoints).flatMap((op) => op.keys);
    expect(endpointWrites.sort()).toEqual(changed.sort());
    expect(epoch()).toBe(2);
    // ... and the maps hold what a full compile of the new state gives
    const full = writer();
    full.w.write(compile(cluster(true), CONFIG, ifaces, compiler.allocation), undefined);
    expect(fake.map(maps.endpoints)).toEqual(full.fake.map(full.maps.endpoints));
  });

  it('a write that fails half way raises the epoch and makes the next write a full diff (it repairs drift)', () => {
    const { fake, maps, w, epoch } = writer();
    const compiler = new IncrementalCompiler(CONFIG, emptyAllocation());
    const ifaces = new Map([['10.244.0.10', 11], ['10.244.0.11', 12], ['10.244.0.12', 13]]);
    compiler.update(cluster(false), 'all', ifaces);
    w.write(compiler.desired(), undefined);
    const good = new Map(fake.map(maps.endpoints));
    // A stray entry only a kernel read can find.
    const [someKey, someValue] = [...good][0]!;
    const stray = Buffer.from(someKey, 'hex');
    stray[stray.length - 1] = stray[stray.length - 1]! ^ 0xff;
    fake.map(maps.endpoints).set(stray.toString('hex'), someValue);

    fake.beforeWrite = (op) => {
      if (op.fd === maps.endpoints) throw new Error('EBUSY');
    };
    const delta = compiler.update(cluster(true), [{ kind: 'Namespace', key: 'team' }], ifaces);
    expect(() => w.write(compiler.desired(), delta)).toThrow('EBUSY');
    expect(epoch()).toBe(2); // entries of other maps may have changed before the failure
    expect(w.knowsKernel).toBe(false);

    fake.beforeWrite = undefined;
    const next = compiler.update(cluster(true), [], ifaces);
    w.write(compiler.desired(), next);
    expect(fake.map(maps.endpoints).has(stray.toString('hex'))).toBe(false);
    const full = writer();
    full.w.write(compile(cluster(true), CONFIG, ifaces, compiler.allocation), undefined);
    expect(fake.map(maps.endpoints)).toEqual(full.fake.map(full.maps.endpoints));
  });
});
