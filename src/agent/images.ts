// DesiredState (from the compile step) -> the exact bytes each map should hold.
import {
  encodeCidrKey,
  encodeCidrValue,
  encodeEndpoint,
  encodeEndpointKey,
  encodeNetwork,
  encodeNetworkKey,
  encodePort,
  encodePortKey,
  encodeSvcKey,
  encodeSvcValue,
  encodeVrfPair,
  encodeVrfPairValue,
  MapName,
  type EndpointValue,
} from '../kernel/abi.js';
import type { DesiredDelta } from '../model/incremental.js';
import { dottedQuad } from '../model/ip.js';
import type { DesiredServiceEntry, DesiredState, L4Protocol } from '../model/types.js';
import type { MapEntry, MapImage } from './mapsync.js';

export type MapImages = Record<(typeof MAP_NAMES)[number], MapImage>;

/** The map entry for one desired key (undefined: the key has no entry). */
type Encoder<K> = (d: DesiredState, key: K) => MapEntry | undefined;

function svcKeyOf(key: string): Buffer {
  const [addr = '', port = '', protocol = '', clientVrf = ''] = key.split('|');
  return encodeSvcKey({ addr, port: Number(port), protocol: protocol as L4Protocol, clientVrf: Number(clientVrf) });
}

function svcEntry(e: DesiredServiceEntry): MapEntry {
  return {
    key: encodeSvcKey({ addr: e.addr, port: e.port, protocol: e.protocol, clientVrf: e.clientVrf }),
    value: encodeSvcValue({ svcVrf: e.svcVrf, flags: e.flags }),
  };
}

function parsePair(text: string): { srcVrf: number; dstVrf: number } {
  const [src, dst] = text.split(':').map(Number);
  if (src === undefined || dst === undefined || !Number.isInteger(src) || !Number.isInteger(dst)) {
    throw new Error(`bad vrf pair ${JSON.stringify(text)}`);
  }
  return { srcVrf: src, dstVrf: dst };
}

// Most endpoints hold one of a few values (network, flags, no local
// interface): one shared, read-only Buffer per distinct value instead of one
// per endpoint (a Buffer costs ~200 bytes beyond its data).
const endpointValues = new Map<string, Buffer>();
function endpointValue(ep: EndpointValue): Buffer {
  const k = `${ep.vrfId}/${ep.flags}/${ep.ifindex}/${ep.identity ?? 0}/${ep.policyIn ?? 0}/${ep.policyOut ?? 0}`;
  let v = endpointValues.get(k);
  if (v === undefined) {
    if (endpointValues.size > 100_000) endpointValues.clear(); // one per local interface and network: bounded in practice
    endpointValues.set(k, (v = encodeEndpoint(ep)));
  }
  return v;
}

const ENCODERS: { [M in keyof MapImages]: { keyOf: (k: KeyOf<M>) => Buffer; entry: Encoder<KeyOf<M>> } } = {
  endpoints: {
    keyOf: (ip) => encodeEndpointKey(ip),
    entry: (d, ip) => {
      const ep = d.endpoints.get(ip);
      return ep === undefined ? undefined : { key: encodeEndpointKey(ip), value: endpointValue(ep) };
    },
  },
  vrfPairs: {
    keyOf: (p) => encodeVrfPair(parsePair(p)),
    entry: (d, p) => (d.vrfPairs.has(p) ? { key: encodeVrfPair(parsePair(p)), value: encodeVrfPairValue() } : undefined),
  },
  networks: {
    keyOf: (id) => encodeNetworkKey(id),
    entry: (d, id) => {
      const flags = d.networks.get(id);
      return flags === undefined ? undefined : { key: encodeNetworkKey(id), value: encodeNetwork({ flags }) };
    },
  },
  cidrs: {
    keyOf: (c) => encodeCidrKey(c),
    entry: (d, c) => {
      const kind = d.cidrs.get(c);
      return kind === undefined ? undefined : { key: encodeCidrKey(c), value: encodeCidrValue({ kind }) };
    },
  },
  services: {
    keyOf: svcKeyOf,
    entry: (d, k) => {
      const e = d.services.get(k);
      return e === undefined ? undefined : svcEntry(e);
    },
  },
  backends: {
    keyOf: svcKeyOf,
    entry: (d, k) => {
      const e = d.backends.get(k);
      return e === undefined ? undefined : svcEntry(e);
    },
  },
  ports: {
    keyOf: (i) => encodePortKey(i),
    entry: (d, i) => {
      const mac = d.ports.get(i);
      return mac === undefined ? undefined : { key: encodePortKey(i), value: encodePort({ mac }) };
    },
  },
};

/** The key type of each map's desired contents. */
type KeyOf<M extends keyof MapImages> = M extends 'networks' | 'ports' ? number : string;

/** The maps the agent writes from the compile step, in the order a write updates them: settings and ranges
 *  before the endpoints that use them (mapwriter.ts). Their names in the objects: abi.ts MapName. */
export const MAP_NAMES = ['ports', 'networks', 'cidrs', 'vrfPairs', 'services', 'backends', 'endpoints'] as const satisfies readonly (keyof typeof MapName)[];

