/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The verdict cache (issue 12): each flow slot keeps the last full decision
 * of each direction (the word layout is at struct vw_flow in vrfwall.h), so
 * the steady state of a conversation costs its slot read instead of the
 * endpoint, router, Service and session lookups.
 *
 * A cached decision is used only when all of these hold:
 * - it was made under the current policy epoch: the agent raises the epoch
 *   after every write to a map that can change a verdict and after every
 *   session sweep that removed a session, so a label change reaches a
 *   running connection with its next packet;
 * - the key's fingerprint matches (the slot was not handed to another
 *   conversation between the key compare and this read);
 * - the packet is one the decision does not depend on beyond its flow key:
 *   TCP without SYN, FIN or RST (those open and close sessions), UDP, SCTP
 *   but INIT, never a fragment; ICMP, ND, ARP, malformed frames and explain's
 *   probes always take the full path;
 * - a decision that rests on a session (rules 3-5, and ISOLATED, which
 *   between pods also means "no session makes this a reply") is TIMED: it
 *   serves only within the tick it was made in (67 ms), so the full path
 *   refreshes the session and sees its expiry, and a session made on another
 *   interface is seen within a tick; NO_SESSION and SESSION_LIMIT (a session
 *   may appear or a slot free up at any time) are never cached;
 * - a packet that may make or end a session (TCP SYN, FIN, RST, SCTP INIT)
 *   clears its slot's word: the other direction's decision may rest on it.
 * from_pod caches only for interfaces without a `ports` entry: on a bridge
 * port every frame's source MAC is checked, and the MAC is not in the key.
 */
#ifndef VW_LIB_VERDICT_CACHE_H
#define VW_LIB_VERDICT_CACHE_H

#include "lib/common.h"
#include "lib/flow_table.h"

#define VW_CACHE_FP_SHIFT   32
#define VW_CACHE_TICK_BIT   40
#define VW_CACHE_ENTRY_BIT  48
#define VW_CACHE_HEAD_MASK  0xffffffffffffULL /* epoch, fingerprint, tick */
#define VW_CACHE_ENTRY_MASK 0xffU

/* Only packets whose decision follows from the flow key and the maps. */
static __always_inline int vw_pkt_cacheable(const struct vw_pkt *pkt)
{
	if (pkt->probe || pkt->fragment || !pkt->has_l4)
		return 0;
	switch (pkt->l4_proto) {
	case IPPROTO_TCP:
		return !(pkt->tcp_flags & (VW_TCP_SYN | VW_TCP_FIN | VW_TCP_RST));
	case IPPROTO_UDP:
		return 1;
	case IPPROTO_SCTP:
		return pkt->sctp_chunk != VW_SCTP_CHUNK_INIT;
	default:
		return 0;
	}
}

/* TCP SYN, FIN or RST, SCTP INIT: a packet that may make or end a session. */
static __always_inline int vw_pkt_opens_or_closes(const struct vw_pkt *pkt)
{
	if (!pkt->has_l4)
		return 0;
	if (pkt->l4_proto == IPPROTO_TCP)
		return (pkt->tcp_flags & (VW_TCP_SYN | VW_TCP_FIN | VW_TCP_RST)) != 0;
	return pkt->l4_proto == IPPROTO_SCTP && pkt->sctp_chunk == VW_SCTP_CHUNK_INIT;
}

/* The cache entry for a decision (VW_CACHE_*), 0 when it may not be cached. */
static __always_inline __u32 vw_cache_entry_of(struct vw_decision d)
{
	__u32 e = (d.code & VW_CACHE_CODE_MASK) << VW_CACHE_CODE_SHIFT;

	if (d.code > VW_CACHE_CODE_MASK)
		return 0;
	if (d.verdict == VW_VERDICT_AUDIT) {
		/* Audited like the drop it stands for: the fast path's targets
		 * hold in audit mode. ISOLATED and SERVICE_DENIED rest on
		 * sessions (a reply; the session an audited ClusterIP
		 * connection makes): TIMED. The epoch retires them when the
		 * mode changes. */
		switch (d.code) {
		case VW_DROP_ISOLATED:
		case VW_DROP_SERVICE_DENIED:
			return e | VW_CACHE_AUDIT | VW_CACHE_TIMED;
		case VW_DROP_EXTERNAL_DENIED:
			return e | VW_CACHE_AUDIT;
		default:
			return 0;
		}
	}
	if (d.verdict == VW_VERDICT_ALLOWED) {
		switch (d.code) {
		case VW_RULE_SAME_NETWORK:
		case VW_RULE_ROUTER:
		case VW_RULE_NOT_POD:
			return e | VW_CACHE_ALLOWED;
		case VW_RULE_SERVICE:
		case VW_RULE_SERVICE_BACKEND:
		case VW_RULE_REPLY:
			return e | VW_CACHE_ALLOWED | VW_CACHE_TIMED;
		default:
			return 0;
		}
	}
	switch (d.code) {
	case VW_DROP_ISOLATED:
		/* between pods it is also "no session made this a reply" */
		return e | VW_CACHE_DROPPED | VW_CACHE_TIMED;
	case VW_DROP_QUARANTINED:
	case VW_DROP_UNKNOWN_ENDPOINT:
	case VW_DROP_SPOOFED:
	case VW_DROP_EXTERNAL_DENIED:
	case VW_DROP_SERVICE_DENIED:
	case VW_DROP_TUNNEL:
		return e | VW_CACHE_DROPPED;
	default:
		return 0; /* NO_SESSION, SESSION_LIMIT, and what never gets here */
	}
}

