// The cluster as the agent sees it (inputs of the compile step) and the
// datapath it wants (outputs). Plain data: no I/O, no classes.
import type { PolicyInfo, PolicyValue } from './policy-types.js';

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
  /** Published on the node's addresses (portmap CNI plugin: DNAT node:hostPort -> pod:containerPort). */
  hostPort?: number;
  /** Canonical; the one node address hostPort is bound to (absent: every address of the node). */
  hostIP?: string;
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

/** Kubernetes label selector (metav1.LabelSelector). An empty selector
 *  (no labels, no expressions) selects everything, as in Kubernetes. */
export interface LabelSelector {
  matchLabels: Record<string, string>;
  matchExpressions: LabelSelectorRequirement[];
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values: string[];
}

/** API groups accepted for VirtualNetwork / VirtualNetworkRouter. */
export type NetworkApiGroup = 'vrfwall.dev' | 'core.contrail.juniper.net';

/** A custom network (design section 4). Its network name is "ns/name". */
export interface VirtualNetworkObject {
  kind: 'VirtualNetwork';
  apiGroup: NetworkApiGroup;
  metadata: ObjectMeta & { namespace: string };
  spec: {
    /** May pods be placed in it by annotation (default true). */
    podNetwork: boolean;
    v4Subnet?: string; // canonical CIDR, informational
    v6Subnet?: string;
    external?: 'allow' | 'deny';
  };
}

export type RouterType = 'mesh' | 'hub' | 'spoke';

export interface RouterImport {
  virtualNetworkRouterSelector: LabelSelector;
  /** Absent: the importing router's own namespace. */
  namespaceSelector?: LabelSelector;
}

export interface VirtualNetworkRouterObject {
  kind: 'VirtualNetworkRouter';
  apiGroup: NetworkApiGroup;
  metadata: ObjectMeta & { namespace: string };
  spec: {
    type: RouterType;
    /** Absent: selects no network (a router that only imports). */
    virtualNetworkSelector?: LabelSelector;
    imports: RouterImport[];
  };
}

export type L4Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ServicePort {
  name?: string;
  protocol: L4Protocol;
  port: number;
  /** A number, or the name of a container port of the backend pods. */
  targetPort: number | string;
  /** NodePort and LoadBalancer Services: kube-proxy DNATs <any node address>:nodePort to the backends. */
  nodePort?: number;
}

export interface ServiceObject {
  kind: 'Service';
  metadata: ObjectMeta & { namespace: string };
  spec: {
    type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
    /** Canonical ClusterIPs (spec.clusterIPs, else spec.clusterIP; for the
     *  local-manifest source, else its overlay's, e.g. the lab's). Empty: headless, not
     *  allocated yet, or ExternalName. */
    clusterIPs: string[];
    /** spec.clusterIP "None". */
    headless: boolean;
    /** Absent (or empty in the manifest): endpoints are managed by someone
     *  else (EndpointSlices), not derived from pods. */
    selector?: Record<string, string>;
    ports: ServicePort[];
    /** Canonical spec.externalIPs: kube-proxy DNATs them on the Service's ports like the ClusterIP. */
    externalIPs: string[];
    /** Canonical status.loadBalancer.ingress[].ip (and spec.loadBalancerIP): the same. */
    loadBalancerIPs: string[];
  };
}

/** discovery.k8s.io/v1 EndpointSlice, reduced to what the compile step uses. */
export interface EndpointSliceObject {
  kind: 'EndpointSlice';
  metadata: ObjectMeta & { namespace: string };
  /** Label kubernetes.io/service-name: the Service it belongs to. */
  serviceName: string;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints: {
    addresses: string[]; // canonical for IPv4/IPv6 slices
    /** conditions.ready; an absent condition counts as ready (as kube-proxy reads it). */
    ready: boolean;
    /** targetRef when it is a Pod: "ns/name". */
    pod?: string;
  }[];
  /** name matches the Service port's name; port is the backend (target) port. */
  ports: { name: string; port?: number; protocol: L4Protocol }[];
}

/** k8s.cni.cncf.io/v1 NetworkAttachmentDefinition (Multus), reduced to what
 *  the compile step reads: its identity and annotations (a
 *  `vrfwall.dev/network` annotation names its network). spec.config is the
 *  CNI's business. */
