// Crafted frames for the datapath tests, as plain Buffers: Ethernet (with
// optional VLAN tags), IPv4 (options, fragments), IPv6 (extension headers),
// ARP, TCP/UDP/ICMP/ICMPv6. Every builder lets a test override the fields a
// bypass attempt would lie about. Only the IPv4 header checksum is computed;
// the programs under test do not look at L4 checksums.
import ipaddr from 'ipaddr.js';

export const EthType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100, // 802.1Q
  QINQ: 0x88a8, // 802.1ad
  IPV6: 0x86dd,
  MPLS: 0x8847,
  LLDP: 0x88cc,
} as const;

export const IpProto = {
  HOPOPTS: 0,
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NONE: 59,
  DSTOPTS: 60,
} as const;

export const Icmp6Type = {
  ECHO_REQUEST: 128,
  MLD2_REPORT: 143,
  ROUTER_SOLICIT: 133,
  ROUTER_ADVERT: 134,
  NEIGHBOR_SOLICIT: 135,
  NEIGHBOR_ADVERT: 136,
  REDIRECT: 137,
} as const;

const u16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v & 0xffff);
  return b;
};

export function ipBytes(text: string): Buffer {
  return Buffer.from(ipaddr.parse(text).toByteArray());
}

export function macBytes(text: string): Buffer {
  const parts = text.split(':').map((h) => parseInt(h, 16));
  if (parts.length !== 6 || parts.some((p) => !(p >= 0 && p <= 255))) throw new Error(`bad MAC ${text}`);
  return Buffer.from(parts);
}

// ---- Ethernet ---------------------------------------------------------------

export interface EthernetOptions {
  type: number;
  src?: string;
  dst?: string;
  /** tags, outermost first: each adds TPID + TCI before the type */
  vlans?: { tpid?: number; vid: number }[];
}

export const POD_MAC = '02:00:00:00:00:01';
export const NODE_MAC = '02:00:00:00:00:fe';

export function ethernet(opts: EthernetOptions, payload: Buffer = Buffer.alloc(0)): Buffer {
  const tags = (opts.vlans ?? []).map((v) => Buffer.concat([u16(v.tpid ?? EthType.VLAN), u16(v.vid)]));
  return Buffer.concat([
    macBytes(opts.dst ?? NODE_MAC),
    macBytes(opts.src ?? POD_MAC),
    ...tags,
    u16(opts.type),
    payload,
  ]);
}

// ---- IPv4 -------------------------------------------------------------------

export interface Ipv4Options {
  src: string;
  dst: string;
  protocol: number;
  ttl?: number;
  id?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** fragment offset in 8-byte units */
  fragmentOffset?: number;
  /** raw option bytes; padded with EOL to a multiple of 4 */
  options?: Buffer;
  /** lies: override the header fields */
  version?: number;
  ihl?: number;
  totalLength?: number;
}

function checksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function ipv4(opts: Ipv4Options, payload: Buffer = Buffer.alloc(0)): Buffer {
  const raw = opts.options ?? Buffer.alloc(0);
  const options = Buffer.concat([raw, Buffer.alloc((4 - (raw.length % 4)) % 4)]);
  const h = Buffer.alloc(20);
  const ihl = opts.ihl ?? (20 + options.length) / 4;
  h[0] = ((opts.version ?? 4) << 4) | (ihl & 0xf);
  h.writeUInt16BE((opts.totalLength ?? 20 + options.length + payload.length) & 0xffff, 2);
  h.writeUInt16BE(opts.id ?? 1, 4);
  const flags = (opts.dontFragment ? 0x4000 : 0) | (opts.moreFragments ? 0x2000 : 0);
  h.writeUInt16BE(flags | ((opts.fragmentOffset ?? 0) & 0x1fff), 6);
  h[8] = opts.ttl ?? 64;
  h[9] = opts.protocol;
  ipBytes(opts.src).copy(h, 12);
  ipBytes(opts.dst).copy(h, 16);
  const header = Buffer.concat([h, options]);
  header.writeUInt16BE(checksum(header), 10);
  return Buffer.concat([header, payload]);
}

/** IPv4 option TLVs. */
export const ipv4Option = {
  eol: (): Buffer => Buffer.from([0]),
  nop: (): Buffer => Buffer.from([1]),
  /** loose source route (131) through the given hops */
  lsrr: (hops: string[]): Buffer => sourceRoute(131, hops),
  /** strict source route (137) */
  ssrr: (hops: string[]): Buffer => sourceRoute(137, hops),
  /** record route (7) with room for n addresses */
  recordRoute: (n: number): Buffer => Buffer.concat([Buffer.from([7, 3 + 4 * n, 4]), Buffer.alloc(4 * n)]),
  /** router alert (148) */
  routerAlert: (): Buffer => Buffer.from([148, 4, 0, 0]),
  raw: (type: number, len: number, data: Buffer = Buffer.alloc(0)): Buffer =>
    Buffer.concat([Buffer.from([type, len]), data]),
};

function sourceRoute(type: number, hops: string[]): Buffer {
  return Buffer.concat([Buffer.from([type, 3 + 4 * hops.length, 4]), ...hops.map(ipBytes)]);
}

