// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * to_pod: tc egress of a pod's host-side interface, i.e. every frame the pod
 * receives. The pod is "self" (the destination must be one of its
 * addresses); the source is the peer. Sources are checked where they enter:
 * at the sender's from_pod, or by the node's routing for outside traffic.
 */
#include "lib/common.h"
#include "maps.h"
#include "lib/addr.h"
#include "lib/parse.h"
#include "lib/policy.h"
#include "lib/netpol.h"
#include "lib/l2.h"
#include "lib/counters.h"
#include "lib/probe.h"

#define VW_SOLICITED_NODE_PREFIX_LEN 13 /* ff02::1:ff00:0/104, in bytes */

/* ff02::1:ffXX:XXXX, the group a neighbour solicitation for an address goes to. */
static __always_inline int vw_addr_is_solicited_node(const union vw_addr *a)
{
	static const __u8 prefix[VW_SOLICITED_NODE_PREFIX_LEN] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff };
	int i;

#pragma unroll
	for (i = 0; i < VW_SOLICITED_NODE_PREFIX_LEN; i++)
		if (a->b[i] != prefix[i])
			return 0;
	return 1;
}

/* Pods on one bridge (flannel, the bridge plugin) resolve each other's global
 * addresses with a solicitation from their own global address to the
 * target's solicited-node group (RFC 4861 7.2.2). No endpoint owns a group,
 * so the checks below would drop it. It is let in: the sender's from_pod has
 * checked that the source is its own, and the answer (a unicast
 * advertisement) gets the full check at this pod's from_pod, so pods of
 * networks kept apart still never resolve each other. */
static __always_inline int vw_is_bridged_solicitation(const struct vw_pkt *pkt)
{
	return pkt->is_ipv6 && pkt->l4_proto == IPPROTO_ICMPV6 && pkt->has_l4 && !pkt->fragment &&
	       pkt->icmp_type == VW_ICMPV6_NEIGH_SOLICIT && pkt->hop_limit == VW_ND_HOP_LIMIT &&
	       vw_addr_is_solicited_node(&pkt->dst);
}

static __always_inline struct vw_decision vw_to_pod_ip(struct __sk_buff *skb, struct vw_pkt *pkt)
{
	struct vw_endpoint *self;

	/* Router advertisements and redirects only from the node: not from
	 * another port of a bridge (a pod whose own hooks are not attached yet,
	 * or anything else on the bridge). */
	if (vw_is_router_message_from_elsewhere(skb, pkt))
		return vw_drop(VW_DROP_ND_DENIED);

	switch (vw_classify_nd(pkt)) {
	case VW_ND_YES:
		return vw_allow(VW_RULE_NOT_POD);
	case VW_ND_FRAGMENT:
		return vw_drop(VW_DROP_FRAGMENT);
	default:
		break;
	}

	if (vw_is_bridged_solicitation(pkt))
		return vw_allow(VW_RULE_NOT_POD);

	self = vw_lookup_endpoint(&pkt->dst);
	if (!vw_endpoint_is_here(self, skb))
		return vw_drop(VW_DROP_UNKNOWN_ENDPOINT);
	/* segmentation, then NetworkPolicy (ingress) */
	return vw_netpol_apply(self, pkt, VW_DIR_TO_POD, vw_decide(self, pkt, VW_DIR_TO_POD), &pkt->timed);
}

/* The verdict; *pkt gets the parse and *fc the flow slot, which the flow
 * accounting uses too. */
static __always_inline struct vw_decision vw_to_pod(struct __sk_buff *skb, struct vw_pkt *pkt, struct vw_flow_ctx *fc)
{
	struct vw_decision cached;
	__u16 proto = 0;
	__u32 reason;

	pkt->probe = vw_is_probe(skb);
	reason = vw_parse_eth(skb, &proto);
	if (reason)
		return vw_drop(reason);
	pkt->eth_proto = proto;
	/* A tag would hide an IP packet from the checks below. */
	if (vw_eth_is_vlan(skb, proto))
		return vw_drop(VW_DROP_L2_DENIED);

	/* ARP replies and other link frames come from the node. */
	if (proto != ETH_P_IP && proto != ETH_P_IPV6)
		return vw_allow(VW_RULE_NOT_POD);
	reason = vw_parse_l3(skb, proto, pkt);
	if (reason)
		return vw_drop(reason);
	if (vw_flow_cached(skb, pkt, VW_DIR_TO_POD, fc, &cached))
		return cached;
	fc->cacheable = 1;
	return vw_to_pod_ip(skb, pkt);
}

SEC("tc")
int to_pod(struct __sk_buff *skb)
{
	struct vw_pkt pkt = {};
	struct vw_flow_ctx fc = {};
	struct vw_decision d = vw_to_pod(skb, &pkt, &fc);

	return vw_finish(skb, &pkt, VW_DIR_TO_POD, vw_flow_track(skb, &pkt, VW_DIR_TO_POD, d, &fc));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
