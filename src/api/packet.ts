// Synthesized frames for explain: Ethernet + IPv4/IPv6 + a TCP SYN, a UDP
// datagram or an ICMP echo request, as a pod would send them. The programs
// look at headers only; checksums other than IPv4's are left zero.
import ipaddr from 'ipaddr.js';
import { macToBytes } from '../kernel/abi.js';

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const SRC_MAC = Buffer.from([0x02, 0x76, 0x77, 0, 0, 1]);
const DST_MAC = Buffer.from([0x02, 0x76, 0x77, 0, 0, 2]);
const TTL = 64;
const IPV4_DF = 0x4000;
const TCP_SYN = 0x02;
export const PROBE_SPORT = 40000;
const ICMP_ECHO = 8;
const ICMPV6_ECHO = 128;

export interface ProbePacket {
  src: string;
  dst: string;
  /** IP protocol number */
  proto: number;
  dport: number;
  /** the sender's MAC ("aa:bb:..."): a bridge port's from_pod passes only its pod's */
  srcMac?: string;
}

function l4(p: ProbePacket, v6: boolean): Buffer {
  switch (p.proto) {
    case 6: {
      const b = Buffer.alloc(20);
      b.writeUInt16BE(PROBE_SPORT, 0);
      b.writeUInt16BE(p.dport, 2);
      b.writeUInt32BE(1, 4); // seq
      b[12] = 5 << 4; // data offset
      b[13] = TCP_SYN;
      b.writeUInt16BE(0xffff, 14); // window
      return b;
    }
    case 17:
    case 132: {
      const b = Buffer.alloc(16);
      b.writeUInt16BE(PROBE_SPORT, 0);
      b.writeUInt16BE(p.dport, 2);
      if (p.proto === 17) b.writeUInt16BE(b.length, 4);
      return b;
    }
    case 1:
    case 58: {
      const b = Buffer.alloc(8);
      b[0] = v6 ? ICMPV6_ECHO : ICMP_ECHO;
      b.writeUInt16BE(0x7677, 4); // identifier
      b.writeUInt16BE(1, 6); // sequence
      return b;
    }
    default:
      return Buffer.alloc(8);
  }
}

function ipv4Checksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += h.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function probeFrame(p: ProbePacket): Buffer {
  const src = ipaddr.process(p.src);
  const dst = ipaddr.process(p.dst);
  if (src.kind() !== dst.kind()) throw new Error(`address families differ: ${p.src} -> ${p.dst}`);
  const v6 = src.kind() === 'ipv6';
  const payload = l4(p, v6);
  const eth = Buffer.alloc(14);
  DST_MAC.copy(eth, 0);
  (p.srcMac !== undefined ? macToBytes(p.srcMac) : SRC_MAC).copy(eth, 6);
  eth.writeUInt16BE(v6 ? ETH_P_IPV6 : ETH_P_IP, 12);
  if (!v6) {
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + payload.length, 2);
    ip.writeUInt16BE(IPV4_DF, 6);
    ip[8] = TTL;
    ip[9] = p.proto;
    Buffer.from(src.toByteArray()).copy(ip, 12);
    Buffer.from(dst.toByteArray()).copy(ip, 16);
    ip.writeUInt16BE(ipv4Checksum(ip), 10);
    return Buffer.concat([eth, ip, payload]);
  }
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE(0x60000000, 0);
  ip.writeUInt16BE(payload.length, 4);
  ip[6] = p.proto;
  ip[7] = TTL;
  Buffer.from(src.toByteArray()).copy(ip, 8);
  Buffer.from(dst.toByteArray()).copy(ip, 24);
  return Buffer.concat([eth, ip, payload]);
}
