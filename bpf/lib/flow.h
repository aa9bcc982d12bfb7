/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Flow statistics: every packet's final verdict is added to its flow entry
 * (struct vw_flow in the `flows` LRU hash), and new flows and drops are
 * announced to the agent through the `flow_events` ring buffer, at most one
 * drop event per flow per VW_FLOW_EVENT_INTERVAL_NS so a flood of packets
 * cannot drown the agent (a flood of *new* flows fills the ring, and what
 * does not fit is counted in flow_stats[VW_FSTAT_EVENTS_LOST]).
 *
 * The flow key is taken from the headers here, independently of the policy
 * parsers: the verdict is already final and this code must work for every
 * frame, including malformed ones. Only the first next header of IPv6 is
 * looked at (ports are 0 behind extension headers).
 *
 * Cost: the shared LRU hash with atomic adds was chosen over a per-CPU LRU:
 * one flow's packets mostly stay on one CPU, a per-CPU value would make the
 * agent merge first/last/verdict over CPUs, and the atomics measured about
 * 5 ns per packet (bench part 1). Headers are read directly from the packet
 * (lib/load.h), not with bpf_skb_load_bytes.
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
#include "lib/load.h"

#define VW_IPV4_FRAG_OFFSET_MASK 0x1fff
#define VW_TCP_FLAGS_OFF 13 /* byte of the TCP header holding FIN..CWR */

/* An explain probe (BPF_PROG_TEST_RUN with the magic in cb[0] and cb[1]):
 * decided like any packet, counted nowhere. */
static __always_inline int vw_is_probe(const struct __sk_buff *skb)
{
	return skb->cb[0] == VW_PROBE_MAGIC && skb->cb[1] == VW_PROBE_MAGIC;
}

static __always_inline void vw_flow_stat_inc(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&flow_stats, &stat);

	if (v)
		*v += 1; /* per-CPU slot */
}

static __always_inline int vw_flow_has_ports(__u8 proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

/* Key of the frame's flow, oriented to the local pod. Returns 0 for frames
 * that are not tracked (allowed non-IP frames: ARP and the like). */
static __always_inline int vw_flow_key_of(struct __sk_buff *skb, __u32 dir, __u32 verdict,
					  struct vw_flow_key *key, __u8 *tcp_flags)
{
	union vw_addr src = {}, dst = {};
	__u16 sport = 0, dport = 0, proto_l2;
	__u32 l4_off = 0;
	__be16 h_proto;
	__u8 proto = 0;

	/* the ethertype ends the header: reading it checks the header is whole */
	if (vw_load_hdr(skb, ETH_HLEN - sizeof(h_proto), &h_proto) < 0)
		proto_l2 = 0; /* truncated: tracked as a drop with no addresses */
	else
		proto_l2 = bpf_ntohs(h_proto);

	if (proto_l2 == ETH_P_IP) {
		struct iphdr ip;

		if (vw_load_hdr(skb, ETH_HLEN, &ip) == 0) {
			vw_addr_set_v4(&src, ip.saddr);
			vw_addr_set_v4(&dst, ip.daddr);
			proto = ip.protocol;
			if (!(bpf_ntohs(ip.frag_off) & VW_IPV4_FRAG_OFFSET_MASK))
				l4_off = ETH_HLEN + ip.ihl * 4;
		}
	} else if (proto_l2 == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (vw_load_hdr(skb, ETH_HLEN, &ip6) == 0) {
			vw_addr_set_v6(&src, &ip6.saddr);
			vw_addr_set_v6(&dst, &ip6.daddr);
			proto = ip6.nexthdr;
			l4_off = ETH_HLEN + sizeof(ip6);
		}
	} else if (verdict == VW_VERDICT_ALLOWED) {
		return 0;
	}

	if (l4_off && vw_flow_has_ports(proto)) {
		struct vw_ports ports;

		if (vw_load_hdr(skb, l4_off, &ports) == 0) {
			sport = bpf_ntohs(ports.src);
			dport = bpf_ntohs(ports.dst);
		}
		if (proto == IPPROTO_TCP && vw_load_hdr(skb, l4_off + VW_TCP_FLAGS_OFF, tcp_flags) < 0)
			*tcp_flags = 0; /* not in the frame */
	}

	if (dir == VW_DIR_FROM_POD) {
		__builtin_memcpy(key->self_addr, src.b, VW_ADDR_LEN);
		__builtin_memcpy(key->peer_addr, dst.b, VW_ADDR_LEN);
		key->self_port = sport;
		key->peer_port = dport;
	} else {
		__builtin_memcpy(key->self_addr, dst.b, VW_ADDR_LEN);
		__builtin_memcpy(key->peer_addr, src.b, VW_ADDR_LEN);
		key->self_port = dport;
		key->peer_port = sport;
	}
	key->ifindex = skb->ifindex;
	key->ethertype = proto_l2;
	key->proto = proto;
	return 1;
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
	bpf_ringbuf_submit(ev, 0);
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
static __always_inline struct vw_decision vw_flow_track(struct __sk_buff *skb, __u32 dir, struct vw_decision d)
{
	struct vw_flow_key key = {};
	struct vw_flow *f;
	__u8 tcp_flags = 0;
	__u64 now;

	if (vw_is_probe(skb)) {
		/* BPF_PROG_TEST_RUN hands the context back: explain reads these */
		skb->cb[2] = d.verdict;
		skb->cb[3] = d.code;
		return d;
	}
	if (!vw_flow_key_of(skb, dir, d.verdict, &key, &tcp_flags))
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
	vw_flow_add(f, dir, d, skb->len, tcp_flags, now);
	return d;
}

#endif /* VW_LIB_FLOW_H */
