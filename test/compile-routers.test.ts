// VirtualNetworks and VirtualNetworkRouters through the pure compile step:
// placement by annotation (all three spellings), quarantine, label
// selectors, mesh, hub and spoke, imports across namespaces, and the
// resulting vrf_pairs / networks map contents.
import { describe, expect, it } from 'vitest';
import { VW_EP_NO_BACKEND, VW_EP_QUARANTINE, VW_NET_EXTERNAL_DENY } from '../src/kernel/abi.js';
import { compile } from '../src/model/compile.js';
import { selectorMatches, selectorText } from '../src/model/selector.js';
import { DEFAULT_NETWORK, type ClusterConfig, type ClusterState, type DesiredState } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { cluster, isolatedNs, ns, pod, router, sel, vn } from './helpers/cluster.js';

const config: ClusterConfig = { nodeName: 'n1', podCIDRs: ['10.244.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] };
const run = (s: ClusterState): DesiredState => compile(s, config, new Map(), emptyAllocation());

function joined(d: DesiredState, a: string, b: string): boolean {
  const ia = d.allocation.ids[a];
  const ib = d.allocation.ids[b];
  if (ia === undefined || ib === undefined) throw new Error(`no vrf for ${ia === undefined ? a : b}`);
  const both = [d.vrfPairs.has(`${ia}:${ib}`), d.vrfPairs.has(`${ib}:${ia}`)];
  expect(both[0], `pair ${a} <-> ${b} written in both orders`).toBe(both[1]);
  return both[0]!;
}

/** All joined pairs, as sorted "a|b" network names. */
function pairs(d: DesiredState): string[] {
  const name = new Map(Object.entries(d.allocation.ids).map(([n, id]) => [id, n]));
  const out = new Set<string>();
  for (const p of d.vrfPairs) {
    const [a, b] = p.split(':').map((x) => name.get(Number(x))!);
    out.add([a, b].sort().join('|'));
  }
  return [...out].sort();
}

const problems = (d: DesiredState): string[] => d.problems.map((p) => `${p.source}: ${p.message}`);

describe('label selectors', () => {
  const labels = { app: 'web', tier: 'front' };
  it('matchLabels and every operator, as Kubernetes evaluates them', () => {
    expect(selectorMatches(sel({}), labels)).toBe(true); // empty selects everything
    expect(selectorMatches(sel({ app: 'web' }), labels)).toBe(true);
    expect(selectorMatches(sel({ app: 'db' }), labels)).toBe(false);
    expect(selectorMatches(sel({ app: 'web', zone: 'a' }), labels)).toBe(false);
    const ex = (operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist', key: string, values: string[] = []) =>
      selectorMatches(sel({}, [{ key, operator, values }]), labels);
    expect(ex('In', 'tier', ['front', 'back'])).toBe(true);
    expect(ex('In', 'tier', ['back'])).toBe(false);
    expect(ex('In', 'zone', ['a'])).toBe(false);
    expect(ex('NotIn', 'tier', ['back'])).toBe(true);
    expect(ex('NotIn', 'tier', ['front'])).toBe(false);
    expect(ex('NotIn', 'zone', ['a'])).toBe(true); // a missing key satisfies NotIn
    expect(ex('Exists', 'app')).toBe(true);
    expect(ex('Exists', 'zone')).toBe(false);
    expect(ex('DoesNotExist', 'zone')).toBe(true);
    expect(ex('DoesNotExist', 'app')).toBe(false);
    // all requirements must hold
    expect(selectorMatches(sel({ app: 'web' }, [{ key: 'tier', operator: 'In', values: ['back'] }]), labels)).toBe(false);
    expect(selectorMatches(sel({ constructor: 'x' }), {})).toBe(false); // no prototype keys
  });
  it('text form for logs', () => {
    expect(selectorText(sel({ a: 'b' }, [{ key: 't', operator: 'NotIn', values: ['x', 'y'] }, { key: 'z', operator: 'Exists', values: [] }]))).toBe(
      'a=b,t notin (x,y),z',
    );
    expect(selectorText(sel({}))).toBe('<everything>');
  });
});

describe('VirtualNetworks and placement', () => {
  const base = {
    namespaces: [ns('team-a'), ns('team-b', { annotations: { 'vrfwall.dev/network': 'team-b/blue' } })],
    virtualNetworks: [vn('team-a/red'), vn('team-b/blue'), vn('team-a/storage', { spec: { podNetwork: false } })],
  };

  it('a pod annotation (each spelling) and a namespace annotation place pods in custom networks', () => {
    const d = run(
      cluster({
        ...base,
        pods: [
          pod('team-a/p1', ['10.244.1.1'], { annotations: { 'vrfwall.dev/network': 'team-a/red' } }),
          pod('team-a/p2', ['10.244.1.2'], { annotations: { 'net.juniper.contrail.podnetwork': 'team-a/red' } }),
          pod('team-a/p3', ['10.244.1.3'], {
            annotations: { 'opencontrail.org/network': '{"domain":"default-domain","project":"k8s-team-a","name":"red"}' },
          }),
          pod('team-b/p4', ['10.244.1.4']),
          pod('team-a/p5', ['10.244.1.5']),
        ],
      }),
    );
    const place = (k: string) => d.placements.get(k);
    for (const k of ['team-a/p1', 'team-a/p2', 'team-a/p3']) expect(place(k)).toMatchObject({ kind: 'network', network: 'team-a/red' });
    expect(place('team-b/p4')).toMatchObject({ kind: 'network', network: 'team-b/blue' });
    expect(place('team-a/p5')).toMatchObject({ kind: 'network', network: DEFAULT_NETWORK });
    const red = d.allocation.ids['team-a/red'];
    expect(d.endpoints.get('10.244.1.1')?.vrfId).toBe(red);
    expect(d.endpoints.get('10.244.1.3')?.vrfId).toBe(red);
    expect(d.endpoints.get('10.244.1.4')?.vrfId).toBe(d.allocation.ids['team-b/blue']);
    expect(new Set([red, d.allocation.ids['team-b/blue'], d.allocation.ids[DEFAULT_NETWORK]]).size).toBe(3);
    // every network is in the networks map, also the one that takes no pods
    expect(d.networks.has(d.allocation.ids['team-a/storage']!)).toBe(true);
  });

  it('quarantine: a missing network, an unparsable value, conflicting keys, a network that takes no pods', () => {
    const d = run(
      cluster({
        ...base,
        pods: [
          pod('team-a/missing', ['10.244.1.1'], { annotations: { 'vrfwall.dev/network': 'team-a/green' } }),
          pod('team-a/garbage', ['10.244.1.2'], { annotations: { 'vrfwall.dev/network': 'red' } }),
          pod('team-a/conflict', ['10.244.1.3'], {
            annotations: { 'vrfwall.dev/network': 'team-a/red', 'net.juniper.contrail.podnetwork': 'team-b/blue' },
          }),
          pod('team-a/nopods', ['10.244.1.4'], { annotations: { 'vrfwall.dev/network': 'team-a/storage' } }),
        ],
      }),
    );
    const why = (k: string) => {
      const p = d.placements.get(k);
      expect(p?.kind, k).toBe('quarantine');
      return p?.kind === 'quarantine' ? p.why : '';
    };
    expect(why('team-a/missing')).toMatch(/team-a\/green, which does not exist/);
    expect(why('team-a/garbage')).toMatch(/does not parse/);
    expect(why('team-a/conflict')).toMatch(/network annotations conflict/);
    expect(why('team-a/nopods')).toMatch(/takes no pods/);
    for (const ip of ['10.244.1.1', '10.244.1.2', '10.244.1.3', '10.244.1.4']) {
      expect(d.endpoints.get(ip)).toMatchObject({ vrfId: 0, flags: VW_EP_QUARANTINE | VW_EP_NO_BACKEND });
    }
    expect(problems(d)).toContain('Pod team-a/missing: quarantined: pod annotation vrfwall.dev/network="team-a/green" names network team-a/green, which does not exist');
  });

  it('deleting the VirtualNetwork quarantines its pods; re-creating it keeps the VRF id stable only while it exists', () => {
    const s1 = cluster({ ...base, pods: [pod('team-a/p1', ['10.244.1.1'], { annotations: { 'vrfwall.dev/network': 'team-a/red' } })] });
    const d1 = run(s1);
    expect(d1.endpoints.get('10.244.1.1')?.vrfId).toBe(d1.allocation.ids['team-a/red']);
    const s2 = { ...s1, virtualNetworks: new Map([...s1.virtualNetworks].filter(([k]) => k !== 'team-a/red')) };
    const d2 = compile(s2, config, new Map(), d1.allocation);
    expect(d2.placements.get('team-a/p1')?.kind).toBe('quarantine');
    expect(d2.allocation.ids['team-a/red']).toBeUndefined();
  });

  it('spec.external deny on a VirtualNetwork sets the network flag; CN2 objects count the same', () => {
    const d = run(
      cluster({
        virtualNetworks: [vn('a/closed', { spec: { external: 'deny' } }), vn('a/open', { spec: { external: 'allow' } }), vn('a/cn2', { cn2: true, spec: { external: 'deny' } })],
      }),
    );
    expect(d.networks.get(d.allocation.ids['a/closed']!)).toBe(VW_NET_EXTERNAL_DENY);
    expect(d.networks.get(d.allocation.ids['a/open']!)).toBe(0);
    expect(d.networks.get(d.allocation.ids['a/cn2']!)).toBe(VW_NET_EXTERNAL_DENY);
  });
});

describe('routers', () => {
  it('mesh: every selected network with every other, nothing else', () => {
    const d = run(
      cluster({
        virtualNetworks: [
          vn('a/red', { labels: { vn: 'web' } }),
          vn('a/blue', { labels: { vn: 'web' } }),
          vn('a/green', { labels: { vn: 'web' } }),
          vn('a/black', { labels: { vn: 'db' } }),
          vn('b/red', { labels: { vn: 'web' } }), // other namespace: not selectable
        ],
        routers: [router('a/r', 'mesh', { select: sel({ vn: 'web' }) })],
      }),
    );
    expect(pairs(d)).toEqual(['a/blue|a/green', 'a/blue|a/red', 'a/green|a/red']);
    expect(joined(d, 'a/red', 'a/black')).toBe(false);
    expect(joined(d, 'a/red', 'b/red')).toBe(false);
  });

  it('selector forms: matchExpressions, empty selector (all of the namespace), no selector (none)', () => {
    const vns = [vn('a/x', { labels: { tier: 'front' } }), vn('a/y', { labels: { tier: 'back' } }), vn('a/z', { labels: { legacy: 'yes' } })];
    const withRouter = (select: ReturnType<typeof sel> | undefined) =>
      pairs(run(cluster({ virtualNetworks: vns, routers: [router('a/r', 'mesh', select ? { select } : {})] })));
    expect(withRouter(sel({}, [{ key: 'tier', operator: 'In', values: ['front', 'back'] }]))).toEqual(['a/x|a/y']);
    expect(withRouter(sel({}, [{ key: 'legacy', operator: 'DoesNotExist', values: [] }]))).toEqual(['a/x|a/y']);
    expect(withRouter(sel({}, [{ key: 'tier', operator: 'NotIn', values: ['back'] }]))).toEqual(['a/x|a/z']);
    expect(withRouter(sel({}))).toEqual(['a/x|a/y', 'a/x|a/z', 'a/y|a/z']);
    expect(withRouter(undefined)).toEqual([]);
  });

  it('isolated-namespace networks are selected by the implicit label, only from their own namespace', () => {
    const d = run(
      cluster({
        namespaces: [isolatedNs('a'), isolatedNs('b')],
        virtualNetworks: [vn('a/tools', { labels: { vn: 'tools' } })],
        routers: [
          router('a/r', 'mesh', {
            select: sel({}, [{ key: 'vrfwall.dev/network', operator: 'In', values: ['a/default-podnetwork', 'b/default-podnetwork'] }]),
          }),
          router('a/r2', 'mesh', { select: sel({ vn: 'tools' }) }),
        ],
      }),
    );
    // r selects only a's isolated network (b's is in another namespace): no pair; r2 only tools.
    expect(pairs(d)).toEqual([]);
    const d2 = run(
      cluster({
        namespaces: [isolatedNs('a')],
        virtualNetworks: [vn('a/tools', { labels: { vn: 'tools' } })],
        routers: [
          router('a/r', 'mesh', {
            select: sel({}, [{ key: 'vrfwall.dev/network', operator: 'In', values: ['a/default-podnetwork'] }]),
            imports: [{ virtualNetworkRouterSelector: sel({ role: 'tools' }) }],
          }),
          router('a/r2', 'mesh', { labels: { role: 'tools' }, select: sel({ vn: 'tools' }) }),
        ],
      }),
    );
    expect(pairs(d2)).toEqual(['a/default-podnetwork|a/tools']);
  });

  it('mesh imports across namespaces with namespaceSelector (also by kubernetes.io/metadata.name)', () => {
    const state = (nsSelector: ReturnType<typeof sel> | undefined) =>
      cluster({
        namespaces: [ns('front', { labels: { team: 'web' } }), ns('back', { labels: { team: 'data' } })],
        virtualNetworks: [vn('front/web', { labels: { vn: 'web' } }), vn('back/db', { labels: { vn: 'db' } }), vn('back/cache', { labels: { vn: 'db' } })],
        routers: [
          router('front/r1', 'mesh', {
            select: sel({ vn: 'web' }),
            imports: [{ virtualNetworkRouterSelector: sel({ vnr: 'db' }), ...(nsSelector ? { namespaceSelector: nsSelector } : {}) }],
          }),
          router('back/r2', 'mesh', { labels: { vnr: 'db' }, select: sel({ vn: 'db' }) }),
        ],
      });
    // r2 is a mesh itself: db<->cache; r1 imports it: web<->db, web<->cache
    const all = ['back/cache|back/db', 'back/cache|front/web', 'back/db|front/web'];
    expect(pairs(run(state(sel({ team: 'data' }))))).toEqual(all);
    expect(pairs(run(state(sel({ 'kubernetes.io/metadata.name': 'back' }))))).toEqual(all);
    // without namespaceSelector only the router's own namespace is searched
    const d = run(state(undefined));
    expect(pairs(d)).toEqual(['back/cache|back/db']);
    expect(problems(d)).toContain('VirtualNetworkRouter front/r1: import 0 (vnr=db) matches no router');
    // a namespaceSelector that matches another namespace finds nothing either
    expect(pairs(run(state(sel({ team: 'web' }))))).toEqual(['back/cache|back/db']);
  });

  it('hub and spoke: spokes reach the hubs and back; spoke<->spoke and hub<->hub stay apart', () => {
    const d = run(
      cluster({
        namespaces: [ns('hub', { labels: { role: 'hub' } }), ns('s1'), ns('s2'), ns('s3')],
        virtualNetworks: [
          vn('hub/tools', { labels: { vn: 'hub' } }),
          vn('hub/logs', { labels: { vn: 'hub' } }),
          vn('s1/net', { labels: { vn: 'spoke' } }),
          vn('s2/net', { labels: { vn: 'spoke' } }),
          vn('s3/net', { labels: { vn: 'spoke' } }),
          vn('s3/other', { labels: { vn: 'spoke' } }),
        ],
        routers: [
          router('hub/h', 'hub', { labels: { vnr: 'hub' }, select: sel({ vn: 'hub' }) }),
          ...['s1', 's2', 's3'].map((s) =>
            router(`${s}/spoke`, 'spoke', {
              labels: { vnr: 'spoke' },
              select: sel({ vn: 'spoke' }),
              imports: [{ virtualNetworkRouterSelector: sel({ vnr: 'hub' }), namespaceSelector: sel({ role: 'hub' }) }],
            }),
          ),
        ],
      }),
    );
    const spokes = ['s1/net', 's2/net', 's3/net', 's3/other'];
    const hubs = ['hub/tools', 'hub/logs'];
    for (const s of spokes) for (const h of hubs) expect(joined(d, s, h), `${s} <-> ${h}`).toBe(true);
    for (const a of spokes) for (const b of spokes) if (a !== b) expect(joined(d, a, b), `${a} x ${b}`).toBe(false);
    expect(joined(d, 'hub/tools', 'hub/logs')).toBe(false);
    expect(pairs(d)).toHaveLength(spokes.length * hubs.length);
  });

  it('a hub importing its spokes says the same; wrong import kinds join nothing and are reported', () => {
    const d = run(
      cluster({
        virtualNetworks: [vn('x/h', { labels: { vn: 'h' } }), vn('x/s', { labels: { vn: 's' } }), vn('x/m', { labels: { vn: 'm' } })],
        routers: [
          router('x/hub', 'hub', { labels: { r: 'hub' }, select: sel({ vn: 'h' }), imports: [{ virtualNetworkRouterSelector: sel({ r: 'spoke' }) }] }),
          router('x/spoke', 'spoke', { labels: { r: 'spoke' }, select: sel({ vn: 's' }), imports: [{ virtualNetworkRouterSelector: sel({ r: 'spoke2' }) }] }),
          router('x/spoke2', 'spoke', { labels: { r: 'spoke2' } }),
          router('x/mesh', 'mesh', { select: sel({ vn: 'm' }), imports: [{ virtualNetworkRouterSelector: sel({ r: 'hub' }) }] }),
        ],
      }),
    );
    expect(pairs(d)).toEqual(['x/h|x/s']);
    expect(problems(d)).toEqual(
      expect.arrayContaining([
        'VirtualNetworkRouter x/mesh: mesh router imports hub router x/hub: joins nothing (mesh imports mesh, spoke imports hub, hub imports spoke)',
        'VirtualNetworkRouter x/spoke: spoke router imports spoke router x/spoke2: joins nothing (mesh imports mesh, spoke imports hub, hub imports spoke)',
      ]),
    );
  });

  it('CN2-group routers and networks work the same, and a label change re-computes the pairs', () => {
    const cn2Router = { ...router('a/r', 'mesh', { select: sel({ vn: 'web' }) }), apiGroup: 'core.contrail.juniper.net' as const };
    const s1 = cluster({
      virtualNetworks: [vn('a/x', { cn2: true, labels: { vn: 'web' } }), vn('a/y', { cn2: true, labels: { vn: 'web' } })],
      routers: [cn2Router],
    });
    const d1 = run(s1);
    expect(pairs(d1)).toEqual(['a/x|a/y']);
    const s2 = { ...s1, virtualNetworks: new Map(s1.virtualNetworks).set('a/y', vn('a/y', { cn2: true, labels: { vn: 'none' } })) };
    const d2 = compile(s2, config, new Map(), d1.allocation);
    expect(pairs(d2)).toEqual([]);
    expect(d2.allocation.ids['a/y']).toBe(d1.allocation.ids['a/y']);
  });
});
