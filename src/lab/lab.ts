// `vrfwall lab`: builds a real multi-node topology from a manifests directory
// (design section 6), runs responders in every pod, a kube-proxy equivalent
// (nftables DNAT per node: ClusterIPs, NodePorts, external IPs, and portmap's
// hostPorts), the cluster DNS and the `kubernetes` Service, starts one agent
// per node, probes the connectivity matrix (pods, Services, NodePorts,
// hostPorts, DNS), and removes it all.
//
// Decisions (see also ipam.ts and names.ts):
// - Nodes are named node1..nodeN; spec.nodeName must be one of them, other
//   pods are spread round-robin in "ns/name" order. Addresses are assigned per
//   node in "ns/name" order, so the same manifests give the same IPs.
// - Host-network pods get no namespace: they run in their node's namespace and
//   their IPs are the node's (10.244.i.1, fd00:10:244:i::1).
// - The set of pods is fixed at `lab up`. Label and annotation changes in the
//   directory take effect while the lab runs (the agents watch it); adding or
//   removing a Pod needs `lab down` + `lab up`.
// - All state lives in /run/vrfwall/lab/<lab>/ (state.json, cluster.json,
//   services.json, builtin/, logs); `lab down` also works without it, by
//   namespace prefix.
// - Every lab has kube-system/coredns (on node1) behind kube-dns at
//   10.96.0.10, and default/kubernetes at 10.96.0.1:443 -> node1:6443
//   (builtin.ts). A manifest may not define those three objects itself.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agentRunDirs, agentSpecs, launchAgent, stopAgents, waitAgentsReady, DEFAULT_AGENT_TIMEOUT_MS } from './agents.js';
import { POD_CIDRS, SERVICE_CIDRS } from './ipam.js';
import { BUILTIN_KEYS, controlPlane, dnsPodSpec, writeBuiltinManifests } from './builtin.js';
import { readLabManifests } from './manifests.js';
import { labMatrixFile, makeLabTls, startRelay } from './relay.js';
import { networkStatusOf, planAttachments } from './attachments.js';
import { run } from './exec.js';
import type { LabPodSpec } from './manifests.js';
import { probeMatrix } from './matrix.js';
import type { MatrixOptions } from './matrix.js';
import { PIN_ROOT, checkLabName, clusterFile, kubeProxyLogFile, labDir, servicesFile } from './names.js';
import { nodeAddresses, planLab } from './plan.js';
import type { CniMode, LabPlan } from './plan.js';
import { runs, terminate } from './procs.js';
import type { Matrix } from './protocol.js';
import { startApiserver, startReady, startResponder, stopResponders } from './responders.js';
import { dnsProbe, hostPortProbes, nodePortProbes, serviceProbes } from './services.js';
import type { LabServicesFile } from './services.js';
import { labExists, readState, writeJsonAtomic, writeState } from './state.js';
import type { LabState } from './state.js';
import { createTopology, deleteNetns, listLabNetns, netnsPids, planNetns } from './topology.js';
import type { LabClusterFile } from './cluster-file.js';
import { compareText } from '../util/order.js';

export const DEFAULT_LAB = 'lab';

export type LabLog = (message: string) => void;

export interface UpOptions {
  lab?: string;
  nodes?: number;
  /** start an agent per node (default true) */
  agent?: boolean;
  agentTimeoutMs?: number;
  /** pod wiring: ptp (default) or bridge */
  cni?: CniMode;
  signal?: AbortSignal;
  log?: LabLog;
}

