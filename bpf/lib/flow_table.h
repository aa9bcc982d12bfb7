/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The flow table: an open-addressed hash table in a BPF_MAP_TYPE_ARRAY
 * (layout in vrfwall.h at struct vw_flow). An array lookup is a bounds check
 * and an add that the verifier inlines; a kernel hash map lookup hashes the
 * whole key with jhash and walks a bucket list (35-50 ns hot, issue 12). A
 * key lives in one of VW_FLOW_PROBES consecutive slots from its hash, so a
 * lookup reads at most that many slots and usually one.
 *
 * No slot is ever emptied: a new conversation takes an empty slot of its
 * window, else the one whose last packet is oldest (the kernel LRU's choice,
 * within a window). A lookup therefore stops at the first empty slot.
 *
 * Concurrency: a slot is taken with a compare-and-swap on first_ns, so two
 * CPUs never both take one. Nothing stops a CPU from still reading a slot
 * that another is handing to a new conversation: its counts may land in the
 * new entry (statistics only), and the verdict cache guards itself with the
 * key's fingerprint (lib/verdict_cache.h). Two CPUs starting the same
 * conversation at once may make two entries for it; the agent then shows
 * whichever it read last, until the idler one is taken over.
 *
 * The hash is keyed with the agent's random seed (struct vw_cache_ctl), so a
 * pod cannot choose 5-tuples that land in another pod's window.
 */
#ifndef VW_LIB_FLOW_TABLE_H
#define VW_LIB_FLOW_TABLE_H

#include "lib/common.h"
#include "maps.h"

/* 44 bytes: five 64-bit words and a 32-bit one */
#define VW_FLOW_KEY_WORDS64 5
#define VW_FLOW_INDEX_MASK (VW_FLOWS_MAX - 1)
#define VW_GOLDEN64 0x9e3779b97f4a7c15ULL

_Static_assert((VW_FLOWS_MAX & (VW_FLOWS_MAX - 1)) == 0, "VW_FLOWS_MAX must be a power of 2");
_Static_assert(sizeof(struct vw_flow_key) == VW_FLOW_KEY_WORDS64 * 8 + 4, "the flow key hashes as 64-bit words and one 32-bit word");
_Static_assert(sizeof(struct vw_flow) == 128, "a flow slot is two cache lines");

/* What the flow table knows about the packet in hand: worked out once and
 * shared by the verdict cache and the accounting. */
struct vw_flow_ctx {
	struct vw_flow_key key;
	struct vw_flow *slot; /* the key's slot; NULL until found or taken */
	__u64 now;            /* bpf_ktime_get_coarse_ns                   */
	__u32 hash;
	__u32 epoch;          /* read before any policy map                */
	__u8 keyed;           /* key, hash, now and epoch are set          */
	__u8 hit;             /* the decision came from the cache          */
	__u8 cacheable;       /* the program lets its decision be cached   */
	__u8 pad;
};

/* Multiply-xor over the key's words, then the murmur3 64-bit finaliser; the
 * seed makes every step depend on a value the pod does not know.
 *
 * The index bits depend on the conversation, not on the side: the two pods'
 * addresses and ports are taken in a fixed order and the interface is left
 * out. Both entries of a conversation between two pods of this node (one per
 * pod's interface) then share a window, so the second hook a packet crosses
 * finds its slot on the page (usually the cache line pair) the first hook
 * just read: half the TLB and cache misses of a same-node packet (issue 12).
 * Bit 31, part of the verdict cache's fingerprint but not of the index, says
 * which side the key is, so the two entries never share a fingerprint. The
 * order is a total one on the whole (address, port) pair, so no two
 * different conversations hash alike whatever the seed. */
static __always_inline __u32 vw_flow_hash(const struct vw_flow_key *key, __u32 seed)
{
	const __u64 *w = (const __u64 *)key;
	__u64 h = ((__u64)seed << 32 | seed) ^ VW_GOLDEN64;
	__u64 a0 = w[0], a1 = w[1], b0 = w[2], b1 = w[3];
	__u32 pa = key->self_port, pb = key->peer_port;
	__u32 swap = a0 > b0 || (a0 == b0 && (a1 > b1 || (a1 == b1 && pa > pb)));

	if (swap) {
		a0 = w[2];
		a1 = w[3];
		b0 = w[0];
		b1 = w[1];
		pa = key->peer_port;
		pb = key->self_port;
	}
	h = (h ^ a0) * VW_GOLDEN64;
	h = (h ^ a1) * VW_GOLDEN64;
	h = (h ^ b0) * VW_GOLDEN64;
	h = (h ^ b1) * VW_GOLDEN64;
	h = (h ^ ((__u64)pa << 16 | pb)) * VW_GOLDEN64;
	h = (h ^ ((const __u32 *)key)[VW_FLOW_KEY_WORDS64 * 2]) * VW_GOLDEN64;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return ((__u32)h & 0x7fffffff) | swap << 31;
}

