/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared includes, constants and the small structs the datapath passes around. */
#ifndef VW_LIB_COMMON_H
#define VW_LIB_COMMON_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/icmpv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "vrfwall.h"

/* tc return codes. TC_ACT_UNSPEC (== TCX_NEXT) hands the packet on to the
 * next program, so the CNI's own programs still run after an allow. */
#define VW_TC_ALLOW TC_ACT_UNSPEC
#define VW_TC_DROP  TC_ACT_SHOT

/* The network header always follows a plain Ethernet header: VLAN-tagged
 * frames are never parsed further (they are denied). */
#define VW_L3_OFF ETH_HLEN

/* IPv4 */
#define VW_IPV4_MIN_IHL     5          /* 20-byte header, no options    */
#define VW_IPV4_IHL_UNIT    4          /* ihl counts 32-bit words       */
#define VW_IPV4_OPT_MAX_LEN 40         /* 60-byte header - 20           */
#define VW_IPV4_OPT_MIN_LEN 2          /* type + length, for non-NOP/EOL */
#define VW_IPV4_MF          0x2000     /* frag_off: more fragments      */
#define VW_IPV4_OFFSET      0x1fff     /* frag_off: fragment offset     */
#define VW_IP_MAX_LEN       0xffff     /* largest tot_len/payload_len   */

/* IPv6 */
#define VW_IPV6_MAX_EXT_HDRS 8         /* longer chains are MALFORMED   */
#define VW_IPV6_EXT_UNIT     8         /* (hdrlen + 1) * 8 octets       */
#define VW_IPV6_AH_UNIT      4         /* AH: (hdrlen + 2) * 4 octets   */
#define VW_IPV6_FRAG_OFFSET  0xfff8    /* frag_off: offset bits         */
#define VW_ND_HOP_LIMIT      255       /* ND is only valid on-link      */
#define VW_ICMPV6_ND_FIRST   133       /* router solicitation           */
#define VW_ICMPV6_ND_LAST    137       /* redirect                      */
#define VW_MLD_HOP_LIMIT     1         /* MLD is link-scope too         */
#define VW_ICMPV6_MLD_QUERY  130       /* MLDv1 query/report/done       */
#define VW_ICMPV6_MLD_DONE   132
#define VW_ICMPV6_MLD2_REPORT 143      /* MLDv2 report                  */
#define VW_ICMP_ECHO_REPLY   0         /* ICMP echo reply               */
#define VW_ICMP_ECHO_REQUEST 8
#define VW_ICMPV6_ECHO_REQUEST 128
#define VW_ICMPV6_ECHO_REPLY 129
#define VW_ICMP_ID_OFF       4         /* echo identifier in the header */
#define VW_ICMP_HDR_LEN      8         /* type, code, csum, 4-byte rest
                                          (linux/icmp.h drags in libc)  */
#define VW_TCP_DOFF_MIN      5         /* 20-byte TCP header            */
#define VW_TCP_DOFF_UNIT     4
#define VW_SCTP_HDR_LEN      12        /* ports, verification tag, csum */
#define VW_SCTP_CHUNK_INIT   1         /* the chunk that opens an association */
#define VW_TCP_FIN 0x01
#define VW_TCP_SYN 0x02
#define VW_TCP_RST 0x04
#define VW_TCP_ACK 0x10

/* IPv6 fragment header (the kernel's struct frag_hdr is not uapi). */
struct vw_ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 identification;
};

#define VW_TCP_FLAGS_BYTE 13 /* offset of FIN..CWR in the TCP header */

/* SCTP common header and the type of the first chunk (linux/sctp.h is not
 * needed for four fields). */
struct vw_sctp_hdr {
	__be16 sport;
	__be16 dport;
	__be32 vtag;
	__be32 checksum;
	__u8 chunk_type;
	__u8 chunk_flags;
	__be16 chunk_len;
};

/* ARP (linux/if_arp.h drags in libc headers, so spelled out here). */
#define VW_ARPHRD_ETHER 1

/* A whole Ethernet/IPv4 ARP packet. */
struct vw_arp_eth_ipv4 {
	__be16 ar_hrd; /* hardware type      */
	__be16 ar_pro; /* protocol type      */
	__u8 ar_hln;   /* hardware addr len  */
	__u8 ar_pln;   /* protocol addr len  */
	__be16 ar_op;
	__u8 sha[ETH_ALEN];
	__u8 spa[4];
	__u8 tha[ETH_ALEN];
	__u8 tpa[4];
} __attribute__((packed));

/* A 16-byte address as the maps key it (IPv4 is IPv4-mapped). */
union vw_addr {
	__u8 b[VW_ADDR_LEN];
	__u32 w[VW_ADDR_LEN / 4];
};

/* What the parsers learnt about a frame: the one parse that both the verdict
 * and the flow accounting use. Fields the parse did not reach stay zero. */
struct vw_pkt {
	union vw_addr src;
	union vw_addr dst;
	__u16 eth_proto; /* host order; 0 when the Ethernet header is cut    */
	__u8 is_ipv6;
	__u8 l4_proto;   /* upper-layer protocol, after IPv6 extension headers */
	__u8 hop_limit;  /* IPv4 TTL or IPv6 hop limit                        */
	__u8 fragment;   /* IPv4 MF/offset set, or an IPv6 fragment header    */
	__u8 has_l4;     /* the L4 header is in this packet (not a later frag) */
	__u8 icmp_type;  /* valid when has_l4 and l4_proto is ICMP/ICMPv6     */
	__u8 tcp_flags;  /* valid when has_l4 and l4_proto is TCP (FIN..CWR)  */
	__u8 sctp_chunk; /* valid when has_l4 and l4_proto is SCTP: 1st chunk */
	__u8 probe;      /* an explain test run: decide, but change no map    */
	__u8 timed;      /* the decision rests on a session NetworkPolicy keeps */
	__be16 sport;    /* TCP/UDP/SCTP ports when has_l4, else 0            */
	__be16 dport;
	__be16 icmp_id;  /* ICMP/ICMPv6 echo request or reply: its identifier  */
	__u16 pad;
	__u32 l4_off;    /* offset of the L4 header when has_l4               */
	__u32 l3_end;    /* offset where the IP packet ends (length field)    */
};

/* The outcome for one packet: verdict plus the rule (allowed) or the drop
 * reason (dropped); both index the counters. */
struct vw_decision {
	__u32 verdict;
	__u32 code;
};

static __always_inline struct vw_decision vw_allow(__u32 rule)
{
	struct vw_decision d = { .verdict = VW_VERDICT_ALLOWED, .code = rule };
	return d;
}

static __always_inline struct vw_decision vw_drop(__u32 reason)
{
	struct vw_decision d = { .verdict = VW_VERDICT_DROPPED, .code = reason };
	return d;
}

/* Audit mode: passes, recorded with the drop reason it would have had. */
static __always_inline struct vw_decision vw_audit(__u32 reason)
{
	struct vw_decision d = { .verdict = VW_VERDICT_AUDIT, .code = reason };
	return d;
}

#endif /* VW_LIB_COMMON_H */
