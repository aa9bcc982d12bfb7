// The verdict of design section 3 computed from a DesiredState, without the
// kernel: what vw_decide (bpf/lib/policy.h, bpf/lib/service.h) gives for a
// connection's OPENING packet at the sender's from_pod and at the receiver's
// to_pod. It reads exactly the map contents the compile step hands the map
// writer (endpoints, vrf_pairs, networks, cidrs, services, backends), so a
// proposed state is judged the way the programs would judge it once written.
// what-if is its user; test/verdict-kernel.test.ts holds it to the loaded
// programs. Out of scope: L2, spoofing, ND, fragments, the session table (an
// opening packet has no session, so rule 5 never applies) and its quota.
//
// Audit mode (issue 19 item 1, src/model/enforcement.ts) as the compile step
// writes it: a would-be ISOLATED between two networks that are both OPEN
// (VW_NET_OPEN), a would-be SERVICE_DENIED of an OPEN client at an address
// with its audit entry (client VW_SVC_AUDIT_VRF), and a would-be
// EXTERNAL_DENIED of an audited network (VW_NET_AUDIT) are AUDIT: they pass,
// recorded with that reason. Every other drop stays a drop. The node-wide
// setting (nodeAudit) makes all three AUDIT at every hook judged.
//
// NetworkPolicy (issue 16, bpf/lib/netpol.h vw_netpol_apply) after that: a
// packet segmentation lets pass (audit too: audit never relaxes policy) is
// judged against the local pod's egress set at from_pod and its ingress set
// at to_pod, with the entries the compile step writes for that set
// (policy-entries.ts), computed here for any pod of the cluster from
// DesiredState.policyInfo (a what-if's compile has no local pods). The node,
// host-network pods and link-scope peers are never denied by ingress policy.
// The decision names the policy that allowed, or the policies selecting the
// pod when none did.
import ipaddr from 'ipaddr.js';
import {
  AllowRule,
  DropReason,
  VW_CIDR_POD,
  VW_CIDR_SERVICE,
  VW_EP_HOST,
  VW_EP_NO_BACKEND,
  VW_EP_QUARANTINE,
  VW_NET_AUDIT,
  VW_NET_EXTERNAL_DENY,
  VW_NET_OPEN,
  VW_SVC_ANY_VRF,
  VW_SVC_AUDIT_VRF,
  VW_SVC_FRONTEND_VRF,
  VW_SVC_NODE_ADDR,
  VW_TUNNEL_PORT_GENEVE,
  VW_TUNNEL_PORT_VXLAN,
  VW_TUNNEL_PORT_VXLAN_LINUX,
  allowRuleName,
  dropReasonName,
} from '../kernel/abi.js';
import { canonicalIp } from './ip.js';
import { EntryLookup, setEntries } from './policy-entries.js';
import type { PolicyInfo, PolicySetInfo } from './policy-types.js';
import { serviceEntryKey, type DesiredEndpoint, type DesiredServiceEntry, type DesiredState, type L4Protocol } from './types.js';

export type Hook = 'from_pod' | 'to_pod';

/** A connection's first packet as one hook sees it (TCP: a SYN). */
export interface OpeningPacket {
  src: string;
  dst: string;
  /** IP protocol number (6 TCP, 17 UDP, 132 SCTP, 1/58 ICMP, ...) */
  protocol: number;
  sport: number;
  dport: number;
}

export type VerdictName = 'ALLOWED' | 'DROPPED' | 'AUDIT';

export interface Decision {
  verdict: VerdictName;
  /** AllowRule when ALLOWED, else the DropReason (for AUDIT: the one it would have had) */
  code: number;
  /** its name: SAME_NETWORK, ISOLATED, ... */
  reason: string;
  /** NetworkPolicy's part, when a policy selects the pod at this hook: "allowed by NetworkPolicy ns/name",
   *  or "denied: no NetworkPolicy selecting the pod allows it (ns/a, ns/b)" */
  policy?: string;
}

