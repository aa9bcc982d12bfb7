/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-CPU packet/byte counters by (direction, verdict, rule or reason). */
#ifndef VW_LIB_COUNTERS_H
#define VW_LIB_COUNTERS_H

#include "lib/common.h"
#include "maps.h"
#include "lib/flow.h"

static __always_inline void vw_count(__u32 dir, struct vw_decision d, __u32 bytes)
{
	__u32 idx = vw_counter_index(dir, d.verdict, d.code);
	struct vw_counter *c = bpf_map_lookup_elem(&counters, &idx);

	/* Per-CPU slot: no other writer, plain adds are enough. */
	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

/* Count the decision and turn it into a tc action. */
static __always_inline int vw_finish(struct __sk_buff *skb, const struct vw_pkt *pkt, __u32 dir, struct vw_decision d)
{
	if (!pkt->probe) /* explain's test runs count nothing */
		vw_count(dir, d, skb->len);
	return d.verdict == VW_VERDICT_DROPPED ? VW_TC_DROP : VW_TC_ALLOW; /* AUDIT passes */
}

#endif /* VW_LIB_COUNTERS_H */