static __always_inline int vw_flow_key_equal(const struct vw_flow_key *a, const struct vw_flow_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	__u64 diff = 0;
	int i;

#pragma unroll
	for (i = 0; i < VW_FLOW_KEY_WORDS64; i++)
		diff |= x[i] ^ y[i];
	diff |= ((const __u32 *)a)[VW_FLOW_KEY_WORDS64 * 2] ^ ((const __u32 *)b)[VW_FLOW_KEY_WORDS64 * 2];
	return diff == 0;
}

static __always_inline struct vw_flow *vw_flow_slot(__u32 hash, __u32 probe)
{
	__u32 idx = (hash + probe) & VW_FLOW_INDEX_MASK;

	return bpf_map_lookup_elem(&flows, &idx);
}

/*
 * Finding and taking slots are global functions: the verifier checks each
 * once, on its own, instead of once for every path of the policy that leads
 * to it (inlined, the probe loops multiplied the programs' states past the
 * verifier's limit). They return a slot index, or -1.
 */

/* The slot holding `key`. */
__attribute__((noinline)) int vw_flow_find(const struct vw_flow_key *key, __u32 hash)
{
	struct vw_flow *f;
	__u32 i;

	if (!key)
		return -1;
	for (i = 0; i < VW_FLOW_PROBES; i++) {
		f = vw_flow_slot(hash, i);
		if (!f || f->first_ns == 0)
			return -1;
		if (vw_flow_key_equal(&f->key, key))
			return (hash + i) & VW_FLOW_INDEX_MASK;
	}
	return -1;
}

/* Take a slot for a new conversation: an empty one of the window, else the
 * one idle longest; -1 when another CPU took that slot first. */
__attribute__((noinline)) int vw_flow_take(const struct vw_flow_key *key, __u32 hash, __u32 dir, __u64 now)
{
	struct vw_flow *f, *victim = NULL;
	__u64 oldest = ~0ULL, seen = 0;
	__u32 i, idx = 0;

	if (!key || dir >= VW_DIR__MAX)
		return -1;
	for (i = 0; i < VW_FLOW_PROBES; i++) {
		__u64 first;

		f = vw_flow_slot(hash, i);
		if (!f)
			break;
		first = f->first_ns;
		if (first == 0) {
			victim = f;
			idx = (hash + i) & VW_FLOW_INDEX_MASK;
			seen = 0;
			break;
		}
		if (f->last_ns < oldest) {
			oldest = f->last_ns;
			victim = f;
			idx = (hash + i) & VW_FLOW_INDEX_MASK;
			seen = first;
		}
	}
	if (!victim || __sync_val_compare_and_swap(&victim->first_ns, seen, now) != seen)
		return -1;
	/* The cache first: a reader that matched the old key must not find a
	 * word that fits it (the fingerprint check covers what comes after). */
	victim->cache = 0;
	__builtin_memcpy(&victim->key, key, sizeof(*key));
	victim->verdict = 0;
	victim->code = 0;
	victim->last_dir = dir;
	victim->first_dir = dir;
	victim->tcp_flags[0] = 0;
	victim->tcp_flags[1] = 0;
	victim->pad = 0;
	victim->event_tick = (__u32)(now >> VW_FLOW_EVENT_TICK_SHIFT);
	victim->last_ns = now;
	victim->passed[0] = 0;
	victim->passed[1] = 0;
	victim->bytes[0] = 0;
	victim->bytes[1] = 0;
	victim->drops[0] = 0;
	victim->drops[1] = 0;
	return idx;
}

/* The slot at an index the functions above returned (NULL for -1). */
static __always_inline struct vw_flow *vw_flow_at(int idx)
{
	__u32 i = (__u32)idx;

	return idx < 0 ? NULL : bpf_map_lookup_elem(&flows, &i);
}

/* The verdict cache's epoch and the table's seed (struct vw_cache_ctl). */
static __always_inline struct vw_cache_ctl *vw_cache_ctl_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&cache_ctl, &zero);
}

#endif /* VW_LIB_FLOW_TABLE_H */
