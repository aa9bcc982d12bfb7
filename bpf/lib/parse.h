/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Header parsing. Fixed-size headers are read with vw_load_hdr (lib/load.h:
 * direct packet access, bpf_skb_load_bytes when not linear), which fails
 * past skb->len like the helper, so truncation is caught either way. The
 * rare variable-length reads (IPv4 options, IPv6 extension headers) use the
 * helper only, which keeps their offsets simple for the verifier. Parsers
 * return VW_DROP_NONE (0) or the drop reason.
 */
#ifndef VW_LIB_PARSE_H
#define VW_LIB_PARSE_H

#include "lib/common.h"
#include "lib/addr.h"
#include "lib/load.h"

static __always_inline int vw_load(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
	return bpf_skb_load_bytes(skb, off, to, len);
}

/* The ethertype ends the Ethernet header: reading it checks the whole header
 * is there. */
#define VW_ETH_PROTO_OFF (ETH_HLEN - sizeof(__be16))

static __always_inline __u32 vw_parse_eth(struct __sk_buff *skb, __u16 *proto)
{
	__be16 h_proto;

	if (vw_load_hdr(skb, VW_ETH_PROTO_OFF, &h_proto) < 0)
		return VW_DROP_MALFORMED;
	*proto = bpf_ntohs(h_proto);
	return VW_DROP_NONE;
}

/* A tag in the frame (802.1Q, 802.1ad) or one the driver already pulled
 * into skb metadata (veth offloads VLAN tags): either way the payload would
 * escape our parsing. */
static __always_inline int vw_eth_is_vlan(struct __sk_buff *skb, __u16 proto)
{
	return skb->vlan_present || proto == ETH_P_8021Q || proto == ETH_P_8021AD;
}

/* A complete Ethernet/IPv4 ARP packet, into *arp. */
static __always_inline __u32 vw_parse_arp(struct __sk_buff *skb, struct vw_arp_eth_ipv4 *arp)
{
	if (vw_load_hdr(skb, VW_L3_OFF, arp) < 0)
		return VW_DROP_MALFORMED;
	if (arp->ar_hrd != bpf_htons(VW_ARPHRD_ETHER) || arp->ar_pro != bpf_htons(ETH_P_IP) ||
	    arp->ar_hln != ETH_ALEN || arp->ar_pln != sizeof(arp->spa))
		return VW_DROP_MALFORMED;
	return VW_DROP_NONE;
}

/* Protocols a Service port can name; their first 4 bytes are the ports. */
static __always_inline int vw_proto_has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

/* The upper-layer header must be whole inside [off, end): a first fragment
 * too short to hold it is how "tiny fragment" tricks hide ports and types. */
static __always_inline __u32 vw_parse_l4(struct __sk_buff *skb, struct vw_pkt *pkt, __u32 off, __u32 end)
{
	__u32 need;
	__u8 type;

	pkt->l4_off = off;
	pkt->l3_end = end;
	switch (pkt->l4_proto) {
	case IPPROTO_TCP:
		need = sizeof(struct tcphdr);
		break;
	case IPPROTO_UDP:
		need = sizeof(struct udphdr);
		break;
	case IPPROTO_SCTP:
		need = sizeof(struct vw_sctp_hdr); /* the common header and a chunk's type */
		break;
	case IPPROTO_ICMP:
		need = VW_ICMP_HDR_LEN;
		break;
	case IPPROTO_ICMPV6:
		need = sizeof(struct icmp6hdr);
		break;
	default:
		return VW_DROP_NONE; /* nothing we look into */
	}
	if (off + need > end)
		return VW_DROP_MALFORMED;

	if (pkt->l4_proto == IPPROTO_TCP) {
		struct tcphdr tcp;
		__u32 doff;

		if (vw_load_hdr(skb, off, &tcp) < 0)
			return VW_DROP_MALFORMED;
		doff = tcp.doff;
		if (doff < VW_TCP_DOFF_MIN || off + doff * VW_TCP_DOFF_UNIT > end)
			return VW_DROP_MALFORMED;
		pkt->sport = tcp.source;
		pkt->dport = tcp.dest;
		pkt->tcp_flags = ((const __u8 *)&tcp)[VW_TCP_FLAGS_BYTE];
	} else if (pkt->l4_proto == IPPROTO_SCTP) {
		struct vw_sctp_hdr sctp;

		if (vw_load_hdr(skb, off, &sctp) < 0)
			return VW_DROP_MALFORMED;
		pkt->sport = sctp.sport;
		pkt->dport = sctp.dport;
		pkt->sctp_chunk = sctp.chunk_type;
	} else if (pkt->l4_proto == IPPROTO_UDP) {
		struct vw_ports ports;

		if (vw_load_hdr(skb, off, &ports) < 0)
			return VW_DROP_MALFORMED;
		pkt->sport = ports.src;
		pkt->dport = ports.dst;
	} else if (pkt->l4_proto == IPPROTO_ICMP || pkt->l4_proto == IPPROTO_ICMPV6) {
		/* the type is the first byte of both */
		if (vw_load_hdr(skb, off, &type) < 0)
			return VW_DROP_MALFORMED;
		pkt->icmp_type = type;
		/* an echo's identifier: NetworkPolicy's sessions pair a reply with its request */
		if ((pkt->l4_proto == IPPROTO_ICMP && (type == VW_ICMP_ECHO_REQUEST || type == VW_ICMP_ECHO_REPLY)) ||
		    (pkt->l4_proto == IPPROTO_ICMPV6 && (type == VW_ICMPV6_ECHO_REQUEST || type == VW_ICMPV6_ECHO_REPLY))) {
			if (vw_load_hdr(skb, off + VW_ICMP_ID_OFF, &pkt->icmp_id) < 0)
				return VW_DROP_MALFORMED;
		}
	}
	pkt->has_l4 = 1;
	return VW_DROP_NONE;
}

