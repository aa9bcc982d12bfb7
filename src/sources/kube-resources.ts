// What the Kubernetes API source watches, one table entry per resource: where
// it lives, how the library lists it, and how one object becomes state.
//
// Every kind that manifests can also carry goes through the same per-kind
// parser as manifests (documents.ts); only what the API adds is read here (a
// Pod's addresses). Node exists only in the API and is converted here. A new
// kind is one entry below plus its parser in documents.ts (and its line in
// put() of kube.ts, which the compiler asks for).
import {
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
}

export function kubeApis(kc: KubeConfig): KubeApis {
  return {
    core: kc.makeApiClient(CoreV1Api),
    discovery: kc.makeApiClient(DiscoveryV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
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

export const KUBE_RESOURCES: readonly KubeResource[] = [
  builtinResource('Namespace', 'v1', '/api/v1/namespaces', (a, page, o) => a.core.listNamespace(page, o)),
  builtinResource('Pod', 'v1', '/api/v1/pods', (a, page, o) => a.core.listPodForAllNamespaces(page, o), convertPod),
  builtinResource('Node', 'v1', '/api/v1/nodes', (a, page, o) => a.core.listNode(page, o), convertNode),
  builtinResource('Service', 'v1', '/api/v1/services', (a, page, o) => a.core.listServiceForAllNamespaces(page, o)),
  builtinResource('EndpointSlice', 'discovery.k8s.io/v1', '/apis/discovery.k8s.io/v1/endpointslices', (a, page, o) =>
    a.discovery.listEndpointSliceForAllNamespaces(page, o),
  ),
  customResource('VirtualNetwork', 'virtualnetworks'),
  customResource('VirtualNetworkRouter', 'virtualnetworkrouters'),
];

/** A kind of the built-in API groups, listed through the typed generated client; converted by its manifest parser unless `convert` is given. */
function builtinResource(
  kind: string,
  apiVersion: string,
  path: string,
  list: (a: KubeApis, page: ListPage, options: ConfigurationOptions) => Promise<TypedList>,
  convert: (raw: KubernetesObject) => Converted = (raw) => viaDocuments(raw, kind, apiVersion),
): KubeResource {
  return {
    kind,
    apiVersion,
    path,
    optional: false,
    list: async (a, page, signal) => typedPage(await list(a, page, abortable(signal))),
    convert,
  };
}

function customResource(kind: string, plural: string): KubeResource {
  const apiVersion = `${VRFWALL_GROUP}/${VRFWALL_VERSION}`;
  return {
    kind,
    apiVersion,
    path: `/apis/${apiVersion}/${plural}`,
    optional: true,
    list: async (a, page, signal) => {
      const request = { group: VRFWALL_GROUP, version: VRFWALL_VERSION, plural, ...page };
      return untypedPage((await a.custom.listClusterCustomObject(request, abortable(signal))) as unknown);
    },
    convert: (raw) => viaDocuments(raw, kind, apiVersion),
  };
}

// ---- listing ----------------------------------------------------------------

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

/** A typed list of the generated API (ListMeta's "continue" is `_continue` there). */
interface TypedList {
  items: KubernetesObject[];
  metadata?: { resourceVersion?: string; _continue?: string };
}

function typedPage(list: TypedList): RawList {
  const token = list.metadata?._continue;
  return {
    items: list.items,
    resourceVersion: list.metadata?.resourceVersion ?? '',
    ...(token ? { continueToken: token } : {}),
  };
}

/** A custom-object list: plain JSON. */
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
