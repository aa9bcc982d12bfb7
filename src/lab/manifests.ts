// The pods the lab must create, read from the manifests directory the agents
// watch. Same file selection (recursive *.yaml/*.yml, names starting with "."
// skipped) and the same parser (src/sources/documents.ts) as the agent's
// manifest source, so the lab and the agents agree on which pods exist.
// Also what the lab needs to wire Multus attachments (issue 14): the
// VirtualNetworks' subnets and the NetworkAttachmentDefinitions, which the
// agents' parser does not read, so the lab reads their few fields itself.
import fs from 'node:fs';
import path from 'node:path';
import { parseDocuments } from '../sources/documents.js';
import { fastDocuments, fullDocuments, type DocResult } from '../sources/yaml.js';
import { NETWORKS_ANNOTATION } from '../model/multus.js';
import type { PodObject } from '../model/types.js';
import { compareText } from '../util/order.js';

export interface LabPodSpec {
  namespace: string;
  name: string;
  /** "ns/name" */
  key: string;
  nodeName?: string;
  hostNetwork: boolean;
  /** Declared container ports, in declaration order. */
  ports: { port: number; protocol: string }[];
  /** made by the lab itself (see builtin.ts), not by the manifests */
  builtin?: 'dns';
  /** the pod's `k8s.v1.cni.cncf.io/networks` annotation, as written */
  networks?: string;
}

/** A VirtualNetwork as far as the lab cares: where its secondary interfaces get addresses. */
export interface LabNetwork {
  /** "ns/name" */
  key: string;
  v4Subnet?: string;
  v6Subnet?: string;
}

/** A NetworkAttachmentDefinition (k8s.cni.cncf.io/v1): only what names its network. */
export interface LabAttachmentDefinition {
  namespace: string;
  name: string;
  annotations: Record<string, string>;
  /** spec.config says `"isGateway": false` (the bridge plugin's default, written out): the lab's bridge for its
   *  network holds no address, as the plugin leaves it. Anything else: the lab gives the bridge a gateway address. */
  noGateway: boolean;
  /** the bridge plugin's `bridge` (its default "cni0" when absent); undefined for other plugin types */
  bridge?: string;
}

/** What the lab reads of a NAD's CNI configuration (a list: its first plugin's). */
interface NadWiring {
  noGateway: boolean;
  bridge?: string;
}

/** "ns/name" of the NADs (also in Lists) -> what their CNI configuration says about the wiring. */
function nadWirings(docs: readonly DocResult[]): Map<string, NadWiring> {
  const out = new Map<string, NadWiring>();
  const visit = (v: unknown): void => {
    const o = v as { kind?: unknown; items?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
    if (o === null || typeof o !== 'object') return;
    if (o.kind === 'List' && Array.isArray(o.items)) o.items.forEach(visit);
    if (o.kind === 'NetworkAttachmentDefinition') {
      out.set(`${typeof o.metadata?.namespace === 'string' ? o.metadata.namespace : 'default'}/${String(o.metadata?.name)}`, wiringOf(o));
    }
  };
  for (const d of docs) if ('value' in d) visit(d.value);
  return out;
}

function wiringOf(doc: unknown): NadWiring {
  const config = (doc as { spec?: { config?: unknown } } | null)?.spec?.config;
  if (typeof config !== 'string') return { noGateway: false };
  try {
    const c = JSON.parse(config) as { type?: unknown; bridge?: unknown; isGateway?: unknown; plugins?: { type?: unknown; bridge?: unknown; isGateway?: unknown }[] };
    const main = Array.isArray(c.plugins) ? (c.plugins[0] ?? {}) : c;
    const bridge = main.type !== 'bridge' ? undefined : typeof main.bridge === 'string' ? main.bridge : 'cni0';
    return { noGateway: main.isGateway === false, ...(bridge !== undefined ? { bridge } : {}) };
  } catch {
    return { noGateway: false };
  }
}

export interface ManifestWarning {
  source: string;
  message: string;
}

export interface LabManifests {
  pods: LabPodSpec[];
  /** "ns/name" of every Service (the lab checks them against its built-in ones) */
  services: string[];
  /** documents the agent will also skip or warn about */
  warnings: ManifestWarning[];
  /** VirtualNetworks, sorted by key */
  networks: LabNetwork[];
  /** NetworkAttachmentDefinitions, sorted by "ns/name" */
  attachmentDefinitions: LabAttachmentDefinition[];
}

/** Manifest files under dir (absolute paths, sorted); each real directory once. */
function listManifestFiles(dir: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (abs: string) => {
    const real = fs.realpathSync(abs);
    if (seen.has(real)) return;
    seen.add(real);
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const child = path.join(abs, e.name);
      const st = e.isSymbolicLink() ? fs.statSync(child, { throwIfNoEntry: false }) : e;
      if (st?.isDirectory()) walk(child);
      else if (st?.isFile() && /\.ya?ml$/i.test(e.name)) out.push(child);
    }
  };
  walk(dir);
  return out.sort();
}

