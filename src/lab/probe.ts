// Lab prober, run inside a source pod's network namespace:
//   ip netns exec <podns> node dist/lab/probe.js '<ProbeRequest JSON>'   (or '-': the request on stdin)
// Probes every target over ICMP (iputils ping), TCP (connect, read the
// responder's line) and UDP (send, await the responder's line), on IPv4 and
// IPv6; every Service port on its ClusterIPs, external IPs, and NodePorts on
// node addresses (a responder's line, or a DNS answer when the backend is the
// cluster DNS); hostPorts (the pod's line); and a name through the cluster DNS. All at once; prints a ProbeResponse as JSON on stdout.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { decodeResponse, encodeQuery } from './dns.js';
import { portProbeKey } from './protocol.js';
import type { DnsProbe, MatrixCell, PortCell, PortProbe, ProbeRequest, ProbeResponse, ProbeTarget, ServiceProbe } from './protocol.js';
import { probeSctp, type SctpTarget } from './sctp.js';

/** Bounds concurrent ping processes; sockets are cheap, processes less so. */
const MAX_PINGS = 16;
const UDP_PAYLOAD = 'vrfwall-probe\n';

function limiter(max: number) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

const pingSlot = limiter(MAX_PINGS);

function ping(ip: string, timeoutMs: number, local?: string): Promise<boolean> {
  const waitSec = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  return pingSlot(
    () =>
      new Promise<boolean>((resolve) => {
        const child = spawn('ping', ['-n', '-q', '-c', '1', '-W', waitSec, ...(local !== undefined ? ['-I', local] : []), ip], { stdio: 'ignore' });
        child.on('error', () => resolve(false));
        child.on('close', (code) => resolve(code === 0));
      }),
  );
}

/** Accepts a reply line (with its newline) when `accept` says so. */
type Accept = (reply: string) => boolean;
const exactly = (expect: string): Accept => (reply) => reply === expect;

/**
 * A TCP exchange, with a second connection attempt halfway if the first has
 * not connected: the kernel resends a lost SYN only after 1 s, as long as the
 * whole probe, and a cold neighbour entry can drop one (like UDP's resend).
 */
function tcp(ip: string, port: number, accept: Accept, timeoutMs: number, local?: string): Promise<boolean> {
  return new Promise((resolve) => {
    let connected = false;
    let pending = 2;
    let settled = false;
    const finish = (ok: boolean) => {
      if (settled) return;
      if (ok || --pending === 0) {
        settled = true;
        clearTimeout(second);
        resolve(ok);
      }
    };
    tcpOnce(ip, port, accept, timeoutMs, () => (connected = true), local).then(finish);
    const second = setTimeout(() => {
      if (connected) return void finish(false);
      tcpOnce(ip, port, accept, timeoutMs / 2, () => undefined, local).then(finish);
    }, timeoutMs / 2);
  });
}

function tcpOnce(ip: string, port: number, accept: Accept, timeoutMs: number, onConnect: () => void, local?: string): Promise<boolean> {
  // The responder's line ends with a newline; a stream that ends first is judged as it is.
  return tcpExchange(
    ip,
    port,
    timeoutMs,
    onConnect,
    (data, ended) => (ended || data.includes('\n') ? accept(data.toString('utf8')) : undefined),
    local,
  );
}

/**
 * One TCP connection: `onConnect` may send, `judge` decides on all bytes
 * received so far (undefined: wait for more; `ended`: the peer closed, no
 * more will come). No decision within timeoutMs, or an error, is false.
 */
function tcpExchange(
  ip: string,
  port: number,
  timeoutMs: number,
  onConnect: (sock: net.Socket) => void,
  judge: (data: Buffer, ended: boolean) => boolean | undefined,
  local?: string,
): Promise<boolean> {
  return new Promise((resolve) => {
    let data = Buffer.alloc(0);
    const sock = net.connect({ host: ip, port, ...(local !== undefined ? { localAddress: local } : {}) });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.on('connect', () => onConnect(sock));
    sock.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      const ok = judge(data, false);
      if (ok !== undefined) done(ok);
    });
    sock.on('end', () => done(judge(data, true) ?? false));
    sock.on('error', () => done(false));
  });
}

