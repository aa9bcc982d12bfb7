// The lab's cluster file: its stand-in for what an API server adds to the
// objects (the nodes, where each pod runs and its addresses, the ClusterIPs
// and node ports it allocated). The lab writes it atomically (tmp + rename);
// the agents the lab runs read and watch it through the manifest source's
// overlay (labOverlay), which completes the manifests' objects with it.
import fs from 'node:fs';
import { ConfigError } from '../agent/config.js';
import { canonicalCidr, canonicalIp, dottedQuad } from '../model/ip.js';
import { NETWORK_STATUS_ANNOTATION, parseNetworkStatus } from '../model/multus.js';
import { isDnsLabel, isDnsSubdomain } from '../model/placement.js';
import { namespacedKey, type NodeInfo, type ObjectMeta, type PodObject, type ServiceObject, type SourceProblem } from '../model/types.js';
import type { ManifestObject } from '../sources/documents.js';
import { textDigest } from '../sources/manifest-worker.js';
import type { ManifestOverlay } from '../sources/overlay.js';
import { compareText } from '../util/order.js';
import { errText } from '../util/errors.js';

export interface LabClusterFile {
  version: 1;
  podCIDRs: string[]; // e.g. ["10.244.0.0/16", "fd00:10:244::/48"]
  serviceCIDRs: string[]; // e.g. ["10.96.0.0/16", "fd00:10:96::/108"]
  nodes: { name: string; addresses: string[] }[];
  /** "ns/name" -> placement; pods absent here have no IP yet (not started).
   *  `networkStatus`: what Multus would write in the pod's
   *  k8s.v1.cni.cncf.io/network-status annotation (its eth0 with
   *  `default: true`, then one entry per secondary interface named
   *  "<nad-namespace>/<nad-name>"); only pods with Multus attachments. */
  pods: Record<string, { node: string; ips: string[]; networkStatus?: LabNetworkStatusEntry[] }>;
  /** "ns/name" -> ClusterIPs the lab's "apiserver" allocated (Services without
   *  spec.clusterIP in their manifest); absent for labs without Services. */
  services?: Record<string, { clusterIPs: string[] }>;
  /** "ns/name" -> "port/PROTO" -> nodePort the lab allocated (ports of NodePort
   *  and LoadBalancer Services without spec.ports[].nodePort in their manifest). */
  nodePorts?: Record<string, Record<string, number>>;
}

/** One entry of `k8s.v1.cni.cncf.io/network-status`, as Multus writes it. */
export interface LabNetworkStatusEntry {
  name: string;
  interface: string;
  ips: string[];
  mac?: string;
  default: boolean;
}

export interface LabPodEntry {
  node: string;
  ips: string[];
  /** the network-status annotation's text (JSON), when the file has one for the pod */
  networkStatus?: string;
}

export interface LabContent {
  nodes: Map<string, NodeInfo>;
  pods: Map<string, LabPodEntry>;
  /** "ns/name" -> canonical ClusterIPs the lab allocated */
  services: Map<string, string[]>;
  /** "ns/name" -> "port/PROTO" -> nodePort the lab allocated */
  nodePorts: Map<string, Map<string, number>>;
}

/** A Pod or Service as the lab completes it (addresses, node, ClusterIPs,
 *  node ports); other objects as they are. `prevPod`: the pod in the last
 *  snapshot, reused when nothing of it changed. */
export function completeFromLab(o: ManifestObject, lab: LabContent | undefined, prevPod: (key: string) => PodObject | undefined): ManifestObject {
  if (o.kind === 'Pod') return withLabInfo(o, namespacedKey(o.metadata.namespace, o.metadata.name), lab, prevPod);
  if (o.kind === 'Service') return withLabNodePorts(withLabClusterIPs(o, lab), lab);
  return o;
}

/** Where the lab runs the pod and its addresses; without a lab entry the
 *  pod has not started: no addresses, node as the manifest says. */
function withLabInfo(pod: PodObject, key: string, lab: LabContent | undefined, prevPod: (key: string) => PodObject | undefined): PodObject {
  const entry = lab?.pods.get(key);
  if (entry === undefined) return pod;
  if (entry.networkStatus !== undefined) return withNetworkStatus(pod, entry, entry.networkStatus, prevPod(key));
  // The same parsed pod with the same lab entry as in the last snapshot:
  // that pod object again (no copy per publish; an unchanged pod keeps its
  // identity, which is what the change sets compare first).
  const prev = prevPod(key);
  if (prev !== undefined && prev.metadata === pod.metadata && prev.status.podIPs === entry.ips && prev.spec.nodeName === entry.node && prev.spec.ports === pod.spec.ports && prev.spec.hostNetwork === pod.spec.hostNetwork) {
    return prev;
  }
  // Written out, not spread: `{ ...spec, nodeName }` gives every copy a
  // hidden class of its own in V8 (~250 bytes per pod). The manifest's spec
  // when it names the same node (one object less per pod).
  const { hostNetwork, ports } = pod.spec;
  const spec = pod.spec.nodeName === entry.node ? pod.spec : { nodeName: entry.node, hostNetwork, ports };
  return { kind: 'Pod', metadata: pod.metadata, spec, status: { podIPs: entry.ips } };
}