function image<M extends keyof MapImages>(d: DesiredState, m: M, keys: Iterable<KeyOf<M>>): MapImage {
  const out: MapImage = new Map();
  const enc = ENCODERS[m] as { entry: Encoder<KeyOf<M>> };
  for (const k of keys) {
    const e = enc.entry(d, k);
    if (e !== undefined) out.set(e.key.toString('hex'), e);
  }
  return out;
}

/** Each map's desired entries as a MapImage: the reference that desiredWritten,
 *  what the writer uses, is checked against (images.test.ts). */
export function desiredImages(d: DesiredState): MapImages {
  return {
    endpoints: image(d, 'endpoints', d.endpoints.keys()),
    vrfPairs: image(d, 'vrfPairs', d.vrfPairs),
    networks: image(d, 'networks', d.networks.keys()),
    cidrs: image(d, 'cidrs', d.cidrs.keys()),
    services: image(d, 'services', d.services.keys()),
    backends: image(d, 'backends', d.backends.keys()),
    ports: image(d, 'ports', d.ports.keys()),
  };
}

/**
 * What the maps hold, as the map writer remembers it between full diffs: per
 * map, the key's bytes as a latin1 string (one character a byte: distinct
 * keys, distinct strings) -> the value's bytes. Not a MapImage: its hex key,
 * {key, value} pair and key Buffer per entry cost ~250 bytes an endpoint (~25
 * MB at 100,000); the key Buffer is rebuilt from the string for a delete.
 */
export type WrittenImages = Record<keyof MapImages, Map<string, Buffer>>;

/** A key's entry in WrittenImages. */
export function writtenKey(key: Buffer): string {
  return key.toString('latin1');
}

/** An endpoint's key in WrittenImages, without a Buffer for the common
 *  dotted quad: its IPv4-mapped IPv6 address (abi.ts addrToKey), made as one
 *  flat string (a concatenation would be a cons string, flattened again when hashed). */
function endpointKeyText(ip: string): string {
  const q = dottedQuad(ip);
  return q !== undefined ? String.fromCharCode(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, q[0], q[1], q[2], q[3]) : writtenKey(encodeEndpointKey(ip));
}

/**
 * What the maps should hold, straight in the WrittenImages form: what a full
 * write (first sync, resync) diffs against the kernel. The same as
 * writtenOf(desiredImages(d)) without a MapImage's hex key, entry object and
 * key Buffer per entry (at 100,000 endpoints ~0.2 s and ~25 MB of garbage).
 */
export function desiredWritten(d: DesiredState): WrittenImages {
  const out = {} as WrittenImages;
  const endpoints = new Map<string, Buffer>();
  for (const [ip, ep] of d.endpoints) endpoints.set(endpointKeyText(ip), endpointValue(ep));
  out.endpoints = endpoints;
  const others = (m: Exclude<keyof MapImages, 'endpoints'>, keys: Iterable<string | number>): void => {
    const enc = ENCODERS[m] as { entry: Encoder<string | number> };
    const w = new Map<string, Buffer>();
    for (const k of keys) {
      const e = enc.entry(d, k);
      if (e !== undefined) w.set(writtenKey(e.key), e.value);
    }
    out[m] = w;
  };
  others('vrfPairs', d.vrfPairs);
  others('networks', d.networks.keys());
  others('cidrs', d.cidrs.keys());
  others('services', d.services.keys());
  others('backends', d.backends.keys());
  others('ports', d.ports.keys());
  return out;
}

/** WrittenImages of what a full write made the maps hold. */
export function writtenOf(images: MapImages): WrittenImages {
  const out = {} as WrittenImages;
  for (const m of MAP_NAMES) {
    const w = new Map<string, Buffer>();
    for (const e of images[m].values()) w.set(writtenKey(e.key), e.value);
    out[m] = w;
  }
  return out;
}

/** What changes in one map: entries to write, keys to delete. */
export interface ImageChange {
  updates: MapEntry[];
  deletes: Buffer[];
}

export type ImageChanges = Record<keyof MapImages, ImageChange>;

/**
 * The entries of the keys a delta names, against what the maps hold
 * (`written`): only real changes (a key whose bytes are unchanged is left
 * alone). Costs the delta, not the maps.
 */
export function changedEntries(written: WrittenImages, d: DesiredState, delta: Pick<DesiredDelta, keyof MapImages>): ImageChanges {
  const out = {} as ImageChanges;
  for (const m of MAP_NAMES) {
    const change: ImageChange = { updates: [], deletes: [] };
    const enc = ENCODERS[m] as { keyOf: (k: string | number) => Buffer; entry: Encoder<string | number> };
    for (const k of delta[m] as Set<string | number>) {
      const e = enc.entry(d, k);
      if (e !== undefined) {
        const have = written[m].get(writtenKey(e.key));
        if (have === undefined || !have.equals(e.value)) change.updates.push(e);
      } else {
        const key = enc.keyOf(k);
        if (written[m].has(writtenKey(key))) change.deletes.push(key);
      }
    }
    out[m] = change;
  }
  return out;
}

/** `written` after `changes` were applied. */
export function recordChanges(written: WrittenImages, changes: ImageChanges): void {
  for (const m of MAP_NAMES) {
    for (const e of changes[m].updates) written[m].set(writtenKey(e.key), e.value);
    for (const k of changes[m].deletes) written[m].delete(writtenKey(k));
  }
}
