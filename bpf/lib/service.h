/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Services: design section 3 rules 3 (ClusterIP), 4 (backend on a target
 * port) and 5 (replies), with the session table that makes rule 5 work
 * without netfilter conntrack.
 *
 * A Service has no network of its own: the compile step gives its ClusterIP
 * entries for the networks that may reach its backends (rules 1 and 2), or
 * VW_SVC_ANY_VRF when it is shared; only shared Services have `backends`
 * entries (rule 4).
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
#include "lib/session.h"
#include "lib/endpoint.h"
#include "lib/audit.h"
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

/* May a client of network `client_vrf` use backend addr:port/proto (rule
 * 4)? The same answer as vw_svc_lookup on `backends` (every caller only asks
 * whether an entry exists), asked the other way round: only shared Services
 * have backends entries and nearly all of them are for every network
 * (VW_SVC_ANY_VRF; per-network ones only when a shared Service is narrowed),
 * so the entry for every network is probed first. */
static __always_inline int vw_backend_allows(const union vw_addr *addr, __be16 port, __u8 proto, __u32 client_vrf)
{
	struct vw_svc_key key = {};

	__builtin_memcpy(key.addr, addr->b, VW_ADDR_LEN);
	key.port = port;
	key.proto = proto;
	key.client_vrf = VW_SVC_ANY_VRF;
	if (bpf_map_lookup_elem(&backends, &key))
		return 1;
	key.client_vrf = client_vrf;
	return bpf_map_lookup_elem(&backends, &key) != NULL;
}

/* Rule 3 or 4 allowed the client's packet: its session, or SESSION_LIMIT. */
static __always_inline struct vw_decision vw_service_allow(const struct vw_pkt *pkt, __u32 rule)
{
	__u32 reason = vw_session_forward(pkt, rule);

	return reason ? vw_drop(reason) : vw_allow(rule);
}

/*
 * Two known pods in networks no router joins (rules 1 and 2 said no): the
 * receiver may be a backend of a Service the sender's network may use (rule
 * 4), or this may be a reply to such a connection (rule 5).
 *
 * VW_EP_NO_BACKEND (no backends entry has the address) spares lookups that
 * cannot succeed: rule 4 for a receiver that is no backend, and rule 5 for a
 * sender that is none, since only rule 4 makes sessions whose server is a
 * pod (rule 3's server is the ClusterIP) and the agent's sweep revokes those
 * of a backend that is gone (this only closes them at the endpoints write of
 * the same update instead).
 */
static __always_inline struct vw_decision vw_service_between_pods(const struct vw_pkt *pkt,
								   const struct vw_endpoint *sender,
								   const struct vw_endpoint *receiver)
{
	switch (vw_l4_class(pkt)) {
	case VW_L4_NO_PORTS:
		return vw_drop(VW_DROP_ISOLATED);
	case VW_L4_LATER_FRAG:
		return vw_drop(VW_DROP_FRAGMENT);
	default:
		break;
	}
	if (!(receiver->flags & VW_EP_NO_BACKEND) &&
	    vw_backend_allows(&pkt->dst, pkt->dport, pkt->l4_proto, sender->vrf_id))
		return vw_service_allow(pkt, VW_RULE_SERVICE_BACKEND); /* rule 4 */
	if (!(sender->flags & VW_EP_NO_BACKEND) && vw_session_reply(pkt))
		return vw_allow(VW_RULE_REPLY); /* rule 5 */
	return vw_drop(VW_DROP_ISOLATED);
}

/* The local pod (network `self_vrf`) sends to an address in the service
 * ranges: it must be a ClusterIP:port this network may use (rule 3). */
