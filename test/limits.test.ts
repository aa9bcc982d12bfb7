// What the datapath cannot see (issue 11, point 9; docs/limits.md): a real
// agent in a network namespace standing for a node detects, at start and at
// every resync, tunnel devices, other programs on the node's devices,
// kube-proxy's masquerade-all, IPVS and hostNetwork pods, and reports them
// (warn log, status.json, metric). A clean node reports nothing, even with
// ordinary kube-proxy rules, plain devices and a bridge.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../src/agent/status-file.js';
import { FINDING_KINDS, masqueradeAllRules } from '../src/agent/limits.js';
import { native } from '../src/kernel/native.js';
import { isAlive } from '../src/util/process.js';
import { freshPinRoot } from './helpers/datapath.js';
import { ROOT, timeUntil } from './helpers/lab.js';
import { createNetns, createVethPair, deleteNetns, deleteStaleNetns, ip, netnsPath, ownedName, withNetns } from './helpers/netns.js';

const PREFIX = 'vrfwall-ttcx-';
const FIXTURE = path.join(ROOT, 'build/fixtures/pass.bpf.o');
const XDP_FIXTURE = path.join(ROOT, 'build/fixtures/xdp_pass.bpf.o');
const bpf = native();

/** kube-proxy (nftables mode) as it is normally: masquerade only what does not come from a pod. */
const NORMAL_KUBE_PROXY = `table ip kube-proxy {
  chain mark-for-masquerade {
    meta mark set mark or 0x4000
  }
  chain service-ABCD1234-default/web/tcp/p80 {
    ip daddr 10.96.0.10 tcp dport 80 ip saddr != 10.77.0.0/16 jump mark-for-masquerade
  }
}
`;
/** With --masquerade-all: every client of the ClusterIP. */
const MASQUERADE_ALL = `table ip kube-proxy {
  chain service-EFGH5678-default/db/tcp/p5432 {
    ip daddr 10.96.0.20 tcp dport 5432 jump mark-for-masquerade
  }
}
`;

interface LogLine {
  msg?: string;
  level?: number;
  finding?: string;
  subject?: string;
}