/** The maps vw_decide reads; DesiredState has them all. */
export type VerdictMaps = Pick<DesiredState, 'endpoints' | 'vrfPairs' | 'networks' | 'cidrs' | 'services' | 'backends'> & Partial<Pick<DesiredState, 'policyInfo'>>;

// One frozen Decision per verdict and code: a replay makes hundreds of thousands.
const memo = (make: (code: number) => Decision): ((code: number) => Decision) => {
  const done = new Map<number, Decision>();
  return (code) => {
    let d = done.get(code);
    if (d === undefined) done.set(code, (d = Object.freeze(make(code))));
    return d;
  };
};
const allow = memo((rule) => ({ verdict: 'ALLOWED', code: rule, reason: allowRuleName(rule) }));
const drop = memo((reason) => ({ verdict: 'DROPPED', code: reason, reason: dropReasonName(reason) }));
/** Audit mode: passes, recorded with the drop reason it would have had. */
const audited = memo((reason) => ({ verdict: 'AUDIT', code: reason, reason: dropReasonName(reason) }));

const IPPROTO_IPIP = 4;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
const IPPROTO_IPV6 = 41;
const IPPROTO_GRE = 47;
const IPPROTO_SCTP = 132;

/** peerKind's answer for fe80::/10 and ff02::/16 (not a VW_CIDR_* value). */
const LINK_SCOPE = -1;
const PEER_KINDS_MAX = 1 << 20;

const PROTO_NAME: Record<number, L4Protocol> = { [IPPROTO_TCP]: 'TCP', [IPPROTO_UDP]: 'UDP', [IPPROTO_SCTP]: 'SCTP' };

/** vw_proto_has_ports: the port-based rules apply (an opening packet always has its ports). */
const hasPorts = (protocol: number): boolean => PROTO_NAME[protocol] !== undefined;

function isTunnel(p: OpeningPacket): boolean {
  if (p.protocol === IPPROTO_IPIP || p.protocol === IPPROTO_IPV6 || p.protocol === IPPROTO_GRE) return true;
  return p.protocol === IPPROTO_UDP && (p.dport === VW_TUNNEL_PORT_VXLAN || p.dport === VW_TUNNEL_PORT_VXLAN_LINUX || p.dport === VW_TUNNEL_PORT_GENEVE);
}

/** fe80::/10 or ff02::/16 (vw_addr_is_link_scope): only the node is there. */
function isLinkScope(addr: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  if (addr.kind() !== 'ipv6') return false;
  const b = addr.toByteArray();
  return (b[0] === 0xfe && ((b[1] as number) & 0xc0) === 0x80) || (b[0] === 0xff && ((b[1] as number) & 0x0f) === 0x02);
}

/** The evaluator over one state: the cluster ranges parsed once. */
export class VerdictEvaluator {
  private readonly ranges: { net: ipaddr.IPv4 | ipaddr.IPv6; len: number; kind: number }[] = [];
  /** peer address -> its kind: link scope, or its cluster range (0: none); memoized per address */
  private readonly peerKinds = new Map<string, number>();
  /** The node-wide audit setting (agent --enforcement audit, vw_config VW_CFG_AUDIT) at every hook judged. */
  private readonly nodeAudit: boolean;
  /** entries of policy sets, by set id (and policy) */
  private readonly lookups = new Map<string, EntryLookup>();

  constructor(
    readonly maps: VerdictMaps,
    opts: { nodeAudit?: boolean } = {},
  ) {
    this.nodeAudit = opts.nodeAudit ?? false;
    for (const [cidr, kind] of maps.cidrs) {
      const [net, len] = ipaddr.parseCIDR(cidr);
      this.ranges.push({ net, len, kind });
    }
    // longest prefix first: the LPM trie's answer is the first match
    this.ranges.sort((a, b) => b.len - a.len);
  }