/** One UDP request/response exchange; `check` judges the first datagram back. */
function udpExchange(ip: string, port: number, payload: Buffer | string, check: (msg: Buffer) => boolean, timeoutMs: number, local?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(net.isIPv6(ip) ? 'udp6' : 'udp4');
    let finished = false;
    const timers: NodeJS.Timeout[] = [];
    const done = (ok: boolean) => {
      if (finished) return;
      finished = true;
      timers.forEach(clearTimeout);
      sock.close();
      resolve(ok);
    };
    const send = () => sock.send(payload, (err) => err && done(false));
    sock.on('error', () => done(false));
    // Connected: the kernel drops replies from any other address (so a reply
    // that skipped the un-DNAT would not count).
    sock.on('message', (msg) => done(check(msg)));
    const connect = () =>
      sock.connect(port, ip, (err?: Error) => {
        // e.g. ENETUNREACH: the callback gets the error instead of an 'error' event.
        if (err) return done(false);
        send();
        // One resend halfway, so a single lost datagram is not a false "blocked".
        timers.push(setTimeout(send, timeoutMs / 2));
      });
    if (local !== undefined) sock.bind({ address: local, port: 0 }, connect);
    else connect();
    timers.push(setTimeout(() => done(false), timeoutMs));
  });
}

function udp(ip: string, port: number, accept: Accept, timeoutMs: number, local?: string): Promise<boolean> {
  return udpExchange(ip, port, UDP_PAYLOAD, (msg) => accept(msg.toString()), timeoutMs, local);
}

const LENGTH_PREFIX = 2;

/** DNS over TCP (RFC 1035 4.2.2): one length-prefixed query, one response. */
function dnsTcp(ip: string, port: number, query: Buffer, check: (msg: Buffer) => boolean, timeoutMs: number): Promise<boolean> {
  const send = (sock: net.Socket) => {
    const head = Buffer.alloc(LENGTH_PREFIX);
    head.writeUInt16BE(query.length);
    sock.write(Buffer.concat([head, query]));
  };
  return tcpExchange(ip, port, timeoutMs, send, (data, ended) => {
    if (data.length >= LENGTH_PREFIX && data.length >= LENGTH_PREFIX + data.readUInt16BE(0)) {
      return check(data.subarray(LENGTH_PREFIX, LENGTH_PREFIX + data.readUInt16BE(0)));
    }
    return ended ? false : undefined; // a response cut short
  });
}

let nextQueryId = 1;

/** Asks `server` for `name`; true if it answers NOERROR with exactly `addresses`. */
function dnsQuery(server: string, port: number, protocol: 'TCP' | 'UDP', name: string, type: 'A' | 'AAAA', addresses: string[], timeoutMs: number): Promise<boolean> {
  const id = nextQueryId++ & 0xffff;
  const want = [...addresses].sort().join(',');
  const check = (msg: Buffer) => {
    const res = decodeResponse(msg);
    return res !== undefined && res.id === id && res.rcode === 0 && [...res.addresses].sort().join(',') === want;
  };
  const query = encodeQuery(id, name, type);
  if (protocol === 'TCP') return dnsTcp(server, port, query, check, timeoutMs);
  return udpExchange(server, port, query, check, timeoutMs);
}

/** ICMP, TCP and UDP to one address (from `local` if given); null for all three when the family is not probed. */
function probeFamily(ip: string | undefined, t: ProbeTarget, expect: Accept, timeoutMs: number, local: string | undefined): Promise<(boolean | null)[]> {
  if (ip === undefined) return Promise.resolve([null, null, null]);
  return Promise.all([ping(ip, timeoutMs, local), tcp(ip, t.tcpPort, expect, timeoutMs, local), udp(ip, t.udpPort, expect, timeoutMs, local)]);
}

/**
 * The SCTP probes of a whole request go to one prober process (sctp.ts): each
 * asks for its answer here and gets it once all are in.
 */
class SctpBatch {
  private readonly targets: SctpTarget[] = [];
  private result: Promise<boolean[]> | undefined;

  add(t: SctpTarget): (timeoutMs: number) => Promise<boolean> {
    const i = this.targets.push(t) - 1;
    return async (timeoutMs) => {
      // every target of the request registers synchronously; start the prober once they all have
      await new Promise((r) => setImmediate(r));
      return (await (this.result ??= probeSctp(this.targets, timeoutMs)))[i] as boolean;
    };
  }
}

