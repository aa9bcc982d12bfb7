// What every lab has without being asked, as in every Kubernetes cluster:
// - kube-system/coredns, a pod on node1 running the lab's DNS server, behind
//   the Service kube-system/kube-dns at 10.96.0.10 / fd00:10:96::a (UDP and
//   TCP 53);
// - the Service default/kubernetes at 10.96.0.1 / fd00:10:96::1 port 443,
//   whose endpoints (EndpointSlices, as the API server writes them) are
//   node1's own addresses, port 6443, where a responder plays the API server.
// Written as ordinary manifests into the lab's builtin directory, which the
// lab and the agents read next to the user's directory.
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { LabPodSpec } from './manifests.js';
import { builtinDir } from './names.js';
import type { LabPlan, PlannedNode } from './plan.js';

export const DNS_POD = { namespace: 'kube-system', name: 'coredns', key: 'kube-system/coredns' } as const;
export const DNS_SERVICE = { namespace: 'kube-system', name: 'kube-dns', clusterIPs: ['10.96.0.10', 'fd00:10:96::a'] } as const;
export const API_SERVICE = { namespace: 'default', name: 'kubernetes', clusterIPs: ['10.96.0.1', 'fd00:10:96::1'] } as const;
export const API_PORT = 443;
export const API_TARGET_PORT = 6443;
/** The node the built-in pod and the API server endpoint live on. */
export const CONTROL_PLANE_NODE = 'node1';
/** The name the API server stand-in answers with (probes check it). */
export const APISERVER_NAME = `apiserver@${CONTROL_PLANE_NODE}`;

/** Objects the lab makes itself; manifests may not define them. */
export const BUILTIN_KEYS = [DNS_POD.key, `${DNS_SERVICE.namespace}/${DNS_SERVICE.name}`, `${API_SERVICE.namespace}/${API_SERVICE.name}`];

const DNS_LABELS = { 'k8s-app': 'kube-dns' };

/** The node that runs the DNS pod, the API server stand-in and the kube-proxy. */
export function controlPlane(plan: LabPlan): PlannedNode {
  const node = plan.nodes.find((n) => n.name === CONTROL_PLANE_NODE);
  if (!node) throw new Error(`lab plan has no ${CONTROL_PLANE_NODE}`);
  return node;
}

/** The DNS pod as the lab plans it (the same pod the manifest below declares). */
export function dnsPodSpec(): LabPodSpec {
  return {
    namespace: DNS_POD.namespace,
    name: DNS_POD.name,
    key: DNS_POD.key,
    nodeName: CONTROL_PLANE_NODE,
    hostNetwork: false,
    ports: [
      { port: 53, protocol: 'UDP' },
      { port: 53, protocol: 'TCP' },
    ],
    builtin: 'dns',
  };
}

function dnsDocuments(): object[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: DNS_POD.name, namespace: DNS_POD.namespace, labels: DNS_LABELS },
      spec: {
        nodeName: CONTROL_PLANE_NODE,
        containers: [
          {
            name: 'coredns',
            image: 'vrfwall-lab-dns',
            ports: [
              { name: 'dns', containerPort: 53, protocol: 'UDP' },
              { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
            ],
          },
        ],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: DNS_SERVICE.name, namespace: DNS_SERVICE.namespace, labels: DNS_LABELS },
      spec: {
        selector: DNS_LABELS,
        clusterIP: DNS_SERVICE.clusterIPs[0],
        clusterIPs: [...DNS_SERVICE.clusterIPs],
        ipFamilyPolicy: 'RequireDualStack',
        ipFamilies: ['IPv4', 'IPv6'],
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        ],
      },
    },
  ];
}

function apiDocuments(node: PlannedNode): object[] {
  const slice = (family: 'IPv4' | 'IPv6', address: string) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `kubernetes-${family.toLowerCase()}`,
      namespace: API_SERVICE.namespace,
      labels: { 'kubernetes.io/service-name': API_SERVICE.name },
    },
    addressType: family,
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
    ports: [{ name: 'https', port: API_TARGET_PORT, protocol: 'TCP' }],
  });
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: API_SERVICE.name, namespace: API_SERVICE.namespace, labels: { component: 'apiserver' } },
      spec: {
        clusterIP: API_SERVICE.clusterIPs[0],
        clusterIPs: [...API_SERVICE.clusterIPs],
        ipFamilyPolicy: 'RequireDualStack',
        ipFamilies: ['IPv4', 'IPv6'],
        ports: [{ name: 'https', port: API_PORT, protocol: 'TCP', targetPort: API_TARGET_PORT }],
      },
    },
    slice('IPv4', node.gateway.v4),
    slice('IPv6', node.gateway.v6),
  ];
}

function yamlOf(comment: string, docs: object[]): string {
  return `# ${comment}\n` + docs.map((d) => stringify(d)).join('---\n');
}

/** Writes the built-in manifests; returns the directory. */
export function writeBuiltinManifests(lab: string, controlPlane: PlannedNode): string {
  const dir = builtinDir(lab);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'kube-dns.yaml'), yamlOf('Written by vrfwall lab: the cluster DNS.', dnsDocuments()));
  fs.writeFileSync(
    path.join(dir, 'kubernetes.yaml'),
    yamlOf('Written by vrfwall lab: the API server Service; its endpoint is node1.', apiDocuments(controlPlane)),
  );
  return dir;
}
