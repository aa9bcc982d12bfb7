/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Kubernetes NetworkPolicy (issue 16), applied after segmentation: a packet
 * passes only when section 3 allows it (or audit lets it pass) AND policy
 * allows it. Egress is judged at the sender's from_pod against the local
 * pod's policy_out set, ingress at the receiver's to_pod against its
 * policy_in set; a set of 0 (no policy selects the pod for that direction)
 * is open. The maps and their layout are in vrfwall.h ("NetworkPolicy").
 *
 * One helper per concern:
 * - vw_netpol_ranges_hold: a port in an entry's ranges;
 * - vw_netpol_allows: the rules (by peer identity, then ipBlock) of one set;
 * - vw_netpol_judge: the whole step for one packet, sessions included;
 * - vw_netpol_apply: how its answer combines with the segmentation decision.
 *
 * Sessions: where the local pod has any set (either direction), a packet
 * policy lets through starts or refreshes its session in `sessions` (client
 * = sender; flag VW_SESS_POLICY), so the replies pass the other end's
 * policy as REPLY. Mid-connection TCP starts one too (conntrack's pickup),
 * so a connection running when a policy started to select its pods keeps
 * its replies while the policy allows its sender. session_gc re-judges
 * these sessions against the current policy.
 *
 * The policy questions are global functions, as audit.h's: the verifier
 * checks each once instead of once per path of the segmentation that leads
 * to it (inlined, they would take from_pod past its limits).
 */
#ifndef VW_LIB_NETPOL_H
#define VW_LIB_NETPOL_H

#include "lib/common.h"
#include "lib/addr.h"
#include "lib/parse.h"
#include "lib/endpoint.h"
#include "lib/session.h"
#include "lib/policy.h"
#include "maps.h"

/* vw_netpol_judge's answer: a drop reason (0: passes) in the low byte, and
 * whether the decision rests on a session (the verdict cache keeps it only
 * within its tick, as rules 3-5's). */
#define VW_NETPOL_REASON_MASK 0xffU
#define VW_NETPOL_TIMED       (1U << 8)

/* Is `port` (host order) in the entry's ranges? */
static __always_inline int vw_netpol_ranges_hold(const struct vw_policy_value *v, __u32 port)
{
	__u32 n = v->n, i;

	for (i = 0; i < VW_POLICY_RANGES; i++) {
		if (i >= n)
			break;
		if (port >= v->r[i].lo && port <= v->r[i].hi)
			return 1;
	}
	return 0;
}

/* An entry that allows the packet: a ported entry holding the port, or an
 * any-protocol entry (any entry found for proto 0 with ranges). */
static __always_inline int vw_netpol_value_allows(const struct vw_policy_value *v, __u32 proto, __u32 port)
{
	if (proto == VW_POLICY_ANY_PROTO)
		return v->n > 0;
	return vw_netpol_ranges_hold(v, port);
}

/*
 * Does policy set `set` allow the peer (identity `identity`, 0 for none;
 * address `peer`) on IP protocol `proto` and port `port` (host order; `proto`
 * 0: a packet without ports, or a later fragment, which only an
 * any-protocol rule allows)? The `policy` entries of the peer's identity
 * first, then its address in `policy_cidrs` (ipBlocks match every address,
 * pods included); for each, the ported entry's slots, then the
 * any-protocol entry.
 */
__attribute__((noinline)) int vw_netpol_allows(__u32 set, __u32 identity, const union vw_addr *peer, __u32 proto,
					      __u32 port)
{
	struct vw_policy_key key = { .set = set, .identity = identity };
	struct vw_policy_cidr_key ck = { .prefixlen = VW_POLICY_CIDR_PREFIX_BITS + VW_ADDR_LEN * 8, .set = set };
	struct vw_policy_value *v;
	__u32 slot;

	if (!peer || set == 0)
		return 0;
	if (identity) {
		key.proto = (__u8)proto;
		for (slot = 0; proto != VW_POLICY_ANY_PROTO && slot < VW_POLICY_SLOTS; slot++) {
			key.slot = (__u8)slot;
			v = bpf_map_lookup_elem(&policy, &key);
			if (!v)
				break;
			if (vw_netpol_ranges_hold(v, port))
				return 1;
			if (!(v->flags & VW_POLICY_MORE))
				break;
		}
		key.proto = VW_POLICY_ANY_PROTO;
		key.slot = 0;
		v = bpf_map_lookup_elem(&policy, &key);
		if (v && vw_netpol_value_allows(v, VW_POLICY_ANY_PROTO, port))
			return 1;
	}
	__builtin_memcpy(ck.addr, peer->b, VW_ADDR_LEN);
	ck.proto = (__u8)proto;
	for (slot = 0; proto != VW_POLICY_ANY_PROTO && slot < VW_POLICY_SLOTS; slot++) {
		/* slot s + 1 is read only when slot s of the longest block
		 * says MORE: then that block has it, so the trie lands on it */
		ck.slot = (__u8)slot;
		v = bpf_map_lookup_elem(&policy_cidrs, &ck);
		if (!v)
			break;
		if (vw_netpol_ranges_hold(v, port))
			return 1;
		if (!(v->flags & VW_POLICY_MORE))
			break;
	}
	ck.proto = VW_POLICY_ANY_PROTO;
	ck.slot = 0;
	v = bpf_map_lookup_elem(&policy_cidrs, &ck);
	return v && vw_netpol_value_allows(v, VW_POLICY_ANY_PROTO, port);
}

/* Neighbour discovery and MLD on the link: never judged by policy, as ARP is
 * not, so a pod under an egress policy still resolves its gateway. What
 * vw_classify_nd calls VW_ND_YES (link-local or unspecified source) never
 * gets here; a pod's own global address is the usual source of a
 * solicitation for its gateway (the address of the packet that needs it), so
 * the exemption is: ND (133-137) with hop limit 255 to a link-scope
 * destination (fe80::/10, ff02::/16; never routed on), MLD with hop limit 1
 * to a group (a router never forwards it), never a fragment. The ICMPv6 type
 * alone exempts nothing: "ND" to a global address or with another hop limit
 * is judged like any ICMPv6, or it would carry data past a deny-all policy. */
static __always_inline int vw_netpol_is_nd(const struct vw_pkt *pkt)
{
	if (!pkt->is_ipv6 || pkt->l4_proto != IPPROTO_ICMPV6 || !pkt->has_l4 || pkt->fragment)
		return 0;
	if (vw_icmp6_is_mld(pkt->icmp_type))
		return pkt->hop_limit == VW_MLD_HOP_LIMIT && vw_addr_is_multicast(&pkt->dst);
	return vw_icmp6_is_nd(pkt->icmp_type) && pkt->hop_limit == VW_ND_HOP_LIMIT && vw_addr_is_link_scope(&pkt->dst);
}

/* An ICMP or ICMPv6 echo: 1 request, 2 reply, 0 neither. */
static __always_inline int vw_netpol_echo(const struct vw_pkt *pkt)
{
	if (!pkt->has_l4)
		return 0;
	if (pkt->l4_proto == IPPROTO_ICMP)
		return pkt->icmp_type == VW_ICMP_ECHO_REQUEST ? 1 : pkt->icmp_type == VW_ICMP_ECHO_REPLY ? 2 : 0;
	if (pkt->l4_proto == IPPROTO_ICMPV6)
		return pkt->icmp_type == VW_ICMPV6_ECHO_REQUEST ? 1 : pkt->icmp_type == VW_ICMPV6_ECHO_REPLY ? 2 : 0;
	return 0;
}

/* An echo's session: requester -> target, the identifier as the source port,
 * 0 as the destination port; a reply's reverse is the same key. */
static __always_inline void vw_netpol_echo_key(struct vw_session_key *key, const struct vw_pkt *pkt, int reply)
{
	if (reply)
		vw_session_key_of(key, &pkt->dst, &pkt->src, pkt->icmp_id, 0, pkt->l4_proto);
	else
		vw_session_key_of(key, &pkt->src, &pkt->dst, pkt->icmp_id, 0, pkt->l4_proto);
}

/* This node (its addresses, a host-network pod on it) or a link-scope
 * address (only the node is behind one): never denied by ingress policy, so
 * kubelet probes work. Another node's address is judged like any peer: after
 * kube-proxy's SNAT it is every client of a NodePort there. */
static __always_inline int vw_netpol_peer_is_node(const struct vw_endpoint *peer, const union vw_addr *addr)
{
	return (peer && (peer->flags & VW_EP_HOST) && (peer->flags & VW_EP_THIS_NODE)) || vw_addr_is_link_scope(addr);
}

/*
 * The policy step for a packet that segmentation let through, at the hook
 * of direction `dir` whose local pod has the sets `in_set` and `out_set`
 * (not both 0). `rule` is the segmentation rule that allowed it (kept in a
 * session it starts; 0 when audit let it pass). Returns a drop reason (0:
 * passes) | VW_NETPOL_TIMED.
 *
 * A session of the packet's reverse makes it a reply, whatever the rules;
 * otherwise the rules of the direction's set decide, and a packet they let
 * through keeps or starts its session (SESSION_LIMIT when its sender is
 * over the quota). A later fragment has no ports: only an any-protocol rule
 * lets it through (else FRAGMENT, as for Services).
 */
__attribute__((noinline)) int vw_netpol_judge(const struct vw_pkt *pkt, __u32 in_set, __u32 out_set, __u32 dir,
					     __u32 rule)
{
	const union vw_addr *peer_addr;
	struct vw_session_key key = {}; /* one key for every session question: the stack is shared with from_pod's */
	struct vw_endpoint *peer;
	__u32 set, proto = VW_POLICY_ANY_PROTO, port = 0, identity, reason;
	int ported, allowed = 1, echo;
	__u32 sflags = VW_SESS_POLICY;

	if (!pkt)
		return VW_DROP_MALFORMED;
	if (vw_netpol_is_nd(pkt))
		return 0;
	ported = vw_proto_has_ports(pkt->l4_proto) && pkt->has_l4;
	echo = vw_netpol_echo(pkt);
	/* a reply of a live session passes (and refreshes it): TCP, UDP, SCTP,
	 * and an echo reply of an echo request's session */
	if (ported || echo == 2) {
		if (ported)
			vw_session_key_of(&key, &pkt->dst, &pkt->src, pkt->dport, pkt->sport, pkt->l4_proto);
		else
			vw_netpol_echo_key(&key, pkt, 1);
		if (vw_session_reply_key(&key, pkt))
			return ported ? VW_NETPOL_TIMED : 0;
	}
	peer_addr = dir == VW_DIR_FROM_POD ? &pkt->dst : &pkt->src;
	peer = vw_lookup_endpoint(peer_addr);
	identity = peer ? peer->identity : 0;
	set = dir == VW_DIR_FROM_POD ? out_set : in_set;
	if (ported) {
		proto = pkt->l4_proto;
		/* both ways the destination's port: egress rules name the
		 * peer's, ingress rules the local pod's own */
		port = bpf_ntohs(pkt->dport);
	}
	if (set && !(dir == VW_DIR_TO_POD && vw_netpol_peer_is_node(peer, peer_addr)))
		allowed = vw_netpol_allows(set, identity, peer_addr, proto, port);
	if (!allowed) {
		if (vw_proto_has_ports(pkt->l4_proto) && !pkt->has_l4)
			return VW_DROP_FRAGMENT;
		/* TIMED: a session made meanwhile may make it a reply */
		return (dir == VW_DIR_FROM_POD ? VW_DROP_POLICY_EGRESS : VW_DROP_POLICY_INGRESS) | VW_NETPOL_TIMED;
	}
	/* a client that is no pod (outside, host: spoofable) is charged to the
	 * local pod it opens to, so a flood of sources fills that pod's quota,
	 * not session_owners for everyone */
	if (dir == VW_DIR_TO_POD && (!peer || (peer->flags & VW_EP_HOST)))
		sflags |= VW_SESS_CHARGE_SERVER;
	if (echo == 1) {
		/* an echo request the rules let through: its session, for the reply */
		vw_netpol_echo_key(&key, pkt, 0);
		return vw_session_forward_key(&key, pkt, rule, sflags, 1);
	}
	if (!ported)
		return 0;
	vw_session_key_of(&key, &pkt->src, &pkt->dst, pkt->sport, pkt->dport, pkt->l4_proto);
	reason = vw_session_forward_key(&key, pkt, rule, sflags, vw_pkt_opens(pkt) || vw_pkt_midstream_tcp(pkt));
	return reason ? reason : VW_NETPOL_TIMED;
}

/*
 * Segmentation decided `d` for a packet the local pod `self` sends
 * (VW_DIR_FROM_POD) or receives (VW_DIR_TO_POD); policy has its say when
 * segmentation lets the packet pass (allowed, or audited: audit mode never
 * relaxes policy) and the pod has a policy set. *timed: the decision rests
 * on a session.
 */
static __always_inline struct vw_decision vw_netpol_apply(const struct vw_endpoint *self, const struct vw_pkt *pkt,
							  __u32 dir, struct vw_decision d, __u8 *timed)
{
	__u32 in_set = self->policy_in, out_set = self->policy_out, r;

	if (d.verdict == VW_VERDICT_DROPPED || (in_set | out_set) == 0)
		return d;
	r = vw_netpol_judge(pkt, in_set, out_set, dir, d.verdict == VW_VERDICT_ALLOWED ? d.code : VW_RULE_NONE);
	if (r & VW_NETPOL_TIMED)
		*timed = 1;
	if (r & VW_NETPOL_REASON_MASK)
		return vw_drop(r & VW_NETPOL_REASON_MASK);
	return d;
}

#endif /* VW_LIB_NETPOL_H */
