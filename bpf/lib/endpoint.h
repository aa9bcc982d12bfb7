/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Endpoints (pod and host addresses -> network): lookup and what an entry says. */
#ifndef VW_LIB_ENDPOINT_H
#define VW_LIB_ENDPOINT_H

#include "lib/common.h"
#include "maps.h"

static __always_inline struct vw_endpoint *vw_lookup_endpoint(const union vw_addr *a)
{
	return bpf_map_lookup_elem(&endpoints, a);
}

/* A pod behind the interface this program runs on. */
static __always_inline int vw_endpoint_is_here(const struct vw_endpoint *ep, const struct __sk_buff *skb)
{
	return ep && (ep->flags & VW_EP_LOCAL) && ep->ifindex == skb->ifindex;
}

/* Quarantined, or in no network at all (vrf 0 outside a host endpoint):
 * either way it may reach nothing but its node. */
static __always_inline int vw_endpoint_is_cut_off(const struct vw_endpoint *ep)
{
	return (ep->flags & VW_EP_QUARANTINE) || ep->vrf_id == 0;
}

#endif /* VW_LIB_ENDPOINT_H */
