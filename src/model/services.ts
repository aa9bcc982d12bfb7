// Which addresses stand behind each Service: the ONE computation shared by the
// compile step (Service and backend BPF maps) and the lab's kube-proxy
// equivalent (netfilter DNAT, src/lab/dnat.ts), so the two can never disagree
// about what a ClusterIP leads to. Pure: no I/O.
//
// Where the backends come from, per Service:
//   - If any EndpointSlice names the Service (label kubernetes.io/service-name),
//     the slices are the truth: that is what a real cluster's controller-manager
//     wrote, and it covers Services without a selector.
//   - Otherwise, when the Service has a selector, the backends are derived from
//     the pods as the EndpointSlice controller would: pods of the Service's
//     namespace whose labels match, that have addresses, with each port's
//     targetPort resolved per pod (a named targetPort is looked up among the
//     pod's container ports of the same protocol; a pod without it is no
//     backend for that port). The local-manifest source has no
//     controller-manager, so this is how the lab gets endpoints.
//   - Otherwise the Service has no backends.
// Readiness is not modelled for derived endpoints (the lab's pods are ready
// once they have addresses); for slices, endpoints with ready=false are left out.
import { canonicalIp } from './ip.js';
import { mapSelectorMatches } from './selector.js';
import type {
  ClusterState,
  EndpointSliceObject,
  L4Protocol,
  PodObject,
  ServiceObject,
  ServicePort,
  SourceProblem,
} from './types.js';
import { compareText } from '../util/order.js';

export interface ServiceBackend {
  /** Canonical pod address (IPv4 or IPv6). */
  ip: string;
  /** The backend's port: the resolved targetPort. */
  port: number;
  /** "ns/name" of the pod when known. */
  pod?: string;
}

export interface ResolvedServicePort {
  /** The Service port's name ("" when unnamed, as in EndpointSlices). */
  name: string;
  protocol: L4Protocol;
  /** The port on the ClusterIP. */
  port: number;
  /** Sorted by address then port, no duplicates. */
  backends: ServiceBackend[];
}

export interface ServiceEndpoints {
  /** "ns/name" */
  key: string;
  namespace: string;
  name: string;
  /** Canonical ClusterIPs; empty for headless, ExternalName and not-yet-allocated Services. */
  vips: string[];
  ports: ResolvedServicePort[];
  /** Where the backends came from (see the header of this file). */
  endpointsFrom: 'endpointSlices' | 'selector' | 'none';
}

export type ServiceInputs = Pick<ClusterState, 'services' | 'pods' | 'endpointSlices'>;

/**
 * Every Service with its VIPs, ports and backends, sorted by "ns/name".
 * ExternalName Services are left out (no VIP, no backends: they are DNS only).
 * `problems` reports what a user would want to know (e.g. a named targetPort
 * that no selected pod declares); it never stops the computation.
 */
export function serviceEndpoints(state: ServiceInputs): { services: ServiceEndpoints[]; problems: SourceProblem[] } {
  const problems: SourceProblem[] = [];
  const slicesByService = new Map<string, EndpointSliceObject[]>();
  for (const slice of [...state.endpointSlices.values()].sort((a, b) => compareText(keyOf(a), keyOf(b)))) {
    const svc = `${slice.metadata.namespace}/${slice.serviceName}`;
    slicesByService.set(svc, [...(slicesByService.get(svc) ?? []), slice]);
  }
  const services: ServiceEndpoints[] = [];
  for (const svc of [...state.services.values()].sort((a, b) => compareText(keyOf(a), keyOf(b)))) {
    const one = endpointsOfService(svc, slicesByService.get(keyOf(svc)), state.pods.values(), problems);
    if (one !== undefined) services.push(one);
  }
  return { services, problems };
}

/**
 * One Service's endpoints. `slices`: the EndpointSlices naming it, sorted by
 * "ns/name" (undefined: none); `pods`: candidates for its selector (pods of
 * other namespaces are skipped). Undefined for ExternalName Services.
 */
