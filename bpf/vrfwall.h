/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * vrfwall datapath ABI: every map layout and the closed enums shared by the
 * BPF programs, the agent (src/kernel/abi.ts mirrors this file; a test compiles
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
	/* Audit mode (docs/audit.md): the packet passes, but enforce mode would
	 * have dropped it; the code is the drop reason it would have had
	 * (ISOLATED, SERVICE_DENIED or EXTERNAL_DENIED, nothing else). */
	VW_VERDICT_AUDIT = 2,
	VW_VERDICT__MAX = 3,
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
	VW_DROP_SERVICE_DENIED = 10,  /* Service address/port this network may not use */
	VW_DROP_NO_SESSION = 11,      /* from a Service address, not a reply      */
	VW_DROP_SESSION_LIMIT = 12,   /* new connection over the pod's session quota or the full table */
	VW_DROP_ND_DENIED = 13,       /* neighbour discovery about another's address, RA or redirect from a pod */
	VW_DROP_TUNNEL = 14,          /* tunnel packet (VXLAN, Geneve, IPIP, GRE) from a pod to a non-pod address */
	VW_DROP_POLICY_EGRESS = 15,   /* egress denied by NetworkPolicy          */
	VW_DROP_POLICY_INGRESS = 16,  /* ingress denied by NetworkPolicy         */
	VW_DROP__MAX = 17,
};

/* Counter slots per (direction, verdict): enough for either enum (17 drop
 * reasons need 5 bits of code). */
#define VW_CODE_SLOTS 32

/* ---- map values and keys ------------------------------------------------- */

/* endpoint flags */
#define VW_EP_LOCAL      (1U << 0) /* pod on this node; ifindex is valid     */
#define VW_EP_HOST       (1U << 1) /* a node address / host-network: rule 6  */
#define VW_EP_QUARANTINE (1U << 2) /* reaches nothing but its node            */
/* A local pod whose interface has no `ports` entry (ptp wiring): from_pod
 * need not look the interface up there. Only ever a promise that the entry
 * is absent: without the flag the program looks (today's bridge ports, and
 * any entry written by anyone but the compile step), so a bridge port whose
 * flag is missing still gets every MAC check. Honoured only on the
 * endpoint of the packet's source that is LOCAL on this very interface. */
#define VW_EP_PTP        (1U << 3)
/* The address is no backend of any Service (no `backends` entry has it):
 * a packet to it cannot be allowed by rule 4, so the programs skip that
 * lookup (two probes) for packets between pods of networks kept apart.
 * Again a promise of absence: without the flag the programs look, and a
 * flag wrongly set on a backend only denies (ISOLATED). */
#define VW_EP_NO_BACKEND (1U << 4)
/* With VW_EP_HOST: an address of this very node (its Node object's, or a
 * host-network pod's on it). Only these (and link-scope peers) skip ingress
 * NetworkPolicy, as Kubernetes exempts only the pod's own node (kubelet
 * probes); another node's address (a NodePort client after kube-proxy's
 * SNAT) is judged like any peer. */
#define VW_EP_THIS_NODE  (1U << 5)

/* endpoints: pod and host addresses -> network. HASH, key = 16-byte address. */
struct vw_endpoint_key {
	__u8 addr[VW_ADDR_LEN];
};

