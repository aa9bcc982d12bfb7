// NetworkPolicy (issue 16) as the compile step hands it to the map writer:
// the desired contents of the `policy` HASH and the `policy_cidrs` LPM trie
// (bpf/vrfwall.h struct vw_policy_key / vw_policy_cidr_key -> vw_policy_value),
// keyed by a canonical text of the map key so DesiredState stays plain,
// diffable data like its other maps. The endpoint fields (identity,
// policy_in, policy_out) are on DesiredEndpoint (types.ts). Contract:
// /work/notes/brief-np.md "Datapath contract".
import ipaddr from 'ipaddr.js';
import { canonicalCidr } from './ip.js';
import type { L4Protocol, NetworkPolicyPort } from './types.js';

/** IP protocol of a policy entry: a ported rule's TCP/UDP/SCTP, or 0 = any protocol, any port. */
export type PolicyProto = 0 | 6 | 17 | 132;
export const POLICY_PROTO_ANY = 0;
export const POLICY_PROTO_TCP = 6;
export const POLICY_PROTO_UDP = 17;
export const POLICY_PROTO_SCTP = 132;

/** vw_policy_value holds at most this many ranges (r[16]); more continue in the next slot. */
export const POLICY_RANGES_PER_SLOT = 16;
/** slot 0..3: at most 64 ranges per (set, peer, proto); more is a compile problem (the extra denied). */
export const POLICY_SLOTS = 4;

/** Inclusive, host order, 0..65535. */
export interface PortRange {
  readonly lo: number;
  readonly hi: number;
}

/** struct vw_policy_value: n = ranges.length (1..16), ranges merged, sorted, disjoint. */
export interface PolicyValue {
  readonly flags: number;
  readonly ranges: readonly PortRange[];
}

/** The value of a proto-0 entry: any protocol, any port (ICMP too). */
export const ANY_PORT_VALUE: PolicyValue = Object.freeze({ flags: 0, ranges: Object.freeze([Object.freeze({ lo: 0, hi: 65535 })]) });

/** struct vw_policy_key. */
export interface PolicyKey {
  /** policy set id (a local pod's policy_in or policy_out), never 0 */
  set: number;
  /** the peer's identity, never 0 */
  identity: number;
  proto: PolicyProto;
  slot: number;
}

/** struct vw_policy_cidr_key, the address part as a CIDR text. */
export interface PolicyCidrKey {
  /** canonical network CIDR: "10.1.0.0/16" (IPv4; the trie holds it as ::ffff:10.1.0.0, prefixlen 64+96+16)
   *  or "fd00:1::/64" (IPv6, ipaddr.js toString of the masked address; prefixlen 64+64) */
  cidr: string;
  set: number;
  proto: PolicyProto;
  slot: number;
}

/** DesiredState.policy's key: "set|identity|proto|slot". */
export function policyKeyText(k: PolicyKey): string {
  return `${k.set}|${k.identity}|${k.proto}|${k.slot}`;
}

/** DesiredState.policyCidrs's key: "cidr|set|proto|slot". */
export function policyCidrKeyText(k: PolicyCidrKey): string {
  return `${k.cidr}|${k.set}|${k.proto}|${k.slot}`;
}

const PROTOS = new Set<number>([POLICY_PROTO_ANY, POLICY_PROTO_TCP, POLICY_PROTO_UDP, POLICY_PROTO_SCTP]);

function u32(text: string | undefined, what: string, key: string): number {
  const n = Number(text);
  if (text === undefined || text === '' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`policy key "${key}": bad ${what}`);
  return n;
}

function proto(text: string | undefined, key: string): PolicyProto {
  const n = u32(text, 'proto', key);
  if (!PROTOS.has(n)) throw new Error(`policy key "${key}": bad proto ${n}`);
  return n as PolicyProto;
}

function slot(text: string | undefined, key: string): number {
  const n = u32(text, 'slot', key);
  if (n >= POLICY_SLOTS) throw new Error(`policy key "${key}": bad slot ${n}`);
  return n;
}

export function parsePolicyKeyText(text: string): PolicyKey {
  const p = text.split('|');
  if (p.length !== 4) throw new Error(`policy key "${text}": want set|identity|proto|slot`);
  return { set: u32(p[0], 'set', text), identity: u32(p[1], 'identity', text), proto: proto(p[2], text), slot: slot(p[3], text) };
}

export function parsePolicyCidrKeyText(text: string): PolicyCidrKey {
  const p = text.split('|');
  if (p.length !== 4) throw new Error(`policy cidr key "${text}": want cidr|set|proto|slot`);
  const cidr = p[0] as string;
  if (canonicalPolicyCidr(cidr) !== cidr) throw new Error(`policy cidr key "${text}": cidr not canonical`);
  return { cidr, set: u32(p[1], 'set', text), proto: proto(p[2], text), slot: slot(p[3], text) };
}

