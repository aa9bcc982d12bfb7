// Multus secondary interfaces enforced (issue 14; design section 2, last
// paragraphs): the CN2 example's pod4@eth1, vn1-pod@eth1 and vn2-pod@eth1 in
// a lab with an agent (lab `mtus`, one node; examples.test.ts checks the
// README's whole matrix on one and two nodes). From inside the pods:
//   - pod4 sends through eth1 with eth0's address (a raw frame to vn1-pod's
//     MAC on vn1's bridge): SPOOFED; the same frame from eth1's own address
//     arrives (positive control);
//   - a router joining vn1 and vn2 connects pod4@eth1 to vn2-pod@eth1, and
//     taking it away disconnects them again;
//   - removing the annotation, or the attachment from network-status, takes
//     the interface out of vn1 within a second (its hooks stay);
//   - an annotation that does not parse, or an attachment whose
//     NetworkAttachmentDefinition is gone, quarantines that interface only,
//     and the agent says why;
//   - on an L2 network whose bridge holds no address (the bridge plugin's
//     `isGateway: false`), the interfaces are found and enforced all the same.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VW_EP_QUARANTINE, decodeVrfPair } from '../src/kernel/abi.js';
import { native } from '../src/kernel/native.js';
import type { LabClusterFile } from '../src/lab/cluster-file.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { agentStatusFile, clusterFile } from '../src/lab/names.js';
import type { LabState } from '../src/lab/state.js';
import { ensureBuilt } from './helpers/build.js';
import { ROOT, podOf, readEndpoints, readPinnedMap, timeUntil } from './helpers/lab.js';
import { withNetns } from './helpers/netns.js';

const LAB = 'mtus';
const INSTANCE = `${LAB}-node1`;
const EXAMPLE = path.join(ROOT, 'examples/cn2-isolated-namespace');
const PORT = 9997; // nothing in the lab listens here
const MAGIC = 'vrfwall-multus-probe';

let state: LabState;
let dir: string;

/** vn3: an L2 network; its NAD says `"isGateway": false`, so the lab's bridge for it holds no address. */
const l2Pod = (name: string): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: default
  annotations:
    k8s.v1.cni.cncf.io/networks: vn3@eth1
spec:
  containers: [{name: c, image: x}]
`;
const L2_NETWORK = [
  `apiVersion: vrfwall.dev/v1alpha1
kind: VirtualNetwork
metadata: {name: vn3, namespace: default}
spec: {podNetwork: true, v4Subnet: 172.16.30.0/24}
`,
  `apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: vn3, namespace: default}
spec:
  config: '{"cniVersion": "1.0.0", "name": "vn3", "type": "bridge", "bridge": "vn3", "isGateway": false, "ipam": {"type": "whereabouts", "range": "172.16.30.0/24"}}'
`,
  l2Pod('l2-a'),
  l2Pod('l2-b'),
].join('---\n');

function attachment(pod: string, ifname = 'eth1'): { hostIf: string; v4: string; netns: string } {
  const p = podOf(state, pod);
  const a = p.attachments?.find((x) => x.interface === ifname);
  if (a === undefined || a.ips.v4 === undefined) throw new Error(`${pod} has no ${ifname} with an IPv4 address`);
  return { hostIf: a.hostIf, v4: a.ips.v4, netns: p.netns };
}

function status(): { attached?: string[]; quarantined?: Record<string, string>; generation?: number } {
  try {
    return JSON.parse(fs.readFileSync(agentStatusFile(INSTANCE), 'utf8')) as ReturnType<typeof status>;
  } catch {
    return {};
  }
}

/** Waits in a pod's netns for datagrams starting with MAGIC; resolves with the tags received. */
function receive(netns: string, ms: number): Promise<string[]> {
  const script = `import socket
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("0.0.0.0",${PORT})); s.settimeout(${ms / 1000})
seen=set()
try:
  while True:
    d,a=s.recvfrom(2048)
    if d.startswith(b"${MAGIC} "): seen.add(d.decode().split(" ")[1])
except socket.timeout: pass
print(",".join(sorted(seen)))`;
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', netns, 'python3', '-c', script], (err, out) => (err ? reject(err) : resolve(out.trim() === '' ? [] : out.trim().split(','))));
  });
}

/** Three datagrams "MAGIC <tag>" from a pod's netns, from one of its own addresses (the pod's routing picks the interface). */
function sendUdp(netns: string, tag: string, from: string, to: string): void {
  const script = `import socket,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(("${from}",0))
