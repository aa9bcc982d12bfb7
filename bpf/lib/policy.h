/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The policy of design section 3 (rules 1, 2, 6 and the fail-closed points)
 * as small steps shared by both directions; the Service rules 3-5 are in
 * lib/service.h.
 */
#ifndef VW_LIB_POLICY_H
#define VW_LIB_POLICY_H

#include "lib/common.h"
#include "lib/addr.h"
#include "maps.h"
#include "lib/endpoint.h"
#include "lib/service.h"

/* VW_CIDR_POD, VW_CIDR_SERVICE, or 0 outside the cluster's ranges. */
static __always_inline __u32 vw_cidr_kind(const union vw_addr *a)
{
	struct vw_cidr_key key = { .prefixlen = VW_ADDR_LEN * 8 };
	struct vw_cidr_value *v;

	__builtin_memcpy(key.addr, a->b, VW_ADDR_LEN);
	v = bpf_map_lookup_elem(&cidrs, &key);
	return v ? v->kind : 0;
}

static __always_inline int vw_vrfs_joined(__u32 a, __u32 b)
{
	struct vw_vrf_pair pair = { .src_vrf = a, .dst_vrf = b };

	return bpf_map_lookup_elem(&vrf_pairs, &pair) != NULL;
}


/* The pod behind this interface sent from `src` (whose endpoint, looked up
 * by the caller, is `ep`): it must be one of its own addresses. Returns its
 * endpoint, or NULL with *reason set. */
static __always_inline struct vw_endpoint *vw_source_endpoint_of(struct vw_endpoint *ep, const struct __sk_buff *skb,
								 const union vw_addr *src, __u32 *reason)
{
	if (vw_endpoint_is_here(ep, skb))
		return ep;
	if (!ep && vw_cidr_kind(src) == VW_CIDR_POD)
		*reason = VW_DROP_UNKNOWN_ENDPOINT;
	else
		*reason = VW_DROP_SPOOFED; /* another pod's, the node's, or an outside address */
	return NULL;
}

#define VW_IPPROTO_GRE 47

/* A tunnel packet: whoever decapsulates it in the node's namespace (a
 * flannel, Calico or Cilium overlay device listens on every node address)
 * would deliver its inner packet with a source nobody checked. A later
 * fragment of UDP follows its first, which was judged. */
static __always_inline int vw_is_tunnel(const struct vw_pkt *pkt)
{
	__u16 dport = bpf_ntohs(pkt->dport);

	switch (pkt->l4_proto) {
	case IPPROTO_IPIP:
	case IPPROTO_IPV6:
	case VW_IPPROTO_GRE:
		return 1;
	case IPPROTO_UDP:
		return pkt->has_l4 && (dport == VW_TUNNEL_PORT_VXLAN || dport == VW_TUNNEL_PORT_VXLAN_LINUX ||
				       dport == VW_TUNNEL_PORT_GENEVE);
	default:
		return 0;
	}
}

/* May the local pod `self` send this packet (dir VW_DIR_FROM_POD: the peer
 * is the destination) or receive it (VW_DIR_TO_POD: the peer is the source)? */
