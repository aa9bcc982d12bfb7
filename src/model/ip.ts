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
  // Fast path (every pod IP goes through here on every compile): a strict
  // dotted quad is its own canonical form.
  if (dottedQuad(t) !== undefined) return t;
  if (ipaddr.IPv4.isValidFourPartDecimal(t)) return ipaddr.IPv4.parse(t).toString();
  if (!ipaddr.IPv6.isValid(t) || t.includes('%')) return undefined;
  // process() turns IPv4-mapped IPv6 into IPv4; toString() is RFC 5952 form.
  return ipaddr.process(t).toString();
}

/** canonicalIp for an address that must be one (the lab's own, a kernel's
 *  report): a clear error instead of undefined. */
export function requireCanonicalIp(text: string): string {
  const c = canonicalIp(text);
  if (c === undefined) throw new Error(`not an IP address: ${JSON.stringify(text)}`);
  return c;
}

const DOTTED_QUAD = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

/**
 * The four bytes of a strict dotted quad (four decimal parts 0-255, no
 * leading zeros: what ipaddr.js calls "valid four-part decimal"), or
 * undefined for anything else. A cheap check for the common case on hot
 * paths; callers fall back to ipaddr.js for every other form.
 */
export function dottedQuad(t: string): [number, number, number, number] | undefined {
  const m = DOTTED_QUAD.exec(t);
  if (m === null) return undefined;
  const a = Number(m[1]);
  const b = Number(m[2]);
  const c = Number(m[3]);
  const d = Number(m[4]);
  return a <= 255 && b <= 255 && c <= 255 && d <= 255 ? [a, b, c, d] : undefined;
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
