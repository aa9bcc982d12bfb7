// What the lab tells a local-manifest agent that a real cluster's API would:
// which node each pod runs on and the addresses the "CNI" gave it. Written
// atomically (tmp + rename) by the lab, read and watched by the agent.

export interface LabClusterFile {
  version: 1;
  podCIDRs: string[]; // e.g. ["10.244.0.0/16", "fd00:10:244::/48"]
  serviceCIDRs: string[]; // e.g. ["10.96.0.0/16", "fd00:10:96::/108"]
  nodes: { name: string; addresses: string[] }[];
  /** "ns/name" -> placement; pods absent here have no IP yet (not started). */
  pods: Record<string, { node: string; ips: string[] }>;
  /** "ns/name" -> ClusterIPs the lab's "apiserver" allocated (Services without
   *  spec.clusterIP in their manifest); absent for labs without Services. */
  services?: Record<string, { clusterIPs: string[] }>;
  /** "ns/name" -> "port/PROTO" -> nodePort the lab allocated (ports of NodePort
   *  and LoadBalancer Services without spec.ports[].nodePort in their manifest). */
  nodePorts?: Record<string, Record<string, number>>;
}
