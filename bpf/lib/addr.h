/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* 16-byte address handling: IPv4-mapped form and IPv6 scopes. */
#ifndef VW_LIB_ADDR_H
#define VW_LIB_ADDR_H

#include "lib/common.h"

#define VW_V4_MAPPED_MARK bpf_htonl(0x0000ffff) /* ::ffff:0:0/96, word 2 */

/* ::ffff:a.b.c.d, so IPv4 and IPv6 share one key space without overlap. */
static __always_inline void vw_addr_set_v4(union vw_addr *a, __be32 v4)
{
	a->w[0] = 0;
	a->w[1] = 0;
	a->w[2] = VW_V4_MAPPED_MARK;
	a->w[3] = v4;
}

static __always_inline void vw_addr_set_v6(union vw_addr *a, const struct in6_addr *v6)
{
	__builtin_memcpy(a->b, v6, VW_ADDR_LEN);
}

/* :: */
static __always_inline int vw_addr_is_unspecified(const union vw_addr *a)
{
	return (a->w[0] | a->w[1] | a->w[2] | a->w[3]) == 0;
}

/* fe80::/10 */
static __always_inline int vw_addr_is_link_local(const union vw_addr *a)
{
	return a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

/* ff00::/8 */
static __always_inline int vw_addr_is_multicast(const union vw_addr *a)
{
	return a->b[0] == 0xff;
}

/* ff02::/16: link-local scope multicast */
static __always_inline int vw_addr_is_link_multicast(const union vw_addr *a)
{
	return a->b[0] == 0xff && (a->b[1] & 0x0f) == 0x02;
}

/* Link-scope addresses are never forwarded past the link, so from a pod's
 * interface the only party they can reach is the node. */
static __always_inline int vw_addr_is_link_scope(const union vw_addr *a)
{
	return vw_addr_is_link_local(a) || vw_addr_is_link_multicast(a);
}

#endif /* VW_LIB_ADDR_H */
