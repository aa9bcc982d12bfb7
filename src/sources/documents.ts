// Kubernetes YAML text -> typed objects. Pure: the caller reads files.
//
// One parser per kind (KIND_PARSERS), so later kinds (Service,
// VirtualNetwork, VirtualNetworkRouter) are one entry each. A document that
// cannot be used becomes a problem naming the file and document; the other
// documents of the file are still returned.
import ipaddr from 'ipaddr.js';
import { canonicalCidr, canonicalIp } from '../model/ip.js';
import { isDnsLabel, isDnsSubdomain } from '../model/placement.js';
import { fastDocuments, fullDocuments, type DocResult } from './yaml.js';
import type {
  ContainerPort,
  EndpointSliceObject,
  L4Protocol,
  LabelSelector,
  LabelSelectorRequirement,
  NamespaceObject,
  NetworkApiGroup,
  NetworkAttachmentDefinitionObject,
  NetworkPolicyObject,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  NetworkPolicyRule,
  ObjectMeta,
  PolicyType,
  PodObject,
  RouterImport,
  ServiceObject,
  ServicePort,
  SourceProblem,
  VirtualNetworkObject,
  VirtualNetworkRouterObject,
} from '../model/types.js';

export type ManifestObject =
  | NamespaceObject
  | PodObject
  | VirtualNetworkObject
  | VirtualNetworkRouterObject
  | ServiceObject
  | EndpointSliceObject
  | NetworkAttachmentDefinitionObject
  | NetworkPolicyObject;

/** Identity of an object across files: "Namespace/x", "Pod/ns/name", ...
 *  VirtualNetwork and VirtualNetworkRouter are one identity whatever their
 *  API group: the same network written under both groups is one network. */
export function objectKey(o: ManifestObject): string {
  return o.kind === 'Namespace' ? `Namespace/${o.metadata.name}` : `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
}

export interface ParsedDocuments {
  objects: { source: string; object: ManifestObject }[];
  /** Documents that could not be used, and accepted oddities (warnings). */
  problems: SourceProblem[];
  /** True when some document was dropped (not just warned about). */
  lostContent: boolean;
  /** Names of Namespace documents that were dropped although their name could
   *  be read: their isolation labels are unknown. */
  brokenNamespaces: string[];
  /** Documents of kinds this source does not handle. */
  ignored: { source: string; apiVersion: string; kind: string }[];
}

/** Why an object was refused; `namespace` set when a Namespace's name was readable. */
class Invalid extends Error {
  constructor(
    message: string,
    readonly namespace?: string,
  ) {
    super(message);
  }
}

/**
 * Shared by every object that has none, frozen so nothing can add to them:
 * most pods of a large cluster have no annotations and no ports, and an
 * empty object or list of their own costs ~50 bytes each (issue 13: memory
 * that grows with what vrfwall uses).
 */
export const NO_STRINGS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NO_PORTS = Object.freeze([]) as unknown as ContainerPort[];
export const NO_IPS = Object.freeze([]) as unknown as string[];
const NO_POD_STATUS = Object.freeze({ podIPs: NO_IPS }) as PodObject['status'];

type Obj = Record<string, unknown>;
type Warn = (message: string) => void;
type KindParser = (doc: Obj, warn: Warn) => ManifestObject;

const KIND_PARSERS: Record<string, KindParser> = {
  Namespace: parseNamespace,
  Pod: parsePod,
  VirtualNetwork: parseVirtualNetwork,
  VirtualNetworkRouter: parseVirtualNetworkRouter,
  Service: parseService,
  EndpointSlice: parseEndpointSlice,
  NetworkAttachmentDefinition: parseNetworkAttachmentDefinition,
  NetworkPolicy: parseNetworkPolicy,
};

/**
 * Parse a multi-document YAML text. `file` names the file in problems:
 * "<file>#<n>" is the n-th document (1-based), "<file>#<n>/items/<i>" the
 * i-th item (0-based, as in the YAML) of a `kind: List`.
 */
export function parseManifests(text: string, file: string): ParsedDocuments {
  return parseDocuments(fastDocuments(text) ?? fullDocuments(text), file);
}

/** parseManifests after the YAML reading (e.g. done by the parse worker). */
export function parseDocuments(docs: readonly DocResult[], file: string): ParsedDocuments {
  const out: ParsedDocuments = { objects: [], problems: [], lostContent: false, brokenNamespaces: [], ignored: [] };
  docs.forEach((doc, i) => {
    const source = `${file}#${i + 1}`;
    if ('error' in doc) {
      out.problems.push({ source, message: `YAML error: ${doc.error}` });
      out.lostContent = true;
      return;
    }
    const value = doc.value;
    if (value === null || value === undefined) return; // empty document, e.g. a trailing '---'
    if (isObj(value) && value.kind === 'List' && value.apiVersion === 'v1') {
      if (!Array.isArray(value.items)) {
        out.problems.push({ source, message: 'kind List without an items array' });
        out.lostContent = true;
        return;
      }
      value.items.forEach((item: unknown, j: number) => parseObject(item, `${source}/items/${j}`, out));
      return;
    }
    parseObject(value, source, out);
  });
  return out;
}