  /** vw_cidr_kind: VW_CIDR_POD, VW_CIDR_SERVICE or 0. */
  cidrKind(addr: ipaddr.IPv4 | ipaddr.IPv6): number {
    for (const r of this.ranges) if (r.net.kind() === addr.kind() && addr.match(r.net, r.len)) return r.kind;
    return 0;
  }

  /** LINK_SCOPE, or vw_cidr_kind of an address that is no endpoint. */
  private peerKind(ip: string): number {
    let k = this.peerKinds.get(ip);
    if (k === undefined) {
      const addr = ipaddr.parse(ip);
      k = isLinkScope(addr) ? LINK_SCOPE : this.cidrKind(addr);
      if (this.peerKinds.size < PEER_KINDS_MAX) this.peerKinds.set(ip, k);
    }
    return k;
  }

  endpoint(ip: string): DesiredEndpoint | undefined {
    return this.maps.endpoints.get(ip);
  }

  private netFlags(vrf: number): number {
    return this.maps.networks.get(vrf) ?? 0;
  }

  /** Audit mode (src/model/enforcement.ts): two networks kept apart pass as AUDIT(ISOLATED) only when both are OPEN. */
  private isolated(a: DesiredEndpoint, b: DesiredEndpoint): Decision {
    return this.nodeAudit || (this.netFlags(a.vrfId) & this.netFlags(b.vrfId) & VW_NET_OPEN) !== 0 ? audited(DropReason.ISOLATED) : drop(DropReason.ISOLATED);
  }

  /** A Service address the client's network may not use: AUDIT(SERVICE_DENIED) when the client's network is
   *  OPEN and the address has its audit entry (all its backends are OPEN), else dropped. */
  private serviceDenied(addr: string, p: OpeningPacket, self: DesiredEndpoint): Decision {
    const proto = PROTO_NAME[p.protocol];
    const entry = proto === undefined ? undefined : this.maps.services.get(serviceEntryKey({ addr, port: p.dport, protocol: proto, clientVrf: VW_SVC_AUDIT_VRF }));
    if (this.nodeAudit) return audited(DropReason.SERVICE_DENIED);
    return entry !== undefined && (this.netFlags(self.vrfId) & VW_NET_OPEN) !== 0 ? audited(DropReason.SERVICE_DENIED) : drop(DropReason.SERVICE_DENIED);
  }

  private svc(map: ReadonlyMap<string, DesiredServiceEntry>, addr: string, port: number, protocol: number, clientVrf: number): DesiredServiceEntry | undefined {
    const proto = PROTO_NAME[protocol];
    if (proto === undefined) return undefined;
    return map.get(serviceEntryKey({ addr, port, protocol: proto, clientVrf })) ?? map.get(serviceEntryKey({ addr, port, protocol: proto, clientVrf: VW_SVC_ANY_VRF }));
  }

  /** vw_backend_allows (rule 4). */
  private backendAllows(addr: string, port: number, protocol: number, clientVrf: number): boolean {
    return this.svc(this.maps.backends, addr, port, protocol, clientVrf) !== undefined;
  }

  private isFrontend(addr: string, port: number, protocol: number): boolean {
    const proto = PROTO_NAME[protocol];
    return proto !== undefined && this.maps.services.has(serviceEntryKey({ addr, port, protocol: proto, clientVrf: VW_SVC_FRONTEND_VRF }));
  }

  /** vw_service_frontend: a NodePort, LoadBalancer, external IP or hostPort judged like a ClusterIP; undefined when the destination is none. */
  private frontend(p: OpeningPacket, dst: string, self: DesiredEndpoint): Decision | undefined {
    if (!hasPorts(p.protocol)) return undefined;
    let addr = dst;
    if (!this.isFrontend(addr, p.dport, p.protocol)) {
      if (!this.isFrontend(VW_SVC_NODE_ADDR, p.dport, p.protocol)) return undefined;
      addr = VW_SVC_NODE_ADDR;
    }
    if (cutOff(self)) return drop(DropReason.QUARANTINED);
    return this.svc(this.maps.services, addr, p.dport, p.protocol, self.vrfId) ? allow(AllowRule.SERVICE) : this.serviceDenied(addr, p, self);
  }

