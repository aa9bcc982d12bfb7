/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The explain protocol: the agent asks the programs what they would decide
 * for a packet by running them with BPF_PROG_TEST_RUN on it, with
 * VW_PROBE_MAGIC in cb[0] and its own per-start key (the config map's
 * probe_key) in cb[1]. Such a run is decided like any packet and changes
 * nothing: no flow, no counter, no session (pkt->probe). Without the
 * agent's key (random at every start) a run is a real one, whatever cb[]
 * happens to hold.
 */
#ifndef VW_LIB_PROBE_H
#define VW_LIB_PROBE_H

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

#endif /* VW_LIB_PROBE_H */