const RESPONDER_STARTS_AT_ONCE = 8;
const SWEEP_GRACE_MS = 2_000;
const KUBE_PROXY_MARKER = 'kube-proxy.js';

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** `macs`: "ns/pod" -> interface -> MAC, of pods with attachments (for their network-status). */
export function clusterFileOf(plan: LabPlan, macs: Map<string, Map<string, string>> = new Map()): LabClusterFile {
  const pods: LabClusterFile['pods'] = {};
  for (const p of plan.pods) {
    const ips = [p.ips.v4, p.ips.v6];
    pods[p.key] = p.attachments === undefined ? { node: p.node, ips } : { node: p.node, ips, networkStatus: networkStatusOf(p, macs.get(p.key) ?? new Map()) };
  }
  // The secondary networks' subnets are the cluster's pod ranges too, as an
  // operator lists them with --pod-cidr (docs/networks-and-services.md): an
  // address there that no network-status reports is an unknown pod address
  // (UNKNOWN_ENDPOINT), not an outside one.
  const secondary = (plan.secondaryNetworks ?? []).flatMap((n) => [n.v4Subnet, n.v6Subnet].filter((c): c is string => c !== undefined));
  return {
    version: 1,
    podCIDRs: [...POD_CIDRS, ...secondary],
    serviceCIDRs: SERVICE_CIDRS,
    nodes: plan.nodes.map((n) => ({ name: n.name, addresses: nodeAddresses(n) })),
    pods,
  };
}

/**
 * Builds the lab. Input errors are thrown before anything is created; a
 * failure or abort midway removes everything made so far.
 */
export async function labUp(manifestsDir: string, opts: UpOptions = {}): Promise<LabState> {
  const lab = opts.lab ?? DEFAULT_LAB;
  const log = opts.log ?? (() => undefined);
  checkLabName(lab);
  const dir = path.resolve(manifestsDir);
  const manifests = readLabManifests(dir);
  for (const w of manifests.warnings) log(`warning: ${w.source}: ${w.message}`);
  const clash = [...manifests.pods.map((p) => p.key), ...manifests.services].filter((k) => BUILTIN_KEYS.includes(k));
  if (clash.length > 0) throw new Error(`${clash.join(', ')}: every lab makes these itself; remove them from ${dir}`);
  const { plan, warnings } = planAttachments(planLab(lab, opts.nodes ?? 1, withBuiltinPods(manifests.pods), opts.cni), manifests);
  for (const w of warnings) log(`warning: ${w}`);
  if (labExists(lab) || listLabNetns(lab).length > 0) {
    throw new Error(`lab "${lab}" already exists; remove it with: vrfwall lab down --name ${lab}`);
  }
  opts.signal?.throwIfAborted();

  const state: LabState = {
    version: 1,
    lab,
    phase: 'creating',
    createdAt: new Date().toISOString(),
    manifests: dir,
    clusterFile: clusterFile(lab),
    plan,
    namespaces: planNetns(plan),
    responders: [],
    agents: [],
  };
  try {
    writeState(state);
    writeBuiltinManifests(lab, controlPlane(plan));
    log(`creating ${plan.nodes.length} node(s) and ${plan.pods.length} pod(s)`);
    await createTopology(plan, opts.signal ? { signal: opts.signal } : {});
    opts.signal?.throwIfAborted();
    writeJsonAtomic(clusterFile(lab), clusterFileOf(plan, await attachedMacs(plan)));
    // kube-proxy first: it allocates ClusterIPs and writes the DNS records.
    state.kubeProxy = await startKubeProxy(lab, plan, opts.signal);
    writeState(state);
    const pids = await mapLimit(plan.pods, RESPONDER_STARTS_AT_ONCE, (p) => startResponder(lab, p, opts.signal));
    state.responders = plan.pods.map((p, i) => ({ pod: p.key, pid: pids[i] as number }));
    state.apiserver = await startApiserver(lab, controlPlane(plan), opts.signal);
    writeState(state);
    if (opts.agent !== false) {
      // The agents also listen on mutual TLS, for the lab's relay (lab-only certificates).
      const tls = makeLabTls(lab, plan.nodes[0]!);
      const started = agentSpecs(plan, dir).map((spec) => {
        const pid = launchAgent(spec);
        state.agents.push({ node: spec.node, instance: spec.instance, pid, logFile: spec.logFile });
        return { spec, pid };
      });
      writeState(state);
      log(`waiting for ${started.length} agent(s) and the relay`);
      // the relay starts while the agents sync (it reports nodes that do not answer yet)
      const relay = startRelay(plan, tls, opts.signal);
      relay.catch(() => undefined);
      await waitAgentsReady(started, opts.agentTimeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS, opts.signal);
      state.relay = await relay;
      writeState(state);
    }
    state.phase = 'up';
    writeState(state);
    return state;
  } catch (err) {
    log(`lab up failed, removing lab "${lab}"`);
    const kept = opts.signal?.aborted ? undefined : keepLogs(lab);
    await labDown(lab, { log }).catch((e: Error) => log(`cleanup: ${e.message}`));
    if (kept && err instanceof Error) err.message += `\n(lab logs kept in ${kept})`;
    throw err;
  }
}

