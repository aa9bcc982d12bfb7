// Pod interfaces in real clusters: the lab wired like Calico (--cni ptp, host
// routes) and like flannel / the bridge plugin (--cni bridge, veths enslaved
// to a node bridge, pods on one node talk at layer 2). Both must pass the
// CN2 isolated-namespace example; on a bridge the agent finds each pod's port
// from its MAC (neighbour table + bridge FDB), keeps it when the FDB entry
// ages out, and a pod whose interface appears after its Pod object is
// enforced as soon as the interface exists.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AllowRule, Direction, DropReason, Verdict } from '../src/kernel/abi.js';
import { native } from '../src/kernel/native.js';
import { labDown, labMatrix, labUp } from '../src/lab/lab.js';
import { agentStatusFile, clusterFile, netnsPath } from '../src/lab/names.js';
import type { CniMode } from '../src/lab/plan.js';
import type { LabState } from '../src/lab/state.js';
import { POD_BRIDGE } from '../src/lab/wiring-bridge.js';
import type { LabClusterFile } from '../src/lab/cluster-file.js';
import { withNetns } from './helpers/netns.js';
import { ROOT, matrixMismatches, podOf, readCounters, readEndpoints, timeUntil, udpStream } from './helpers/lab.js';
import { EXAMPLE, ISOLATED, exampleOpen } from './helpers/cn2-example.js';


function ipIn(netns: string, args: string[]): string {
  return execFileSync('ip', ['-n', netns, ...args], { encoding: 'utf8' });
}

function counter(instance: string, direction: number, verdict: number, code: number): bigint {
  return readCounters(instance)
    .filter((c) => c.direction === direction && c.verdict === verdict && c.code === code)
    .reduce((n, c) => n + c.packets, 0n);
}

interface Status {
  pid: number;
  generation: number;
  synced: boolean;
  attached: string[];
}
function status(instance: string): Status {
  return JSON.parse(fs.readFileSync(agentStatusFile(instance), 'utf8')) as Status;
}

/** Programs on both hooks of an interface of the node, by name. */
function hooks(nodeNetns: string, dev: string): { ingress: number[]; egress: number[] } {
  const bpf = native();
  return withNetns(nodeNetns, () => {
    const i = bpf.ifNameToIndex(dev);
    return { ingress: bpf.tcxQuery(i, 'ingress'), egress: bpf.tcxQuery(i, 'egress') };
  });
}

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: late
  namespace: isolated-namespace-demo
spec:
  nodeName: node1
  containers: [{name: c, image: x, ports: [{containerPort: 8080, protocol: TCP}, {containerPort: 8080, protocol: UDP}]}]
