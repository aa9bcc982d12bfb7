// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Baseline for the per-packet benchmark: a tc program that does nothing and
 * lets the packet go on (TC_ACT_UNSPEC), run with BPF_PROG_TEST_RUN next to
 * from_pod and to_pod. What the kernel spends around any tc program (test-run
 * setup, skb, the call) is in this number; the difference is vrfwall's cost.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int empty(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
