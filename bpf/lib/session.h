/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The session table (design section 3 rule 5): connections that rule 3 or 4
 * allowed, so that their replies pass. What a session is, its timeouts and
 * its quota are described at struct vw_session in vrfwall.h.
 *
 * Counting: every session is counted in its client's session_owners entry,
 * or its server's when it carries VW_SESS_CHARGE_SERVER (vrfwall.h).
 * Only a successful bpf_map_delete_elem gives the slot back, so two CPUs
 * removing the same entry cannot both decrement. The same helpers serve the
 * packet programs and session_gc.
 *
 * explain's test runs (pkt->probe) decide exactly as real packets do but
 * write nothing: no session made, refreshed or removed.
 */
#ifndef VW_LIB_SESSION_H
#define VW_LIB_SESSION_H

#include "lib/common.h"
#include "maps.h"

#define VW_EEXIST 17

static __always_inline __u64 vw_or(__u64 v, __u64 fallback)
{
	return v ? v : fallback;
}

static __always_inline const struct vw_config *vw_config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&config, &zero);
}

static __always_inline __u32 vw_session_quota(void)
{
	const struct vw_config *c = vw_config_get();

	return c && c->session_quota ? c->session_quota : VW_DEFAULT_SESSION_QUOTA;
}

static __always_inline int vw_session_closing(__u32 flags)
{
	return (flags & VW_SESS_RST) || (flags & (VW_SESS_FIN_FWD | VW_SESS_FIN_REV)) == (VW_SESS_FIN_FWD | VW_SESS_FIN_REV);
}

/* How long the session may stay idle, given what it has seen. */
static __always_inline __u64 vw_session_timeout(__u8 proto, __u32 flags)
{
	const struct vw_config *c = vw_config_get();

	if (proto == IPPROTO_TCP) {
		if (vw_session_closing(flags))
			return vw_or(c ? c->tcp_closing_timeout_ns : 0, VW_DEFAULT_TCP_CLOSING_TIMEOUT_NS);
		if (!(flags & VW_SESS_REPLIED))
			return vw_or(c ? c->tcp_syn_timeout_ns : 0, VW_DEFAULT_TCP_SYN_TIMEOUT_NS);
		return vw_or(c ? c->tcp_established_timeout_ns : 0, VW_DEFAULT_TCP_ESTABLISHED_TIMEOUT_NS);
	}
	if (proto == IPPROTO_UDP)
		return vw_or(c ? c->udp_timeout_ns : 0, VW_DEFAULT_UDP_TIMEOUT_NS);
	return vw_or(c ? c->other_timeout_ns : 0, VW_DEFAULT_OTHER_TIMEOUT_NS);
}

/* A session's packets decided from the verdict cache do not refresh it: the
 * first packet of each cache tick takes the full path and does. So while
 * traffic flows, last_seen lags the last packet by less than a tick, and a
 * session expires once it has been idle for its timeout plus that tick:
 * never sooner than its timeout. */
#define VW_SESSION_REFRESH_LAG_NS (1ULL << VW_CACHE_TICK_SHIFT)

static __always_inline int vw_session_expired(const struct vw_session_key *key, const struct vw_session *s, __u64 now)
{
	/* another CPU may have stored a slightly later time than ours */
	return now > s->last_seen_ns &&
	       now - s->last_seen_ns > vw_session_timeout(key->proto, s->flags) + VW_SESSION_REFRESH_LAG_NS;
}