/** The canonical network CIDR text of an address block (host bits cleared), as the keys hold it. */
export function canonicalPolicyCidr(cidr: string): string {
  const c = canonicalCidr(cidr);
  if (c === undefined) throw new Error(`not a CIDR: ${JSON.stringify(cidr)}`);
  return c;
}

/** The trie key's prefixlen for a canonical CIDR: 64 bits of (set, proto, slot, pad) + the address bits
 *  (IPv4 as ::ffff:a.b.c.d, so 96 more). */
export function policyCidrPrefixLen(cidr: string): number {
  const [addr, len] = ipaddr.parseCIDR(cidr);
  return 64 + (addr.kind() === 'ipv4' ? 96 + len : len);
}

export function policyValueEquals(a: PolicyValue, b: PolicyValue): boolean {
  if (a === b) return true;
  if (a.flags !== b.flags || a.ranges.length !== b.ranges.length) return false;
  for (let i = 0; i < a.ranges.length; i++) {
    const x = a.ranges[i] as PortRange;
    const y = b.ranges[i] as PortRange;
    if (x.lo !== y.lo || x.hi !== y.hi) return false;
  }
  return true;
}

/** A local pod's policy fields of struct vw_endpoint (absent on DesiredEndpoint = 0). */
export interface EndpointPolicy {
  /** the pod's policy identity; 0: host or not a pod */
  identity: number;
  /** policy set selecting it for ingress; 0: none (open) */
  policyIn: number;
  /** policy set selecting it for egress; 0: none (open) */
  policyOut: number;
}

// ---- what the evaluator and explain read (not written to the kernel) ----------

export type PolicyDirection = 'ingress' | 'egress';

/** A container port with a name (a policy port by name resolves against these). */
export interface NamedPort {
  name: string;
  protocol: L4Protocol;
  port: number;
}

/** A policy identity: pods alike for every policy (namespace, its labels, the pod's labels and named ports). */
export interface PolicyIdentityInfo {
  id: number;
  namespace: string;
  /** the pod's named container ports, sorted */
  namedPorts: readonly NamedPort[];
  /** how many pods hold it */
  pods: number;
}

/** One rule of one policy, its peers resolved (identities) or kept as address blocks. */
export interface PolicyRuleInfo {
  /** "ns/name" of its policy */
  policy: string;
  /** the rule has no peers (from/to absent or empty): every peer, pods and addresses */
  anyPeer: boolean;
  /** identities its pod peers (podSelector/namespaceSelector) match, sorted */
  identities: readonly number[];
  /** its ipBlock peers (canonical CIDRs) */
  blocks: readonly { cidr: string; except: readonly string[] }[];
  /** empty: every protocol and port */
  ports: readonly NetworkPolicyPort[];
}

/** A policy set: the policies that select a pod for one direction (with its own named ports). */
export interface PolicySetInfo {
  id: number;
  direction: PolicyDirection;
  /** "ns/name", sorted */
  policies: readonly string[];
  /** ingress: the selected pods' named ports (a port by name is theirs); egress: none (the destination's) */
  ownPorts: readonly NamedPort[];
  /** the rules of its policies for its direction, in policy order */
  rules: readonly PolicyRuleInfo[];
}

/** One port of a ClusterIP with its ready backends (Service egress is allowed iff every one is). */
export interface PolicyVipPort {
  service: string;
  proto: 6 | 17 | 132;
  port: number;
  backends: readonly { ip: string; port: number }[];
}

/** A pod address's policy fields: for every pod of the cluster (the evaluator judges both ends). */
export type AddressPolicy = EndpointPolicy;

/** Everything the compile knows about NetworkPolicy: the ids' meaning, for the map entries of any set
 *  (policy-entries.ts), naming in explain, flows and what-if, and stable ids across compiles. */
export interface PolicyInfo {
  /** --network-policy (off: everything below is empty) */
  enabled: boolean;
  /** every pod address with an identity -> its identity and (cluster-wide) policy sets */
  addresses: Map<string, AddressPolicy>;
  sets: Map<number, PolicySetInfo>;
  identities: Map<number, PolicyIdentityInfo>;
  /** ClusterIPs -> their ports with ready backends (when some pod has an egress policy) */
  vips: Map<string, readonly PolicyVipPort[]>;
  /** addresses with an ingress set -> their pod's node ('' unscheduled): ingress policy exempts that node only */
  ingressNodes: Map<string, string>;
  /** node and host-network addresses -> the nodes they belong to (a Node's, a host-network pod's node) */
  hostNodes: Map<string, string[]>;
  /** content key -> id, kept from compile to compile so ids stay stable */
  ids: { identities: Map<string, number>; sets: Map<string, number> };
}

export function emptyPolicyInfo(enabled = true): PolicyInfo {
  return { enabled, addresses: new Map(), sets: new Map(), identities: new Map(), vips: new Map(), ingressNodes: new Map(), hostNodes: new Map(), ids: { identities: new Map(), sets: new Map() } };
}