function parseObject(value: unknown, source: string, out: ParsedDocuments): void {
  const refuse = (message: string): void => {
    out.problems.push({ source, message });
    out.lostContent = true;
  };
  if (!isObj(value)) return refuse('not a Kubernetes object (expected a mapping)');
  const { kind, apiVersion } = value;
  if (typeof kind !== 'string' || kind === '') return refuse('no kind');
  if (typeof apiVersion !== 'string' || apiVersion === '') return refuse(`${kind} without apiVersion`);
  const parser = KIND_PARSERS[kind];
  if (parser === undefined) {
    out.ignored.push({ source, apiVersion, kind });
    return;
  }
  const warnings: string[] = [];
  try {
    const object = parser(value, (m) => warnings.push(m));
    out.objects.push({ source, object });
    for (const message of warnings) out.problems.push({ source, message });
  } catch (e) {
    if (!(e instanceof Invalid)) throw e;
    refuse(`${kind}: ${e.message}`);
    if (e.namespace !== undefined) out.brokenNamespaces.push(e.namespace);
  }
}

function parseNamespace(doc: Obj, warn: Warn): NamespaceObject {
  requireCoreV1(doc);
  const meta = asObj(doc.metadata, 'metadata');
  const name = meta.name;
  if (typeof name !== 'string' || !isDnsLabel(name)) {
    throw new Invalid(`metadata.name ${JSON.stringify(name)} is not a DNS label`);
  }
  try {
    return { kind: 'Namespace', metadata: objectMeta(meta, name, undefined, warn) };
  } catch (e) {
    // The name is known: let the caller withhold this namespace instead of
    // letting its pods fall into an unlabelled (open) namespace.
    if (e instanceof Invalid) throw new Invalid(e.message, name);
    throw e;
  }
}

function parsePod(doc: Obj, warn: Warn): PodObject {
  requireCoreV1(doc);
  const meta = asObj(doc.metadata, 'metadata');
  const name = meta.name;
  // Kubernetes names pods with DNS subdomains (dots allowed); a pod refused
  // here would get no endpoint, so its traffic would be dropped.
  if (typeof name !== 'string' || !isDnsSubdomain(name)) {
    throw new Invalid(`metadata.name ${JSON.stringify(name)} is not a DNS subdomain`);
  }
  const namespace = meta.namespace ?? 'default'; // as kubectl apply without -n
  if (typeof namespace !== 'string' || !isDnsLabel(namespace)) {
    throw new Invalid(`metadata.namespace ${JSON.stringify(namespace)} is not a DNS label`);
  }
  const spec = asObj(doc.spec, 'spec');
  const hostNetwork = spec.hostNetwork ?? false;
  if (typeof hostNetwork !== 'boolean') throw new Invalid('spec.hostNetwork must be true or false');
  const nodeName = spec.nodeName;
  if (nodeName !== undefined && (typeof nodeName !== 'string' || !isDnsSubdomain(nodeName))) {
    throw new Invalid(`spec.nodeName ${JSON.stringify(nodeName)} is not a DNS name`);
  }
  const ports: ContainerPort[] = [];
  for (const field of ['containers', 'initContainers'] as const) {
    const list = spec[field] ?? [];
    if (!Array.isArray(list)) throw new Invalid(`spec.${field} must be a list`);
    list.forEach((c: unknown, i: number) => {
      const container = asObj(c, `spec.${field}[${i}]`);
      const cports = container.ports ?? [];
      if (!Array.isArray(cports)) throw new Invalid(`spec.${field}[${i}].ports must be a list`);
      cports.forEach((p: unknown, j: number) => ports.push(containerPort(p, `spec.${field}[${i}].ports[${j}]`)));
    });
  }
  return {
    kind: 'Pod',
    metadata: { ...objectMeta(meta, name, namespace, warn), namespace },
    // Literals, not a spread: a spread gives every pod a hidden class of its own in V8.
    spec: typeof nodeName === 'string' ? { nodeName, hostNetwork, ports: ports.length > 0 ? ports : NO_PORTS } : { hostNetwork, ports: ports.length > 0 ? ports : NO_PORTS },
    status: NO_POD_STATUS, // addresses come from the lab file (manifests) or the pod's status (API)
  };
}

function containerPort(value: unknown, where: string): ContainerPort {
  const p = asObj(value, where);
  const port = p.containerPort;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Invalid(`${where}.containerPort ${JSON.stringify(port)} is not a port number`);
  }
  const protocol = p.protocol ?? 'TCP';
  if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP') {
    throw new Invalid(`${where}.protocol ${JSON.stringify(protocol)} is not TCP, UDP or SCTP`);
  }
  const name = p.name;
  if (name !== undefined && typeof name !== 'string') throw new Invalid(`${where}.name must be a string`);
  const out: ContainerPort = { containerPort: port, protocol, ...(name !== undefined ? { name } : {}) };
  // hostPort: the portmap CNI plugin DNATs <node address>:hostPort to the pod
  // (design section 3: judged like a packet to the pod). 0 or absent: none.
  const hostPort = p.hostPort;
  if (hostPort !== undefined && hostPort !== null && hostPort !== 0) {
    out.hostPort = portNumber(hostPort, `${where}.hostPort`);
    const hostIP = p.hostIP;
    if (hostIP !== undefined && hostIP !== null && hostIP !== '') {
      const ip = typeof hostIP === 'string' ? canonicalIp(hostIP) : undefined;
      if (ip === undefined) throw new Invalid(`${where}.hostIP ${JSON.stringify(hostIP)} is not an IP address`);
      // 0.0.0.0 and :: bind every address of the node, as an absent hostIP does.
      if (ip !== '0.0.0.0' && ip !== '::') out.hostIP = ip;
    }
  }
  return out;
}

