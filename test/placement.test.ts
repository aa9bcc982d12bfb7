import { describe, expect, it } from 'vitest';
import {
  CN2_ISOLATED_LABEL,
  CN2_NETWORK_KEY,
  implicitNetworks,
  ISOLATED_LABEL,
  LEGACY_ISOLATION_ANNOTATION,
  LEGACY_NETWORK_KEY,
  NETWORK_KEY,
  namespaceIsolation,
  placePod,
  type PlacementContext,
} from '../src/model/placement.js';
import { DEFAULT_NETWORK, type NamespaceObject, type PodObject, type PodPlacement } from '../src/model/types.js';

function ns(name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): NamespaceObject {
  return { kind: 'Namespace', metadata: { name, labels, annotations } };
}

function pod(namespace: string, name: string, annotations: Record<string, string> = {}): PodObject {
  return {
    kind: 'Pod',
    metadata: { name, namespace, labels: {}, annotations },
    spec: { hostNetwork: false, ports: [] },
    status: { podIPs: [] },
  };
}

const ctx: PlacementContext = {
  // Which networks exist is an input: here the default network, one isolated
  // namespace's network and two stand-ins for later VirtualNetworks.
  networks: new Set([DEFAULT_NETWORK, 'iso/default-podnetwork', 'blue/red', 'blue/green']),
  namespaces: new Set(['default', 'iso', 'blue', 'plain', 'a-blue', 'x-blue']),
};

/** A legacy Contrail annotation value. */
const legacy = (project: string, name: string, domain = 'default-domain'): string =>
  JSON.stringify({ domain, project, name });

function network(p: PodPlacement): string {
  if (p.kind !== 'network') throw new Error(`expected a network, got ${p.kind}: ${p.why}`);
  return p.network;
}

function quarantined(p: PodPlacement, whyPart: string | RegExp): void {
  expect(p.kind).toBe('quarantine');
  expect(p.why).toMatch(whyPart);
}

const ISOLATION_KEYS: { key: string; where: 'label' | 'annotation' }[] = [
  { key: ISOLATED_LABEL, where: 'label' },
  { key: CN2_ISOLATED_LABEL, where: 'label' },
  { key: LEGACY_ISOLATION_ANNOTATION, where: 'annotation' },
];

const isolatedBy = (name: string, key: string, where: 'label' | 'annotation', value: string): NamespaceObject =>
  where === 'label' ? ns(name, { [key]: value }) : ns(name, {}, { [key]: value });

describe('isolation', () => {
  for (const { key, where } of ISOLATION_KEYS) {
    it(`${where} ${key}: true in any case isolates, false does not`, () => {
      for (const v of ['true', 'TRUE', 'True', ' true ']) {
        const iso = isolatedBy('iso', key, where, v);
        expect(namespaceIsolation(iso).isolated).toBe(true);
        expect(network(placePod(pod('iso', 'p'), iso, ctx))).toBe('iso/default-podnetwork');
      }
      for (const v of ['false', 'FALSE']) {
        const open = isolatedBy('iso', key, where, v);
        expect(namespaceIsolation(open).isolated).toBe(false);
        expect(network(placePod(pod('iso', 'p'), open, ctx))).toBe(DEFAULT_NETWORK);
      }
    });

    it(`${where} ${key}: a value that is neither true nor false isolates (fail closed) and is reported`, () => {
      const odd = isolatedBy('iso', key, where, 'yes-please');
      const iso = namespaceIsolation(odd);
      expect(iso.isolated).toBe(true);
      expect(iso.badValues).toEqual([`${where} ${key}="yes-please"`]);
      expect(network(placePod(pod('iso', 'p'), odd, ctx))).toBe('iso/default-podnetwork');
      expect(namespaceIsolation(isolatedBy('iso', key, where, '')).isolated).toBe(true);
    });
  }

  it('"false" on one key does not cancel "true" on another', () => {
    const mixed = ns('iso', { [ISOLATED_LABEL]: 'false', [CN2_ISOLATED_LABEL]: 'true' });
    expect(namespaceIsolation(mixed).isolated).toBe(true);
  });

  it('reads only the documented places (a label spelled as an annotation does not count)', () => {
    expect(namespaceIsolation(ns('x', {}, { [ISOLATED_LABEL]: 'true' })).isolated).toBe(false);
  });

  it('a namespace without isolation keys puts its pods in the default network', () => {
    const p = placePod(pod('plain', 'p'), ns('plain'), ctx);
    expect(network(p)).toBe(DEFAULT_NETWORK);
    expect(p.why).toContain('not isolated');
  });

  it('implicitNetworks: the default network plus one per isolated namespace', () => {
    const nets = implicitNetworks([ns('default'), ns('a', { [CN2_ISOLATED_LABEL]: 'true' }), ns('b')]);
    expect([...nets].sort()).toEqual(['a/default-podnetwork', DEFAULT_NETWORK]);
  });
});