/** One extra port probe to one address (TCP, UDP: the responder's line; SCTP: an INIT ACK). */
function probePort(ip: string | undefined, p: PortProbe, expect: Accept, timeoutMs: number, local: string | undefined, sctp: SctpBatch): () => Promise<boolean | null> {
  if (ip === undefined) return () => Promise.resolve(null);
  if (p.protocol === 'SCTP') {
    const answer = sctp.add({ ip, port: p.port, ...(local !== undefined ? { local } : {}) });
    return () => answer(timeoutMs);
  }
  return () => (p.protocol === 'TCP' ? tcp(ip, p.port, expect, timeoutMs, local) : udp(ip, p.port, expect, timeoutMs, local));
}

async function probeTarget(t: ProbeTarget, timeoutMs: number, source: ProbeRequest['source'], sctp: SctpBatch): Promise<MatrixCell> {
  const expect = exactly(`${t.reply ?? t.key}\n`);
  // Registered before anything is awaited, so the SCTP batch holds every target when it starts.
  const extra = (t.ports ?? []).map((p) => [
    probePort(t.v4, p, expect, timeoutMs, source?.v4, sctp),
    probePort(t.v6, p, expect, timeoutMs, source?.v6, sctp),
  ] as const);
  const [[icmp, tcp4, udp4], [icmp6, tcp6, udp6], ports] = await Promise.all([
    probeFamily(t.v4, t, expect, timeoutMs, source?.v4),
    probeFamily(t.v6, t, expect, timeoutMs, source?.v6),
    Promise.all(extra.map(async ([v4, v6]): Promise<PortCell> => {
      const [a, b] = await Promise.all([v4(), v6()]);
      return { v4: a, v6: b };
    })),
  ]);
  const cell: MatrixCell = { icmp: icmp ?? null, tcp: tcp4 ?? null, udp: udp4 ?? null, icmp6: icmp6 ?? null, tcp6: tcp6 ?? null, udp6: udp6 ?? null };
  if (t.ports !== undefined) cell.ports = Object.fromEntries(t.ports.map((p, i) => [portProbeKey(p), ports[i] as PortCell]));
  return cell;
}

function probeService(s: ServiceProbe, timeoutMs: number): Promise<boolean> {
  if (s.expect.kind === 'dns') {
    const e = s.expect;
    return dnsQuery(s.ip, s.port, s.protocol, e.name, e.type, e.addresses, timeoutMs);
  }
  const replies = new Set(s.expect.replies.map((r) => `${r}\n`));
  const accept: Accept = (reply) => replies.has(reply);
  return s.protocol === 'TCP' ? tcp(s.ip, s.port, accept, timeoutMs) : udp(s.ip, s.port, accept, timeoutMs);
}

async function probeDns(d: DnsProbe, timeoutMs: number): Promise<boolean> {
  const [a, aaaa] = await Promise.all([
    dnsQuery(d.server, 53, 'UDP', d.name, 'A', d.v4, timeoutMs),
    dnsQuery(d.server, 53, 'UDP', d.name, 'AAAA', d.v6, timeoutMs),
  ]);
  return a && aaaa;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (!arg) throw new Error("usage: probe.js <ProbeRequest JSON> | probe.js - (the request on stdin)");
  // Large requests come on stdin: one argument is limited to 128 KiB.
  const req = JSON.parse(arg === '-' ? await readStdin() : arg) as ProbeRequest;
  const services = req.services ?? [];
  const sctp = new SctpBatch();
  const probeAll = async (list: ServiceProbe[] | undefined) => {
    if (list === undefined) return undefined;
    const ok = await Promise.all(list.map((s) => probeService(s, req.timeoutMs)));
    return Object.fromEntries(list.map((s, i) => [s.key, ok[i] as boolean]));
  };
  const [cells, reached, nodePorts, hostPorts, dns] = await Promise.all([
    Promise.all(req.targets.map((t) => probeTarget(t, req.timeoutMs, req.source, sctp))),
    probeAll(services),
    probeAll(req.nodePorts),
    probeAll(req.hostPorts),
    req.dns ? probeDns(req.dns, req.timeoutMs) : Promise.resolve(undefined),
  ]);
  const out: ProbeResponse = { pods: {}, services: reached ?? {} };
  req.targets.forEach((t, i) => (out.pods[t.key] = cells[i] as MatrixCell));
  if (nodePorts !== undefined) out.nodePorts = nodePorts;
  if (hostPorts !== undefined) out.hostPorts = hostPorts;
  if (dns !== undefined) out.dns = dns;
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err: Error) => {
  console.error(`probe: ${err.message}`);
  process.exit(1);
});