  /** vw_service_frontend_reply */
  private frontendReply(p: OpeningPacket, src: string, self: DesiredEndpoint): boolean {
    return hasPorts(p.protocol) && this.isFrontend(src, p.sport, p.protocol) && this.svc(this.maps.services, src, p.sport, p.protocol, self.vrfId) !== undefined;
  }

  /** vw_service_between_pods for an opening packet (no session: rule 5 cannot apply). */
  private betweenPods(p: OpeningPacket, dst: string, sender: DesiredEndpoint, receiver: DesiredEndpoint): Decision {
    if (!hasPorts(p.protocol)) return this.isolated(sender, receiver);
    if ((receiver.flags & VW_EP_NO_BACKEND) === 0 && this.backendAllows(dst, p.dport, p.protocol, sender.vrfId)) return allow(AllowRule.SERVICE_BACKEND);
    return this.isolated(sender, receiver);
  }

  /**
   * vw_decide: may the pod `self` (the sender at from_pod, the receiver at
   * to_pod) let this opening packet through? `self` is the endpoint entry of
   * the local side's address (undefined: the programs would drop before
   * vw_decide, as SPOOFED/UNKNOWN_ENDPOINT; answered as UNKNOWN_ENDPOINT).
   */
  decide(hook: Hook, packet: OpeningPacket): Decision {
    return this.decideCanonical(hook, canonicalPacket(packet));
  }

  /** decide() for a packet whose addresses are canonical already (canonicalPacket). */
  decideCanonical(hook: Hook, p: OpeningPacket): Decision {
    return this.withPolicy(hook, p, this.segmentation(hook, p));
  }

  /** vw_netpol_apply: NetworkPolicy's say on what segmentation let pass. */
  private withPolicy(hook: Hook, p: OpeningPacket, d: Decision): Decision {
    if (d.verdict === 'DROPPED') return d;
    const j = this.policyJudgement(hook, p);
    if (j === undefined) return d;
    if (j.allowed) return { ...d, policy: j.text };
    const code = hook === 'from_pod' ? DropReason.POLICY_EGRESS : DropReason.POLICY_INGRESS;
    return { verdict: 'DROPPED', code, reason: dropReasonName(code), policy: j.text };
  }

  /**
   * NetworkPolicy alone for an opening packet (canonical addresses) at one
   * hook: undefined when no policy selects the local pod for that direction
   * (or the peer is the node, for ingress); else whether it passes and the
   * text naming the policy (explain and flows name it with this).
   */
  policyJudgement(hook: Hook, p: OpeningPacket): { allowed: boolean; text: string } | undefined {
    const info = this.maps.policyInfo;
    if (info === undefined || info.addresses.size === 0) return undefined;
    const fromPod = hook === 'from_pod';
    const selfIp = fromPod ? p.src : p.dst;
    const peerIp = fromPod ? p.dst : p.src;
    const self = info.addresses.get(selfIp);
    const setId = self === undefined ? 0 : fromPod ? self.policyOut : self.policyIn;
    const set = setId === 0 ? undefined : info.sets.get(setId);
    if (set === undefined) return undefined;
    if (!fromPod) {
      const peer = this.endpoint(peerIp);
      // the pod's own node only (the datapath's VW_EP_THIS_NODE, set by the compile of that node)
      const node = info.ingressNodes.get(selfIp) ?? '';
      const ownNode = peer !== undefined && (peer.flags & VW_EP_HOST) !== 0 && node !== '' && (info.hostNodes.get(peerIp)?.includes(node) ?? false);
      if (ownNode || (peerIp.includes(':') && isLinkScope(ipaddr.parse(peerIp)))) return undefined;
    }
    const identity = info.addresses.get(peerIp)?.identity ?? 0;
    const proto = hasPorts(p.protocol) ? p.protocol : 0;
    const port = proto === 0 ? 0 : p.dport;
    if (this.policyLookup(set).allows(setId, identity, peerIp, proto, port)) {
      const by = set.policies.find((name) => this.policyLookup(set, name).allows(setId, identity, peerIp, proto, port));
      return { allowed: true, text: by !== undefined ? `allowed by NetworkPolicy ${by}` : `allowed by NetworkPolicies ${set.policies.join(', ')} together` };
    }
    return { allowed: false, text: `no NetworkPolicy selecting the pod for ${set.direction} allows it (${set.policies.join(', ')})` };
  }

