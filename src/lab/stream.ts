// Steady UDP stream, run inside a source pod's network namespace:
//   ip netns exec <podns> node dist/lab/stream.js '<StreamRequest JSON>'
// Sends one datagram every intervalMs for durationMs to a pod's responder
// and counts the replies; prints a StreamResult as JSON. Used to show that
// nothing leaks through (and nothing allowed is lost) while agents restart.
import dgram from 'node:dgram';
import net from 'node:net';

export interface StreamRequest {
  target: string;
  port: number;
  intervalMs: number;
  durationMs: number;
}

export interface StreamResult {
  sent: number;
  received: number;
}

/** Replies still in flight when sending stops get this long to arrive. */
const DRAIN_MS = 300;

function stream(req: StreamRequest): Promise<StreamResult> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(req.target) ? 'udp6' : 'udp4');
    const result: StreamResult = { sent: 0, received: 0 };
    sock.on('message', () => result.received++);
    sock.on('error', reject);
    const timer = setInterval(() => {
      sock.send(`vrfwall-stream ${result.sent}\n`, req.port, req.target);
      result.sent++;
    }, req.intervalMs);
    setTimeout(() => {
      clearInterval(timer);
      setTimeout(() => {
        sock.close();
        resolve(result);
      }, DRAIN_MS);
    }, req.durationMs);
  });
}

const arg = process.argv[2];
if (arg === undefined) {
  process.stderr.write('usage: stream.js <StreamRequest JSON>\n');
  process.exit(2);
}
const res = await stream(JSON.parse(arg) as StreamRequest);
process.stdout.write(JSON.stringify(res) + '\n');
