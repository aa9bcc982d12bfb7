// TypeScript mirror of bpf/vrfwall.h: enum values and names, flags, map
// layouts, and encoders/decoders for every map key and value. Change both
// sides together; test/abi.test.ts compiles the header and compares.
import os from 'node:os';
import ipaddr from 'ipaddr.js';
import { dottedQuad } from '../model/ip.js';

// ---- enums ------------------------------------------------------------------

/** enum vw_direction */
export const Direction = { FROM_POD: 0, TO_POD: 1 } as const;
export type Direction = (typeof Direction)[keyof typeof Direction];

/** enum vw_verdict */
export const Verdict = { ALLOWED: 0, DROPPED: 1, AUDIT: 2 } as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** enum vw_allow_rule: the rule of design section 3 that allowed a packet */
export const AllowRule = {
  NONE: 0,
  SAME_NETWORK: 1,
  ROUTER: 2,
  SERVICE: 3,
  SERVICE_BACKEND: 4,
  REPLY: 5,
  NOT_POD: 6,
} as const;
export type AllowRule = (typeof AllowRule)[keyof typeof AllowRule];

/** enum vw_drop_reason: closed, documented in docs/drop-reasons.md */
export const DropReason = {
  NONE: 0,
  ISOLATED: 1,
  QUARANTINED: 2,
  UNKNOWN_ENDPOINT: 3,
  SPOOFED: 4,
  MALFORMED: 5,
  L2_DENIED: 6,
  EXTERNAL_DENIED: 7,
  SOURCE_ROUTE: 8,
  FRAGMENT: 9,
  SERVICE_DENIED: 10,
  NO_SESSION: 11,
  SESSION_LIMIT: 12,
  ND_DENIED: 13,
  TUNNEL: 14,
  POLICY_EGRESS: 15,
  POLICY_INGRESS: 16,
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

/** enum vw_cidr_kind */
export const CidrKind = { POD: 1, SERVICE: 2 } as const;
export type CidrKind = (typeof CidrKind)[keyof typeof CidrKind];

/** The C enums' __MAX values: how many values each has. */
export const DIRECTION_COUNT = 2;
export const VERDICT_COUNT = 3;
export const ALLOW_RULE_COUNT = 7;
export const DROP_REASON_COUNT = 17;

// ---- flags and limits (same names as the header) ----------------------------

export const VW_ADDR_LEN = 16;
export const VW_EP_LOCAL = 1 << 0; // pod on this node; ifindex is valid
export const VW_EP_HOST = 1 << 1; // a node address / host-network pod: rule 6
export const VW_EP_QUARANTINE = 1 << 2; // reaches nothing but its node
/** A local pod whose interface has no ports entry (ptp wiring): from_pod skips that lookup. Only a
 *  promise of absence: without it the program looks, so only the compile step sets it (vrfwall.h). */
export const VW_EP_PTP = 1 << 3;
/** The address is no Service backend (no backends entry has it): the programs skip the rule-4 lookup. A promise
 *  of absence: without it they look; wrongly set on a backend it only denies (vrfwall.h). */
export const VW_EP_NO_BACKEND = 1 << 4;
/** With VW_EP_HOST: an address of this very node (its Node's, or a host-network pod's on it); only these and
 *  link-scope peers skip ingress NetworkPolicy (kubelet probes), another node's address is judged (vrfwall.h). */
export const VW_EP_THIS_NODE = 1 << 5;
export const VW_NET_EXTERNAL_DENY = 1 << 0;
/** Audit mode (vrfwall.h): the network is audited; its EXTERNAL_DENIED drops pass as AUDIT. */
export const VW_NET_AUDIT = 1 << 1;
/** In OPEN (an audited network, or the default network while any network is audited): two networks kept
 *  apart that are both OPEN pass as AUDIT (ISOLATED); a Service's audit entry answers OPEN clients. */
export const VW_NET_OPEN = 1 << 2;
export const VW_CIDR_POD = CidrKind.POD;
export const VW_CIDR_SERVICE = CidrKind.SERVICE;
export const VW_CODE_SLOTS = 32; // 17 drop reasons need a 5th bit
export const VW_COUNTERS_MAX = DIRECTION_COUNT * VERDICT_COUNT * VW_CODE_SLOTS;
export const VW_ENDPOINTS_MAX = 262144;
export const VW_VRF_PAIRS_MAX = 65536;
export const VW_NETWORKS_MAX = 65536;
export const VW_CIDRS_MAX = 256;
export const VW_MAC_LEN = 6;
export const VW_PORTS_MAX = 16384;
export const VW_SVC_ANY_VRF = 0; // client_vrf of a Service entry every network may use
export const VW_SVC_FRONTEND_VRF = 0xffffffff; // marker: addr:port/proto is a Service frontend outside the service ranges
/** client_vrf of a Service's audit entry: its backends' networks are all OPEN, so an OPEN client it denies passes as AUDIT. */
export const VW_SVC_AUDIT_VRF = 0xfffffffe;
export const VW_SVC_NODE_ADDR = '::'; // addr of NodePort entries: any node address or outside address
/** UDP ports an overlay device on a node decapsulates on (VW_DROP_TUNNEL; backends there answer nobody) */
export const VW_TUNNEL_PORT_VXLAN = 4789;
export const VW_TUNNEL_PORT_VXLAN_LINUX = 8472;
export const VW_TUNNEL_PORT_GENEVE = 6081;
export const VW_SVC_SHARED = 1 << 0; // a shared Service (kube-system, default/kubernetes, vrfwall.dev/shared)
export const VW_SVC_ROUTER = 1 << 1; // a router joins the client's network and the backend's
export const VW_SVC_AUDIT = 1 << 2; // the audit entry (client_vrf VW_SVC_AUDIT_VRF)
export const VW_SERVICES_MAX = 65536;
export const VW_BACKENDS_MAX = 262144;
export const VW_SESSIONS_MAX = 262144;
export const VW_SESSION_OWNERS_MAX = 65536;
export const VW_SESS_REPLIED = 1 << 0; // the server answered
export const VW_SESS_FIN_FWD = 1 << 1; // TCP: the client sent FIN
export const VW_SESS_FIN_REV = 1 << 2; // TCP: the server sent FIN
export const VW_SESS_RST = 1 << 3; // TCP: either side sent RST
/** NetworkPolicy needs the session for its replies; session_gc re-judges it against the current policy. */
export const VW_SESS_POLICY = 1 << 4;
/** Counted in the server's session_owners entry (a policy session into a local pod from a client that is no pod). */
export const VW_SESS_CHARGE_SERVER = 1 << 5;
export const VW_NS_PER_SEC = 1_000_000_000n;
export const VW_DEFAULT_TCP_SYN_TIMEOUT_NS = 60n * VW_NS_PER_SEC;
export const VW_DEFAULT_TCP_ESTABLISHED_TIMEOUT_NS = 21600n * VW_NS_PER_SEC;
export const VW_DEFAULT_TCP_CLOSING_TIMEOUT_NS = 10n * VW_NS_PER_SEC;
export const VW_DEFAULT_UDP_TIMEOUT_NS = 30n * VW_NS_PER_SEC;
export const VW_DEFAULT_OTHER_TIMEOUT_NS = 60n * VW_NS_PER_SEC;
export const VW_DEFAULT_SESSION_QUOTA = 4096;

/** Map and program names in the BPF objects (build/bpf/{from_pod,to_pod}.o). */
export const MapName = {
  endpoints: 'endpoints',
  vrfPairs: 'vrf_pairs',
  networks: 'networks',
  cidrs: 'cidrs',
  counters: 'counters',
  services: 'services',
  backends: 'backends',
  sessions: 'sessions',
  sessionOwners: 'session_owners',
  config: 'config',
  ports: 'ports',
  cacheCtl: 'cache_ctl',
  policy: 'policy',
  policyCidrs: 'policy_cidrs',
} as const;
export const ProgramName = { fromPod: 'from_pod', toPod: 'to_pod', sessionGc: 'session_gc' } as const;

/** What the programs return: TC_ACT_UNSPEC (== TCX_NEXT) to allow, so the
 *  CNI's programs still run, and TC_ACT_SHOT to drop. */
export const TcAction = { ALLOW: -1, DROP: 2 } as const;

// ---- names --------------------------------------------------------------------

function nameOf(table: Record<string, number>, value: number): string {
  for (const [name, v] of Object.entries(table)) if (v === value) return name;
  return `UNKNOWN_${value}`;
}

export const directionName = (v: number): string => nameOf(Direction, v);
export const verdictName = (v: number): string => nameOf(Verdict, v);
export const allowRuleName = (v: number): string => nameOf(AllowRule, v);
export const dropReasonName = (v: number): string => nameOf(DropReason, v);

/** The counter code's name: an allow rule or a drop reason, by verdict. */
export function codeName(verdict: number, code: number): string {
  return verdict === Verdict.ALLOWED ? allowRuleName(code) : dropReasonName(code); // AUDIT: the drop reason it would have had
}

// ---- layouts ------------------------------------------------------------------

/** Size and field offsets of each struct, under its C names (checked by the ABI test). */
export const Layout = {
  vw_endpoint_key: { size: 16, fields: { addr: 0 } },
  vw_endpoint: { size: 24, fields: { vrf_id: 0, flags: 4, ifindex: 8, identity: 12, policy_in: 16, policy_out: 20 } },
  vw_vrf_pair: { size: 8, fields: { src_vrf: 0, dst_vrf: 4 } },
  vw_vrf_pair_value: { size: 4, fields: { flags: 0 } },
  vw_network: { size: 4, fields: { flags: 0 } },
  vw_cidr_key: { size: 20, fields: { prefixlen: 0, addr: 4 } },
  vw_cidr_value: { size: 4, fields: { kind: 0 } },
  vw_port: { size: 8, fields: { mac: 0, flags: 6 } },
  vw_counter: { size: 16, fields: { packets: 0, bytes: 8 } },
  vw_svc_key: { size: 24, fields: { addr: 0, port: 16, proto: 18, pad: 19, client_vrf: 20 } },
  vw_svc_value: { size: 8, fields: { svc_vrf: 0, flags: 4 } },
  vw_session_key: { size: 40, fields: { saddr: 0, daddr: 16, sport: 32, dport: 34, proto: 36, pad: 37 } },
  vw_session: { size: 16, fields: { last_seen_ns: 0, rule: 8, flags: 12 } },
  vw_session_owner: { size: 8, fields: { live: 0, pad: 4 } },
  vw_config: {
    size: 56,
    fields: {
      tcp_syn_timeout_ns: 0,
      tcp_established_timeout_ns: 8,
      tcp_closing_timeout_ns: 16,
      udp_timeout_ns: 24,
      other_timeout_ns: 32,
      session_quota: 40,
      probe_key: 44,
      flags: 48,
      pad: 52,
    },
  },
  vw_cache_ctl: { size: 8, fields: { epoch: 0, flow_seed: 4 } },
  vw_policy_key: { size: 12, fields: { set: 0, identity: 4, proto: 8, slot: 9, pad: 10 } },
  vw_port_range: { size: 4, fields: { lo: 0, hi: 2 } },
  vw_policy_value: { size: 68, fields: { n: 0, flags: 2, r: 4 } },
  vw_policy_cidr_key: { size: 28, fields: { prefixlen: 0, set: 4, proto: 8, slot: 9, pad: 10, addr: 12 } },
} as const;

/** Keys of the networks and counters maps are a plain __u32. */
export const U32_SIZE = 4;

// Map keys and values hold host-endian integers (addresses are network order).
const littleEndian = os.endianness() === 'LE';

function writeU32(buf: Buffer, value: number, offset: number): void {
  if (littleEndian) buf.writeUInt32LE(value >>> 0, offset);
  else buf.writeUInt32BE(value >>> 0, offset);
}

function readU32(buf: Buffer, offset: number): number {
  return littleEndian ? buf.readUInt32LE(offset) : buf.readUInt32BE(offset);
}

function writeU64(buf: Buffer, value: bigint, offset: number): void {
  if (littleEndian) buf.writeBigUInt64LE(value, offset);
  else buf.writeBigUInt64BE(value, offset);
}

function readU64(buf: Buffer, offset: number): bigint {
  return littleEndian ? buf.readBigUInt64LE(offset) : buf.readBigUInt64BE(offset);
}

function expectSize(buf: Buffer, size: number, what: string): void {
  if (buf.length < size) throw new RangeError(`${what}: need ${size} bytes, got ${buf.length}`);
}

// ---- addresses ------------------------------------------------------------------

/** 16-byte map key of an address: IPv6 as is, IPv4 as ::ffff:a.b.c.d.
 *  Strict text: IPv4 as four decimal parts, IPv6 without a zone id. */
export function addrToKey(text: string): Buffer {
  const t = text.trim();
  const quad = dottedQuad(t); // the common case, without ipaddr.js's parsing
  if (quad !== undefined) return Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...quad]);
  if (ipaddr.IPv4.isValidFourPartDecimal(t)) {
    return Buffer.from(ipaddr.IPv4.parse(t).toIPv4MappedAddress().toByteArray());
  }
  if (ipaddr.IPv6.isValid(t) && !t.includes('%')) {
    return Buffer.from(ipaddr.IPv6.parse(t).toByteArray());
  }
  throw new Error(`not an IP address: '${text}'`);
}

