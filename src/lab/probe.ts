// Lab prober, run inside a source pod's network namespace:
//   ip netns exec <podns> node dist/lab/probe.js '<ProbeRequest JSON>'
// Probes every target over ICMP (iputils ping), TCP (connect, read the
// responder's line) and UDP (send, await the responder's line), on IPv4 and
// IPv6, all at once, and prints a ProbeResponse as JSON on stdout.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import type { MatrixCell, ProbeRequest, ProbeResponse, ProbeTarget } from './protocol.js';

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

function ping(ip: string, timeoutMs: number): Promise<boolean> {
  const waitSec = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  return pingSlot(
    () =>
      new Promise<boolean>((resolve) => {
        const child = spawn('ping', ['-n', '-q', '-c', '1', '-W', waitSec, ip], { stdio: 'ignore' });
        child.on('error', () => resolve(false));
        child.on('close', (code) => resolve(code === 0));
      }),
  );
}

function tcp(ip: string, port: number, expect: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let data = '';
    const sock = net.connect({ host: ip, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      data += d;
      if (data.includes('\n')) done(data === expect);
    });
    sock.on('end', () => done(data === expect));
    sock.on('error', () => done(false));
  });
}

function udp(ip: string, port: number, expect: string, timeoutMs: number): Promise<boolean> {
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
    const send = () => sock.send(UDP_PAYLOAD, (err) => err && done(false));
    sock.on('error', () => done(false));
    // Connected: the kernel drops replies from any other address.
    sock.on('message', (msg) => done(msg.toString() === expect));
    sock.connect(port, ip, (err?: Error) => {
      // e.g. ENETUNREACH: the callback gets the error instead of an 'error' event.
      if (err) return done(false);
      send();
      // One resend halfway, so a single lost datagram is not a false "blocked".
      timers.push(setTimeout(send, timeoutMs / 2));
    });
    timers.push(setTimeout(() => done(false), timeoutMs));
  });
}

async function probeTarget(t: ProbeTarget, timeoutMs: number): Promise<MatrixCell> {
  const expect = `${t.key}\n`;
  const [icmp, tcp4, udp4, icmp6, tcp6, udp6] = await Promise.all([
    ping(t.v4, timeoutMs),
    tcp(t.v4, t.tcpPort, expect, timeoutMs),
    udp(t.v4, t.udpPort, expect, timeoutMs),
    ping(t.v6, timeoutMs),
    tcp(t.v6, t.tcpPort, expect, timeoutMs),
    udp(t.v6, t.udpPort, expect, timeoutMs),
  ]);
  return { icmp, tcp: tcp4, udp: udp4, icmp6, tcp6, udp6 };
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (!arg) throw new Error('usage: probe.js <ProbeRequest JSON>');
  const req = JSON.parse(arg) as ProbeRequest;
  const cells = await Promise.all(req.targets.map((t) => probeTarget(t, req.timeoutMs)));
  const out: ProbeResponse = {};
  req.targets.forEach((t, i) => (out[t.key] = cells[i] as MatrixCell));
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err: Error) => {
  console.error(`probe: ${err.message}`);
  process.exit(1);
});
