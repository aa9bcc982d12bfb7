#!/usr/bin/env python3
# Crafted layer-2 frames for test/bridge-l2.test.ts, sent with scapy (Debian:
# python3-scapy) from inside a network namespace:
#   ip netns exec NS python3 l2frames.py COMMAND IFACE ARGS...
# Checksums are scapy's, so the receiving kernels process what arrives.
# Prints "sending" once the socket is open (the test waits for it).
import sys
import time

from scapy.all import (
    ARP,
    ICMPv6ND_NA,
    ICMPv6ND_RA,
    ICMPv6MLQuery,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptPrefixInfo,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrHopByHop,
    RouterAlert,
    Ether,
    conf,
    get_if_hwaddr,
)

conf.verb = 0
ALL_NODES = 'ff02::1'
ALL_NODES_MAC = '33:33:00:00:00:01'


def na(src, target, lladdr, mine):
    """Unsolicited neighbour advertisement with the override flag, to all nodes."""
    return (
        Ether(src=mine, dst=ALL_NODES_MAC)
        / IPv6(src=src, dst=ALL_NODES, hlim=255)
        / ICMPv6ND_NA(R=1, S=0, O=1, tgt=target)
        / ICMPv6NDOptDstLLAddr(lladdr=lladdr)
    )


def ra(src, prefix, lifetime, mine):
    """Router advertisement: default router for `lifetime` s (0: none), an
    autonomous /64 (SLAAC). Linux drops the whole RA when it cannot add the
    default route (one to the same gateway exists already), so an RA from a
    gateway the receivers have a static route to must say lifetime 0."""
    return (
        Ether(src=mine, dst=ALL_NODES_MAC)
        / IPv6(src=src, dst=ALL_NODES, hlim=255)
        / ICMPv6ND_RA(routerlifetime=lifetime, prf=1)
        / ICMPv6NDOptSrcLLAddr(lladdr=mine)
        / ICMPv6NDOptPrefixInfo(prefix=prefix, prefixlen=64, L=1, A=1, validlifetime=600, preferredlifetime=600)
    )


def mld_query(src, mine):
    """MLDv1 general query to all nodes, as a querier sends it (hop limit 1,
    router alert): every listener answers, and a snooping bridge follows the
    querier."""
    return (
        Ether(src=mine, dst=ALL_NODES_MAC)
        / IPv6(src=src, dst=ALL_NODES, hlim=1)
        / IPv6ExtHdrHopByHop(options=[RouterAlert()])
        / ICMPv6MLQuery(mrd=1000)
    )


def main():
    cmd, iface, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    mine = get_if_hwaddr(iface)
    sock = conf.L2socket(iface=iface)
    print('sending', flush=True)
    if cmd == 'mac-flood':
        # ARP requests for the gateway about our own address (which from_pod
        # allows), but in frames whose Ethernet source is someone else's MAC.
        src_mac, spa, tpa, seconds = args[0], args[1], args[2], float(args[3])
        frame = Ether(src=src_mac, dst='ff:ff:ff:ff:ff:ff') / ARP(op=1, hwsrc=mine, psrc=spa, pdst=tpa)
        end = time.monotonic() + seconds
        sent = 0
        while time.monotonic() < end:
            sock.send(frame)
            sent += 1
            time.sleep(0.005)
        print(f'sent {sent}', flush=True)
    elif cmd == 'na':
        # na SRC TARGET LLADDR [SRC TARGET LLADDR ...]: each sent twice, in order
        frames = [na(args[i], args[i + 1], args[i + 2], mine) for i in range(0, len(args), 3)]
        for f in frames:
            for _ in range(2):
                sock.send(f)
    elif cmd == 'ra':
        # ra SRC PREFIX LIFETIME
        src, prefix, lifetime = args[0], args[1], int(args[2])
        for _ in range(2):
            sock.send(ra(src, prefix, lifetime, mine))
    elif cmd == 'mld-query':
        # mld-query SRC
        for _ in range(2):
            sock.send(mld_query(args[0], mine))
    else:
        raise SystemExit(f'unknown command {cmd}')
    sock.close()


if __name__ == '__main__':
    main()