/** Text of a 16-byte address key (IPv4-mapped -> dotted quad, IPv6 RFC 5952). */
export function keyToAddr(key: Buffer, offset = 0): string {
  expectSize(key, offset + VW_ADDR_LEN, 'address key');
  const v6 = new ipaddr.IPv6([...key.subarray(offset, offset + VW_ADDR_LEN)]);
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address().toString() : v6.toString();
}

/** The form keyToAddr gives back: one text per map key. */
export function canonicalAddr(text: string): string {
  return keyToAddr(addrToKey(text));
}

// ---- endpoints ------------------------------------------------------------------

export interface EndpointValue {
  vrfId: number;
  flags: number; // VW_EP_*
  ifindex: number;
  /** NetworkPolicy identity (0 or absent: host or non-pod) */
  identity?: number;
  /** local pods: the policy set selecting it for ingress / egress (0 or absent: none, open) */
  policyIn?: number;
  policyOut?: number;
}

export const encodeEndpointKey = addrToKey;
export const decodeEndpointKey = (key: Buffer): string => keyToAddr(key);

export function encodeEndpoint(ep: EndpointValue): Buffer {
  const f = Layout.vw_endpoint.fields;
  const buf = Buffer.alloc(Layout.vw_endpoint.size);
  writeU32(buf, ep.vrfId, f.vrf_id);
  writeU32(buf, ep.flags, f.flags);
  writeU32(buf, ep.ifindex, f.ifindex);
  writeU32(buf, ep.identity ?? 0, f.identity);
  writeU32(buf, ep.policyIn ?? 0, f.policy_in);
  writeU32(buf, ep.policyOut ?? 0, f.policy_out);
  return buf;
}

