// Property test of the incremental compile (src/model/incremental.ts): over
// many seeded random sequences of changes to every kind of object, after
// every step its maps equal compile() of the state at that step (the pure
// reference), and the delta it reports, applied to the previous maps, gives
// the new ones.
import { describe, expect, it } from 'vitest';
import { VW_NO_MAC } from '../src/kernel/abi.js';
import { compile, EXTERNAL_KEY } from '../src/model/compile.js';
import { IncrementalCompiler, type DesiredDelta } from '../src/model/incremental.js';
import { CN2_ISOLATED_LABEL, ISOLATED_LABEL, LEGACY_ISOLATION_ANNOTATION, LEGACY_NETWORK_KEY, NETWORK_KEY } from '../src/model/placement.js';
import { LEGACY_SERVICE_ISOLATION_ANNOTATION, SHARED_ANNOTATION } from '../src/model/sharing.js';
import { NETWORK_STATUS_ANNOTATION, NETWORKS_ANNOTATION } from '../src/model/multus.js';
import { ENFORCEMENT_KEY } from '../src/model/enforcement.js';
import type {
  ClusterConfig,
  ClusterState,
  ContainerPort,
  DesiredState,
  EndpointSliceObject,
  InterfaceIndex,
  LabelSelector,
  NamespaceObject,
  NetworkAttachmentDefinitionObject,
  NetworkPolicyObject,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  NetworkPolicyRule,
  PodObject,
  PortMacs,
  ServiceObject,
  ServicePort,
  VirtualNetworkObject,
  VirtualNetworkRouterObject,
  VrfAllocation,
} from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { buildDirectory, Directory } from '../src/flows/directory.js';
import { changedObjects } from '../src/sources/changes.js';
import { emptyClusterState } from '../src/sources/source.js';
import { rng } from './helpers/random.js';

const config: ClusterConfig = { nodeName: 'node1', podCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56', '172.16.0.0/16', 'fd00:16::/64'], serviceCIDRs: ['10.96.0.0/16'] };


class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  some<T>(xs: readonly T[], max: number): T[] {
    const n = this.int(max + 1);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(this.pick(xs));
    return [...new Set(out)];
  }
}

const NAMESPACES = ['default', 'kube-system', 'a', 'b', 'k8s-c'];
const VN_NAMES = ['blue', 'red', 'default-podnetwork'];
const POD_IPS = [
  ...Array.from({ length: 24 }, (_, i) => `10.244.${i % 3}.${10 + i}`),
  'fd00:10:244::2',
  'fd00:10:244::3',
  '10.244.0.4',
  '192.168.1.10',
];
const NODE_ADDRS = ['192.168.1.10', '192.168.1.11', '10.244.0.4', 'not-an-ip'];
const OUTSIDE = ['203.0.113.5', '198.51.100.7'];
const VIPS = ['10.96.0.10', '10.96.0.11', '10.96.0.12', '10.97.0.1', '10.96.0.10'];
const LABEL_VALUES = ['x', 'y'];
// Secondary interfaces' addresses: in a VirtualNetwork's subnet or not, and some a pod's or node's own.
const SECONDARY_IPS = ['172.16.10.3', '172.16.10.4', '172.16.20.3', 'fd00:16::3', '10.244.0.10', '192.168.1.11'];
const NAD_NAMES = ['blue', 'red', 'nad1'];

function labels(g: Gen): Record<string, string> {
  const out: Record<string, string> = {};
  if (g.chance(0.6)) out.app = g.pick(LABEL_VALUES);
  if (g.chance(0.3)) out.tier = g.pick(LABEL_VALUES);
  return out;
}

function networkAnnotation(g: Gen, out: Record<string, string>, own?: string): void {
  const roll = g.int(own === undefined ? 10 : 5);
  if (roll === 0) out[NETWORK_KEY] = `${g.pick(['a', 'b'])}/${g.pick(VN_NAMES)}`;
  else if (roll === 1) out[NETWORK_KEY] = 'bad value';
  else if (roll === 2) out[LEGACY_NETWORK_KEY] = JSON.stringify({ domain: 'default-domain', project: `k8s-${g.pick(['a', 'c', 'k8s-c'])}`, name: g.pick(VN_NAMES) });
  else if (own !== undefined) out[NETWORK_KEY] = `${own}/${g.pick(['blue', 'red'])}`; // a network a router of its namespace may join
}

