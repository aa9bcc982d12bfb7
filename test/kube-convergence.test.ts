// The real agent (dist/cli/main.js, --source kube) in a node network
// namespace, against the test API server, through a long randomized run of
// changes with faults in between. At the end what the kernel maps hold must
// be exactly what the compile step gives for the server's final state: no
// stale entry, none missing. And the same objects given to a fresh agent
// through the API and to another through local manifests end in identical maps.
//
// The node namespace has veth pairs with host routes for the "local" pod
// addresses (as a ptp CNI leaves them), so local pods get attached; pods of
// node2 are remote endpoints. The API server listens on the node namespace's
// loopback (the agent runs inside it); faults are injected in-process.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { native } from '../src/kernel/native.js';
import { removePins } from '../src/agent/bpffs.js';
import { desiredImages, type MapImages } from '../src/agent/images.js';
import { readImage, type MapImage } from '../src/agent/mapsync.js';
import { compile } from '../src/model/compile.js';
import type { ClusterConfig, ClusterState, DesiredState, VrfAllocation } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { emptyClusterState } from '../src/sources/source.js';
import { TestApiServer, type KObject } from './helpers/apiserver.js';
import { namespaceObj, nodeObj, podObj, routerObj, virtualNetworkObj } from './helpers/kube-objects.js';
import { ROOT, timeUntil } from './helpers/lab.js';
import { createNetns, deleteNetns, deleteStaleNetns, ifindexIn, ip, netnsPath, ownedName } from './helpers/netns.js';
import { rng as prng } from './helpers/random.js';

const PREFIX = 'vrfwall-kconv-';
const NODE_NS = ownedName(PREFIX, 'node1');
const PIN_ROOT = '/sys/fs/bpf/vrfwall';
const RUN_ROOT = '/run/vrfwall';
const INSTANCE = (tag: string): string => `kconv-${process.pid}-${tag}`;
const MAIN = path.join(ROOT, 'dist/cli/main.js');
/** The lab's agent: local manifests completed by a lab cluster file. */
const LAB_MAIN = path.join(ROOT, 'dist/lab/main.js');
const SEED = Number(process.env.VRFWALL_KCONV_SEED ?? 20261121);
const CHANGES = 300;

const CONFIG: ClusterConfig = {
  nodeName: 'node1',
  podCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
  serviceCIDRs: ['10.96.0.0/16'],
};
const NODE_ADDR = { node1: '192.168.50.1', node2: '192.168.50.2' } as const;
/** Local pod addresses, one veth each: v4, and v6 written long-hand in the API (canonical in the model). */
const SLOTS = Array.from({ length: 8 }, (_, i) => ({
  dev: `kc${i}h`,
  peer: `kc${i}p`,
  v4: `10.244.1.${10 + i}`,
  v6: `fd00:10:244:1::${(10 + i).toString(16)}`,
  v6Long: `fd00:10:244:1:0:0:0:${(10 + i).toString(16)}`,
}));
const MAP_FILES: Record<keyof MapImages, string> = {
  endpoints: 'endpoints',
  vrfPairs: 'vrf_pairs',
  networks: 'networks',
  cidrs: 'cidrs',
  services: 'services',
  backends: 'backends',
  ports: 'ports',
  policy: 'policy',
  policyCidrs: 'policy_cidrs',
};

// ---- the model: what the test put into the API server -----------------------