export function decodeEndpoint(buf: Buffer): EndpointValue {
  const f = Layout.vw_endpoint.fields;
  expectSize(buf, Layout.vw_endpoint.size, 'vw_endpoint');
  return {
    vrfId: readU32(buf, f.vrf_id),
    flags: readU32(buf, f.flags),
    ifindex: readU32(buf, f.ifindex),
    identity: readU32(buf, f.identity),
    policyIn: readU32(buf, f.policy_in),
    policyOut: readU32(buf, f.policy_out),
  };
}

// ---- vrf pairs ------------------------------------------------------------------

export interface VrfPair {
  srcVrf: number;
  dstVrf: number;
}

export function encodeVrfPair(pair: VrfPair): Buffer {
  const f = Layout.vw_vrf_pair.fields;
  const buf = Buffer.alloc(Layout.vw_vrf_pair.size);
  writeU32(buf, pair.srcVrf, f.src_vrf);
  writeU32(buf, pair.dstVrf, f.dst_vrf);
  return buf;
}

export function decodeVrfPair(buf: Buffer): VrfPair {
  const f = Layout.vw_vrf_pair.fields;
  expectSize(buf, Layout.vw_vrf_pair.size, 'vw_vrf_pair');
  return { srcVrf: readU32(buf, f.src_vrf), dstVrf: readU32(buf, f.dst_vrf) };
}

/** The value is reserved (flags = 0); presence of the key is what counts. */
export function encodeVrfPairValue(flags = 0): Buffer {
  const buf = Buffer.alloc(Layout.vw_vrf_pair_value.size);
  writeU32(buf, flags, Layout.vw_vrf_pair_value.fields.flags);
  return buf;
}

export function decodeVrfPairValue(buf: Buffer): { flags: number } {
  expectSize(buf, Layout.vw_vrf_pair_value.size, 'vw_vrf_pair_value');
  return { flags: readU32(buf, Layout.vw_vrf_pair_value.fields.flags) };
}

// ---- networks -------------------------------------------------------------------

/** A map key that is one host-order __u32 (networks: a vrf id; ports: an ifindex). */
export function encodeU32Key(value: number): Buffer {
  const buf = Buffer.alloc(U32_SIZE);
  writeU32(buf, value, 0);
  return buf;
}

export function decodeU32Key(buf: Buffer): number {
  expectSize(buf, U32_SIZE, '__u32 key');
  return readU32(buf, 0);
}

export const encodeNetworkKey = encodeU32Key;
export const decodeNetworkKey = decodeU32Key;

export function encodeNetwork(net: { flags: number }): Buffer {
  const buf = Buffer.alloc(Layout.vw_network.size);
  writeU32(buf, net.flags, Layout.vw_network.fields.flags);
  return buf;
}

export function decodeNetwork(buf: Buffer): { flags: number } {
  expectSize(buf, Layout.vw_network.size, 'vw_network');
  return { flags: readU32(buf, Layout.vw_network.fields.flags) };
}

// ---- cidrs --------------------------------------------------------------------

const V4_MAPPED_PREFIX = 96; // ::ffff:0:0/96
const ADDR_BITS = VW_ADDR_LEN * 8;

/** LPM key of a CIDR: prefix over the 16-byte address (IPv4 /n -> /96+n),
 *  host bits cleared so each network has exactly one key. */
export function encodeCidrKey(cidr: string): Buffer {
  const t = cidr.trim();
  const slash = t.indexOf('/');
  const lenText = slash < 0 ? '' : t.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) throw new Error(`not a CIDR: '${cidr}'`);
  const addr = addrToKey(t.slice(0, slash));
  const isV4 = ipaddr.IPv4.isValidFourPartDecimal(t.slice(0, slash).trim());
  const len = Number(lenText);
  if (len > (isV4 ? 32 : ADDR_BITS)) throw new Error(`prefix length out of range: '${cidr}'`);
  const prefixlen = isV4 ? len + V4_MAPPED_PREFIX : len;

  for (let bit = prefixlen; bit < ADDR_BITS; bit++) {
    addr[bit >> 3]! &= ~(0x80 >> (bit & 7));
  }
  const f = Layout.vw_cidr_key.fields;
  const buf = Buffer.alloc(Layout.vw_cidr_key.size);
  writeU32(buf, prefixlen, f.prefixlen);
  addr.copy(buf, f.addr);
  return buf;
}

