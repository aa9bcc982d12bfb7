// One agent's initial sync, as part 3 of `make bench` times it, without the
// rest of the part: for A/B comparisons of the agent's start between two
// builds, and for profiles of it.
//
//   node bench/agent-sync.mjs manifests <dir from source-sync.mjs generate> [<repo>] [<runs>]
//   node bench/agent-sync.mjs kube <pods> [<repo>] [<runs>]
//
// The agent (<repo>/dist/cli/main.js agent, default this repository) runs in a
// network namespace of its own (vrfwall-agentsync-<pid>, removed at the end;
// AGENT_SYNC_NAME replaces agentsync in it and in the instance name);
// with kube the test API server (this repo's build/bench, after
// `tsc -p bench/tsconfig.json`; 1,000 namespaces, pods on node2, lists in pages)
// runs in this process on that namespace's loopback, as in part 3. Timed: spawn
// -> status.json says synced; then the endpoints and networks maps are read
// back from the kernel and must hold every pod; the agent's CPU time (all
// threads) up to then is printed beside. AGENT_NODE_ARGS adds node
// flags to the agent (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"). The
// agent's log lines with their time since spawn are printed with AGENT_LOG=1
// (but the 'pod placed' ones). AGENT_CHANGES=<n>: then, as part 3 does, n
// namespace isolation labels toggled one after another (namespace.yaml
// rewritten, or the Namespace replaced in the API server), each timed until
// the pinned endpoints map shows the namespace's pod with its new VRF id.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const [kind, arg, repoArg, runsArg] = process.argv.slice(2);
if (kind !== 'manifests' && kind !== 'kube') throw new Error('usage: agent-sync.mjs manifests <dir> | kube <pods> [<repo>] [<runs>]');
const repo = path.resolve(repoArg ?? path.join(here, '..'));
const runs = Number(runsArg ?? 1);
// AGENT_SYNC_NAME: the start of the instance and netns names (default agentsync)
const name = `${process.env.AGENT_SYNC_NAME ?? 'agentsync'}-${process.pid}`;
const netns = `vrfwall-${name}`;
const instance = name;
const pinDir = path.join('/sys/fs/bpf/vrfwall', instance);
const runDir = path.join('/run/vrfwall', instance);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsync-'));
const nodeArgs = (process.env.AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const { native } = await import(path.join(here, '../dist/kernel/native.js'));

/** CPU time (user + system) a process has used so far, ms: less sensitive to a busy machine than the wall time. */
function cpuMs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

function cleanupState() {
  fs.rmSync(pinDir, { recursive: true, force: true });
  fs.rmSync(runDir, { recursive: true, force: true });
}

function mapCount(name) {
  const fd = native().objGet(path.join(pinDir, 'maps', name));
  try {
    return native().mapDump(fd).count;
  } finally {
    native().closeFd(fd);
  }
}

const CHANGES = Number(process.env.AGENT_CHANGES ?? 0);
const podIp = (i) => `10.${128 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}`;

/** Part 3's change latency: ms per change, p50 / p99 / max. */
async function changeLatency(change) {
  const abi = await import(path.join(here, '../dist/kernel/abi.js'));
  const n = native();
  const fd = n.objGet(path.join(pinDir, 'maps', 'endpoints'));
  const isolated = new Set();
  const ms = [];
  try {
    for (let i = 0; i < CHANGES; i++) {
      const k = i % 1000;
      const key = abi.encodeEndpointKey(podIp(k)); // pod p<k> lives in namespace k
      const vrfBefore = abi.decodeEndpoint(n.mapLookup(fd, key)).vrfId;
      const iso = !isolated.has(k);
      const t0 = performance.now();
      change(k, iso);
      if (iso) isolated.add(k);
      else isolated.delete(k);
      for (;;) {
        const v = n.mapLookup(fd, key);
        if (v && abi.decodeEndpoint(v).vrfId !== vrfBefore) break;
        if (performance.now() - t0 > 10_000) throw new Error(`change ${i} not in the map after 10 s`);
        await sleep(1);
      }
      ms.push(performance.now() - t0);
      await sleep(5);
    }
  } finally {
    n.closeFd(fd);
  }
  ms.sort((a, b) => a - b);
  const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))].toFixed(1);
  return `${CHANGES} changes: p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${ms.at(-1).toFixed(1)} ms`;
}

/** The lab's agent (dist/lab/main.js) for a lab cluster file; repositories
 *  from before the lab became a program of its own take --lab-file in `vrfwall agent`. */
function agentProgram(sourceArgs) {
  const lab = path.join(repo, 'dist/lab/main.js');
  return sourceArgs.includes('--lab-file') && fs.existsSync(lab) ? lab : path.join(repo, 'dist/cli/main.js');
}

