// SCTP in the lab without the kernel's SCTP (this machine has no sctp module,
// so there are no SCTP sockets): both ends speak it over raw IPPROTO_SCTP
// (132) sockets, which work for any protocol number. Python does the raw
// sockets (Node has none); the scripts are embedded here and run with
// `python3 -c`, so nothing extra is packaged.
// - receiver (in a pod that declares SCTP container ports, started by its
//   responder): answers every INIT to one of its ports, whose CRC32c is
//   right, with an INIT ACK (vtag = the INIT's initiate tag, a state cookie);
// - prober (in the source pod, started by probe.ts): sends an INIT to each
//   target, resends once halfway, and counts a target reached when an INIT
//   ACK with the right ports, vtag, sender and CRC32c comes back.
// Reachability is therefore the INIT arriving and its answer returning, the
// same request/response a UDP probe makes (and a TCP handshake).
import { spawn } from 'node:child_process';

/** CRC32c (Castagnoli, reflected), and the common header with the checksum filled in (little-endian, as Linux writes it). */
const PY_COMMON = String.raw`
import json, os, select, socket, struct, sys, time
_T = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ (0x82F63B78 if _c & 1 else 0)
    _T.append(_c)
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
def packet(sport, dport, vtag, chunk):
    h = struct.pack('!HHII', sport, dport, vtag, 0) + chunk
    return h[:8] + struct.pack('<I', crc32c(h)) + h[12:]
def crc_ok(p):
    return len(p) >= 12 and struct.unpack('<I', p[8:12])[0] == crc32c(p[:8] + b'\0\0\0\0' + p[12:])
def payload(sock, data):
    # IPv4 raw sockets deliver the IP header too; IPv6 ones only the payload.
    return data[(data[0] & 15) * 4:] if sock.family == socket.AF_INET else data
def tag():
    return int.from_bytes(os.urandom(4), 'big') or 1
try:
    import ctypes
    ctypes.CDLL(None).prctl(1, 15)  # PR_SET_PDEATHSIG SIGTERM: go when the responder goes
except Exception:
    pass
`;

const PY_RECEIVER = String.raw`
ports = set(json.loads(sys.argv[1]))
socks = [socket.socket(socket.AF_INET, socket.SOCK_RAW, 132), socket.socket(socket.AF_INET6, socket.SOCK_RAW, 132)]
print('ready', flush=True)
COOKIE = b'vrfwall-lab-cookie'
while True:
    ready, _, _ = select.select(socks, [], [])
    for s in ready:
        data, addr = s.recvfrom(65535)
        p = payload(s, data)
        # common header (12) + INIT chunk (20): type 1, vtag 0, a non-zero initiate tag
        if len(p) < 32 or p[12] != 1 or not crc_ok(p):
            continue
        sport, dport, vtag = struct.unpack('!HHI', p[:8])
        itag = struct.unpack('!I', p[16:20])[0]
        if dport not in ports or vtag != 0 or itag == 0:
            continue
        param = struct.pack('!HH', 7, 4 + len(COOKIE)) + COOKIE
        param += b'\0' * (-len(param) % 4)
        body = struct.pack('!IIHHI', tag(), 65535, 1, 1, tag()) + param
        chunk = struct.pack('!BBH', 2, 0, 4 + len(body)) + body
        try:
            s.sendto(packet(dport, sport, itag, chunk), (addr[0], 0) if s.family == socket.AF_INET else (addr[0], 0, 0, addr[3]))
        except OSError as e:
            print('sctp reply to %s: %s' % (addr[0], e), file=sys.stderr, flush=True)
`;

const PY_PROBER = String.raw`
req = json.load(sys.stdin)
timeout = req['timeoutMs'] / 1000.0
socks = {}
def sock(family, local):
    key = (family, local)
    if key not in socks:
        s = socket.socket(family, socket.SOCK_RAW, 132)
        if local:
            s.bind((local, 0))
        socks[key] = s
    return socks[key]
result = [False] * len(req['targets'])
sends = []
waiting = {}
for i, t in enumerate(req['targets']):
    family = socket.AF_INET6 if ':' in t['ip'] else socket.AF_INET
    s = sock(family, t.get('local'))
    itag, sport = tag(), 32768 + int.from_bytes(os.urandom(2), 'big') % 28000
    chunk = struct.pack('!BBHIIHHI', 1, 0, 20, itag, 65535, 1, 1, itag)
    addr = (t['ip'], 0) if family == socket.AF_INET else (t['ip'], 0, 0, 0)
    sends.append((i, s, packet(sport, t['port'], 0, chunk), addr))
    waiting[itag] = (i, socket.inet_pton(family, t['ip']), t['port'], sport)
def send_all():
    for i, s, p, addr in sends:
        if result[i]:
            continue
        try:
            s.sendto(p, addr)
        except OSError:
            pass
start = time.monotonic()
send_all()
resent = False
while not all(result):
    now = time.monotonic() - start
    if now >= timeout:
        break
    if not resent and now >= timeout / 2:
        resent = True
        send_all()
    wait = (timeout / 2 if not resent else timeout) - now
    ready, _, _ = select.select(list(socks.values()), [], [], max(0.0, wait))
    for s in ready:
        data, addr = s.recvfrom(65535)
        p = payload(s, data)
        if len(p) < 16 or p[12] != 2 or not crc_ok(p):
            continue
        sport, dport, vtag = struct.unpack('!HHI', p[:8])
        w = waiting.get(vtag)
        if w and socket.inet_pton(s.family, addr[0]) == w[1] and sport == w[2] and dport == w[3]:
            result[w[0]] = True
print(json.dumps(result))
`;

/** The receiver's command line: `python3 -c <script> <ports JSON>`. */
export function sctpReceiverArgs(ports: number[]): string[] {
  return ['-c', PY_COMMON + PY_RECEIVER, JSON.stringify(ports)];
}

export interface SctpTarget {
  ip: string;
  port: number;
  /** source address (a pod with secondary interfaces sends from the one probed from) */
  local?: string;
}

/** Probes every target at once (in the caller's network namespace); one answer per target. */
export function probeSctp(targets: SctpTarget[], timeoutMs: number): Promise<boolean[]> {
  if (targets.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', PY_COMMON + PY_PROBER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) => reject(new Error(`SCTP probes need python3 (raw sockets): ${e.message}`)));
    child.on('close', (code) => {
      try {
        const res = JSON.parse(out) as unknown;
        if (code === 0 && Array.isArray(res) && res.length === targets.length) return resolve(res.map((v) => v === true));
      } catch {
        // reported below
      }
      reject(new Error(`SCTP prober exited ${code}: ${err.trim().slice(-300) || out.slice(0, 200)}`));
    });
    child.stdin.end(JSON.stringify({ timeoutMs, targets }));
  });
}
