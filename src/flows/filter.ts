// Flow filters: one filter is an AND of its fields, each field an OR of its
// values; a request holds an allow list (a flow passes when it matches any
// of them, or when the list is empty) and a deny list (a flow matching any
// of them is taken out). Filters are checked and compiled once per request;
// a bad value throws a FilterError naming the field, e.g. "allow[0].ip".
import { podLabel } from './label.js';
import ipaddr from 'ipaddr.js';
import { DropReason } from '../kernel/abi.js';
import type { Flow, FlowEndpoint } from './types.js';

export interface FlowFilterSpec {
  /** either endpoint's namespace */
  namespace?: string[];
  /** "ns/name" prefix of either endpoint's pod ("ns/" = the whole namespace) */
  pod?: string[];
  sourcePod?: string[];
  destinationPod?: string[];
  /** "ns/name" of either endpoint's network */
  network?: string[];
  /** ALLOWED | DROPPED (the API's VERDICT_ prefix is accepted) */
  verdict?: string[];
  /** drop reason names (docs/drop-reasons.md), case-insensitive */
  dropReason?: string[];
  /** IP or CIDR of either endpoint */
  ip?: string[];
  /** either endpoint's port */
  port?: number[];
  /** tcp, udp, sctp, icmp, icmpv6, or a protocol number */
  protocol?: string[];
  /** EGRESS | INGRESS (the API's DIRECTION_ prefix is accepted) */
  direction?: string[];
  node?: string[];
}

export class FilterError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export type FlowPredicate = (f: Flow) => boolean;

export const PROTOCOL_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 };

export function protocolName(n: number): string {
  for (const [name, v] of Object.entries(PROTOCOL_NUMBERS)) if (v === n) return name;
  return String(n);
}

/** tcp/udp/... or 0-255; throws a FilterError for anything else. */
export function parseProtocol(text: string, field: string): number {
  const t = text.trim().toLowerCase();
  const named = PROTOCOL_NUMBERS[t === 'icmp6' || t === 'ipv6-icmp' ? 'icmpv6' : t];
  if (named !== undefined) return named;
  if (/^\d{1,3}$/.test(t) && Number(t) <= 255) return Number(t);
  throw new FilterError(field, `unknown protocol ${JSON.stringify(text)} (tcp, udp, sctp, icmp, icmpv6 or 0-255)`);
}

function enumValue(text: string, allowed: readonly string[], prefix: string, field: string): string {
  const t = text.trim().toUpperCase();
  const bare = t.startsWith(prefix) ? t.slice(prefix.length) : t;
  if (!allowed.includes(bare)) throw new FilterError(field, `${JSON.stringify(text)} is not one of ${allowed.join(', ')}`);
  return bare;
}

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

function parseIpOrCidr(text: string, field: string): Cidr {
  const t = text.trim();
  try {
    if (t.includes('/')) {
      const [addr, len] = ipaddr.parseCIDR(t);
      return [addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr, addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? Math.max(0, len - 96) : len];
    }
    if (ipaddr.IPv4.isValidFourPartDecimal(t) || (ipaddr.IPv6.isValid(t) && !t.includes('%'))) {
      const addr = ipaddr.process(t);
      return [addr, addr.kind() === 'ipv4' ? 32 : 128];
    }
  } catch {
    // fall through to the error below
  }
  throw new FilterError(field, `${JSON.stringify(text)} is not an IP address or CIDR`);
}

function ipMatches(ip: string, cidr: Cidr): boolean {
  if (!ip) return false;
  try {
    const a = ipaddr.process(ip);
    return a.kind() === cidr[0].kind() && a.match(cidr);
  } catch {
    return false;
  }
}

// "ns/pod@eth1" for a secondary interface: a prefix "ns/pod" still matches it.
const podName = (e: FlowEndpoint): string => podLabel(e);

function nonEmpty(values: string[], field: string): string[] {
  values.forEach((v, i) => {
    if (v.trim() === '') throw new FilterError(`${field}[${i}]`, 'must not be empty');
  });
  return values.map((v) => v.trim());
}

function podPrefixes(values: string[], field: string): string[] {
  return nonEmpty(values, field).map((v, i) => {
    if (!v.includes('/')) throw new FilterError(`${field}[${i}]`, `${JSON.stringify(v)}: use "namespace/name-prefix"`);
    return v;
  });
}

