// The cluster as the agent sees it (inputs of the compile step) and the
// datapath it wants (outputs). Plain data: no I/O, no classes.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface NamespaceObject {
  kind: 'Namespace';
  metadata: ObjectMeta;
}

export interface ContainerPort {
  containerPort: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  name?: string;
}

export interface PodObject {
  kind: 'Pod';
  metadata: ObjectMeta & { namespace: string };
  spec: {
    nodeName?: string;
    hostNetwork: boolean;
    ports: ContainerPort[]; // of all containers
  };
  status: {
    podIPs: string[]; // canonical text form (ipaddr.js toString / toNormalizedString for v6)
  };
}

/** A node of the cluster: its addresses are "host" endpoints (rule 6). */
export interface NodeInfo {
  name: string;
  addresses: string[];
}

/** An object that could not be used, with why (file name for manifests). */
export interface SourceProblem {
  source: string; // e.g. "examples/x/pods.yaml#2" or "Pod default/pod1"
  message: string;
}

export interface ClusterState {
  namespaces: Map<string, NamespaceObject>; // by name
  pods: Map<string, PodObject>; // by "ns/name"
  nodes: Map<string, NodeInfo>; // by name
  problems: SourceProblem[];
}

export interface ClusterConfig {
  /** This agent's node. */
  nodeName: string;
  podCIDRs: string[];
  serviceCIDRs: string[];
}

/** Network names are "ns/name"; the default network is default/default-podnetwork. */
export const DEFAULT_NETWORK = 'default/default-podnetwork';

export type PodPlacement =
  | { kind: 'network'; network: string; why: string }
  | { kind: 'quarantine'; why: string }
  /** hostNetwork pod: its addresses are the node's (rule 6), no network. */
  | { kind: 'host'; why: string };

/** network name -> VRF id; ids are never reused while a name holds them. */
export interface VrfAllocation {
  ids: Record<string, number>;
  next: number;
}

/** Observed host-side interfaces of local pods: pod IP -> ifindex. */
export type InterfaceIndex = Map<string, number>;

export interface DesiredEndpoint {
  vrfId: number;
  flags: number; // VW_EP_*
  ifindex: number;
}

export interface DesiredState {
  /** address (canonical text) -> endpoint */
  endpoints: Map<string, DesiredEndpoint>;
  /** "src:dst" vrf pairs (both orders present) */
  vrfPairs: Set<string>;
  /** vrf id -> VW_NET_* flags */
  networks: Map<number, number>;
  /** CIDR text -> VW_CIDR_* kind */
  cidrs: Map<string, number>;
  /** local pods to enforce on: "ns/name" -> ifindexes */
  attach: Map<string, number[]>;
  /** per pod: where it is and why */
  placements: Map<string, PodPlacement>;
  allocation: VrfAllocation;
  /** What the compile step refused or overrode (duplicate IPs, bad values). */
  problems: SourceProblem[];
}
