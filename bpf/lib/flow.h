/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Flow statistics: every packet's final verdict is added to its flow entry
 * (struct vw_flow in the `flows` table, lib/flow_table.h), and new flows and
 * drops are announced to the agent through the `flow_events` ring buffer
 * (without waking it, see vw_flow_event_wakeup), at most one drop event per
 * flow per VW_FLOW_EVENT_INTERVAL_NS so a flood of packets cannot drown the
 * agent (a flood of *new* flows fills the ring, and what does not fit is
 * counted in flow_stats[VW_FSTAT_EVENTS_LOST]).
 *
 * The flow key comes from the same parse as the verdict (struct vw_pkt), so
 * nothing the datapath allows is recorded under another protocol or port.
 * For a frame the parse gave up on, the key has what it had read by then
 * (a truncated Ethernet header: no addresses, ethertype 0). The programs
 * look the slot up once (vw_flow_cached, before deciding: it holds the
 * verdict cache) and the accounting uses the same slot.
 *
 * Counters are atomic adds: a slot is shared by all CPUs, and one flow's
 * packets mostly stay on one CPU, so they cost little (bench part 1).
 *
 * Time is CLOCK_MONOTONIC_COARSE (bpf_ktime_get_coarse_ns: the timekeeper's
 * last tick, at most one tick, 4 ms at HZ=250, behind CLOCK_MONOTONIC), read
 * once per packet. Flow times are shown in milliseconds and the agent's
 * scans overlap by 10 ms, so a tick of lag changes nothing it reports.
 */
#ifndef VW_LIB_FLOW_H
#define VW_LIB_FLOW_H

#include "lib/common.h"
#include "maps.h"
#include "lib/flow_table.h"
#include "lib/verdict_cache.h"

static __always_inline void vw_flow_stat_inc(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&flow_stats, &stat);

	if (v)
		*v += 1; /* per-CPU slot */
}

/* Key of the frame's flow, oriented to the local pod, from the packet parse
 * the verdict used (so a port behind an IPv6 extension header is the port
 * the policy saw). Returns 0 for frames that are not tracked (allowed
 * non-IP frames: ARP and the like). */
static __always_inline int vw_flow_key_of(const struct __sk_buff *skb, const struct vw_pkt *pkt, __u32 dir,
					  __u32 verdict, struct vw_flow_key *key)
{
	const union vw_addr *self = dir == VW_DIR_FROM_POD ? &pkt->src : &pkt->dst;
	const union vw_addr *peer = dir == VW_DIR_FROM_POD ? &pkt->dst : &pkt->src;
	__u16 sport = bpf_ntohs(pkt->sport), dport = bpf_ntohs(pkt->dport);

	if (pkt->eth_proto != ETH_P_IP && pkt->eth_proto != ETH_P_IPV6 && verdict == VW_VERDICT_ALLOWED)
		return 0;
	__builtin_memcpy(key->self_addr, self->b, VW_ADDR_LEN);
	__builtin_memcpy(key->peer_addr, peer->b, VW_ADDR_LEN);
	key->self_port = dir == VW_DIR_FROM_POD ? sport : dport;
	key->peer_port = dir == VW_DIR_FROM_POD ? dport : sport;
	key->ifindex = skb->ifindex;
	key->ethertype = pkt->eth_proto;
	key->proto = pkt->l4_proto;
	return 1;
}

/* Submit flags for an event: wake the agent only when the ring is filling
 * up. A wake-up is an irq_work on this CPU (0.3-4.7 us on the packet path,
 * issue 12); without one the agent's timer drains the ring within
 * VW_FLOW_EVENT_POLL_MS, and a flood still wakes it as soon as a quarter of
 * the ring is used. */
static __always_inline __u64 vw_flow_event_wakeup(void)
{
	return bpf_ringbuf_query(&flow_events, BPF_RB_AVAIL_DATA) >= VW_FLOW_RINGBUF_WAKE_BYTES ? BPF_RB_FORCE_WAKEUP
											  : BPF_RB_NO_WAKEUP;
}

static __always_inline void vw_flow_event(const struct vw_flow_key *key, __u32 type, __u32 dir,
					  struct vw_decision d, __u32 len, __u64 now)
{
	struct vw_flow_event *ev = bpf_ringbuf_reserve(&flow_events, sizeof(*ev), 0);

	if (!ev) {
		vw_flow_stat_inc(VW_FSTAT_EVENTS_LOST);
		return;
	}
	__builtin_memcpy(&ev->key, key, sizeof(*key));
	ev->type = type;
	ev->dir = dir;
	ev->verdict = d.verdict;
	ev->code = d.code;
	ev->len = len;
	ev->pad = 0;
	ev->ts_ns = now;
	bpf_ringbuf_submit(ev, vw_flow_event_wakeup());
	vw_flow_stat_inc(VW_FSTAT_EVENTS);
}