export function endpointsOfService(
  svc: ServiceObject,
  slices: readonly EndpointSliceObject[] | undefined,
  pods: Iterable<PodObject>,
  problems: SourceProblem[],
): ServiceEndpoints | undefined {
  if (svc.spec.type === 'ExternalName') return undefined;
  const key = keyOf(svc);
  let ports: ResolvedServicePort[];
  let endpointsFrom: ServiceEndpoints['endpointsFrom'];
  if (slices !== undefined) {
    ports = svc.spec.ports.map((p) => portFromSlices(p, slices));
    endpointsFrom = 'endpointSlices';
  } else if (svc.spec.selector !== undefined && Object.keys(svc.spec.selector).length > 0) {
    ports = portsFromSelector(svc, svc.spec.selector, pods, problems);
    endpointsFrom = 'selector';
  } else {
    ports = svc.spec.ports.map((p) => ({ name: p.name ?? '', protocol: p.protocol, port: p.port, backends: [] }));
    endpointsFrom = 'none';
  }
  return {
    key,
    namespace: svc.metadata.namespace,
    name: svc.metadata.name,
    vips: svc.spec.headless ? [] : [...svc.spec.clusterIPs],
    ports,
    endpointsFrom,
  };
}

function portFromSlices(p: ServicePort, slices: readonly EndpointSliceObject[]): ResolvedServicePort {
  const name = p.name ?? '';
  const backends: ServiceBackend[] = [];
  for (const slice of slices) {
    if (slice.addressType === 'FQDN') continue;
    const sp = slice.ports.find((x) => x.name === name && x.protocol === p.protocol);
    if (sp === undefined || sp.port === undefined) continue;
    for (const ep of slice.endpoints) {
      if (!ep.ready) continue;
      for (const a of ep.addresses) {
        const ip = canonicalIp(a);
        if (ip !== undefined) backends.push({ ip, port: sp.port, ...(ep.pod !== undefined ? { pod: ep.pod } : {}) });
      }
    }
  }
  return { name, protocol: p.protocol, port: p.port, backends: uniqueSorted(backends) };
}

function portsFromSelector(
  svc: ServiceObject,
  selector: Record<string, string>,
  pods: Iterable<PodObject>,
  problems: SourceProblem[],
): ResolvedServicePort[] {
  const selected = [...pods]
    .filter((pod) => pod.metadata.namespace === svc.metadata.namespace)
    .filter((pod) => mapSelectorMatches(selector, pod.metadata.labels))
    .sort((a, b) => compareText(a.metadata.name, b.metadata.name));
  return svc.spec.ports.map((p) => {
    const backends: ServiceBackend[] = [];
    const unresolved: string[] = [];
    for (const pod of selected) {
      const target = resolveTargetPort(p, pod);
      if (target === undefined) {
        unresolved.push(pod.metadata.name);
        continue;
      }
      for (const raw of pod.status.podIPs) {
        const ip = canonicalIp(raw);
        if (ip !== undefined) backends.push({ ip, port: target, pod: `${pod.metadata.namespace}/${pod.metadata.name}` });
      }
    }
    if (unresolved.length > 0) {
      problems.push({
        source: `Service ${keyOf(svc)}`,
        message:
          `port ${p.port}/${p.protocol}: targetPort ${JSON.stringify(p.targetPort)} names no ${p.protocol} ` +
          `container port of pod ${unresolved.join(', ')}; those pods are no backends of this port`,
      });
    }
    return { name: p.name ?? '', protocol: p.protocol, port: p.port, backends: uniqueSorted(backends) };
  });
}

/** The backend port of `pod` for Service port `p`, or undefined when a named
 *  targetPort is not among the pod's container ports (of that protocol). */
export function resolveTargetPort(p: ServicePort, pod: PodObject): number | undefined {
  if (typeof p.targetPort === 'number') return p.targetPort;
  const named = pod.spec.ports.find((c) => c.name === p.targetPort && c.protocol === p.protocol);
  return named?.containerPort;
}

function uniqueSorted(backends: ServiceBackend[]): ServiceBackend[] {
  const seen = new Map<string, ServiceBackend>();
  for (const b of backends) {
    const k = `${b.ip}|${b.port}`;
    if (!seen.has(k)) seen.set(k, b);
  }
  return [...seen.values()].sort((a, b) => compareText(a.ip, b.ip) || a.port - b.port);
}

function keyOf(o: { metadata: { namespace: string; name: string } }): string {
  return `${o.metadata.namespace}/${o.metadata.name}`;
}

