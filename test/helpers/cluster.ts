// Small builders of ClusterState objects for the pure compile-step tests.
import { VW_SVC_ANY_VRF, VW_SVC_AUDIT_VRF, VW_SVC_FRONTEND_VRF } from '../../src/kernel/abi.js';
import type {
  ClusterState,
  DesiredServiceEntry,
  DesiredState,
  ContainerPort,
  EndpointSliceObject,
  NetworkAttachmentDefinitionObject,
  NetworkPolicyObject,
  LabelSelector,
  NamespaceObject,
  PodObject,
  RouterImport,
  RouterType,
  ServiceObject,
  ServicePort,
  VirtualNetworkObject,
  VirtualNetworkRouterObject,
} from '../../src/model/types.js';

type Meta = { labels?: Record<string, string>; annotations?: Record<string, string> };

export function ns(name: string, m: Meta = {}): NamespaceObject {
  return { kind: 'Namespace', metadata: { name, labels: m.labels ?? {}, annotations: m.annotations ?? {} } };
}

export const isolatedNs = (name: string, m: Meta = {}): NamespaceObject =>
  ns(name, { ...m, labels: { ...m.labels, 'vrfwall.dev/isolated': 'true' } });

export function pod(
  key: string,
  ips: string[],
  o: Meta & { node?: string; ports?: ContainerPort[]; hostNetwork?: boolean } = {},
): PodObject {
  const [namespace, name] = key.split('/') as [string, string];
  return {
    kind: 'Pod',
    metadata: { name, namespace, labels: o.labels ?? {}, annotations: o.annotations ?? {} },
    spec: { nodeName: o.node ?? 'n1', hostNetwork: o.hostNetwork ?? false, ports: o.ports ?? [] },
    status: { podIPs: ips },
  };
}

export function vn(
  key: string,
  o: Meta & { spec?: Partial<VirtualNetworkObject['spec']>; cn2?: boolean } = {},
): VirtualNetworkObject {
  const [namespace, name] = key.split('/') as [string, string];
  return {
    kind: 'VirtualNetwork',
    apiGroup: o.cn2 ? 'core.contrail.juniper.net' : 'vrfwall.dev',
    metadata: { name, namespace, labels: o.labels ?? {}, annotations: o.annotations ?? {} },
    spec: { podNetwork: true, ...o.spec },
  };
}

export function sel(matchLabels: Record<string, string>, matchExpressions: LabelSelector['matchExpressions'] = []): LabelSelector {
  return { matchLabels, matchExpressions };
}

export function router(
  key: string,
  type: RouterType,
  o: Meta & { select?: LabelSelector; imports?: RouterImport[] } = {},
): VirtualNetworkRouterObject {
  const [namespace, name] = key.split('/') as [string, string];
  return {
    kind: 'VirtualNetworkRouter',
    apiGroup: 'vrfwall.dev',
    metadata: { name, namespace, labels: o.labels ?? {}, annotations: o.annotations ?? {} },
    spec: { type, ...(o.select ? { virtualNetworkSelector: o.select } : {}), imports: o.imports ?? [] },
  };
}

export function svc(
  key: string,
  ports: Partial<ServicePort>[],
  o: Meta & {
    clusterIPs?: string[];
    headless?: boolean;
    selector?: Record<string, string>;
    type?: ServiceObject['spec']['type'];
    externalIPs?: string[];
    loadBalancerIPs?: string[];
  } = {},
): ServiceObject {
  const [namespace, name] = key.split('/') as [string, string];
  return {
    kind: 'Service',
    metadata: { name, namespace, labels: o.labels ?? {}, annotations: o.annotations ?? {} },
    spec: {
      type: o.type ?? 'ClusterIP',
      clusterIPs: o.clusterIPs ?? [],
      headless: o.headless ?? false,
      ...(o.selector ? { selector: o.selector } : {}),
      ports: ports.map((p) => ({ protocol: 'TCP', port: 80, targetPort: p.port ?? 80, ...p })),
      externalIPs: o.externalIPs ?? [],
      loadBalancerIPs: o.loadBalancerIPs ?? [],
    },
  };
}

