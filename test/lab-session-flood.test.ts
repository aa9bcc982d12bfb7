// Issue 11 point 4, the attack from inside a pod: one pod floods kube-dns
// with 200,000 crafted UDP datagrams from distinct source ports, each of which
// would have been a new session. Another pod on the same node holds an idle
// TCP connection through a Service; after the flood the server pushes data
// to it. With one shared LRU table the flood evicted the victim's session and
// the push was dropped as NO_SESSION; now the flooding pod is held to its
// quota (its excess counted as SESSION_LIMIT) and the victim's connection
// works. Real lab, real agent, real kube-proxy DNAT; the flood is a raw
// socket in the attacker's network namespace.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DropReason, MapName, Verdict, decodeSessionKey } from '../src/kernel/abi.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { servicesFile } from '../src/lab/names.js';
import type { LabState } from '../src/lab/state.js';
import { podOf, readCounters, readPinnedMap } from './helpers/lab.js';

const run = promisify(execFile);
const LAB = 'tflood';
const PUSH_PORT = 7700; // no responder listens here: the test's own server does
let tmp: string;
let state: LabState;
const children: ChildProcess[] = [];

const pod = (name: string, labels = '{}') =>
  [
    'apiVersion: v1',
    'kind: Pod',
    `metadata: {name: ${name}, namespace: default, labels: ${labels}}`,
    'spec:',
    '  containers: [{name: c, image: x, ports: [{containerPort: 8080}]}]',
    '',
  ].join('\n');

/** The victim's side: connect through the ClusterIP, say "ready", wait for the server's push. */
const CLIENT = `
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print("connected", flush=True)
s.settimeout(60)
try:
    data = s.recv(64)
    print("got " + data.decode(), flush=True)
except Exception as e:
    print("error " + type(e).__name__, flush=True)
`;

/** The server: accept one connection, push once the go-file exists. */
const SERVER = `
import os, socket, sys, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", int(sys.argv[1]))); srv.listen(1)
print("listening", flush=True)
c, _ = srv.accept()
while not os.path.exists(sys.argv[2]): time.sleep(0.02)
c.sendall(b"push"); time.sleep(1)
`;

/**
 * The attacker: n connection-opening packets to kube-dns, all distinct
 * 5-tuples (UDP over IPv4, TCP SYN over IPv4, UDP over IPv6, each from every
 * source port in turn), headers by hand on raw sockets. Checksums do not
 * matter: the sessions are made at the pod's hook, before anything checks them.
 */
const FLOOD = `
import socket, struct, sys
dns4, dns6, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
udp4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
tcp4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
udp6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_UDP)
query = bytes.fromhex("123401000001000000000000000001 0001".replace(" ", ""))
sent = 0
for i in range(n):
    sport = 1024 + (i // 3) % 64000
    kind = i % 3
    try:
        if kind == 0:
            udp4.sendto(struct.pack("!HHHH", sport, 53, 8 + len(query), 0) + query, (dns4, 0))
        elif kind == 1:
            tcp4.sendto(struct.pack("!HHIIBBHHH", sport, 53, i, 0, 5 << 4, 0x02, 65535, 0, 0), (dns4, 0))
        else:
            udp6.sendto(struct.pack("!HHHH", sport, 53, 8 + len(query), 0) + query, (dns6, 0, 0, 0))
        sent += 1
    except OSError:
        pass
print(sent, flush=True)
`;

function spawnIn(netns: string, script: string, args: string[]): { proc: ChildProcess; lines: string[] } {
  const proc = spawn('ip', ['netns', 'exec', netns, 'python3', '-c', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  const lines: string[] = [];
  proc.stdout?.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter((l) => l.length > 0)));
  return { proc, lines };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Live sessions in the agent's pinned table, by client address. */
function sessionsBySource(instance: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of readPinnedMap(instance, MapName.sessions)) {
    const { saddr } = decodeSessionKey(e.key);
    out.set(saddr, (out.get(saddr) ?? 0) + 1);
  }
  return out;
}

function clusterIP(key: string, family: 4 | 6 = 4): string {
  const file = JSON.parse(fs.readFileSync(servicesFile(LAB), 'utf8')) as { services: { key: string; clusterIPs: string[] }[] };
  const ip = file.services.find((s) => s.key === key)?.clusterIPs.find((a) => a.includes(':') === (family === 6));
  if (ip === undefined) throw new Error(`no IPv${family} ClusterIP for ${key}`);
  return ip;
}

describe('a session flood from one pod (issue 11 point 4)', () => {
  beforeAll(async () => {
    await labDown(LAB);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-tflood-'));
    fs.writeFileSync(
      path.join(tmp, 'pods.yaml'),
      [
        pod('victim'),
        pod('attacker'),
        pod('server', '{app: push}'),
        `apiVersion: v1\nkind: Service\nmetadata: {name: push, namespace: default}\nspec: {selector: {app: push}, ports: [{port: ${PUSH_PORT}, targetPort: ${PUSH_PORT}}]}\n`,
      ].join('---\n'),
    );
    state = await labUp(tmp, { lab: LAB, nodes: 1 });
  });

  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await labDown(LAB);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('does not cost another pod its idle Service connection; the flooder is held to its quota', async () => {
    const goFile = path.join(tmp, 'go');
    const server = spawnIn(podOf(state, 'default/server').netns, SERVER, [String(PUSH_PORT), goFile]);
    await until(() => server.lines.includes('listening'), 10_000, 'server listening');
    const client = spawnIn(podOf(state, 'default/victim').netns, CLIENT, [clusterIP('default/push'), String(PUSH_PORT)]);
    await until(() => client.lines.includes('connected'), 10_000, 'victim connected through the ClusterIP');

    const attacker = podOf(state, 'default/attacker');
    const dns = [clusterIP('kube-system/kube-dns', 4), clusterIP('kube-system/kube-dns', 6)];
    const { stdout } = await run('ip', ['netns', 'exec', attacker.netns, 'python3', '-c', FLOOD, ...dns, '200000'], {
      timeout: 120_000,
    });
    expect(Number(stdout.trim())).toBe(200_000);

    fs.writeFileSync(goFile, '');
    await until(() => client.lines.some((l) => l.startsWith('got') || l.startsWith('error')), 30_000, 'victim hears back');
    expect(client.lines).toContain('got push');

    const instance = `${LAB}-${state.plan.nodes[0]!.name}`;
    const limited = readCounters(instance)
      .filter((c) => c.verdict === Verdict.DROPPED && c.code === DropReason.SESSION_LIMIT)
      .reduce((n, c) => n + c.packets, 0n);
    expect(limited).toBeGreaterThan(150_000n);
    // the table holds exactly the quota for each of the attacker's addresses, and the victim's session
    const held = sessionsBySource(instance);
    expect(held.get(attacker.ips.v4)).toBe(4096);
    expect(held.get(attacker.ips.v6)).toBe(4096);
    expect(held.get(podOf(state, 'default/victim').ips.v4)).toBe(1);
  });
});