const NS_NAME_KEYS = [NETWORK_KEY, CN2_NETWORK_KEY];

describe('network annotations', () => {
  for (const key of NS_NAME_KEYS) {
    it(`pod ${key} names an existing network`, () => {
      const p = placePod(pod('plain', 'p', { [key]: 'blue/red' }), ns('plain'), ctx);
      expect(network(p)).toBe('blue/red');
      expect(p.why).toContain(key);
    });

    it(`namespace ${key} places every pod of the namespace, before isolation`, () => {
      const n = ns('iso', { [ISOLATED_LABEL]: 'true' }, { [key]: 'blue/red' });
      expect(network(placePod(pod('iso', 'p'), n, ctx))).toBe('blue/red');
    });
  }

  it(`pod ${LEGACY_NETWORK_KEY} resolves the project by namespace suffix`, () => {
    // Cluster prefix "k8s-prod" is unknown to us; "-blue" matches namespace blue.
    const p = placePod(pod('plain', 'p', { [LEGACY_NETWORK_KEY]: legacy('k8s-prod-blue', 'red') }), ns('plain'), ctx);
    expect(network(p)).toBe('blue/red');
    // domain may be left out
    const noDomain = JSON.stringify({ project: 'c1-blue', name: 'green' });
    expect(network(placePod(pod('plain', 'q', { [LEGACY_NETWORK_KEY]: noDomain }), ns('plain'), ctx))).toBe('blue/green');
  });

  it(`namespace ${LEGACY_NETWORK_KEY} places the namespace's pods`, () => {
    const n = ns('plain', {}, { [LEGACY_NETWORK_KEY]: legacy('cl-iso', 'default-podnetwork') });
    expect(network(placePod(pod('plain', 'p'), n, ctx))).toBe('iso/default-podnetwork');
  });

  it('pod annotation wins over namespace annotation and isolation', () => {
    const n = ns('iso', { [ISOLATED_LABEL]: 'true' }, { [NETWORK_KEY]: 'blue/red' });
    const p = placePod(pod('iso', 'p', { [CN2_NETWORK_KEY]: 'blue/green' }), n, ctx);
    expect(network(p)).toBe('blue/green');
    expect(p.why).toContain('pod annotation');
  });

  it('a pod may name the default network from an isolated namespace (first match wins)', () => {
    const n = ns('iso', { [ISOLATED_LABEL]: 'true' });
    expect(network(placePod(pod('iso', 'p', { [NETWORK_KEY]: DEFAULT_NETWORK }), n, ctx))).toBe(DEFAULT_NETWORK);
  });

  it('two keys naming the same network agree', () => {
    const p = placePod(
      pod('plain', 'p', {
        [NETWORK_KEY]: 'blue/red',
        [CN2_NETWORK_KEY]: 'blue/red',
        [LEGACY_NETWORK_KEY]: legacy('k-blue', 'red'),
      }),
      ns('plain'),
      ctx,
    );
    expect(network(p)).toBe('blue/red');
  });
});

