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
  type EndpointValue,
} from '../bpf/abi.js';
import type { DesiredServiceEntry, DesiredState } from '../model/types.js';
import { imageOf, type MapImage } from './mapsync.js';

export interface MapImages {
  endpoints: MapImage;
  vrfPairs: MapImage;
  networks: MapImage;
  cidrs: MapImage;
  services: MapImage;
  backends: MapImage;
  ports: MapImage;
}

function svcImage(entries: Map<string, DesiredServiceEntry>): MapImage {
  return imageOf(
    [...entries.values()].map((e) => ({
      key: encodeSvcKey({ addr: e.addr, port: e.port, protocol: e.protocol, clientVrf: e.clientVrf }),
      value: encodeSvcValue({ svcVrf: e.svcVrf, flags: e.flags }),
    })),
  );
}

function parsePair(text: string): { srcVrf: number; dstVrf: number } {
  const [src, dst] = text.split(':').map(Number);
  if (src === undefined || dst === undefined || !Number.isInteger(src) || !Number.isInteger(dst)) {
    throw new Error(`bad vrf pair ${JSON.stringify(text)}`);
  }
  return { srcVrf: src, dstVrf: dst };
}

export function desiredImages(d: DesiredState): MapImages {
  // Most endpoints hold one of a few values (network, flags, no local
  // interface): one shared, read-only Buffer per distinct value instead of
  // one per endpoint (a Buffer costs ~200 bytes beyond its data).
  const values = new Map<string, Buffer>();
  const endpointValue = (ep: EndpointValue): Buffer => {
    const k = `${ep.vrfId}/${ep.flags}/${ep.ifindex}`;
    let v = values.get(k);
    if (v === undefined) values.set(k, (v = encodeEndpoint(ep)));
    return v;
  };
  return {
    endpoints: imageOf([...d.endpoints].map(([addr, ep]) => ({ key: encodeEndpointKey(addr), value: endpointValue(ep) }))),
    vrfPairs: imageOf([...d.vrfPairs].map((p) => ({ key: encodeVrfPair(parsePair(p)), value: encodeVrfPairValue() }))),
    networks: imageOf([...d.networks].map(([id, flags]) => ({ key: encodeNetworkKey(id), value: encodeNetwork({ flags }) }))),
    cidrs: imageOf([...d.cidrs].map(([cidr, kind]) => ({ key: encodeCidrKey(cidr), value: encodeCidrValue({ kind }) }))),
    services: svcImage(d.services),
    backends: svcImage(d.backends),
    ports: imageOf([...d.ports].map(([ifindex, mac]) => ({ key: encodePortKey(ifindex), value: encodePort({ mac }) }))),
  };
}
