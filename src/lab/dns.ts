// The lab's cluster DNS, the pure part: which names exist (from Services and
// pods) and the answer to one query, in DNS wire format (dns-packet).
//
// Names (as CoreDNS's kubernetes plugin with `pods verified`):
// - <svc>.<ns>.svc.cluster.local   A/AAAA: the Service's ClusterIPs
// - <a-b-c-d>.<ns>.pod.cluster.local  A: that pod's IPv4 address, and
//   <v6 with ':' as '-'>.<ns>.pod.cluster.local AAAA, if such a pod exists.
// A name that exists without records of the asked type gets NOERROR with no
// answer (NODATA); any other name in or outside the zone gets NXDOMAIN (the
// lab has no upstream to forward to). Only class IN, one question per query.
import dnsPacket from 'dns-packet';
import type { Answer, Packet, Question } from 'dns-packet';
import net from 'node:net';

export const CLUSTER_DOMAIN = 'cluster.local';
export const DNS_PORT = 53;
/** Answers change when Services change; resolvers should not keep them long. */
const TTL_SECONDS = 5;

const RCODE = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, NOTIMP: 4 } as const;

/** Fully qualified name (lowercase, no trailing dot) -> addresses. */
export type DnsRecords = Record<string, string[]>;

export function serviceName(namespace: string, name: string): string {
  return `${name}.${namespace}.svc.${CLUSTER_DOMAIN}`;
}

/** The name a pod gets from its address: dots (v4) or colons (v6) become dashes. */
export function podName(namespace: string, ip: string): string {
  return `${ip.replace(/[.:]/g, '-')}.${namespace}.pod.${CLUSTER_DOMAIN}`;
}

export function buildRecords(
  services: { namespace: string; name: string; clusterIPs: string[] }[],
  pods: { namespace: string; ips: string[] }[],
): DnsRecords {
  const out: DnsRecords = {};
  const add = (name: string, ip: string) => {
    const list = (out[name] ??= []);
    if (!list.includes(ip)) list.push(ip);
  };
  for (const s of services) for (const ip of s.clusterIPs) add(serviceName(s.namespace, s.name), ip);
  for (const p of pods) for (const ip of p.ips) add(podName(p.namespace, ip), ip);
  return out;
}

function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** The response to one query; undefined when the bytes are not a query at all (drop them). */
export function answerQuery(query: Buffer, records: DnsRecords): Buffer | undefined {
  let req: Packet;
  try {
    req = dnsPacket.decode(query);
  } catch {
    return undefined;
  }
  if (req.type !== 'query') return undefined;
  const questions: Question[] = req.questions ?? [];
  const reply = (rcode: number, answers: Answer[] = []): Buffer =>
    dnsPacket.encode({
      type: 'response',
      id: req.id ?? 0,
      // Authoritative for the cluster zone; echo "recursion desired".
      flags: dnsPacket.AUTHORITATIVE_ANSWER | ((req.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | rcode,
      questions,
      answers,
    });
  const q = questions[0];
  if (questions.length !== 1 || q === undefined) return reply(RCODE.FORMERR);
  if ((q.class ?? 'IN') !== 'IN') return reply(RCODE.NOTIMP);
  const name = normalize(q.name);
  const addresses = records[name];
  if (addresses === undefined) return reply(RCODE.NXDOMAIN);
  const family = q.type === 'A' ? 4 : q.type === 'AAAA' ? 6 : 0;
  const answers: Answer[] = addresses
    .filter((ip) => net.isIP(ip) === family)
    .map((ip) => ({ type: q.type as 'A' | 'AAAA', name: q.name, ttl: TTL_SECONDS, class: 'IN', data: ip }));
  return reply(RCODE.NOERROR, answers);
}

/** Encodes a query (the probe's side). */
export function encodeQuery(id: number, name: string, type: 'A' | 'AAAA'): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
}

/** Decodes a response: its rcode and the addresses of its A/AAAA answers. */
export function decodeResponse(buf: Buffer): { id: number; rcode: number; addresses: string[] } | undefined {
  try {
    const res = dnsPacket.decode(buf);
    if (res.type !== 'response') return undefined;
    const addresses = (res.answers ?? []).flatMap((a) => ((a.type === 'A' || a.type === 'AAAA') && typeof a.data === 'string' ? [a.data] : []));
    return { id: res.id ?? 0, rcode: (res.flags ?? 0) & 0xf, addresses };
  } catch {
    return undefined;
  }
}