/** Metadata made by withNetworkStatus -> the manifest's metadata and the
 *  annotation it added, so an unchanged pod keeps its identity here too. */
const statusMetadata = new WeakMap<ObjectMeta, { source: ObjectMeta; status: string }>();

/** withLabInfo for a pod with a network-status entry (Multus attachments):
 *  the annotation set as Multus sets it, over any the manifest has. */
function withNetworkStatus(pod: PodObject, entry: LabPodEntry, status: string, prev: PodObject | undefined): PodObject {
  if (prev !== undefined) {
    const origin = statusMetadata.get(prev.metadata);
    if (origin !== undefined && origin.source === pod.metadata && origin.status === status && prev.status.podIPs === entry.ips && prev.spec.nodeName === entry.node && prev.spec.ports === pod.spec.ports && prev.spec.hostNetwork === pod.spec.hostNetwork) {
      return prev;
    }
  }
  const metadata = { ...pod.metadata, annotations: { ...pod.metadata.annotations, [NETWORK_STATUS_ANNOTATION]: status } };
  statusMetadata.set(metadata, { source: pod.metadata, status });
  const { hostNetwork, ports } = pod.spec;
  const spec = pod.spec.nodeName === entry.node ? pod.spec : { nodeName: entry.node, hostNetwork, ports };
  return { kind: 'Pod', metadata, spec, status: { podIPs: entry.ips } };
}

/** A Service whose manifest has no ClusterIP gets the one the lab's
 *  "apiserver" allocated (the lab file's `services`), as a real API server
 *  would fill spec.clusterIPs. Headless and ExternalName Services have none. */
function withLabClusterIPs(svc: ServiceObject, lab: LabContent | undefined): ServiceObject {
  if (svc.spec.clusterIPs.length > 0 || svc.spec.headless || svc.spec.type === 'ExternalName') return svc;
  const ips = lab?.services.get(`${svc.metadata.namespace}/${svc.metadata.name}`);
  if (ips === undefined || ips.length === 0) return svc;
  return { ...svc, spec: { ...svc.spec, clusterIPs: [...ips] } };
}

/** Ports of a NodePort or LoadBalancer Service without a nodePort in the
 *  manifest get the one the lab allocated (the lab file's `nodePorts`), as
 *  a real API server fills spec.ports[].nodePort. */
function withLabNodePorts(svc: ServiceObject, lab: LabContent | undefined): ServiceObject {
  if (svc.spec.type !== 'NodePort' && svc.spec.type !== 'LoadBalancer') return svc;
  const allocated = lab?.nodePorts.get(`${svc.metadata.namespace}/${svc.metadata.name}`);
  if (allocated === undefined || svc.spec.ports.every((p) => p.nodePort !== undefined)) return svc;
  const ports = svc.spec.ports.map((p) => {
    const n = p.nodePort ?? allocated.get(`${p.port}/${p.protocol}`);
    return n === undefined ? p : { ...p, nodePort: n };
  });
  return { ...svc, spec: { ...svc.spec, ports } };
}

type LabParse = { content?: LabContent; problems: SourceProblem[] };

/** The last parse: the same text parsed again (by another reader of the same
 *  file) costs nothing; with 100k pods a parse costs ~0.3 s. Callers treat
 *  the result as read-only. */
let lastLabParse: { file: string; digest: string; result: LabParse } | undefined;

/** Validate a lab file. `content` is undefined when the file as a whole cannot
 *  be used; single bad entries are skipped with a problem. */
export function parseLabFile(text: string, file: string): LabParse {
  const digest = textDigest(text);
  if (lastLabParse?.file === file && lastLabParse.digest === digest) return lastLabParse.result;
  const result = parseLabText(text, file);
  lastLabParse = { file, digest, result };
  return result;
}

/** A lab file's shape as a whole (what makes it unusable), without reading its entries. */
type LabWhole =
  | { problems: SourceProblem[] }
  | {
      nodes: unknown[];
      pods: Record<string, unknown>;
      services: Record<string, unknown> | undefined;
      nodePorts: Record<string, unknown> | undefined;
      podCidrs: string[];
      serviceCidrs: string[];
    };

