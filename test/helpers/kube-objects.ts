// Kubernetes objects for API-server tests, as the real API would hold them.
import type { KObject } from './apiserver.js';

export function namespaceObj(name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): KObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels, annotations }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } };
}

export interface PodOptions {
  node?: string;
  ips?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  hostNetwork?: boolean;
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  ports?: number[];
}

export function podObj(namespace: string, name: string, o: PodOptions = {}): KObject {
  const ips = o.ips ?? [];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: o.labels ?? {}, annotations: o.annotations ?? {} },
    spec: {
      ...(o.node !== undefined ? { nodeName: o.node } : {}),
      ...(o.hostNetwork ? { hostNetwork: true } : {}),
      containers: [
        {
          name: 'main',
          image: 'registry.k8s.io/pause:3.10',
          ports: (o.ports ?? []).map((p) => ({ containerPort: p, protocol: 'TCP' })),
        },
      ],
    },
    status: {
      phase: o.phase ?? (ips.length > 0 ? 'Running' : 'Pending'),
      ...(ips[0] !== undefined ? { podIP: ips[0] } : {}),
      podIPs: ips.map((ip) => ({ ip })),
      ...(o.hostNetwork && ips[0] !== undefined ? { hostIP: ips[0] } : {}),
    },
  };
}

export function nodeObj(name: string, internal: string[], extra: { type: string; address: string }[] = []): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    spec: {},
    status: {
      addresses: [...internal.map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: name }, ...extra],
    },
  };
}

export function serviceObj(namespace: string, name: string, clusterIP: string, port: number, selector: Record<string, string>): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { type: 'ClusterIP', clusterIP, clusterIPs: [clusterIP], selector, ports: [{ name: 'web', port, targetPort: port, protocol: 'TCP' }] },
  };
}

export function endpointSliceObj(namespace: string, service: string, backends: { ip: string; pod: string }[], port: number): KObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-abcde`, namespace, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: backends.map((b) => ({ addresses: [b.ip], conditions: { ready: true }, targetRef: { kind: 'Pod', namespace, name: b.pod } })),
    ports: [{ name: 'web', port, protocol: 'TCP' }],
  };
}

export function virtualNetworkObj(namespace: string, name: string, labels: Record<string, string> = {}): KObject {
  return {
    apiVersion: 'vrfwall.dev/v1alpha1',
    kind: 'VirtualNetwork',
    metadata: { name, namespace, labels },
    spec: { podNetwork: true, v4Subnet: '10.50.0.0/16' },
  };
}

export function routerObj(namespace: string, name: string, selector: Record<string, string>): KObject {
  return {
    apiVersion: 'vrfwall.dev/v1alpha1',
    kind: 'VirtualNetworkRouter',
    metadata: { name, namespace },
    spec: { type: 'mesh', virtualNetworkSelector: { matchLabels: selector } },
  };
}