function specOf(pod: PodObject): LabPodSpec {
  const { name, namespace } = pod.metadata;
  return {
    namespace,
    name,
    key: `${namespace}/${name}`,
    ...(pod.spec.nodeName !== undefined ? { nodeName: pod.spec.nodeName } : {}),
    hostNetwork: pod.spec.hostNetwork,
    ports: pod.spec.ports.map((p) => ({ port: p.containerPort, protocol: p.protocol })),
    ...(pod.metadata.annotations[NETWORKS_ANNOTATION] !== undefined ? { networks: pod.metadata.annotations[NETWORKS_ANNOTATION] } : {}),
  };
}

/** Reads the Pods of a manifests directory, sorted by "ns/name". */
export function readLabManifests(dir: string): LabManifests {
  let files: string[];
  try {
    if (!fs.statSync(dir).isDirectory()) throw new Error('not a directory');
    files = listManifestFiles(dir);
  } catch (err) {
    throw new Error(`manifests directory ${dir}: ${(err as Error).message}`);
  }
  const pods = new Map<string, { spec: LabPodSpec; source: string; text: string }>();
  const warnings: ManifestWarning[] = [];
  const services = new Set<string>();
  const networks = new Map<string, LabNetwork>();
  const nads = new Map<string, LabAttachmentDefinition>();
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      warnings.push({ source: file, message: (err as Error).message });
      continue;
    }
    const docs = fastDocuments(text) ?? fullDocuments(text);
    const parsed = parseDocuments(docs, file);
    const wirings = nadWirings(docs);
    warnings.push(...parsed.problems);
    for (const { source, object } of parsed.objects) {
      if (object.kind === 'NetworkAttachmentDefinition') {
        const { namespace, name, annotations } = object.metadata;
        const w = wirings.get(`${namespace}/${name}`) ?? { noGateway: false };
        nads.set(`${namespace}/${name}`, { namespace, name, annotations, ...w });
      }
      if (object.kind === 'Service') services.add(`${object.metadata.namespace}/${object.metadata.name}`);
      if (object.kind === 'VirtualNetwork') {
        const key = `${object.metadata.namespace}/${object.metadata.name}`;
        const { v4Subnet, v6Subnet } = object.spec;
        networks.set(key, { key, ...(v4Subnet !== undefined ? { v4Subnet } : {}), ...(v6Subnet !== undefined ? { v6Subnet } : {}) });
      }
      if (object.kind !== 'Pod') continue;
      const spec = specOf(object);
      const same = JSON.stringify(object);
      const earlier = pods.get(spec.key);
      if (earlier && earlier.text !== same) {
        throw new Error(`Pod ${spec.key} is defined twice, differently: ${earlier.source} and ${source}`);
      }
      pods.set(spec.key, { spec, source, text: same });
    }
  }
  const sorted = [...pods.values()].map((p) => p.spec).sort((a, b) => compareText(a.key, b.key));
  const byKey = <T>(m: Map<string, T>): T[] => [...m.entries()].sort(([a], [b]) => compareText(a, b)).map(([, v]) => v);
  return { pods: sorted, services: [...services].sort(), warnings, networks: byKey(networks), attachmentDefinitions: byKey(nads) };
}