function labWhole(text: string, file: string): LabWhole {
  const fail = (message: string): { problems: SourceProblem[] } => ({ problems: [{ source: file, message }] });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return fail(`not JSON: ${errText(e)}`);
  }
  if (!isRecord(raw)) return fail('not a JSON object');
  if (raw.version !== 1) return fail(`version ${JSON.stringify(raw.version)} is not supported (expected 1)`);
  const { nodes, pods, podCIDRs, serviceCIDRs, services, nodePorts } = raw;
  if (!Array.isArray(nodes)) return fail('"nodes" must be a list');
  if (!isRecord(pods)) return fail('"pods" must be an object');
  if (services !== undefined && !isRecord(services)) return fail('"services" must be an object');
  if (nodePorts !== undefined && !isRecord(nodePorts)) return fail('"nodePorts" must be an object');
  const podCidrs = cidrList(podCIDRs);
  const serviceCidrs = cidrList(serviceCIDRs);
  if (podCidrs === undefined) return fail('"podCIDRs" must be a list of CIDRs');
  if (serviceCidrs === undefined) return fail('"serviceCIDRs" must be a list of CIDRs');
  // (checked above: an object or absent)
  return { nodes, pods, services: services as Record<string, unknown> | undefined, nodePorts: nodePorts as Record<string, unknown> | undefined, podCidrs, serviceCidrs };
}

/** A lab file's CIDRs, or why the file cannot be used (the problems
 *  parseLabFile reports then), without reading its pods: the agent's
 *  configuration reads it before anything starts, and the source reads the
 *  whole file later, while the BPF objects load and the manifests parse. */
export function labFileCidrs(text: string, file: string): { podCIDRs: string[]; serviceCIDRs: string[] } | { problems: SourceProblem[] } {
  const whole = labWhole(text, file);
  return 'problems' in whole ? whole : { podCIDRs: whole.podCidrs, serviceCIDRs: whole.serviceCidrs };
}

/** The lab's agents take the cluster's ranges from the lab file unless a
 *  setting gives them; a file that cannot give them is a configuration error. */