/** Checks one filter and returns its predicate; `at` names it in errors ("allow[0]"). */
export function compileFilter(spec: FlowFilterSpec, at: string): FlowPredicate {
  const tests: FlowPredicate[] = [];
  const field = (name: string) => `${at}.${name}`;
  const has = <T>(v: T[] | undefined): v is T[] => v !== undefined && v.length > 0;

  if (has(spec.namespace)) {
    const set = new Set(nonEmpty(spec.namespace, field('namespace')));
    tests.push((f) => set.has(f.source.namespace) || set.has(f.destination.namespace));
  }
  if (has(spec.pod)) {
    const p = podPrefixes(spec.pod, field('pod'));
    tests.push((f) => p.some((x) => podName(f.source).startsWith(x) || podName(f.destination).startsWith(x)));
  }
  if (has(spec.sourcePod)) {
    const p = podPrefixes(spec.sourcePod, field('source_pod'));
    tests.push((f) => p.some((x) => podName(f.source).startsWith(x)));
  }
  if (has(spec.destinationPod)) {
    const p = podPrefixes(spec.destinationPod, field('destination_pod'));
    tests.push((f) => p.some((x) => podName(f.destination).startsWith(x)));
  }
  if (has(spec.network)) {
    const set = new Set(nonEmpty(spec.network, field('network')));
    tests.push((f) => set.has(f.source.network) || set.has(f.destination.network));
  }
  if (has(spec.verdict)) {
    const set = new Set(spec.verdict.map((v, i) => enumValue(v, ['ALLOWED', 'DROPPED', 'AUDIT'], 'VERDICT_', `${field('verdict')}[${i}]`)));
    tests.push((f) => set.has(f.verdict));
  }
  if (has(spec.dropReason)) {
    const names = Object.keys(DropReason).filter((n) => n !== 'NONE');
    const set = new Set(spec.dropReason.map((v, i) => enumValue(v, names, 'DROP_REASON_', `${field('drop_reason')}[${i}]`)));
    tests.push((f) => f.verdict !== 'ALLOWED' && set.has(f.dropReason)); // dropped, or audited for it
  }
  if (has(spec.ip)) {
    const cidrs = spec.ip.map((v, i) => parseIpOrCidr(v, `${field('ip')}[${i}]`));
    // Flow addresses are canonical text: whole addresses compare as strings,
    // and each address is parsed at most once per request for the CIDRs.
    const exact = new Set(cidrs.filter((c) => c[1] === (c[0].kind() === 'ipv4' ? 32 : 128)).map((c) => c[0].toString()));
    const nets = cidrs.filter((c) => !exact.has(c[0].toString()) || c[1] !== (c[0].kind() === 'ipv4' ? 32 : 128));
    const seen = new Map<string, boolean>();
    const inNets = (ip: string): boolean => {
      let hit = seen.get(ip);
      if (hit === undefined) {
        hit = nets.some((c) => ipMatches(ip, c));
        if (seen.size < 65536) seen.set(ip, hit);
      }
      return hit;
    };
    tests.push((f) => exact.has(f.source.ip) || exact.has(f.destination.ip) || (nets.length > 0 && (inNets(f.source.ip) || inNets(f.destination.ip))));
  }
  if (has(spec.port)) {
    spec.port.forEach((p, i) => {
      if (!Number.isInteger(p) || p < 1 || p > 65535) throw new FilterError(`${field('port')}[${i}]`, `${p} is not a port (1-65535)`);
    });
    const set = new Set(spec.port);
    tests.push((f) => set.has(f.source.port) || set.has(f.destination.port));
  }
  if (has(spec.protocol)) {
    const set = new Set(spec.protocol.map((v, i) => parseProtocol(v, `${field('protocol')}[${i}]`)));
    tests.push((f) => set.has(f.protocol));
  }
  if (has(spec.direction)) {
    const set = new Set(spec.direction.map((v, i) => enumValue(v, ['EGRESS', 'INGRESS'], 'DIRECTION_', `${field('direction')}[${i}]`)));
    tests.push((f) => set.has(f.direction));
  }
  if (has(spec.node)) {
    const set = new Set(nonEmpty(spec.node, field('node')));
    tests.push((f) => set.has(f.node));
  }
  return (f) => tests.every((t) => t(f));
}

/** allow (OR'ed; empty = everything) minus deny (OR'ed). */
export function compileFilters(allow: FlowFilterSpec[] = [], deny: FlowFilterSpec[] = []): FlowPredicate {
  const a = allow.map((s, i) => compileFilter(s, `allow[${i}]`));
  const d = deny.map((s, i) => compileFilter(s, `deny[${i}]`));
  return (f) => (a.length === 0 || a.some((p) => p(f))) && !d.some((p) => p(f));
}
