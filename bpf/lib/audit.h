/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Audit mode (docs/audit.md): where enforce mode would drop a packet for
 * ISOLATED, SERVICE_DENIED or EXTERNAL_DENIED, audit mode lets it pass as
 * VW_VERDICT_AUDIT with that reason. Asked only on those drop paths, so
 * allowed traffic pays nothing. Two ways a drop becomes AUDIT:
 * - the node-wide setting (vw_config.flags VW_CFG_AUDIT): all three reasons
 *   on this node's hooks;
 * - per network (the compile step's flags, src/model/enforcement.ts): two
 *   networks kept apart that are both VW_NET_OPEN; a Service address whose
 *   audit entry (client VW_SVC_AUDIT_VRF: its backends are all OPEN) answers
 *   a client of an OPEN network; a VW_NET_AUDIT network that may not go
 *   outside. An annotation thus relaxes only its own segment.
 */
#ifndef VW_LIB_AUDIT_H
#define VW_LIB_AUDIT_H

#include "lib/common.h"
#include "lib/addr.h"
#include "lib/session.h"
#include "maps.h"

static __always_inline int vw_node_audits(void)
{
	const struct vw_config *c = vw_config_get();

	return c && (c->flags & VW_CFG_AUDIT);
}

static __always_inline __u32 vw_network_flags(__u32 vrf_id)
{
	struct vw_network *net = bpf_map_lookup_elem(&networks, &vrf_id);

	return net ? net->flags : 0;
}

/*
 * The questions below are global functions, as lib/flow_table.h's: the
 * verifier checks each once on its own instead of once per path of the
 * policy that leads to it (inlined, they took from_pod past its limit).
 */

/* Two pods in networks no rule joins: does audit let the packet pass? */
__attribute__((noinline)) int vw_audit_isolated(__u32 a, __u32 b)
{
	if (vw_node_audits())
		return 1;
	return (vw_network_flags(a) & VW_NET_OPEN) && (vw_network_flags(b) & VW_NET_OPEN);
}

/* A Service address:port/proto (port in network byte order) that network
 * `client_vrf` may not use: does audit let the packet pass? */
__attribute__((noinline)) int vw_audit_service(const union vw_addr *addr, __u32 port, __u32 proto, __u32 client_vrf)
{
	struct vw_svc_key key = {};

	if (!addr)
		return 0;
	if (vw_node_audits())
		return 1;
	if (!(vw_network_flags(client_vrf) & VW_NET_OPEN))
		return 0;
	__builtin_memcpy(key.addr, addr->b, VW_ADDR_LEN);
	key.port = (__be16)port;
	key.proto = (__u8)proto;
	key.client_vrf = VW_SVC_AUDIT_VRF;
	return bpf_map_lookup_elem(&services, &key) != NULL;
}

/* A network that may not go outside (its flags `net_flags`): audited? */
__attribute__((noinline)) int vw_audit_external(__u32 net_flags)
{
	return (net_flags & VW_NET_AUDIT) || vw_node_audits();
}

#endif /* VW_LIB_AUDIT_H */