  /** The entries of a policy set (only: of one of its policies), as the compile step writes them. */
  private policyLookup(set: PolicySetInfo, only?: string): EntryLookup {
    const k = only === undefined ? `${set.id}` : `${set.id}|${only}`;
    let l = this.lookups.get(k);
    if (l === undefined) {
      if (this.lookups.size > 4096) this.lookups.clear();
      this.lookups.set(k, (l = new EntryLookup(setEntries(this.maps.policyInfo as PolicyInfo, set, only))));
    }
    return l;
  }

  /** vw_decide: section 3 alone. */
  private segmentation(hook: Hook, p: OpeningPacket): Decision {
    const { src, dst } = p;
    const selfIp = hook === 'from_pod' ? src : dst;
    const peerIp = hook === 'from_pod' ? dst : src;
    const self = this.endpoint(selfIp);
    if (self === undefined || (self.flags & VW_EP_HOST) !== 0) return drop(DropReason.UNKNOWN_ENDPOINT);
    const peer = this.endpoint(peerIp);
    const fromPod = hook === 'from_pod';

    // Rule 6, the node; a NodePort or hostPort on a node address leads to pods.
    if (peer && (peer.flags & VW_EP_HOST) !== 0) {
      if (fromPod && isTunnel(p)) return drop(DropReason.TUNNEL);
      const f = fromPod ? this.frontend(p, dst, self) : undefined;
      return f ?? allow(AllowRule.NOT_POD);
    }
    // link scope is IPv6 only: an IPv4 endpoint needs no parse
    const kind = peer === undefined || peerIp.includes(':') ? this.peerKind(peerIp) : 0;
    if (kind === LINK_SCOPE) {
      if (fromPod && isTunnel(p)) return drop(DropReason.TUNNEL);
      const f = fromPod ? this.frontend(p, dst, self) : undefined;
      return f ?? allow(AllowRule.NOT_POD);
    }
    if (cutOff(self)) return drop(DropReason.QUARANTINED);
    if (peer) {
      if (cutOff(peer)) return drop(DropReason.QUARANTINED);
      if (peer.vrfId === self.vrfId) return allow(AllowRule.SAME_NETWORK); // rule 1
      if (this.maps.vrfPairs.has(`${self.vrfId}:${peer.vrfId}`)) return allow(AllowRule.ROUTER); // rule 2
      return fromPod ? this.betweenPods(p, dst, self, peer) : this.betweenPods(p, dst, peer, self); // rule 4
    }
    if (kind === VW_CIDR_SERVICE) {
      if (!fromPod) return drop(DropReason.NO_SESSION); // only a reply comes from a ClusterIP
      if (!hasPorts(p.protocol)) return this.nodeAudit ? audited(DropReason.SERVICE_DENIED) : drop(DropReason.SERVICE_DENIED);
      return this.svc(this.maps.services, dst, p.dport, p.protocol, self.vrfId) ? allow(AllowRule.SERVICE) : this.serviceDenied(dst, p, self); // rule 3
    }
    if (kind === VW_CIDR_POD) return drop(DropReason.UNKNOWN_ENDPOINT);
    // Rule 6, outside the cluster, unless it is a Service frontend.
    if (fromPod && isTunnel(p)) return drop(DropReason.TUNNEL);
    const f = fromPod ? this.frontend(p, dst, self) : undefined;
    if (f) return f;
    if (((this.maps.networks.get(self.vrfId) ?? 0) & VW_NET_EXTERNAL_DENY) !== 0) {
      if (!fromPod && this.frontendReply(p, src, self)) return allow(AllowRule.REPLY);
      return this.nodeAudit || (this.netFlags(self.vrfId) & VW_NET_AUDIT) !== 0 ? audited(DropReason.EXTERNAL_DENIED) : drop(DropReason.EXTERNAL_DENIED);
    }
    return allow(AllowRule.NOT_POD);
  }

