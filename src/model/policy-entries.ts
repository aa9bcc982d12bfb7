// One policy set -> its entries of the `policy` hash and the `policy_cidrs`
// trie, and the lookup the programs do on them. Shared by the compile step
// (entries of the local pods' sets, written to the kernel) and the verdict
// evaluator (entries of any pod's set, computed on demand), so what-if,
// explain and the datapath read the same entries the same way. Pure.
//
// Entries, per (set, peer):
//   - a peer identity a rule's pod peers match (or any identity, for a rule
//     without peers): the rule's ports, a port by name resolved against the
//     selected pod (ingress: the set's own named ports) or the destination
//     (egress: the peer identity's named ports); a rule without ports is
//     proto 0 (any protocol, any port: ICMP too).
//   - address blocks (ipBlock; 0.0.0.0/0 and ::/0 for a rule without peers):
//     every block and every except is an entry whose ranges are the union over
//     the rule blocks that contain it and none of whose excepts does, so the
//     longest-prefix match gives Kubernetes's answer (an except of one policy
//     never removes what another allows). An entry with no ranges (n = 0) is
//     written when a shorter entry of its tree would otherwise answer for it.
//     Families stay apart: the trie holds IPv4 as ::ffff:a.b.c.d, so a tree
//     with an IPv6 entry containing ::ffff:0:0/96 (::/0, ::/64, ...) also gets
//     0.0.0.0/0 with the IPv4 rules' answer there (guardMapped).
//     A port by name on an address peer: ingress resolves it against the
//     selected pod; egress cannot (an address has no container ports), so it
//     allows nothing there (fail closed; the same rule's pod peers resolve it).
//   - egress sets: each ClusterIP (/32, /128) with the Service ports whose
//     every ready backend the set allows at its target port (kube-proxy may
//     pick any of them); no ranges for the rest, so a block containing the
//     ClusterIP never answers for it.
// More than 16 ranges spill into slots 1..3 (VW_POLICY_MORE on every slot but
// the last); past 64 the rest are dropped (denied) and reported.
import ipaddr from 'ipaddr.js';
import {
  POLICY_PROTO_ANY,
  POLICY_RANGES_PER_SLOT,
  POLICY_SLOTS,
  policyCidrKeyText,
  policyKeyText,
  type NamedPort,
  type PolicyInfo,
  type PolicyProto,
  type PolicyRuleInfo,
  type PolicySetInfo,
  type PolicyValue,
  type PortRange,
} from './policy-types.js';
import type { L4Protocol, NetworkPolicyPort } from './types.js';

/** vw_policy_value.flags: the ranges continue in slot + 1 of the same key (abi.ts VW_POLICY_MORE). */
export const POLICY_MORE = 1;

const PROTO_NUMBER: Record<L4Protocol, 6 | 17 | 132> = { TCP: 6, UDP: 17, SCTP: 132 };
const PORTED: readonly PolicyProto[] = [6, 17, 132];
const ALL_PROTOS: readonly PolicyProto[] = [0, 6, 17, 132];
const ANY_RANGE: PortRange = Object.freeze({ lo: 0, hi: 65535 });
const EVERY_V4 = '0.0.0.0/0';
const EVERY_V6 = '::/0';

export interface SetEntries {
  policy: Map<string, PolicyValue>;
  cidrs: Map<string, PolicyValue>;
  /** what could not be written (more than 64 ranges for one key) */
  problems: string[];
}

/** Ranges per protocol (0: any protocol, any port). */
type ProtoRanges = Map<PolicyProto, PortRange[]>;

/** A rule's ports as ranges per protocol; `named`: the ports a name resolves against (none: a name matches nothing). */
export function ruleRanges(ports: readonly NetworkPolicyPort[], named: readonly NamedPort[], into: ProtoRanges = new Map()): ProtoRanges {
  if (ports.length === 0) {
    add(into, POLICY_PROTO_ANY, ANY_RANGE);
    return into;
  }
  for (const p of ports) {
    const proto = PROTO_NUMBER[p.protocol];
    if (p.port === undefined) add(into, proto, ANY_RANGE);
    else if (typeof p.port === 'number') add(into, proto, { lo: p.port, hi: p.endPort ?? p.port });
    else for (const n of named) if (n.name === p.port && n.protocol === p.protocol) add(into, proto, { lo: n.port, hi: n.port });
  }
  return into;
}

function add(m: ProtoRanges, proto: PolicyProto, r: PortRange): void {
  const list = m.get(proto);
  if (list === undefined) m.set(proto, [r]);
  else list.push(r);
}

