// Layer 2 on a bridge CNI (issue 11 point 6; design section 3, fail closed):
// pods of one node share a Linux bridge (`lab --cni bridge`, like flannel or
// the bridge plugin), so a pod's frames reach the bridge's forwarding
// database and its neighbours' neighbour caches and routing tables. An
// attacker pod sends crafted frames (scapy, test/helpers/l2frames.py) from
// inside its own network namespace:
//   1. frames with the victim's source MAC (the bridge would move the
//      victim's MAC to the attacker's port: the victim is cut off);
//   2. unsolicited neighbour advertisements claiming the node's link-local
//      address and another pod's address (the neighbours' IPv6 would go to
//      the attacker);
//   3. router advertisements (default route and SLAAC address in every pod),
//      also from a bridge port that is no pod (only the receivers' to_pod
//      sees those);
//   4. from such a port, frames with a pod's MAC (the agent must not move
//      the pod there).
// Each check has its positive control in the same test: the victim's own
// traffic, an honest advertisement from the same attacker, the node's own RA.
// Also: the agent's ports map holds every pod's MAC, and explain sends with it.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { AgentClient, socketOf } from '../src/api/client.js';
import type { ExplainResponse } from '../src/api/messages.js';
import { Direction, DropReason, Verdict, decodePort, decodePortKey } from '../src/kernel/abi.js';
import { NODE_LINK_LOCAL } from '../src/lab/ipam.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { PIN_ROOT, agentStatusFile } from '../src/lab/names.js';
import type { LabState } from '../src/lab/state.js';
import { POD_BRIDGE } from '../src/lab/wiring-bridge.js';
import { ROOT, podOf, readCounters, readEndpoints, readPinnedMap, timeUntil } from './helpers/lab.js';

const LAB = 'l2sec';
const INSTANCE = `${LAB}-node1`;
const FRAMES = path.join(ROOT, 'test/helpers/l2frames.py');
const ROGUE_NS = `vrfwall-${LAB}-rogue`; // the lab's prefix: lab down removes it
const ROGUE_IF = 'vwl2rogue';
/** An address of the node outside the pod subnet: pods reach it through their IPv6 default route (via fe80::1). */
const BEYOND_GATEWAY = '2001:db8:ffff::1';

