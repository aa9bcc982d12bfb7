// Data exchanged between the lab and its probe script, and the matrix format.

export interface ProbeTarget {
  /** "ns/pod"; the responder's reply must equal this */
  key: string;
  v4: string;
  v6: string;
  tcpPort: number;
  udpPort: number;
}

/** What a probe of a Service port must get back to count as reached. */
export type ServiceExpectation =
  /** the responder of any backend: its reply line must be one of these names */
  | { kind: 'line'; replies: string[] }
  /** a DNS server: a query for `name` (type A or AAAA) must answer exactly `addresses` */
  | { kind: 'dns'; name: string; type: 'A' | 'AAAA'; addresses: string[] };

/** One Service port on one ClusterIP, probed from a pod. */
export interface ServiceProbe {
  /** a key of Matrix.services rows, see serviceProbeKey */
  key: string;
  ip: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  expect: ServiceExpectation;
}

/** A name the pod resolves the way its resolver would (UDP through the cluster DNS). */
export interface DnsProbe {
  server: string;
  name: string;
  /** expected A and AAAA answers (either may be empty) */
  v4: string[];
  v6: string[];
}

export interface ProbeRequest {
  timeoutMs: number;
  targets: ProbeTarget[];
  services?: ServiceProbe[];
  /** NodePorts on node addresses, and hostPorts: probed like Service ports */
  nodePorts?: ServiceProbe[];
  hostPorts?: ServiceProbe[];
  dns?: DnsProbe;
}

/** Reachability of one destination pod from one source pod. */
export interface MatrixCell {
  icmp: boolean;
  tcp: boolean;
  udp: boolean;
  icmp6: boolean;
  tcp6: boolean;
  udp6: boolean;
}

export interface ProbeResponse {
  pods: Record<string, MatrixCell>;
  services: Record<string, boolean>;
  /** absent when the request had none */
  nodePorts?: Record<string, boolean>;
  hostPorts?: Record<string, boolean>;
  /** absent when the request had no DNS probe */
  dns?: boolean;
}

/**
 * `vrfwall lab matrix --json`.
 * - pods: source "ns/pod" -> destination "ns/pod" -> cell.
 * - services: source "ns/pod" -> "<ns>/<svc>:<port>/<PROTO>" (the IPv4
 *   ClusterIP) or "<ns>/<svc>:<port>/<PROTO>/v6" (the IPv6 one) -> answered;
 *   externalIPs and LoadBalancer IPs as "<ns>/<svc>:<port>/<PROTO> externalIP
 *   <ip>" and "... loadBalancerIP <ip>" (externalProbeKey).
 * - nodePorts: source "ns/pod" -> "<ns>/<svc>:<port>/<PROTO> nodePort <n>
 *   <node> v4|v6 <node address>" -> answered (nodePortProbeKey): every
 *   NodePort on every address of every node, per family of the Service.
 * - hostPorts: source "ns/pod" -> "<ns>/<pod> hostPort <n>/<PROTO> <node>
 *   v4|v6 <node address>" -> answered by that pod (hostPortProbeKey).
 * - dns: source "ns/pod" -> resolved kubernetes.default.svc.cluster.local
 *   (A and AAAA, UDP) through the cluster DNS at 10.96.0.10 to the right
 *   ClusterIPs.
 * Lab-made pods (the cluster DNS) are not rows or columns of "pods"; they are
 * reached through their Services.
 */
export interface Matrix {
  pods: Record<string, Record<string, MatrixCell>>;
  services: Record<string, Record<string, boolean>>;
  nodePorts: Record<string, Record<string, boolean>>;
  hostPorts: Record<string, Record<string, boolean>>;
  dns: Record<string, boolean>;
}

export const CELL_FIELDS = ['icmp', 'tcp', 'udp', 'icmp6', 'tcp6', 'udp6'] as const;

/** Row key of a Service probe: IPv4 ClusterIP plain, IPv6 with a "/v6" suffix. */
export function serviceProbeKey(service: string, port: number, protocol: string, v6: boolean): string {
  return `${service}:${port}/${protocol}${v6 ? '/v6' : ''}`;
}

/** Key of an externalIP or LoadBalancer IP probe (a row of Matrix.services). */
export function externalProbeKey(service: string, port: number, protocol: string, kind: 'externalIP' | 'loadBalancerIP', ip: string): string {
  return `${service}:${port}/${protocol} ${kind} ${ip}`;
}

/** Key of a NodePort probe: Service port, nodePort, node, family and the node address probed. */
export function nodePortProbeKey(service: string, port: number, protocol: string, nodePort: number, node: string, family: 4 | 6, ip: string): string {
  return `${service}:${port}/${protocol} nodePort ${nodePort} ${node} v${family} ${ip}`;
}

/** Key of a hostPort probe: the pod, its hostPort, its node, family and the node address probed. */
export function hostPortProbeKey(pod: string, hostPort: number, protocol: string, node: string, family: 4 | 6, ip: string): string {
  return `${pod} hostPort ${hostPort}/${protocol} ${node} v${family} ${ip}`;
}