/** The user's pods plus the lab's own (the cluster DNS), sorted by key as planLab wants. */
function withBuiltinPods(pods: LabPodSpec[]): LabPodSpec[] {
  return [...pods, dnsPodSpec()].sort((a, b) => compareText(a.key, b.key));
}

/** The MACs of the interfaces of pods with attachments, read from their namespaces (Multus reports them). */
async function attachedMacs(plan: LabPlan): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>();
  await mapLimit(
    plan.pods.filter((p) => p.attachments !== undefined),
    RESPONDER_STARTS_AT_ONCE,
    async (p) => {
      const { stdout } = await run('ip', ['-n', p.netns, '-j', 'link', 'show']);
      const links = JSON.parse(stdout) as { ifname: string; address?: string }[];
      out.set(p.key, new Map(links.filter((l) => l.address !== undefined).map((l) => [l.ifname, l.address as string])));
    },
  );
  return out;
}

function startKubeProxy(lab: string, plan: LabPlan, signal?: AbortSignal): Promise<number> {
  return startReady('kube-proxy', controlPlane(plan).netns, 'lab/kube-proxy.js', ['--lab', lab], kubeProxyLogFile(lab), signal);
}

/** Copies a failed lab's logs out of its run directory (which `down` removes). */
function keepLogs(lab: string): string | undefined {
  const src = labDir(lab);
  let logs: string[];
  try {
    logs = fs.readdirSync(src).filter((f) => /\.(log|out)$/.test(f));
  } catch {
    return undefined;
  }
  if (logs.length === 0) return undefined;
  const dest = path.join(os.tmpdir(), `vrfwall-lab-${lab}-logs`);
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true });
  for (const f of logs) fs.copyFileSync(path.join(src, f), path.join(dest, f));
  return dest;
}

export interface DownResult {
  namespaces: number;
  processes: number;
}

function removePath(p: string, errors: string[]): void {
  try {
    fs.rmSync(p, { recursive: true, force: true });
  } catch (err) {
    errors.push(`${p}: ${(err as Error).message}`);
  }
}

function pinDirs(lab: string): string[] {
  try {
    return fs
      .readdirSync(PIN_ROOT)
      .filter((d) => d.startsWith(`${lab}-`))
      .map((d) => path.join(PIN_ROOT, d));
  } catch {
    return [];
  }
}

/**
 * Removes everything of a lab: agents (SIGTERM, then SIGKILL), responders,
 * any other process in its namespaces, the namespaces, pins and run files.
 * Works from the state file if there is one and by name prefix regardless.
 */