`;

describe.each<CniMode>(['ptp', 'bridge'])('--cni %s', (cni) => {
  const lab = `t4b${cni}`;
  const instance = `${lab}-node1`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `vrfwall-${lab}-`));
  let state: LabState;
  beforeAll(async () => {
    fs.cpSync(EXAMPLE, dir, { recursive: true });
    // Placement with every kind of pair: same node allowed (pod1-pod2) and
    // isolated (pod4-pod1), across nodes allowed (pod4-pod3) and isolated.
    const place = (file: string, node: string) => {
      const f = path.join(dir, file);
      fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace(/^spec:\n/gm, `spec:\n  nodeName: ${node}\n`));
    };
    place('isolated-namespace-demo.yaml', 'node1');
    place('default-pod4.yaml', 'node1');
    place('non-isolated-namespace-demo.yaml', 'node2');
    await labDown(lab); // leftovers of a killed run
    state = await labUp(dir, { lab, nodes: 2, cni, log: () => undefined });
  });
  afterAll(async () => {
    await labDown(lab);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('passes the isolated-namespace example on 2 nodes (ICMP, TCP, UDP; v4 and v6; same node and across)', async () => {
    const node1 = state.plan.nodes[0]!;
    const routes = ipIn(node1.netns, ['-4', 'route', 'show']);
    if (cni === 'bridge') {
      expect(routes).not.toMatch(/\/32|10\.244\.1\.\d+ dev/); // no host routes: the bridge's subnet
      expect(ipIn(node1.netns, ['-d', 'link', 'show', POD_BRIDGE])).toContain('bridge');
    } else {
      expect(routes).toMatch(/10\.244\.1\.\d+ dev vw/);
    }
    const m = await labMatrix(lab);
    expect(Object.keys(m.pods).length).toBeGreaterThanOrEqual(4);
    expect(matrixMismatches(m, exampleOpen)).toEqual([]);
  });

  it('sees same-node traffic at the receiver too (bridged: the egress of the destination port)', async () => {
    // Responders only (the lab's own DNS pod answers DNS, not the probe port).
    const pods = state.plan.pods.filter((p) => p.hostIf !== undefined && p.builtin === undefined);
    // Two pods on one node that the example allows to talk.
    const allowed = pods.flatMap((a) => pods.filter((b) => b !== a && b.node === a.node && exampleOpen(a.key, b.key)).map((b) => [a, b] as const))[0];
    expect(allowed).toBeDefined();
    const [a, b] = allowed!;
    const instance = `${lab}-${a.node}`;
    const before = counter(instance, Direction.TO_POD, Verdict.ALLOWED, AllowRule.SAME_NETWORK);
    const r = await udpStream(state, a.key, b.key, 300);
    expect(r.sent).toBeGreaterThan(20);
    expect(r.received).toBe(r.sent);
    // Requests reach b's to_pod and replies a's: both counted there.
    expect(counter(instance, Direction.TO_POD, Verdict.ALLOWED, AllowRule.SAME_NETWORK) - before).toBeGreaterThanOrEqual(BigInt(2 * r.sent));
    if (cni === 'bridge') {
      // Layer 2: a resolved b's address to b's own MAC (ARP / ND between pods), not the gateway's.
      const bMac = ipIn(b.netns, ['-j', 'link', 'show', 'eth0']).match(/"address":"([0-9a-f:]+)"/)?.[1];
      for (const ip of [b.ips.v4, b.ips.v6]) {
        expect(ipIn(a.netns, ['neigh', 'show', ip])).toContain(`lladdr ${bMac}`);
      }
    }
  });

  if (cni === 'bridge') {
    it('keeps a pod enforced when its bridge FDB entry ages out', async () => {
      const node1 = state.plan.nodes[0]!;
      const pods = state.plan.pods.filter((p) => p.node === 'node1' && p.hostIf !== undefined);
      const linksBefore = pods.map((p) => hooks(node1.netns, p.hostIf!));
      const endpointsBefore = readEndpoints(instance);
      // What ageing does: the learned entries disappear.
      const fdb = JSON.parse(execFileSync('bridge', ['-n', node1.netns, '-j', 'fdb', 'show', 'br', POD_BRIDGE], { encoding: 'utf8' })) as {
        mac: string;
        ifname: string;
        state?: string;
        flags?: string[];
      }[];
      const learned = fdb.filter((e) => e.state !== 'permanent' && !(e.flags ?? []).includes('self'));
      expect(learned.length).toBeGreaterThanOrEqual(pods.length);
      for (const e of learned) execFileSync('bridge', ['-n', node1.netns, 'fdb', 'del', e.mac, 'dev', e.ifname, 'master']);
      // A link event makes the agent reconcile at once.
      const gen = (JSON.parse(fs.readFileSync(agentStatusFile(instance), 'utf8')) as { generation: number }).generation;
      ipIn(node1.netns, ['link', 'add', 'vwt4bx', 'type', 'veth', 'peer', 'name', 'vwt4by']);
      ipIn(node1.netns, ['link', 'del', 'vwt4bx']);
      await timeUntil(() => (JSON.parse(fs.readFileSync(agentStatusFile(instance), 'utf8')) as { generation: number }).generation > gen, 3000, 'reconcile');
      expect(pods.map((p) => hooks(node1.netns, p.hostIf!))).toEqual(linksBefore);
      expect(readEndpoints(instance)).toEqual(endpointsBefore);
      expect(matrixMismatches(await labMatrix(lab), exampleOpen)).toEqual([]);
    });
  }

  it('enforces a pod whose interface appears after its Pod object, as soon as it exists', async () => {
    const node1 = state.plan.nodes[0]!;
    const ns = `vrfwall-${lab}-p99`; // the lab's prefix: lab down removes it
    const dev = 'vwt4blate';
    const ip4 = '10.244.1.99';
    const ip6 = 'fd00:10:244:1::63';
    // The Pod object and its addresses first (API server / CNI IPAM) ...
    fs.writeFileSync(path.join(dir, 'late.yaml'), POD);
    const cf = JSON.parse(fs.readFileSync(clusterFile(lab), 'utf8')) as LabClusterFile;
    cf.pods['isolated-namespace-demo/late'] = { node: 'node1', ips: [ip4, ip6] };
    fs.writeFileSync(`${clusterFile(lab)}.tmp`, JSON.stringify(cf));
    fs.renameSync(`${clusterFile(lab)}.tmp`, clusterFile(lab));
    await timeUntil(() => readEndpoints(instance).has(ip4), 3000, 'the agent saw the Pod');
    // Known, not waited for: a link event makes the agent reconcile at once;
    // that reconcile knows the Pod (its endpoint is in the map) and has no
    // interface to attach to (the positive control is the attach below).
    const gen = status(instance).generation;
    ipIn(node1.netns, ['link', 'add', 'vwt4bq', 'type', 'veth', 'peer', 'name', 'vwt4br']);
    ipIn(node1.netns, ['link', 'del', 'vwt4bq']);
    await timeUntil(() => status(instance).generation > gen, 3000, 'a reconcile with the Pod known');
    expect(status(instance).attached).not.toContain('isolated-namespace-demo/late');

    // ... then the CNI makes the interface.
    execFileSync('ip', ['netns', 'add', ns]);
    const node = node1.netns;
    ipIn(node, ['link', 'add', dev, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    ipIn(ns, ['link', 'set', 'lo', 'up']);
    ipIn(ns, ['link', 'set', 'eth0', 'up']);
    const t0 = performance.now();
    if (cni === 'bridge') {
      ipIn(node, ['link', 'set', dev, 'master', POD_BRIDGE]);
      ipIn(node, ['link', 'set', dev, 'up']);
      ipIn(ns, ['addr', 'add', `${ip4}/24`, 'dev', 'eth0']);
      ipIn(ns, ['addr', 'add', `${ip6}/64`, 'dev', 'eth0', 'nodad']);
      ipIn(ns, ['route', 'add', 'default', 'via', node1.gateway.v4]);
    } else {
      ipIn(node, ['link', 'set', dev, 'up']);
      ipIn(node, ['addr', 'add', `${node1.gateway.v4}/32`, 'dev', dev]);
      ipIn(ns, ['addr', 'add', `${ip4}/32`, 'dev', 'eth0']);
      ipIn(ns, ['route', 'add', node1.gateway.v4, 'dev', 'eth0', 'scope', 'link']);
      ipIn(ns, ['route', 'add', 'default', 'via', node1.gateway.v4]);
      ipIn(node, ['route', 'add', `${ip4}/32`, 'dev', dev]);
    }
    const ms = await timeUntil(() => {
      const h = hooks(node, dev);
      return h.ingress.length === 1 && h.egress.length === 1;
    }, 5000, 'programs attached to the late interface');
    console.info(`--cni ${cni}: late interface enforced ${ms.toFixed(0)} ms after its address/route was configured`);
    expect(ms).toBeLessThan(2000);
    await timeUntil(() => status(instance).attached.includes('isolated-namespace-demo/late'), 3000, 'status lists the pod');

    // Enforced: its own network answers, the default network does not, and
    // the drop happened at its own from_pod (the isolation check on its hook).
    const ping = (to: string): boolean => {
      try {
        execFileSync('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', to], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    };
    const drops = counter(instance, Direction.FROM_POD, Verdict.DROPPED, DropReason.ISOLATED);
    const sameNode = (k: string) => podOf(state, k).node === 'node1';
    const friend = [...ISOLATED].find(sameNode) ?? [...ISOLATED][0]!;
    const stranger = state.plan.pods.find((p) => !ISOLATED.has(p.key) && p.hostIf !== undefined && sameNode(p.key))!;
    expect(stranger).toBeDefined();
    expect(ping(podOf(state, friend).ips.v4)).toBe(true);
    expect(ping(stranger.ips.v4)).toBe(false);
    expect(counter(instance, Direction.FROM_POD, Verdict.DROPPED, DropReason.ISOLATED)).toBeGreaterThan(drops);
    expect(fs.existsSync(netnsPath(ns))).toBe(true);
  });
});
