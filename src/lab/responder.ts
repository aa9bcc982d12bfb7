// Lab pod responder, run inside a pod's network namespace:
//   ip netns exec <podns> node dist/lab/responder.js --name ns/pod --tcp 8080 --udp 8080
// Listens on :: (IPv4 and IPv6). TCP: writes "<ns/pod>\n" and closes. UDP:
// answers every datagram with "<ns/pod>\n". The reply names the pod, so a
// probe knows it reached the pod it meant. Reports readiness over the IPC
// channel when started by the lab (else prints "ready").
// --udp-bind <addr> (repeatable) binds UDP to those addresses instead of ::,
// for host-network pods: a node has several addresses, and a reply must leave
// from the one the probe sent to.
import dgram from 'node:dgram';
import net from 'node:net';
import { parseArgs } from 'node:util';

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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      name: { type: 'string' },
      tcp: { type: 'string', multiple: true },
      udp: { type: 'string', multiple: true },
      'udp-bind': { type: 'string', multiple: true },
    },
  });
  if (!values.name) throw new Error('--name is required');
  const reply = `${values.name}\n`;
  const tcp = ports(values.tcp);
  const udp = ports(values.udp);
  const udpAddrs = values['udp-bind'] ?? ['::'];
  await Promise.all([
    ...tcp.map((p) => listenTcp(p, reply)),
    ...udp.flatMap((p) => udpAddrs.map((a) => listenUdp(p, a, reply))),
  ]);
  console.log(`${new Date().toISOString()} ${values.name}: listening on tcp ${tcp.join(',') || '-'} udp ${udp.join(',') || '-'}`);
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