export async function labDown(lab: string = DEFAULT_LAB, opts: { log?: LabLog } = {}): Promise<DownResult> {
  checkLabName(lab);
  const log = opts.log ?? (() => undefined);
  let state: LabState | undefined;
  try {
    state = readState(lab);
  } catch (err) {
    log(`ignoring unreadable state: ${(err as Error).message}`);
  }
  const errors: string[] = [];
  let processes = 0;
  if (state) {
    processes += state.agents.length + state.responders.length + (state.apiserver ? 1 : 0) + (state.relay ? 1 : 0);
    await stopAgents([...(state.relay ? [state.relay] : []), ...state.agents]);
    const helpers = [...state.responders.map((r) => r.pid), ...(state.apiserver ? [state.apiserver] : [])];
    await stopResponders(helpers);
    if (state.kubeProxy && runs(state.kubeProxy, KUBE_PROXY_MARKER)) {
      processes++;
      await terminate([state.kubeProxy], SWEEP_GRACE_MS);
    }
  }
  const namespaces = [...new Set([...(state?.namespaces ?? []), ...listLabNetns(lab)])].filter((ns) =>
    fs.existsSync(`/run/netns/${ns}`),
  );
  // Anything still running inside (a responder or agent not in the state file).
  const stray = (await Promise.all(namespaces.map(netnsPids))).flat();
  processes += stray.length;
  await terminate(stray, SWEEP_GRACE_MS);
  try {
    await deleteNetns(namespaces);
  } catch (err) {
    errors.push((err as Error).message);
  }
  for (const p of [...pinDirs(lab), ...agentRunDirs(lab), labDir(lab)]) removePath(p, errors);
  if (errors.length > 0) throw new Error(`lab down "${lab}" left things behind:\n${errors.join('\n')}`);
  return { namespaces: namespaces.length, processes };
}

/** Probes the running lab. */
export async function labMatrix(lab: string = DEFAULT_LAB, opts: MatrixOptions = {}): Promise<Matrix> {
  checkLabName(lab);
  const state = readState(lab);
  if (!state) throw new Error(`lab "${lab}" is not up (no state file); start it with: vrfwall lab up <dir> --name ${lab}`);
  if (state.phase !== 'up') throw new Error(`lab "${lab}" is still being created (or its creation failed)`);
  const missing = state.namespaces.filter((ns) => !fs.existsSync(`/run/netns/${ns}`));
  if (missing.length > 0) throw new Error(`lab "${lab}" is broken: namespaces gone: ${missing.join(', ')}`);
  let services: LabServicesFile;
  try {
    services = JSON.parse(fs.readFileSync(servicesFile(lab), 'utf8')) as LabServicesFile;
  } catch (err) {
    throw new Error(`lab "${lab}": no Services file from its kube-proxy (${(err as Error).message})`);
  }
  const dns = dnsProbe(services);
  const pods = state.plan.pods.filter((p) => p.builtin === undefined);
  const targets = {
    services: serviceProbes(services),
    nodePorts: nodePortProbes(services, state.plan.nodes),
    hostPorts: hostPortProbes(services, state.plan.nodes),
    ...(dns ? { dns } : {}),
  };
  const matrix = await probeMatrix(pods, targets, opts);
  // the relay's web UI shows the last one (written whole, then renamed: it never reads half a file)
  const file = labMatrixFile(lab);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(matrix));
  fs.renameSync(`${file}.tmp`, file);
  return matrix;
}

/** up, matrix, down — down also on failure or abort. */
export async function labRun(
  manifestsDir: string,
  opts: UpOptions & {
    matrix?: Omit<MatrixOptions, 'signal'>;
    /** runs after the matrix, while the lab is still up (e.g. show the agents' flows) */
    afterMatrix?: (lab: string, matrix: Matrix) => Promise<void>;
  } = {},
): Promise<Matrix> {
  const lab = opts.lab ?? DEFAULT_LAB;
  await labUp(manifestsDir, opts); // cleans up itself on failure
  try {
    const matrix = await labMatrix(lab, { ...opts.matrix, ...(opts.signal ? { signal: opts.signal } : {}) });
    await opts.afterMatrix?.(lab, matrix);
    return matrix;
  } finally {
    await labDown(lab, opts.log ? { log: opts.log } : {});
  }
}