interface MPod {
  ns: string;
  name: string;
  node: 'node1' | 'node2';
  slot?: number;
  ips: string[]; // canonical, once running
  apiIps: string[]; // as written in the API
  phase: 'Pending' | 'Running' | 'Succeeded';
  hostNetwork: boolean;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

interface Model {
  namespaces: Map<string, { labels: Record<string, string>; annotations: Record<string, string> }>;
  pods: Map<string, MPod>;
  vns: Map<string, Record<string, string>>; // default/<name> -> labels
  router: boolean;
  node2: string;
}

const model: Model = { namespaces: new Map(), pods: new Map(), vns: new Map(), router: false, node2: NODE_ADDR.node2 };

/** The model as the compile step's input, written independently of the source's conversion. */
function modelState(m: Model): ClusterState {
  const s = emptyClusterState();
  for (const [name, n] of m.namespaces) s.namespaces.set(name, { kind: 'Namespace', metadata: { name, labels: n.labels, annotations: n.annotations } });
  for (const [key, p] of m.pods) {
    s.pods.set(key, {
      kind: 'Pod',
      metadata: { name: p.name, namespace: p.ns, labels: p.labels, annotations: p.annotations },
      spec: { nodeName: p.node, hostNetwork: p.hostNetwork, ports: [] },
      status: { podIPs: p.phase === 'Running' ? p.ips : [] },
    });
  }
  s.nodes.set('node1', { name: 'node1', addresses: [NODE_ADDR.node1] });
  s.nodes.set('node2', { name: 'node2', addresses: [m.node2] });
  for (const [key, labels] of m.vns) {
    const name = key.split('/')[1]!;
    s.virtualNetworks.set(key, {
      kind: 'VirtualNetwork',
      apiGroup: 'vrfwall.dev',
      metadata: { name, namespace: 'default', labels, annotations: {} },
      spec: { podNetwork: true, v4Subnet: '10.50.0.0/16' },
    });
  }
  if (m.router) {
    s.routers.set('default/mesh', {
      kind: 'VirtualNetworkRouter',
      apiGroup: 'vrfwall.dev',
      metadata: { name: 'mesh', namespace: 'default', labels: {}, annotations: {} },
      spec: { type: 'mesh', virtualNetworkSelector: { matchLabels: { mesh: 'yes' }, matchExpressions: [] }, imports: [] },
    });
  }
  return s;
}

function podApiObject(p: MPod): KObject {
  return podObj(p.ns, p.name, {
    node: p.node,
    ips: p.phase === 'Pending' ? [] : p.apiIps,
    phase: p.phase,
    hostNetwork: p.hostNetwork,
    labels: p.labels,
    annotations: p.annotations,
  });
}

// ---- the node, the agents, the kernel ---------------------------------------

let server: TestApiServer;
let kubeconfig: string;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-kconv-'));
const ifindexByIp = new Map<string, number>();
const agents = new Map<string, ChildProcess>();

function startAgent(instance: string, sourceArgs: string[]): ChildProcess {
  fs.rmSync(path.join(RUN_ROOT, instance, 'status.json'), { force: true });
  const out = fs.openSync(path.join(tmp, `${instance}.out`), 'w');
  const child = spawn(
    'nsenter',
    [
      `--net=${netnsPath(NODE_NS)}`, '--', process.execPath, sourceArgs.includes('--lab-file') ? LAB_MAIN : MAIN, 'agent',
      '--node-name', 'node1', '--instance', instance,
      '--pod-cidr', CONFIG.podCIDRs.join(','), '--service-cidr', CONFIG.serviceCIDRs.join(','),
      '--resync', '5', '--log-file', path.join(tmp, `${instance}.log`),
      ...sourceArgs,
    ],
    { stdio: ['ignore', out, out] },
  );
  fs.closeSync(out);
  agents.set(instance, child);
  return child;
}

async function stopAgent(instance: string): Promise<void> {
  const child = agents.get(instance);
  agents.delete(instance);
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

function cleanupInstance(instance: string): void {
  try {
    execFileSync('nsenter', [`--net=${netnsPath(NODE_NS)}`, '--', process.execPath, MAIN, 'agent', '--cleanup', '--node-name', 'node1', '--instance', instance], { stdio: 'ignore' });
  } catch {
    // the namespace may be gone already; the pins are removed below anyway
  }
  removePins(path.join(PIN_ROOT, instance));
  fs.rmSync(path.join(RUN_ROOT, instance), { recursive: true, force: true });
}

/** Pins and run files of earlier runs of this file whose process is gone. */
function removeStaleInstances(): void {
  for (const root of [PIN_ROOT, RUN_ROOT]) {
    for (const name of fs.existsSync(root) ? fs.readdirSync(root) : []) {
      const pid = Number(/^kconv-(\d+)-/.exec(name)?.[1]);
      if (!Number.isInteger(pid)) continue;
      let alive = true;
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
      if (!alive || pid === process.pid) removePins(path.join(root, name));
    }
  }
}

interface AgentStatus {
  pid: number;
  synced: boolean;
  attached: string[];
  quarantined: Record<string, string>;
}

function readStatus(instance: string): AgentStatus | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(RUN_ROOT, instance, 'status.json'), 'utf8')) as AgentStatus;
  } catch {
    return undefined;
  }
}

function readAllocation(instance: string): VrfAllocation {
  try {
    return JSON.parse(fs.readFileSync(path.join(RUN_ROOT, instance, 'vrf-ids.json'), 'utf8')) as VrfAllocation;
  } catch {
    return emptyAllocation();
  }
}

