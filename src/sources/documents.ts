// Kubernetes YAML text -> typed objects. Pure: the caller reads files.
//
// One parser per kind (KIND_PARSERS), so later kinds (Service,
// VirtualNetwork, VirtualNetworkRouter) are one entry each. A document that
// cannot be used becomes a problem naming the file and document; the other
// documents of the file are still returned.
import { parseAllDocuments } from 'yaml';
import { isDnsLabel, isDnsSubdomain } from '../model/placement.js';
import type { ContainerPort, NamespaceObject, ObjectMeta, PodObject, SourceProblem } from '../model/types.js';

export type ManifestObject = NamespaceObject | PodObject;

/** Identity of an object across files: "Namespace/x", "Pod/ns/name". */
export function objectKey(o: ManifestObject): string {
  return o.kind === 'Namespace' ? `Namespace/${o.metadata.name}` : `Pod/${o.metadata.namespace}/${o.metadata.name}`;
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

type Obj = Record<string, unknown>;
type Warn = (message: string) => void;
type KindParser = (doc: Obj, warn: Warn) => ManifestObject;

const KIND_PARSERS: Record<string, KindParser> = {
  Namespace: parseNamespace,
  Pod: parsePod,
};

/**
 * Parse a multi-document YAML text. `file` names the file in problems:
 * "<file>#<n>" is the n-th document (1-based), "<file>#<n>/items/<i>" the
 * i-th item (0-based, as in the YAML) of a `kind: List`.
 */
export function parseManifests(text: string, file: string): ParsedDocuments {
  const out: ParsedDocuments = { objects: [], problems: [], lostContent: false, brokenNamespaces: [], ignored: [] };
  // YAML 1.1-style merge keys as Kubernetes accepts them; duplicate keys are
  // errors (which value was meant is unknowable).
  const docs = parseAllDocuments(text, { merge: true, uniqueKeys: true, prettyErrors: true });
  docs.forEach((doc, i) => {
    const source = `${file}#${i + 1}`;
    const error = doc.errors[0];
    if (error !== undefined) {
      out.problems.push({ source, message: `YAML error: ${firstLine(error.message)}` });
      out.lostContent = true;
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      out.problems.push({ source, message: `YAML error: ${firstLine(String(e))}` });
      out.lostContent = true;
      return;
    }
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
  // Pods are named by DNS labels here (stricter than Kubernetes' subdomains):
  // the lab uses pod names in interface and namespace names.
  if (typeof name !== 'string' || !isDnsLabel(name)) {
    throw new Invalid(`metadata.name ${JSON.stringify(name)} is not a DNS label`);
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
    spec: { ...(typeof nodeName === 'string' ? { nodeName } : {}), hostNetwork, ports },
    status: { podIPs: [] }, // addresses come from the lab file, not the manifest
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
  return { containerPort: port, protocol, ...(name !== undefined ? { name } : {}) };
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
  if (value === undefined || value === null) return {};
  if (!isObj(value)) throw new Invalid(`${where} must be a mapping`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
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

function firstLine(s: string): string {
  return s.split('\n', 1)[0] ?? s;
}
