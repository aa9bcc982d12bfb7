// Lab pod responder, run inside a pod's network namespace:
//   ip netns exec <podns> node dist/lab/responder.js --name ns/pod --tcp 8080 --udp 8080
// Listens on :: (IPv4 and IPv6). TCP: writes "<ns/pod>\n" and closes. UDP:
// answers every datagram with "<ns/pod>\n". The reply names the pod, so a
// probe knows it reached the pod it meant. Reports readiness over the IPC
// channel when started by the lab (else prints "ready").
// --sctp <port> (repeatable) also answers SCTP INITs to those ports, through a
// raw-socket receiver (sctp.ts; this kernel has no SCTP sockets).
// --udp-bind <addr> (repeatable) binds UDP to those addresses instead of ::,
// for host-network pods: a node has several addresses, and a reply must leave
// from the one the probe sent to.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { sctpReceiverArgs } from './sctp.js';

function ports(values: string[] | undefined): number[] {
  return (values ?? []).map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`invalid port ${v}`);
    return n;
  });
}

function listenTcp(port: number, reply: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((sock) => {
      sock.on('error', () => sock.destroy());
      sock.end(reply);
    });
    server.once('error', reject);
    server.listen({ port, host: '::', ipv6Only: false }, () => {
      server.off('error', reject);
      server.on('error', (err) => console.error(`tcp ${port}: ${err.message}`));
      resolve();
    });
  });
}

function listenUdp(port: number, address: string, reply: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const type = net.isIPv4(address) ? 'udp4' : 'udp6';
    const sock = dgram.createSocket({ type, ipv6Only: false });
    sock.on('message', (_msg, from) => {
      sock.send(reply, from.port, from.address, (err) => {
        if (err) console.error(`udp ${port} reply to ${from.address}: ${err.message}`);
      });
    });
    sock.once('error', reject);
    sock.bind({ port, address }, () => {
      sock.off('error', reject);
      sock.on('error', (err) => console.error(`udp ${port}: ${err.message}`));
      resolve();
    });
  });
}

/** The SCTP receiver, a child that goes with this process; resolves once its sockets are open. */
function startSctp(ports: number[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', sctpReceiverArgs(ports), { stdio: ['ignore', 'pipe', 'inherit'] });
    let ready = false;
    child.on('error', (err) => reject(new Error(`SCTP ports need python3 (raw sockets): ${err.message}`)));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (!ready && d.includes('ready')) {
        ready = true;
        resolve();
      }
    });
    child.on('exit', (code, sig) => {
      if (!ready) return reject(new Error(`SCTP receiver exited (${code ?? sig}) before it was ready`));
      // Without it the pod would silently stop answering SCTP: stop as a whole.
      console.error(`SCTP receiver exited (${code ?? sig})`);
      process.exit(1);
    });
    process.on('exit', () => child.kill());
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      name: { type: 'string' },
      tcp: { type: 'string', multiple: true },
      udp: { type: 'string', multiple: true },
      'udp-bind': { type: 'string', multiple: true },
      sctp: { type: 'string', multiple: true },
    },
  });
  if (!values.name) throw new Error('--name is required');
  const reply = `${values.name}\n`;
  const tcp = ports(values.tcp);
  const udp = ports(values.udp);
  const udpAddrs = values['udp-bind'] ?? ['::'];
  const sctp = ports(values.sctp);
  await Promise.all([
    ...(sctp.length > 0 ? [startSctp(sctp)] : []),
    ...tcp.map((p) => listenTcp(p, reply)),
    ...udp.flatMap((p) => udpAddrs.map((a) => listenUdp(p, a, reply))),
  ]);
  console.log(`${new Date().toISOString()} ${values.name}: listening on tcp ${tcp.join(',') || '-'} udp ${udp.join(',') || '-'}${sctp.length > 0 ? ` sctp ${sctp.join(',')}` : ''}`);
  if (process.send) {
    process.send('ready', () => process.disconnect());
  } else {
    console.log('ready');
  }
  process.on('SIGTERM', () => process.exit(0));
}

main().catch((err: Error) => {
  console.error(`responder: ${err.message}`);
  process.exit(1);
});