static __always_inline struct vw_decision vw_decide(const struct vw_endpoint *self, const struct vw_pkt *pkt,
						    __u32 dir)
{
	const union vw_addr *peer_addr = dir == VW_DIR_FROM_POD ? &pkt->dst : &pkt->src;
	struct vw_endpoint *peer = vw_lookup_endpoint(peer_addr);
	struct vw_decision d;
	__u32 kind, net_flags;

	/* Rule 6, the node: kubelet probes work even for a quarantined pod. A
	 * NodePort or hostPort on a node address leads to pods, though. */
	if (peer && (peer->flags & VW_EP_HOST)) {
		if (dir == VW_DIR_FROM_POD && vw_is_tunnel(pkt))
			return vw_drop(VW_DROP_TUNNEL);
		if (dir == VW_DIR_FROM_POD && vw_service_frontend(pkt, self, &d))
			return d;
		return vw_allow(VW_RULE_NOT_POD);
	}
	if (vw_addr_is_link_scope(peer_addr)) {
		/* the node's fe80:: address is a node address to kube-proxy too */
		if (dir == VW_DIR_FROM_POD && vw_is_tunnel(pkt))
			return vw_drop(VW_DROP_TUNNEL);
		if (dir == VW_DIR_FROM_POD && vw_service_frontend(pkt, self, &d))
			return d;
		return vw_allow(VW_RULE_NOT_POD);
	}

	if (vw_endpoint_is_cut_off(self))
		return vw_drop(VW_DROP_QUARANTINED);

	if (peer) {
		if (vw_endpoint_is_cut_off(peer))
			return vw_drop(VW_DROP_QUARANTINED);
		if (peer->vrf_id == self->vrf_id)
			return vw_allow(VW_RULE_SAME_NETWORK);         /* rule 1 */
		if (vw_vrfs_joined(self->vrf_id, peer->vrf_id))
			return vw_allow(VW_RULE_ROUTER);               /* rule 2 */
		/* rules 4 and 5, judged for the sender's network */
		d = dir == VW_DIR_FROM_POD ? vw_service_between_pods(pkt, self, peer)
					   : vw_service_between_pods(pkt, peer, self);
		if (d.verdict == VW_VERDICT_DROPPED && d.code == VW_DROP_ISOLATED &&
		    vw_audit_isolated(self->vrf_id, peer->vrf_id))
			return vw_audit(VW_DROP_ISOLATED);
		return d;
	}

	kind = vw_cidr_kind(peer_addr);
	if (kind == VW_CIDR_SERVICE)                               /* rules 3 and 5 */
		return dir == VW_DIR_FROM_POD ? vw_service_to_vip(pkt, self->vrf_id) : vw_service_from_vip(pkt);
	if (kind == VW_CIDR_POD)
		return vw_drop(VW_DROP_UNKNOWN_ENDPOINT);
	/* Rule 6, outside the cluster, unless it is a Service frontend (a
	 * LoadBalancer or external IP, or a node address we do not know: the
	 * same goes for tunnels). */
	if (dir == VW_DIR_FROM_POD && vw_is_tunnel(pkt))
		return vw_drop(VW_DROP_TUNNEL);
	if (dir == VW_DIR_FROM_POD && vw_service_frontend(pkt, self, &d))
		return d;
	net_flags = vw_network_flags(self->vrf_id);
	if (net_flags & VW_NET_EXTERNAL_DENY) {
		if (dir == VW_DIR_TO_POD && vw_service_frontend_reply(pkt, self))
			return vw_allow(VW_RULE_REPLY);
		return vw_audit_external(net_flags) ? vw_audit(VW_DROP_EXTERNAL_DENIED) : vw_drop(VW_DROP_EXTERNAL_DENIED);
	}
	return vw_allow(VW_RULE_NOT_POD);
}

/* How the neighbour-discovery exception applies to a packet. */
enum vw_nd_class {
	VW_ND_NO = 0,       /* not ND: the normal checks apply            */
	VW_ND_YES = 1,      /* ND with the node: allowed without checks   */
	VW_ND_FRAGMENT = 2, /* would need the exception but is fragmented */
};

static __always_inline int vw_icmp6_is_nd(__u8 type)
{
	return type >= VW_ICMPV6_ND_FIRST && type <= VW_ICMPV6_ND_LAST;
}

/* Multicast listener discovery: every Linux pod sends these reports from its
 * link-local address when an interface comes up. */
static __always_inline int vw_icmp6_is_mld(__u8 type)
{
	return (type >= VW_ICMPV6_MLD_QUERY && type <= VW_ICMPV6_MLD_DONE) ||
	       type == VW_ICMPV6_MLD2_REPORT;
}

/* ND (types 133-137) between a link-local or unspecified source and a
 * link-local or multicast destination, sent on-link (hop limit 255), never
 * fragmented (RFC 6980); MLD the same way to a multicast group with hop
 * limit 1. A fragment whose type is unknown, ND or MLD cannot use the
 * exception. */
static __always_inline enum vw_nd_class vw_classify_nd(const struct vw_pkt *pkt)
{
	if (!pkt->is_ipv6 || pkt->l4_proto != IPPROTO_ICMPV6)
		return VW_ND_NO;
	if (!vw_addr_is_link_local(&pkt->src) && !vw_addr_is_unspecified(&pkt->src))
		return VW_ND_NO;
	if (!vw_addr_is_link_local(&pkt->dst) && !vw_addr_is_multicast(&pkt->dst))
		return VW_ND_NO;
	if (pkt->has_l4 && !vw_icmp6_is_nd(pkt->icmp_type) && !vw_icmp6_is_mld(pkt->icmp_type))
		return VW_ND_NO;
	if (pkt->fragment)
		return VW_ND_FRAGMENT;
	if (vw_icmp6_is_mld(pkt->icmp_type))
		return pkt->hop_limit == VW_MLD_HOP_LIMIT && vw_addr_is_multicast(&pkt->dst) ? VW_ND_YES : VW_ND_NO;
	if (pkt->hop_limit != VW_ND_HOP_LIMIT)
		return VW_ND_NO;
	return VW_ND_YES;
}

#endif /* VW_LIB_POLICY_H */
