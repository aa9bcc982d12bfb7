// What the Kubernetes API source watches, one table entry per resource: where
// it lives, how the library lists it, and how one object becomes state.
//
// Every kind that manifests can also carry goes through the same per-kind
// parser as manifests (documents.ts); only what the API adds is read here (a
// Pod's addresses). Node exists only in the API and is converted here. A new
// kind is one entry below plus its parser in documents.ts (and its line in
// put() of kube.ts, which the compiler asks for).
import http from 'node:http';
import https from 'node:https';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  type ConfigurationOptions,
  type KubeConfig,
  type KubernetesObject,
  Observable,
  type ObservableMiddleware,
} from '@kubernetes/client-node';
import { canonicalIp } from '../model/ip.js';
import { isDnsSubdomain } from '../model/placement.js';
import type { NodeInfo, PodObject, SourceProblem } from '../model/types.js';
import { parseApiObject, type ManifestObject } from './documents.js';
import type { ListPage, RawList } from './kube-informer.js';

/** What one API object becomes. */
export type KubeValue = ManifestObject | { kind: 'Node'; node: NodeInfo };

export interface Converted {
  value?: KubeValue;
  problems: SourceProblem[];
  /** the kind has no parser (yet): the object is not used */
  unsupported?: boolean;
}

export interface KubeApis {
  core: CoreV1Api;
  discovery: DiscoveryV1Api;
  custom: CustomObjectsApi;
  kubeConfig: KubeConfig;
}