/* Walk the IPv4 options (opt_len bytes at off): source routing is refused,
 * options that do not add up are malformed, others are fine. The walk goes
 * byte by byte with a countdown over each option's body, so the verifier
 * sees one constant position per step instead of data-dependent offsets. */
static __always_inline __u32 vw_check_ipv4_options(struct __sk_buff *skb, __u32 off, __u64 opt_len)
{
	__u8 opts[VW_IPV4_OPT_MAX_LEN] = {};
	__u32 skip = 0;
	__u8 type, len;
	int i;

	/* The caller knows 4 <= opt_len <= 40; say it again where the verifier
	 * sees it (the helper refuses a possibly-zero length). 64 bits, so no
	 * zero-extended copy is checked in place of the register passed. */
	barrier_var(opt_len);
	if (opt_len < VW_IPV4_IHL_UNIT || opt_len > VW_IPV4_OPT_MAX_LEN)
		return VW_DROP_MALFORMED;
	if (vw_load(skb, off, opts, opt_len) < 0)
		return VW_DROP_MALFORMED;

	for (i = 0; i < VW_IPV4_OPT_MAX_LEN; i++) {
		if (i >= opt_len)
			break;
		if (skip) {
			skip--; /* inside the current option */
			continue;
		}
		type = opts[i];
		if (type == IPOPT_END)
			break;
		if (type == IPOPT_NOOP)
			continue;
		if (type == IPOPT_LSRR || type == IPOPT_SSRR)
			return VW_DROP_SOURCE_ROUTE;
		if (i + 1 >= opt_len)
			return VW_DROP_MALFORMED;
		len = opts[i + 1];
		if (len < VW_IPV4_OPT_MIN_LEN || i + len > opt_len)
			return VW_DROP_MALFORMED;
		skip = len - 1;
	}
	return VW_DROP_NONE;
}

static __always_inline __u32 vw_parse_ipv4(struct __sk_buff *skb, struct vw_pkt *pkt)
{
	struct iphdr ip;
	__u32 hdr_len, tot_len, l4_off, end, reason;
	__u16 frag;

	if (vw_load_hdr(skb, VW_L3_OFF, &ip) < 0)
		return VW_DROP_MALFORMED;
	if (ip.version != 4 || ip.ihl < VW_IPV4_MIN_IHL)
		return VW_DROP_MALFORMED;

	hdr_len = ip.ihl * VW_IPV4_IHL_UNIT;
	tot_len = bpf_ntohs(ip.tot_len);
	/* BIG TCP (GSO) packets over 64 KiB carry tot_len 0 */
	if (tot_len == 0 && skb->len - VW_L3_OFF > VW_IP_MAX_LEN)
		tot_len = skb->len - VW_L3_OFF;
	if (tot_len < hdr_len || VW_L3_OFF + tot_len > skb->len)
		return VW_DROP_MALFORMED;
	end = VW_L3_OFF + tot_len;
	/* the L4 header starts after the options, wherever ihl puts it */
	l4_off = VW_L3_OFF + hdr_len;

	/* addresses first: a drop for bad options still shows in its flow */
	pkt->is_ipv6 = 0;
	vw_addr_set_v4(&pkt->src, ip.saddr);
	vw_addr_set_v4(&pkt->dst, ip.daddr);
	pkt->l4_proto = ip.protocol;
	pkt->hop_limit = ip.ttl;

	if (hdr_len > sizeof(ip)) {
		reason = vw_check_ipv4_options(skb, VW_L3_OFF + sizeof(ip), hdr_len - sizeof(ip));
		if (reason)
			return reason;
	}

	frag = bpf_ntohs(ip.frag_off);
	pkt->fragment = (frag & (VW_IPV4_MF | VW_IPV4_OFFSET)) != 0;
	if (frag & VW_IPV4_OFFSET)
		return VW_DROP_NONE; /* a later fragment: no L4 header in it */
	return vw_parse_l4(skb, pkt, l4_off, end);
}