static __always_inline struct vw_decision vw_service_to_vip(const struct vw_pkt *pkt, __u32 self_vrf)
{
	struct vw_decision d;
	__u32 audited = 0;

	switch (vw_l4_class(pkt)) {
	case VW_L4_NO_PORTS:
		return vw_node_audits() ? vw_audit(VW_DROP_SERVICE_DENIED) : vw_drop(VW_DROP_SERVICE_DENIED);
	case VW_L4_LATER_FRAG:
		return vw_drop(VW_DROP_FRAGMENT);
	default:
		break;
	}
	if (!vw_svc_lookup(&services, &pkt->dst, pkt->dport, pkt->l4_proto, self_vrf)) {
		if (!vw_audit_service(&pkt->dst, pkt->dport, pkt->l4_proto, self_vrf))
			return vw_drop(VW_DROP_SERVICE_DENIED);
		audited = 1;
	}
	/* rule 3, or audited: either way the connection gets its session, so
	 * its replies pass (session_gc removes an audited one once audit no
	 * longer lets it in). One call of the session code for both. */
	d = vw_service_allow(pkt, VW_RULE_SERVICE);
	if (audited && d.verdict == VW_VERDICT_ALLOWED)
		return vw_audit(VW_DROP_SERVICE_DENIED);
	return d;
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
	if (vw_session_reply(pkt))
		return vw_allow(VW_RULE_REPLY);
	return vw_drop(VW_DROP_NO_SESSION);
}

/* Is addr:port/proto a Service frontend outside the service ranges (it has
 * the VW_SVC_FRONTEND_VRF marker)? */
static __always_inline int vw_svc_is_frontend(const union vw_addr *addr, const struct vw_pkt *pkt, __be16 port)
{
	struct vw_svc_key key = {};

	__builtin_memcpy(key.addr, addr->b, VW_ADDR_LEN);
	key.port = port;
	key.proto = pkt->l4_proto;
	key.client_vrf = VW_SVC_FRONTEND_VRF;
	return bpf_map_lookup_elem(&services, &key) != NULL;
}

/*
 * The local pod `self` sends to a node address or an address outside the
 * cluster ranges. kube-proxy (NodePort on any node address, LoadBalancer and
 * external IPs) and the portmap plugin (hostPort) DNAT such packets to pods
 * and may SNAT them to the node, so the receiver would see "the node" (rule
 * 6): the frontend is judged here like a ClusterIP (design section 3). The
 * destination's own marker first, then the NodePort marker for any address.
 * Returns 1 with *d set when the destination is a frontend.
 *
 * Only what opens a connection is judged for TCP (SYN without ACK): NAT
 * needs it to start one, and a pod's answers to the node (kubelet probes:
 * SYN+ACK to the node's ephemeral port) must never match a NodePort.
 */
static __always_inline int vw_service_frontend(const struct vw_pkt *pkt, const struct vw_endpoint *self,
					       struct vw_decision *d)
{
	const union vw_addr any_node = {};
	const union vw_addr *addr = &pkt->dst;

	if (vw_l4_class(pkt) != VW_L4_PORTS)
		return 0; /* no ports; a later fragment follows its first, judged here */
	if (pkt->l4_proto == IPPROTO_TCP && (pkt->tcp_flags & (VW_TCP_SYN | VW_TCP_ACK)) != VW_TCP_SYN)
		return 0;
	if (!vw_svc_is_frontend(addr, pkt, pkt->dport)) {
		if (!vw_svc_is_frontend(&any_node, pkt, pkt->dport))
			return 0;
		addr = &any_node;
	}
	if (vw_endpoint_is_cut_off(self))
		*d = vw_drop(VW_DROP_QUARANTINED); /* vrf 0 would match the every-network entries */
	else if (vw_svc_lookup(&services, addr, pkt->dport, pkt->l4_proto, self->vrf_id))
		*d = vw_allow(VW_RULE_SERVICE); /* rule 3; replies come from the node or the frontend */
	else if (vw_audit_service(addr, pkt->dport, pkt->l4_proto, self->vrf_id))
		*d = vw_audit(VW_DROP_SERVICE_DENIED);
	else
		*d = vw_drop(VW_DROP_SERVICE_DENIED);
	return 1;
}

/* To a pod whose network denies outside addresses: a reply from a
 * LoadBalancer or external IP of a Service the pod may use (kube-proxy
 * un-DNATs it to come from there) is not "outside". */
static __always_inline int vw_service_frontend_reply(const struct vw_pkt *pkt, const struct vw_endpoint *self)
{
	if (vw_l4_class(pkt) != VW_L4_PORTS || !vw_svc_is_frontend(&pkt->src, pkt, pkt->sport))
		return 0;
	return vw_svc_lookup(&services, &pkt->src, pkt->sport, pkt->l4_proto, self->vrf_id) != NULL;
}

#endif /* VW_LIB_SERVICE_H */