function requireCoreV1(doc: Obj): void {
  if (doc.apiVersion !== 'v1') throw new Invalid(`apiVersion ${JSON.stringify(doc.apiVersion)} is not v1`);
}

function objectMeta(meta: Obj, name: string, namespace: string | undefined, warn: Warn): ObjectMeta {
  const out: ObjectMeta = {
    name,
    labels: stringMap(meta.labels, 'metadata.labels', warn),
    annotations: stringMap(meta.annotations, 'metadata.annotations', warn),
  };
  if (namespace !== undefined) out.namespace = namespace;
  for (const field of ['uid', 'resourceVersion'] as const) {
    const v = meta[field];
    if (typeof v === 'string') out[field] = v;
  }
  return out;
}

/**
 * Labels and annotations. kubectl refuses `vrfwall.dev/isolated: true`
 * (unquoted, a YAML boolean); refusing it here would drop the namespace and
 * leave its pods unisolated, the opposite of what was meant. So scalars are
 * read as their text, with a warning; maps and lists are refused.
 */
function stringMap(value: unknown, where: string, warn: Warn): Record<string, string> {
  if (value === undefined || value === null) return NO_STRINGS;
  if (!isObj(value)) throw new Invalid(`${where} must be a mapping`);
  const entries = Object.entries(value);
  if (entries.length === 0) return NO_STRINGS;
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (k === '__proto__') throw new Invalid(`${where} has the key "__proto__"`);
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'boolean' || typeof v === 'number' || v === null) {
      out[k] = v === null ? '' : String(v);
      warn(`${where}[${JSON.stringify(k)}] is not a string; read as ${JSON.stringify(out[k])} (quote it)`);
    } else {
      throw new Invalid(`${where}[${JSON.stringify(k)}] must be a string`);
    }
  }
  return out;
}

function asObj(value: unknown, where: string): Obj {
  if (!isObj(value)) throw new Invalid(`${where} must be a mapping`);
  return value;
}

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One object as the Kubernetes API returns it (the API source): the same
 *  per-kind parsers as manifests. `source` names it in problems. */
export function parseApiObject(value: unknown, source: string): ParsedDocuments {
  const out: ParsedDocuments = { objects: [], problems: [], lostContent: false, brokenNamespaces: [], ignored: [] };
  parseObject(value, source, out);
  return out;
}

// ---- VirtualNetwork, VirtualNetworkRouter (design section 4) -----------------

/** apiVersions accepted for the network kinds: ours, and CN2's for migration. */
const NETWORK_API_VERSIONS: Record<string, NetworkApiGroup> = {
  'vrfwall.dev/v1alpha1': 'vrfwall.dev',
  'core.contrail.juniper.net/v1alpha1': 'core.contrail.juniper.net',
};

function networkApiGroup(doc: Obj): NetworkApiGroup {
  const group = typeof doc.apiVersion === 'string' ? NETWORK_API_VERSIONS[doc.apiVersion] : undefined;
  if (group === undefined) {
    const accepted = Object.keys(NETWORK_API_VERSIONS).join(' or ');
    throw new Invalid(`apiVersion ${JSON.stringify(doc.apiVersion)} is not ${accepted}`);
  }
  return group;
}

/** metadata of a namespaced object; the namespace defaults to "default" as
 *  with kubectl apply without -n. */
function namespacedMeta(
  doc: Obj,
  warn: Warn,
  validName: (s: string) => boolean,
): ObjectMeta & { namespace: string } {
  const meta = asObj(doc.metadata, 'metadata');
  const name = meta.name;
  if (typeof name !== 'string' || !validName(name)) {
    throw new Invalid(`metadata.name ${JSON.stringify(name)} is not a valid name`);
  }
  const namespace = meta.namespace ?? 'default';
  if (typeof namespace !== 'string' || !isDnsLabel(namespace)) {
    throw new Invalid(`metadata.namespace ${JSON.stringify(namespace)} is not a DNS label`);
  }
  return { ...objectMeta(meta, name, namespace, warn), namespace };
}

function optionalSpec(doc: Obj): Obj {
  return doc.spec === undefined || doc.spec === null ? {} : asObj(doc.spec, 'spec');
}

/** Fields of our own group's spec that the schema does not know: probably a
 *  typo (e.g. "extrenal"), so say so. CN2's objects carry fields vrfwall has
 *  no use for (subnet references, fabric SNAT, ...); those pass silently. */
function warnUnknownFields(obj: Obj, known: string[], where: string, warn: Warn): void {
  for (const k of Object.keys(obj)) if (!known.includes(k)) warn(`${where}.${k} is not a known field; ignored`);
}