/* Add one packet to its flow entry. Atomic adds: the entry is shared by all
 * CPUs. The plain stores (time, verdict) may race; the last writer wins,
 * which is the meaning they have; they are skipped when unchanged so a
 * steady conversation does not keep dirtying the slot's first line. */
static __always_inline void vw_flow_add(struct vw_flow *f, __u32 dir, struct vw_decision d, __u32 len,
					__u8 tcp_flags, __u64 now)
{
	if (dir >= VW_DIR__MAX)
		return;
	/* two atomic adds a packet: passed (audited ones too) or dropped, and bytes */
	if (d.verdict == VW_VERDICT_DROPPED)
		__sync_fetch_and_add(&f->drops[dir], 1);
	else
		__sync_fetch_and_add(&f->passed[dir], 1);
	__sync_fetch_and_add(&f->bytes[dir], len);
	if (tcp_flags && (f->tcp_flags[dir] & tcp_flags) != tcp_flags)
		f->tcp_flags[dir] |= tcp_flags;
	f->last_ns = now;
	if (f->verdict != d.verdict || f->code != d.code || f->last_dir != dir) {
		f->verdict = d.verdict;
		f->code = d.code;
		f->last_dir = dir;
	}
}

/* Work out the packet's flow key, time, epoch and hash, and find its slot.
 * Returns 0 for frames that are not tracked. */
static __always_inline int vw_flow_begin(const struct __sk_buff *skb, const struct vw_pkt *pkt, __u32 dir,
					 __u32 verdict, struct vw_flow_ctx *fc)
{
	const struct vw_cache_ctl *ctl;

	if (fc->keyed)
		return 1;
	/* the epoch before anything that decides: a decision made while the
	 * agent writes is stored under the epoch it is about to retire */
	ctl = vw_cache_ctl_get();
	fc->epoch = ctl ? ctl->epoch : 0;
	if (!vw_flow_key_of(skb, pkt, dir, verdict, &fc->key))
		return 0;
	fc->now = bpf_ktime_get_coarse_ns(); /* see the top of this file */
	fc->hash = vw_flow_hash(&fc->key, ctl ? ctl->flow_seed : 0);
	fc->slot = vw_flow_at(vw_flow_find(&fc->key, fc->hash));
	fc->keyed = 1;
	return 1;
}

/* For a parsed IP packet, before the full decision: its cached decision, if
 * one holds (*d set, returns 1). Either way the slot is looked up once. */
static __always_inline int vw_flow_cached(const struct __sk_buff *skb, const struct vw_pkt *pkt, __u32 dir,
					  struct vw_flow_ctx *fc, struct vw_decision *d)
{
	if (pkt->probe || !vw_flow_begin(skb, pkt, dir, VW_VERDICT_ALLOWED, fc))
		return 0;
	fc->hit = vw_cache_lookup(fc, pkt, dir, d);
	return fc->hit;
}

/* Account one packet whose verdict is final, and cache a full decision;
 * returns the decision unchanged so the call wraps the program's decision
 * in place. */
static __always_inline struct vw_decision vw_flow_track(struct __sk_buff *skb, const struct vw_pkt *pkt, __u32 dir,
						       struct vw_decision d, struct vw_flow_ctx *fc)
{
	struct vw_flow *f;
	__u32 tick;

	if (pkt->probe) {
		/* BPF_PROG_TEST_RUN hands the context back: explain reads these */
		skb->cb[2] = d.verdict;
		skb->cb[3] = d.code;
		return d;
	}
	if (!vw_flow_begin(skb, pkt, dir, d.verdict, fc))
		return d;
	f = fc->slot;
	tick = (__u32)(fc->now >> VW_FLOW_EVENT_TICK_SHIFT);
	if (!f) {
		f = vw_flow_at(vw_flow_take(&fc->key, fc->hash, dir, fc->now));
		if (!f) {
			vw_flow_stat_inc(VW_FSTAT_FLOW_FAILED);
			return d;
		}
		fc->slot = f;
		vw_flow_stat_inc(VW_FSTAT_FLOWS_NEW);
		vw_flow_event(&fc->key, VW_EVENT_NEW, dir, d, skb->len, fc->now);
	} else if (d.verdict != VW_VERDICT_ALLOWED && /* drops, and audited packets like drops */
		   tick - f->event_tick >= (__u32)(VW_FLOW_EVENT_INTERVAL_NS >> VW_FLOW_EVENT_TICK_SHIFT)) {
		/* Check-then-set without a lock: two CPUs may both send one. */
		f->event_tick = tick;
		vw_flow_event(&fc->key, VW_EVENT_DROP, dir, d, skb->len, fc->now);
	}
	if (!fc->hit)
		vw_cache_store(fc, pkt, dir, d);
	vw_flow_add(f, dir, d, skb->len, pkt->has_l4 ? pkt->tcp_flags : 0, fc->now);
	return d;
}

#endif /* VW_LIB_FLOW_H */
