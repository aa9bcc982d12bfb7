/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reading headers. Direct packet access (skb->data .. skb->data_end) when
 * the bytes are in the linear part of the skb, which they are for nearly
 * every packet; bpf_skb_load_bytes otherwise. The helper call is what the
 * direct read saves: with retpolines and SRSO mitigations every helper call
 * costs several ns, and a packet used to need up to seven of them.
 *
 * The fallback keeps the old meaning exactly: bpf_skb_load_bytes reads
 * non-linear data and fails past skb->len, so a truncated frame is caught
 * whether or not its headers are linear, and nothing about the skb changes
 * (no bpf_skb_pull_data, which could reallocate a cloned skb).
 */
#ifndef VW_LIB_LOAD_H
#define VW_LIB_LOAD_H

#include "lib/common.h"

/* Offsets beyond this always go through the helper: a bound the verifier
 * needs for variable offsets into the packet, and far past any header chain
 * the direct path is for (Ethernet + IPv4 with options + TCP < 140 bytes). */
#define VW_DIRECT_MAX_OFF 512

/*
 * Copy the header object *hdr from packet offset off; 0 or a negative errno
 * (truncated frame). A macro rather than a function: the copy is typed, so
 * the compiler reads the header in words of its alignment instead of byte
 * by byte as a memcpy from an untyped pointer would (x86 has no alignment
 * rule for packet reads, and the verifier only checks alignment under
 * BPF_F_STRICT_ALIGNMENT).
 */
#define vw_load_hdr(skb, off, hdr)                                                        \
	({                                                                                \
		void *vw_data_ = (void *)(long)(skb)->data;                               \
		void *vw_end_ = (void *)(long)(skb)->data_end;                            \
		__u32 vw_off_ = (off);                                                    \
		int vw_ret_ = 0;                                                          \
                                                                                          \
		if (vw_off_ <= VW_DIRECT_MAX_OFF &&                                       \
		    vw_data_ + vw_off_ + sizeof(*(hdr)) <= vw_end_)                      \
			*(hdr) = *(const __typeof__(*(hdr)) *)(vw_data_ + vw_off_);       \
		else                                                                      \
			vw_ret_ = bpf_skb_load_bytes(skb, vw_off_, hdr, sizeof(*(hdr)));  \
		vw_ret_;                                                                  \
	})

/* The first 4 bytes of TCP, UDP and SCTP. */
struct vw_ports {
	__be16 src;
	__be16 dst;
};

#endif /* VW_LIB_LOAD_H */