struct vw_endpoint {
	__u32 vrf_id;     /* network; 0 = none (host endpoints, quarantine) */
	__u32 flags;      /* VW_EP_*                                         */
	__u32 ifindex;    /* host-side interface of a local pod, else 0      */
	__u32 identity;   /* NetworkPolicy identity of the pod; 0: host or non-pod */
	__u32 policy_in;  /* local pods: the set of policies selecting it for
			   * ingress (the `policy` maps' set); 0: none, open */
	__u32 policy_out; /* the same for egress; remote pods: 0, 0          */
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
/* Audit mode (docs/audit.md). VW_NET_AUDIT: the network is audited, so its
 * EXTERNAL_DENIED drops pass as VW_VERDICT_AUDIT. VW_NET_OPEN: the network is
 * in OPEN (audited, or the default network while any network is audited):
 * two networks no rule joins pass as AUDIT (reason ISOLATED) only when both
 * are OPEN, so an annotation relaxes its own segment only, never another's.
 * One flag per network instead of audit entries in vrf_pairs: n audited
 * networks would need n^2 pairs. */
#define VW_NET_AUDIT (1U << 1)
#define VW_NET_OPEN  (1U << 2)

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

/* ports: local pods' host-side interfaces on a bridge (flannel, the bridge
 * plugin) -> the pod's MAC. HASH, key = ifindex (__u32). On a bridge a pod's
 * frames reach the forwarding database and its neighbours' caches, so from
 * such an interface only this source MAC (Ethernet and ARP sender) passes,
 * and neighbour discovery only about the pod's own addresses, its link-local
 * one being the EUI-64 address of this MAC. Interfaces without an entry (ptp
 * wiring: a point-to-point link whose only neighbour is the node) get the
 * checks that need no MAC. An all-zero MAC means the agent could not tell
 * the pod's MAC: nothing from the interface passes. */
#define VW_MAC_LEN 6

struct vw_port {
	__u8 mac[VW_MAC_LEN];
	__u16 flags; /* reserved, 0 */
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
#define VW_PORTS_MAX 16384

/* ---- Services (design section 3 rules 3, 4, 5) ---------------------------- */

/* services and backends: which networks may use a Service address and port.
 * HASH, both maps with this key. `services` holds ClusterIP:port/protocol
 * (rule 3), `backends` backend address:targetPort/protocol (rule 4). The
 * compile step writes one entry per network that may use the Service
 * (client_vrf), or one with VW_SVC_ANY_VRF when every network may (a shared
 * Service, or a backend on the node), so the programs decide with at most two lookups
 * and two Services sharing a backend port never overwrite each other. */
struct vw_svc_key {
	__u8 addr[VW_ADDR_LEN];
	__be16 port;     /* network byte order                  */
	__u8 proto;      /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP */
	__u8 pad;
	__u32 client_vrf; /* network of the client, or VW_SVC_ANY_VRF */
};

#define VW_SVC_ANY_VRF 0 /* vrf id 0 is never a network's */
/* Marker entry: addr:port/proto is a Service frontend outside the service
 * ranges (NodePort, LoadBalancer ingress IP, externalIP, hostPort). A pod's
 * packet to it is judged like a packet to a ClusterIP: allowed only with an
 * entry for its network or VW_SVC_ANY_VRF, else SERVICE_DENIED. */
#define VW_SVC_FRONTEND_VRF 0xffffffffU
/* Audit entry (flags VW_SVC_AUDIT): every backend of addr:port/proto is a pod
 * of an OPEN network, so a client of an OPEN network that has no entry of
 * its own passes as AUDIT (reason SERVICE_DENIED). One per address and port,
 * not one per audited client network. */
#define VW_SVC_AUDIT_VRF 0xfffffffeU

/* UDP ports an overlay device on a node decapsulates on: a pod's packet to a
 * non-pod address on one of them is VW_DROP_TUNNEL, and a Service backend on a
 * node or outside address at one of them answers nobody (the compile step). */
#define VW_TUNNEL_PORT_VXLAN       4789 /* IANA: Calico, Antrea */
#define VW_TUNNEL_PORT_VXLAN_LINUX 8472 /* the Linux default: flannel, Cilium */
#define VW_TUNNEL_PORT_GENEVE      6081 /* Cilium, Antrea, OVN */
/* addr of a NodePort entry: all zero, "any node address or any address
 * outside the cluster's ranges" (kube-proxy answers NodePorts on every local
 * address, known or not). Used when the destination has no marker of its own. */

/* service flags: why client_vrf may use it (for explain and stats) */
#define VW_SVC_SHARED (1U << 0) /* a shared Service (usable from every network) */
#define VW_SVC_ROUTER (1U << 1) /* a router joins client_vrf and the backend's  */
#define VW_SVC_AUDIT  (1U << 2) /* the audit entry (client_vrf VW_SVC_AUDIT_VRF) */

struct vw_svc_value {
	__u32 svc_vrf; /* network of the backend pod(s) that grant it; 0: none or several */
	__u32 flags;   /* VW_SVC_*              */
};

/* sessions: connections rule 3 or 4 allowed (and, flag VW_SESS_POLICY, those
 * NetworkPolicy lets through where a local pod has a policy set: their
 * replies pass policy; bpf/lib/netpol.h; ICMP/ICMPv6 echoes too, keyed with
 * the echo identifier as sport and 0 as dport), keyed by the client->server
 * 5-tuple as the program that allowed it saw it; saddr is always the client,
 * who owns the session. A session starts only with a connection's first
 * packet (TCP: SYN without ACK, FIN or RST; SCTP: INIT; UDP: any) and ends
 * with TCP's close (RST, or FIN both ways) or an idle timeout (struct
 * vw_config). HASH, not LRU: nobody's traffic evicts anybody's live session;
 * each client address may hold at most vw_config.session_quota of them, and
 * a new connection over the quota or into a full table is refused
 * (VW_DROP_SESSION_LIMIT). Expired entries are removed by the programs when
 * they meet one and by the agent's sweeps (the session_gc program, which
 * also removes sessions the current policy no longer allows). A packet whose
 * reversed 5-tuple is a live session is a reply (rule 5). */
struct vw_session_key {
	__u8 saddr[VW_ADDR_LEN];
	__u8 daddr[VW_ADDR_LEN];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

/* session flags */
#define VW_SESS_REPLIED (1U << 0) /* the server answered                  */
#define VW_SESS_FIN_FWD (1U << 1) /* TCP: the client sent FIN             */
#define VW_SESS_FIN_REV (1U << 2) /* TCP: the server sent FIN             */
#define VW_SESS_RST     (1U << 3) /* TCP: either side sent RST            */
/* NetworkPolicy needs this session for its replies: the policy step made it
 * (or found the rule 3/4 session of the same 5-tuple and marked it), and
 * session_gc re-judges it against the current policy. */
#define VW_SESS_POLICY  (1U << 4)
/* Counted in the server's session_owners entry, not the client's: a policy
 * session whose client is no pod (an outside or host address, which anyone
 * can spoof) into a local pod. Each such source would otherwise be an owner
 * of its own and a flood of them would fill session_owners for everyone;
 * charged to the pod, the pod's own quota caps them. Set when the session is
 * made and never changed, so removal uncounts the owner that was charged. */
#define VW_SESS_CHARGE_SERVER (1U << 5)

struct vw_session {
	__u64 last_seen_ns; /* bpf_ktime_get_coarse_ns of the last packet either way */
	__u32 rule;         /* VW_RULE_SERVICE or VW_RULE_SERVICE_BACKEND; for a
			     * session only policy made, the section 3 rule that
			     * allowed its opening (0 when audit let it pass) */
	__u32 flags;        /* VW_SESS_*                                         */
};

/* session_owners: live sessions per client address (key: the session key's
 * saddr), for the quota. HASH, no prealloc; counts change atomically, only
 * in the programs (session_gc included), so they never drift. */
struct vw_session_owner {
	__u32 live;
	__u32 pad;
};

/* config: ARRAY of one struct vw_config, written by the agent. A zero field
 * means the default below, so programs loaded before the agent's first write
 * still behave. */
struct vw_config {
	__u64 tcp_syn_timeout_ns;         /* TCP opened, not yet answered    */
	__u64 tcp_established_timeout_ns; /* TCP answered, idle              */
	__u64 tcp_closing_timeout_ns;     /* RST seen, or FIN both ways      */
	__u64 udp_timeout_ns;
	__u64 other_timeout_ns;           /* SCTP                            */
	__u32 session_quota;              /* live sessions per client address */
	__u32 probe_key;                  /* explain's key, random per agent start; 0: no probes */
	__u32 flags;                      /* VW_CFG_*                        */
	__u32 pad;
};

/* config flags */
/* The node-wide audit setting (agent --enforcement audit): on this node's
 * hooks every ISOLATED, SERVICE_DENIED and EXTERNAL_DENIED drop passes as
 * VW_VERDICT_AUDIT. The agent raises the cache epoch after writing it. */
#define VW_CFG_AUDIT (1U << 0)

#define VW_NS_PER_SEC 1000000000ULL
#define VW_DEFAULT_TCP_SYN_TIMEOUT_NS (60 * VW_NS_PER_SEC)
#define VW_DEFAULT_TCP_ESTABLISHED_TIMEOUT_NS (21600 * VW_NS_PER_SEC)
#define VW_DEFAULT_TCP_CLOSING_TIMEOUT_NS (10 * VW_NS_PER_SEC)
#define VW_DEFAULT_UDP_TIMEOUT_NS (30 * VW_NS_PER_SEC)
#define VW_DEFAULT_OTHER_TIMEOUT_NS (60 * VW_NS_PER_SEC)
#define VW_DEFAULT_SESSION_QUOTA 4096

#define VW_SERVICES_MAX 65536
#define VW_BACKENDS_MAX 262144
#define VW_SESSIONS_MAX 262144
#define VW_SESSION_OWNERS_MAX 65536

/* ---- NetworkPolicy (issue 16) -------------------------------------------- */

/*
 * Applied after section 3: a packet passes only when segmentation AND policy
 * allow it. Egress is judged at the sender's from_pod against its
 * endpoint's policy_out set, ingress at the receiver's to_pod against its
 * policy_in set (0: no policy selects the pod for that direction: open).
 * Traffic from the node and host-network pods (VW_EP_HOST) and from
 * link-scope addresses is never denied by ingress policy (kubelet probes).
 *
 * policy: HASH (set, peer identity, proto, slot) -> the peer's allowed port
 * ranges. proto is IPPROTO_TCP/UDP/SCTP for ported rules, 0 for "every
 * protocol and port" (written n = 1, r[0] = {0, 65535}; ICMP passes only
 * through such an entry). More than VW_POLICY_RANGES ranges continue in the
 * next slot, at most VW_POLICY_SLOTS slots. The program looks up (set, peer
 * identity, proto, slot 0..) then (set, peer identity, 0, 0).
 *
 * policy_cidrs: LPM_TRIE, the ipBlocks, matched against every peer address
 * (pods included), asked after `policy` found nothing or denied the port.
 * prefixlen counts from `set`: 64 + the address bits (IPv4 as
 * ::ffff:a.b.c.d, so a /n is 64 + 96 + n); set, proto and slot are thus
 * always matched whole. The compile step writes each block and each except
 * with the union of the ranges of the rules whose block contains it and none
 * of whose excepts does, so the longest match is Kubernetes's answer.
 */
#define VW_POLICY_RANGES 16 /* port ranges per entry            */
#define VW_POLICY_SLOTS  4  /* entries per (set, peer, proto)   */
#define VW_POLICY_ANY_PROTO 0

struct vw_policy_key {
	__u32 set;      /* a policy_in / policy_out set id, never 0       */
	__u32 identity; /* the peer's identity (vw_endpoint.identity)     */
	__u8 proto;     /* IPPROTO_TCP/UDP/SCTP, or 0: any protocol, any port */
	__u8 slot;      /* 0..VW_POLICY_SLOTS-1                           */
	__u16 pad;
};

struct vw_port_range {
	__u16 lo; /* host order, inclusive */
	__u16 hi;
};

/* vw_policy_value.flags: the ranges continue in slot + 1 of the same key
 * (same set, peer and proto; for policy_cidrs the same prefix). The program
 * reads the next slot only then: an LPM lookup for slot 1 would otherwise
 * land on a shorter block's slot 1. Missing, only this slot counts (denies). */
#define VW_POLICY_MORE (1U << 0)

struct vw_policy_value {
	__u16 n;     /* ranges used in r[], merged and sorted       */
	__u16 flags; /* VW_POLICY_MORE                               */
	struct vw_port_range r[VW_POLICY_RANGES];
};

struct vw_policy_cidr_key {
	__u32 prefixlen; /* 64 + address bits */
	__u32 set;
	__u8 proto;
	__u8 slot;
	__u16 pad;
	__u8 addr[VW_ADDR_LEN];
};

/* bits of vw_policy_cidr_key before the address: set, proto, slot, pad */
#define VW_POLICY_CIDR_PREFIX_BITS 64

#define VW_POLICY_MAX 65536
#define VW_POLICY_CIDRS_MAX 16384

/* ---- flows (issue 5: flow statistics) ------------------------------------ */

/* flows: one entry per conversation as one local pod's interface sees it,
 * in an open-addressed table (issue 12): a BPF_MAP_TYPE_ARRAY of
 * VW_FLOWS_MAX 128-byte slots; a key lives in one of the VW_FLOW_PROBES
 * slots from vw_flow_hash(key) on, and a new conversation takes an empty
 * one or replaces the one idle longest. The key is oriented to the local pod
 * ("self": the source in from_pod, the destination in to_pod), so both
 * directions of a conversation land in one entry, indexed by enum
 * vw_direction: [VW_DIR_FROM_POD] = sent by the pod, [VW_DIR_TO_POD] =
 * received. Non-IP frames are tracked only when dropped (addresses zero,
 * ethertype set). first_ns == 0: an empty slot. */
struct vw_flow_key {
	__u8 self_addr[VW_ADDR_LEN];
	__u8 peer_addr[VW_ADDR_LEN];
	__u32 ifindex;     /* the pod's host-side interface                  */
	__u16 self_port;   /* host order; TCP/UDP/SCTP only, else 0          */
	__u16 peer_port;
	__u16 ethertype;   /* host order                                     */
	__u8 proto;        /* IP protocol (first next header for IPv6)        */
	__u8 pad;
};

/*
 * The verdict cache (issue 12): the last full decision of each direction,
 * so a conversation's later packets cost one slot read. One 64-bit word,
 * written whole:
 *   bits  0-31 the policy epoch it was decided under (struct vw_cache_ctl);
 *   bits 32-39 a fingerprint of the key (hash bits the slot index does not
 *              use): a word written for another key while this slot was
 *              being taken over does not match;
 *   bits 40-47 the time tick it was decided in (now >> VW_CACHE_TICK_SHIFT);
 *   bits 48-55 the entry of VW_DIR_FROM_POD, bits 56-63 of VW_DIR_TO_POD:
 *              bits 0-1 the state (0 none, VW_CACHE_ALLOWED,
 *              VW_CACHE_DROPPED, VW_CACHE_AUDIT), bit 2 VW_CACHE_TIMED,
 *              bits 3-7 the code (allow rule or drop reason, 5 bits: every
 *              code is below VW_CODE_SLOTS, 32).
 * (Until issue 16 the state was two flag bits and the code 4 bits; the 17th
 * drop reason needed the 5th code bit.)
 * A TIMED entry (it depends on sessions) serves only within its tick.
 */
#define VW_CACHE_STATE_MASK 0x3U
#define VW_CACHE_ALLOWED 1U
#define VW_CACHE_DROPPED 2U
#define VW_CACHE_AUDIT   3U
#define VW_CACHE_TIMED   (1U << 2)
#define VW_CACHE_CODE_SHIFT 3
#define VW_CACHE_CODE_MASK  0x1fU
#define VW_CACHE_TICK_SHIFT 26 /* 67 ms */

struct vw_flow {
	struct vw_flow_key key;
	__u8 verdict;      /* of the latest packet                           */
	__u8 code;         /* its allow rule or drop reason                  */
	__u8 last_dir;     /* direction of the latest packet                 */
	__u8 first_dir;    /* direction of the first packet: who opened it   */
	__u64 cache;       /* the verdict cache, see above                   */
	__u8 tcp_flags[VW_DIR__MAX]; /* OR of the TCP flags seen each way    */
	__u16 pad;
	__u32 event_tick;  /* time of the last ring-buffer event >> VW_FLOW_EVENT_TICK_SHIFT */
	__u64 first_ns;    /* bpf_ktime_get_coarse_ns (CLOCK_MONOTONIC_COARSE); 0: empty slot */
	__u64 last_ns;
	/* Packets are counted as passed or dropped, so that each packet costs
	 * two atomic adds whatever its verdict; all packets = passed + drops. */
	__u64 passed[VW_DIR__MAX];
	__u64 bytes[VW_DIR__MAX]; /* of all packets                        */
	__u64 drops[VW_DIR__MAX];
};

/* cache_ctl: ARRAY of one struct vw_cache_ctl. The agent raises the epoch
 * after every write to a map that can change a verdict and after every
 * session sweep that removed a session, which retires every cached verdict
 * at once; 0 (no
 * agent yet) caches nothing. The seed keys the flow table's hash, so a pod
 * cannot aim its conversations at another's slots; written once. */
struct vw_cache_ctl {
	__u32 epoch;
	__u32 flow_seed;
};

/* flow_events: RINGBUF of struct vw_flow_event. A new flow sends one; drops
 * send at most one per flow per VW_FLOW_EVENT_INTERVAL_NS. */
enum vw_flow_event_type {
	VW_EVENT_NEW = 1,
	VW_EVENT_DROP = 2,
};

struct vw_flow_event {
	struct vw_flow_key key;
	__u8 type;         /* enum vw_flow_event_type */
	__u8 dir;          /* enum vw_direction       */
	__u8 verdict;
	__u8 code;
	__u32 len;         /* skb->len                */
	__u32 pad;
	__u64 ts_ns;       /* bpf_ktime_get_coarse_ns */
};

/* flow_stats: PERCPU_ARRAY of __u64, indexed by enum vw_flow_stat. */
enum vw_flow_stat {
	VW_FSTAT_EVENTS = 0,      /* events written to the ring buffer        */
	VW_FSTAT_EVENTS_LOST = 1, /* bpf_ringbuf_reserve failed: ring full    */
	VW_FSTAT_FLOWS_NEW = 2,   /* flow entries created                     */
	VW_FSTAT_FLOW_FAILED = 3, /* a flow entry could be neither made nor found */
	VW_FSTAT__MAX = 4,
};

/* BPF_PROG_TEST_RUN runs of `vrfwall explain` set skb->cb[0] to this value
 * and cb[1] to vw_config.probe_key: the programs then decide as usual but
 * write nothing (no counters, flows or sessions), so explaining changes
 * nothing; they leave the decision in cb[2] (verdict) and cb[3] (rule or
 * reason). The key is a secret of the agent's: a pod privileged enough to set
 * skb->cb on its own side of the veth must not be able to hide its traffic. */
#define VW_PROBE_MAGIC 0x76777072U /* "vwpr" */

#define VW_FLOWS_MAX 524288 /* slots; a power of 2 (the index is hash & (max - 1)) */
#define VW_FLOW_PROBES 8    /* slots a key may live in */
#define VW_FLOW_RINGBUF_SIZE (512 * 1024) /* bytes, a power of 2 pages */
#define VW_FLOW_EVENT_INTERVAL_NS 1000000000ULL
#define VW_FLOW_EVENT_TICK_SHIFT 20 /* event_tick counts ~1.05 ms */
/* The programs wake the agent only when the ring holds a quarter of its
 * size; otherwise the agent drains it every VW_FLOW_EVENT_POLL_MS (issue 12:
 * a wake-up costs the packet microseconds). */
#define VW_FLOW_EVENT_POLL_MS 20
#define VW_FLOW_RINGBUF_WAKE_BYTES (VW_FLOW_RINGBUF_SIZE / 4)

#endif /* VRFWALL_H */
