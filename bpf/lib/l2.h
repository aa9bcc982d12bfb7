/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Layer 2 (design section 3, fail closed). On a bridge (flannel, the bridge
 * plugin) a pod's frames reach the bridge's forwarding database and its
 * neighbours' caches and routing tables, so from a pod:
 *  - only its own source MAC passes (Ethernet source, ARP sender), or the
 *    bridge moves another pod's MAC to the sender's port;
 *  - neighbour discovery only about its own addresses (solicitation sources,
 *    advertisement targets, and the link-layer address options carry its
 *    MAC), or it redirects its neighbours' IPv6;
 *  - router advertisements, redirects and MLD queries never; MLD reports
 *    only from its own link-local address (or ::).
 * Towards a pod, router advertisements, redirects and MLD queries come only
 * from the node.
 *
 * The pod's MAC is the `ports` entry of its interface (not looked up when the
 * source endpoint carries VW_EP_PTP: see vrfwall.h). Interfaces without one
 * (ptp wiring: a point-to-point link whose only neighbour is the node) get
 * the checks that need no MAC: RA and redirects never, and ND about global
 * addresses only for the pod's own; any link-local address is its own there.
 */
#ifndef VW_LIB_L2_H
#define VW_LIB_L2_H

#include "lib/common.h"
#include "lib/addr.h"
#include "lib/parse.h"
#include "lib/policy.h"
#include "maps.h"

#define VW_ICMPV6_ROUTER_SOLICIT 133
#define VW_ICMPV6_ROUTER_ADVERT  134
#define VW_ICMPV6_NEIGH_SOLICIT  135
#define VW_ICMPV6_NEIGH_ADVERT   136
#define VW_ICMPV6_REDIRECT       137
#define VW_ICMPV6_HDR_LEN        8   /* type, code, checksum, 4 bytes of flags */
#define VW_ND_OPT_SOURCE_LLADDR  1
#define VW_ND_OPT_TARGET_LLADDR  2
#define VW_ND_OPT_UNIT           8   /* option lengths count 8-octet units */
#define VW_ND_OPT_LLADDR_UNITS   1   /* an Ethernet address option: 8 octets */
#define VW_ND_MAX_OPTS           8   /* Linux sends at most 2; more are not walked: denied */
#define VW_EUI64_U_BIT           0x02 /* universal/local bit, inverted in EUI-64 */

/* A link-layer address option for Ethernet (RFC 4861 4.6.1). */
struct vw_nd_opt_lladdr {
	__u8 type;
	__u8 len;
	__u8 mac[ETH_ALEN];
};

/* The ports entry of the interface this program runs on, or NULL. */
static __always_inline struct vw_port *vw_lookup_port(const struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;

	return bpf_map_lookup_elem(&ports, &ifindex);
}

/* May from_pod leave `ports` alone for this frame? Only when the frame's
 * source is an endpoint LOCAL on this interface that says the interface has
 * no entry (VW_EP_PTP). Anything else (no endpoint, another interface's,
 * no flag) looks, so what the flag can get wrong is only its presence. */
static __always_inline int vw_port_surely_absent(const struct vw_endpoint *self, const struct __sk_buff *skb)
{
	return vw_endpoint_is_here(self, skb) && (self->flags & VW_EP_PTP);
}

static __always_inline int vw_mac_equal(const __u8 *a, const __u8 *b)
{
	return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4]) | (a[5] ^ b[5])) == 0;
}

static __always_inline int vw_mac_is_zero(const __u8 *a)
{
	return (a[0] | a[1] | a[2] | a[3] | a[4] | a[5]) == 0;
}

/* May a frame from this port carry `mac` as its sender? Never when the agent
 * could not tell the pod's MAC (all zero). */
static __always_inline int vw_port_mac_is(const struct vw_port *port, const __u8 *mac)
{
	return !vw_mac_is_zero(port->mac) && vw_mac_equal(mac, port->mac);
}

/* fe80::/64 with the modified EUI-64 interface id of `mac` (RFC 4291 2.5.1):
 * the link-local address the kernel gives an Ethernet interface. */
static __always_inline int vw_addr_is_eui64_of(const union vw_addr *a, const __u8 *mac)
{
	return a->w[0] == bpf_htonl(0xfe800000) && a->w[1] == 0 && a->b[8] == (mac[0] ^ VW_EUI64_U_BIT) &&
	       a->b[9] == mac[1] && a->b[10] == mac[2] && a->b[11] == 0xff && a->b[12] == 0xfe &&
	       a->b[13] == mac[3] && a->b[14] == mac[4] && a->b[15] == mac[5];
}

/* From a bridge port, the Ethernet source must be the pod's MAC. */
static __always_inline __u32 vw_check_eth_source(struct __sk_buff *skb, const struct vw_port *port)
{
	struct ethhdr eth;

	if (vw_load_hdr(skb, 0, &eth) < 0)
		return VW_DROP_MALFORMED;
	return vw_port_mac_is(port, eth.h_source) ? VW_DROP_NONE : VW_DROP_SPOOFED;
}

/* An address the pod behind this interface may speak neighbour discovery
 * for: one of its endpoint addresses, or a link-local one (on a bridge port
 * only the EUI-64 address of its MAC). */
static __always_inline int vw_nd_addr_is_own(const struct __sk_buff *skb, const union vw_addr *a,
					     const struct vw_port *port)
{
	if (vw_addr_is_link_local(a))
		return !port || vw_addr_is_eui64_of(a, port->mac);
	return vw_endpoint_is_here(vw_lookup_endpoint(a), skb);
}

/* Every link-layer address option in [off, end) must be an Ethernet address
 * option carrying the pod's MAC: receivers cache the option, not the frame's
 * source. */