  /** Is this address a pod endpoint (not a host one), i.e. does it have hooks of its own? */
  isPod(ip: string): boolean {
    const c = canonicalIp(ip);
    return c !== undefined && this.isPodCanonical(c);
  }

  isPodCanonical(ip: string): boolean {
    const ep = this.endpoint(ip);
    return ep !== undefined && (ep.flags & VW_EP_HOST) === 0;
  }
}

/** The packet with canonical addresses (the maps' keys); throws on one that is no address. */
export function canonicalPacket(packet: OpeningPacket): OpeningPacket {
  const src = canonicalIp(packet.src);
  const dst = canonicalIp(packet.dst);
  if (src === undefined || dst === undefined) throw new Error(`not an IP address: ${packet.src} -> ${packet.dst}`);
  return src === packet.src && dst === packet.dst ? packet : { ...packet, src, dst };
}

/** vw_endpoint_is_cut_off: quarantined, or in no network. */
function cutOff(ep: DesiredEndpoint): boolean {
  return (ep.flags & VW_EP_QUARANTINE) !== 0 || ep.vrfId === 0;
}

/** One connection judged at both ends: the sender's from_pod first, then the receiver's to_pod (the first drop decides). */
export interface ConnectionDecision {
  verdict: VerdictName;
  reason: string;
  /** the hook that decided ('' when neither side is a pod) */
  hook: Hook | '';
  steps: { hook: Hook; decision: Decision }[];
}

/**
 * A connection's verdict as both hooks give it. `receiverPacket` is the
 * opening packet as the receiver sees it when that differs (kube-proxy's
 * DNAT of a ClusterIP: the backend's address and target port); absent, the
 * same packet. A side whose address is no pod endpoint has no hook.
 */
export function judgeConnection(ev: VerdictEvaluator, packet: OpeningPacket, receiverPacket: OpeningPacket = packet): ConnectionDecision {
  const sent = canonicalPacket(packet);
  const received = receiverPacket === packet ? sent : canonicalPacket(receiverPacket);
  const steps: { hook: Hook; decision: Decision }[] = [];
  if (ev.isPodCanonical(sent.src)) steps.push({ hook: 'from_pod', decision: ev.decideCanonical('from_pod', sent) });
  const first = steps[0]?.decision;
  if (first?.verdict !== 'DROPPED' && ev.isPodCanonical(received.dst)) steps.push({ hook: 'to_pod', decision: ev.decideCanonical('to_pod', received) });
  const decided = steps.find((s) => s.decision.verdict === 'DROPPED') ?? steps.find((s) => s.decision.verdict === 'AUDIT') ?? steps[steps.length - 1];
  if (!decided) return { verdict: 'ALLOWED', reason: 'NOT_POD', hook: '', steps };
  return { verdict: decided.decision.verdict, reason: decided.decision.reason, hook: decided.hook, steps };
}

/** AUDIT passes: "allowed now" for what-if. */
export const passes = (v: VerdictName): boolean => v !== 'DROPPED';