for i in range(3):
  s.sendto(b"${MAGIC} ${tag}",("${to}",${PORT})); time.sleep(0.05)`;
  execFileSync('ip', ['netns', 'exec', netns, 'python3', '-c', script], { stdio: 'pipe' });
}

/** Three raw Ethernet frames out of `dev` in a pod's netns: IPv4/UDP "MAGIC <tag>" from `src` to `dst` at `dstMac`. */
function sendFrame(netns: string, dev: string, dstMac: string, src: string, dst: string, tag: string): void {
  const script = `import socket,struct,time
def csum(b):
  s=sum(struct.unpack("!%dH"%(len(b)//2),b)); s=(s>>16)+(s&0xffff); s+=s>>16; return ~s&0xffff
body=b"${MAGIC} ${tag}"
udp=struct.pack("!HHHH",40000,${PORT},8+len(body),0)+body
ip=struct.pack("!BBHHHBBH4s4s",0x45,0,20+len(udp),0,0,64,17,0,socket.inet_aton("${src}"),socket.inet_aton("${dst}"))
ip=ip[:10]+struct.pack("!H",csum(ip))+ip[12:]
s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW); s.bind(("${dev}",0))
mac=bytes.fromhex("${dstMac.replace(/:/g, '')}")
src_mac=open("/sys/class/net/${dev}/address").read().strip()
eth=mac+bytes.fromhex(src_mac.replace(":",""))+b"\\x08\\x00"
for i in range(3):
  s.send(eth+ip+udp); time.sleep(0.05)`;
  execFileSync('ip', ['netns', 'exec', netns, 'python3', '-c', script], { stdio: 'pipe' });
}

function macOf(netns: string, dev: string): string {
  const [link] = JSON.parse(execFileSync('ip', ['-n', netns, '-j', 'link', 'show', 'dev', dev], { encoding: 'utf8' })) as { address: string }[];
  return link!.address;
}

/** Replaces a manifest file's text atomically, as an editor or ConfigMap update would. */
function rewrite(file: string, edit: (text: string) => string): void {
  const text = edit(fs.readFileSync(file, 'utf8'));
  fs.writeFileSync(`${file}.tmp`, text);
  fs.renameSync(`${file}.tmp`, file);
}

/** Our programs on a node-side interface's two hooks, read from the kernel. */
function hooks(hostIf: string): number {
  const bpf = native();
  return withNetns(state.plan.nodes[0]!.netns, () => {
    const i = bpf.ifNameToIndex(hostIf);
    return bpf.tcxQuery(i, 'ingress').length + bpf.tcxQuery(i, 'egress').length;
  });
}

/** Do `tag` datagrams from `from` (an address of the sender pod) reach `to`? Sent with a positive control from a peer that must reach `to`. */
async function reaches(sender: { netns: string; from: string }, receiver: { netns: string; to: string }, control: { netns: string; from: string }): Promise<boolean> {
  const got = receive(receiver.netns, 1500);
  await new Promise((r) => setTimeout(r, 300)); // the receiver is bound
  sendUdp(sender.netns, 'probe', sender.from, receiver.to);
  sendUdp(control.netns, 'control', control.from, receiver.to);
  const tags = await got;
  expect(tags, 'positive control').toContain('control');
  return tags.includes('probe');
}

describe('Multus secondary interfaces, enforced (lab mtus)', () => {
  beforeAll(async () => {
    ensureBuilt();
    await labDown(LAB);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-mtus-'));
    for (const f of fs.readdirSync(EXAMPLE)) if (f.endsWith('.yaml')) fs.copyFileSync(path.join(EXAMPLE, f), path.join(dir, f));
    fs.writeFileSync(path.join(dir, 'l2-network.yaml'), L2_NETWORK);
    state = await labUp(dir, { lab: LAB, nodes: 1, agent: true, log: () => undefined });
  }, 120_000);

  afterAll(async () => {
    await labDown(LAB);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("each interface is its own endpoint, in its own network, on its own node-side interface (read from the kernel's map)", async () => {
    const eps = readEndpoints(INSTANCE);
    const pod4 = podOf(state, 'default/pod4');
    const eth1 = attachment('default/pod4');
    const peer = attachment('default/vn1-pod');
    const other = attachment('default/vn2-pod');
    const e0 = eps.get(pod4.ips.v4)!;
    const e1 = eps.get(eth1.v4)!;
    expect(e0.vrfId).toBe(eps.get(podOf(state, 'non-isolated-namespace-demo/pod3').ips.v4)!.vrfId); // the default network
    expect(e1.vrfId).toBe(eps.get(peer.v4)!.vrfId); // vn1
    expect(e1.vrfId).not.toBe(e0.vrfId);
    expect(e1.vrfId).not.toBe(eps.get(other.v4)!.vrfId); // vn2
    const bpf = native();
    const ifindex = (dev: string): number => withNetns(state.plan.nodes[0]!.netns, () => bpf.ifNameToIndex(dev));
    expect(e0.ifindex).toBe(ifindex(pod4.hostIf!));
    expect(e1.ifindex).toBe(ifindex(eth1.hostIf));
    expect(status().attached).toEqual(expect.arrayContaining(['default/pod4', 'default/pod4@eth1', 'default/vn1-pod@eth1', 'default/vn2-pod@eth1']));
    expect(hooks(eth1.hostIf)).toBe(2);
  });

  it("pod4 sending through eth1 from eth0's address is SPOOFED; from eth1's own address the same frame arrives", async () => {
    const pod4 = podOf(state, 'default/pod4');
    const peer = attachment('default/vn1-pod');
    const eth1 = attachment('default/pod4');
    const mac = macOf(peer.netns, 'eth1');
    const got = receive(peer.netns, 1500);
    await new Promise((r) => setTimeout(r, 300));
    sendFrame(pod4.netns, 'eth1', mac, pod4.ips.v4, peer.v4, 'spoofed');
    sendFrame(pod4.netns, 'eth1', mac, eth1.v4, peer.v4, 'own');
    expect(await got).toEqual(['own']);
    const flows = execFileSync(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'flows', '--lab', LAB, '--verdict', 'dropped', '-o', 'json'], { encoding: 'utf8' });
    const spoofed = flows.split('\n').filter((l) => l.includes('SPOOFED') && l.includes(pod4.ips.v4) && l.includes(peer.v4));
    expect(spoofed.length).toBeGreaterThan(0);
  });

  it('a router joining vn1 and vn2 connects pod4@eth1 to vn2-pod@eth1, and only while it exists', async () => {
    const eth1 = attachment('default/pod4');
    const vn2 = attachment('default/vn2-pod');
    const vn1 = attachment('default/vn1-pod');
    const from = { netns: eth1.netns, from: eth1.v4 };
    const to = { netns: vn2.netns, to: vn2.v4 };
    expect(routed(eth1.v4, vn2.v4)).toBe(false);
    const nets = path.join(dir, 'virtual-networks.yaml');
    const original = fs.readFileSync(nets, 'utf8');
    try {
      rewrite(nets, (t) =>
        t.replace(/name: vn1\n  namespace: default\nspec:/, 'name: vn1\n  namespace: default\n  labels: {join: vn12}\nspec:')
          .replace(/name: vn2\n  namespace: default\nspec:/, 'name: vn2\n  namespace: default\n  labels: {join: vn12}\nspec:') +
          '---\napiVersion: vrfwall.dev/v1alpha1\nkind: VirtualNetworkRouter\nmetadata: {name: vn12, namespace: default}\nspec:\n  type: mesh\n  virtualNetworkSelector: {matchLabels: {join: vn12}}\n',
      );
      await timeUntil(() => routed(eth1.v4, vn2.v4), 5000, 'the router in the maps');
      // vn1-pod@eth1, in vn1 too, is the control: it reaches vn2-pod@eth1 through the router as well.
      expect(await reaches(from, to, { netns: vn1.netns, from: vn1.v4 })).toBe(true);
    } finally {
      rewrite(nets, () => original);
    }
    await timeUntil(() => !routed(eth1.v4, vn2.v4), 5000, 'the router gone from the maps');
    // Without it pod4@eth1 no longer reaches vn2-pod@eth1; the control, in the same window: the same
    // sender still reaches its own network.
    const got = receive(vn2.netns, 1500);
    const ctl = receive(vn1.netns, 1500);
    await new Promise((r) => setTimeout(r, 300));
    sendUdp(eth1.netns, 'probe', eth1.v4, vn2.v4);
    sendUdp(eth1.netns, 'control', eth1.v4, vn1.v4);
    expect(await ctl).toEqual(['control']);
    expect(await got).toEqual([]);
  });

  it('removing the annotation, or the attachment from network-status, takes the interface out of vn1 within a second; its hooks stay', async () => {
    const eth1 = attachment('default/pod4');
    const vn1 = attachment('default/vn1-pod');
    const vrfOf = (ip: string): number | undefined => readEndpoints(INSTANCE).get(ip)?.vrfId;
    const inVn1 = (): boolean => vrfOf(eth1.v4) === vrfOf(vn1.v4);
    expect(inVn1()).toBe(true);
    const file = path.join(dir, 'default-pod4.yaml');
    const original = fs.readFileSync(file, 'utf8');
    try {
      rewrite(file, (t) => t.replace(/  annotations:\n    k8s\.v1\.cni\.cncf\.io\/networks: vn1@eth1\n/, ''));
      const ms = await timeUntil(() => !inVn1(), 1000, 'pod4@eth1 out of vn1');
      expect(ms).toBeLessThan(1000);
      expect(hooks(eth1.hostIf)).toBe(2);
      expect(await reaches({ netns: eth1.netns, from: eth1.v4 }, { netns: vn1.netns, to: vn1.v4 }, { netns: vn1.netns, from: vn1.v4 })).toBe(false);
    } finally {
      rewrite(file, () => original);
    }
    await timeUntil(inVn1, 5000, 'pod4@eth1 back in vn1');

    // The attachment removed from network-status (the lab's cluster file stands in for what Multus writes).
    const cf = clusterFile(LAB);
    const before = fs.readFileSync(cf, 'utf8');
    const lab = JSON.parse(before) as LabClusterFile;
    const entry = lab.pods['default/pod4']!;
    entry.networkStatus = entry.networkStatus?.filter((s) => s.interface !== 'eth1');
    try {
      rewrite(cf, () => JSON.stringify(lab));
      const ms = await timeUntil(() => vrfOf(eth1.v4) === undefined, 1000, "pod4@eth1's endpoint gone");
      expect(ms).toBeLessThan(1000);
      expect(hooks(eth1.hostIf)).toBe(2); // still enforced: it sends nothing, receives nothing
    } finally {
      rewrite(cf, () => before);
    }
    await timeUntil(inVn1, 5000, 'pod4@eth1 back in vn1');
  });

  it('an annotation that does not parse, or a NetworkAttachmentDefinition that is gone, quarantines that interface only and says why', async () => {
    const pod4 = podOf(state, 'default/pod4');
    const eth1 = attachment('default/pod4');
    const eps = (): ReturnType<typeof readEndpoints> => readEndpoints(INSTANCE);
    const quarantined = (ip: string): boolean => ((eps().get(ip)?.flags ?? 0) & VW_EP_QUARANTINE) !== 0;
    const file = path.join(dir, 'default-pod4.yaml');
    const original = fs.readFileSync(file, 'utf8');
    try {
      rewrite(file, (t) => t.replace('k8s.v1.cni.cncf.io/networks: vn1@eth1', "k8s.v1.cni.cncf.io/networks: 'vn1@eth1,'"));
      await timeUntil(() => quarantined(eth1.v4), 3000, 'pod4@eth1 quarantined');
      // (The status file is written after the maps.)
      await timeUntil(() => status().quarantined?.['default/pod4@eth1'] !== undefined, 3000, 'the status file says so');
      expect(quarantined(pod4.ips.v4)).toBe(false);
      expect(status().quarantined?.['default/pod4@eth1']).toMatch(/k8s\.v1\.cni\.cncf\.io\/networks/);
      expect(status().quarantined?.['default/pod4']).toBeUndefined();
      // The metric says the same (the agent's metrics port in the node's namespace).
      const metrics = execFileSync('ip', ['netns', 'exec', state.plan.nodes[0]!.netns, 'curl', '-sf', 'http://127.0.0.1:9477/metrics'], { encoding: 'utf8' });
      expect(metrics).toMatch(/^vrfwall_quarantined\{pod="default\/pod4",interface="eth1"\} 1$/m);
      expect(metrics).not.toMatch(/^vrfwall_quarantined\{pod="default\/pod4",interface=""\}/m);
      // And explain, for the interface: dropped, and why.
      const why = spawnSync(process.execPath, [path.join(ROOT, 'dist/cli/main.js'), 'explain', '--lab', LAB, 'default/pod4@eth1', 'default/vn1-pod@eth1', '--port', '8080'], { encoding: 'utf8' });
      expect(why.status, why.stderr).toBe(3); // explain's status for a drop
      expect(why.stdout).toMatch(/DROPPED \(QUARANTINED\)/);
      expect(why.stdout).toMatch(/default\/pod4@eth1 is quarantined: interface eth1 .*k8s\.v1\.cni\.cncf\.io\/networks does not parse/);
    } finally {
      rewrite(file, () => original);
    }
    await timeUntil(() => !quarantined(eth1.v4), 5000, 'pod4@eth1 placed again');

    const nets = path.join(dir, 'virtual-networks.yaml');
    const netsText = fs.readFileSync(nets, 'utf8');
    try {
      // Without vn1's NetworkAttachmentDefinition.
      rewrite(nets, (t) => t.split('\n---\n').filter((d) => !(d.includes('kind: NetworkAttachmentDefinition') && d.includes('name: vn1\n'))).join('\n---\n'));
      await timeUntil(() => quarantined(eth1.v4), 3000, 'pod4@eth1 quarantined');
      await timeUntil(() => /NetworkAttachmentDefinition default\/vn1 does not exist/.test(status().quarantined?.['default/pod4@eth1'] ?? ''), 3000, 'the status file says so');
      expect(quarantined(attachment('default/vn1-pod').v4)).toBe(true);
      expect(quarantined(attachment('default/vn2-pod').v4)).toBe(false);
      expect(quarantined(pod4.ips.v4)).toBe(false);
      expect(status().quarantined?.['default/pod4@eth1']).toMatch(/NetworkAttachmentDefinition default\/vn1/);
    } finally {
      rewrite(nets, () => netsText);
    }
    await timeUntil(() => !quarantined(eth1.v4), 5000, 'pod4@eth1 placed again');
  });

  it('on a bridge that holds no address (isGateway: false) each interface is found and enforced: SPOOFED through it, its own address passes', async () => {
    const a = attachment('default/l2-a');
    const b = attachment('default/l2-b');
    const node = state.plan.nodes[0]!.netns;
    const bridge = JSON.parse(execFileSync('ip', ['-n', node, '-j', 'link', 'show', 'dev', a.hostIf], { encoding: 'utf8' }))[0].master as string;
    // the scenario is real: the bridge has no address but its link-local one
    const addrs = (JSON.parse(execFileSync('ip', ['-n', node, '-j', 'addr', 'show', 'dev', bridge], { encoding: 'utf8' }))[0].addr_info as { local: string }[]).map((x) => x.local);
    expect(addrs.filter((x) => !x.startsWith('fe80:'))).toEqual([]);
    await timeUntil(() => ['default/l2-a@eth1', 'default/l2-b@eth1'].every((k) => status().attached?.includes(k) === true), 10_000, 'both L2 interfaces attached');
    expect((status() as { unenforced?: string[] }).unenforced ?? []).toEqual([]);
    const eps = readEndpoints(INSTANCE);
    const bpf = native();
    const ifindex = (dev: string): number => withNetns(node, () => bpf.ifNameToIndex(dev));
    expect(eps.get(a.v4)?.ifindex).toBe(ifindex(a.hostIf));
    expect(eps.get(b.v4)?.ifindex).toBe(ifindex(b.hostIf));
    expect(eps.get(a.v4)?.vrfId).toBe(eps.get(b.v4)?.vrfId);
    expect(hooks(a.hostIf)).toBe(2);
    // l2-a sends through eth1 from its eth0 address: dropped; from eth1's own address: arrives
    const mac = macOf(b.netns, 'eth1');
    const got = receive(b.netns, 1500);
    await new Promise((r) => setTimeout(r, 300));
    sendFrame(a.netns, 'eth1', mac, podOf(state, 'default/l2-a').ips.v4, b.v4, 'spoofed');
    sendFrame(a.netns, 'eth1', mac, a.v4, b.v4, 'own');
    expect(await got).toEqual(['own']);
  });

  // Last: it takes vn2-pod's eth1 away.
  it('a secondary interface the agent cannot find on its node is reported as not enforced (status.json unenforced)', async () => {
    const vn2 = attachment('default/vn2-pod');
    await timeUntil(() => status().attached?.includes('default/vn2-pod@eth1') === true, 5000, 'vn2-pod@eth1 attached');
    expect((status() as { unenforced?: string[] }).unenforced ?? []).toEqual([]); // the control: everything found
    // The node-side veth goes (and with it the pod's eth1), while network-status still reports the interface.
    execFileSync('ip', ['-n', state.plan.nodes[0]!.netns, 'link', 'del', vn2.hostIf]);
    await timeUntil(() => ((status() as { unenforced?: string[] }).unenforced ?? []).includes('default/vn2-pod@eth1'), 10_000, 'reported as not enforced');
    expect(status().attached).not.toContain('default/vn2-pod@eth1');
  });
});

/** Whether the agent's vrf_pairs map, read from the kernel, pairs the networks of two addresses. */
function routed(a: string, b: string): boolean {
  const eps = readEndpoints(INSTANCE);
  const va = eps.get(a)?.vrfId;
  const vb = eps.get(b)?.vrfId;
  if (va === undefined || vb === undefined) return false;
  return readPinnedMap(INSTANCE, 'vrf_pairs').some((e) => {
    const p = decodeVrfPair(e.key);
    return p.srcVrf === va && p.dstVrf === vb;
  });
}
