// One canonical text form per address, so that the same address written two
// ways ("fd00::1" / "fd00:0::0001", "::ffff:10.0.0.1" / "10.0.0.1") is one map
// key. The datapath stores IPv4 as IPv4-mapped IPv6, so the mapped form and
// the plain IPv4 form ARE the same endpoint and must collide here too.
import ipaddr from 'ipaddr.js';

/** Canonical text of an IP address, or undefined when it is not one.
 *  Strict: IPv4 only as four decimal parts (no "10.1", no hex/octal forms),
 *  IPv6 without a zone id. */
export function canonicalIp(text: string): string | undefined {
  const t = text.trim();
  if (ipaddr.IPv4.isValidFourPartDecimal(t)) return ipaddr.IPv4.parse(t).toString();
  if (!ipaddr.IPv6.isValid(t) || t.includes('%')) return undefined;
  // process() turns IPv4-mapped IPv6 into IPv4; toString() is RFC 5952 form.
  return ipaddr.process(t).toString();
}

/** Canonical "network/prefix" of a CIDR (host bits cleared), or undefined. */
export function canonicalCidr(text: string): string | undefined {
  const t = text.trim();
  const slash = t.indexOf('/');
  if (slash < 0 || canonicalIp(t.slice(0, slash)) === undefined) return undefined;
  if (!/^\d{1,3}$/.test(t.slice(slash + 1))) return undefined;
  try {
    const [addr, len] = ipaddr.parseCIDR(t);
    const net =
      addr.kind() === 'ipv4'
        ? ipaddr.IPv4.networkAddressFromCIDR(t)
        : ipaddr.IPv6.networkAddressFromCIDR(t);
    return `${net.toString()}/${len}`;
  } catch {
    return undefined;
  }
}