function kernelImages(instance: string): Record<keyof MapImages, MapImage> {
  const bpf = native();
  const out = {} as Record<keyof MapImages, MapImage>;
  for (const [k, file] of Object.entries(MAP_FILES) as [keyof MapImages, string][]) {
    const fd = bpf.objGet(path.join(PIN_ROOT, instance, 'maps', file));
    try {
      out[k] = readImage(bpf, fd);
    } finally {
      bpf.closeFd(fd);
    }
  }
  return out;
}

function imageDiff(want: Record<keyof MapImages, MapImage>, have: Record<keyof MapImages, MapImage>): string[] {
  const out: string[] = [];
  for (const k of Object.keys(MAP_FILES) as (keyof MapImages)[]) {
    for (const [key, e] of want[k]) {
      const got = have[k].get(key);
      if (got === undefined) out.push(`${k} ${key}: missing`);
      else if (!got.value.equals(e.value)) out.push(`${k} ${key}: ${got.value.toString('hex')}, expected ${e.value.toString('hex')}`);
    }
    for (const key of have[k].keys()) if (!want[k].has(key)) out.push(`${k} ${key}: stale`);
  }
  return out;
}

function expected(instance: string): { images: Record<keyof MapImages, MapImage>; desired: DesiredState } {
  const desired = compile(modelState(model), CONFIG, ifindexByIp, readAllocation(instance));
  return { images: desiredImages(desired), desired };
}

/** Until the agent's maps and attachments are exactly what the model compiles to; returns the ms it took. */
async function converged(instance: string, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  let last: string[] = [];
  for (;;) {
    const status = readStatus(instance);
    if (status?.synced && status.pid === agents.get(instance)?.pid) {
      const { images, desired } = expected(instance);
      last = imageDiff(images, kernelImages(instance));
      const attached = [...status.attached].sort();
      const want = [...desired.attach.keys()].sort();
      if (JSON.stringify(attached) !== JSON.stringify(want)) last.push(`attached ${attached.join(',')}; expected ${want.join(',')}`);
      if (last.length === 0) return Date.now() - t0;
    } else {
      last = [`agent ${instance} not synced`];
    }
    const child = agents.get(instance);
    if (child?.exitCode !== null || child?.signalCode !== null) throw new Error(`agent ${instance} exited; ${tail(instance)}`);
    if (Date.now() - t0 > timeoutMs) {
      throw new Error(`agent ${instance} did not converge in ${timeoutMs} ms:\n${last.slice(0, 15).join('\n')}\n${tail(instance)}`);
    }
    await sleep(150);
  }
}

function tail(instance: string): string {
  const read = (f: string): string => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').slice(-8).join('\n') : '');
  return `log:\n${read(path.join(tmp, `${instance}.log`))}\nout:\n${read(path.join(tmp, `${instance}.out`))}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Events of one reason on a pod, as the server holds them. */
function podEvents(key: string, reason: string): KObject[] {
  const [ns, name] = key.split('/');
  return server.objects('events', ns).filter((e) => {
    const o = e as { involvedObject?: { kind?: string; name?: string }; reason?: string };
    return o.involvedObject?.kind === 'Pod' && o.involvedObject.name === name && o.reason === reason;
  });
}

/** The agent's log lines (JSON), parsed. */
function agentLog(instance: string): { level: number; msg: string; [k: string]: unknown }[] {
  const file = path.join(tmp, `${instance}.log`);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string });
}


// ---- setup -------------------------------------------------------------------

beforeAll(async () => {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} missing: run make build`);
  deleteStaleNetns(PREFIX);
  removeStaleInstances();
  createNetns(NODE_NS);
  for (const s of SLOTS) {
    ip(['-n', NODE_NS, 'link', 'add', s.dev, 'type', 'veth', 'peer', 'name', s.peer]);
    ip(['-n', NODE_NS, 'link', 'set', s.dev, 'up']);
    ip(['-n', NODE_NS, 'link', 'set', s.peer, 'up']);
    ip(['-n', NODE_NS, 'route', 'add', `${s.v4}/32`, 'dev', s.dev]);
    ip(['-n', NODE_NS, '-6', 'route', 'add', `${s.v6}/128`, 'dev', s.dev]);
    const ifindex = ifindexIn(NODE_NS, s.dev);
    ifindexByIp.set(s.v4, ifindex);
    ifindexByIp.set(s.v6, ifindex);
  }
  server = new TestApiServer({ netns: NODE_NS });
  await server.start();
  kubeconfig = path.join(tmp, 'kubeconfig');
  server.writeKubeconfig(kubeconfig);
  server.setInstalled('virtualnetworks', true);
  server.setInstalled('virtualnetworkrouters', true);
});