function parseVirtualNetwork(doc: Obj, warn: Warn): VirtualNetworkObject {
  const apiGroup = networkApiGroup(doc);
  // Network names become "<ns>/<name>" in annotations: DNS subdomains.
  const metadata = namespacedMeta(doc, warn, isDnsSubdomain);
  const spec = optionalSpec(doc);
  if (apiGroup === 'vrfwall.dev') {
    warnUnknownFields(spec, ['podNetwork', 'v4Subnet', 'v6Subnet', 'external'], 'spec', warn);
  }
  const podNetwork = spec.podNetwork ?? true;
  if (typeof podNetwork !== 'boolean') throw new Invalid('spec.podNetwork must be true or false');
  const out: VirtualNetworkObject = { kind: 'VirtualNetwork', apiGroup, metadata, spec: { podNetwork } };
  for (const [field, family] of [
    ['v4Subnet', 'IPv4'],
    ['v6Subnet', 'IPv6'],
  ] as const) {
    const v = spec[field];
    if (v === undefined || v === null) continue;
    const cidr = typeof v === 'string' ? canonicalCidr(v) : undefined;
    if (cidr === undefined || cidr.includes(':') !== (family === 'IPv6')) {
      throw new Invalid(`spec.${field} ${JSON.stringify(v)} is not an ${family} CIDR`);
    }
    out.spec[field] = cidr;
  }
  const external = spec.external;
  if (external !== undefined && external !== null) {
    if (external !== 'allow' && external !== 'deny') {
      throw new Invalid(`spec.external ${JSON.stringify(external)} is not "allow" or "deny"`);
    }
    out.spec.external = external;
  }
  return out;
}

/** Multus's NetworkAttachmentDefinition: its identity, annotations and the
 *  delegate plugin's type (spec.config is the delegate CNI's JSON: a type
 *  without a node-side interface cannot be enforced, attachments.ts). */
function parseNetworkAttachmentDefinition(doc: Obj, warn: Warn): NetworkAttachmentDefinitionObject {
  if (doc.apiVersion !== 'k8s.cni.cncf.io/v1') throw new Invalid(`apiVersion ${JSON.stringify(doc.apiVersion)} is not k8s.cni.cncf.io/v1`);
  // Multus names are DNS subdomains like most objects'.
  const metadata = namespacedMeta(doc, warn, isDnsSubdomain);
  let delegate: Delegate = {};
  if (doc.spec !== undefined && doc.spec !== null) {
    const spec = asObj(doc.spec, 'spec');
    if (spec.config !== undefined && typeof spec.config !== 'string') throw new Invalid('spec.config must be text (the CNI configuration as JSON)');
    if (typeof spec.config === 'string' && spec.config.trim() !== '') delegate = delegateOf(spec.config, warn);
  }
  return { kind: 'NetworkAttachmentDefinition', metadata, ...delegate };
}

interface Delegate {
  cniType?: string;
  bridge?: string;
}

/** The bridge plugin's default bridge device when its config names none. */
const BRIDGE_PLUGIN_DEFAULT = 'cni0';

/** The `type` of a CNI configuration (a list's first plugin: the one that makes the interface), and for the
 *  bridge plugin its bridge device. */
function delegateOf(config: string, warn: Warn): Delegate {
  let v: unknown;
  try {
    v = JSON.parse(config);
  } catch {
    warn('spec.config is not JSON: its plugin type is unknown');
    return {};
  }
  const main = isObj(v) && Array.isArray(v.plugins) ? (v.plugins as unknown[])[0] : v;
  if (!isObj(main) || typeof main.type !== 'string') return {};
  if (main.type !== 'bridge') return { cniType: main.type };
  // A name that is no interface name matches no bridge: its interfaces are then found nowhere (fail closed).
  return { cniType: main.type, bridge: typeof main.bridge === 'string' ? main.bridge : BRIDGE_PLUGIN_DEFAULT };
}

const ROUTER_TYPES = ['mesh', 'hub', 'spoke'] as const;

function parseVirtualNetworkRouter(doc: Obj, warn: Warn): VirtualNetworkRouterObject {
  const apiGroup = networkApiGroup(doc);
  const metadata = namespacedMeta(doc, warn, isDnsSubdomain);
  const spec = asObj(doc.spec, 'spec');
  if (apiGroup === 'vrfwall.dev') warnUnknownFields(spec, ['type', 'virtualNetworkSelector', 'import'], 'spec', warn);
  const type = spec.type;
  if (!ROUTER_TYPES.includes(type as (typeof ROUTER_TYPES)[number])) {
    throw new Invalid(`spec.type ${JSON.stringify(type)} is not one of ${ROUTER_TYPES.join(', ')}`);
  }
  const imports: RouterImport[] = [];
  const imp = spec.import;
  if (imp !== undefined && imp !== null) {
    const list = asObj(imp, 'spec.import').virtualNetworkRouters ?? [];
    if (!Array.isArray(list)) throw new Invalid('spec.import.virtualNetworkRouters must be a list');
    list.forEach((item: unknown, i: number) => {
      const where = `spec.import.virtualNetworkRouters[${i}]`;
      const o = asObj(item, where);
      if (o.virtualNetworkRouterSelector === undefined || o.virtualNetworkRouterSelector === null) {
        throw new Invalid(`${where}.virtualNetworkRouterSelector is required`);
      }
      const entry: RouterImport = {
        virtualNetworkRouterSelector: labelSelector(o.virtualNetworkRouterSelector, `${where}.virtualNetworkRouterSelector`, warn),
      };
      if (o.namespaceSelector !== undefined && o.namespaceSelector !== null) {
        entry.namespaceSelector = labelSelector(o.namespaceSelector, `${where}.namespaceSelector`, warn);
      }
      imports.push(entry);
    });
  }
  const out: VirtualNetworkRouterObject = {
    kind: 'VirtualNetworkRouter',
    apiGroup,
    metadata,
    spec: { type: type as VirtualNetworkRouterObject['spec']['type'], imports },
  };
  if (spec.virtualNetworkSelector !== undefined && spec.virtualNetworkSelector !== null) {
    out.spec.virtualNetworkSelector = labelSelector(spec.virtualNetworkSelector, 'spec.virtualNetworkSelector', warn);
  }
  return out;
}