function namespace(g: Gen, name: string): NamespaceObject {
  const l: Record<string, string> = labels(g);
  const a: Record<string, string> = {};
  const iso = g.int(8);
  if (iso === 0) l[ISOLATED_LABEL] = 'true';
  else if (iso === 1) l[CN2_ISOLATED_LABEL] = g.pick(['true', 'false', 'yes-please']);
  else if (iso === 2) a[LEGACY_ISOLATION_ANNOTATION] = 'true';
  if (g.chance(0.2)) l[EXTERNAL_KEY] = g.pick(['deny', 'allow', 'maybe']);
  if (g.chance(0.15)) a[LEGACY_SERVICE_ISOLATION_ANNOTATION] = g.pick(['false', 'true', 'bogus']);
  if (g.chance(0.3)) networkAnnotation(g, a);
  // Audit mode: audited networks open to each other and the default network (enforcement.ts).
  if (g.chance(0.35)) a[ENFORCEMENT_KEY] = g.pick(['audit', 'audit', 'enforce', 'Audit ', 'bogus']);
  return { kind: 'Namespace', metadata: { name, labels: l, annotations: a } };
}

function selector(g: Gen): LabelSelector {
  const s: LabelSelector = { matchLabels: {}, matchExpressions: [] };
  if (g.chance(0.7)) s.matchLabels.app = g.pick(LABEL_VALUES);
  if (g.chance(0.2)) s.matchExpressions.push({ key: 'tier', operator: g.pick(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const), values: ['x'] });
  return s;
}

function virtualNetwork(g: Gen, key: string): VirtualNetworkObject {
  const [namespace = '', name = ''] = key.split('/');
  return {
    kind: 'VirtualNetwork',
    apiGroup: 'vrfwall.dev',
    metadata: { name, namespace, labels: labels(g), annotations: g.chance(0.3) ? { [ENFORCEMENT_KEY]: g.pick(['audit', 'enforce', 'maybe']) } : {} },
    spec: {
      podNetwork: !g.chance(0.2),
      ...(g.chance(0.2) ? { external: g.pick(['allow', 'deny'] as const) } : {}),
      ...(g.chance(0.7) ? { v4Subnet: g.pick(['172.16.10.0/24', '172.16.20.0/24']) } : {}),
      ...(g.chance(0.2) ? { v6Subnet: 'fd00:16::/64' } : {}),
    },
  };
}

function attachmentDefinition(g: Gen, key: string): NetworkAttachmentDefinitionObject {
  const [namespace = '', name = ''] = key.split('/');
  const a: Record<string, string> = {};
  const roll = g.int(5);
  if (roll === 0) a[NETWORK_KEY] = `${g.pick(['a', 'b'])}/${g.pick(VN_NAMES)}`;
  else if (roll === 1) a[NETWORK_KEY] = g.pick(['bad value', 'default/default-podnetwork']);
  // Mostly a bridge delegate (enforceable); sometimes macvlan or none (refused).
  const cniType = g.chance(0.8) ? 'bridge' : g.pick(['macvlan', undefined]);
  return { kind: 'NetworkAttachmentDefinition', metadata: { name, namespace, labels: {}, annotations: a }, ...(cniType !== undefined ? { cniType } : {}) };
}