afterAll(async () => {
  for (const instance of [...agents.keys()]) await stopAgent(instance);
  for (const tag of ['rand', 'kube', 'mf', 'ka']) cleanupInstance(INSTANCE(tag));
  await server?.close();
  deleteNetns(NODE_NS);
  fs.rmSync(tmp, { recursive: true, force: true });
});

// ---- the runs ------------------------------------------------------------------

describe('agent with the Kubernetes API source', () => {
  it(`converges to exactly the compiled state after ${CHANGES} random changes with faults in between`, async () => {
    const rnd = prng(SEED);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const chance = (p: number): boolean => rnd() < p;
    const nsNames = ['t0', 't1', 't2', 't3', 't4', 't5'];
    const vnNames = ['vn0', 'vn1', 'vn2'];
    const freeSlots = new Set(SLOTS.map((_, i) => i));
    let remote = 0;
    let podSeq = 0;

    const putNs = (name: string): void => {
      const n = model.namespaces.get(name)!;
      server.apply('namespaces', namespaceObj(name, n.labels, n.annotations));
    };
    const putPod = (p: MPod): void => void server.apply('pods', podApiObject(p));
    const deletePod = (key: string): void => {
      const p = model.pods.get(key)!;
      model.pods.delete(key);
      if (p.slot !== undefined) freeSlots.add(p.slot);
      server.remove('pods', p.name, p.ns);
    };
    const putVn = (key: string): void => void server.apply('virtualnetworks', virtualNetworkObj('default', key.split('/')[1]!, model.vns.get(key)));
    const networkTarget = (): string | undefined =>
      pick([
        undefined,
        `default/${pick(vnNames)}`, // may or may not exist: quarantine when it does not
        `${pick(nsNames)}/default-podnetwork`, // an isolated namespace's network, or nothing
        'default/default-podnetwork',
        'not a network',
      ]);
    const setNetwork = (annotations: Record<string, string>): void => {
      const t = networkTarget();
      if (t === undefined) delete annotations['vrfwall.dev/network'];
      else annotations['vrfwall.dev/network'] = t;
    };

    // The cluster before the agent starts.
    model.namespaces.set('default', { labels: {}, annotations: {} });
    model.namespaces.set('kube-system', { labels: {}, annotations: {} });
    putNs('default');
    putNs('kube-system');
    server.apply('nodes', nodeObj('node1', [NODE_ADDR.node1]));
    server.apply('nodes', nodeObj('node2', [model.node2]));

    const actions: Record<string, () => boolean> = {
      addNamespace: () => {
        const name = pick(nsNames);
        if (model.namespaces.has(name)) return false;
        const labels = pick<Record<string, string>>([{}, { 'vrfwall.dev/isolated': 'true' }, { 'core.juniper.net/isolated-namespace': 'true' }]);
        model.namespaces.set(name, { labels: { ...labels }, annotations: {} });
        putNs(name);
        return true;
      },
      deleteNamespace: () => {
        const name = pick(nsNames);
        if (!model.namespaces.has(name)) return false;
        for (const [key, p] of [...model.pods]) if (p.ns === name) deletePod(key); // as the namespace controller does
        model.namespaces.delete(name);
        server.remove('namespaces', name);
        return true;
      },
      toggleIsolation: () => {
        const name = pick(nsNames);
        const n = model.namespaces.get(name);
        if (n === undefined) return false;
        if (n.labels['vrfwall.dev/isolated'] === 'true') delete n.labels['vrfwall.dev/isolated'];
        else n.labels['vrfwall.dev/isolated'] = 'true';
        putNs(name);
        return true;
      },
      annotateNamespace: () => {
        const name = pick(nsNames);
        const n = model.namespaces.get(name);
        if (n === undefined) return false;
        setNetwork(n.annotations);
        putNs(name);
        return true;
      },
      addPod: () => {
        const ns = pick([...model.namespaces.keys()]);
        const kind = rnd();
        const name = `p${podSeq++}`;
        let p: MPod;
        if (kind < 0.4) {
          const slot = [...freeSlots][Math.floor(rnd() * freeSlots.size)];
          if (slot === undefined) return false;
          freeSlots.delete(slot);
          const s = SLOTS[slot]!;
          const dual = chance(0.5);
          p = { ns, name, node: 'node1', slot, ips: dual ? [s.v4, s.v6] : [s.v4], apiIps: dual ? [s.v4, s.v6Long] : [s.v4], phase: 'Running', hostNetwork: false, labels: {}, annotations: {} };
        } else if (kind < 0.9) {
          remote++;
          const v4 = `10.244.${2 + Math.floor(remote / 250)}.${remote % 250}`;
          p = { ns, name, node: 'node2', ips: [v4], apiIps: [v4], phase: 'Running', hostNetwork: false, labels: {}, annotations: {} };
        } else {
          p = { ns, name, node: 'node2', ips: [model.node2], apiIps: [model.node2], phase: 'Running', hostNetwork: true, labels: {}, annotations: {} };
        }
        if (chance(0.2)) p.phase = 'Pending';
        if (chance(0.3)) setNetwork(p.annotations);
        model.pods.set(`${ns}/${name}`, p);
        putPod(p);
        return true;
      },
      deletePod: () => {
        const key = pick([...model.pods.keys()]);
        if (key === undefined) return false;
        deletePod(key);
        return true;
      },
      startOrFinishPod: () => {
        const p = model.pods.get(pick([...model.pods.keys()]) ?? '');
        if (p === undefined || p.phase === 'Succeeded') return false;
        p.phase = p.phase === 'Pending' ? 'Running' : 'Succeeded';
        putPod(p);
        return true;
      },
      annotatePod: () => {
        const p = model.pods.get(pick([...model.pods.keys()]) ?? '');
        if (p === undefined) return false;
        setNetwork(p.annotations);
        putPod(p);
        return true;
      },
      relabelPod: () => {
        const p = model.pods.get(pick([...model.pods.keys()]) ?? '');
        if (p === undefined) return false;
        p.labels = { app: pick(['a', 'b', 'c']) };
        putPod(p);
        return true;
      },
      virtualNetwork: () => {
        const key = `default/${pick(vnNames)}`;
        if (model.vns.has(key) && chance(0.4)) {
          model.vns.delete(key);
          server.remove('virtualnetworks', key.split('/')[1]!, 'default');
        } else {
          model.vns.set(key, chance(0.5) ? { mesh: 'yes' } : {});
          putVn(key);
        }
        return true;
      },
      router: () => {
        model.router = !model.router;
        if (model.router) server.apply('virtualnetworkrouters', routerObj('default', 'mesh', { mesh: 'yes' }));
        else server.remove('virtualnetworkrouters', 'mesh', 'default');
        return true;
      },
      node2Address: () => {
        model.node2 = model.node2 === NODE_ADDR.node2 ? '192.168.50.3' : NODE_ADDR.node2;
        server.apply('nodes', nodeObj('node2', [model.node2]));
        return true;
      },
    };
    const weighted: [string, number][] = [
      ['addNamespace', 6], ['deleteNamespace', 2], ['toggleIsolation', 8], ['annotateNamespace', 5],
      ['addPod', 22], ['deletePod', 12], ['startOrFinishPod', 6], ['annotatePod', 10], ['relabelPod', 5],
      ['virtualNetwork', 5], ['router', 2], ['node2Address', 1],
    ];
    const total = weighted.reduce((n, [, w]) => n + w, 0);
    const counts: Record<string, number> = {};
    const change = (): void => {
      for (;;) {
        let r = rnd() * total;
        const name = weighted.find(([, w]) => (r -= w) < 0)?.[0] ?? 'addPod';
        if (actions[name]!()) {
          counts[name] = (counts[name] ?? 0) + 1;
          return;
        }
      }
    };
    const changes = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        change();
        await sleep(Math.floor(rnd() * 12));
      }
    };

    for (let i = 0; i < 15; i++) change(); // a populated cluster to start from
    const t0 = Date.now();
    const instance = INSTANCE('rand');
    // Watch sessions of 1-2 s, given up 2 s (the API timeout) after that when
    // the server has not ended them.
    startAgent(instance, ['--source', 'kube', '--kubeconfig', kubeconfig, '--api-timeout', '2', '--watch-session', '1']);
    const firstSyncMs = await converged(instance, 20_000);

    // API timeout 2 s: the stalls and hangs below last longer, so the watch
    // deadlines and the request timeouts have to act.
    const faults: Record<string, () => Promise<void>> = {
      drop: async () => server.dropConnections(),
      expireBreak: async () => server.expire({ breakWatches: true }),
      expireWhileAway: async () => {
        server.expiredWatch = chance(0.5) ? 'event' : 'http';
        server.down();
        await changes(5);
        server.expire();
        await server.up();
      },
      // Stalled streams never resume (nor end at their timeoutSeconds) and
      // hung requests are never answered: only the agent's watch deadlines
      // and request timeouts get it out of them.
      stall: async () => {
        server.stallStreams();
        await changes(5);
        // Past every stalled watch's deadline: its session (1-2 s) plus the API timeout (2 s).
        await sleep(4300);
      },
      hang: async () => {
        server.hangRequests(true);
        server.dropConnections();
        await changes(5);
        await sleep(2300);
        server.hangRequests(false);
      },
      restart: async () => {
        const down = server.restart({ downMs: 300 + Math.floor(rnd() * 1200), mode: chance(0.5) ? 'refuse' : 'reset' });
        await changes(5);
        await down;
      },
    };
    const faultNames = Object.keys(faults);
    const faultCounts: Record<string, number> = {};
    // Rounds of every fault kind in a random order: each kind occurs, in varying company.
    const schedule: string[] = [];
    const nextFault = (): string => {
      if (schedule.length === 0) schedule.push(...[...faultNames].sort(() => rnd() - 0.5));
      return schedule.shift()!;
    };
    // Every informer of the agent has its watch open again (after a fault, that
    // takes the backoff).
    const WATCHED = 8; // namespaces, pods, nodes, services, endpointslices, networkpolicies, virtualnetworks, virtualnetworkrouters
    let reconnectMs = 0;
    const reconnected = async (): Promise<void> => {
      const t = Date.now();
      while (server.watchCount < WATCHED && Date.now() - t < 5000) await sleep(20);
      reconnectMs += Date.now() - t;
    };
    let done = 0;
    let lastFault = '';
    while (done < CHANGES) {
      const n = 10 + Math.floor(rnd() * 15);
      await changes(n);
      done += n;
      // Mostly on live connections; sometimes on top of the recovery from the last fault.
      if (chance(0.6)) await reconnected();
      const f = nextFault();
      lastFault = f;
      faultCounts[f] = (faultCounts[f] ?? 0) + 1;
      await faults[f]!();
      done += f === 'drop' || f === 'expireBreak' ? 0 : 5;
    }
    await changes(10); // while the agent recovers from the last fault
    const runMs = Date.now() - t0;
    const settleMs = await converged(instance, 20_000);

    const { desired } = expected(instance);
    const eps = kernelImages(instance).endpoints.size;
    const quarantined = [...desired.placements.values()].filter((p) => p.kind === 'quarantine').length;
    const totalChanges = Object.values(counts).reduce((a, b) => a + b, 0);
    const totalFaults = Object.values(faultCounts).reduce((a, b) => a + b, 0);
    console.info(
      `seed ${SEED}: ${totalChanges} changes (${JSON.stringify(counts)}), ${totalFaults} faults (${JSON.stringify(faultCounts)}); ` +
        `first sync ${firstSyncMs} ms, run ${runMs} ms (${reconnectMs} ms of it waiting for the agent's watches to reopen), converged ${settleMs} ms after the last change (last fault: ${lastFault}); ` +
        `final: ${model.namespaces.size} namespaces, ${model.pods.size} pods, ${eps} endpoints, ${desired.attach.size} attached, ${quarantined} quarantined; ` +
        `server: ${server.requests('list', 'pods')} pod lists, ${server.requests('watch', 'pods')} pod watches, ${server.stats.abandoned.stalled} stalled watches and ${server.stats.abandoned.hung} hung requests given up by the agent`,
    );
    // The run did what it says: many changes, every kind of fault, a final state with substance.
    expect(totalChanges).toBeGreaterThanOrEqual(CHANGES);
    expect(Object.keys(faultCounts).sort()).toEqual([...faultNames].sort());
    expect(eps).toBeGreaterThan(5);
    expect(desired.attach.size).toBeGreaterThan(0);
    // Relists happened (410s), and watches were resumed far more often than lists were redone.
    expect(server.requests('list', 'pods')).toBeGreaterThan(1);
    expect(server.requests('watch', 'pods')).toBeGreaterThan(server.requests('list', 'pods'));
    // Silent streams and unanswered requests were given up by the agent itself.
    expect(server.stats.abandoned.stalled).toBeGreaterThan(0);
    expect(server.stats.abandoned.hung).toBeGreaterThan(0);
    // converged() has compared every map entry by entry; one more time, as the assertion of record.
    expect(imageDiff(expected(instance).images, kernelImages(instance))).toEqual([]);

    // Every pod of this node that ends quarantined has a Kubernetes Event on it, written by the agent.
    const local = [...desired.placements]
      .filter(([key, p]) => p.kind === 'quarantine' && model.pods.get(key)?.node === 'node1')
      .map(([key]) => key);
    const eventsFor = (key: string) => {
      const [ns, name] = key.split('/');
      return server
        .objects('events', ns)
        .filter((e) => {
          const o = (e as { involvedObject?: { kind?: string; name?: string }; reason?: string });
          return o.involvedObject?.kind === 'Pod' && o.involvedObject.name === name && o.reason === 'Quarantined';
        });
    };
    await timeUntil(() => local.every((k) => eventsFor(k).length > 0), 10_000, 'quarantine Events');
    for (const key of local) expect(eventsFor(key).length, key).toBeGreaterThan(0);
  }, 60_000);

  it('the same objects through the API and through local manifests end in identical maps', async () => {
    expect(model.pods.size).toBeGreaterThan(0); // the final state of the run above
    // Manifests and the lab file for the same objects.
    const dir = path.join(tmp, 'manifests');
    fs.mkdirSync(dir, { recursive: true });
    const docs: unknown[] = [];
    for (const [name, n] of model.namespaces) docs.push(namespaceObj(name, n.labels, n.annotations));
    for (const p of model.pods.values()) docs.push(podApiObject(p));
    for (const [key, labels] of model.vns) docs.push(virtualNetworkObj('default', key.split('/')[1]!, labels));
    if (model.router) docs.push(routerObj('default', 'mesh', { mesh: 'yes' }));
    // Only what a manifest says (no status): the lab file gives placements and addresses.
    const manifests = docs.map((d) => {
      const { status: _status, ...rest } = d as KObject;
      return JSON.stringify(rest);
    });
    fs.writeFileSync(path.join(dir, 'cluster.yaml'), manifests.join('\n---\n'));
    const pods: Record<string, { node: string; ips: string[] }> = {};
    for (const [key, p] of model.pods) if (p.phase === 'Running') pods[key] = { node: p.node, ips: p.apiIps };
    const labFile = path.join(tmp, 'lab.json');
    fs.writeFileSync(
      labFile,
      JSON.stringify({
        version: 1,
        podCIDRs: CONFIG.podCIDRs,
        serviceCIDRs: CONFIG.serviceCIDRs,
        nodes: [
          { name: 'node1', addresses: [NODE_ADDR.node1] },
          { name: 'node2', addresses: [model.node2] },
        ],
        pods,
      }),
    );

    const kube = INSTANCE('kube');
    const mf = INSTANCE('mf');
    startAgent(kube, ['--source', 'kube', '--kubeconfig', kubeconfig]);
    startAgent(mf, ['--manifests', dir, '--lab-file', labFile]);
    await converged(kube, 20_000);
    await converged(mf, 20_000);
    const a = kernelImages(kube);
    const b = kernelImages(mf);
    expect(imageDiff(a, b)).toEqual([]);
    expect(a.endpoints.size).toBeGreaterThan(5);
    expect(readStatus(kube)?.attached).toEqual(readStatus(mf)?.attached);
    // Fresh agents with equal inputs allocate equal VRF ids.
    expect(readAllocation(kube)).toEqual(readAllocation(mf));
  }, 60_000);

  it('a quarantined pod first seen unscheduled gets its Event from its node’s agent once the scheduler binds it', async () => {
    const kube = INSTANCE('kube'); // still running, synced (test above)
    expect(readStatus(kube)?.synced).toBe(true);
    // As a Deployment's pod appears: no node yet, Pending, a network that does not exist.
    const p: MPod = {
      ns: 'default', name: 'unsched', node: 'node1', ips: [], apiIps: [], phase: 'Pending', hostNetwork: false,
      labels: {}, annotations: { 'vrfwall.dev/network': 'default/no-such-network' },
    };
    const bound = podApiObject(p);
    const { nodeName: _node, ...specWithoutNode } = bound.spec as Record<string, unknown>;
    server.apply('pods', { ...bound, spec: specWithoutNode });
    await timeUntil(() => readStatus(kube)?.quarantined['default/unsched'] !== undefined, 10_000, 'the agent sees the pending pod quarantined');
    // A marker: a pod with the same problem, bound to this node, applied after it. Its Event is
    // written by the agent that has already judged the pending pod: once it is there, the
    // pending pod's absence is known, not waited for.
    const marker: MPod = { ...p, name: 'unsched-marker' };
    model.pods.set('default/unsched-marker', marker);
    server.apply('pods', podApiObject(marker));
    await timeUntil(() => podEvents('default/unsched-marker', 'Quarantined').length > 0, 10_000, 'Quarantined Event of the bound marker pod');
    expect(podEvents('default/unsched', 'Quarantined')).toEqual([]); // no node: nobody's to tell yet
    // The scheduler binds it to this node; the problem's text stays the same.
    model.pods.set('default/unsched', p);
    server.apply('pods', bound);
    await timeUntil(() => podEvents('default/unsched', 'Quarantined').length > 0, 10_000, 'Quarantined Event after binding');
    expect(podEvents('default/unsched', 'Quarantined')[0]).toMatchObject({
      type: 'Warning',
      message: expect.stringContaining('default/no-such-network'),
      source: { component: 'vrfwall-agent', host: 'node1' },
    });
    await converged(kube, 20_000);
  }, 60_000);

  it('a watch connection whose peer goes silent (packets dropped, no FIN, no RST) is given up by TCP keep-alive, without relist', async () => {
    for (const instance of [...agents.keys()]) await stopAgent(instance);
    const instance = INSTANCE('ka');
    // Long watch sessions (no deadline for minutes): only keep-alive can notice.
    startAgent(instance, ['--source', 'kube', '--kubeconfig', kubeconfig, '--api-timeout', '2', '--watch-session', '300']);
    await converged(instance, 20_000);
    await timeUntil(() => server.watchCount === 8, 5000, 'the agent’s watches open');
    const lists = server.requests('list', 'pods');
    const watches = server.requests('watch', 'pods');
    // A pod of node2: one more endpoint in the maps.
    const addRemotePod = (name: string, ip: string): void => {
      const p: MPod = { ns: 'default', name, node: 'node2', ips: [ip], apiIps: [ip], phase: 'Running', hostNetwork: false, labels: {}, annotations: {} };
      model.pods.set(`default/${name}`, p);
      server.apply('pods', podApiObject(p));
    };
    // Positive control: on live connections a change arrives at once.
    addRemotePod('ka1', '10.244.200.1');
    expect(await converged(instance, 5000)).toBeLessThan(1500);

    // The open watch connections go dead both ways, as when a NAT or a load
    // balancer loses them; new connections work.
    const ports = server.watchClientPorts();
    expect(ports).toHaveLength(8);
    const nft = (script: string): void => void execFileSync('ip', ['netns', 'exec', NODE_NS, 'nft', '-f', '-'], { input: script });
    const set = ports.join(', ');
    nft(
      [
        'table inet vrfwall_ka {',
        '  chain in {',
        '    type filter hook input priority 0; policy accept;',
        `    tcp sport ${server.port} tcp dport { ${set} } drop`,
        `    tcp dport ${server.port} tcp sport { ${set} } drop`,
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    try {
      const t0 = Date.now();
      addRemotePod('ka2', '10.244.200.2');
      const ms = await converged(instance, 30_000);
      // Keep-alive: 2 s idle, then 10 probes a second apart; the session deadline was minutes away.
      expect(ms).toBeGreaterThan(9000);
      expect(Date.now() - t0).toBeLessThan(25_000);
      expect(server.requests('watch', 'pods')).toBeGreaterThan(watches);
      expect(server.requests('list', 'pods')).toBe(lists); // resumed from its resourceVersion
      const failures = agentLog(instance).filter((l) => l.msg.includes('list/watch failed'));
      expect(failures.map((l) => String(l.err))).toContainEqual(expect.stringMatching(/ETIMEDOUT/));
      console.info(`dead watch connections given up by TCP keep-alive; the change arrived after ${ms} ms`);
    } finally {
      nft('delete table inet vrfwall_ka');
    }
  }, 60_000);

  it('the agents asked for nothing the shipped ClusterRole does not grant', () => {
    expect(server.stats.requests.get('create events') ?? 0).toBeGreaterThan(0);
    expect(server.stats.forbidden).toEqual([]);
  });
});