static __always_inline __u32 vw_check_nd_options(struct __sk_buff *skb, __u32 off, __u32 end,
						 const struct vw_port *port)
{
	struct vw_nd_opt_lladdr opt;
	__u32 len;
	int i;

	for (i = 0; i < VW_ND_MAX_OPTS; i++) {
		if (off >= end)
			return VW_DROP_NONE;
		if (off + VW_ND_OPT_UNIT > end)
			return VW_DROP_MALFORMED; /* options are whole units */
		if (vw_load(skb, off, &opt, sizeof(opt)) < 0)
			return VW_DROP_MALFORMED;
		if (opt.len == 0)
			return VW_DROP_MALFORMED; /* RFC 4861 4.6: receivers discard it */
		len = opt.len * VW_ND_OPT_UNIT;
		if (off + len > end)
			return VW_DROP_MALFORMED;
		if (opt.type == VW_ND_OPT_SOURCE_LLADDR || opt.type == VW_ND_OPT_TARGET_LLADDR) {
			if (opt.len != VW_ND_OPT_LLADDR_UNITS || !vw_port_mac_is(port, opt.mac))
				return VW_DROP_ND_DENIED;
		}
		off += len;
	}
	return off >= end ? VW_DROP_NONE : VW_DROP_ND_DENIED;
}

/* Neighbour discovery a pod sends (from_pod): router solicitations; neighbour
 * solicitations, or duplicate address detection (unspecified source) for its
 * own address; advertisements about its own address; router advertisements
 * and redirects never. A link-local source must be its own; a global one
 * gets the source check every packet gets after this (SPOOFED).
 * VW_DROP_NONE also for what is not ND. */
static __always_inline __u32 vw_check_nd_from_pod(struct __sk_buff *skb, const struct vw_pkt *pkt,
						  const struct vw_port *port)
{
	union vw_addr target;
	__u32 opts = pkt->l4_off + VW_ICMPV6_HDR_LEN;
	int dad;

	if (!pkt->is_ipv6 || pkt->l4_proto != IPPROTO_ICMPV6 || !pkt->has_l4 || !vw_icmp6_is_nd(pkt->icmp_type))
		return VW_DROP_NONE;
	/* Receivers drop fragmented ND (RFC 6980); the rest of it is not here to check. */
	if (pkt->fragment)
		return VW_DROP_FRAGMENT;
	if (pkt->icmp_type == VW_ICMPV6_ROUTER_ADVERT || pkt->icmp_type == VW_ICMPV6_REDIRECT)
		return VW_DROP_ND_DENIED;
	if (vw_addr_is_link_local(&pkt->src) && !vw_nd_addr_is_own(skb, &pkt->src, port))
		return VW_DROP_ND_DENIED;

	if (pkt->icmp_type != VW_ICMPV6_ROUTER_SOLICIT) {
		if (opts + sizeof(target) > pkt->l3_end || vw_load(skb, opts, &target, sizeof(target)) < 0)
			return VW_DROP_MALFORMED;
		opts += sizeof(target);
		/* Duplicate address detection: a solicitation from :: (RFC 4862 5.4). */
		dad = vw_addr_is_unspecified(&pkt->src);
		if (pkt->icmp_type == VW_ICMPV6_NEIGH_ADVERT) {
			if (dad || !vw_nd_addr_is_own(skb, &target, port))
				return VW_DROP_ND_DENIED;
		} else if (dad && !vw_nd_addr_is_own(skb, &target, port)) {
			return VW_DROP_ND_DENIED;
		}
	}
	return port ? vw_check_nd_options(skb, opts, pkt->l3_end, port) : VW_DROP_NONE;
}

/* MLD a pod sends (from_pod): reports and dones from its own link-local
 * address or from :: (RFC 3810 5.2.13), queries never (the node or a router
 * queries). The bridge floods MLD to every port and to_pod lets it in as
 * link traffic (vw_classify_nd), so a pod must not speak for the node or a
 * neighbour there, nor become the querier the bridge's snooping follows.
 * VW_DROP_NONE also for what is not MLD. */
static __always_inline __u32 vw_check_mld_from_pod(const struct __sk_buff *skb, const struct vw_pkt *pkt,
						   const struct vw_port *port)
{
	if (!pkt->is_ipv6 || pkt->l4_proto != IPPROTO_ICMPV6 || !pkt->has_l4 || !vw_icmp6_is_mld(pkt->icmp_type))
		return VW_DROP_NONE;
	if (pkt->icmp_type == VW_ICMPV6_MLD_QUERY)
		return VW_DROP_ND_DENIED;
	if (vw_addr_is_link_local(&pkt->src) && !vw_nd_addr_is_own(skb, &pkt->src, port))
		return VW_DROP_ND_DENIED;
	return VW_DROP_NONE;
}

/* Towards a pod (to_pod): a router advertisement, redirect or MLD query must
 * come from the node itself. A frame the bridge forwarded from another port
 * carries that port as ingress interface; one the node sent has none. */
static __always_inline int vw_is_router_message_from_elsewhere(const struct __sk_buff *skb, const struct vw_pkt *pkt)
{
	return pkt->is_ipv6 && pkt->l4_proto == IPPROTO_ICMPV6 && pkt->has_l4 &&
	       (pkt->icmp_type == VW_ICMPV6_ROUTER_ADVERT || pkt->icmp_type == VW_ICMPV6_REDIRECT ||
		pkt->icmp_type == VW_ICMPV6_MLD_QUERY) &&
	       skb->ingress_ifindex != 0;
}

#endif /* VW_LIB_L2_H */