/** Multus annotations: what the pod asks for (both forms, sometimes broken) and what it got. */
function multusAnnotations(g: Gen, namespace: string, primary: readonly string[], out: Record<string, string>): void {
  const nads = g.some(NAD_NAMES, 2).map((n) => (g.chance(0.2) ? `${g.pick(['a', 'b', 'default'])}/${n}` : `${namespace}/${n}`));
  const ifs = ['net1', 'eth1', 'net2'];
  if (g.chance(0.85)) {
    const roll = g.int(4);
    if (roll === 0) out[NETWORKS_ANNOTATION] = JSON.stringify(nads.map((n, i) => ({ name: n.split('/')[1], namespace: n.split('/')[0], interface: ifs[i] })));
    else if (roll === 1) out[NETWORKS_ANNOTATION] = g.chance(0.5) ? 'not/a/valid,,list' : '[{"name": 3}]';
    else out[NETWORKS_ANNOTATION] = nads.map((n, i) => `${n}@${ifs[i]}`).join(',');
  }
  if (g.chance(0.85)) {
    if (g.chance(0.08)) {
      out[NETWORK_STATUS_ANNOTATION] = '{not json';
      return;
    }
    const entries: unknown[] = [{ name: 'cbr0', interface: 'eth0', ips: primary.filter((ip) => ip !== 'garbage'), default: true }];
    nads.forEach((n, i) => {
      if (g.chance(0.15)) return; // not attached yet
      entries.push({ name: g.chance(0.1) ? `${namespace}/other` : n, interface: g.chance(0.05) ? 'eth0' : ifs[i], ips: g.some(SECONDARY_IPS, 2) });
    });
    out[NETWORK_STATUS_ANNOTATION] = JSON.stringify(entries);
  }
}

function router(g: Gen, key: string): VirtualNetworkRouterObject {
  const [namespace = '', name = ''] = key.split('/');
  return {
    kind: 'VirtualNetworkRouter',
    apiGroup: 'vrfwall.dev',
    metadata: { name, namespace, labels: labels(g), annotations: {} },
    spec: {
      type: g.pick(['mesh', 'hub', 'spoke'] as const),
      ...(g.chance(0.85) ? { virtualNetworkSelector: selector(g) } : {}),
      imports: g.chance(0.6)
        ? [{ virtualNetworkRouterSelector: selector(g), ...(g.chance(0.5) ? { namespaceSelector: { matchLabels: {}, matchExpressions: [] } } : {}) }]
        : [],
    },
  };
}

function pod(g: Gen, key: string): PodObject {
  const [namespace = '', name = ''] = key.split('/');
  const a: Record<string, string> = {};
  if (g.chance(0.35)) networkAnnotation(g, a, namespace);
  const ports: ContainerPort[] = [];
  if (g.chance(0.5)) ports.push({ containerPort: 8080, protocol: 'TCP', name: 'http' });
  if (g.chance(0.2)) ports.push({ containerPort: 53, protocol: 'UDP', name: 'dns' });
  if (g.chance(0.15)) ports.push({ containerPort: 9000, protocol: 'TCP', hostPort: g.pick([30080, 9000, 4789]), ...(g.chance(0.3) ? { hostIP: g.pick(NODE_ADDRS.slice(0, 3)) } : {}) });
  const ips = g.chance(0.1) ? [] : g.some(POD_IPS, 2);
  if (g.chance(0.03)) ips.push('garbage');
  if (g.chance(0.5)) multusAnnotations(g, namespace, ips, a);
  return {
    kind: 'Pod',
    metadata: { name, namespace, labels: labels(g), annotations: a },
    spec: { ...(g.chance(0.9) ? { nodeName: g.pick(['node1', 'node1', 'node2']) } : {}), hostNetwork: g.chance(0.08), ports },
    status: { podIPs: ips },
  };
}

