// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * session_gc: the agent's sweep of the session table, never attached to a
 * hook. The agent runs it with BPF_PROG_TEST_RUN (any small frame) on a
 * timer and after every reconcile that changed a map. It removes sessions
 * that are idle past their timeout and sessions the current policy no
 * longer allows (the client is gone or quarantined, or its network may no
 * longer use the Service: a router removed, a label changed, audit mode
 * switched to enforce). Removal goes
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

struct bpf_map;

struct vw_gc_ctx {
	__u64 now;
	__u32 expired;
	__u32 revoked;
	__u32 kept;
};

/* Would the client still be allowed to open this connection? */
static __always_inline int vw_session_still_allowed(const struct vw_session_key *key, const struct vw_session *s)
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