export interface NetworkAttachmentDefinitionObject {
  kind: 'NetworkAttachmentDefinition';
  metadata: ObjectMeta & { namespace: string };
  /** The delegate CNI plugin's `type` (of spec.config, or its first plugin's
   *  for a list); absent when the config names none or does not parse. */
  cniType?: string;
  /** The bridge plugin's `bridge` (its default "cni0" when the config names none): the only
   *  node bridge discovery looks for this NAD's interfaces on. Absent for other types. */
  bridge?: string;
}

/** networking.k8s.io/v1 NetworkPolicy, parsed (src/sources/documents.ts). */
export interface NetworkPolicyObject {
  kind: 'NetworkPolicy';
  metadata: ObjectMeta & { namespace: string };
  spec: {
    podSelector: LabelSelector;
    /** Defaulted as Kubernetes does: Ingress always, Egress when listed or when egress rules exist. */
    policyTypes: PolicyType[];
    ingress: NetworkPolicyRule[];
    egress: NetworkPolicyRule[];
  };
  /** Set when part of the policy did not parse: it still selects its pods for its types (every pod of its
   *  namespace when the podSelector is what failed) and allows nothing (fail closed); the text says what. */
  invalid?: string;
}

export type PolicyType = 'Ingress' | 'Egress';

/** One ingress (from) or egress (to) rule. */
export interface NetworkPolicyRule {
  /** Empty: every peer (from/to absent or empty). */
  peers: NetworkPolicyPeer[];
  /** Empty: every protocol and port (ICMP too). */
  ports: NetworkPolicyPort[];
}

export type NetworkPolicyPeer =
  | {
      kind: 'pods';
      /** Absent: every pod of the selected namespaces. */
      podSelector?: LabelSelector;
      /** Absent: the policy's own namespace. */
      namespaceSelector?: LabelSelector;
    }
  | { kind: 'ipBlock'; cidr: string; except: string[] }; // canonical network CIDRs

export interface NetworkPolicyPort {
  protocol: L4Protocol;
  /** Absent: every port of the protocol. A name: the destination pod's container port of that name and protocol. */
  port?: number | string;
  /** With a numeric port: the range port..endPort. */
  endPort?: number;
}

export interface ClusterState {
  namespaces: Map<string, NamespaceObject>; // by name
  pods: Map<string, PodObject>; // by "ns/name"
  nodes: Map<string, NodeInfo>; // by name
  virtualNetworks: Map<string, VirtualNetworkObject>; // by "ns/name"
  routers: Map<string, VirtualNetworkRouterObject>; // by "ns/name"
  services: Map<string, ServiceObject>; // by "ns/name"
  endpointSlices: Map<string, EndpointSliceObject>; // by "ns/name"
  attachmentDefinitions: Map<string, NetworkAttachmentDefinitionObject>; // by "ns/name"
  /** Empty: no NetworkPolicy (the compile does no policy work). */
  networkPolicies: Map<string, NetworkPolicyObject>; // by "ns/name"
  problems: SourceProblem[];
}

export interface ClusterConfig {
  /** This agent's node. */
  nodeName: string;
  podCIDRs: string[];
  serviceCIDRs: string[];
  /** --network-policy (issue 16): absent or true = on; false = no policy state compiled, no policy checks */
  networkPolicy?: boolean;
}

/** Network names are "ns/name"; the default network is default/default-podnetwork. */
export const DEFAULT_NETWORK = 'default/default-podnetwork';

export type PodPlacement =
  | { kind: 'network'; network: string; why: string }
  | { kind: 'quarantine'; why: string }
  /** hostNetwork pod: its addresses are the node's (rule 6), no network. */
  | { kind: 'host'; why: string };

/** A pod's secondary interface (Multus), as network-status reports it. */
export interface AttachedInterface {
  /** "ns/pod@ifname": its key in placements and attach */
  key: string;
  ifname: string;
  /** the NetworkAttachmentDefinition, "ns/name", when network-status names one */
  nad?: string;
  /** canonical */
  ips: string[];
}

/** network name -> VRF id; ids are never reused while a name holds them. */
export interface VrfAllocation {
  ids: Record<string, number>;
  next: number;
}

/** Observed host-side interfaces of local pods: pod IP -> ifindex. */
export type InterfaceIndex = Map<string, number>;

/** Observed MACs of local pods on a bridge: host-side ifindex -> MAC ("aa:bb:..."). */
export type PortMacs = Map<number, string>;

