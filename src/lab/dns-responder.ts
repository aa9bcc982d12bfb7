// The lab's cluster DNS server, run inside the kube-system DNS pod's netns:
//   ip netns exec <podns> node dist/lab/dns-responder.js --name kube-system/coredns --records <file>
// Serves DNS on port 53, UDP and TCP (RFC 1035 4.2.2 length-prefixed), IPv4
// and IPv6. The records file (the lab's services file, field "dns") is
// re-read whenever it is replaced, so new Services resolve without a restart;
// an unreadable file keeps the last good records. Reports readiness over the
// IPC channel when started by the lab (else prints "ready").
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DNS_PORT, answerQuery } from './dns.js';
import type { DnsRecords } from './dns.js';

const TCP_IDLE_MS = 10_000;
const LENGTH_PREFIX = 2;

let records: DnsRecords = {};

function load(file: string): void {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { dns?: DnsRecords };
    if (typeof parsed.dns !== 'object' || parsed.dns === null) throw new Error('no "dns" object');
    records = parsed.dns;
  } catch (err) {
    console.error(`${new Date().toISOString()} keeping the last records: ${file}: ${(err as Error).message}`);
  }
}

/** The file is replaced by rename: watch its directory, not the file. */
function watchRecords(file: string): void {
  let timer: NodeJS.Timeout | undefined;
  fs.watch(path.dirname(file), (_event, name) => {
    if (name !== path.basename(file)) return;
    clearTimeout(timer);
    timer = setTimeout(() => load(file), 20);
  });
}

function serveUdp(): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket({ type: 'udp6', ipv6Only: false });
    sock.on('message', (msg, from) => {
      const res = answerQuery(msg, records);
      if (res) sock.send(res, from.port, from.address);
    });
    sock.once('error', reject);
    sock.bind({ port: DNS_PORT, address: '::' }, () => {
      sock.off('error', reject);
      sock.on('error', (err) => console.error(`udp: ${err.message}`));
      resolve();
    });
  });
}

function serveTcp(): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((sock) => {
      let buf = Buffer.alloc(0);
      sock.setTimeout(TCP_IDLE_MS, () => sock.destroy());
      sock.on('error', () => sock.destroy());
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= LENGTH_PREFIX) {
          const len = buf.readUInt16BE(0);
          if (buf.length < LENGTH_PREFIX + len) return;
          const res = answerQuery(buf.subarray(LENGTH_PREFIX, LENGTH_PREFIX + len), records);
          buf = buf.subarray(LENGTH_PREFIX + len);
          if (!res) return void sock.destroy();
          const head = Buffer.alloc(LENGTH_PREFIX);
          head.writeUInt16BE(res.length);
          sock.write(Buffer.concat([head, res]));
        }
      });
    });
    server.once('error', reject);
    server.listen({ port: DNS_PORT, host: '::', ipv6Only: false }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { name: { type: 'string' }, records: { type: 'string' } } });
  if (!values.name || !values.records) throw new Error('usage: dns-responder.js --name <ns/pod> --records <file>');
  const file = values.records;
  load(file);
  watchRecords(file);
  await Promise.all([serveUdp(), serveTcp()]);
  console.log(`${new Date().toISOString()} ${values.name}: DNS on udp/tcp ${DNS_PORT}, ${Object.keys(records).length} names`);
  if (process.send) process.send('ready', () => process.disconnect());
  else console.log('ready');
  process.on('SIGTERM', () => process.exit(0));
}

main().catch((err: Error) => {
  console.error(`dns-responder: ${err.message}`);
  process.exit(1);
});
