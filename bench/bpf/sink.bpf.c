// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Traffic benchmark receiver: attached to tc ingress of a receiving pod's
 * eth0, it drops IPv4 UDP right after the interface counted it, so the pod's
 * network stack (UDP to a closed port, ICMP errors) does not add the same
 * noise to every configuration being compared. ARP and everything else pass:
 * the node must keep resolving the pod's address.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define IP_PROTO_OFF (ETH_HLEN + __builtin_offsetof(struct iphdr, protocol))

SEC("tc")
int sink(struct __sk_buff *skb)
{
	__u8 proto;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_UNSPEC;
	if (bpf_skb_load_bytes(skb, IP_PROTO_OFF, &proto, sizeof(proto)) < 0)
		return TC_ACT_UNSPEC;
	return proto == IPPROTO_UDP ? TC_ACT_SHOT : TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
