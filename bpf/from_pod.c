// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * from_pod: tc ingress of a pod's host-side interface, i.e. every frame the
 * pod sends. The pod is "self" and must send from its own addresses; the
 * destination is the peer.
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

/* ARP: only whole Ethernet/IPv4 ARP, about the pod's own addresses (or an
 * address probe from 0.0.0.0), and on a bridge port with the pod's own MAC
 * as sender hardware address (other pods cache it). */
static __always_inline struct vw_decision vw_from_pod_arp(struct __sk_buff *skb, const struct vw_port *port)
{
	struct vw_arp_eth_ipv4 arp;
	union vw_addr sender;
	__be32 spa;
	__u32 reason;

	reason = vw_parse_arp(skb, &arp);
	if (reason)
		return vw_drop(reason);
	if (port && !vw_port_mac_is(port, arp.sha))
		return vw_drop(VW_DROP_SPOOFED);
	__builtin_memcpy(&spa, arp.spa, sizeof(spa));
	if (spa == 0)
		return vw_allow(VW_RULE_NOT_POD);
	vw_addr_set_v4(&sender, spa);
	if (!vw_endpoint_is_here(vw_lookup_endpoint(&sender), skb))
		return vw_drop(VW_DROP_SPOOFED);
	return vw_allow(VW_RULE_NOT_POD);
}

static __always_inline struct vw_decision vw_from_pod_ip(struct __sk_buff *skb, struct vw_pkt *pkt,
							 const struct vw_port *port, struct vw_endpoint *src_ep)
{
	struct vw_endpoint *self;
	__u32 reason;

	/* ND and MLD only about the pod itself, whatever its addresses. */
	reason = vw_check_nd_from_pod(skb, pkt, port);
	if (reason)
		return vw_drop(reason);
	reason = vw_check_mld_from_pod(skb, pkt, port);
	if (reason)
		return vw_drop(reason);

	reason = VW_DROP_SPOOFED;
	switch (vw_classify_nd(pkt)) {
	case VW_ND_YES:
		return vw_allow(VW_RULE_NOT_POD);
	case VW_ND_FRAGMENT:
		return vw_drop(VW_DROP_FRAGMENT);
	default:
		break;
	}
	/* Outside ND a pod has no business sending from these. */
	if (pkt->is_ipv6 && (vw_addr_is_link_local(&pkt->src) || vw_addr_is_unspecified(&pkt->src)))
		return vw_drop(VW_DROP_SPOOFED);

	self = vw_source_endpoint_of(src_ep, skb, &pkt->src, &reason);
	if (!self)
		return vw_drop(reason);
	/* segmentation, then NetworkPolicy (egress) */
	return vw_netpol_apply(self, pkt, VW_DIR_FROM_POD, vw_decide(self, pkt, VW_DIR_FROM_POD), &pkt->timed);
}

/* The endpoint of an IP packet's source, looked up once for both the
 * `ports` shortcut and the source check. Not for the IPv6 link-local and
 * unspecified sources, which never reach the source check (ND is judged
 * without it, and anything else from them is SPOOFED). */
static __always_inline struct vw_endpoint *vw_src_endpoint(const struct vw_pkt *pkt)
{
	if (pkt->is_ipv6 && (vw_addr_is_link_local(&pkt->src) || vw_addr_is_unspecified(&pkt->src)))
		return NULL;
	return vw_lookup_endpoint(&pkt->src);
}

/* The verdict; *pkt gets the parse and *fc the flow slot, which the flow
 * accounting uses too. */
static __always_inline struct vw_decision vw_from_pod(struct __sk_buff *skb, struct vw_pkt *pkt,
						      struct vw_flow_ctx *fc)
{
	struct vw_endpoint *src_ep = NULL;
	struct vw_decision cached;
	struct vw_port *port = NULL;
	__u16 proto = 0;
	__u32 reason;
	__u8 probe;

	pkt->probe = vw_is_probe(skb);
	reason = vw_parse_eth(skb, &proto);
	if (reason)
		return vw_drop(reason);
	pkt->eth_proto = proto;
	if (vw_eth_is_vlan(skb, proto))
		return vw_drop(VW_DROP_L2_DENIED);

	/* The IP header is read before the MAC check so that the source's
	 * endpoint can say whether there is a `ports` entry to look up; the
	 * MAC check still comes first in what decides. */
	reason = vw_parse_l3(skb, proto, pkt);
	if ((proto == ETH_P_IP || proto == ETH_P_IPV6) && !reason) {
		if (vw_flow_cached(skb, pkt, VW_DIR_FROM_POD, fc, &cached))
			return cached; /* only ever cached where no MAC check applies */
		src_ep = vw_src_endpoint(pkt);
	}

	/* On a bridge port, only the pod's own source MAC: any other would
	 * move that MAC's forwarding entry to this port. */
	if (!vw_port_surely_absent(src_ep, skb)) {
		port = vw_lookup_port(skb);
		if (port) {
			__u32 mac_reason = vw_check_eth_source(skb, port);

			if (mac_reason) {
				/* decided before the IP header was read: the flow
				 * key has what it had then, as for any early drop */
				probe = pkt->probe;
				__builtin_memset(pkt, 0, sizeof(*pkt));
				__builtin_memset(fc, 0, sizeof(*fc));
				pkt->probe = probe;
				pkt->eth_proto = proto;
				return vw_drop(mac_reason);
			}
		}
	}

	/* the source MAC is not in the flow key: no cache on a bridge port */
	fc->cacheable = port == NULL;

	switch (proto) {
	case ETH_P_ARP:
		return vw_from_pod_arp(skb, port);
	case ETH_P_IP:
	case ETH_P_IPV6:
		break;
	default:
		return vw_drop(VW_DROP_L2_DENIED);
	}
	if (reason)
		return vw_drop(reason);
	return vw_from_pod_ip(skb, pkt, port, src_ep);
}

SEC("tc")
int from_pod(struct __sk_buff *skb)
{
	struct vw_pkt pkt = {};
	struct vw_flow_ctx fc = {};
	struct vw_decision d = vw_from_pod(skb, &pkt, &fc);

	return vw_finish(skb, &pkt, VW_DIR_FROM_POD, vw_flow_track(skb, &pkt, VW_DIR_FROM_POD, d, &fc));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