export function labFileCidrsOf(file: string): { podCIDRs: string[]; serviceCIDRs: string[] } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError('lab-file', `--lab-file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const cidrs = labFileCidrs(text, file);
  if ('problems' in cidrs) throw new ConfigError('lab-file', `--lab-file: ${cidrs.problems.map((p) => p.message).join('; ')}`);
  return cidrs;
}

function parseLabText(text: string, file: string): LabParse {
  const problems: SourceProblem[] = [];
  const whole = labWhole(text, file);
  if ('problems' in whole) return whole;
  const { nodes, pods, services, nodePorts } = whole;

  const ips = (list: unknown, where: string): string[] => {
    const out: string[] = []; // a pod has one or two: a list beats a Set
    for (const a of Array.isArray(list) ? list : []) {
      const c = typeof a === 'string' ? canonicalIp(a) : undefined;
      if (c === undefined) problems.push({ source: `${file} ${where}`, message: `${JSON.stringify(a)} is not an IP address; skipped` });
      else if (!out.includes(c)) out.push(c);
    }
    return out.slice(); // exact size: push leaves room for 16 more, kept per pod
  };
  // A lab has few namespaces and nodes and many pods: check each name once.
  const dnsLabel = memo(isDnsLabel);
  const dnsSubdomain = memo(isDnsSubdomain);

  const nodeMap = new Map<string, NodeInfo>();
  nodes.forEach((n: unknown, i: number) => {
    if (!isRecord(n) || typeof n.name !== 'string' || !isDnsSubdomain(n.name) || !Array.isArray(n.addresses)) {
      const message = 'expected {"name": <DNS name>, "addresses": [...]}; skipped';
      problems.push({ source: `${file} nodes[${i}]`, message });
      return;
    }
    if (nodeMap.has(n.name)) {
      problems.push({ source: `${file} nodes[${i}]`, message: `node ${n.name} listed twice; skipped` });
      return;
    }
    nodeMap.set(n.name, { name: n.name, addresses: ips(n.addresses, `node ${n.name}`) });
  });

  const podMap = new Map<string, LabPodEntry>();
  // The common pod (one valid IPv4 address) without a list per pod: the
  // lists of 100,000 pods cost ~0.1 s of a sync, and so did splitting keys.
  const onlyIp = (list: unknown[]): string | undefined => {
    const a = list.length === 1 ? list[0] : undefined;
    return typeof a === 'string' && dottedQuad(a) !== undefined ? a : undefined;
  };
  const readPod = (key: string, v: unknown): void => {
    const slash = key.indexOf('/');
    const ns = slash < 0 ? '' : key.slice(0, slash);
    const name = slash < 0 ? '' : key.slice(slash + 1);
    if (slash < 0 || name.includes('/') || !dnsLabel(ns) || !isDnsLabel(name)) {
      problems.push({ source: `${file} pods`, message: `${JSON.stringify(key)} is not "<namespace>/<pod>"; skipped` });
      return;
    }
    if (!isRecord(v) || typeof v.node !== 'string' || !dnsSubdomain(v.node) || !Array.isArray(v.ips)) {
      problems.push({ source: `${file} pods[${key}]`, message: 'expected {"node": <DNS name>, "ips": [...]}; skipped' });
      return;
    }
    const one = onlyIp(v.ips);
    const entry: LabPodEntry = { node: v.node, ips: one !== undefined ? [one] : ips(v.ips, `pods[${key}]`) };
    if (v.networkStatus !== undefined) {
      // Checked as the agent will read the annotation; a bad list is dropped, the pod kept.
      const text = JSON.stringify(v.networkStatus);
      const parsed = Array.isArray(v.networkStatus) ? parseNetworkStatus(text) : { error: 'not a list' };
      if ('error' in parsed) problems.push({ source: `${file} pods[${key}].networkStatus`, message: `${parsed.error}; skipped` });
      else entry.networkStatus = text;
    }
    podMap.set(key, entry);
  };
  // In the file's order (looked up by key only; sorting 100,000 keys cost
  // ~0.1 s of a sync); their problems are reported in key order all the same.
  const podProblems: [string, SourceProblem][] = [];
  for (const key of Object.keys(pods)) {
    const had = problems.length;
    readPod(key, (pods as Record<string, unknown>)[key]);
    if (problems.length > had) for (const p of problems.splice(had)) podProblems.push([key, p]);
  }
  podProblems.sort(([a], [b]) => compareText(a, b));
  for (const [, p] of podProblems) problems.push(p);
  const serviceMap = new Map<string, string[]>();
  for (const key of Object.keys(services ?? {}).sort()) {
    const v = (services ?? {})[key];
    const [ns, name, ...rest] = key.split('/');
    if (ns === undefined || name === undefined || rest.length > 0 || !isDnsLabel(ns) || !isDnsLabel(name)) {
      problems.push({ source: `${file} services`, message: `${JSON.stringify(key)} is not "<namespace>/<service>"; skipped` });
      continue;
    }
    if (!isRecord(v) || !Array.isArray(v.clusterIPs)) {
      problems.push({ source: `${file} services[${key}]`, message: 'expected {"clusterIPs": [...]}; skipped' });
      continue;
    }
    serviceMap.set(key, ips(v.clusterIPs, `services[${key}]`));
  }
  const nodePortMap = new Map<string, Map<string, number>>();
  for (const key of Object.keys(nodePorts ?? {}).sort()) {
    const v = (nodePorts ?? {})[key];
    const [ns, name, ...rest] = key.split('/');
    if (ns === undefined || name === undefined || rest.length > 0 || !isDnsLabel(ns) || !isDnsLabel(name)) {
      problems.push({ source: `${file} nodePorts`, message: `${JSON.stringify(key)} is not "<namespace>/<service>"; skipped` });
      continue;
    }
    if (!isRecord(v)) {
      problems.push({ source: `${file} nodePorts[${key}]`, message: 'expected {"<port>/<PROTOCOL>": <nodePort>, ...}; skipped' });
      continue;
    }
    const slots = new Map<string, number>();
    for (const [slot, n] of Object.entries(v)) {
      if (!/^[0-9]{1,5}\/(TCP|UDP|SCTP)$/.test(slot) || typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
        problems.push({ source: `${file} nodePorts[${key}]`, message: `${JSON.stringify(slot)}: ${JSON.stringify(n)} is not "<port>/<PROTOCOL>": <port number>; skipped` });
        continue;
      }
      slots.set(slot, n);
    }
    nodePortMap.set(key, slots);
  }
  return { content: { nodes: nodeMap, pods: podMap, services: serviceMap, nodePorts: nodePortMap }, problems };
}

function memo(check: (s: string) => boolean): (s: string) => boolean {
  const known = new Map<string, boolean>();
  return (s) => {
    let ok = known.get(s);
    if (ok === undefined) known.set(s, (ok = check(s)));
    return ok;
  };
}

function cidrList(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: string[] = [];
  for (const c of v) {
    if (typeof c !== 'string' || canonicalCidr(c) === undefined) return undefined;
    out.push(c);
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The manifest source's overlay for a lab cluster file. */
export function labOverlay(file: string): ManifestOverlay {
  let content: LabContent | undefined;
  return {
    file,
    kinds: ['Pod', 'Service'],
    load(text) {
      if (text === undefined) {
        content = undefined;
        return [];
      }
      const result = parseLabFile(text, file);
      if (result.content === undefined) {
        return [...result.problems, ...(content !== undefined ? [{ source: file, message: 'keeping its last good content' }] : [])];
      }
      content = result.content;
      return result.problems;
    },
    complete: (o, prevPod) => completeFromLab(o, content, prevPod),
    nodes: () => content?.nodes,
  };
}