const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** metav1.LabelSelector, validated as the API server does: In/NotIn need
 *  values, Exists/DoesNotExist must have none. */
export function labelSelector(value: unknown, where: string, warn: Warn = () => undefined): LabelSelector {
  const o = asObj(value, where);
  const matchLabels = stringMap(o.matchLabels, `${where}.matchLabels`, warn);
  const list = o.matchExpressions ?? [];
  if (!Array.isArray(list)) throw new Invalid(`${where}.matchExpressions must be a list`);
  const matchExpressions = list.map((item: unknown, i: number): LabelSelectorRequirement => {
    const at = `${where}.matchExpressions[${i}]`;
    const r = asObj(item, at);
    if (typeof r.key !== 'string' || r.key === '') throw new Invalid(`${at}.key must be a non-empty string`);
    const operator = r.operator;
    if (!SELECTOR_OPERATORS.includes(operator as (typeof SELECTOR_OPERATORS)[number])) {
      throw new Invalid(`${at}.operator ${JSON.stringify(operator)} is not one of ${SELECTOR_OPERATORS.join(', ')}`);
    }
    const values = r.values ?? [];
    if (!Array.isArray(values) || !values.every((v): v is string => typeof v === 'string')) {
      throw new Invalid(`${at}.values must be a list of strings`);
    }
    const needsValues = operator === 'In' || operator === 'NotIn';
    if (needsValues && values.length === 0) throw new Invalid(`${at}: operator ${operator} needs values`);
    if (!needsValues && values.length > 0) throw new Invalid(`${at}: operator ${operator} takes no values`);
    return { key: r.key, operator: operator as LabelSelectorRequirement['operator'], values };
  });
  return { matchLabels, matchExpressions };
}

// ---- Service, EndpointSlice ----------------------------------------------------

const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const;
/** IANA service name, as Kubernetes validates named ports. */
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;

function parseService(doc: Obj, warn: Warn): ServiceObject {
  requireCoreV1(doc);
  const metadata = namespacedMeta(doc, warn, isDnsLabel);
  const spec = asObj(doc.spec, 'spec');
  const type = spec.type ?? 'ClusterIP';
  if (!SERVICE_TYPES.includes(type as (typeof SERVICE_TYPES)[number])) {
    throw new Invalid(`spec.type ${JSON.stringify(type)} is not one of ${SERVICE_TYPES.join(', ')}`);
  }
  const { clusterIPs, headless } = serviceClusterIPs(spec);
  const selector = stringMap(spec.selector, 'spec.selector', warn);
  const list = spec.ports ?? [];
  if (!Array.isArray(list)) throw new Invalid('spec.ports must be a list');
  const ports = list.map((p: unknown, i: number) => servicePort(p, `spec.ports[${i}]`));
  const seen = new Set<string>();
  const seenNodePorts = new Set<string>();
  ports.forEach((p, i) => {
    const k = `${p.port}/${p.protocol}`;
    if (seen.has(k)) throw new Invalid(`spec.ports: ${k} is listed twice`);
    seen.add(k);
    if (p.nodePort === undefined) return;
    // As the API server validates: only NodePort and LoadBalancer Services
    // have node ports, and one node port serves one Service port.
    if (type !== 'NodePort' && type !== 'LoadBalancer') {
      throw new Invalid(`spec.ports[${i}].nodePort is set, but only NodePort and LoadBalancer Services have node ports (type ${type})`);
    }
    const n = `${p.nodePort}/${p.protocol}`;
    if (seenNodePorts.has(n)) throw new Invalid(`spec.ports[${i}].nodePort: ${n} is listed twice`);
    seenNodePorts.add(n);
  });
  if (ports.length > 1 && ports.some((p) => p.name === undefined)) {
    warn('spec.ports: with several ports every port needs a name (EndpointSlices match ports by name)');
  }
  const out: ServiceObject = {
    kind: 'Service',
    metadata,
    spec: {
      type: type as ServiceObject['spec']['type'],
      clusterIPs: type === 'ExternalName' ? [] : clusterIPs,
      headless,
      ports,
      externalIPs: ipList(spec.externalIPs, 'spec.externalIPs'),
      loadBalancerIPs: loadBalancerIPs(doc, spec),
    },
  };
  if (Object.keys(selector).length > 0) out.spec.selector = selector;
  return out;
}

/** spec.clusterIPs (preferred) or spec.clusterIP: "None" is headless, "" or
 *  absent is not allocated yet; at most one address per family. */