const POD = (name: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: default
spec:
  nodeName: node1
  containers: [{name: c, image: x, ports: [{containerPort: 8080, protocol: TCP}, {containerPort: 8080, protocol: UDP}]}]
`;

let state: LabState;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), `vrfwall-${LAB}-`));
const pod = (name: string) => podOf(state, `default/${name}`);
const nodeNetns = () => state.plan.nodes[0]!.netns;

function ipIn(netns: string, args: string[]): string {
  return execFileSync('ip', ['-n', netns, ...args], { encoding: 'utf8' });
}

function macOf(netns: string, dev = 'eth0'): string {
  const [link] = JSON.parse(ipIn(netns, ['-j', 'link', 'show', 'dev', dev])) as { address: string }[];
  return link!.address.toLowerCase();
}

/** The kernel's link-local address of a pod's interface (EUI-64, from its MAC). */
function linkLocalOf(netns: string, dev = 'eth0'): string {
  const mac = macOf(netns, dev).split(':').map((h) => parseInt(h, 16));
  const want = eui64LinkLocal(mac);
  const [link] = JSON.parse(ipIn(netns, ['-j', '-6', 'addr', 'show', 'dev', dev, 'scope', 'link'])) as {
    addr_info: { local?: string }[];
  }[];
  const ll = link?.addr_info.find((a) => a.local === want)?.local;
  if (ll === undefined) throw new Error(`${netns}: ${dev} has no link-local address ${want}`);
  return ll;
}

function eui64LinkLocal(mac: number[]): string {
  const b = [mac[0]! ^ 0x02, mac[1]!, mac[2]!, 0xff, 0xfe, mac[3]!, mac[4]!, mac[5]!];
  return new ipaddr.IPv6([0xfe, 0x80, 0, 0, 0, 0, 0, 0, ...b]).toString();
}

/** Bridge ports the node's FDB puts a MAC behind (learned entries). */
function fdbPorts(mac: string): string[] {
  const fdb = JSON.parse(execFileSync('bridge', ['-n', nodeNetns(), '-j', 'fdb', 'show', 'br', POD_BRIDGE], { encoding: 'utf8' })) as {
    mac: string;
    ifname: string;
    state?: string;
    flags?: string[];
  }[];
  return fdb.filter((e) => e.mac.toLowerCase() === mac && e.state !== 'permanent' && !(e.flags ?? []).includes('self')).map((e) => e.ifname);
}

/** The MAC a pod's neighbour cache holds for an address. */
function neighMac(netns: string, addr: string): string | undefined {
  const [n] = JSON.parse(ipIn(netns, ['-j', 'neigh', 'show', addr, 'dev', 'eth0'])) as { lladdr?: string }[];
  return n?.lladdr?.toLowerCase();
}

/** A counter of the pod's IPv6 stack (/proc/net/snmp6 of its namespace). */
function snmp6(netns: string, name: string): number {
  const text = execFileSync('ip', ['netns', 'exec', netns, 'cat', '/proc/net/snmp6'], { encoding: 'utf8' });
  const m = new RegExp(`^${name}\\s+(\\d+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in /proc/net/snmp6`);
  return Number(m[1]);
}

function v6Addrs(netns: string): string[] {
  const links = JSON.parse(ipIn(netns, ['-j', '-6', 'addr', 'show', 'dev', 'eth0'])) as { addr_info: { local?: string }[] }[];
  return links.flatMap((l) => l.addr_info.flatMap((a) => (a.local !== undefined ? [a.local] : [])));
}

/** Gateways of the pod's IPv6 default routes. */
function v6DefaultGateways(netns: string): string[] {
  const routes = JSON.parse(ipIn(netns, ['-j', '-6', 'route', 'show', 'default'])) as {
    gateway?: string;
    nexthops?: { gateway: string }[];
  }[];
  return routes.flatMap((r) => (r.nexthops ? r.nexthops.map((n) => n.gateway) : r.gateway ? [r.gateway] : []));
}

/** How many of `count` pings from a namespace were answered. */
function pings(netns: string, target: string, count: number): Promise<number> {
  const args = ['netns', 'exec', netns, 'ping', '-q', '-n', '-c', String(count), '-i', '0.2', '-W', '1', target];
  return new Promise((resolve, reject) => {
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const m = /(\d+) received/.exec(out);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`ping ${target} from ${netns}: ${out}`));
    });
  });
}

/** Runs l2frames.py in a namespace; `started` resolves once its socket is open. */
function frames(netns: string, args: string[]): { started: Promise<void>; done: Promise<string> } {
  const child = spawn('ip', ['netns', 'exec', netns, '/usr/bin/python3', FRAMES, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onStart: () => void = () => undefined;
  const started = new Promise<void>((r) => (onStart = r));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('sending')) onStart();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<string>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`l2frames.py ${args.join(' ')}: exit ${code}: ${err}`))));
  });
  return { started: Promise.race([started, done.then(() => undefined)]), done };
}

function counter(direction: number, verdict: number, code: number): bigint {
  return readCounters(INSTANCE)
    .filter((c) => c.direction === direction && c.verdict === verdict && c.code === code)
    .reduce((n, c) => n + c.packets, 0n);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port of the node's bridge that is no pod (nothing of vrfwall on its
 *  ingress; a pod whose hooks are not attached yet looks the same), its
 *  other end eth0 in ROGUE_NS, for the length of fn. */
async function withRoguePort<T>(fn: () => Promise<T>, mac?: string): Promise<T> {
  const node = nodeNetns();
  execFileSync('ip', ['netns', 'add', ROGUE_NS]);
  try {
    ipIn(node, ['link', 'add', ROGUE_IF, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ROGUE_NS]);
    if (mac !== undefined) ipIn(node, ['link', 'set', ROGUE_IF, 'address', mac]);
    ipIn(node, ['link', 'set', ROGUE_IF, 'master', POD_BRIDGE]);
    ipIn(node, ['link', 'set', ROGUE_IF, 'up']);
    ipIn(ROGUE_NS, ['link', 'set', 'eth0', 'up']);
    return await fn();
  } finally {
    execFileSync('ip', ['netns', 'del', ROGUE_NS]);
  }
}

function generation(): number {
  return (JSON.parse(fs.readFileSync(agentStatusFile(INSTANCE), 'utf8')) as { generation: number }).generation;
}

/** A link event makes the agent reconcile (discovery reads the FDB afresh); resolves after it did. */
async function reconcileNow(): Promise<void> {
  const gen = generation();
  ipIn(nodeNetns(), ['link', 'add', 'vwl2x', 'type', 'veth', 'peer', 'name', 'vwl2y']);
  ipIn(nodeNetns(), ['link', 'del', 'vwl2x']);
  await timeUntil(() => generation() > gen, 3000, 'reconcile');
}

beforeAll(async () => {
  fs.writeFileSync(path.join(dir, 'pods.yaml'), ['attacker', 'victim', 'bystander'].map(POD).join('---\n'));
  await labDown(LAB); // leftovers of a killed run
  state = await labUp(dir, { lab: LAB, nodes: 1, cni: 'bridge', log: () => undefined });
  ipIn(nodeNetns(), ['addr', 'add', `${BEYOND_GATEWAY}/128`, 'dev', 'lo']);
  // Pods' link-local addresses come out of DAD (~1 s after lab up).
  for (const name of ['attacker', 'victim', 'bystander']) {
    await timeUntil(() => !ipIn(pod(name).netns, ['-6', 'addr', 'show', 'dev', 'eth0', 'tentative']).includes('fe80'), 5000, `${name}'s link-local address`);
  }
});

