# Real traffic for the NetworkPolicy datapath tests (test/datapath-policy.test.ts),
# run inside a pod's network namespace with `ip netns exec`.
#   serve PORT...           TCP and UDP echo on each port; SCTP INITs (raw, this
#                           kernel has no SCTP sockets) reported as "sctp SPORT DPORT";
#                           prints "ready" once bound
#   tcp DST PORT            connect, send, wait for the echo: prints ok / fail (DST v4 or v6, as for udp)
#   udp DST PORT [SPORT]    send, wait for the echo: ok / fail
#   sctp DST SPORT DPORT    send one INIT chunk (correct CRC32c) from a raw socket
#   stream DST PORT         connect, then per line on stdin one round trip: ok / timeout
import select
import socket
import struct
import sys
import threading


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def sctp_init(sport, dport):
    # INIT: type 1, flags 0, length 20; initiate tag, a_rwnd, out/in streams, initial TSN
    chunk = struct.pack('!BBHIIHHI', 1, 0, 20, 0x01020304, 65535, 1, 1, 1)
    hdr = struct.pack('!HHII', sport, dport, 0, 0)
    pkt = bytearray(hdr + chunk)
    struct.pack_into('<I', pkt, 8, crc32c(bytes(pkt)))  # CRC32c goes in little-endian byte order
    return bytes(pkt)


def serve(ports):
    def tcp_loop(srv):
        while True:
            c, _ = srv.accept()
            threading.Thread(target=tcp_echo, args=(c,), daemon=True).start()

    def tcp_echo(c):
        try:
            while True:
                d = c.recv(4096)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()  # the close now, not when the socket is collected

    def udp_loop(u):
        while True:
            d, peer = u.recvfrom(4096)
            u.sendto(d, peer)

    def sctp_loop(r):
        while True:
            d, _ = r.recvfrom(4096)
            ihl = (d[0] & 0x0F) * 4
            if len(d) >= ihl + 13 and d[ihl + 12] == 1:
                sport, dport = struct.unpack('!HH', d[ihl:ihl + 4])
                print('sctp %d %d' % (sport, dport), flush=True)

    for p in ports:
        for fam, any_addr in ((socket.AF_INET, '0.0.0.0'), (socket.AF_INET6, '::')):
            t = socket.socket(fam, socket.SOCK_STREAM)
            t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            t.bind((any_addr, p))
            t.listen(64)
            threading.Thread(target=tcp_loop, args=(t,), daemon=True).start()
            u = socket.socket(fam, socket.SOCK_DGRAM)
            if fam == socket.AF_INET6:
                u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            u.bind((any_addr, p))
            threading.Thread(target=udp_loop, args=(u,), daemon=True).start()
    r = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
    threading.Thread(target=sctp_loop, args=(r,), daemon=True).start()
    print('ready', flush=True)
    threading.Event().wait()


def main():
    mode = sys.argv[1]
    if mode == 'serve':
        serve([int(p) for p in sys.argv[2:]])
    elif mode == 'tcp':
        try:
            c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=1.0)
            c.sendall(b'x')
            print('ok' if c.recv(1) == b'x' else 'fail')
        except OSError:
            print('fail')
    elif mode == 'udp':
        v6 = ':' in sys.argv[2]
        u = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        if len(sys.argv) > 4:
            u.bind(('::' if v6 else '0.0.0.0', int(sys.argv[4])))
        u.settimeout(1.0)
        try:
            u.sendto(b'x', (sys.argv[2], int(sys.argv[3])))
            print('ok' if u.recvfrom(16)[0] == b'x' else 'fail')
        except OSError:
            print('fail')
    elif mode == 'sctp':
        r = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
        r.sendto(sctp_init(int(sys.argv[3]), int(sys.argv[4])), (sys.argv[2], 0))
        print('sent')
    elif mode == 'stream':
        c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=1.0)
        print('connected %d' % c.getsockname()[1], flush=True)
        for _ in sys.stdin:
            c.sendall(b'y')
            ok = select.select([c], [], [], 0.5)[0] and c.recv(1) == b'y'
            print('ok' if ok else 'timeout', flush=True)
    else:
        sys.exit('unknown mode ' + mode)


main()