describe('quarantine', () => {
  // Each bad case, for each key, on the pod and on the namespace.
  const badValues: { key: string; value: string; why: RegExp }[] = [
    ...NS_NAME_KEYS.flatMap((key) => [
      { key, value: 'blue/nosuch', why: /names network blue\/nosuch, which does not exist/ },
      { key, value: 'plain/default-podnetwork', why: /which does not exist/ }, // not isolated: no such network
      { key, value: 'red', why: /does not parse/ },
      { key, value: 'a/b/c', why: /does not parse/ },
      { key, value: '', why: /does not parse/ },
      { key, value: 'Blue/Red', why: /does not parse/ },
    ]),
    { key: LEGACY_NETWORK_KEY, value: legacy('k8s-blue', 'nosuch'), why: /blue\/nosuch, which does not exist/ },
    { key: LEGACY_NETWORK_KEY, value: legacy('k8s-nosuchns', 'red'), why: /matches no namespace/ },
    { key: LEGACY_NETWORK_KEY, value: legacy('blue', 'red'), why: /matches no namespace/ }, // no cluster prefix
    { key: LEGACY_NETWORK_KEY, value: legacy('k8s-blue', 'red', 'other-domain'), why: /domain must be/ },
    { key: LEGACY_NETWORK_KEY, value: '{"project": "k8s-blue"', why: /is not JSON/ },
    { key: LEGACY_NETWORK_KEY, value: '"blue/red"', why: /is not a JSON object/ },
    { key: LEGACY_NETWORK_KEY, value: '{"project": "k8s-blue"}', why: /does not parse/ },
    { key: LEGACY_NETWORK_KEY, value: '{"project": 7, "name": "red"}', why: /does not parse/ },
  ];

  for (const { key, value, why } of badValues) {
    it(`pod ${key}=${JSON.stringify(value)}`, () => {
      quarantined(placePod(pod('plain', 'p', { [key]: value }), ns('plain'), ctx), why);
    });
    it(`namespace ${key}=${JSON.stringify(value)} (also in an isolated namespace: no fallback)`, () => {
      const n = ns('iso', { [CN2_ISOLATED_LABEL]: 'true' }, { [key]: value });
      const p = placePod(pod('iso', 'p'), n, ctx);
      quarantined(p, why);
      expect(p.why).toMatch(/^namespace iso /);
    });
  }

  it('legacy project matching two namespaces that both have the network is ambiguous', () => {
    // "k8s-a-blue" ends with "-blue" and with "-a-blue".
    const ctx2: PlacementContext = { ...ctx, networks: new Set([...ctx.networks, 'a-blue/red']) };
    const p = placePod(pod('plain', 'p', { [LEGACY_NETWORK_KEY]: legacy('k8s-a-blue', 'red') }), ns('plain'), ctx2);
    quarantined(p, /ambiguous.*a-blue\/red, blue\/red/);
    // Only one of them has the network: not ambiguous.
    expect(network(placePod(pod('plain', 'q', { [LEGACY_NETWORK_KEY]: legacy('k8s-a-blue', 'red') }), ns('plain'), ctx))).toBe(
      'blue/red',
    );
  });

  const pairs: [string, string, string, string][] = [
    [NETWORK_KEY, 'blue/red', CN2_NETWORK_KEY, 'blue/green'],
    [NETWORK_KEY, 'blue/red', LEGACY_NETWORK_KEY, legacy('k-blue', 'green')],
    [CN2_NETWORK_KEY, 'blue/red', LEGACY_NETWORK_KEY, legacy('k-blue', 'green')],
  ];
  for (const [k1, v1, k2, v2] of pairs) {
    it(`conflict: ${k1} and ${k2} name different networks (pod and namespace)`, () => {
      quarantined(placePod(pod('plain', 'p', { [k1]: v1, [k2]: v2 }), ns('plain'), ctx), /conflict/);
      quarantined(placePod(pod('plain', 'p'), ns('plain', {}, { [k1]: v1, [k2]: v2 }), ctx), /conflict/);
    });
  }

  it('one good and one bad key: quarantine, not the good one', () => {
    const p = placePod(pod('plain', 'p', { [NETWORK_KEY]: 'blue/red', [CN2_NETWORK_KEY]: 'nope' }), ns('plain'), ctx);
    quarantined(p, /net\.juniper\.contrail\.podnetwork="nope" does not parse/);
  });

  it('a pod whose namespace is unknown is quarantined, not defaulted', () => {
    quarantined(placePod(pod('ghost', 'p'), undefined, ctx), /namespace ghost is unknown/);
    // ... unless the pod names its network itself.
    expect(network(placePod(pod('ghost', 'p', { [NETWORK_KEY]: 'blue/red' }), undefined, ctx))).toBe('blue/red');
  });

  it('an isolated namespace whose network is missing from the input is quarantined', () => {
    const n = ns('other', { [ISOLATED_LABEL]: 'true' });
    quarantined(placePod(pod('other', 'p'), n, ctx), /network other\/default-podnetwork is missing/);
  });
});