// ---- IPv6 -------------------------------------------------------------------

export interface Ipv6Options {
  src: string;
  dst: string;
  nextHeader: number;
  hopLimit?: number;
  /** lies */
  version?: number;
  payloadLength?: number;
}

export function ipv6(opts: Ipv6Options, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(((opts.version ?? 6) << 28) >>> 0, 0);
  h.writeUInt16BE((opts.payloadLength ?? payload.length) & 0xffff, 4);
  h[6] = opts.nextHeader;
  h[7] = opts.hopLimit ?? 64;
  ipBytes(opts.src).copy(h, 8);
  ipBytes(opts.dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

/** One extension header: its protocol number and its bytes given the next header. */
export interface ExtHeader {
  proto: number;
  bytes(next: number): Buffer;
}

/** Options header (hop-by-hop or destination) of 8 * units bytes, PadN-filled. */
function optionsHeader(proto: number, units = 1): ExtHeader {
  return {
    proto,
    bytes: (next) => {
      const b = Buffer.alloc(8 * units);
      b[0] = next;
      b[1] = units - 1;
      b[2] = 1; // PadN
      b[3] = b.length - 4;
      return b;
    },
  };
}

export const ext = {
  hopByHop: (units = 1): ExtHeader => optionsHeader(IpProto.HOPOPTS, units),
  destOpts: (units = 1): ExtHeader => optionsHeader(IpProto.DSTOPTS, units),
  /** routing header (type 4 = segment routing, 0 = deprecated RH0) */
  routing: (segmentsLeft: number, addresses: string[] = ['fd00:99::1'], type = 4): ExtHeader => ({
    proto: IpProto.ROUTING,
    bytes: (next) => {
      const b = Buffer.alloc(8);
      b[0] = next;
      b[1] = 2 * addresses.length;
      b[2] = type;
      b[3] = segmentsLeft;
      return Buffer.concat([b, ...addresses.map(ipBytes)]);
    },
  }),
  /** offset in 8-byte units */
  fragment: (offset: number, more: boolean, id = 0x1234): ExtHeader => ({
    proto: IpProto.FRAGMENT,
    bytes: (next) => {
      const b = Buffer.alloc(8);
      b[0] = next;
      b.writeUInt16BE(((offset << 3) | (more ? 1 : 0)) & 0xffff, 2);
      b.writeUInt32BE(id, 4);
      return b;
    },
  }),
  /** authentication header with a 12-byte ICV (length field = 4) */
  ah: (): ExtHeader => ({
    proto: IpProto.AH,
    bytes: (next) => {
      const b = Buffer.alloc(24);
      b[0] = next;
      b[1] = 24 / 4 - 2;
      return b;
    },
  }),
};

/** Chain extension headers in front of an upper-layer payload: returns the
 *  IPv6 header's next-header value and the bytes after the IPv6 header. */
export function chain(exts: ExtHeader[], upperProto: number, upper: Buffer): { nextHeader: number; payload: Buffer } {
  const parts: Buffer[] = [];
  for (let i = 0; i < exts.length; i++) parts.push(exts[i]!.bytes(exts[i + 1]?.proto ?? upperProto));
  return { nextHeader: exts[0]?.proto ?? upperProto, payload: Buffer.concat([...parts, upper]) };
}

// ---- L4 ---------------------------------------------------------------------

export function tcp(opts: { sport?: number; dport?: number; flags?: number; dataOffset?: number } = {}): Buffer {
  const doff = opts.dataOffset ?? 5;
  const b = Buffer.alloc(Math.max(20, doff * 4));
  b.writeUInt16BE(opts.sport ?? 40000, 0);
  b.writeUInt16BE(opts.dport ?? 8080, 2);
  b[12] = (doff & 0xf) << 4;
  b[13] = opts.flags ?? 0x02; // SYN
  b.writeUInt16BE(65535, 14);
  return b;
}

export function udp(opts: { sport?: number; dport?: number; data?: Buffer } = {}): Buffer {
  const data = opts.data ?? Buffer.from('vrfwall');
  const b = Buffer.alloc(8);
  b.writeUInt16BE(opts.sport ?? 40000, 0);
  b.writeUInt16BE(opts.dport ?? 8080, 2);
  b.writeUInt16BE(8 + data.length, 4);
  return Buffer.concat([b, data]);
}

/** ICMP echo request (type 8) */
export function icmpEcho(opts: { type?: number; id?: number; seq?: number } = {}): Buffer {
  const b = Buffer.alloc(8);
  b[0] = opts.type ?? 8;
  b.writeUInt16BE(opts.id ?? 1, 4);
  b.writeUInt16BE(opts.seq ?? 1, 6);
  return b;
}

/** ICMPv6 message: type, code, checksum 0, then body */
export function icmpv6(type: number, body: Buffer = Buffer.alloc(4), code = 0): Buffer {
  return Buffer.concat([Buffer.from([type, code, 0, 0]), body]);
}

/** ND options (RFC 4861 4.6), appended after a message's fixed part. */
export const ndOpt = {
  /** source (1) or target (2) link-layer address; `units` lies about the length */
  lladdr: (type: 1 | 2, mac: string, units = 1): Buffer =>
    Buffer.concat([Buffer.from([type, units]), macBytes(mac), Buffer.alloc(Math.max(0, units * 8 - 8))]),
  sourceLladdr: (mac: string): Buffer => ndOpt.lladdr(1, mac),
  targetLladdr: (mac: string): Buffer => ndOpt.lladdr(2, mac),
  /** nonce (14, RFC 3971), as Linux puts in duplicate address detection */
  nonce: (): Buffer => Buffer.from([14, 1, 1, 2, 3, 4, 5, 6]),
  raw: (type: number, units: number, data: Buffer = Buffer.alloc(6)): Buffer => Buffer.concat([Buffer.from([type, units]), data]),
};

export const nd = {
  routerSolicit: (opts: Buffer[] = []): Buffer => icmpv6(Icmp6Type.ROUTER_SOLICIT, Buffer.concat([Buffer.alloc(4), ...opts])),
  routerAdvert: (opts: Buffer[] = []): Buffer => icmpv6(Icmp6Type.ROUTER_ADVERT, Buffer.concat([Buffer.alloc(12), ...opts])),
  neighborSolicit: (target: string, opts: Buffer[] = []): Buffer =>
    icmpv6(Icmp6Type.NEIGHBOR_SOLICIT, Buffer.concat([Buffer.alloc(4), ipBytes(target), ...opts])),
  /** solicited + override flags */
  neighborAdvert: (target: string, opts: Buffer[] = []): Buffer =>
    icmpv6(Icmp6Type.NEIGHBOR_ADVERT, Buffer.concat([Buffer.from([0x60, 0, 0, 0]), ipBytes(target), ...opts])),
  redirect: (target: string, dst: string): Buffer =>
    icmpv6(Icmp6Type.REDIRECT, Buffer.concat([Buffer.alloc(4), ipBytes(target), ipBytes(dst)])),
};

/** IPv6 solicited-node multicast address of an address (ff02::1:ffXX:XXXX). */
export function solicitedNode(addr: string): string {
  const b = ipBytes(addr);
  const tail = [b[13]!, b[14]!, b[15]!].map((x) => x.toString(16).padStart(2, '0'));
  return `ff02::1:ff${tail[0]}:${tail[1]}${tail[2]}`;
}

// ---- ARP --------------------------------------------------------------------

export interface ArpOptions {
  op?: number; // 1 request, 2 reply
  senderMac?: string;
  senderIp: string;
  targetMac?: string;
  targetIp: string;
  /** lies */
  hwType?: number;
  protoType?: number;
  hwLen?: number;
  protoLen?: number;
}

export function arp(opts: ArpOptions): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(opts.hwType ?? 1, 0);
  h.writeUInt16BE(opts.protoType ?? EthType.IPV4, 2);
  h[4] = opts.hwLen ?? 6;
  h[5] = opts.protoLen ?? 4;
  h.writeUInt16BE(opts.op ?? 1, 6);
  return Buffer.concat([
    h,
    macBytes(opts.senderMac ?? POD_MAC),
    ipBytes(opts.senderIp),
    macBytes(opts.targetMac ?? '00:00:00:00:00:00'),
    ipBytes(opts.targetIp),
  ]);
}

// ---- whole frames -------------------------------------------------------------

export type L4Kind = 'tcp' | 'udp' | 'icmp';

export function isV6(addr: string): boolean {
  return addr.includes(':');
}

/** Ethernet + IPv4 or IPv6 (by the source address) + a TCP SYN, UDP datagram
 *  or ICMP/ICMPv6 echo request. */
export function ipFrame(src: string, dst: string, l4: L4Kind = 'tcp'): Buffer {
  if (isV6(src)) {
    const [proto, body] =
      l4 === 'tcp'
        ? [IpProto.TCP, tcp()]
        : l4 === 'udp'
          ? [IpProto.UDP, udp()]
          : [IpProto.ICMPV6, icmpv6(Icmp6Type.ECHO_REQUEST, Buffer.from([0, 1, 0, 1]))];
    return ethernet({ type: EthType.IPV6 }, ipv6({ src, dst, nextHeader: proto }, body));
  }
  const [proto, body] =
    l4 === 'tcp' ? [IpProto.TCP, tcp()] : l4 === 'udp' ? [IpProto.UDP, udp()] : [IpProto.ICMP, icmpEcho()];
  return ethernet({ type: EthType.IPV4 }, ipv4({ src, dst, protocol: proto }, body));
}

/** Ethernet + IPv6 with an extension-header chain in front of `upper`. */
export function ipv6Frame(
  src: string,
  dst: string,
  exts: ExtHeader[],
  upperProto: number,
  upper: Buffer,
  extra: Partial<Ipv6Options> = {},
): Buffer {
  const c = chain(exts, upperProto, upper);
  return ethernet({ type: EthType.IPV6 }, ipv6({ src, dst, nextHeader: c.nextHeader, ...extra }, c.payload));
}