/** Sorted, merged (overlapping and adjacent joined). */
export function mergeRanges(list: readonly PortRange[]): PortRange[] {
  const sorted = [...list].sort((a, b) => a.lo - b.lo || a.hi - b.hi);
  const out: PortRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.lo <= last.hi + 1) {
      if (r.hi > last.hi) out[out.length - 1] = { lo: last.lo, hi: r.hi };
    } else out.push({ lo: r.lo, hi: r.hi });
  }
  return out;
}

/** The slots of one key: at most 16 ranges each, VW_POLICY_MORE on all but the last. */
function slots(ranges: readonly PortRange[], what: () => string, problems: string[]): PolicyValue[] {
  const merged = mergeRanges(ranges);
  if (merged.length === 0) return [{ flags: 0, ranges: [] }];
  const max = POLICY_RANGES_PER_SLOT * POLICY_SLOTS;
  if (merged.length > max) problems.push(`${what()}: ${merged.length} port ranges, at most ${max}; the last ${merged.length - max} are not allowed`);
  const kept = merged.slice(0, max);
  const out: PolicyValue[] = [];
  for (let i = 0; i < kept.length; i += POLICY_RANGES_PER_SLOT) {
    const more = i + POLICY_RANGES_PER_SLOT < kept.length;
    out.push({ flags: more ? POLICY_MORE : 0, ranges: kept.slice(i, i + POLICY_RANGES_PER_SLOT) });
  }
  return out;
}

/** One ipBlock of a rule (or the whole of a family, for a rule without peers) with its rule's ports. */
interface RuleBlock {
  cidr: string;
  except: readonly string[];
  ranges: ProtoRanges;
}

interface Block {
  net: ipaddr.IPv4 | ipaddr.IPv6;
  len: number;
}

const blockCache = new Map<string, Block>();
function block(cidr: string): Block {
  let b = blockCache.get(cidr);
  if (b === undefined) {
    const [net, len] = ipaddr.parseCIDR(cidr);
    b = { net, len };
    if (blockCache.size < 100_000) blockCache.set(cidr, b);
  }
  return b;
}

/** Is block `inner` inside block `outer` (equal counts)? */
function within(inner: string, outer: string): boolean {
  const a = block(inner);
  const b = block(outer);
  return a.net.kind() === b.net.kind() && a.len >= b.len && a.net.match(b.net, b.len);
}

/**
 * The entries of one set (`only`: just the rules of that policy, for naming
 * the policy that allows). `identities`: every identity the set's rules may
 * name (for rules without peers); named ports from `info`.
 */