export function decodeCidrKey(buf: Buffer): string {
  const f = Layout.vw_cidr_key.fields;
  expectSize(buf, Layout.vw_cidr_key.size, 'vw_cidr_key');
  const prefixlen = readU32(buf, f.prefixlen);
  const v6 = new ipaddr.IPv6([...buf.subarray(f.addr, f.addr + VW_ADDR_LEN)]);
  return v6.isIPv4MappedAddress() && prefixlen >= V4_MAPPED_PREFIX
    ? `${v6.toIPv4Address().toString()}/${prefixlen - V4_MAPPED_PREFIX}`
    : `${v6.toString()}/${prefixlen}`;
}

export function encodeCidrValue(v: { kind: number }): Buffer {
  const buf = Buffer.alloc(Layout.vw_cidr_value.size);
  writeU32(buf, v.kind, Layout.vw_cidr_value.fields.kind);
  return buf;
}

export function decodeCidrValue(buf: Buffer): { kind: number } {
  expectSize(buf, Layout.vw_cidr_value.size, 'vw_cidr_value');
  return { kind: readU32(buf, Layout.vw_cidr_value.fields.kind) };
}

// ---- ports (bridge wiring: a local pod's interface -> its MAC) ---------------------

/** The MAC of a port that may send nothing (the agent could not tell the pod's MAC). */
export const VW_NO_MAC = '00:00:00:00:00:00';