function serviceClusterIPs(spec: Obj): { clusterIPs: string[]; headless: boolean } {
  const single = spec.clusterIP;
  const multi = spec.clusterIPs;
  if (single !== undefined && single !== null && typeof single !== 'string') {
    throw new Invalid('spec.clusterIP must be a string');
  }
  if (multi !== undefined && multi !== null && (!Array.isArray(multi) || !multi.every((x) => typeof x === 'string'))) {
    throw new Invalid('spec.clusterIPs must be a list of strings');
  }
  const texts: string[] = Array.isArray(multi) && multi.length > 0 ? (multi as string[]) : single ? [single] : [];
  if (typeof single === 'string' && single !== '' && texts[0] !== single) {
    throw new Invalid(`spec.clusterIP ${JSON.stringify(single)} is not the first of spec.clusterIPs`);
  }
  if (texts[0] === 'None') {
    if (texts.length > 1) throw new Invalid('spec.clusterIPs: "None" must be alone');
    return { clusterIPs: [], headless: true };
  }
  if (texts.length > 2) throw new Invalid('spec.clusterIPs: at most one IPv4 and one IPv6 address');
  const clusterIPs = texts.map((t) => {
    const ip = canonicalIp(t);
    if (ip === undefined) throw new Invalid(`spec.clusterIPs: ${JSON.stringify(t)} is not an IP address`);
    return ip;
  });
  if (clusterIPs.length === 2 && clusterIPs[0]!.includes(':') === clusterIPs[1]!.includes(':')) {
    throw new Invalid('spec.clusterIPs: two addresses of the same family');
  }
  return { clusterIPs, headless: false };
}

/** A list of IP addresses, canonical, without repeats; absent is empty. */
function ipList(value: unknown, where: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Invalid(`${where} must be a list of IP addresses`);
  const out = new Set<string>();
  value.forEach((v: unknown, i: number) => {
    const ip = typeof v === 'string' ? canonicalIp(v) : undefined;
    if (ip === undefined) throw new Invalid(`${where}[${i}] ${JSON.stringify(v)} is not an IP address`);
    out.add(ip);
  });
  return [...out];
}

/** The addresses a load balancer sends to the Service's ports: spec.loadBalancerIP
 *  (deprecated, "" is unset) and status.loadBalancer.ingress[].ip (entries with
 *  only a hostname have none). Canonical, without repeats. */
function loadBalancerIPs(doc: Obj, spec: Obj): string[] {
  const out = new Set<string>();
  const requested = spec.loadBalancerIP;
  if (requested !== undefined && requested !== null && requested !== '') {
    const ip = typeof requested === 'string' ? canonicalIp(requested) : undefined;
    if (ip === undefined) throw new Invalid(`spec.loadBalancerIP ${JSON.stringify(requested)} is not an IP address`);
    out.add(ip);
  }
  const status = doc.status === undefined || doc.status === null ? {} : asObj(doc.status, 'status');
  const lb = status.loadBalancer === undefined || status.loadBalancer === null ? {} : asObj(status.loadBalancer, 'status.loadBalancer');
  const ingress = lb.ingress ?? [];
  if (!Array.isArray(ingress)) throw new Invalid('status.loadBalancer.ingress must be a list');
  ingress.forEach((item: unknown, i: number) => {
    const where = `status.loadBalancer.ingress[${i}]`;
    const ip = asObj(item, where).ip;
    if (ip === undefined || ip === null || ip === '') return;
    const c = typeof ip === 'string' ? canonicalIp(ip) : undefined;
    if (c === undefined) throw new Invalid(`${where}.ip ${JSON.stringify(ip)} is not an IP address`);
    out.add(c);
  });
  return [...out];
}

function servicePort(value: unknown, where: string): ServicePort {
  const p = asObj(value, where);
  const port = portNumber(p.port, `${where}.port`);
  const protocol = l4Protocol(p.protocol, `${where}.protocol`);
  const name = p.name;
  if (name !== undefined && name !== null && (typeof name !== 'string' || (name !== '' && !isDnsLabel(name)))) {
    throw new Invalid(`${where}.name ${JSON.stringify(name)} is not a DNS label`);
  }
  let targetPort: number | string = port;
  const t = p.targetPort;
  if (typeof t === 'number') targetPort = portNumber(t, `${where}.targetPort`);
  else if (typeof t === 'string') {
    // Kubernetes' IntOrString: a string is always a port name.
    if (!PORT_NAME.test(t)) throw new Invalid(`${where}.targetPort ${JSON.stringify(t)} is not a port number or name`);
    targetPort = t;
  } else if (t !== undefined && t !== null) {
    throw new Invalid(`${where}.targetPort must be a port number or name`);
  }
  // nodePort: absent, null or 0 is none (the API server allocates one for
  // NodePort and LoadBalancer Services; a manifest may leave it out).
  const np = p.nodePort;
  const nodePort = np === undefined || np === null || np === 0 ? undefined : portNumber(np, `${where}.nodePort`);
  return {
    ...(typeof name === 'string' && name !== '' ? { name } : {}),
    protocol,
    port,
    targetPort,
    ...(nodePort !== undefined ? { nodePort } : {}),
  };
}

function portNumber(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) {
    throw new Invalid(`${where} ${JSON.stringify(v)} is not a port number`);
  }
  return v;
}

function l4Protocol(v: unknown, where: string): L4Protocol {
  const protocol = v ?? 'TCP';
  if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP') {
    throw new Invalid(`${where} ${JSON.stringify(protocol)} is not TCP, UDP or SCTP`);
  }
  return protocol;
}

