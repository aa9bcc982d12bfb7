// An interface the agent enforces on keeps its hooks while it exists, even
// when the agent no longer learns which pod it belongs to (design section 3,
// fail closed). The attack: a pod whose host route goes missing (a CNI that
// replaces routes non-atomically, anyone with NET_ADMIN on the node; with
// Multus, a network-status annotation edited away) is no longer found by
// discovery. If the agent then let go of its hooks, the pod's interface would
// be unenforced and the pod could send with any source address: here one of
// an isolated network's pods, to another pod of that network, which judges
// the packet by its (forged) source and lets it in.
//
// Lab `retain`, one node, ptp wiring, one agent. The forged datagram is sent
// from inside the attacker's network namespace with IP_TRANSPARENT; the same
// datagram sent by the address's real owner is the positive control.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../src/kernel/native.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { agentStatusFile } from '../src/lab/names.js';
import type { LabState } from '../src/lab/state.js';
import { ensureBuilt } from './helpers/build.js';
import { podOf, timeUntil } from './helpers/lab.js';
import { withNetns } from './helpers/netns.js';

const LAB = 'retain';
const INSTANCE = `${LAB}-node1`;
const PORT = 9998; // nothing in the lab listens here
const MAGIC = 'vrfwall-retain-probe';

const pod = (key: string): string => {
  const [ns, name] = key.split('/');
  return `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: {nodeName: node1, containers: [{name: c, image: x}]}\n---\n`;
};

let state: LabState;
let tmp: string;

/** Waits in a pod's netns for datagrams starting with MAGIC; resolves with "<source> <sender's tag>" of each kind seen. */
function receive(netns: string, ms: number): Promise<string[]> {
  const script = `import socket
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("0.0.0.0",${PORT})); s.settimeout(${ms / 1000})
seen=set()
try:
  while True:
    d,a=s.recvfrom(2048)
    if d.startswith(b"${MAGIC} "): seen.add(a[0] + " " + d.decode().split(" ")[1])
except socket.timeout: pass
print(",".join(sorted(seen)))`;
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', netns, 'python3', '-c', script], (err, out) => (err ? reject(err) : resolve(out.trim() === '' ? [] : out.trim().split(','))));
  });
}

/** Sends "MAGIC <tag>" three times from a pod's netns with source address `from` (IP_TRANSPARENT: need not be the pod's). */
function send(netns: string, tag: string, from: string, to: string): void {
  const script = `import socket,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.setsockopt(socket.SOL_IP, 19, 1); s.bind(("${from}",0))
for i in range(3):
  s.sendto(b"${MAGIC} ${tag}",("${to}",${PORT})); time.sleep(0.05)`;
  execFileSync('ip', ['netns', 'exec', netns, 'python3', '-c', script], { stdio: 'pipe' });
}

function status(): { attached?: string[]; generation?: number } {
  try {
    return JSON.parse(fs.readFileSync(agentStatusFile(INSTANCE), 'utf8')) as { attached?: string[] };
  } catch {
    return {};
  }
}

/** Our programs on the interface's two hooks, read from the kernel. */
function hooks(hostIf: string): number {
  const bpf = native();
  return withNetns(state.plan.nodes[0]!.netns, () => {
    const i = bpf.ifNameToIndex(hostIf);
    return bpf.tcxQuery(i, 'ingress').length + bpf.tcxQuery(i, 'egress').length;
  });
}

describe('an enforced interface whose pod the agent no longer finds keeps its hooks (lab retain)', () => {
  beforeAll(async () => {
    ensureBuilt();
    await labDown(LAB);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-retain-'));
    fs.writeFileSync(
      path.join(tmp, 'cluster.yaml'),
      'apiVersion: v1\nkind: Namespace\nmetadata: {name: iso, labels: {vrfwall.dev/isolated: "true"}}\n---\n' +
        pod('iso/victim') + pod('iso/friend') + pod('default/attacker'),
    );
    state = await labUp(tmp, { lab: LAB, nodes: 1, agent: true, log: () => undefined });
  }, 120_000);

  afterAll(async () => {
    await labDown(LAB);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a pod whose host route vanished still cannot forge a source address; the real owner still can send', async () => {
    const attacker = podOf(state, 'default/attacker');
    const friend = podOf(state, 'iso/friend');
    const victim = podOf(state, 'iso/victim');
    const node = state.plan.nodes[0]!.netns;
    expect(status().attached).toContain('default/attacker');
    expect(hooks(attacker.hostIf!)).toBe(2);

    // The CNI's host routes for the attacker's addresses go away; its veth stays.
    execFileSync('ip', ['-n', node, 'route', 'del', `${attacker.ips.v4}/32`]);
    execFileSync('ip', ['-n', node, '-6', 'route', 'del', `${attacker.ips.v6}/128`]);
    // The agent sees it (route events), and no longer finds the attacker's interface.
    await timeUntil(() => status().attached?.includes('default/attacker') === false, 10_000, 'the agent no longer finds the attacker');
    const generation = status().generation ?? 0;
    await timeUntil(() => (status().generation ?? 0) > generation, 10_000, 'one more reconcile');
    expect(hooks(attacker.hostIf!), 'hooks on the attacker interface').toBe(2);

    // The forged datagram (source: friend's address) and, in the same window,
    // the friend's own (the positive control: this datagram gets through).
    const got = receive(victim.netns, 2000);
    await new Promise((r) => setTimeout(r, 300)); // the receiver is bound
    send(attacker.netns, 'forged', friend.ips.v4, victim.ips.v4);
    send(friend.netns, 'owner', friend.ips.v4, victim.ips.v4);
    expect(await got).toEqual([`${friend.ips.v4} owner`]);
    // ...and the attacker's were stopped at its own hook.
    const flows = execFileSync(process.execPath, [path.join(process.cwd(), 'dist/cli/main.js'), 'flows', '--lab', LAB, '--verdict', 'dropped', '-o', 'json'], { encoding: 'utf8' });
    expect(flows).toMatch(/SPOOFED/);
  });
});
