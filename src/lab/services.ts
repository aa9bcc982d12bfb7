// The lab's view of Services (pure): from the cluster state, through the one
// shared computation (src/model/services.ts), to what the lab's kube-proxy
// programs (DNAT targets), what its DNS answers, and what `lab matrix` probes.
import { dnatTargets, ipFamily, serviceEndpoints } from '../model/services.js';
import type { DnatTarget, ServiceEndpoints } from '../model/services.js';
import type { ClusterState, SourceProblem } from '../model/types.js';
import { APISERVER_NAME, API_SERVICE, CONTROL_PLANE_NODE, DNS_POD, DNS_SERVICE } from './builtin.js';
import { buildRecords, serviceName } from './dns.js';
import type { DnsRecords } from './dns.js';
import { nodeAddresses } from './plan.js';
import type { LabPlan } from './plan.js';
import { serviceProbeKey } from './protocol.js';
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
  backends: LabServiceBackend[];
}

export interface LabService {
  key: string;
  namespace: string;
  name: string;
  clusterIPs: string[];
  ports: LabServicePort[];
}

/** /run/vrfwall/lab/<lab>/services.json, written by the lab's kube-proxy after each change it applied. */
export interface LabServicesFile {
  version: 1;
  time: string;
  services: LabService[];
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

function labService(s: ServiceEndpoints, name: (ip: string, pod: string | undefined) => string): LabService {
  return {
    key: s.key,
    namespace: s.namespace,
    name: s.name,
    clusterIPs: s.vips,
    ports: s.ports.map((p) => ({
      name: p.name,
      protocol: p.protocol,
      port: p.port,
      backends: p.backends.map((b) => ({ ip: b.ip, port: b.port, name: name(b.ip, b.pod) })),
    })),
  };
}

/** Everything the kube-proxy needs after one change of the cluster state. */
export function labServices(state: ClusterState, plan: LabPlan): { file: LabServicesFile; targets: DnatTarget[] } {
  const { services, problems } = serviceEndpoints(state);
  const name = backendNamer(plan);
  const pods = [...state.pods.values()]
    .filter((p) => !p.spec.hostNetwork)
    .map((p) => ({ namespace: p.metadata.namespace, ips: p.status.podIPs }));
  return {
    file: {
      version: 1,
      time: new Date().toISOString(),
      services: services.map((s) => labService(s, name)),
      dns: buildRecords(services.map((s) => ({ namespace: s.namespace, name: s.name, clusterIPs: s.vips })), pods),
      problems,
    },
    targets: dnatTargets(services),
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

/** One probe per ClusterIP and TCP/UDP port of every Service (SCTP is not probed). */
export function serviceProbes(file: LabServicesFile): ServiceProbe[] {
  const out: ServiceProbe[] = [];
  for (const svc of file.services) {
    for (const vip of svc.clusterIPs) {
      for (const port of svc.ports) {
        if (port.protocol === 'SCTP') continue;
        const p = { ...port, backends: port.backends.filter((b) => ipFamily(b.ip) === ipFamily(vip)) };
        out.push({
          key: serviceProbeKey(svc.key, port.port, port.protocol, ipFamily(vip) === 6),
          ip: vip,
          port: port.port,
          protocol: port.protocol,
          expect: expectation(svc, p, vip, file.services),
        });
      }
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