/** The label linking an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

function parseEndpointSlice(doc: Obj, warn: Warn): EndpointSliceObject {
  if (doc.apiVersion !== 'discovery.k8s.io/v1') {
    throw new Invalid(`apiVersion ${JSON.stringify(doc.apiVersion)} is not discovery.k8s.io/v1`);
  }
  const metadata = namespacedMeta(doc, warn, isDnsSubdomain);
  const serviceName = metadata.labels[SERVICE_NAME_LABEL];
  if (serviceName === undefined || !isDnsLabel(serviceName)) {
    throw new Invalid(`label ${SERVICE_NAME_LABEL} ${JSON.stringify(serviceName)} does not name a Service`);
  }
  const addressType = doc.addressType;
  if (addressType !== 'IPv4' && addressType !== 'IPv6' && addressType !== 'FQDN') {
    throw new Invalid(`addressType ${JSON.stringify(addressType)} is not IPv4, IPv6 or FQDN`);
  }
  const eps = doc.endpoints ?? [];
  if (!Array.isArray(eps)) throw new Invalid('endpoints must be a list');
  const endpoints = eps.map((item: unknown, i: number) => {
    const where = `endpoints[${i}]`;
    const e = asObj(item, where);
    const addrs = e.addresses;
    if (!Array.isArray(addrs) || !addrs.every((a) => typeof a === 'string')) {
      throw new Invalid(`${where}.addresses must be a list of strings`);
    }
    const addresses = (addrs as string[]).map((a) => {
      if (addressType === 'FQDN') return a;
      const ip = canonicalIp(a);
      if (ip === undefined || ip.includes(':') !== (addressType === 'IPv6')) {
        throw new Invalid(`${where}.addresses: ${JSON.stringify(a)} is not an ${addressType} address`);
      }
      return ip;
    });
    const conditions = e.conditions === undefined || e.conditions === null ? {} : asObj(e.conditions, `${where}.conditions`);
    const ready = conditions.ready;
    if (ready !== undefined && ready !== null && typeof ready !== 'boolean') {
      throw new Invalid(`${where}.conditions.ready must be true or false`);
    }
    const out: EndpointSliceObject['endpoints'][number] = { addresses, ready: ready !== false };
    const ref = e.targetRef;
    if (ref !== undefined && ref !== null) {
      const r = asObj(ref, `${where}.targetRef`);
      if (r.kind === 'Pod' && typeof r.name === 'string') {
        out.pod = `${typeof r.namespace === 'string' ? r.namespace : metadata.namespace}/${r.name}`;
      }
    }
    return out;
  });
  const plist = doc.ports ?? [];
  if (!Array.isArray(plist)) throw new Invalid('ports must be a list');
  const ports = plist.map((item: unknown, i: number) => {
    const where = `ports[${i}]`;
    const p = asObj(item, where);
    const name = p.name ?? '';
    if (typeof name !== 'string') throw new Invalid(`${where}.name must be a string`);
    const out: EndpointSliceObject['ports'][number] = { name, protocol: l4Protocol(p.protocol, `${where}.protocol`) };
    if (p.port !== undefined && p.port !== null) out.port = portNumber(p.port, `${where}.port`);
    return out;
  });
  return { kind: 'EndpointSlice', metadata, serviceName, addressType, endpoints, ports };
}

// ---- NetworkPolicy (networking.k8s.io/v1, issue 16) ----------------------------

/**
 * A NetworkPolicy, validated as the API server does. Deny is the default: a
 * policy whose spec does not parse is NOT dropped (that would open its pods);
 * it keeps selecting its pods for its types and allows nothing (`invalid`
 * says why, and a warning names the object and field). When the podSelector
 * itself is what fails, it selects every pod of its namespace; when
 * policyTypes fails, both types. Only unreadable metadata (no usable name or
 * namespace) refuses the object, as for every kind.
 */
function parseNetworkPolicy(doc: Obj, warn: Warn): NetworkPolicyObject {
  if (doc.apiVersion !== 'networking.k8s.io/v1') throw new Invalid(`apiVersion ${JSON.stringify(doc.apiVersion)} is not networking.k8s.io/v1`);
  const metadata = namespacedMeta(doc, warn, isDnsSubdomain);
  const failed: string[] = [];
  const spec = isObj(doc.spec) ? doc.spec : doc.spec === undefined || doc.spec === null ? {} : undefined;
  if (spec === undefined) failed.push('spec must be a mapping');
  const s = spec ?? {};
  // A missing podSelector is the empty selector (Go's zero value): every pod of the namespace.
  let podSelector: LabelSelector = { matchLabels: NO_STRINGS, matchExpressions: [] };
  if (s.podSelector !== undefined && s.podSelector !== null) {
    try {
      podSelector = labelSelector(s.podSelector, 'spec.podSelector', warn);
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      failed.push(e.message); // podSelector stays empty: every pod of the namespace (fail closed)
    }
  }
  const ingress = policyRules(s.ingress, 'spec.ingress', 'from', warn, failed);
  const egress = policyRules(s.egress, 'spec.egress', 'to', warn, failed);
  let policyTypes: PolicyType[];
  const typesValue = s.policyTypes;
  if (typesValue === undefined || typesValue === null || (Array.isArray(typesValue) && typesValue.length === 0)) {
    // Kubernetes' defaulting: Ingress always, Egress when there are egress rules.
    policyTypes = s.egress !== undefined && s.egress !== null ? ['Ingress', 'Egress'] : ['Ingress'];
  } else if (Array.isArray(typesValue) && typesValue.every((t) => t === 'Ingress' || t === 'Egress') && new Set(typesValue).size === typesValue.length) {
    policyTypes = (['Ingress', 'Egress'] as const).filter((t) => typesValue.includes(t));
  } else {
    failed.push(`spec.policyTypes ${JSON.stringify(typesValue)} must be a list of distinct "Ingress", "Egress"`);
    policyTypes = ['Ingress', 'Egress'];
  }
  const out: NetworkPolicyObject = { kind: 'NetworkPolicy', metadata, spec: { podSelector, policyTypes, ingress, egress } };
  if (failed.length > 0) {
    out.spec.ingress = [];
    out.spec.egress = [];
    out.invalid = failed.join('; ');
    warn(`NetworkPolicy ${metadata.namespace}/${metadata.name} does not parse (${out.invalid}): it selects its pods for ${policyTypes.join(' and ')} and allows nothing until fixed`);
  }
  return out;
}