afterAll(async () => {
  await labDown(LAB);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('--cni bridge: layer 2 from a pod', () => {
  it("the agent holds each local pod's MAC for its bridge port, and explain sends from it", async () => {
    const ports = new Map(readPinnedMap(INSTANCE, 'ports').map((e) => [decodePortKey(e.key), decodePort(e.value).mac]));
    const local = state.plan.pods.filter((p) => p.hostIf !== undefined);
    const want = new Map(local.map((p) => [Number(ipIn(nodeNetns(), ['-j', 'link', 'show', 'dev', p.hostIf!]).match(/"ifindex":(\d+)/)?.[1]), macOf(p.netns)]));
    expect(ports).toEqual(want);

    // explain runs from_pod with the pod's MAC: same network allowed, not SPOOFED
    const agent = state.agents[0]!;
    const c = new AgentClient({ label: agent.node, address: `unix:${socketOf(agent.instance)}`, creds: grpc.credentials.createInsecure() });
    try {
      const r = await c.unary<ExplainResponse>('state', 'Explain', { source: 'default/attacker', destination: 'default/victim', protocol: 'udp', port: 8080, family: 'ipv6' });
      expect(r).toMatchObject({ verdict: 'VERDICT_ALLOWED', reason: 'SAME_NETWORK' });
      expect(r.steps.map((st) => `${st.hook} ${st.verdict}`)).toEqual(['from_pod VERDICT_ALLOWED', 'to_pod VERDICT_ALLOWED']);
    } finally {
      c.close();
    }
  });

  it("frames with another pod's source MAC do not take its bridge port: the victim keeps its traffic", async () => {
    const attacker = pod('attacker');
    const victim = pod('victim');
    const bystander = pod('bystander');
    const victimMac = macOf(victim.netns);
    // Positive control: the victim is reached, its MAC is behind its own port.
    expect(await pings(bystander.netns, victim.ips.v4, 3)).toBe(3);
    expect(fdbPorts(victimMac)).toEqual([victim.hostIf]);
    const spoofed = counter(Direction.FROM_POD, Verdict.DROPPED, DropReason.SPOOFED);

    // Every 5 ms for 5 s: ARP about the attacker's own address, in frames sourced from the victim's MAC.
    const flood = frames(attacker.netns, ['mac-flood', 'eth0', victimMac, attacker.ips.v4, state.plan.nodes[0]!.gateway.v4, '5']);
    await flood.started;
    await sleep(300);
    const seen = new Set<string>();
    const sample = setInterval(() => fdbPorts(victimMac).forEach((p) => seen.add(p)), 100);
    let received: number;
    try {
      received = await pings(bystander.netns, victim.ips.v4, 10);
    } finally {
      clearInterval(sample);
    }
    fdbPorts(victimMac).forEach((p) => seen.add(p));
    await flood.done;

    expect([...seen], `ports the bridge put ${victimMac} behind during the flood`).toEqual([victim.hostIf]);
    expect(received, 'pings answered by the victim during the flood').toBe(10);
    expect(await pings(bystander.netns, victim.ips.v4, 3)).toBe(3);
    expect(counter(Direction.FROM_POD, Verdict.DROPPED, DropReason.SPOOFED) - spoofed).toBeGreaterThan(100n);
  });

  it("neighbour advertisements about the node's or another pod's address do not redirect a pod's IPv6", async () => {
    const attacker = pod('attacker');
    const victim = pod('victim');
    const bystander = pod('bystander');
    const nodeMac = macOf(nodeNetns(), POD_BRIDGE);
    const attackerMac = macOf(attacker.netns);
    const attackerLL = linkLocalOf(attacker.netns);
    // The victim talks through its IPv6 gateway (the node's link-local
    // address), to the bystander and to the attacker.
    expect(await pings(victim.netns, BEYOND_GATEWAY, 2)).toBe(2);
    expect(await pings(victim.netns, bystander.ips.v6, 2)).toBe(2);
    expect(await pings(victim.netns, attacker.ips.v6, 2)).toBe(2);
    expect(neighMac(victim.netns, NODE_LINK_LOCAL)).toBe(nodeMac);
    expect(neighMac(victim.netns, bystander.ips.v6)).toBe(macOf(bystander.netns));
    const nds = counter(Direction.FROM_POD, Verdict.DROPPED, DropReason.ND_DENIED);
    const received = snmp6(victim.netns, 'Icmp6InNeighborAdvertisements');

    // Two lies (override flag, the attacker's MAC as target link-layer
    // address), then an honest advertisement about its own address.
    await frames(attacker.netns, [
      'na', 'eth0',
      NODE_LINK_LOCAL, NODE_LINK_LOCAL, attackerMac, // "fe80::1 is at my MAC", from fe80::1
      attackerLL, bystander.ips.v6, attackerMac, // "the bystander is at my MAC"
      attackerLL, attacker.ips.v6, attackerMac, // true
    ]).done;
    // The honest one (sent last) arrives; the lies changed nothing.
    await timeUntil(() => snmp6(victim.netns, 'Icmp6InNeighborAdvertisements') >= received + 2, 3000, 'the honest advertisement reached the victim');
    await sleep(100);
    expect(neighMac(victim.netns, NODE_LINK_LOCAL), "the victim's neighbour entry for the node").toBe(nodeMac);
    expect(neighMac(victim.netns, bystander.ips.v6), "the victim's neighbour entry for the bystander").toBe(macOf(bystander.netns));
    expect(await pings(victim.netns, BEYOND_GATEWAY, 2)).toBe(2);
    expect(await pings(victim.netns, bystander.ips.v6, 2)).toBe(2);
    expect(counter(Direction.FROM_POD, Verdict.DROPPED, DropReason.ND_DENIED) - nds).toBeGreaterThanOrEqual(4n);
  });

  it("router advertisements from a pod, or from any bridge port but the node's, reach no pod; the node's do", async () => {
    const attacker = pod('attacker');
    const receivers = [pod('victim'), pod('bystander')];
    const node = nodeNetns();
    // The node's own link-local address on the bridge (the kernel's), as radvd would use.
    const [bridge] = JSON.parse(ipIn(node, ['-j', '-6', 'addr', 'show', 'dev', POD_BRIDGE, 'scope', 'link'])) as { addr_info: { local?: string }[] }[];
    const nodeLL = bridge?.addr_info.map((a) => a.local).find((a) => a !== undefined && a !== NODE_LINK_LOCAL);
    if (nodeLL === undefined) throw new Error(`${POD_BRIDGE} has no link-local address of its own`);
    const fromPod = counter(Direction.FROM_POD, Verdict.DROPPED, DropReason.ND_DENIED);
    const toPod = counter(Direction.TO_POD, Verdict.DROPPED, DropReason.ND_DENIED);

    // A pod's RA from its own link-local address, and one posing as the node's fe80::1.
    await frames(attacker.netns, ['ra', 'eth0', linkLocalOf(attacker.netns), '2001:db8:bad:1::', '600']).done;
    await frames(attacker.netns, ['ra', 'eth0', NODE_LINK_LOCAL, '2001:db8:bad:2::', '0']).done;
    // A bridge port that is no pod (a pod whose hooks are not attached yet
    // looks the same): nothing of vrfwall runs on its ingress, only on the
    // receivers' to_pod.
    await withRoguePort(() => frames(ROGUE_NS, ['ra', 'eth0', 'fe80::bad', '2001:db8:bad:3::', '600']).done);
    // Then the node's own RA (positive control): it arrives, after the others.
    await frames(node, ['ra', POD_BRIDGE, nodeLL, '2001:db8:900d::', '600']).done;
    for (const p of receivers) {
      await timeUntil(() => v6Addrs(p.netns).some((a) => a.startsWith('2001:db8:900d:')), 3000, `${p.key} configured the node's prefix`);
      await timeUntil(() => v6DefaultGateways(p.netns).includes(nodeLL), 3000, `${p.key} took the node as default router`);
    }
    await sleep(100);
    for (const p of receivers) {
      expect(v6Addrs(p.netns).filter((a) => a.startsWith('2001:db8:bad:')), `SLAAC addresses in ${p.key}`).toEqual([]);
      expect(v6DefaultGateways(p.netns).filter((g) => g !== NODE_LINK_LOCAL && g !== nodeLL), `default routers of ${p.key}`).toEqual([]);
    }
    expect(counter(Direction.FROM_POD, Verdict.DROPPED, DropReason.ND_DENIED) - fromPod).toBeGreaterThanOrEqual(4n);
    expect(counter(Direction.TO_POD, Verdict.DROPPED, DropReason.ND_DENIED) - toPod).toBeGreaterThanOrEqual(2n * BigInt(receivers.length));
  });
  it("MLD queries from a pod, posing as the node or as itself, reach no pod; the node's do", async () => {
    const attacker = pod('attacker');
    const receivers = [pod('victim'), pod('bystander')];
    const node = nodeNetns();
    const [bridge] = JSON.parse(ipIn(node, ['-j', '-6', 'addr', 'show', 'dev', POD_BRIDGE, 'scope', 'link'])) as { addr_info: { local?: string }[] }[];
    const nodeLL = bridge?.addr_info.map((a) => a.local).find((a) => a !== undefined && a !== NODE_LINK_LOCAL);
    if (nodeLL === undefined) throw new Error(`${POD_BRIDGE} has no link-local address of its own`);
    const queries = () => receivers.map((p) => snmp6(p.netns, 'Icmp6InGroupMembQueries'));
    const fromPod = counter(Direction.FROM_POD, Verdict.DROPPED, DropReason.ND_DENIED);

    // Positive control: the node's query arrives at every pod.
    const before = queries();
    await frames(node, ['mld-query', POD_BRIDGE, nodeLL]).done;
    await timeUntil(() => queries().every((n, i) => n > before[i]!), 3000, "the node's MLD query reached the pods");
    // The attacker's, posing as the node's fe80::1 and from its own link-local address: none arrives.
    const after = queries();
    const perQuery = after.map((n, i) => n - before[i]!); // what one query of the node's counts at each pod
    await frames(attacker.netns, ['mld-query', 'eth0', NODE_LINK_LOCAL]).done;
    await frames(attacker.netns, ['mld-query', 'eth0', linkLocalOf(attacker.netns)]).done;
    // Known, not waited for: the attacker's hook judged its queries (dropped, counted) ...
    await timeUntil(() => counter(Direction.FROM_POD, Verdict.DROPPED, DropReason.ND_DENIED) - fromPod >= 4n, 3000, "the attacker's queries were judged");
    // ... and a query of the node's sent after them (positive control) is the only one that arrives.
    await frames(node, ['mld-query', POD_BRIDGE, nodeLL]).done;
    await timeUntil(() => queries().every((n, i) => n >= after[i]! + perQuery[i]!), 3000, "the node's second MLD query reached the pods");
    expect(queries(), 'MLD queries received by victim and bystander').toEqual(after.map((n, i) => n + perQuery[i]!));
  });

  it("a port with a lower MAC joining the bridge (its neighbours flushed) neither detaches a pod's hooks nor moves it", async () => {
    // A bridge whose address was not set takes the lowest MAC of its ports;
    // when it changes, the kernel flushes the bridge's neighbour entries, and
    // for a moment the agent's discovery finds no pod behind it. A new port
    // (a new pod, or anything plugged in) can do that at will.
    const all = ['attacker', 'victim', 'bystander'].map(pod);
    const node = nodeNetns();
    const ifindexOf = (dev: string): number => Number((JSON.parse(ipIn(node, ['-j', 'link', 'show', 'dev', dev])) as { ifindex: number }[])[0]!.ifindex);
    const hooked = all.map((p) => ({ key: p.key, ifindex: ifindexOf(p.hostIf!) }));
    const ours = (h: (typeof hooked)[number]): boolean =>
      (['ingress', 'egress'] as const).every((d) => fs.existsSync(path.join(PIN_ROOT, INSTANCE, 'links', `${h.ifindex}-${d}`)));
    const bridgeMac = (): string => macOf(node, POD_BRIDGE);
    const endpoints = readEndpoints(INSTANCE);
    expect(hooked.every(ours), 'every pod has both hooks pinned before').toBe(true);
    const macBefore = bridgeMac();
    const gen = generation();
    const missing: string[] = [];
    const low = '02:00:00:00:00:01';
    await withRoguePort(async () => {
      expect(bridgeMac(), 'the bridge took the new port\'s lower MAC (its neighbours flushed)').toBe(low);
      // Its router advertisement, sent at once: no pod may take it.
      const ra = frames(ROGUE_NS, ['ra', 'eth0', 'fe80::bad', '2001:db8:bad:4::', '600']);
      const t0 = performance.now();
      // Until the agent has reconciled twice after the change (it sees the
      // neighbour events, asks for its managed entries again, sees them resolve).
      while (performance.now() - t0 < 3000 && !(generation() >= gen + 2 && performance.now() - t0 > 1000)) {
        for (const h of hooked) if (!ours(h)) missing.push(`${h.key} at ${(performance.now() - t0).toFixed(0)} ms`);
        await sleep(2);
      }
      await ra.done;
    }, low);
    expect(macBefore).not.toBe(low);
    expect(generation(), 'the agent reconciled after the change').toBeGreaterThan(gen);
    expect(missing, 'pods whose hooks were gone').toEqual([]);
    expect(readEndpoints(INSTANCE), 'endpoints after the change').toEqual(endpoints);
    // The node's RA, after the rogue's (positive control: the pods do take RAs).
    const [bridge] = JSON.parse(ipIn(node, ['-j', '-6', 'addr', 'show', 'dev', POD_BRIDGE, 'scope', 'link'])) as { addr_info: { local?: string }[] }[];
    const nodeLL = bridge?.addr_info.map((a) => a.local).find((a) => a !== undefined && a !== NODE_LINK_LOCAL);
    if (nodeLL === undefined) throw new Error(`${POD_BRIDGE} has no link-local address of its own`);
    await frames(node, ['ra', POD_BRIDGE, nodeLL, '2001:db8:900e::', '600']).done;
    for (const p of all) {
      await timeUntil(() => v6Addrs(p.netns).some((a) => a.startsWith('2001:db8:900e:')), 3000, `${p.key} configured the node's prefix`);
    }
    for (const p of all) expect(v6Addrs(p.netns).filter((a) => a.startsWith('2001:db8:bad:4:')), `SLAAC addresses in ${p.key}`).toEqual([]);
    expect(await pings(pod('victim').netns, pod('bystander').ips.v4, 2)).toBe(2);
  });

  it("a bridge port that is no pod, sending with a pod's MAC, does not move that pod in the agent", async () => {
    const victim = pod('victim');
    const bystander = pod('bystander');
    const victimMac = macOf(victim.netns);
    const endpoints = readEndpoints(INSTANCE);
    expect(endpoints.get(victim.ips.v4)?.ifindex).toBeGreaterThan(0);
    await withRoguePort(async () => {
      const flood = frames(ROGUE_NS, ['mac-flood', 'eth0', victimMac, '10.244.1.250', state.plan.nodes[0]!.gateway.v4, '3']);
      await flood.started;
      // Nothing of vrfwall runs on this port's ingress: the bridge does move
      // the MAC (docs/design.md, "Layer 2 on a bridge": what stays open) ...
      await timeUntil(() => fdbPorts(victimMac).includes(ROGUE_IF), 2000, `the bridge put ${victimMac} behind ${ROGUE_IF}`);
      // ... but the agent keeps the victim where it learnt it: it is not
      // placed on the rogue port (which would let that port send as it).
      await reconcileNow();
      expect(readEndpoints(INSTANCE), 'endpoints after a reconcile during the flood').toEqual(endpoints);
      await flood.done;
    });
    // The victim's next frame takes its MAC back.
    await pings(victim.netns, bystander.ips.v4, 1);
    expect(await pings(bystander.netns, victim.ips.v4, 3)).toBe(3);
    expect(fdbPorts(victimMac)).toEqual([victim.hostIf]);
  });
});
