// TypeScript mirror of bpf/vrfwall.h: enum values and names, flags, map
// layouts, and encoders/decoders for every map key and value. Change both
// sides together; test/abi.test.ts compiles the header and compares.
import os from 'node:os';
import ipaddr from 'ipaddr.js';

// ---- enums ------------------------------------------------------------------

/** enum vw_direction */
export const Direction = { FROM_POD: 0, TO_POD: 1 } as const;
export type Direction = (typeof Direction)[keyof typeof Direction];

/** enum vw_verdict */
export const Verdict = { ALLOWED: 0, DROPPED: 1 } as const;
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
} as const;
export type DropReason = (typeof DropReason)[keyof typeof DropReason];

/** enum vw_cidr_kind */
export const CidrKind = { POD: 1, SERVICE: 2 } as const;
export type CidrKind = (typeof CidrKind)[keyof typeof CidrKind];

/** The C enums' __MAX values: how many values each has. */
export const DIRECTION_COUNT = 2;
export const VERDICT_COUNT = 2;
export const ALLOW_RULE_COUNT = 7;
export const DROP_REASON_COUNT = 10;

// ---- flags and limits (same names as the header) ----------------------------

export const VW_ADDR_LEN = 16;
export const VW_EP_LOCAL = 1 << 0; // pod on this node; ifindex is valid
export const VW_EP_HOST = 1 << 1; // a node address / host-network pod: rule 6
export const VW_EP_QUARANTINE = 1 << 2; // reaches nothing but its node
export const VW_NET_EXTERNAL_DENY = 1 << 0;
export const VW_CIDR_POD = CidrKind.POD;
export const VW_CIDR_SERVICE = CidrKind.SERVICE;
export const VW_CODE_SLOTS = 16;
export const VW_COUNTERS_MAX = DIRECTION_COUNT * VERDICT_COUNT * VW_CODE_SLOTS;
export const VW_ENDPOINTS_MAX = 262144;
export const VW_VRF_PAIRS_MAX = 65536;
export const VW_NETWORKS_MAX = 65536;
export const VW_CIDRS_MAX = 256;

/** Map and program names in the BPF objects (build/bpf/{from_pod,to_pod}.o). */
export const MapName = {
  endpoints: 'endpoints',
  vrfPairs: 'vrf_pairs',
  networks: 'networks',
  cidrs: 'cidrs',
  counters: 'counters',
} as const;
export const ProgramName = { fromPod: 'from_pod', toPod: 'to_pod' } as const;

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
  return verdict === Verdict.ALLOWED ? allowRuleName(code) : dropReasonName(code);
}

// ---- layouts ------------------------------------------------------------------

/** Size and field offsets of each struct, under its C names (checked by the ABI test). */
export const Layout = {
  vw_endpoint_key: { size: 16, fields: { addr: 0 } },
  vw_endpoint: { size: 16, fields: { vrf_id: 0, flags: 4, ifindex: 8, pad: 12 } },
  vw_vrf_pair: { size: 8, fields: { src_vrf: 0, dst_vrf: 4 } },
  vw_vrf_pair_value: { size: 4, fields: { flags: 0 } },
  vw_network: { size: 4, fields: { flags: 0 } },
  vw_cidr_key: { size: 20, fields: { prefixlen: 0, addr: 4 } },
  vw_cidr_value: { size: 4, fields: { kind: 0 } },
  vw_counter: { size: 16, fields: { packets: 0, bytes: 8 } },
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
}

export const encodeEndpointKey = addrToKey;
export const decodeEndpointKey = (key: Buffer): string => keyToAddr(key);

export function encodeEndpoint(ep: EndpointValue): Buffer {
  const f = Layout.vw_endpoint.fields;
  const buf = Buffer.alloc(Layout.vw_endpoint.size);
  writeU32(buf, ep.vrfId, f.vrf_id);
  writeU32(buf, ep.flags, f.flags);
  writeU32(buf, ep.ifindex, f.ifindex);
  return buf;
}

export function decodeEndpoint(buf: Buffer): EndpointValue {
  const f = Layout.vw_endpoint.fields;
  expectSize(buf, Layout.vw_endpoint.size, 'vw_endpoint');
  return {
    vrfId: readU32(buf, f.vrf_id),
    flags: readU32(buf, f.flags),
    ifindex: readU32(buf, f.ifindex),
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

export function encodeNetworkKey(vrfId: number): Buffer {
  const buf = Buffer.alloc(U32_SIZE);
  writeU32(buf, vrfId, 0);
  return buf;
}

export function decodeNetworkKey(buf: Buffer): number {
  expectSize(buf, U32_SIZE, 'network key');
  return readU32(buf, 0);
}

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