describe('isolation limits the agent can detect', () => {
  const node = ownedName(PREFIX, 'node');
  const instance = `ttcx-${process.pid}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-ttcx-'));
  const manifests = path.join(dir, 'manifests');
  const runDir = path.join(dir, 'run');
  const logFile = path.join(dir, 'agent.log');
  const statusFile = path.join(runDir, instance, 'status.json');
  const pinRoot = freshPinRoot('ttcx-limits-');
  let pid = 0;
  let pass = -1;
  let link = -1;

  const status = (): AgentStatus => JSON.parse(fs.readFileSync(statusFile, 'utf8')) as AgentStatus;
  const kinds = (): string[] => [...new Set(status().findings.map((f) => f.kind))].sort();
  const logLines = (): LogLine[] => fs.readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LogLine);
  const metrics = (): string =>
    execFileSync('nsenter', [`--net=${netnsPath(node)}`, '--', 'curl', '-sf', 'http://127.0.0.1:9477/metrics'], { encoding: 'utf8' });
  const findingMetric = (text: string, kind: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`vrfwall_isolation_limit_findings{finding="${kind}"}`));
    return line === undefined ? NaN : Number(line.split(' ').pop());
  };
  const nft = (script: string): void => {
    execFileSync('ip', ['netns', 'exec', node, 'nft', '-f', '-'], { input: script, stdio: ['pipe', 'pipe', 'pipe'] });
  };

  beforeAll(async () => {
    deleteStaleNetns(PREFIX);
    createNetns(node);
    fs.mkdirSync(manifests, { recursive: true });
    // A clean node with ordinary things on it: a veth, a bridge, kube-proxy's usual rules.
    createVethPair({ ns: node, name: 'ttcx-eth0', peer: 'ttcx-peer' });
    ip(['-n', node, 'link', 'add', 'ttcx-br0', 'type', 'bridge']);
    nft(NORMAL_KUBE_PROXY);
    const child = spawn(
      'nsenter',
      [
        `--net=${netnsPath(node)}`, '--', process.execPath, path.join(ROOT, 'dist/cli/main.js'), 'agent',
        '--node-name', 'n1', '--manifests', manifests, '--pod-cidr', '10.77.0.0/16', '--service-cidr', '10.96.0.0/16',
        '--instance', instance, '--run-dir', runDir, '--grpc-socket', 'none', '--resync', '1', '--log-file', logFile,
      ],
      { stdio: 'ignore', detached: true },
    );
    pid = child.pid ?? 0;
    child.unref();
    await timeUntil(() => fs.existsSync(statusFile) && status().pid === pid && status().synced, 15_000, 'agent synced');
  });

  afterAll(async () => {
    if (pid !== 0 && isAlive(pid)) {
      process.kill(pid, 'SIGTERM');
      await timeUntil(() => !isAlive(pid), 5000, 'agent exit').catch(() => process.kill(pid, 'SIGKILL'));
    }
    if (link >= 0) bpf.closeFd(link);
    if (pass >= 0) bpf.closeFd(pass);
    deleteNetns(node);
    fs.rmSync(path.join('/sys/fs/bpf/vrfwall', instance), { recursive: true, force: true });
    fs.rmSync(pinRoot, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a clean node reports nothing', () => {
    expect(status().findings).toEqual([]);
    const m = metrics();
    for (const kind of FINDING_KINDS) expect(findingMetric(m, kind)).toBe(0);
    expect(logLines().filter((l) => l.msg === 'isolation limit detected (docs/limits.md)')).toEqual([]);
  });

  it('reports tunnels, programs on other devices, masquerade-all, IPVS and hostNetwork pods within a resync', async () => {
    ip(['-n', node, 'link', 'add', 'ttcx-vx', 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'local', '10.99.0.1']);
    ip(['-n', node, 'link', 'add', 'kube-ipvs0', 'type', 'bridge']);
    const obj = bpf.loadObject(FIXTURE, { pinRoot });
    pass = obj.programs.fx_pass!;
    for (const [name, fd] of [...Object.entries(obj.programs), ...Object.entries(obj.maps)]) if (name !== 'fx_pass') bpf.closeFd(fd);
    withNetns(node, () => {
      const i = bpf.ifNameToIndex('ttcx-eth0');
      link = bpf.tcxAttach(pass, i, 'ingress');
      bpf.tcAttach(pass, i, 'egress', 1, 1);
    });
    ip(['-n', node, 'link', 'set', 'dev', 'ttcx-eth0', 'xdpgeneric', 'obj', XDP_FIXTURE, 'sec', 'xdp']);
    nft(MASQUERADE_ALL);
    fs.writeFileSync(
      path.join(manifests, 'ingress.yaml'),
      `apiVersion: v1
kind: Pod
metadata: { name: ingress-nginx, namespace: kube-system }
spec:
  nodeName: n1
  hostNetwork: true
  containers:
    - name: controller
      image: ingress-nginx
      ports: [{ containerPort: 443 }]
`,
    );

    const expected = ['device-program', 'host-network-pod', 'ipvs', 'masquerade-all', 'overlay-device'];
    await timeUntil(() => kinds().join() === expected.join(), 4000, `findings ${expected.join(', ')}`);
    const byKind = new Map(status().findings.map((f) => [f.kind, f]));
    expect(byKind.get('overlay-device')).toMatchObject({ subject: 'device ttcx-vx', detail: expect.stringContaining('vxlan, id 42, UDP port 4789') });
    const programs = byKind.get('device-program');
    expect(programs?.subject).toBe('device ttcx-eth0');
    expect(programs?.detail).toContain('(fx_xdp_pass, xdp generic)');
    expect(programs?.detail).toContain('(fx_pass, tcx ingress)');
    expect(programs?.detail).toContain('(fx_pass, tc egress priority 1 bpf)');
    expect(byKind.get('masquerade-all')?.detail).toContain('ip daddr 10.96.0.20 tcp dport 5432 jump mark-for-masquerade');
    expect(byKind.get('masquerade-all')?.detail).toMatch(/^1 ClusterIP rule/); // not the ordinary one
    expect(byKind.get('ipvs')?.subject).toBe('device kube-ipvs0');
    expect(byKind.get('host-network-pod')).toMatchObject({ subject: 'Pod kube-system/ingress-nginx', detail: expect.stringContaining('443/TCP') });

    const m = metrics();
    for (const kind of FINDING_KINDS) expect(findingMetric(m, kind)).toBe(expected.includes(kind) ? 1 : 0);
    const warned = logLines().filter((l) => l.msg === 'isolation limit detected (docs/limits.md)');
    expect(warned.map((l) => l.finding).sort()).toEqual(expected);
    expect(warned.every((l) => l.level === 40)).toBe(true);
  });

  it('forgets what is gone', async () => {
    ip(['-n', node, 'link', 'del', 'ttcx-vx']);
    ip(['-n', node, 'link', 'del', 'kube-ipvs0']);
    ip(['-n', node, 'link', 'set', 'dev', 'ttcx-eth0', 'xdpgeneric', 'off']);
    withNetns(node, () => bpf.tcDetach(bpf.ifNameToIndex('ttcx-eth0'), 'egress', 1, 1));
    bpf.linkDetach(link);
    nft('delete table ip kube-proxy\n' + NORMAL_KUBE_PROXY);
    fs.rmSync(path.join(manifests, 'ingress.yaml'));
    await timeUntil(() => status().findings.length === 0, 4000, 'no findings');
    const m = metrics();
    for (const kind of FINDING_KINDS) expect(findingMetric(m, kind)).toBe(0);
  });
});

describe('masquerade-all rules (kube-proxy nftables, iptables-nft, iptables-save)', () => {
  it('finds ClusterIP rules that masquerade every client, and only those', () => {
    const nftText = `table ip kube-proxy {
	chain service-A-ns/a/tcp/p80 {
		ip daddr 10.96.0.1 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
		ip daddr 10.96.0.1 tcp dport 80 jump mark-for-masquerade
	}
	chain external-A-ns/a/tcp/p80 {
		jump mark-for-masquerade
	}
}
table ip nat {
	chain KUBE-SVC-XYZ {
		ip daddr 10.96.0.2 tcp dport 443 counter packets 0 bytes 0 jump KUBE-MARK-MASQ
		iifname != "cni0" ip daddr 10.96.0.3 tcp dport 443 counter jump KUBE-MARK-MASQ
	}
}`;
    const save = [
      '-A KUBE-SVC-ABC ! -s 10.244.0.0/16 -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-MARK-MASQ',
      '-A KUBE-SVC-DEF -d 10.96.0.9/32 -p tcp -m comment --comment "default/db cluster IP" -m tcp --dport 5432 -j KUBE-MARK-MASQ',
      '-A KUBE-SVC-DEF -m comment --comment "default/db -> 10.244.1.5:5432" -j KUBE-SEP-123',
    ].join('\n');
    expect(masqueradeAllRules(nftText, save)).toEqual([
      'ip daddr 10.96.0.1 tcp dport 80 jump mark-for-masquerade',
      'ip daddr 10.96.0.2 tcp dport 443 counter packets 0 bytes 0 jump KUBE-MARK-MASQ',
      '-A KUBE-SVC-DEF -d 10.96.0.9/32 -p tcp -m comment --comment "default/db cluster IP" -m tcp --dport 5432 -j KUBE-MARK-MASQ',
    ]);
    expect(masqueradeAllRules('', '')).toEqual([]);
  });
});

// The kernel behaviour docs/limits.md rests on: a CNI program that hands a
// packet to a pod with bpf_redirect_peer skips the pod's to-pod hook (tc
// egress of its host-side interface); bpf_redirect and bpf_redirect_neigh to
// that interface, and ordinary routing, pass it.
describe('which deliveries the to-pod hook sees', () => {
  const nodeNs = ownedName(PREFIX, 'rn');
  const podNs = ownedName(PREFIX, 'rp');
  const senderNs = ownedName(PREFIX, 'rq');
  const pinRoot = freshPinRoot('ttcx-redirect-');
  const fds: number[] = [];
  let cfg = -1;
  const key = (n: number): Buffer => Buffer.from(new Uint32Array([n]).buffer);
  const value = (n: number): Buffer => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    return b;
  };

  beforeAll(() => {
    for (const ns of [nodeNs, podNs, senderNs]) createNetns(ns);
    // pod: host side ttcx-h1 (where to_pod would be), 10.50.1.2; sender: 10.50.2.2, routed through the node.
    createVethPair({ ns: nodeNs, name: 'ttcx-h1', peerNs: podNs, peer: 'ttcx-p1', addr: '10.50.1.1/24', peerAddr: '10.50.1.2/24' });
    createVethPair({ ns: nodeNs, name: 'ttcx-h2', peerNs: senderNs, peer: 'ttcx-p2', addr: '10.50.2.1/24', peerAddr: '10.50.2.2/24' });
    ip(['-n', podNs, 'route', 'add', 'default', 'via', '10.50.1.1']);
    ip(['-n', senderNs, 'route', 'add', 'default', 'via', '10.50.2.1']);
    execFileSync('ip', ['netns', 'exec', nodeNs, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    const obj = bpf.loadObject(path.join(ROOT, 'build/fixtures/redirect.bpf.o'), { pinRoot });
    cfg = obj.maps.rx_cfg!;
    fds.push(...Object.values(obj.programs), ...Object.values(obj.maps));
    withNetns(nodeNs, () => {
      const h1 = bpf.ifNameToIndex('ttcx-h1');
      bpf.mapUpdate(cfg, key(0), value(h1));
      fds.push(bpf.tcxAttach(obj.programs.fx_deliver!, bpf.ifNameToIndex('ttcx-h2'), 'ingress'));
      fds.push(bpf.tcxAttach(obj.programs.fx_seen!, h1, 'egress'));
    });
  });
  afterAll(() => {
    for (const fd of fds) bpf.closeFd(fd);
    for (const ns of [nodeNs, podNs, senderNs]) deleteNetns(ns);
    fs.rmSync(pinRoot, { recursive: true, force: true });
  });

  const deliver = (how: number): { delivered: boolean; seen: bigint } => {
    bpf.mapUpdate(cfg, key(1), value(how));
    bpf.mapUpdate(cfg, key(2), value(0));
    let delivered = true;
    try {
      execFileSync('ip', ['netns', 'exec', senderNs, 'ping', '-c', '3', '-i', '0.2', '-W', '1', '-q', '10.50.1.2'], { stdio: 'ignore' });
    } catch {
      delivered = false;
    }
    return { delivered, seen: bpf.mapLookup(cfg, key(2))!.readBigUInt64LE() };
  };

  it('routing, bpf_redirect and bpf_redirect_neigh pass the hook; bpf_redirect_peer delivers past it', () => {
    expect(deliver(0)).toEqual({ delivered: true, seen: 3n }); // the stack routes: the hook sees all
    expect(deliver(1).seen).toBe(3n); // egress redirect: through the device's transmit path (MACs not rewritten)
    expect(deliver(2)).toEqual({ delivered: true, seen: 3n }); // redirect_neigh: same, with neighbour resolution
    expect(deliver(3)).toEqual({ delivered: true, seen: 0n }); // redirect_peer: the pod answers, the hook saw nothing
  });
});