export function setEntries(info: PolicyInfo, set: PolicySetInfo, only?: string): SetEntries {
  const out: SetEntries = { policy: new Map(), cidrs: new Map(), problems: [] };
  const rules = only === undefined ? set.rules : set.rules.filter((r) => r.policy === only);
  const ingress = set.direction === 'ingress';

  // Pod peers, by identity.
  const byIdentity = new Map<number, ProtoRanges>();
  const forIdentity = (id: number, rule: PolicyRuleInfo): void => {
    const named = ingress ? set.ownPorts : (info.identities.get(id)?.namedPorts ?? []);
    let m = byIdentity.get(id);
    if (m === undefined) byIdentity.set(id, (m = new Map()));
    ruleRanges(rule.ports, named, m);
  };
  for (const rule of rules) {
    if (rule.anyPeer) for (const id of info.identities.keys()) forIdentity(id, rule);
    else for (const id of rule.identities) forIdentity(id, rule);
  }
  for (const [id, m] of [...byIdentity].sort(([a], [b]) => a - b)) {
    for (const proto of ALL_PROTOS) {
      const ranges = m.get(proto);
      if (ranges === undefined || ranges.length === 0) continue;
      slots(proto === POLICY_PROTO_ANY ? [ANY_RANGE] : ranges, () => `policy set ${set.id} peer identity ${id} proto ${proto}`, out.problems).forEach((v, slot) =>
        out.policy.set(policyKeyText({ set: set.id, identity: id, proto, slot }), v),
      );
    }
  }

  // Address peers.
  const ruleBlocks: RuleBlock[] = [];
  for (const rule of rules) {
    const blocks = rule.anyPeer ? [{ cidr: EVERY_V4, except: [] }, { cidr: EVERY_V6, except: [] }] : rule.blocks;
    for (const b of blocks) ruleBlocks.push({ cidr: b.cidr, except: b.except, ranges: ruleRanges(rule.ports, ingress ? set.ownPorts : []) });
  }
  const trees = new Map<PolicyProto, Map<string, PortRange[]>>(); // proto -> cidr -> ranges
  if (ruleBlocks.length > 0) {
    const points = new Set<string>();
    for (const rb of ruleBlocks) {
      points.add(rb.cidr);
      for (const e of rb.except) points.add(e);
    }
    for (const proto of ALL_PROTOS) {
      if (!ruleBlocks.some((rb) => rb.ranges.has(proto))) continue;
      const tree = new Map<string, PortRange[]>();
      for (const x of points) {
        const ranges: PortRange[] = [];
        for (const rb of ruleBlocks) {
          const r = rb.ranges.get(proto);
          if (r === undefined || !within(x, rb.cidr) || rb.except.some((e) => within(x, e))) continue;
          ranges.push(...r);
        }
        tree.set(x, proto === POLICY_PROTO_ANY && ranges.length > 0 ? [ANY_RANGE] : ranges);
      }
      // A point with no ranges matters only inside a point that has some.
      for (const [x, r] of tree) if (r.length === 0 && ![...tree].some(([y, ry]) => ry.length > 0 && y !== x && within(x, y))) tree.delete(x);
      guardMapped(tree, ruleBlocks, proto);
      if (tree.size > 0) trees.set(proto, tree);
    }
  }

  // ClusterIPs (egress): judged by their ready backends, each with the lookup the programs do.
  if (!ingress && info.vips.size > 0 && rules.length > 0) {
    const partial = new EntryLookup({ policy: out.policy, cidrs: cidrMap(set.id, trees, out.problems) });
    const vipRanges = new Map<string, ProtoRanges>();
    for (const [vip, ports] of info.vips) {
      const m: ProtoRanges = new Map();
      for (const p of ports) {
        if (p.backends.length === 0) continue;
        const ok = p.backends.every((b) => partial.allows(set.id, info.addresses.get(b.ip)?.identity ?? 0, b.ip, p.proto, b.port));
        if (ok) add(m, p.proto, { lo: p.port, hi: p.port });
      }
      vipRanges.set(vip, m);
    }
    for (const [vip, m] of vipRanges) {
      const cidr = vip.includes(':') ? `${vip}/128` : `${vip}/32`;
      for (const proto of ALL_PROTOS) {
        const mine = m.get(proto) ?? [];
        let tree = trees.get(proto);
        const covered = tree !== undefined && [...tree].some(([y, r]) => r.length > 0 && within(cidr, y));
        if (mine.length === 0 && !covered) continue;
        if (tree === undefined) trees.set(proto, (tree = new Map()));
        // Only the Service's answer, also when a block is exactly this /32 (the backends decide).
        tree.set(cidr, mine);
      }
    }
  }
  out.cidrs = cidrMap(set.id, trees, out.problems);
  return out;
}

/** ::ffff:0:0/96, where the trie holds every IPv4 address (0.0.0.0/0 is this key). */
const MAPPED = ipaddr.IPv6.parse('::ffff:0:0');

/** Does an IPv6 block contain the IPv4-mapped range (::/n, n <= 96, and its like)? */
function coversMapped(cidr: string): boolean {
  const b = block(cidr);
  return b.net.kind() === 'ipv6' && b.len <= 96 && MAPPED.match(b.net, b.len);
}

/**
 * The trie holds IPv4 as ::ffff:a.b.c.d, so an IPv6 entry containing
 * ::ffff:0:0/96 would answer for every IPv4 peer no IPv4 entry covers; in
 * Kubernetes an IPv6 block matches IPv6 peers only. When the tree has such an
 * entry, 0.0.0.0/0 (the key ::ffff:0:0/96, longer than any of them) gets the
 * union of the IPv4 rules containing it (with no ranges when none does), so
 * the longest match for an IPv4 peer is always an IPv4 entry.
 */
function guardMapped(tree: Map<string, PortRange[]>, ruleBlocks: readonly RuleBlock[], proto: PolicyProto): void {
  if (tree.has(EVERY_V4) || ![...tree.keys()].some(coversMapped)) return;
  const ranges: PortRange[] = [];
  for (const rb of ruleBlocks) {
    const r = rb.ranges.get(proto);
    // An except never contains 0.0.0.0/0 (it is strictly inside its block), so only the block is asked.
    if (r !== undefined && within(EVERY_V4, rb.cidr)) ranges.push(...r);
  }
  tree.set(EVERY_V4, proto === POLICY_PROTO_ANY && ranges.length > 0 ? [ANY_RANGE] : ranges);
}