export interface DesiredEndpoint {
  vrfId: number;
  flags: number; // VW_EP_*
  ifindex: number;
  /** NetworkPolicy (policy-types.ts EndpointPolicy): absent = 0. Every pod with a policy identity has one
   *  (when any policy exists); policyIn/policyOut only on local pods a policy selects. */
  identity?: number;
  policyIn?: number;
  policyOut?: number;
}

/** One entry of the services or backends map: clients of network
 *  `clientVrf` (0: every network; VW_SVC_FRONTEND_VRF: the marker of a
 *  frontend outside the service ranges) may use addr:port/protocol. */
export interface DesiredServiceEntry {
  addr: string; // canonical; '::' (VW_SVC_NODE_ADDR) for NodePorts
  port: number;
  protocol: L4Protocol;
  clientVrf: number;
  /** The network of the backend pod(s) that grant the client (0: none, or several). */
  svcVrf: number;
  flags: number; // VW_SVC_*
}

/** What a Service reported, counted (metric vrfwall_service_problems). */
export type ServiceProblemKind =
  | 'foreign_backend' // an endpoint that is a pod of another namespace
  | 'unknown_backend' // an endpoint in the cluster ranges that no pod owns, or owned by several
  | 'several_networks' // backend pods in more than one network
  | 'bad_annotation' // a sharing annotation that is neither "true" nor "false"
  | 'external_narrowed' // shared, but an outside backend keeps external-deny networks out
  | 'frontend_rejected' // a NodePort/external/LoadBalancer address that cannot be a frontend
  | 'frontend_conflict' // a frontend that another Service or hostPort also claims
  | 'frontend_backend' // an endpoint that is itself a frontend (NodePort, hostPort, external/LB IP): its port answers nobody
  | 'tunnel_backend'; // a node or outside endpoint on a tunnel port (VXLAN, Geneve): its port answers nobody

/** Who may use a Service, and why (design section 3 rules 3 and 4). A
 *  Service has no network of its own: this is derived from its backends. */
export interface ServiceAccess {
  shared: boolean;
  /** Why shared or not. */
  why: string;
  /** Networks of its backend pods (of its own namespace, not quarantined), sorted. */
  backendNetworks: string[];
  /** Networks that may use its ClusterIPs and frontends, sorted; ["*"]: every network; []: none. */
  clients: string[];
  problems: Partial<Record<ServiceProblemKind, number>>;
}

export function serviceEntryKey(e: Pick<DesiredServiceEntry, 'addr' | 'port' | 'protocol' | 'clientVrf'>): string {
  return `${e.addr}|${e.port}|${e.protocol}|${e.clientVrf}`;
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
  /** bridge ports among those: ifindex -> the only source MAC that passes (VW_NO_MAC: none) */
  ports: PortMacs;
  /** Service ClusterIP:port entries (rule 3), by serviceEntryKey() */
  services: Map<string, DesiredServiceEntry>;
  /** Service backend addr:targetPort entries (rule 4), by serviceEntryKey() */
  backends: Map<string, DesiredServiceEntry>;
  /** per Service "ns/name": who may use it and why */
  serviceAccess: Map<string, ServiceAccess>;
  /** per pod ("ns/name") and secondary interface ("ns/name@ifname"): where it is and why */
  placements: Map<string, PodPlacement>;
  /** pods with secondary interfaces ("ns/name") -> those interfaces, by name */
  attachments: Map<string, AttachedInterface[]>;
  allocation: VrfAllocation;
  /** NetworkPolicy: the `policy` map's desired entries, by policyKeyText() (empty with no policy or --network-policy=off) */
  policy: Map<string, PolicyValue>;
  /** the `policy_cidrs` trie's desired entries, by policyCidrKeyText() */
  policyCidrs: Map<string, PolicyValue>;
  /** the names behind the policy set and identity ids (explain, flows, what-if) */
  policyInfo: PolicyInfo;
  /** What the compile step refused or overrode (duplicate IPs, bad values). */
  problems: SourceProblem[];
}

/**
 * "namespace/name", the key of a namespaced object in ClusterState's maps.
 * Built with join: a template literal of 13 characters or more is a V8 cons
 * string, which keeps a second, flattened copy once it is hashed (~33 bytes
 * more per key: 3 MB at 100,000 pods, held by every index keyed by pod).
 */
export function namespacedKey(namespace: string, name: string): string {
  return [namespace, name].join('/');
}

