/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vrfwall datapath ABI: every map layout and the closed enums shared by the
 * BPF programs, the agent (src/bpf/abi.ts mirrors this file; a test compiles
 * this header and compares sizes, offsets and values), the gRPC API and the
 * metrics. Change both sides together.
 *
 * Plain C types only, so that this header builds for the BPF target and for
 * the host (the ABI check in test/abi.test.ts).
 */
#ifndef VRFWALL_H
#define VRFWALL_H

#ifndef __VRFWALL_TYPES
#define __VRFWALL_TYPES
#include <linux/types.h>
#endif

/* Addresses are 16 bytes: IPv6 as is, IPv4 as IPv4-mapped (::ffff:a.b.c.d),
 * so one map serves both families and a v4 packet can never match a v6
 * entry by accident. */
#define VW_ADDR_LEN 16

/* ---- enums ------------------------------------------------------------- */

/* Where the program runs. */
enum vw_direction {
	VW_DIR_FROM_POD = 0, /* tc ingress of the pod's host-side interface */
	VW_DIR_TO_POD = 1,   /* tc egress of the pod's host-side interface  */
	VW_DIR__MAX = 2,
};

enum vw_verdict {
	VW_VERDICT_ALLOWED = 0,
	VW_VERDICT_DROPPED = 1,
	VW_VERDICT__MAX = 2,
};

/* Why a packet was allowed: the rule of design section 3 that decided.
 * ARP and neighbour discovery with the node count as rule 6. */
enum vw_allow_rule {
	VW_RULE_NONE = 0,
	VW_RULE_SAME_NETWORK = 1,
	VW_RULE_ROUTER = 2,
	VW_RULE_SERVICE = 3,
	VW_RULE_SERVICE_BACKEND = 4,
	VW_RULE_REPLY = 5,
	VW_RULE_NOT_POD = 6,
	VW_RULE__MAX = 7,
};

/* Why a packet was dropped. Closed and documented (docs/drop-reasons.md);
 * values never change meaning, new ones are appended. */
enum vw_drop_reason {
	VW_DROP_NONE = 0,
	VW_DROP_ISOLATED = 1,         /* endpoints in networks no rule joins     */
	VW_DROP_QUARANTINED = 2,      /* an endpoint is quarantined              */
	VW_DROP_UNKNOWN_ENDPOINT = 3, /* pod-CIDR address the agent does not know */
	VW_DROP_SPOOFED = 4,          /* pod sent from an address not its own    */
	VW_DROP_MALFORMED = 5,        /* truncated or inconsistent headers       */
	VW_DROP_L2_DENIED = 6,        /* ethertype other than IPv4/IPv6/ARP, VLAN */
	VW_DROP_EXTERNAL_DENIED = 7,  /* network may not reach outside addresses */
	VW_DROP_SOURCE_ROUTE = 8,     /* IPv4 source-route option, IPv6 routing hdr */
	VW_DROP_FRAGMENT = 9,         /* fragment that cannot be checked         */
	VW_DROP__MAX = 10,
};

/* Counter slots per (direction, verdict): enough for either enum. */
#define VW_CODE_SLOTS 16

/* ---- map values and keys ------------------------------------------------- */

/* endpoint flags */
#define VW_EP_LOCAL      (1U << 0) /* pod on this node; ifindex is valid     */
#define VW_EP_HOST       (1U << 1) /* a node address / host-network: rule 6  */
#define VW_EP_QUARANTINE (1U << 2) /* reaches nothing but its node            */

/* endpoints: pod and host addresses -> network. HASH, key = 16-byte address. */
struct vw_endpoint_key {
	__u8 addr[VW_ADDR_LEN];
};

struct vw_endpoint {
	__u32 vrf_id;  /* network; 0 = none (host endpoints, quarantine) */
	__u32 flags;   /* VW_EP_*                                         */
	__u32 ifindex; /* host-side interface of a local pod, else 0      */
	__u32 pad;
};

/* vrf_pairs: (network, network) pairs a router joins. HASH. The compile step
 * writes both orders, so the lookup is one probe whichever side asks. */
struct vw_vrf_pair {
	__u32 src_vrf;
	__u32 dst_vrf;
};

struct vw_vrf_pair_value {
	__u32 flags; /* reserved, 0 */
};

/* networks: per-network settings. HASH, key = vrf id (__u32). */
#define VW_NET_EXTERNAL_DENY (1U << 0)

struct vw_network {
	__u32 flags; /* VW_NET_* */
};

/* cidrs: the cluster's pod and service ranges. LPM_TRIE. prefixlen counts
 * over the 16-byte address, so an IPv4 /16 is stored as /112 (96 + 16). */
struct vw_cidr_key {
	__u32 prefixlen;
	__u8 addr[VW_ADDR_LEN];
};

enum vw_cidr_kind {
	VW_CIDR_POD = 1,
	VW_CIDR_SERVICE = 2,
};

struct vw_cidr_value {
	__u32 kind; /* enum vw_cidr_kind */
};

/* counters: PERCPU_ARRAY indexed by vw_counter_index(). */
struct vw_counter {
	__u64 packets;
	__u64 bytes;
};

#define VW_COUNTERS_MAX (VW_DIR__MAX * VW_VERDICT__MAX * VW_CODE_SLOTS)

static inline __u32 vw_counter_index(__u32 dir, __u32 verdict, __u32 code)
{
	return (dir * VW_VERDICT__MAX + verdict) * VW_CODE_SLOTS + code;
}

/* Default map sizes; the agent may raise them at load time. */
#define VW_ENDPOINTS_MAX 262144
#define VW_VRF_PAIRS_MAX 65536
#define VW_NETWORKS_MAX 65536
#define VW_CIDRS_MAX 256

#endif /* VRFWALL_H */
