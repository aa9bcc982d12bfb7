// Data exchanged between the lab and its probe script, and the matrix format.

export interface ProbeTarget {
  /** "ns/pod", or "ns/pod@<ifname>" for a secondary interface */
  key: string;
  /** the responder's reply must equal this ("ns/pod"); absent: `key` */
  reply?: string;
  /** absent: that family is not probed (its cells are null) */
  v4?: string;
  v6?: string;
  tcpPort: number;
  udpPort: number;
  /** more ports to probe on each family (MatrixOptions.ports); their answers are MatrixCell.ports */
  ports?: PortProbe[];
}

/** Transport protocols a port probe speaks; SCTP over raw sockets (sctp.ts). */
export type PortProtocol = 'TCP' | 'UDP' | 'SCTP';

/** One protocol and port probed on every destination pod (TCP, UDP: the responder's line; SCTP: an INIT ACK). */
export interface PortProbe {
  protocol: PortProtocol;
  port: number;
}

/** Key of a port probe in MatrixCell.ports: "TCP/80". */
export function portProbeKey(p: PortProbe): string {
  return `${p.protocol}/${p.port}`;
}

/** "tcp/80", "UDP/81", "sctp/80" -> a PortProbe; throws on anything else. */
export function parsePortProbe(text: string): PortProbe {
  const m = /^(tcp|udp|sctp)\/(\d{1,5})$/i.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new Error(`port probe ${JSON.stringify(text)}: expected <tcp|udp|sctp>/<1-65535>`);
  return { protocol: (m[1] as string).toUpperCase() as PortProtocol, port };
}

/** A port probe's answers: null where the family is not probed (as in MatrixCell). */
export interface PortCell {
  v4: boolean | null;
  v6: boolean | null;
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
  /** the addresses probes of `targets` are sent from (a pod with secondary interfaces); absent: the kernel's choice */
  source?: { v4?: string; v6?: string };
  services?: ServiceProbe[];
  /** NodePorts on node addresses, and hostPorts: probed like Service ports */
  nodePorts?: ServiceProbe[];
  hostPorts?: ServiceProbe[];
  dns?: DnsProbe;
}

/**
 * Reachability of one destination pod (interface) from one source pod
 * (interface). null: not probed, because one of the two interfaces has no
 * address of that family (a v4-only secondary interface); never "closed".
 * Pods' eth0 have both families, so their cells have no null.
 */
export interface MatrixCell {
  icmp: boolean | null;
  tcp: boolean | null;
  udp: boolean | null;
  icmp6: boolean | null;
  tcp6: boolean | null;
  udp6: boolean | null;
  /** the answers to the extra port probes (MatrixOptions.ports), by portProbeKey(); absent when none were asked */
  ports?: Record<string, PortCell>;
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
 * - pods: source -> destination -> cell, both "ns/pod" (the pod's eth0) or
 *   "ns/pod@<ifname>" (a Multus secondary interface; probes from it are sent
 *   from its addresses, and so are those from the eth0 of a pod that has
 *   secondary ones). Every ordered pair of interfaces of distinct pods that
 *   share an address family; a pair that shares none has no cell.
 * - services (and nodePorts, hostPorts, dns): from pods' eth0 only.
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