async function oneRun(sourceArgs, pods, change) {
  cleanupState();
  const logFile = path.join(work, 'agent.log');
  fs.rmSync(logFile, { force: true });
  const args = [
    `--net=/run/netns/${netns}`, '--', process.execPath, ...nodeArgs, agentProgram(sourceArgs), 'agent',
    '--node-name', 'node1', ...sourceArgs, '--instance', instance, '--max-endpoints', '262144', '--resync', '600', '--log-file', logFile,
  ];
  const t0 = performance.now();
  const wall0 = Date.now();
  const child = spawn('nsenter', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((r) => child.on('exit', r));
  let ms;
  let cpu;
  for (;;) {
    let st;
    try {
      st = JSON.parse(fs.readFileSync(path.join(runDir, 'status.json'), 'utf8'));
    } catch {
      /* not yet */
    }
    if (st?.synced && st.pid === child.pid) {
      ms = performance.now() - t0;
      cpu = cpuMs(child.pid);
      break;
    }
    if (child.exitCode !== null) {
      const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join('\n') : '(no log)';
      throw new Error(`agent exited ${child.exitCode} before it synced; its log ends:\n${tail}`);
    }
    if (performance.now() - t0 > 120_000) throw new Error('agent not synced after 120 s');
    await sleep(2);
  }
  const endpoints = mapCount('endpoints');
  const networks = mapCount('networks');
  if (endpoints < pods || networks < 1) throw new Error(`synced with ${endpoints} endpoints, ${networks} networks for ${pods} pods`);
  let latency = '';
  if (CHANGES > 0) {
    await sleep(500); // as part 3: the first reconcile's follow-ups out of the way
    latency = `; ${await changeLatency(change)}`;
  }
  await sleep(300); // the log is written asynchronously
  child.kill('SIGTERM');
  await exited;
  const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const first = lines.find((l) => l.msg === 'reconciled' && l.generation === 1);
  console.log(`${kind} ${repo}: ${pods} pods, spawn -> synced ${Math.round(ms)} ms, CPU ${cpu} ms (first reconcile ${first?.ms ?? '?'} ms), maps read back: ${endpoints} endpoints, ${networks} networks${latency}`);
  if (process.env.AGENT_LOG === '1') {
    for (const l of lines) if (l.msg !== "pod placed") console.log(`  +${l.time - wall0} ms ${l.msg}`);
  }
  cleanupState();
}

execFileSync('ip', ['netns', 'add', netns]);
try {
  execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  if (kind === 'manifests') {
    const pods = Object.keys(JSON.parse(fs.readFileSync(path.join(arg, 'cluster.json'), 'utf8')).pods).length;
    const nsFile = (k) => path.join(arg, 'manifests', `cp-ns${k}`, 'namespace.yaml');
    const write = (k, iso) => fs.writeFileSync(nsFile(k), `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cp-ns${k}\n${iso ? '  labels:\n    vrfwall.dev/isolated: "true"\n' : ''}`);
    try {
      for (let i = 0; i < runs; i++) await oneRun(['--manifests', path.join(arg, 'manifests'), '--lab-file', path.join(arg, 'cluster.json')], pods, write);
    } finally {
      if (CHANGES > 0) for (let k = 0; k < 1000; k++) if (fs.existsSync(nsFile(k))) write(k, false); // the tree as generated
    }
  } else {
    const pods = Number(arg);
    const { TestApiServer } = await import(path.join(here, '../build/bench/test/helpers/apiserver.js'));
    const { namespaceObj, nodeObj, podObj } = await import(path.join(here, '../build/bench/test/helpers/kube-objects.js'));
    for (let i = 0; i < runs; i++) {
      const s = new TestApiServer({ netns });
      await s.start();
      try {
        s.setInstalled('virtualnetworks', true);
        s.setInstalled('virtualnetworkrouters', true);
        s.apply('namespaces', namespaceObj('default'));
        s.apply('nodes', nodeObj('node1', ['192.168.77.1']));
        s.apply('nodes', nodeObj('node2', ['192.168.77.2']));
        for (let k = 0; k < 1000; k++) s.apply('namespaces', namespaceObj(`cp-ns${k}`));
        for (let j = 0; j < pods; j++) s.apply('pods', podObj(`cp-ns${j % 1000}`, `p${j}`, { node: 'node2', ips: [podIp(j)] }));
        const kc = path.join(work, 'kubeconfig');
        s.writeKubeconfig(kc);
        const put = (k, iso) => void s.apply('namespaces', namespaceObj(`cp-ns${k}`, iso ? { 'vrfwall.dev/isolated': 'true' } : {}));
        await oneRun(['--source', 'kube', '--kubeconfig', kc, '--pod-cidr', '10.128.0.0/9', '--service-cidr', '10.96.0.0/16'], pods, put);
      } finally {
        await s.close();
      }
    }
  }
} finally {
  cleanupState();
  execFileSync('ip', ['netns', 'del', netns]);
  fs.rmSync(work, { recursive: true, force: true });
}
process.exit(0);