/** Six bytes of a MAC in the usual colon form; anything else throws. */
export function macToBytes(text: string): Buffer {
  const parts = text.trim().split(':');
  if (parts.length !== VW_MAC_LEN || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`not a MAC address: '${text}'`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function bytesToMac(buf: Buffer, offset = 0): string {
  expectSize(buf, offset + VW_MAC_LEN, 'MAC');
  return [...buf.subarray(offset, offset + VW_MAC_LEN)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Key of the ports map: the interface's ifindex. */
export const encodePortKey = encodeU32Key;
export const decodePortKey = decodeU32Key;

export function encodePort(port: { mac: string }): Buffer {
  const buf = Buffer.alloc(Layout.vw_port.size);
  macToBytes(port.mac).copy(buf, Layout.vw_port.fields.mac);
  return buf;
}

export function decodePort(buf: Buffer): { mac: string } {
  expectSize(buf, Layout.vw_port.size, 'vw_port');
  return { mac: bytesToMac(buf, Layout.vw_port.fields.mac) };
}

// ---- counters -------------------------------------------------------------------

/** Same as vw_counter_index() in the header. */
export function counterIndex(direction: number, verdict: number, code: number): number {
  return (direction * VERDICT_COUNT + verdict) * VW_CODE_SLOTS + code;
}

export function counterSlot(index: number): { direction: number; verdict: number; code: number } {
  return {
    direction: Math.floor(index / (VERDICT_COUNT * VW_CODE_SLOTS)),
    verdict: Math.floor(index / VW_CODE_SLOTS) % VERDICT_COUNT,
    code: index % VW_CODE_SLOTS,
  };
}

export function encodeCounterKey(index: number): Buffer {
  const buf = Buffer.alloc(U32_SIZE);
  writeU32(buf, index, 0);
  return buf;
}

export interface CounterValue {
  packets: bigint;
  bytes: bigint;
}

/** Per-CPU values come back as one roundup(size, 8)-byte value per possible CPU. */
export function sumPerCpuCounter(values: Buffer, cpus: number, offset = 0): CounterValue {
  const stride = Layout.vw_counter.size; // already a multiple of 8
  const f = Layout.vw_counter.fields;
  expectSize(values, offset + stride * cpus, 'per-CPU vw_counter');
  let packets = 0n;
  let bytes = 0n;
  for (let cpu = 0; cpu < cpus; cpu++) {
    const at = offset + cpu * stride;
    packets += readU64(values, at + f.packets);
    bytes += readU64(values, at + f.bytes);
  }
  return { packets, bytes };
}

export interface CounterEntry extends CounterValue {
  index: number;
  direction: number;
  verdict: number;
  code: number;
  /** e.g. "from_pod/dropped/SPOOFED" */
  name: string;
}

/** Every counter slot of a dump (mapDump of the counters map), summed over CPUs. */
export function decodeCounters(
  dump: { count: number; keys: Buffer; values: Buffer },
  cpus: number,
): CounterEntry[] {
  const valueBytes = Layout.vw_counter.size * cpus;
  const out: CounterEntry[] = [];
  for (let i = 0; i < dump.count; i++) {
    const index = readU32(dump.keys, i * U32_SIZE);
    const slot = counterSlot(index);
    const dir = slot.direction === Direction.FROM_POD ? ProgramName.fromPod : ProgramName.toPod;
    out.push({
      index,
      ...slot,
      ...sumPerCpuCounter(dump.values, cpus, i * valueBytes),
      name: `${dir}/${verdictName(slot.verdict).toLowerCase()}/${codeName(slot.verdict, slot.code)}`,
    });
  }
  return out;
}

// ---- services, backends, sessions ------------------------------------------------

/** IP protocol numbers of the protocols a Service port can name. */
export const IpProto = { TCP: 6, UDP: 17, SCTP: 132 } as const;
export type ServiceProtocol = keyof typeof IpProto;

export interface SvcKey {
  addr: string; // IP text
  port: number; // host order here; network order in the map
  protocol: ServiceProtocol;
  clientVrf: number; // VW_SVC_ANY_VRF: every network
}

export interface SvcValue {
  svcVrf: number;
  flags: number; // VW_SVC_*
}

function protocolName(num: number): ServiceProtocol {
  for (const [name, v] of Object.entries(IpProto)) if (v === num) return name as ServiceProtocol;
  throw new RangeError(`IP protocol ${num} is not a Service protocol`);
}

/** Key of the services and backends maps. */
export function encodeSvcKey(k: SvcKey): Buffer {
  const f = Layout.vw_svc_key.fields;
  if (!Number.isInteger(k.port) || k.port < 0 || k.port > 0xffff) throw new RangeError(`bad port ${k.port}`);
  const buf = Buffer.alloc(Layout.vw_svc_key.size);
  addrToKey(k.addr).copy(buf, f.addr);
  buf.writeUInt16BE(k.port, f.port);
  buf.writeUInt8(IpProto[k.protocol], f.proto);
  writeU32(buf, k.clientVrf, f.client_vrf);
  return buf;
}

export function decodeSvcKey(buf: Buffer): SvcKey {
  const f = Layout.vw_svc_key.fields;
  expectSize(buf, Layout.vw_svc_key.size, 'vw_svc_key');
  return {
    addr: keyToAddr(buf, f.addr),
    port: buf.readUInt16BE(f.port),
    protocol: protocolName(buf.readUInt8(f.proto)),
    clientVrf: readU32(buf, f.client_vrf),
  };
}

export function encodeSvcValue(v: SvcValue): Buffer {
  const f = Layout.vw_svc_value.fields;
  const buf = Buffer.alloc(Layout.vw_svc_value.size);
  writeU32(buf, v.svcVrf, f.svc_vrf);
  writeU32(buf, v.flags, f.flags);
  return buf;
}

export function decodeSvcValue(buf: Buffer): SvcValue {
  const f = Layout.vw_svc_value.fields;
  expectSize(buf, Layout.vw_svc_value.size, 'vw_svc_value');
  return { svcVrf: readU32(buf, f.svc_vrf), flags: readU32(buf, f.flags) };
}

/** Protocols of a session: a Service's, or ICMP/ICMPv6 echo (NetworkPolicy: the identifier as sport, dport 0). */
export const SessionProto = { ...IpProto, ICMP: 1, ICMPV6: 58 } as const;
export type SessionProtocol = keyof typeof SessionProto;

export interface SessionKey {
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  protocol: SessionProtocol;
}

export interface SessionValue {
  lastSeenNs: bigint;
  rule: number; // AllowRule.SERVICE or AllowRule.SERVICE_BACKEND
  flags: number; // VW_SESS_*
}

export function encodeSessionKey(k: SessionKey): Buffer {
  const f = Layout.vw_session_key.fields;
  const buf = Buffer.alloc(Layout.vw_session_key.size);
  addrToKey(k.saddr).copy(buf, f.saddr);
  addrToKey(k.daddr).copy(buf, f.daddr);
  buf.writeUInt16BE(k.sport, f.sport);
  buf.writeUInt16BE(k.dport, f.dport);
  buf.writeUInt8(SessionProto[k.protocol], f.proto);
  return buf;
}

export function decodeSessionKey(buf: Buffer): SessionKey {
  const f = Layout.vw_session_key.fields;
  expectSize(buf, Layout.vw_session_key.size, 'vw_session_key');
  return {
    saddr: keyToAddr(buf, f.saddr),
    daddr: keyToAddr(buf, f.daddr),
    sport: buf.readUInt16BE(f.sport),
    dport: buf.readUInt16BE(f.dport),
    protocol: sessionProtocolName(buf.readUInt8(f.proto)),
  };
}

function sessionProtocolName(num: number): SessionProtocol {
  for (const [name, v] of Object.entries(SessionProto)) if (v === num) return name as SessionProtocol;
  throw new RangeError(`IP protocol ${num} is no session's`);
}

export function decodeSession(buf: Buffer): SessionValue {
  const f = Layout.vw_session.fields;
  expectSize(buf, Layout.vw_session.size, 'vw_session');
  return { lastSeenNs: readU64(buf, f.last_seen_ns), rule: readU32(buf, f.rule), flags: readU32(buf, f.flags) };
}

export function decodeSessionOwner(buf: Buffer): { live: number } {
  expectSize(buf, Layout.vw_session_owner.size, 'vw_session_owner');
  return { live: readU32(buf, Layout.vw_session_owner.fields.live) };
}

/** struct vw_config; a zero field means the datapath's default. */
export interface DatapathConfig {
  tcpSynTimeoutNs: bigint;
  tcpEstablishedTimeoutNs: bigint;
  tcpClosingTimeoutNs: bigint;
  udpTimeoutNs: bigint;
  otherTimeoutNs: bigint;
  sessionQuota: number;
  /** explain's key (skb->cb[1] of a probe); 0: no probes */
  probeKey: number;
  /** VW_CFG_* (the node-wide audit setting) */
  flags: number;
}

/** vw_config.flags: the node-wide audit setting (agent --enforcement audit). */
export const VW_CFG_AUDIT = 1 << 0;

export function encodeConfig(c: DatapathConfig): Buffer {
  const f = Layout.vw_config.fields;
  const buf = Buffer.alloc(Layout.vw_config.size);
  writeU64(buf, c.tcpSynTimeoutNs, f.tcp_syn_timeout_ns);
  writeU64(buf, c.tcpEstablishedTimeoutNs, f.tcp_established_timeout_ns);
  writeU64(buf, c.tcpClosingTimeoutNs, f.tcp_closing_timeout_ns);
  writeU64(buf, c.udpTimeoutNs, f.udp_timeout_ns);
  writeU64(buf, c.otherTimeoutNs, f.other_timeout_ns);
  writeU32(buf, c.sessionQuota, f.session_quota);
  writeU32(buf, c.probeKey, f.probe_key);
  writeU32(buf, c.flags, f.flags);
  return buf;
}

export function decodeConfig(buf: Buffer): DatapathConfig {
  const f = Layout.vw_config.fields;
  expectSize(buf, Layout.vw_config.size, 'vw_config');
  return {
    tcpSynTimeoutNs: readU64(buf, f.tcp_syn_timeout_ns),
    tcpEstablishedTimeoutNs: readU64(buf, f.tcp_established_timeout_ns),
    tcpClosingTimeoutNs: readU64(buf, f.tcp_closing_timeout_ns),
    udpTimeoutNs: readU64(buf, f.udp_timeout_ns),
    otherTimeoutNs: readU64(buf, f.other_timeout_ns),
    sessionQuota: readU32(buf, f.session_quota),
    probeKey: readU32(buf, f.probe_key),
    flags: readU32(buf, f.flags),
  };
}

/** struct vw_cache_ctl: the verdict cache's policy epoch (0: cache nothing) and the flow table's hash seed. */
export interface CacheCtl {
  epoch: number;
  flowSeed: number;
}

export function encodeCacheCtl(c: CacheCtl): Buffer {
  const f = Layout.vw_cache_ctl.fields;
  const buf = Buffer.alloc(Layout.vw_cache_ctl.size);
  writeU32(buf, c.epoch, f.epoch);
  writeU32(buf, c.flowSeed, f.flow_seed);
  return buf;
}

export function decodeCacheCtl(buf: Buffer): CacheCtl {
  const f = Layout.vw_cache_ctl.fields;
  expectSize(buf, Layout.vw_cache_ctl.size, 'vw_cache_ctl');
  return { epoch: readU32(buf, f.epoch), flowSeed: readU32(buf, f.flow_seed) };
}

// ---- NetworkPolicy (issue 16): policy, policy_cidrs ----------------------------------

export const VW_POLICY_RANGES = 16;
export const VW_POLICY_SLOTS = 4;
export const VW_POLICY_ANY_PROTO = 0;
/** vw_policy_value.flags: the ranges continue in slot + 1 of the same key (the program reads the next slot only then). */
export const VW_POLICY_MORE = 1 << 0;
export const VW_POLICY_CIDR_PREFIX_BITS = 64;
export const VW_POLICY_MAX = 65536;
export const VW_POLICY_CIDRS_MAX = 16384;

/** IP protocol of a policy entry: IpProto.TCP/UDP/SCTP, or VW_POLICY_ANY_PROTO (every protocol and port). */
export type PolicyProto = 0 | 6 | 17 | 132;

function checkPolicyProto(proto: number): void {
  if (proto !== VW_POLICY_ANY_PROTO && proto !== IpProto.TCP && proto !== IpProto.UDP && proto !== IpProto.SCTP) {
    throw new RangeError(`bad policy protocol ${proto}`);
  }
}

function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot >= VW_POLICY_SLOTS) throw new RangeError(`bad policy slot ${slot}`);
}

function checkU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`bad ${what} ${v}`);
}