function cidrMap(setId: number, trees: ReadonlyMap<PolicyProto, ReadonlyMap<string, PortRange[]>>, problems: string[]): Map<string, PolicyValue> {
  const out = new Map<string, PolicyValue>();
  for (const [proto, tree] of trees) {
    for (const [cidr, ranges] of tree) {
      slots(ranges, () => `policy set ${setId} ${cidr} proto ${proto}`, problems).forEach((v, slot) => out.set(policyCidrKeyText({ cidr, set: setId, proto, slot }), v));
    }
  }
  return out;
}

function inRanges(v: PolicyValue, port: number): boolean {
  for (const r of v.ranges) if (port >= r.lo && port <= r.hi) return true;
  return false;
}

/**
 * The programs' policy lookup over desired entries: `policy` (set, peer
 * identity, proto, slot 0.., following VW_POLICY_MORE), then (set, peer, 0,
 * 0); then the same in `policy_cidrs` by longest prefix of the peer address
 * (IPv4 as ::ffff:a.b.c.d, both addresses and entries, as in the kernel).
 * A proto-0 entry allows when it has a range (any protocol and port); a
 * protocol without ports (ICMP) finds only proto-0 entries.
 */
export class EntryLookup {
  /** (set|proto|slot) -> entries, longest prefix first */
  private readonly tries = new Map<string, { block: { net: ipaddr.IPv6; len: number }; cidr: string; value: PolicyValue }[]>();

  constructor(private readonly maps: { policy: ReadonlyMap<string, PolicyValue>; cidrs: ReadonlyMap<string, PolicyValue> }) {
    for (const [key, value] of maps.cidrs) {
      const bar = key.indexOf('|');
      const cidr = key.slice(0, bar);
      const rest = key.slice(bar + 1);
      let list = this.tries.get(rest);
      if (list === undefined) this.tries.set(rest, (list = []));
      list.push({ block: asKernel(block(cidr)), cidr, value });
    }
    for (const list of this.tries.values()) list.sort((a, b) => b.block.len - a.block.len);
  }

  allows(set: number, identity: number, addr: string, protocol: number, port: number): boolean {
    const proto = PORTED.includes(protocol as PolicyProto) ? (protocol as PolicyProto) : undefined;
    if (identity !== 0) {
      if (proto !== undefined) {
        for (let slot = 0; slot < POLICY_SLOTS; slot++) {
          const v = this.maps.policy.get(policyKeyText({ set, identity, proto, slot }));
          if (v === undefined) break;
          if (inRanges(v, port)) return true;
          if ((v.flags & POLICY_MORE) === 0) break;
        }
      }
      const any = this.maps.policy.get(policyKeyText({ set, identity, proto: 0, slot: 0 }));
      if (any !== undefined && any.ranges.length > 0) return true;
    }
    const a = asKernelAddr(ipaddr.parse(addr));
    if (proto !== undefined) {
      const hit = this.longest(set, proto, 0, a);
      if (hit !== undefined) {
        let v: PolicyValue | undefined = hit.value;
        for (let slot = 0; v !== undefined && slot < POLICY_SLOTS; ) {
          if (inRanges(v, port)) return true;
          if ((v.flags & POLICY_MORE) === 0) break;
          slot++;
          v = this.maps.cidrs.get(policyCidrKeyText({ cidr: hit.cidr, set, proto, slot }));
        }
      }
    }
    const any = this.longest(set, 0, 0, a);
    return any !== undefined && any.value.ranges.length > 0;
  }

  private longest(set: number, proto: PolicyProto, slot: number, addr: ipaddr.IPv6): { cidr: string; value: PolicyValue } | undefined {
    const list = this.tries.get(`${set}|${proto}|${slot}`);
    if (list === undefined) return undefined;
    for (const e of list) if (addr.match(e.block.net, e.block.len)) return e;
    return undefined;
  }
}

/** A block as the trie holds it: IPv4 /n as ::ffff:a.b.c.d/(96 + n), so the lookup matches across families exactly
 *  as the kernel's does (the compile, guardMapped, keeps IPv6 blocks from answering for IPv4 peers). */
function asKernel(b: Block): { net: ipaddr.IPv6; len: number } {
  return b.net.kind() === 'ipv4' ? { net: (b.net as ipaddr.IPv4).toIPv4MappedAddress(), len: 96 + b.len } : { net: b.net as ipaddr.IPv6, len: b.len };
}

function asKernelAddr(a: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv6 {
  return a.kind() === 'ipv4' ? (a as ipaddr.IPv4).toIPv4MappedAddress() : (a as ipaddr.IPv6);
}
