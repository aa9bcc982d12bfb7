// The agent's start: the BPF objects load on a worker thread while the source
// reads the cluster, and the first reconcile waits for both. Checked on a
// real agent process (dist/cli/main.js agent) in a network namespace of its
// own, its maps read back from the kernel:
// - a restarted agent adopts the pinned maps and, while it loads and lists,
//   they keep every entry the previous one wrote (no moment with less);
// - an agent whose programs cannot load never reports synced, writes no map
//   and exits.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MapName, encodeEndpointKey } from '../src/kernel/abi.js';
import { native } from '../src/kernel/native.js';
import { removeStalePins } from './helpers/datapath.js';
import { createNetns, deleteNetns, deleteStaleNetns, netnsPath, ownedName } from './helpers/netns.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const NS_PREFIX = 'vrfwall-cpsync-';
const PIN_PREFIX = 'cpsync-';
const PIN_BASE = '/sys/fs/bpf/vrfwall';
const RUN_BASE = '/run/vrfwall';
const PODS = 60;

const bpf = native();
const netns = ownedName(NS_PREFIX, 'start');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-agent-start-'));
const children: ChildProcess[] = [];
const instances: string[] = [];

const podIp = (i: number): string => `10.${128 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`;

/** Three namespaces of pods on node2 (endpoints without interfaces), their addresses in the lab file. */
function writeCluster(): { manifests: string; labFile: string } {
  const manifests = path.join(tmp, 'manifests');
  const placement: Record<string, { node: string; ips: string[] }> = {};
  for (let k = 0; k < 3; k++) {
    const dir = path.join(manifests, `ns${k}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'namespace.yaml'), `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns${k}\n`);
    const docs: string[] = [];
    for (let i = k; i < PODS; i += 3) {
      docs.push(`apiVersion: v1\nkind: Pod\nmetadata:\n  name: p${i}\n  namespace: ns${k}\nspec:\n  nodeName: node2\n  containers:\n    - name: c\n      image: none\n`);
      placement[`ns${k}/p${i}`] = { node: 'node2', ips: [podIp(i)] };
    }
    fs.writeFileSync(path.join(dir, 'pods.yaml'), docs.join('---\n'));
  }
  const labFile = path.join(tmp, 'cluster.json');
  const nodes = [
    { name: 'node1', addresses: ['192.168.77.1'] },
    { name: 'node2', addresses: ['192.168.77.2'] },
  ];
  fs.writeFileSync(labFile, JSON.stringify({ version: 1, podCIDRs: ['10.128.0.0/9'], serviceCIDRs: ['10.96.0.0/16'], nodes, pods: placement }));
  return { manifests, labFile };
}

function startAgent(instance: string, extra: string[] = []): { child: ChildProcess; logFile: string } {
  const { manifests, labFile } = cluster;
  const logFile = path.join(tmp, `${instance}-${children.length}.log`);
  const args = [
    `--net=${netnsPath(netns)}`, '--', process.execPath, path.join(ROOT, 'dist/lab/main.js'), 'agent',
    '--node-name', 'node1', '--manifests', manifests, '--lab-file', labFile, '--instance', instance, '--log-file', logFile, ...extra,
  ];
  const child = spawn('nsenter', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  return { child, logFile };
}

function status(instance: string): { pid: number; synced: boolean } | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(RUN_BASE, instance, 'status.json'), 'utf8')) as { pid: number; synced: boolean };
  } catch {
    return undefined;
  }
}

/** The pinned endpoints map as the kernel holds it: key hex -> value hex. */
function endpoints(instance: string): Map<string, string> {
  const fd = bpf.objGet(path.join(PIN_BASE, instance, 'maps', MapName.endpoints));
  try {
    const info = bpf.mapInfo(fd);
    const d = bpf.mapDump(fd);
    const out = new Map<string, string>();
    for (let i = 0; i < d.count; i++) {
      out.set(d.keys.toString('hex', i * info.keySize, (i + 1) * info.keySize), d.values.toString('hex', i * info.valueSize, (i + 1) * info.valueSize));
    }
    return out;
  } finally {
    bpf.closeFd(fd);
  }
}

async function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`agent still running after ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

async function waitSynced(instance: string, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const st = status(instance);
    if (st?.synced && st.pid === child.pid) return;
    if (child.exitCode !== null) throw new Error(`agent exited ${child.exitCode} before it synced`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`agent not synced within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let cluster: { manifests: string; labFile: string };

beforeAll(() => {
  deleteStaleNetns(NS_PREFIX);
  removeStalePins(PIN_PREFIX);
  createNetns(netns);
  cluster = writeCluster();
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const instance of instances) {
    fs.rmSync(path.join(PIN_BASE, instance), { recursive: true, force: true });
    fs.rmSync(path.join(RUN_BASE, instance), { recursive: true, force: true });
  }
  deleteNetns(netns);
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('agent start: programs load while the source lists; maps written only after both', () => {
  it('a restarted agent adopts the pinned maps: while it loads and lists, they keep every entry the last one wrote', async () => {
    const instance = `${PIN_PREFIX}${process.pid}-adopt`;
    instances.push(instance);
    const first = startAgent(instance);
    await waitSynced(instance, first.child);
    const written = endpoints(instance);
    // Positive control: the first agent filled the map (every pod and both nodes).
    expect(written.size).toBe(PODS + 2);
    expect(written.has(encodeEndpointKey(podIp(0)).toString('hex'))).toBe(true);
    first.child.kill('SIGKILL');
    await exited(first.child, 10_000);

    const second = startAgent(instance);
    let reads = 0;
    let smallest = Infinity;
    let differing = 0;
    for (;;) {
      const st = status(instance);
      const now = endpoints(instance);
      reads++;
      smallest = Math.min(smallest, now.size);
      if ([...written].some(([k, v]) => now.get(k) !== v)) differing++;
      if (st?.synced && st.pid === second.child.pid) break;
      if (second.child.exitCode !== null) throw new Error(`second agent exited ${second.child.exitCode}`);
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(reads).toBeGreaterThan(1); // the maps were read while it started
    expect(smallest).toBe(PODS + 2);
    expect(differing).toBe(0);
    expect(endpoints(instance)).toEqual(written);
    second.child.kill('SIGTERM');
    expect(await exited(second.child, 10_000)).toBe(0);
  });

  it('programs that cannot load: the agent never reports synced, writes no map, and exits 1', async () => {
    const instance = `${PIN_PREFIX}${process.pid}-broken`;
    instances.push(instance);
    const bpfDir = path.join(tmp, 'broken-bpf');
    fs.mkdirSync(bpfDir, { recursive: true });
    for (const f of ['from_pod.o', 'to_pod.o', 'session_gc.o']) fs.writeFileSync(path.join(bpfDir, f), 'not an ELF object');
    const { child, logFile } = startAgent(instance, ['--bpf-dir', bpfDir]);
    expect(await exited(child, 20_000)).toBe(1);
    expect(status(instance)?.synced).toBe(false); // it had said "running, not synced" and no more
    const maps = path.join(PIN_BASE, instance, 'maps');
    expect(fs.existsSync(maps) ? fs.readdirSync(maps) : []).toEqual([]);
    const log = fs.readFileSync(logFile, 'utf8');
    expect(log).toContain('agent failed to start');
    expect(log).toContain('bpf_object__open_file');
  });
});