function service(g: Gen, key: string): ServiceObject {
  const [namespace = '', name = ''] = key.split('/');
  const type = g.pick(['ClusterIP', 'ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const);
  const headless = type === 'ClusterIP' && g.chance(0.1);
  const a: Record<string, string> = {};
  if (g.chance(0.4)) a[SHARED_ANNOTATION] = g.pick(['true', 'true', 'false', 'perhaps']);
  const ports: ServicePort[] = [{ name: 'web', protocol: 'TCP' as const, port: 80, targetPort: g.pick<number | string>([8080, 'http', 8080, 'nope']), ...(type !== 'ClusterIP' ? { nodePort: g.pick([30080, 30081]) } : {}) }];
  if (g.chance(0.4)) ports.push({ name: 'dns', protocol: 'UDP' as const, port: 53, targetPort: g.pick<number | string>(['dns', 53, 4789]) });
  return {
    kind: 'Service',
    metadata: { name, namespace, labels: {}, annotations: a },
    spec: {
      type,
      clusterIPs: headless || type === 'ExternalName' ? [] : [g.pick(VIPS)],
      headless,
      ...(g.chance(0.8) ? { selector: g.chance(0.9) ? { app: g.pick(LABEL_VALUES) } : {} } : {}),
      ports,
      externalIPs: g.chance(0.15) ? [g.pick([...OUTSIDE, NODE_ADDRS[0]!, '10.244.0.9'])] : [],
      loadBalancerIPs: type === 'LoadBalancer' && g.chance(0.5) ? [g.pick(OUTSIDE)] : [],
    },
  };
}

/** A NetworkPolicy (issue 16): random selectors, peers, ports; now and then one that did not parse. */
function networkPolicy(g: Gen, key: string): NetworkPolicyObject {
  const [namespace = '', name = ''] = key.split('/');
  const selector = (): LabelSelector =>
    g.chance(0.2) ? { matchLabels: {}, matchExpressions: [{ key: 'tier', operator: g.pick(['Exists', 'DoesNotExist'] as const), values: [] }] } : { matchLabels: labels(g), matchExpressions: [] };
  const peer = (): NetworkPolicyPeer => {
    const r = g.int(4);
    if (r === 0) return { kind: 'ipBlock', cidr: g.pick(['10.244.0.0/16', '0.0.0.0/0', 'fd00:10:244::/56']), except: g.chance(0.5) ? [g.pick(['10.244.0.0/24', '10.244.1.0/24'])].filter((e) => e.includes('.')) : [] };
    if (r === 1) return { kind: 'pods', namespaceSelector: selector() };
    if (r === 2) return { kind: 'pods', podSelector: selector(), namespaceSelector: selector() };
    return { kind: 'pods', podSelector: selector() };
  };
  const port = (): NetworkPolicyPort =>
    g.pick<NetworkPolicyPort>([{ protocol: 'TCP', port: 80 }, { protocol: 'TCP', port: 'http' }, { protocol: 'UDP', port: 'dns' }, { protocol: 'TCP', port: 8000, endPort: 8100 }, { protocol: 'SCTP', port: 80 }, { protocol: 'UDP' }]);
  const rules = (): NetworkPolicyRule[] => Array.from({ length: g.int(3) }, () => ({ peers: Array.from({ length: g.int(3) }, peer).map((p) => (p.kind === 'ipBlock' && p.cidr.includes(':') ? { ...p, except: [] } : p)), ports: Array.from({ length: g.int(3) }, port) }));
  const policyTypes = g.pick<('Ingress' | 'Egress')[]>([['Ingress'], ['Egress'], ['Ingress', 'Egress']]);
  const out: NetworkPolicyObject = { kind: 'NetworkPolicy', metadata: { name, namespace, labels: {}, annotations: {} }, spec: { podSelector: selector(), policyTypes, ingress: rules(), egress: rules() } };
  if (g.chance(0.05)) return { ...out, spec: { ...out.spec, ingress: [], egress: [] }, invalid: 'spec.ingress[0].from[0] must have podSelector, namespaceSelector or ipBlock' };
  return out;
}

/** A NetworkPolicy added, replaced or removed (its own random stream: the other kinds' sequences stay as they were). */
function mutatePolicies(g: Gen, s: ClusterState): ClusterState {
  const next: ClusterState = { ...s, networkPolicies: new Map(s.networkPolicies) };
  const key = `${g.pick(['a', 'b', 'default'])}/np${g.int(3)}`;
  if (g.chance(0.25)) next.networkPolicies.delete(key);
  else next.networkPolicies.set(key, networkPolicy(g, key));
  return next;
}

function slice(g: Gen, key: string): EndpointSliceObject {
  const [namespace = '', name = ''] = key.split('/');
  return {
    kind: 'EndpointSlice',
    metadata: { name, namespace, labels: {}, annotations: {} },
    serviceName: g.pick(['s1', 's2', 's3']),
    addressType: g.pick(['IPv4', 'IPv4', 'IPv6', 'FQDN'] as const),
    endpoints: Array.from({ length: g.int(3) }, () => ({
      addresses: [g.pick([...POD_IPS, ...OUTSIDE, NODE_ADDRS[1]!, '10.244.9.9'])],
      ready: g.chance(0.85),
      ...(g.chance(0.5) ? { pod: `${namespace}/p${g.int(4)}` } : {}),
    })),
    ports: [
      { name: 'web', port: g.pick([8080, 30080, 4789]), protocol: 'TCP' },
      ...(g.chance(0.3) ? [{ name: 'dns', port: g.pick([53, 4789]), protocol: 'UDP' as const }] : []),
    ],
  };
}

/** One random change: a new state (fresh maps, objects replaced, never mutated). */
function mutate(g: Gen, s: ClusterState): ClusterState {
  const next: ClusterState = {
    namespaces: new Map(s.namespaces),
    pods: new Map(s.pods),
    nodes: new Map(s.nodes),
    virtualNetworks: new Map(s.virtualNetworks),
    routers: new Map(s.routers),
    services: new Map(s.services),
    endpointSlices: new Map(s.endpointSlices),
    attachmentDefinitions: new Map(s.attachmentDefinitions),
    networkPolicies: new Map(s.networkPolicies),
    problems: [],
  };
  const nsKey = (prefix: string, n: number): string => `${g.pick(['a', 'b', 'default', 'k8s-c', 'kube-system'])}/${prefix}${g.int(n)}`;
  const roll = g.int(24);
  const del = g.chance(0.2);
  if (roll < 3) {
    const name = g.pick(NAMESPACES);
    if (del) next.namespaces.delete(name);
    else next.namespaces.set(name, namespace(g, name));
  } else if (roll < 5) {
    const key = `${g.pick(['a', 'b', 'default'])}/${g.pick(VN_NAMES)}`;
    if (del) next.virtualNetworks.delete(key);
    else next.virtualNetworks.set(key, virtualNetwork(g, key));
  } else if (roll < 6 || roll === 20) {
    const key = `${g.pick(['a', 'b'])}/r${g.int(3)}`;
    if (del) next.routers.delete(key);
    else next.routers.set(key, router(g, key));
  } else if (roll < 7) {
    const name = g.pick(['node1', 'node2']);
    if (del) next.nodes.delete(name);
    else next.nodes.set(name, { name, addresses: g.some(NODE_ADDRS, 2) });
  } else if (roll < 13) {
    const key = nsKey('p', 6);
    const old = next.pods.get(key);
    if (del) next.pods.delete(key);
    else if (old !== undefined && g.chance(0.4)) {
      // A label change only (the common case the agent must be fast at).
      next.pods.set(key, { ...old, metadata: { ...old.metadata, labels: labels(g) } });
    } else next.pods.set(key, pod(g, key));
  } else if (roll < 16) {
    const key = `${g.pick(['a', 'b', 'default', 'kube-system'])}/s${1 + g.int(3)}`;
    if (del) next.services.delete(key);
    else next.services.set(key, service(g, key));
  } else if (roll < 18) {
    const key = `${g.pick(['a', 'b', 'default', 'k8s-c'])}/e${g.int(3)}`;
    if (del) next.endpointSlices.delete(key);
    else next.endpointSlices.set(key, slice(g, key));
  } else if (roll === 21 || roll === 22) {
    const key = `${g.pick(['a', 'b', 'default'])}/${g.pick(NAD_NAMES)}`;
    if (del) next.attachmentDefinitions.delete(key);
    else next.attachmentDefinitions.set(key, attachmentDefinition(g, key));
  } else if (roll === 23) {
    // What Multus reports (or what the pod asks for) changed, nothing else.
    const key = nsKey('p', 6);
    const old = next.pods.get(key);
    if (old !== undefined) {
      const a = { ...old.metadata.annotations };
      delete a[NETWORKS_ANNOTATION];
      delete a[NETWORK_STATUS_ANNOTATION];
      if (!del) multusAnnotations(g, old.metadata.namespace, old.status.podIPs, a);
      next.pods.set(key, { ...old, metadata: { ...old.metadata, annotations: a } });
    }
  } else {
    // A namespace's isolation toggled.
    const name = g.pick(NAMESPACES);
    const old = next.namespaces.get(name) ?? namespace(g, name);
    const l = { ...old.metadata.labels };
    if (l[ISOLATED_LABEL] === 'true') delete l[ISOLATED_LABEL];
    else l[ISOLATED_LABEL] = 'true';
    next.namespaces.set(name, { ...old, metadata: { ...old.metadata, labels: l } });
  }
  return next;
}

function interfaces(g: Gen, s: ClusterState): { ifaces: InterfaceIndex; macs: PortMacs } {
  const ifaces: InterfaceIndex = new Map();
  const macs: PortMacs = new Map();
  let i = 10;
  for (const p of s.pods.values()) {
    if (p.spec.nodeName !== 'node1' || p.spec.hostNetwork) continue;
    i++;
    for (const ip of p.status.podIPs) if (g.chance(0.8)) ifaces.set(ip, i);
    if (g.chance(0.3)) macs.set(i, g.chance(0.2) ? VW_NO_MAC : `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`);
    // Secondary interfaces: every address Multus may report, on an interface of its own.
    if (p.metadata.annotations[NETWORK_STATUS_ANNOTATION] !== undefined) {
      i++;
      for (const ip of SECONDARY_IPS) if (g.chance(0.3)) ifaces.set(ip, i);
      if (g.chance(0.3)) macs.set(i, `02:00:00:00:01:${i.toString(16).padStart(2, '0')}`);
    }
  }
  return { ifaces, macs };
}

/** The desired maps as plain sorted data, for comparison. */
function mapsOf(d: DesiredState): Record<string, unknown> {
  const sorted = <K, V>(m: ReadonlyMap<K, V>): [K, V][] => [...m].sort(([a], [b]) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
  return {
    endpoints: sorted(d.endpoints),
    vrfPairs: [...d.vrfPairs].sort(),
    networks: sorted(d.networks),
    cidrs: sorted(d.cidrs),
    attach: sorted(d.attach),
    ports: sorted(d.ports),
    services: sorted(d.services),
    backends: sorted(d.backends),
    serviceAccess: sorted(d.serviceAccess),
    placements: sorted(d.placements),
    attachments: sorted(d.attachments),
    policy: sorted(d.policy),
    policyCidrs: sorted(d.policyCidrs),
  };
}

type Snapshot = Record<keyof DesiredDelta, Map<unknown, unknown>>;

function snapshot(d: DesiredState): Snapshot {
  return {
    endpoints: new Map(d.endpoints),
    vrfPairs: new Map([...d.vrfPairs].map((p) => [p, true])),
    networks: new Map(d.networks),
    cidrs: new Map(d.cidrs),
    attach: new Map(d.attach),
    ports: new Map(d.ports),
    services: new Map(d.services),
    backends: new Map(d.backends),
    serviceAccess: new Map([...d.serviceAccess].map(([k, v]) => [k, JSON.stringify(v)])),
    placements: new Map(d.placements),
    policy: new Map(d.policy),
    policyCidrs: new Map(d.policyCidrs),
  };
}

/** `prev` with every key the delta names set to its new value (or removed). */
function applyDelta(prev: Snapshot, now: Snapshot, delta: DesiredDelta): Snapshot {
  const out = {} as Snapshot;
  for (const name of Object.keys(prev) as (keyof DesiredDelta)[]) {
    const m = new Map(prev[name]);
    for (const k of delta[name] as Set<unknown>) {
      if (now[name].has(k)) m.set(k, now[name].get(k));
      else m.delete(k);
    }
    out[name] = m;
  }
  return out;
}

const sortedSnapshot = (s: Snapshot): Record<string, unknown> =>
  Object.fromEntries(Object.entries(s).map(([k, m]) => [k, [...m].sort(([a], [b]) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0))]));

/** A flow directory as plain sorted data. */
function directoryOf(d: Directory): Record<string, unknown> {
  const sorted = <K, V>(m: ReadonlyMap<K, V>): [K, V][] => [...m].sort(([a], [b]) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
  return {
    byIp: sorted(new Map(d.byIp)),
    podByIfindex: sorted(d.podByIfindex),
    portMacs: sorted(d.portMacs),
    networks: sorted(d.networks).map(([k, n]) => [k, { ...n, pods: n.pods }]),
    networkByVrf: sorted(d.networkByVrf),
    clusterCidrs: d.clusterCidrs.map(([a, l]) => `${a.toString()}/${l}`).sort(),
  };
}

const problemsOf = (d: DesiredState): string[] => d.problems.map((p) => `${p.source}: ${p.message}`).sort();

const stats = { steps: 0, delta: 0, quarantined: 0, services: 0, backends: 0, pairs: 0, attachedNet: 0, attachedQuarantined: 0, policy: 0, policyCidrs: 0, noPolicy: 0 };

function run(seed: number, steps: number): void {
  const g = new Gen(rng(seed));
  const gp = new Gen(rng(seed + 7919));
  const inc = new IncrementalCompiler(config, emptyAllocation());
  let state = emptyClusterState();
  let prev = snapshot(inc.desired());
  let ifs = { ifaces: new Map() as InterfaceIndex, macs: new Map() as PortMacs };
  const directory = new Directory();
  for (let step = 0; step < steps; step++) {
    const before = state;
    const burst = 1 + g.int(3);
    for (let i = 0; i < burst; i++) state = mutate(g, state);
    if (gp.chance(0.5)) state = mutatePolicies(gp, state);
    if (g.chance(0.3)) ifs = interfaces(g, state);
    const allocation: VrfAllocation = inc.allocation;
    const changed = step === 0 && g.chance(0.5) ? 'all' : changedObjects(before, state);
    const delta = inc.update(state, changed, ifs.ifaces, ifs.macs);
    const got = inc.desired();
    // the policy ids continue the incremental compiler's, as the agent's would from one compile to the next
    const want = compile(state, config, ifs.ifaces, allocation, ifs.macs, got.policyInfo);
    const where = `seed ${seed} step ${step}`;
    // Compared as text first (fast); toEqual only to show a difference.
    const same = (a: unknown, b: unknown, what: string): void => {
      if (JSON.stringify(a) !== JSON.stringify(b)) expect(a, what).toEqual(b);
    };
    same(mapsOf(got), mapsOf(want), where);
    same(got.allocation, want.allocation, where);
    same(problemsOf(got), problemsOf(want), where);
    const now = snapshot(got);
    same(sortedSnapshot(applyDelta(prev, now, delta)), sortedSnapshot(now), `${where}: the delta`);
    prev = now;
    // The flow directory, updated from the same changes, names what a rebuilt one does.
    directory.update(state, got, delta, changed);
    same(directoryOf(directory), directoryOf(buildDirectory(state, want, 'node1')), `${where}: the directory`);
    stats.steps++;
    stats.delta += Object.values(delta).reduce((n: number, x: Set<unknown>) => n + x.size, 0);
    for (const p of want.placements.values()) if (p.kind === 'quarantine') stats.quarantined++;
    for (const [k, p] of want.placements) if (k.includes('@')) stats[p.kind === 'network' ? 'attachedNet' : 'attachedQuarantined']++;
    stats.services += want.services.size;
    stats.backends += want.backends.size;
    stats.pairs += want.vrfPairs.size;
    stats.policy += want.policy.size;
    stats.policyCidrs += want.policyCidrs.size;
    if (state.networkPolicies.size === 0 && want.policyInfo.sets.size === 0) stats.noPolicy++;
  }
}

describe('incremental compile', () => {
  it('equals compile() after every step of 200 random sequences of changes, its deltas carry the maps from step to step, and the flow directory follows', () => {
    for (let seed = 1; seed <= 200; seed++) run(seed, 40);
    // The sequences did exercise the interesting parts (not just empty maps).
    expect(stats.quarantined).toBeGreaterThan(stats.steps / 10);
    expect(stats.services).toBeGreaterThan(stats.steps);
    expect(stats.backends).toBeGreaterThan(stats.steps / 25);
    expect(stats.pairs).toBeGreaterThan(stats.steps / 10);
    // Secondary interfaces, both placed in a network and quarantined.
    expect(stats.attachedNet).toBeGreaterThan(stats.steps / 100);
    expect(stats.attachedQuarantined).toBeGreaterThan(stats.steps / 15);
    // NetworkPolicies came and went: entries of both maps, and steps with none at all.
    expect(stats.policy).toBeGreaterThan(stats.steps / 4);
    expect(stats.policyCidrs).toBeGreaterThan(stats.steps / 4);
    expect(stats.noPolicy).toBeGreaterThan(stats.steps / 40);

  });

  it('a router joining a Service\'s backend network to another one changes who may use the Service', () => {
    const g = new Gen(rng(1));
    const vn = (name: string): VirtualNetworkObject => ({ ...virtualNetwork(g, `a/${name}`), metadata: { name, namespace: 'a', labels: { app: 'x' }, annotations: {} }, spec: { podNetwork: true } });
    const web: PodObject = {
      kind: 'Pod',
      metadata: { name: 'web', namespace: 'a', labels: { app: 'x' }, annotations: { [NETWORK_KEY]: 'a/blue' } },
      spec: { nodeName: 'node2', hostNetwork: false, ports: [] },
      status: { podIPs: ['10.244.1.20'] },
    };
    const svc: ServiceObject = {
      kind: 'Service',
      metadata: { name: 's1', namespace: 'a', labels: {}, annotations: {} },
      spec: { type: 'ClusterIP', clusterIPs: ['10.96.0.10'], headless: false, selector: { app: 'x' }, ports: [{ protocol: 'TCP', port: 80, targetPort: 8080 }], externalIPs: [], loadBalancerIPs: [] },
    };
    const s0: ClusterState = {
      ...emptyClusterState(),
      namespaces: new Map([['a', namespace(new Gen(() => 0.99), 'a')]]),
      virtualNetworks: new Map([['a/blue', vn('blue')], ['a/red', vn('red')]]),
      pods: new Map([['a/web', web]]),
      services: new Map([['a/s1', svc]]),
    };
    const inc = new IncrementalCompiler(config, emptyAllocation());
    inc.update(s0, 'all', new Map(), new Map());
    expect(inc.desired().serviceAccess.get('a/s1')?.clients).toEqual(['a/blue']);
    const mesh: VirtualNetworkRouterObject = {
      kind: 'VirtualNetworkRouter',
      apiGroup: 'vrfwall.dev',
      metadata: { name: 'r', namespace: 'a', labels: {}, annotations: {} },
      spec: { type: 'mesh', virtualNetworkSelector: { matchLabels: { app: 'x' }, matchExpressions: [] }, imports: [] },
    };
    const s1 = { ...s0, routers: new Map([['a/r', mesh]]) };
    const delta = inc.update(s1, changedObjects(s0, s1), new Map(), new Map());
    expect(inc.desired().serviceAccess.get('a/s1')?.clients).toEqual(['a/blue', 'a/red']);
    expect(delta.serviceAccess.has('a/s1')).toBe(true);
    expect(mapsOf(inc.desired())).toEqual(mapsOf(compile(s1, config, new Map(), inc.allocation, new Map())));
  });

  it('a pod label change recomputes that pod and the Services selecting it, nothing else', () => {
    const g = new Gen(rng(7));
    let state = emptyClusterState();
    for (let i = 0; i < 200; i++) state = mutate(g, state);
    const inc = new IncrementalCompiler(config, emptyAllocation());
    inc.update(state, 'all', new Map(), new Map());
    const key = [...state.pods.keys()][0]!;
    const old = state.pods.get(key)!;
    const next = { ...state, pods: new Map(state.pods) };
    next.pods.set(key, { ...old, metadata: { ...old.metadata, labels: { ...old.metadata.labels, unrelated: 'z' } } });
    const delta = inc.update(next, changedObjects(state, next), new Map(), new Map());
    // Positive control: the same pod's address change does show.
    const moved = { ...next, pods: new Map(next.pods) };
    moved.pods.set(key, { ...old, status: { podIPs: ['10.244.3.3'] } });
    const delta2 = inc.update(moved, changedObjects(next, moved), new Map(), new Map());
    expect(Object.values(delta).reduce((n, s: Set<unknown>) => n + s.size, 0), JSON.stringify(Object.fromEntries(Object.entries(delta).map(([k, v]) => [k, [...v]])))).toBe(0);
    expect(delta2.endpoints.has('10.244.3.3')).toBe(true);
    expect(mapsOf(inc.desired())).toEqual(mapsOf(compile(moved, config, new Map(), inc.allocation, new Map())));
  });
});