static __always_inline __u64 vw_cache_head(const struct vw_flow_ctx *fc)
{
	return (__u64)fc->epoch | ((__u64)(fc->hash >> 24) << VW_CACHE_FP_SHIFT) |
	       ((__u64)((fc->now >> VW_CACHE_TICK_SHIFT) & 0xff) << VW_CACHE_TICK_BIT);
}

/* The cached decision for this packet, if there is one that holds. */
static __always_inline int vw_cache_lookup(const struct vw_flow_ctx *fc, const struct vw_pkt *pkt, __u32 dir,
					   struct vw_decision *d)
{
	const struct vw_flow *f = fc->slot;
	__u64 w, head = vw_cache_head(fc);
	__u32 e;

	if (!f || fc->epoch == 0 || dir >= VW_DIR__MAX || !vw_pkt_cacheable(pkt))
		return 0;
	w = *(volatile const __u64 *)&f->cache; /* one read: the word is written whole */
	if ((__u32)w != fc->epoch || ((w ^ head) >> VW_CACHE_FP_SHIFT & 0xff) != 0)
		return 0;
	e = (w >> (VW_CACHE_ENTRY_BIT + 8 * dir)) & VW_CACHE_ENTRY_MASK;
	if (!(e & VW_CACHE_STATE_MASK))
		return 0;
	/* within the tick, and the conversation was not idle past it either
	 * (the tick's 8 bits wrap every 17 s) */
	if ((e & VW_CACHE_TIMED) && ((w ^ head) & VW_CACHE_HEAD_MASK || fc->now - f->last_ns >= (1ULL << VW_CACHE_TICK_SHIFT)))
		return 0;
	switch (e & VW_CACHE_STATE_MASK) {
	case VW_CACHE_DROPPED:
		d->verdict = VW_VERDICT_DROPPED;
		break;
	case VW_CACHE_AUDIT:
		d->verdict = VW_VERDICT_AUDIT;
		break;
	default:
		d->verdict = VW_VERDICT_ALLOWED;
	}
	d->code = (e >> VW_CACHE_CODE_SHIFT) & VW_CACHE_CODE_MASK;
	return 1;
}

/* Remember a full decision. The other direction's entry stays only when it
 * was made under the same epoch and tick and this decision touched no
 * session (a session just made, refreshed or closed may change it). */
static __always_inline void vw_cache_store(const struct vw_flow_ctx *fc, const struct vw_pkt *pkt, __u32 dir,
					   struct vw_decision d)
{
	struct vw_flow *f = fc->slot;
	__u32 e = vw_cache_entry_of(d), other = dir == VW_DIR_FROM_POD ? VW_DIR_TO_POD : VW_DIR_FROM_POD;
	__u64 w, keep = 0, head = vw_cache_head(fc), fresh;

	if (!f || pkt->probe || dir >= VW_DIR__MAX)
		return;
	w = *(volatile __u64 *)&f->cache;
	if (vw_pkt_opens_or_closes(pkt)) {
		/* it may have made or ended a session: nothing cached holds */
		if (w)
			*(volatile __u64 *)&f->cache = 0;
		return;
	}
	if (!e || !fc->cacheable || fc->epoch == 0 || !vw_pkt_cacheable(pkt))
		return;
	if ((w & VW_CACHE_HEAD_MASK) == head && !(e & VW_CACHE_TIMED))
		keep = w & ((__u64)VW_CACHE_ENTRY_MASK << (VW_CACHE_ENTRY_BIT + 8 * other));
	fresh = head | keep | ((__u64)e << (VW_CACHE_ENTRY_BIT + 8 * dir));
	if (fresh != w)
		*(volatile __u64 *)&f->cache = fresh;
}

#endif /* VW_LIB_VERDICT_CACHE_H */
