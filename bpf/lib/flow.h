/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Flow statistics: every packet's final verdict is added to its flow entry
 * (struct vw_flow in the `flows` LRU hash), and new flows and drops are
 * announced to the agent through the `flow_events` ring buffer (without
 * waking it, see vw_flow_event_wakeup), at most one
 * drop event per flow per VW_FLOW_EVENT_INTERVAL_NS so a flood of packets
 * cannot drown the agent (a flood of *new* flows fills the ring, and what
 * does not fit is counted in flow_stats[VW_FSTAT_EVENTS_LOST]).
 *
 * The flow key comes from the same parse as the verdict (struct vw_pkt), so
 * nothing the datapath allows is recorded under another protocol or port.
 * For a frame the parse gave up on, the key has what it had read by then
 * (a truncated Ethernet header: no addresses, ethertype 0).
 *
 * Cost: the shared LRU hash with atomic adds was chosen over a per-CPU LRU:
 * one flow's packets mostly stay on one CPU, a per-CPU value would make the
 * agent merge first/last/verdict over CPUs, and the atomics measured about
 * 5 ns per packet (bench part 1).
 *
 * Time is CLOCK_MONOTONIC_COARSE (bpf_ktime_get_coarse_ns: the timekeeper's
 * last tick, at most one tick, 4 ms at HZ=250, behind CLOCK_MONOTONIC). It
 * is read for every packet (last_ns), and bpf_ktime_get_ns, which reads the
 * TSC, cost about 20 ns more per packet (bench part 1). Flow times are shown
 * in milliseconds and the agent's scans overlap by 10 ms, so a tick of lag
 * changes nothing it reports.
 */
#ifndef VW_LIB_FLOW_H
#define VW_LIB_FLOW_H

#include "lib/common.h"
#include "maps.h"


/* An explain probe (BPF_PROG_TEST_RUN with the magic in cb[0] and the
 * agent's key in cb[1], see VW_PROBE_MAGIC): decided like any packet,
 * recorded nowhere. */
static __always_inline int vw_is_probe(const struct __sk_buff *skb)
{
	__u32 zero = 0;
	const struct vw_config *c;

	if (skb->cb[0] != VW_PROBE_MAGIC)
		return 0; /* every real packet: no lookup */
	c = bpf_map_lookup_elem(&config, &zero);
	return c && c->probe_key != 0 && skb->cb[1] == c->probe_key;
}

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

/* Add one packet to a flow entry that exists. Atomic adds: the entry is
 * shared by all CPUs. The plain stores (time, verdict) may race; the last
 * writer wins, which is the meaning they have. */
static __always_inline void vw_flow_add(struct vw_flow *f, __u32 dir, struct vw_decision d, __u32 len,
					__u8 tcp_flags, __u64 now)
{
	if (dir >= VW_DIR__MAX)
		return;
	__sync_fetch_and_add(&f->packets[dir], 1);
	__sync_fetch_and_add(&f->bytes[dir], len);
	if (d.verdict == VW_VERDICT_DROPPED)
		__sync_fetch_and_add(&f->drops[dir], 1);
	if (tcp_flags && (f->tcp_flags[dir] & tcp_flags) != tcp_flags)
		f->tcp_flags[dir] |= tcp_flags;
	f->last_ns = now;
	f->verdict = d.verdict;
	f->code = d.code;
	f->last_dir = dir;
}

/* Account one packet whose verdict is final; returns the decision unchanged
 * so the call wraps the program's decision in place. */
static __always_inline struct vw_decision vw_flow_track(struct __sk_buff *skb, const struct vw_pkt *pkt, __u32 dir,
						       struct vw_decision d)
{
	struct vw_flow_key key = {};
	struct vw_flow *f;
	__u64 now;

	if (pkt->probe) {
		/* BPF_PROG_TEST_RUN hands the context back: explain reads these */
		skb->cb[2] = d.verdict;
		skb->cb[3] = d.code;
		return d;
	}
	if (!vw_flow_key_of(skb, pkt, dir, d.verdict, &key))
		return d;
	now = bpf_ktime_get_coarse_ns(); /* see the top of this file */

	f = bpf_map_lookup_elem(&flows, &key);
	if (!f) {
		struct vw_flow init = { .first_ns = now, .last_ns = now, .event_ns = now, .first_dir = dir };

		/* NOEXIST: when another CPU made the entry first, add to its. */
		if (bpf_map_update_elem(&flows, &key, &init, BPF_NOEXIST) == 0) {
			vw_flow_stat_inc(VW_FSTAT_FLOWS_NEW);
			vw_flow_event(&key, VW_EVENT_NEW, dir, d, skb->len, now);
		}
		f = bpf_map_lookup_elem(&flows, &key);
		if (!f) {
			vw_flow_stat_inc(VW_FSTAT_FLOW_FAILED);
			return d;
		}
	} else if (d.verdict == VW_VERDICT_DROPPED && now - f->event_ns >= VW_FLOW_EVENT_INTERVAL_NS) {
		/* Check-then-set without a lock: two CPUs may both send one. */
		f->event_ns = now;
		vw_flow_event(&key, VW_EVENT_DROP, dir, d, skb->len, now);
	}
	vw_flow_add(f, dir, d, skb->len, pkt->has_l4 ? pkt->tcp_flags : 0, now);
	return d;
}

#endif /* VW_LIB_FLOW_H */
