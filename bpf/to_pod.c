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
#include "lib/counters.h"

static __always_inline struct vw_decision vw_to_pod_ip(struct __sk_buff *skb, const struct vw_pkt *pkt)
{
	struct vw_endpoint *self;

	switch (vw_classify_nd(pkt)) {
	case VW_ND_YES:
		return vw_allow(VW_RULE_NOT_POD);
	case VW_ND_FRAGMENT:
		return vw_drop(VW_DROP_FRAGMENT);
	default:
		break;
	}

	self = vw_lookup_endpoint(&pkt->dst);
	if (!vw_endpoint_is_here(self, skb))
		return vw_drop(VW_DROP_UNKNOWN_ENDPOINT);
	return vw_decide(self, &pkt->src);
}

static __always_inline struct vw_decision vw_to_pod(struct __sk_buff *skb)
{
	struct vw_pkt pkt = {};
	__u16 proto = 0;
	__u32 reason;

	reason = vw_parse_eth(skb, &proto);
	if (reason)
		return vw_drop(reason);
	/* A tag would hide an IP packet from the checks below. */
	if (vw_eth_is_vlan(skb, proto))
		return vw_drop(VW_DROP_L2_DENIED);

	switch (proto) {
	case ETH_P_IP:
		reason = vw_parse_ipv4(skb, &pkt);
		break;
	case ETH_P_IPV6:
		reason = vw_parse_ipv6(skb, &pkt);
		break;
	default:
		/* ARP replies and other link frames come from the node. */
		return vw_allow(VW_RULE_NOT_POD);
	}
	if (reason)
		return vw_drop(reason);
	return vw_to_pod_ip(skb, &pkt);
}

SEC("tc")
int to_pod(struct __sk_buff *skb)
{
	return vw_finish(skb, VW_DIR_TO_POD, vw_to_pod(skb));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