export interface PolicyKey {
  /** a policy_in/policy_out set id, never 0 */
  set: number;
  /** the peer's identity */
  identity: number;
  proto: PolicyProto;
  slot: number;
}

export function encodePolicyKey(k: PolicyKey): Buffer {
  const f = Layout.vw_policy_key.fields;
  checkU32(k.set, 'policy set');
  checkU32(k.identity, 'identity');
  checkPolicyProto(k.proto);
  checkSlot(k.slot);
  const buf = Buffer.alloc(Layout.vw_policy_key.size);
  writeU32(buf, k.set, f.set);
  writeU32(buf, k.identity, f.identity);
  buf.writeUInt8(k.proto, f.proto);
  buf.writeUInt8(k.slot, f.slot);
  return buf;
}

export function decodePolicyKey(buf: Buffer): PolicyKey {
  const f = Layout.vw_policy_key.fields;
  expectSize(buf, Layout.vw_policy_key.size, 'vw_policy_key');
  return {
    set: readU32(buf, f.set),
    identity: readU32(buf, f.identity),
    proto: buf.readUInt8(f.proto) as PolicyProto,
    slot: buf.readUInt8(f.slot),
  };
}

/** An inclusive host-order port range. */
export interface PortRange {
  lo: number;
  hi: number;
}

/** The ranges of one entry (at most VW_POLICY_RANGES; merged and sorted by the compile step). */
export interface PolicyValue {
  /** VW_POLICY_MORE; absent: 0 */
  flags?: number;
  ranges: readonly PortRange[];
}

export function encodePolicyValue(v: PolicyValue): Buffer {
  const f = Layout.vw_policy_value.fields;
  if (v.ranges.length > VW_POLICY_RANGES) throw new RangeError(`${v.ranges.length} port ranges in one policy entry (at most ${VW_POLICY_RANGES})`);
  const buf = Buffer.alloc(Layout.vw_policy_value.size);
  writeU16(buf, v.ranges.length, f.n);
  writeU16(buf, v.flags ?? 0, f.flags);
  v.ranges.forEach((r, i) => {
    if (!Number.isInteger(r.lo) || !Number.isInteger(r.hi) || r.lo < 0 || r.hi > 0xffff || r.lo > r.hi) {
      throw new RangeError(`bad port range ${r.lo}-${r.hi}`);
    }
    const at = f.r + i * Layout.vw_port_range.size;
    writeU16(buf, r.lo, at + Layout.vw_port_range.fields.lo);
    writeU16(buf, r.hi, at + Layout.vw_port_range.fields.hi);
  });
  return buf;
}

export function decodePolicyValue(buf: Buffer): PolicyValue {
  const f = Layout.vw_policy_value.fields;
  expectSize(buf, Layout.vw_policy_value.size, 'vw_policy_value');
  const n = Math.min(readU16(buf, f.n), VW_POLICY_RANGES);
  const ranges: PortRange[] = [];
  for (let i = 0; i < n; i++) {
    const at = f.r + i * Layout.vw_port_range.size;
    ranges.push({ lo: readU16(buf, at + Layout.vw_port_range.fields.lo), hi: readU16(buf, at + Layout.vw_port_range.fields.hi) });
  }
  return { flags: readU16(buf, f.flags), ranges };
}

export interface PolicyCidrKey {
  set: number;
  proto: PolicyProto;
  slot: number;
  /** an IPv4 or IPv6 CIDR (host bits are cleared) */
  cidr: string;
}

/** LPM key of an ipBlock entry: prefixlen = 64 (set, proto, slot, pad) + the address bits (IPv4 /n: 96 + n). */
export function encodePolicyCidrKey(k: PolicyCidrKey): Buffer {
  const f = Layout.vw_policy_cidr_key.fields;
  checkU32(k.set, 'policy set');
  checkPolicyProto(k.proto);
  checkSlot(k.slot);
  const cidr = encodeCidrKey(k.cidr); // validates; prefixlen over the 16-byte address, host bits cleared
  const buf = Buffer.alloc(Layout.vw_policy_cidr_key.size);
  writeU32(buf, VW_POLICY_CIDR_PREFIX_BITS + readU32(cidr, Layout.vw_cidr_key.fields.prefixlen), f.prefixlen);
  writeU32(buf, k.set, f.set);
  buf.writeUInt8(k.proto, f.proto);
  buf.writeUInt8(k.slot, f.slot);
  cidr.copy(buf, f.addr, Layout.vw_cidr_key.fields.addr, Layout.vw_cidr_key.fields.addr + VW_ADDR_LEN);
  return buf;
}

export function decodePolicyCidrKey(buf: Buffer): PolicyCidrKey {
  const f = Layout.vw_policy_cidr_key.fields;
  expectSize(buf, Layout.vw_policy_cidr_key.size, 'vw_policy_cidr_key');
  const cidr = Buffer.alloc(Layout.vw_cidr_key.size);
  writeU32(cidr, readU32(buf, f.prefixlen) - VW_POLICY_CIDR_PREFIX_BITS, Layout.vw_cidr_key.fields.prefixlen);
  buf.copy(cidr, Layout.vw_cidr_key.fields.addr, f.addr, f.addr + VW_ADDR_LEN);
  return { set: readU32(buf, f.set), proto: buf.readUInt8(f.proto) as PolicyProto, slot: buf.readUInt8(f.slot), cidr: decodeCidrKey(cidr) };
}

