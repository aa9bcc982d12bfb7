// A VXLAN packet with a forged inner source, and what sends and receives it
// inside lab namespaces: for the tests of overlay decapsulation on the node
// (docs/limits.md), where a pod must not get such a packet unwrapped.
import { execFile, execFileSync } from 'node:child_process';

export const PROBE_PORT = 9999; // a port nothing in the lab listens on
export const MAGIC = 'vrfwall-tunnel-probe';

/** Waits in a pod's netns for one UDP datagram carrying MAGIC on PROBE_PORT; resolves with its source address ('' = none). */
export function receiveIn(netns: string, ms: number): Promise<string> {
  const script = `import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("0.0.0.0",${PROBE_PORT})); s.settimeout(${ms / 1000})
try:
  while True:
    d,a=s.recvfrom(2048)
    if d==b"${MAGIC}": print(a[0]); break
except socket.timeout: pass`;
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', netns, 'python3', '-c', script], (err, out) => (err ? reject(err) : resolve(out.trim())));
  });
}

/** Sends three UDP datagrams from a pod's netns: payload hex (VXLAN) or MAGIC when empty. */
export function sendFrom(netns: string, to: string, port: number, hex: string): void {
  const payload = hex === '' ? `b"${MAGIC}"` : `bytes.fromhex("${hex}")`;
  const script = `import socket,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
for i in range(3):
  s.sendto(${payload},("${to}",${port})); time.sleep(0.1)`;
  execFileSync('ip', ['netns', 'exec', netns, 'python3', '-c', script], { stdio: 'pipe' });
}

/** VXLAN (VNI 42) + Ethernet to the VXLAN device + IPv4 src -> dst + UDP to PROBE_PORT carrying MAGIC, as hex. */
export function vxlanInner(dstMac: string, src: string, dst: string): string {
  const body = Buffer.from(MAGIC);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(40000, 0);
  udp.writeUInt16BE(PROBE_PORT, 2);
  udp.writeUInt16BE(8 + body.length, 4); // checksum 0: none (IPv4)
  const iph = Buffer.alloc(20);
  iph[0] = 0x45;
  iph.writeUInt16BE(20 + udp.length + body.length, 2);
  iph[8] = 64;
  iph[9] = 17;
  Buffer.from(src.split('.').map(Number)).copy(iph, 12);
  Buffer.from(dst.split('.').map(Number)).copy(iph, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += iph.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  iph.writeUInt16BE(~sum & 0xffff, 10);
  const eth = Buffer.concat([Buffer.from(dstMac.split(':').map((h) => parseInt(h, 16))), Buffer.from([2, 0, 0, 0, 0, 1]), Buffer.from([8, 0])]);
  const vxlan = Buffer.from([0x08, 0, 0, 0, 0, 0, 42, 0]);
  return Buffer.concat([vxlan, eth, iph, udp, body]).toString('hex');
}

