/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Every map of the datapath, declared once. Both programs include this file;
 * the loader opens both objects with the same pin root and LIBBPF_PIN_BY_NAME
 * makes libbpf reuse the pinned maps, so from_pod and to_pod share them.
 * Layouts are in vrfwall.h; the agent fills them (src/kernel/abi.ts).
 */
#ifndef VW_MAPS_H
#define VW_MAPS_H

#include "lib/common.h"

/* pod and host addresses -> network */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VW_ENDPOINTS_MAX);
	__type(key, struct vw_endpoint_key);
	__type(value, struct vw_endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} endpoints SEC(".maps");

/* network pairs joined by a router (both orders) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VW_VRF_PAIRS_MAX);
	__type(key, struct vw_vrf_pair);
	__type(value, struct vw_vrf_pair_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} vrf_pairs SEC(".maps");

/* per-network settings */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VW_NETWORKS_MAX);
	__type(key, __u32);
	__type(value, struct vw_network);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} networks SEC(".maps");

/* the cluster's pod and service CIDRs */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VW_CIDRS_MAX);
	__type(key, struct vw_cidr_key);
	__type(value, struct vw_cidr_value);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for LPM tries */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cidrs SEC(".maps");

/* local pods' bridge ports -> the pod's MAC */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VW_PORTS_MAX);
	__type(key, __u32);
	__type(value, struct vw_port);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ports SEC(".maps");

/* packets/bytes per (direction, verdict, rule or reason) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VW_COUNTERS_MAX);
	__type(key, __u32);
	__type(value, struct vw_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} counters SEC(".maps");

/* ---- Services (issue 3) ---- */

/* Service VIP:port/proto -> networks that may use it (rule 3) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VW_SERVICES_MAX);
	__type(key, struct vw_svc_key);
	__type(value, struct vw_svc_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} services SEC(".maps");

/* backend addr:targetPort/proto -> networks that may use it (rule 4) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VW_BACKENDS_MAX);
	__type(key, struct vw_svc_key);
	__type(value, struct vw_svc_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} backends SEC(".maps");

/* connections rules 3 and 4 allowed, for their replies (rule 5). Not an LRU:
 * no flood evicts a live session (see vrfwall.h). Memory follows use. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VW_SESSIONS_MAX);
	__type(key, struct vw_session_key);
	__type(value, struct vw_session);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sessions SEC(".maps");

/* live sessions per client address, for the quota */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VW_SESSION_OWNERS_MAX);
	__type(key, struct vw_endpoint_key);
	__type(value, struct vw_session_owner);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} session_owners SEC(".maps");

/* session timeouts and quota, written by the agent (struct vw_config) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vw_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} config SEC(".maps");

/* ---- NetworkPolicy (issue 16; layouts and lookups in vrfwall.h) ---- */

/* (set, peer identity, proto, slot) -> allowed port ranges */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VW_POLICY_MAX);
	__type(key, struct vw_policy_key);
	__type(value, struct vw_policy_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} policy SEC(".maps");

/* ipBlocks: (set, proto, slot, peer address prefix) -> allowed port ranges */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VW_POLICY_CIDRS_MAX);
	__type(key, struct vw_policy_cidr_key);
	__type(value, struct vw_policy_value);
	__uint(map_flags, BPF_F_NO_PREALLOC); /* required for LPM tries */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} policy_cidrs SEC(".maps");

/* ---- flows (issue 5) ---- */

/* per-conversation counters and cached verdicts: an open-addressed table
 * of struct vw_flow slots (see vrfwall.h; lib/flow_table.h) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VW_FLOWS_MAX);
	__type(key, __u32);
	__type(value, struct vw_flow);
	__uint(map_flags, BPF_F_MMAPABLE); /* the agent reads it in place */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flows SEC(".maps");

/* the verdict cache's epoch and the flow table's hash seed (struct vw_cache_ctl) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vw_cache_ctl);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cache_ctl SEC(".maps");

/* new-flow and drop events for the agent (struct vw_flow_event) */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, VW_FLOW_RINGBUF_SIZE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flow_events SEC(".maps");

/* events written/lost, flows created (enum vw_flow_stat) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VW_FSTAT__MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} flow_stats SEC(".maps");

#endif /* VW_MAPS_H */