/** spec.ingress or spec.egress: absent or empty is no rule (allows nothing). */
function policyRules(value: unknown, where: string, peersField: 'from' | 'to', warn: Warn, failed: string[]): NetworkPolicyRule[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    failed.push(`${where} must be a list`);
    return [];
  }
  const out: NetworkPolicyRule[] = [];
  value.forEach((item: unknown, i: number) => {
    const at = `${where}[${i}]`;
    try {
      const r = item === null ? {} : asObj(item, at);
      out.push({ peers: listOf(r[peersField], `${at}.${peersField}`, (p, w) => policyPeer(p, w, warn)), ports: listOf(r.ports, `${at}.ports`, policyPort) });
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      failed.push(e.message);
    }
  });
  return out;
}

function listOf<T>(value: unknown, where: string, one: (v: unknown, where: string) => T): T[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Invalid(`${where} must be a list`);
  return value.map((v: unknown, i: number) => one(v, `${where}[${i}]`));
}

function policyPeer(value: unknown, where: string, warn: Warn): NetworkPolicyPeer {
  const p = asObj(value, where);
  const has = (k: string): boolean => p[k] !== undefined && p[k] !== null;
  if (has('ipBlock')) {
    if (has('podSelector') || has('namespaceSelector')) throw new Invalid(`${where}: ipBlock cannot be combined with podSelector or namespaceSelector`);
    const b = asObj(p.ipBlock, `${where}.ipBlock`);
    const cidr = policyCidr(b.cidr, `${where}.ipBlock.cidr`, warn);
    const except = listOf(b.except, `${where}.ipBlock.except`, (e, w) => policyCidr(e, w, warn));
    const [net, len] = ipaddr.parseCIDR(cidr);
    except.forEach((e, i) => {
      const [enet, elen] = ipaddr.parseCIDR(e);
      if (enet.kind() !== net.kind() || elen <= len || !enet.match(net, len)) {
        throw new Invalid(`${where}.ipBlock.except[${i}] ${e} is not strictly inside ${cidr}`);
      }
    });
    return { kind: 'ipBlock', cidr, except };
  }
  if (!has('podSelector') && !has('namespaceSelector')) throw new Invalid(`${where} must have podSelector, namespaceSelector or ipBlock`);
  const out: NetworkPolicyPeer = { kind: 'pods' };
  if (has('podSelector')) out.podSelector = labelSelector(p.podSelector, `${where}.podSelector`, warn);
  if (has('namespaceSelector')) out.namespaceSelector = labelSelector(p.namespaceSelector, `${where}.namespaceSelector`, warn);
  return out;
}

/** A canonical CIDR; host bits set are cleared with a warning (as implementations read them). */
function policyCidr(value: unknown, where: string, warn: Warn): string {
  const c = typeof value === 'string' ? canonicalCidr(value) : undefined;
  if (c === undefined) throw new Invalid(`${where} ${JSON.stringify(value)} is not a CIDR`);
  // The datapath holds IPv4 as IPv4-mapped IPv6: a mapped block would be one family in the maps and another in
  // every address it is meant to match. Kubernetes users write IPv4 blocks as IPv4.
  const [net] = ipaddr.parseCIDR(c);
  if (net.kind() === 'ipv6' && (net as ipaddr.IPv6).isIPv4MappedAddress()) {
    throw new Invalid(`${where} ${JSON.stringify(value)} is an IPv4-mapped IPv6 block; write it as an IPv4 CIDR`);
  }
  const [given] = (value as string).trim().split('/');
  const [netText] = c.split('/');
  if (canonicalIp(given as string) !== netText) warn(`${where} ${JSON.stringify(value)} has host bits set; read as ${c}`);
  return c;
}

function policyPort(value: unknown, where: string): NetworkPolicyPort {
  const p = value === null ? {} : asObj(value, where);
  const out: NetworkPolicyPort = { protocol: l4Protocol(p.protocol, `${where}.protocol`) };
  const port = p.port;
  if (typeof port === 'number') out.port = portNumber(port, `${where}.port`);
  else if (typeof port === 'string') {
    // IntOrString: a string is a port name (a digit string too, which no name can be).
    if (!PORT_NAME.test(port)) throw new Invalid(`${where}.port ${JSON.stringify(port)} is not a port number or name`);
    out.port = port;
  } else if (port !== undefined && port !== null) throw new Invalid(`${where}.port must be a port number or name`);
  const end = p.endPort;
  if (end !== undefined && end !== null) {
    if (typeof out.port !== 'number') throw new Invalid(`${where}.endPort needs a numeric port`);
    const e = portNumber(end, `${where}.endPort`);
    if (e < out.port) throw new Invalid(`${where}.endPort ${e} is below port ${out.port}`);
    out.endPort = e;
  }
  return out;
}
