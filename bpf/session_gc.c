// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * session_gc: the agent's sweep of the session table, never attached to a
 * hook. The agent runs it with BPF_PROG_TEST_RUN (any small frame) on a
 * timer and after every reconcile that changed a map. It removes sessions
 * that are idle past their timeout and sessions the current policy no
 * longer allows (the client is gone or quarantined, or its network may no
 * longer use the Service: a router removed, a label changed, audit mode
 * switched to enforce; for sessions NetworkPolicy keeps (VW_SESS_POLICY),
 * an end's current policy no longer lets the client open it, or
 * segmentation no longer lets the two talk). Removal goes
 * through vw_session_remove, so the quota counts stay exact; doing this in
 * the kernel is what lets the programs alone own those counts.
 *
 * Results in skb->cb (handed back by the test run): cb[0] expired, cb[1]
 * revoked, cb[2] kept.
 */
#include "lib/common.h"
#include "maps.h"
#include "lib/addr.h"
#include "lib/endpoint.h"
#include "lib/service.h"
#include "lib/session.h"
#include "lib/netpol.h"

struct bpf_map;

struct vw_gc_ctx {
	__u64 now;
	__u32 expired;
	__u32 revoked;
	__u32 kept;
};

/* Would the client still be allowed to open this connection to a Service
 * (a session rule 3 or 4 made)? */
static __always_inline int vw_service_session_still_allowed(const struct vw_session_key *key, const struct vw_session *s)
{
	const union vw_addr *client_addr = (const union vw_addr *)key->saddr;
	const union vw_addr *server_addr = (const union vw_addr *)key->daddr;
	struct vw_endpoint *client = vw_lookup_endpoint(client_addr);
	void *map = s->rule == VW_RULE_SERVICE_BACKEND ? (void *)&backends : (void *)&services;
	union vw_addr server;

	if (!client || vw_endpoint_is_cut_off(client))
		return 0;
	if (vw_svc_lookup(map, server_addr, key->dport, key->proto, client->vrf_id))
		return 1;
	/* a session audit mode made (rule 3 in audit) lives only while audit
	 * still lets it in: switching to enforce ends it at the next sweep */
	if (s->rule != VW_RULE_SERVICE)
		return 0;
	/* a global function takes stack memory, not the map's key */
	__builtin_memcpy(server.b, key->daddr, VW_ADDR_LEN);
	return vw_audit_service(&server, key->dport, key->proto, client->vrf_id);
}

/* A session only policy made (segmentation allowed its opening by rules 1,
 * 2 or 6, or audit let it pass): does segmentation still let the two talk?
 * Its replies could otherwise pass rule 5 between networks a router no
 * longer joins. Outside addresses and the node: nothing to re-judge here. */
static __always_inline int vw_policy_session_segment_ok(const struct vw_endpoint *client, const struct vw_endpoint *server,
							const union vw_addr *server_addr, const struct vw_session_key *key)
{
	struct vw_svc_key bk = {};

	if (client && !(client->flags & VW_EP_HOST) && vw_endpoint_is_cut_off(client))
		return 0;
	if (server && !(server->flags & VW_EP_HOST) && vw_endpoint_is_cut_off(server))
		return 0;
	if (!client || !server || (client->flags & VW_EP_HOST) || (server->flags & VW_EP_HOST))
		return 1;
	if (client->vrf_id == server->vrf_id ||
	    bpf_map_lookup_elem(&vrf_pairs, &(struct vw_vrf_pair){ .src_vrf = client->vrf_id, .dst_vrf = server->vrf_id }))
		return 1;
	__builtin_memcpy(bk.addr, key->daddr, VW_ADDR_LEN);
	bk.port = key->dport;
	bk.proto = key->proto;
	bk.client_vrf = VW_SVC_ANY_VRF;
	if (bpf_map_lookup_elem(&backends, &bk))
		return 1;
	bk.client_vrf = client->vrf_id;
	if (bpf_map_lookup_elem(&backends, &bk))
		return 1;
	return vw_audit_isolated(client->vrf_id, server->vrf_id);
}

/* NetworkPolicy: would each end's current policy still let the client open
 * this connection? The client's egress where it is a local pod with an
 * egress set, the server's ingress where it is a local pod with an
 * ingress set (the node as client is never denied ingress). */
static __always_inline int vw_policy_session_still_allowed(const struct vw_endpoint *client,
							  const struct vw_endpoint *server,
							  const union vw_addr *client_addr,
							  const union vw_addr *server_addr, const struct vw_session_key *key)
{
	__u32 port = bpf_ntohs(key->dport);

	if (client && (client->flags & VW_EP_LOCAL) && client->policy_out &&
	    !vw_netpol_allows(client->policy_out, server ? server->identity : 0, server_addr, key->proto, port))
		return 0;
	if (server && (server->flags & VW_EP_LOCAL) && server->policy_in &&
	    !vw_netpol_peer_is_node(client, client_addr) &&
	    !vw_netpol_allows(server->policy_in, client ? client->identity : 0, client_addr, key->proto, port))
		return 0;
	return 1;
}

/* Would the client still be allowed to open this connection? */
static __always_inline int vw_session_still_allowed(const struct vw_session_key *key, const struct vw_session *s)
{
	union vw_addr client_addr, server_addr;
	struct vw_endpoint *client, *server;
	int service = s->rule == VW_RULE_SERVICE || s->rule == VW_RULE_SERVICE_BACKEND;

	if (service && !vw_service_session_still_allowed(key, s))
		return 0;
	if (!(s->flags & VW_SESS_POLICY))
		return service;
	/* global functions take stack memory, not the map's key */
	__builtin_memcpy(client_addr.b, key->saddr, VW_ADDR_LEN);
	__builtin_memcpy(server_addr.b, key->daddr, VW_ADDR_LEN);
	client = vw_lookup_endpoint(&client_addr);
	server = vw_lookup_endpoint(&server_addr);
	if (!service && !vw_policy_session_segment_ok(client, server, &server_addr, key))
		return 0;
	return vw_policy_session_still_allowed(client, server, &client_addr, &server_addr, key);
}

static long vw_gc_one(struct bpf_map *map, struct vw_session_key *key, struct vw_session *s, struct vw_gc_ctx *ctx)
{
	if (vw_session_expired(key, s, ctx->now)) {
		vw_session_remove(key);
		ctx->expired++;
	} else if (!vw_session_still_allowed(key, s)) {
		vw_session_remove(key);
		ctx->revoked++;
	} else {
		ctx->kept++;
	}
	return 0; /* go on */
}

SEC("tc")
int session_gc(struct __sk_buff *skb)
{
	struct vw_gc_ctx ctx = { .now = bpf_ktime_get_coarse_ns() };

	bpf_for_each_map_elem(&sessions, vw_gc_one, &ctx, 0);
	skb->cb[0] = ctx.expired;
	skb->cb[1] = ctx.revoked;
	skb->cb[2] = ctx.kept;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