// ---- flows (issue 5): flows, flow_events, flow_stats ------------------------------

/** Slots of the flows table (an open-addressed BPF array; a power of 2). */
export const VW_FLOWS_MAX = 524288;
export const VW_FLOW_PROBES = 8;
export const VW_FLOW_EVENT_TICK_SHIFT = 20;
/** The verdict cache's tick (67 ms): a decision that rests on a session serves this long at most, and a session's
 *  last_seen lags its traffic by as much (its expiry allows for it). */
export const VW_CACHE_TICK_SHIFT = 26;
/** A verdict cache entry's bits (vrfwall.h): state in bits 0-1 (0 none, ALLOWED, DROPPED, AUDIT), TIMED bit 2,
 *  the code 5 bits at 3. */
export const VW_CACHE_STATE_MASK = 0x3;
export const VW_CACHE_ALLOWED = 1;
export const VW_CACHE_DROPPED = 2;
export const VW_CACHE_AUDIT = 3;
export const VW_CACHE_TIMED = 1 << 2;
export const VW_CACHE_CODE_SHIFT = 3;
export const VW_CACHE_CODE_MASK = 0x1f;

/** One direction's entry of a verdict cache word (dir: Direction), decoded; undefined: none. */
export function cacheEntry(cache: bigint, dir: number): { verdict: Verdict; timed: boolean; code: number } | undefined {
  const e = Number((cache >> BigInt(48 + 8 * dir)) & 0xffn);
  const state = e & VW_CACHE_STATE_MASK;
  if (state === 0) return undefined;
  const verdict = state === VW_CACHE_ALLOWED ? Verdict.ALLOWED : state === VW_CACHE_DROPPED ? Verdict.DROPPED : Verdict.AUDIT;
  return { verdict, timed: (e & VW_CACHE_TIMED) !== 0, code: (e >> VW_CACHE_CODE_SHIFT) & VW_CACHE_CODE_MASK };
}
export const VW_FLOW_RINGBUF_SIZE = 512 * 1024;
export const VW_FLOW_EVENT_INTERVAL_NS = 1_000_000_000;
/** The agent drains the flow_events ring at least this often: the programs wake it only when a quarter full. */
export const VW_FLOW_EVENT_POLL_MS = 20;
export const VW_FLOW_RINGBUF_WAKE_BYTES = VW_FLOW_RINGBUF_SIZE / 4;
/** skb->cb[0] and cb[1] of an explain probe: decided, counted nowhere. */
export const VW_PROBE_MAGIC = 0x76777072;

/** enum vw_flow_event_type */
export const FlowEventType = { NEW: 1, DROP: 2 } as const;
export type FlowEventType = (typeof FlowEventType)[keyof typeof FlowEventType];

/** enum vw_flow_stat: slots of the flow_stats PERCPU_ARRAY */
export const FlowStat = { EVENTS: 0, EVENTS_LOST: 1, FLOWS_NEW: 2, FLOW_FAILED: 3 } as const;
export type FlowStat = (typeof FlowStat)[keyof typeof FlowStat];
export const FLOW_STAT_COUNT = 4;

export const FlowMapName = { flows: 'flows', flowEvents: 'flow_events', flowStats: 'flow_stats' } as const;

/** Layouts of the flow structs (checked by the ABI test like Layout). */
export const FlowLayout = {
  vw_flow_key: {
    size: 44,
    fields: { self_addr: 0, peer_addr: 16, ifindex: 32, self_port: 36, peer_port: 38, ethertype: 40, proto: 42, pad: 43 },
  },
  vw_flow: {
    size: 128,
    fields: {
      key: 0,
      verdict: 44,
      code: 45,
      last_dir: 46,
      first_dir: 47,
      cache: 48,
      tcp_flags: 56,
      pad: 58,
      event_tick: 60,
      first_ns: 64,
      last_ns: 72,
      passed: 80,
      bytes: 96,
      drops: 112,
    },
  },
  vw_flow_event: {
    size: 64,
    fields: { key: 0, type: 44, dir: 45, verdict: 46, code: 47, len: 48, pad: 52, ts_ns: 56 },
  },
} as const;

function readU16(buf: Buffer, offset: number): number {
  return littleEndian ? buf.readUInt16LE(offset) : buf.readUInt16BE(offset);
}

function writeU16(buf: Buffer, value: number, offset: number): void {
  if (littleEndian) buf.writeUInt16LE(value & 0xffff, offset);
  else buf.writeUInt16BE(value & 0xffff, offset);
}

export interface FlowKey {
  /** the local pod's side: source in from_pod, destination in to_pod */
  selfAddr: string;
  peerAddr: string;
  ifindex: number;
  selfPort: number;
  peerPort: number;
  ethertype: number;
  proto: number;
}

/** withAddrs = false leaves the address texts empty (a caller with its own cache fills them). */
export function decodeFlowKey(buf: Buffer, offset = 0, withAddrs = true): FlowKey {
  const f = FlowLayout.vw_flow_key.fields;
  expectSize(buf, offset + FlowLayout.vw_flow_key.size, 'vw_flow_key');
  return {
    selfAddr: withAddrs ? keyToAddr(buf, offset + f.self_addr) : '',
    peerAddr: withAddrs ? keyToAddr(buf, offset + f.peer_addr) : '',
    ifindex: readU32(buf, offset + f.ifindex),
    selfPort: readU16(buf, offset + f.self_port),
    peerPort: readU16(buf, offset + f.peer_port),
    ethertype: readU16(buf, offset + f.ethertype),
    proto: buf.readUInt8(offset + f.proto),
  };
}

export function encodeFlowKey(k: FlowKey): Buffer {
  const f = FlowLayout.vw_flow_key.fields;
  const buf = Buffer.alloc(FlowLayout.vw_flow_key.size);
  addrToKey(k.selfAddr).copy(buf, f.self_addr);
  addrToKey(k.peerAddr).copy(buf, f.peer_addr);
  writeU32(buf, k.ifindex, f.ifindex);
  writeU16(buf, k.selfPort, f.self_port);
  writeU16(buf, k.peerPort, f.peer_port);
  writeU16(buf, k.ethertype, f.ethertype);
  buf.writeUInt8(k.proto, f.proto);
  return buf;
}

