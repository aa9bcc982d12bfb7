// The lab's view of Services (pure): from the cluster state, through the one
// shared computation (src/model/services.ts), to what the lab's kube-proxy
// programs (DNAT targets, NodePorts, external IPs, and portmap's hostPorts),
// what its DNS answers, and what `lab matrix` probes.
import { serviceEndpoints, type ServiceEndpoints } from '../model/services.js';
import { dnatTargets, ipFamily, type DnatTarget } from './dnat.js';
import type { ClusterState, SourceProblem } from '../model/types.js';
import { APISERVER_NAME, API_SERVICE, CONTROL_PLANE_NODE, DNS_POD, DNS_SERVICE } from './builtin.js';
import { buildRecords, serviceName } from './dns.js';
import type { DnsRecords } from './dns.js';
import { labFrontends } from './frontends.js';
import type { HostPortTarget, LabFrontends } from './frontends.js';
import { nodeAddresses } from './plan.js';
import type { LabPlan, PlannedNode } from './plan.js';
import { externalProbeKey, hostPortProbeKey, nodePortProbeKey, serviceProbeKey } from './protocol.js';
import type { DnsProbe, ServiceExpectation, ServiceProbe } from './protocol.js';

export interface LabServiceBackend {
  ip: string;
  port: number;
  /** what answers there: a pod "ns/name", the API server stand-in, or the bare address */
  name: string;
}

export interface LabServicePort {
  name: string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  port: number;
  /** programmed on every node (NodePort and LoadBalancer Services) */
  nodePort?: number;
  backends: LabServiceBackend[];
}

export interface LabService {
  key: string;
  namespace: string;
  name: string;
  clusterIPs: string[];
  /** spec.externalIPs and LoadBalancer IPs, DNATed on every node like the ClusterIPs (absent in files of older labs) */
  externalIPs?: string[];
  loadBalancerIPs?: string[];
  ports: LabServicePort[];
}

/** A container's hostPort as portmap programs it on the pod's node, one per family (without the pod's address). */
export type LabHostPort = Omit<HostPortTarget, 'ip'>;

/** /run/vrfwall/lab/<lab>/services.json, written by the lab's kube-proxy after each change it applied. */
export interface LabServicesFile {
  version: 1;
  time: string;
  services: LabService[];
  /** absent in files of older labs */
  hostPorts?: LabHostPort[];
  dns: DnsRecords;
  problems: SourceProblem[];
}

/** Names what listens behind a backend address: the pod, or node1 as the API server. */
function backendNamer(plan: LabPlan): (ip: string, pod: string | undefined) => string {
  const byIp = new Map<string, string>();
  for (const p of plan.pods) if (!p.hostNetwork) [p.ips.v4, p.ips.v6].forEach((ip) => byIp.set(ip, p.key));
  const control = plan.nodes.find((n) => n.name === CONTROL_PLANE_NODE);
  const nodeIps = new Set(control ? nodeAddresses(control) : []);
  return (ip, pod) => pod ?? byIp.get(ip) ?? (nodeIps.has(ip) ? APISERVER_NAME : ip);
}

function labService(
  s: ServiceEndpoints,
  state: ClusterState,
  frontends: LabFrontends,
  name: (ip: string, pod: string | undefined) => string,
): LabService {
  const spec = state.services.get(s.key)?.spec;
  const external = new Set(frontends.external.filter((t) => t.service === s.key).map((t) => t.vip));
  return {
    key: s.key,
    namespace: s.namespace,
    name: s.name,
    clusterIPs: s.vips,
    externalIPs: (spec?.externalIPs ?? []).filter((ip) => external.has(ip)),
    loadBalancerIPs: (spec?.loadBalancerIPs ?? []).filter((ip) => external.has(ip)),
    ports: s.ports.map((p) => {
      // Only a nodePort the kube-proxy programmed (not one that clashed).
      const nodePort = frontends.nodePorts.find((n) => n.service === s.key && n.port === p.port && n.protocol === p.protocol)?.nodePort;
      return {
        name: p.name,
        protocol: p.protocol,
        port: p.port,
        ...(nodePort !== undefined ? { nodePort } : {}),
        backends: p.backends.map((b) => ({ ip: b.ip, port: b.port, name: name(b.ip, b.pod) })),
      };
    }),
  };
}

/** Everything the kube-proxy needs after one change of the cluster state. */
export function labServices(state: ClusterState, plan: LabPlan): { file: LabServicesFile; targets: DnatTarget[]; frontends: LabFrontends } {
  const { services, problems } = serviceEndpoints(state);
  const frontends = labFrontends(state, services);
  const name = backendNamer(plan);
  const pods = [...state.pods.values()]
    .filter((p) => !p.spec.hostNetwork)
    .map((p) => ({ namespace: p.metadata.namespace, ips: p.status.podIPs }));
  return {
    file: {
      version: 1,
      time: new Date().toISOString(),
      services: services.map((s) => labService(s, state, frontends, name)),
      hostPorts: frontends.hostPorts.map(({ pod, node, protocol, hostPort, hostIP, family, containerPort }) => ({
        pod,
        node,
        protocol,
        hostPort,
        ...(hostIP !== undefined ? { hostIP } : {}),
        family,
        containerPort,
      })),
      dns: buildRecords(services.map((s) => ({ namespace: s.namespace, name: s.name, clusterIPs: s.vips })), pods),
      problems: [...problems, ...frontends.problems],
    },
    targets: dnatTargets(services),
    frontends,
  };
}