export function slice(
  key: string,
  service: string,
  addressType: EndpointSliceObject['addressType'],
  endpoints: EndpointSliceObject['endpoints'],
  ports: EndpointSliceObject['ports'],
): EndpointSliceObject {
  const [namespace, name] = key.split('/') as [string, string];
  return {
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': service }, annotations: {} },
    serviceName: service,
    addressType,
    endpoints,
    ports,
  };
}

type Keyed = { metadata: { name: string; namespace?: string } };
const byKey = <T extends Keyed>(list: T[]): Map<string, T> =>
  new Map(list.map((o) => [o.metadata.namespace === undefined ? o.metadata.name : `${o.metadata.namespace}/${o.metadata.name}`, o]));

export function cluster(parts: {
  namespaces?: NamespaceObject[];
  pods?: PodObject[];
  nodes?: Record<string, string[]>;
  virtualNetworks?: VirtualNetworkObject[];
  routers?: VirtualNetworkRouterObject[];
  services?: ServiceObject[];
  endpointSlices?: EndpointSliceObject[];
  attachmentDefinitions?: NetworkAttachmentDefinitionObject[];
  networkPolicies?: NetworkPolicyObject[];
}): ClusterState {
  const namespaces = [...(parts.namespaces ?? [])];
  // Like the manifest source: namespaces of pods exist, default and kube-system always.
  for (const n of ['default', 'kube-system', ...(parts.pods ?? []).map((p) => p.metadata.namespace)]) {
    if (!namespaces.some((x) => x.metadata.name === n)) namespaces.push(ns(n));
  }
  return {
    namespaces: byKey(namespaces),
    pods: byKey(parts.pods ?? []),
    nodes: new Map(Object.entries(parts.nodes ?? { n1: ['192.168.50.1'] }).map(([name, addresses]) => [name, { name, addresses }])),
    virtualNetworks: byKey(parts.virtualNetworks ?? []),
    routers: byKey(parts.routers ?? []),
    services: byKey(parts.services ?? []),
    endpointSlices: byKey(parts.endpointSlices ?? []),
    attachmentDefinitions: byKey(parts.attachmentDefinitions ?? []),
    networkPolicies: byKey(parts.networkPolicies ?? []),
    problems: [],
  };
}

/** Who an entry of a services/backends map admits at addr:port/protocol: network names, "*" (every network) or "FRONTEND" (the marker). */
export function entryClients(
  d: DesiredState,
  m: ReadonlyMap<string, DesiredServiceEntry>,
  addr: string,
  port: number,
  protocol = 'TCP',
): string[] {
  const names = new Map(Object.entries(d.allocation.ids).map(([n, id]) => [id, n]));
  return [...m.values()]
    .filter((e) => e.addr === addr && e.port === port && e.protocol === protocol)
    .map((e) =>
      e.clientVrf === VW_SVC_ANY_VRF
        ? '*'
        : e.clientVrf === VW_SVC_FRONTEND_VRF
          ? 'FRONTEND'
          : e.clientVrf === VW_SVC_AUDIT_VRF
            ? 'AUDIT'
            : (names.get(e.clientVrf) ?? `?${e.clientVrf}`),
    )
    .sort();
}

/** The compile step's problems as "source: message". */
export const problemTexts = (d: DesiredState): string[] => d.problems.map((p) => `${p.source}: ${p.message}`);

export function nad(key: string, m: Meta = {}): NetworkAttachmentDefinitionObject {
  const [namespace, name] = key.split('/') as [string, string];
  // A bridge delegate: the kind vrfwall enforces on (attachments.ts NODE_SIDE_TYPES).
  return { kind: 'NetworkAttachmentDefinition', metadata: { name, namespace, labels: m.labels ?? {}, annotations: m.annotations ?? {} }, cniType: 'bridge' };
}

/** The two Multus annotations: what the pod asks for and a network-status with its primary (eth0) and the given secondary entries. */
export function multus(
  networks: string | undefined,
  primary: string[],
  secondary: { name: string; interface?: string; ips: string[] }[],
): Record<string, string> {
  const out: Record<string, string> = {};
  if (networks !== undefined) out['k8s.v1.cni.cncf.io/networks'] = networks;
  out['k8s.v1.cni.cncf.io/network-status'] = JSON.stringify([{ name: 'k8s-pod-network', interface: 'eth0', ips: primary, default: true }, ...secondary]);
  return out;
}