static __always_inline int vw_ipv6_is_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_FRAGMENT || nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_AH;
}

static __always_inline __u32 vw_parse_ipv6(struct __sk_buff *skb, struct vw_pkt *pkt)
{
	struct ipv6hdr ip6;
	__u32 off, len, end, payload_len;
	__u8 nexthdr;
	int i;

	if (vw_load_hdr(skb, VW_L3_OFF, &ip6) < 0)
		return VW_DROP_MALFORMED;
	if (ip6.version != 6)
		return VW_DROP_MALFORMED;

	off = VW_L3_OFF + sizeof(ip6);
	payload_len = bpf_ntohs(ip6.payload_len);
	/* BIG TCP (GSO) packets over 64 KiB carry payload_len 0 */
	if (payload_len == 0 && skb->len - off > VW_IP_MAX_LEN)
		payload_len = skb->len - off;
	if (off + payload_len > skb->len)
		return VW_DROP_MALFORMED;
	end = off + payload_len;

	pkt->is_ipv6 = 1;
	vw_addr_set_v6(&pkt->src, &ip6.saddr);
	vw_addr_set_v6(&pkt->dst, &ip6.daddr);
	pkt->hop_limit = ip6.hop_limit;
	nexthdr = ip6.nexthdr;
	pkt->l4_proto = nexthdr; /* until the walk finds the upper layer (for flows of drops) */

	for (i = 0; i < VW_IPV6_MAX_EXT_HDRS; i++) {
		if (!vw_ipv6_is_ext(nexthdr))
			break;

		if (nexthdr == IPPROTO_FRAGMENT) {
			struct vw_ipv6_frag_hdr fh;

			if (vw_load(skb, off, &fh, sizeof(fh)) < 0)
				return VW_DROP_MALFORMED;
			pkt->fragment = 1;
			if (bpf_ntohs(fh.frag_off) & VW_IPV6_FRAG_OFFSET) {
				/* a later fragment: what follows is payload */
				pkt->l4_proto = fh.nexthdr;
				return VW_DROP_NONE;
			}
			len = sizeof(fh);
			nexthdr = fh.nexthdr;
		} else if (nexthdr == IPPROTO_ROUTING) {
			struct ipv6_rt_hdr rt;

			if (vw_load(skb, off, &rt, sizeof(rt)) < 0)
				return VW_DROP_MALFORMED;
			if (rt.segments_left > 0)
				return VW_DROP_SOURCE_ROUTE;
			len = (rt.hdrlen + 1) * VW_IPV6_EXT_UNIT;
			nexthdr = rt.nexthdr;
		} else {
			struct ipv6_opt_hdr oh;

			if (vw_load(skb, off, &oh, sizeof(oh)) < 0)
				return VW_DROP_MALFORMED;
			if (nexthdr == IPPROTO_AH)
				len = (oh.hdrlen + 2) * VW_IPV6_AH_UNIT;
			else
				len = (oh.hdrlen + 1) * VW_IPV6_EXT_UNIT;
			nexthdr = oh.nexthdr;
		}
		if (off + len > end)
			return VW_DROP_MALFORMED;
		off += len;
	}
	/* a chain longer than we are willing to walk */
	if (vw_ipv6_is_ext(nexthdr))
		return VW_DROP_MALFORMED;

	pkt->l4_proto = nexthdr;
	return vw_parse_l4(skb, pkt, off, end);
}

/* The network header of an IPv4 or IPv6 frame into *pkt: 0 or a drop
 * reason. Other ethertypes read nothing and return 0. */
static __always_inline __u32 vw_parse_l3(struct __sk_buff *skb, __u16 proto, struct vw_pkt *pkt)
{
	switch (proto) {
	case ETH_P_IP:
		return vw_parse_ipv4(skb, pkt);
	case ETH_P_IPV6:
		return vw_parse_ipv6(skb, pkt);
	default:
		return 0;
	}
}

#endif /* VW_LIB_PARSE_H */