/** What a probe of one Service port must get back. */
function expectation(svc: LabService, port: LabServicePort, vip: string, all: LabService[]): ServiceExpectation {
  const names = [...new Set(port.backends.map((b) => b.name))].sort();
  if (names.length === 1 && names[0] === DNS_POD.key) {
    // The DNS pod speaks DNS, not lines: ask it for its own Service's name.
    const dns = all.find((s) => s.key === `${DNS_SERVICE.namespace}/${DNS_SERVICE.name}`) ?? svc;
    const v6 = ipFamily(vip) === 6;
    return {
      kind: 'dns',
      name: serviceName(dns.namespace, dns.name),
      type: v6 ? 'AAAA' : 'A',
      addresses: dns.clusterIPs.filter((ip) => (ipFamily(ip) === 6) === v6),
    };
  }
  return { kind: 'line', replies: names };
}

function ofFamily(port: LabServicePort, family: 4 | 6): LabServicePort {
  return { ...port, backends: port.backends.filter((b) => ipFamily(b.ip) === family) };
}

/**
 * One probe per ClusterIP and TCP/UDP port of every Service, and per
 * externalIP and LoadBalancer IP and port (SCTP is not probed).
 */
export function serviceProbes(file: LabServicesFile): ServiceProbe[] {
  const out: ServiceProbe[] = [];
  for (const svc of file.services) {
    const addresses = [
      ...svc.clusterIPs.map((ip) => ({ ip, key: (p: LabServicePort) => serviceProbeKey(svc.key, p.port, p.protocol, ipFamily(ip) === 6) })),
      ...[...(svc.externalIPs ?? []).map((ip) => ({ ip, kind: 'externalIP' as const })), ...(svc.loadBalancerIPs ?? []).map((ip) => ({ ip, kind: 'loadBalancerIP' as const }))]
        .map(({ ip, kind }) => ({ ip, key: (p: LabServicePort) => externalProbeKey(svc.key, p.port, p.protocol, kind, ip) })),
    ];
    for (const { ip, key } of addresses) {
      for (const port of svc.ports) {
        if (port.protocol === 'SCTP') continue;
        out.push({
          key: key(port),
          ip,
          port: port.port,
          protocol: port.protocol,
          expect: expectation(svc, ofFamily(port, ipFamily(ip)), ip, file.services),
        });
      }
    }
  }
  return out;
}

/** A node's addresses of one family, in the order the cluster file lists them. */
function addressesOf(node: PlannedNode, family: 4 | 6): string[] {
  return nodeAddresses(node).filter((ip) => ipFamily(ip) === family);
}

/**
 * One probe per NodePort (TCP/UDP), node and node address of each family
 * the Service has ClusterIPs of: kube-proxy answers a NodePort on every
 * address of every node.
 */
export function nodePortProbes(file: LabServicesFile, nodes: PlannedNode[]): ServiceProbe[] {
  const out: ServiceProbe[] = [];
  for (const svc of file.services) {
    const families = [...new Set(svc.clusterIPs.map(ipFamily))].sort();
    for (const port of svc.ports) {
      if (port.nodePort === undefined || port.protocol === 'SCTP') continue;
      for (const node of nodes) {
        for (const family of families) {
          for (const ip of addressesOf(node, family)) {
            out.push({
              key: nodePortProbeKey(svc.key, port.port, port.protocol, port.nodePort, node.name, family, ip),
              ip,
              port: port.nodePort,
              protocol: port.protocol,
              expect: expectation(svc, ofFamily(port, family), ip, file.services),
            });
          }
        }
      }
    }
  }
  return out;
}

/** One probe per hostPort (TCP/UDP) and address of the pod's node it is bound to; the pod answers with its name. */
export function hostPortProbes(file: LabServicesFile, nodes: PlannedNode[]): ServiceProbe[] {
  const out: ServiceProbe[] = [];
  for (const h of file.hostPorts ?? []) {
    const node = nodes.find((n) => n.name === h.node);
    if (node === undefined || h.protocol === 'SCTP') continue;
    for (const ip of h.hostIP !== undefined ? [h.hostIP] : addressesOf(node, h.family)) {
      out.push({
        key: hostPortProbeKey(h.pod, h.hostPort, h.protocol, h.node, h.family, ip),
        ip,
        port: h.hostPort,
        protocol: h.protocol,
        expect: { kind: 'line', replies: [h.pod] },
      });
    }
  }
  return out;
}

/** The resolution every pod must manage: the `kubernetes` Service through the cluster DNS. */
export function dnsProbe(file: LabServicesFile): DnsProbe | undefined {
  const dns = file.services.find((s) => s.key === `${DNS_SERVICE.namespace}/${DNS_SERVICE.name}`);
  const api = file.services.find((s) => s.key === `${API_SERVICE.namespace}/${API_SERVICE.name}`);
  const server = dns?.clusterIPs.find((ip) => ipFamily(ip) === 4);
  if (!api || !server) return undefined;
  return {
    server,
    name: serviceName(api.namespace, api.name),
    v4: api.clusterIPs.filter((ip) => ipFamily(ip) === 4),
    v6: api.clusterIPs.filter((ip) => ipFamily(ip) === 6),
  };
}