/** Per direction, indexed by Direction: [FROM_POD] sent by the pod, [TO_POD] received. */
export interface FlowValue {
  firstNs: bigint;
  lastNs: bigint;
  /** time of the last ring-buffer event >> VW_FLOW_EVENT_TICK_SHIFT (32 bits, wraps) */
  eventTick: number;
  /** the verdict cache word (bpf/lib/verdict_cache.h); the agent only shows it */
  cache: bigint;
  /** all packets, passed and dropped (the kernel counts the two apart: passed + drops) */
  packets: [bigint, bigint];
  bytes: [bigint, bigint];
  drops: [bigint, bigint];
  verdict: number;
  code: number;
  lastDir: number;
  firstDir: number;
  tcpFlags: [number, number];
}

export function decodeFlow(buf: Buffer, offset = 0): FlowValue {
  const f = FlowLayout.vw_flow.fields;
  expectSize(buf, offset + FlowLayout.vw_flow.size, 'vw_flow');
  const pair = (at: number): [bigint, bigint] => [readU64(buf, offset + at), readU64(buf, offset + at + 8)];
  return {
    firstNs: readU64(buf, offset + f.first_ns),
    lastNs: readU64(buf, offset + f.last_ns),
    eventTick: readU32(buf, offset + f.event_tick),
    cache: readU64(buf, offset + f.cache),
    packets: ((p, d) => [p[0] + d[0], p[1] + d[1]] as [bigint, bigint])(pair(f.passed), pair(f.drops)), // all: passed + dropped
    bytes: pair(f.bytes),
    drops: pair(f.drops),
    verdict: buf.readUInt8(offset + f.verdict),
    code: buf.readUInt8(offset + f.code),
    lastDir: buf.readUInt8(offset + f.last_dir),
    firstDir: buf.readUInt8(offset + f.first_dir),
    tcpFlags: [buf.readUInt8(offset + f.tcp_flags), buf.readUInt8(offset + f.tcp_flags + 1)],
  };
}

/** A flows slot: the key it holds and its value (first_ns 0: an empty slot). */
export function decodeFlowSlot(buf: Buffer, offset = 0): { keyBytes: Buffer; value: FlowValue } | undefined {
  const f = FlowLayout.vw_flow.fields;
  expectSize(buf, offset + FlowLayout.vw_flow.size, 'vw_flow');
  if (readU64(buf, offset + f.first_ns) === 0n) return undefined;
  return { keyBytes: buf.subarray(offset + f.key, offset + f.key + FlowLayout.vw_flow_key.size), value: decodeFlow(buf, offset) };
}

/** The inverse of decodeFlow (key included): the agent never writes flows, the benchmark fills the table with them. */
export function encodeFlow(key: FlowKey, v: FlowValue): Buffer {
  const f = FlowLayout.vw_flow.fields;
  const buf = Buffer.alloc(FlowLayout.vw_flow.size);
  const u64 = (value: bigint, at: number): void => {
    if (littleEndian) buf.writeBigUInt64LE(value, at);
    else buf.writeBigUInt64BE(value, at);
  };
  encodeFlowKey(key).copy(buf, f.key);
  u64(v.firstNs, f.first_ns);
  u64(v.lastNs, f.last_ns);
  writeU32(buf, v.eventTick, f.event_tick);
  u64(v.cache, f.cache);
  const passed: [bigint, bigint] = [v.packets[0] - v.drops[0], v.packets[1] - v.drops[1]];
  for (const [at, pair] of [[f.passed, passed], [f.bytes, v.bytes], [f.drops, v.drops]] as const) {
    u64(pair[0], at);
    u64(pair[1], at + 8);
  }
  buf.writeUInt8(v.verdict, f.verdict);
  buf.writeUInt8(v.code, f.code);
  buf.writeUInt8(v.lastDir, f.last_dir);
  buf.writeUInt8(v.firstDir, f.first_dir);
  buf.writeUInt8(v.tcpFlags[0], f.tcp_flags);
  buf.writeUInt8(v.tcpFlags[1], f.tcp_flags + 1);
  return buf;
}

export interface FlowEvent {
  key: FlowKey;
  /** the key's bytes: identifies the flow entry */
  keyBytes: Buffer;
  type: number;
  dir: number;
  verdict: number;
  code: number;
  len: number;
  tsNs: bigint;
}

export function decodeFlowEvent(
  buf: Buffer,
  offset = 0,
  keyDecoder: (buf: Buffer, offset: number) => FlowKey = decodeFlowKey,
): FlowEvent {
  const f = FlowLayout.vw_flow_event.fields;
  expectSize(buf, offset + FlowLayout.vw_flow_event.size, 'vw_flow_event');
  return {
    key: keyDecoder(buf, offset + f.key),
    keyBytes: Buffer.from(buf.subarray(offset + f.key, offset + f.key + FlowLayout.vw_flow_key.size)),
    type: buf.readUInt8(offset + f.type),
    dir: buf.readUInt8(offset + f.dir),
    verdict: buf.readUInt8(offset + f.verdict),
    code: buf.readUInt8(offset + f.code),
    len: readU32(buf, offset + f.len),
    tsNs: readU64(buf, offset + f.ts_ns),
  };
}

/** Records as ringbufOpen delivers them: [u32 len][4 zero bytes][payload][pad to 8]. */
export function splitRingRecords(batch: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at + 8 <= batch.length) {
    const len = readU32(batch, at);
    const end = at + 8 + len;
    if (end > batch.length) throw new RangeError(`ring record at ${at}: ${len} bytes past the batch end`);
    out.push(batch.subarray(at + 8, end));
    at += 8 + Math.ceil(len / 8) * 8;
  }
  return out;
}

/** flow_stats dump (PERCPU_ARRAY of __u64), summed over CPUs, by FlowStat slot. */
export function decodeFlowStats(dump: { count: number; keys: Buffer; values: Buffer }, cpus: number): bigint[] {
  const out: bigint[] = new Array<bigint>(FLOW_STAT_COUNT).fill(0n);
  for (let i = 0; i < dump.count; i++) {
    const slot = readU32(dump.keys, i * U32_SIZE);
    let sum = 0n;
    for (let cpu = 0; cpu < cpus; cpu++) sum += readU64(dump.values, (i * cpus + cpu) * 8);
    if (slot < FLOW_STAT_COUNT) out[slot] = sum;
  }
  return out;
}