/* Does this packet open a connection (and so may start a session)? */
static __always_inline int vw_pkt_opens(const struct vw_pkt *pkt)
{
	if (pkt->l4_proto == IPPROTO_TCP)
		return (pkt->tcp_flags & (VW_TCP_SYN | VW_TCP_ACK | VW_TCP_FIN | VW_TCP_RST)) == VW_TCP_SYN;
	if (pkt->l4_proto == IPPROTO_SCTP)
		return pkt->sctp_chunk == VW_SCTP_CHUNK_INIT;
	return 1; /* UDP: every datagram may be the first */
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

/* The session_owners key a session with `flags` is counted in. */
static __always_inline const __u8 *vw_session_owner_of(const struct vw_session_key *key, __u32 flags)
{
	return (flags & VW_SESS_CHARGE_SERVER) ? key->daddr : key->saddr;
}

/* Remove a session; the CPU whose delete succeeds gives its owner the slot
 * back. The owner bit is read before the delete: it never changes while the
 * entry lives, and a key's owner is the same whoever makes it (its client is
 * a pod or it is not). */
static __always_inline void vw_session_remove(const struct vw_session_key *key)
{
	struct vw_session_owner *o;
	struct vw_session *s;
	__u32 flags;

	s = bpf_map_lookup_elem(&sessions, key);
	flags = s ? s->flags : 0;
	if (bpf_map_delete_elem(&sessions, key) != 0)
		return;
	o = bpf_map_lookup_elem(&session_owners, vw_session_owner_of(key, flags));
	if (o && o->live > 0)
		__sync_fetch_and_sub(&o->live, 1);
}

/* Make the session of the connection `key` opens: 0, or VW_DROP_SESSION_LIMIT
 * when its client is at its quota or the table is full. Only the client that
 * asks is refused; nothing of anybody else's is touched. */
static __always_inline __u32 vw_session_create(const struct vw_session_key *key, __u32 rule, __u32 flags, __u64 now)
{
	struct vw_session fresh = { .last_seen_ns = now, .rule = rule, .flags = flags };
	struct vw_session_owner zero = {};
	struct vw_session_owner *o;
	const __u8 *owner = vw_session_owner_of(key, flags);
	long err;

	o = bpf_map_lookup_elem(&session_owners, owner);
	if (!o) {
		bpf_map_update_elem(&session_owners, owner, &zero, BPF_NOEXIST);
		o = bpf_map_lookup_elem(&session_owners, owner);
		if (!o)
			return VW_DROP_SESSION_LIMIT; /* the owners table is full */
	}
	if (__sync_fetch_and_add(&o->live, 1) >= vw_session_quota()) {
		__sync_fetch_and_sub(&o->live, 1);
		return VW_DROP_SESSION_LIMIT;
	}
	err = bpf_map_update_elem(&sessions, key, &fresh, BPF_NOEXIST);
	if (err) {
		__sync_fetch_and_sub(&o->live, 1);
		if (err != -VW_EEXIST) /* another CPU made it first: fine */
			return VW_DROP_SESSION_LIMIT;
	}
	return 0;
}

/* What vw_session_create would say, without creating (explain). */
static __always_inline __u32 vw_session_would_create(const struct vw_session_key *key, __u32 flags)
{
	struct vw_session_owner *o = bpf_map_lookup_elem(&session_owners, vw_session_owner_of(key, flags));

	return o && o->live >= vw_session_quota() ? VW_DROP_SESSION_LIMIT : 0;
}

/* A packet of the session: refresh it and note TCP's closing. */
static __always_inline void vw_session_note(struct vw_session *s, const struct vw_pkt *pkt, int reply, __u64 now)
{
	__u32 add = reply ? VW_SESS_REPLIED : 0;

	if (pkt->l4_proto == IPPROTO_TCP) {
		if (pkt->tcp_flags & VW_TCP_RST)
			add |= VW_SESS_RST;
		if (pkt->tcp_flags & VW_TCP_FIN)
			add |= reply ? VW_SESS_FIN_REV : VW_SESS_FIN_FWD;
	}
	s->last_seen_ns = now;
	if ((s->flags & add) != add)
		__sync_fetch_and_or(&s->flags, add);
}

/* TCP in mid-connection, neither closing it nor resetting: NetworkPolicy
 * picks such a connection up (as netfilter conntrack does by default), so a
 * connection already running when a policy started to select its pods keeps
 * its replies as long as the policy allows its sender. */
static __always_inline int vw_pkt_midstream_tcp(const struct vw_pkt *pkt)
{
	return pkt->l4_proto == IPPROTO_TCP && !(pkt->tcp_flags & (VW_TCP_SYN | VW_TCP_FIN | VW_TCP_RST));
}

/*
 * The client's packet (`key`: its own 5-tuple, client = sender) of a
 * connection that rule 3 or 4 allows, or NetworkPolicy (flags
 * VW_SESS_POLICY): keep its session, or start one when the packet `opens`
 * one. Returns 0 or a drop reason (the client is over its quota). A packet
 * that does not open and has no session passes (the policy allows it) but
 * starts nothing, so its replies will not pass. `flags` are added to the
 * session's (found or made), but VW_SESS_CHARGE_SERVER only to one it makes
 * (the owner of a live session never changes).
 */
static __always_inline __u32 vw_session_forward_key(const struct vw_session_key *key, const struct vw_pkt *pkt, __u32 rule,
						    __u32 flags, int opens)
{
	struct vw_session *s;
	__u64 now = bpf_ktime_get_coarse_ns();

	s = bpf_map_lookup_elem(&sessions, key);
	if (s && vw_session_expired(key, s, now)) {
		if (!pkt->probe)
			vw_session_remove(key);
		s = NULL;
	}
	if (s) {
		if (pkt->probe)
			return 0;
		flags &= ~VW_SESS_CHARGE_SERVER;
		/* the same 5-tuple reused after a close starts afresh (counted where it was) */
		if (opens && vw_session_closing(s->flags)) {
			s->flags = flags | (s->flags & VW_SESS_CHARGE_SERVER);
			s->rule = rule;
		}
		if ((s->flags & flags) != flags)
			__sync_fetch_and_or(&s->flags, flags);
		vw_session_note(s, pkt, 0, now);
		return 0;
	}
	if (!opens)
		return 0;
	if (pkt->probe)
		return vw_session_would_create(key, flags);
	return vw_session_create(key, rule, flags, now);
}

/* Rule 3 or 4: a session starts only with a connection's first packet. */
static __always_inline __u32 vw_session_forward(const struct vw_pkt *pkt, __u32 rule)
{
	struct vw_session_key key = {};

	vw_session_key_of(&key, &pkt->src, &pkt->dst, pkt->sport, pkt->dport, pkt->l4_proto);
	return vw_session_forward_key(&key, pkt, rule, 0, vw_pkt_opens(pkt));
}

/* Is `key` (the reverse of the packet's own) a live session? Refreshes it. */
static __always_inline int vw_session_reply_key(const struct vw_session_key *key, const struct vw_pkt *pkt)
{
	struct vw_session *s;
	__u64 now = bpf_ktime_get_coarse_ns();

	s = bpf_map_lookup_elem(&sessions, key);
	if (!s)
		return 0;
	if (vw_session_expired(key, s, now)) {
		if (!pkt->probe)
			vw_session_remove(key);
		return 0;
	}
	if (!pkt->probe)
		vw_session_note(s, pkt, 1, now);
	return 1;
}

/* Is this packet a reply within a live session (its reverse is one)? */
static __always_inline int vw_session_reply(const struct vw_pkt *pkt)
{
	struct vw_session_key key = {};

	vw_session_key_of(&key, &pkt->dst, &pkt->src, pkt->dport, pkt->sport, pkt->l4_proto);
	return vw_session_reply_key(&key, pkt);
}

#endif /* VW_LIB_SESSION_H */