export function kubeApis(kc: KubeConfig): KubeApis {
  return {
    core: kc.makeApiClient(CoreV1Api),
    discovery: kc.makeApiClient(DiscoveryV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    kubeConfig: kc,
  };
}

export interface KubeResource {
  kind: string;
  apiVersion: string;
  /** collection path across all namespaces: what is listed and watched */
  path: string;
  /** a CRD that may not be installed (404 is "no objects", retried) */
  optional: boolean;
  list(apis: KubeApis, page: ListPage, signal: AbortSignal): Promise<RawList>;
  convert(raw: KubernetesObject): Converted;
}

export const VRFWALL_GROUP = 'vrfwall.dev';
export const VRFWALL_VERSION = 'v1alpha1';
export const MULTUS_GROUP = 'k8s.cni.cncf.io';
export const MULTUS_VERSION = 'v1';

export const KUBE_RESOURCES: readonly KubeResource[] = [
  builtinResource('Namespace', 'v1', '/api/v1/namespaces'),
  builtinResource('Pod', 'v1', '/api/v1/pods', convertPod),
  builtinResource('Node', 'v1', '/api/v1/nodes', convertNode),
  builtinResource('Service', 'v1', '/api/v1/services'),
  builtinResource('EndpointSlice', 'discovery.k8s.io/v1', '/apis/discovery.k8s.io/v1/endpointslices'),
  customResource('VirtualNetwork', 'virtualnetworks'),
  customResource('VirtualNetworkRouter', 'virtualnetworkrouters'),
  // Multus's CRD: a cluster without it has no attachments to judge (and a pod
  // asking for one anyway gets a quarantined attachment, attachments.ts).
  customResource('NetworkAttachmentDefinition', 'network-attachment-definitions', MULTUS_GROUP, MULTUS_VERSION),
  // A built-in kind (issue 16): always served, so a failed list is an error, not "no objects".
  builtinResource('NetworkPolicy', 'networking.k8s.io/v1', '/apis/networking.k8s.io/v1/networkpolicies'),
];

/** A kind of the built-in API groups; converted by its manifest parser unless `convert` is given. */
function builtinResource(
  kind: string,
  apiVersion: string,
  path: string,
  convert: (raw: KubernetesObject) => Converted = (raw) => viaDocuments(raw, kind, apiVersion),
): KubeResource {
  return { kind, apiVersion, path, optional: false, list: (a, page, signal) => listPage(a.kubeConfig, path, page, signal), convert };
}

function customResource(kind: string, plural: string, group = VRFWALL_GROUP, version = VRFWALL_VERSION): KubeResource {
  const apiVersion = `${group}/${version}`;
  const path = `/apis/${apiVersion}/${plural}`;
  return { kind, apiVersion, path, optional: true, list: (a, page, signal) => listPage(a.kubeConfig, path, page, signal), convert: (raw) => viaDocuments(raw, kind, apiVersion) };
}

// ---- listing ----------------------------------------------------------------

/**
 * One page of a collection as plain JSON, over the KubeConfig's connection
 * settings (server, TLS, credentials, proxy), as the library's Watch reads
 * its stream. Not through the generated typed client: it turns every item
 * into model class instances field by field (ObjectSerializer), which at
 * 100,000 pods costs more than the rest of the first sync, and the items are
 * converted to the compact form at once anyway. Errors are ApiExceptions
 * with the HTTP status, as the typed client's (410: expired continue token;
 * 404: a CRD not installed).
 */
export async function listPage(kc: KubeConfig, path: string, page: ListPage, signal: AbortSignal): Promise<RawList> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error('no current cluster in the kubeconfig');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  url.searchParams.set('limit', String(page.limit));
  if (page._continue !== undefined) url.searchParams.set('continue', page._continue);
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(
      url,
      { ...opts, method: 'GET', headers: { ...opts.headers, accept: 'application/json' }, signal },
      (res) => {
        const chunks: Buffer[] = [];
        let head = res.statusCode === 200 && page.onContinue !== undefined ? '' : undefined;
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          if (head === undefined) return;
          head += c.toString('latin1'); // the token is ASCII; only its position matters here
          const token = earlyContinue(head);
          if (token === null) return; // not there yet
          head = undefined;
          if (token !== undefined) page.onContinue?.(token);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
  if (status !== 200) throw new ApiException(status, `list ${path}: HTTP ${status}`, body.slice(0, 1000), {});
  return untypedPage(JSON.parse(body) as unknown);
}

/** How much of a list's text is searched for its continue token. */
const EARLY_HEAD_MAX = 64 * 1024;

/**
 * A list's continue token from the start of its text, before the items: an
 * API server writes `{"kind":..,"apiVersion":..,"metadata":{..,"continue":".."},"items":[`
 * (Go's field order). null: read more; undefined: not there (another order,
 * no token, or more than EARLY_HEAD_MAX before the items). Only a hint for
 * asking for the next page early: the parsed page's token decides.
 */
export function earlyContinue(head: string): string | undefined | null {
  const at = head.indexOf('"items":');
  if (at < 0) return head.length > EARLY_HEAD_MAX ? undefined : null;
  let prefix = head.slice(0, at).trimEnd();
  if (prefix.endsWith(',')) prefix = prefix.slice(0, -1);
  try {
    const obj = JSON.parse(prefix + '}') as unknown;
    const meta = isRecord(obj) && isRecord(obj.metadata) ? obj.metadata : undefined;
    return typeof meta?.continue === 'string' && meta.continue !== '' ? meta.continue : undefined;
  } catch {
    return undefined;
  }
}

/** Per-call options that make a request of the generated API abortable. */
export function abortable(signal: AbortSignal): ConfigurationOptions {
  const setSignal: ObservableMiddleware = {
    pre: (ctx) => {
      ctx.setSignal(signal);
      return new Observable(Promise.resolve(ctx));
    },
    post: (rsp) => new Observable(Promise.resolve(rsp)),
  };
  return { middleware: [setSignal], middlewareMergeStrategy: 'append' };
}

/** A list as plain JSON (continue is `continue` in the wire format). */
function untypedPage(list: unknown): RawList {
  const obj = isRecord(list) ? list : {};
  const meta = isRecord(obj.metadata) ? obj.metadata : {};
  const items = Array.isArray(obj.items) ? (obj.items.filter(isRecord) as KubernetesObject[]) : [];
  const token = typeof meta.continue === 'string' && meta.continue !== '' ? meta.continue : undefined;
  return {
    items,
    resourceVersion: typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '',
    ...(token !== undefined ? { continueToken: token } : {}),
  };
}

// ---- converting -------------------------------------------------------------

/** "Pod ns/name", "Node name": names an object in problems. */
export function describeObject(kind: string, raw: KubernetesObject): string {
  const ns = raw.metadata?.namespace;
  return `${kind} ${ns ? `${ns}/` : ''}${raw.metadata?.name ?? '?'}`;
}

/** Through the manifest parser of the kind. List items carry no kind or
 *  apiVersion (watch events do): the table's are used. */
function viaDocuments(raw: KubernetesObject, kind: string, apiVersion: string): Converted {
  const parsed = parseApiObject({ ...raw, kind, apiVersion }, describeObject(kind, raw));
  if (parsed.ignored.length > 0) return { problems: [], unsupported: true };
  const first = parsed.objects[0];
  return { ...(first !== undefined ? { value: first.object } : {}), problems: parsed.problems };
}

function convertPod(raw: KubernetesObject): Converted {
  const out = viaDocuments(raw, 'Pod', 'v1');
  const pod = out.value;
  if (pod?.kind !== 'Pod') return out;
  const status = isRecord((raw as { status?: unknown }).status) ? ((raw as { status: Record<string, unknown> }).status) : {};
  const podIPs = podAddresses(status, describeObject('Pod', raw), out.problems);
  const value: PodObject = { ...pod, status: { podIPs } };
  return { value, problems: out.problems };
}

/**
 * A pod's addresses: status.podIPs (status.podIP on old servers). A pod that
 * has finished (Succeeded, Failed) keeps them in its status, but the CNI has
 * released them and may give them to another pod: they are not its any more.
 */
function podAddresses(status: Record<string, unknown>, source: string, problems: SourceProblem[]): string[] {
  if (status.phase === 'Succeeded' || status.phase === 'Failed') return [];
  const texts: unknown[] = [];
  if (Array.isArray(status.podIPs)) for (const p of status.podIPs) texts.push(isRecord(p) ? p.ip : p);
  if (texts.length === 0 && typeof status.podIP === 'string' && status.podIP !== '') texts.push(status.podIP);
  const out = new Set<string>();
  for (const t of texts) {
    const ip = typeof t === 'string' ? canonicalIp(t) : undefined;
    if (ip !== undefined) out.add(ip);
    else problems.push({ source, message: `status.podIPs: ${JSON.stringify(t)} is not an IP address; skipped` });
  }
  return [...out];
}

/** Node addresses that are IPs (InternalIP, ExternalIP): host endpoints. */
function convertNode(raw: KubernetesObject): Converted {
  const source = describeObject('Node', raw);
  const name = raw.metadata?.name;
  if (typeof name !== 'string' || !isDnsSubdomain(name)) {
    return { problems: [{ source, message: `metadata.name ${JSON.stringify(name)} is not a DNS name` }] };
  }
  const problems: SourceProblem[] = [];
  const status = (raw as { status?: { addresses?: unknown } }).status;
  const addresses = new Set<string>();
  for (const a of Array.isArray(status?.addresses) ? status.addresses : []) {
    if (!isRecord(a) || (a.type !== 'InternalIP' && a.type !== 'ExternalIP')) continue;
    const ip = typeof a.address === 'string' ? canonicalIp(a.address) : undefined;
    if (ip !== undefined) addresses.add(ip);
    else problems.push({ source, message: `status.addresses: ${JSON.stringify(a.address)} is not an IP address; skipped` });
  }
  return { value: { kind: 'Node', node: { name, addresses: [...addresses].sort() } }, problems };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
