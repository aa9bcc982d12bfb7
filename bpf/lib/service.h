/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Services: design section 3 rules 3 (ClusterIP), 4 (backend on a target
 * port) and 5 (replies), with the session table that makes rule 5 work
 * without netfilter conntrack.
 *
 * Where each form of a Service connection is seen on a node with kube-proxy
 * DNAT in PREROUTING:
 *   client's from_pod  client:cport -> VIP:port          rule 3, session made
 *   backend's to_pod   client:cport -> backend:tport     rule 4, session made
 *   backend's from_pod backend:tport -> client:cport     rule 5 (reverse of the above)
 *   client's to_pod    VIP:port -> client:cport          rule 5 (un-DNATed reply)
 * Cross-node, each node sees and records only its half.
 *
 * Ports exist only in the first fragment. A later fragment that would need a
 * port-based rule is dropped (VW_DROP_FRAGMENT): fail closed rather than let a
 * fragment ride on an address pair that only a session or a port allowed.
 */
#ifndef VW_LIB_SERVICE_H
#define VW_LIB_SERVICE_H

#include "lib/common.h"
#include "lib/addr.h"
#include "lib/parse.h"
#include "maps.h"

/* What a packet is to the port-based rules. */
enum vw_l4_class {
	VW_L4_PORTS = 0,    /* TCP/UDP/SCTP with its ports in this packet      */
	VW_L4_NO_PORTS = 1, /* a protocol without ports (ICMP, ...)            */
	VW_L4_LATER_FRAG = 2, /* TCP/UDP/SCTP, but a later fragment: ports unknown */
};

static __always_inline enum vw_l4_class vw_l4_class(const struct vw_pkt *pkt)
{
	if (!vw_proto_has_ports(pkt->l4_proto))
		return VW_L4_NO_PORTS;
	return pkt->has_l4 ? VW_L4_PORTS : VW_L4_LATER_FRAG;
}

/* Look `addr`:`port`/proto up in a services/backends map for a client of
 * network `client_vrf`: its own entry, else the entry for every network. */
static __always_inline struct vw_svc_value *vw_svc_lookup(void *map, const union vw_addr *addr, __be16 port,
							  __u8 proto, __u32 client_vrf)
{
	struct vw_svc_key key = {};
	struct vw_svc_value *v;

	__builtin_memcpy(key.addr, addr->b, VW_ADDR_LEN);
	key.port = port;
	key.proto = proto;
	key.client_vrf = client_vrf;
	v = bpf_map_lookup_elem(map, &key);
	if (v)
		return v;
	key.client_vrf = VW_SVC_ANY_VRF;
	return bpf_map_lookup_elem(map, &key);
}

static __always_inline void vw_session_key_of(struct vw_session_key *key, const union vw_addr *saddr,
					      const union vw_addr *daddr, __be16 sport, __be16 dport, __u8 proto)
{
	__builtin_memcpy(key->saddr, saddr->b, VW_ADDR_LEN);
	__builtin_memcpy(key->daddr, daddr->b, VW_ADDR_LEN);
	key->sport = sport;
	key->dport = dport;
	key->proto = proto;
}

/* Record (or refresh) the connection this packet opens, as sent. */
static __always_inline void vw_session_open(const struct vw_pkt *pkt, __u32 svc_vrf, __u32 rule)
{
	struct vw_session_key key = {};
	struct vw_session *s;
	struct vw_session fresh = {};
	__u64 now = bpf_ktime_get_ns();

	vw_session_key_of(&key, &pkt->src, &pkt->dst, pkt->sport, pkt->dport, pkt->l4_proto);
	s = bpf_map_lookup_elem(&sessions, &key);
	if (s) {
		s->last_seen_ns = now;
		return;
	}
	fresh.last_seen_ns = now;
	fresh.svc_vrf = svc_vrf;
	fresh.rule = rule;
	/* If the table is full the LRU evicts its oldest entry; a failed update
	 * only costs this connection its replies (fail closed). */
	bpf_map_update_elem(&sessions, &key, &fresh, BPF_ANY);
}

/* Is this packet a reply within a recorded connection (its reverse is one)? */
static __always_inline int vw_session_is_reply(const struct vw_pkt *pkt)
{
	struct vw_session_key key = {};
	struct vw_session *s;

	vw_session_key_of(&key, &pkt->dst, &pkt->src, pkt->dport, pkt->sport, pkt->l4_proto);
	s = bpf_map_lookup_elem(&sessions, &key);
	if (!s)
		return 0;
	s->last_seen_ns = bpf_ktime_get_ns();
	return 1;
}

/*
 * Two known pods in networks no router joins (rules 1 and 2 said no): the
 * receiver may be a backend of a Service the sender's network may use (rule
 * 4), or this may be a reply to such a connection (rule 5).
 */
static __always_inline struct vw_decision vw_service_between_pods(const struct vw_pkt *pkt, __u32 sender_vrf)
{
	struct vw_svc_value *svc;

	switch (vw_l4_class(pkt)) {
	case VW_L4_NO_PORTS:
		return vw_drop(VW_DROP_ISOLATED);
	case VW_L4_LATER_FRAG:
		return vw_drop(VW_DROP_FRAGMENT);
	default:
		break;
	}
	svc = vw_svc_lookup(&backends, &pkt->dst, pkt->dport, pkt->l4_proto, sender_vrf);
	if (svc) {
		vw_session_open(pkt, svc->svc_vrf, VW_RULE_SERVICE_BACKEND);
		return vw_allow(VW_RULE_SERVICE_BACKEND); /* rule 4 */
	}
	if (vw_session_is_reply(pkt))
		return vw_allow(VW_RULE_REPLY); /* rule 5 */
	return vw_drop(VW_DROP_ISOLATED);
}

/* The local pod (network `self_vrf`) sends to an address in the service
 * ranges: it must be a ClusterIP:port this network may use (rule 3). */
static __always_inline struct vw_decision vw_service_to_vip(const struct vw_pkt *pkt, __u32 self_vrf)
{
	struct vw_svc_value *svc;

	switch (vw_l4_class(pkt)) {
	case VW_L4_NO_PORTS:
		return vw_drop(VW_DROP_SERVICE_DENIED);
	case VW_L4_LATER_FRAG:
		return vw_drop(VW_DROP_FRAGMENT);
	default:
		break;
	}
	svc = vw_svc_lookup(&services, &pkt->dst, pkt->dport, pkt->l4_proto, self_vrf);
	if (!svc)
		return vw_drop(VW_DROP_SERVICE_DENIED);
	vw_session_open(pkt, svc->svc_vrf, VW_RULE_SERVICE);
	return vw_allow(VW_RULE_SERVICE); /* rule 3 */
}

/* The local pod receives from an address in the service ranges: only a reply
 * to a connection it opened to that ClusterIP (rule 5). */
static __always_inline struct vw_decision vw_service_from_vip(const struct vw_pkt *pkt)
{
	switch (vw_l4_class(pkt)) {
	case VW_L4_NO_PORTS:
		return vw_drop(VW_DROP_NO_SESSION);
	case VW_L4_LATER_FRAG:
		return vw_drop(VW_DROP_FRAGMENT);
	default:
		break;
	}
	if (vw_session_is_reply(pkt))
		return vw_allow(VW_RULE_REPLY);
	return vw_drop(VW_DROP_NO_SESSION);
}

#endif /* VW_LIB_SERVICE_H */
