// NetworkPolicy (issue 16) in the compile step: cluster state -> policy
// identities, policy sets, the local pods' endpoint fields and the `policy` /
// `policy_cidrs` entries of their sets (policy-entries.ts). Pure.
//
// Semantics: Kubernetes networking.k8s.io/v1 (docs/network-policy.md).
//   - Identity: one per distinct (namespace, its labels, the pod's labels, its
//     named ports), for every pod in a network (quarantined and host-network
//     pods have none). Namespace labels include kubernetes.io/metadata.name,
//     which the API server sets on every namespace (manifests may omit it).
//   - Set: one per distinct (direction, the policies selecting the pod for it,
//     for ingress the pod's named ports when a rule names a port). A pod
//     selected by no policy of a type has no set for it (0: open).
//   - Only the pod's own addresses (status.podIPs) carry policy: secondary
//     (Multus) interfaces are not what NetworkPolicy governs.
//   - Ids stay with their content from compile to compile (`previous`); a new
//     content takes the smallest free id.
// With no NetworkPolicy (or --network-policy=off) nothing here runs beyond a
// size check: no identities, no sets, no entries.
import { VW_EP_HOST, VW_EP_LOCAL, VW_EP_QUARANTINE } from '../kernel/abi.js';
import { canonicalIp } from './ip.js';
import { setEntries } from './policy-entries.js';
import {
  emptyPolicyInfo,
  type AddressPolicy,
  type EndpointPolicy,
  type NamedPort,
  type PolicyDirection,
  type PolicyInfo,
  type PolicyRuleInfo,
  type PolicySetInfo,
  type PolicyValue,
  type PolicyVipPort,
} from './policy-types.js';
import { selectorMatches } from './selector.js';
import { serviceEndpoints } from './services.js';
import type { ClusterState, DesiredEndpoint, NetworkPolicyObject, PodObject, SourceProblem } from './types.js';
import { compareText } from '../util/order.js';

/** The label the API server puts on every namespace (matchable by namespaceSelector). */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export interface PolicyCompileInputs {
  state: Pick<ClusterState, 'namespaces' | 'pods' | 'networkPolicies' | 'services' | 'endpointSlices' | 'nodes'>;
  /** the endpoints as the rest of the compile made them (their flags say which are pods, local, quarantined) */
  endpoints: ReadonlyMap<string, DesiredEndpoint>;
  nodeName: string;
  /** --network-policy=on (default) */
  enabled: boolean;
  /** the last compile's, for stable ids */
  previous?: PolicyInfo;
}

export interface PolicyCompileResult {
  info: PolicyInfo;
  policy: Map<string, PolicyValue>;
  policyCidrs: Map<string, PolicyValue>;
  /** address -> its endpoint's policy fields (absent: all 0) */
  fields: Map<string, EndpointPolicy>;
  problems: SourceProblem[];
}

/** Does this compile have policy work to do? (false: the empty result, no work.) */
export function policyActive(state: Pick<ClusterState, 'networkPolicies'>, enabled: boolean): boolean {
  return enabled && state.networkPolicies.size > 0;
}

export function compilePolicy(inputs: PolicyCompileInputs): PolicyCompileResult {
  const { state, endpoints, nodeName, enabled } = inputs;
  const empty: PolicyCompileResult = { info: emptyPolicyInfo(enabled), policy: new Map(), policyCidrs: new Map(), fields: new Map(), problems: [] };
  if (!policyActive(state, enabled)) return empty;
  const info = emptyPolicyInfo(enabled);
  const problems: SourceProblem[] = [];
  const prevIds = inputs.previous?.ids ?? { identities: new Map<string, number>(), sets: new Map<string, number>() };

  const policies = [...state.networkPolicies.values()].sort((a, b) => compareText(keyOf(a), keyOf(b)));
  const byNs = new Map<string, NetworkPolicyObject[]>();
  for (const p of policies) {
    const list = byNs.get(p.metadata.namespace);
    if (list === undefined) byNs.set(p.metadata.namespace, [p]);
    else list.push(p);
  }

  // ---- identities ----
  interface IdentityRec {
    key: string;
    namespace: string;
    nsLabels: Record<string, string>;
    labels: Record<string, string>;
    namedPorts: NamedPort[];
    pods: PodObject[];
  }
  const nsLabelsOf = new Map<string, Record<string, string>>();
  const nsLabels = (ns: string): Record<string, string> => {
    let l = nsLabelsOf.get(ns);
    if (l === undefined) nsLabelsOf.set(ns, (l = { ...(state.namespaces.get(ns)?.metadata.labels ?? {}), [NAMESPACE_NAME_LABEL]: ns }));
    return l;
  };
  const nsParts = new Map<string, string>();
  const nsPart = (ns: string): string => {
    let t = nsParts.get(ns);
    if (t === undefined) nsParts.set(ns, (t = JSON.stringify([ns, sortedLabels(nsLabels(ns))])));
    return t;
  };
  const identityRecs = new Map<string, IdentityRec>();
  const recsByNs = new Map<string, Map<string, IdentityRec>>();
  const podIdentity = new Map<PodObject, IdentityRec>();
  const podAddrs = new Map<PodObject, string[]>();
  // Any order: ids are allocated by sorted key, and every output below is sorted.
  for (const pod of state.pods.values()) {
    if (pod.spec.hostNetwork) continue;
    const addrs: string[] = [];
    for (const raw of pod.status.podIPs) {
      const ip = canonicalIp(raw);
      const ep = ip === undefined ? undefined : endpoints.get(ip);
      // Quarantined and host addresses (and a pod in no network) get nothing: the datapath drops them anyway.
      if (ip === undefined || ep === undefined || (ep.flags & (VW_EP_HOST | VW_EP_QUARANTINE)) !== 0 || ep.vrfId === 0) continue;
      if (!addrs.includes(ip)) addrs.push(ip);
    }
    if (addrs.length === 0) continue;
    const ns = pod.metadata.namespace;
    const part = podPart(pod);
    // By namespace, then by the pod's (cached) part: no key text built per pod.
    let inNs = recsByNs.get(ns);
    if (inNs === undefined) recsByNs.set(ns, (inNs = new Map()));
    let rec = inNs.get(part.key);
    if (rec === undefined) {
      const key = `${nsPart(ns)}\u0000${part.key}`;
      inNs.set(part.key, (rec = { key, namespace: ns, nsLabels: nsLabels(ns), labels: pod.metadata.labels, namedPorts: part.namedPorts, pods: [] }));
      identityRecs.set(key, rec);
    }
    rec.pods.push(pod);
    podIdentity.set(pod, rec);
    podAddrs.set(pod, addrs);
  }
  const identityIds = allocate([...identityRecs.keys()], prevIds.identities);
  info.ids.identities = identityIds;
  for (const rec of identityRecs.values()) {
    const id = identityIds.get(rec.key) as number;
    info.identities.set(id, { id, namespace: rec.namespace, namedPorts: rec.namedPorts, pods: rec.pods.length });
  }

  // ---- each policy's rules, peers resolved to identities ----
  const compiledRules = new Map<string, PolicyRuleInfo[]>(); // "dir|ns/name" -> rules
  const rulesOf = (p: NetworkPolicyObject, dir: PolicyDirection): PolicyRuleInfo[] => {
    const k = `${dir}|${keyOf(p)}`;
    let rules = compiledRules.get(k);
    if (rules !== undefined) return rules;
    rules = (dir === 'ingress' ? p.spec.ingress : p.spec.egress).map((r): PolicyRuleInfo => {
      const identities = new Set<number>();
      const blocks: { cidr: string; except: readonly string[] }[] = [];
      for (const peer of r.peers) {
        if (peer.kind === 'ipBlock') {
          blocks.push({ cidr: peer.cidr, except: peer.except });
          continue;
        }
        for (const rec of identityRecs.values()) {
          const nsOk = peer.namespaceSelector === undefined ? rec.namespace === p.metadata.namespace : selectorMatches(peer.namespaceSelector, rec.nsLabels);
          if (nsOk && (peer.podSelector === undefined || selectorMatches(peer.podSelector, rec.labels))) identities.add(identityIds.get(rec.key) as number);
        }
      }
      return { policy: keyOf(p), anyPeer: r.peers.length === 0, identities: [...identities].sort((a, b) => a - b), blocks, ports: r.ports };
    });
    compiledRules.set(k, rules);
    return rules;
  };

  // ---- sets: per identity (its pods are alike for every policy), the policies selecting it for each direction ----
  interface SetRec {
    key: string;
    direction: PolicyDirection;
    policies: NetworkPolicyObject[];
    ownPorts: NamedPort[];
  }
  const setRecs = new Map<string, SetRec>();
  const recSets = new Map<IdentityRec, { in?: SetRec; out?: SetRec }>();
  for (const rec of identityRecs.values()) {
    const selecting = (byNs.get(rec.namespace) ?? []).filter((p) => selectorMatches(p.spec.podSelector, rec.labels));
    if (selecting.length === 0) continue;
    const sets: { in?: SetRec; out?: SetRec } = {};
    for (const [dir, type] of [
      ['ingress', 'Ingress'],
      ['egress', 'Egress'],
    ] as const) {
      const ps = selecting.filter((p) => p.spec.policyTypes.includes(type));
      if (ps.length === 0) continue;
      // The pod's own named ports matter only for ingress rules that name a port.
      const named = dir === 'ingress' && ps.some((p) => p.spec.ingress.some((r) => r.ports.some((x) => typeof x.port === 'string')));
      const ownPorts = named ? rec.namedPorts : [];
      const key = JSON.stringify([dir, ps.map(keyOf), ownPorts.map((x) => `${x.name}/${x.protocol}/${x.port}`)]);
      let s = setRecs.get(key);
      if (s === undefined) setRecs.set(key, (s = { key, direction: dir, policies: ps, ownPorts }));
      if (dir === 'ingress') sets.in = s;
      else sets.out = s;
    }
    recSets.set(rec, sets);
  }
  const setIds = allocate([...setRecs.keys()], prevIds.sets);
  info.ids.sets = setIds;
  for (const s of setRecs.values()) {
    const id = setIds.get(s.key) as number;
    const rules = s.policies.flatMap((p) => rulesOf(p, s.direction));
    info.sets.set(id, { id, direction: s.direction, policies: s.policies.map(keyOf), ownPorts: s.ownPorts, rules });
  }

  // ---- addresses and the local pods' endpoint fields ----
  const fields = new Map<string, EndpointPolicy>();
  const localSets = new Set<number>();
  // One frozen object per distinct value: most pods share theirs.
  const shared = new Map<string, AddressPolicy>();
  const value = (identity: number, policyIn: number, policyOut: number): AddressPolicy => {
    const k = `${identity}/${policyIn}/${policyOut}`;
    let v = shared.get(k);
    if (v === undefined) shared.set(k, (v = Object.freeze({ identity, policyIn, policyOut })));
    return v;
  };
  for (const [pod, rec] of podIdentity) {
    const identity = identityIds.get(rec.key) as number;
    const sets = recSets.get(rec);
    const policyIn = sets?.in === undefined ? 0 : (setIds.get(sets.in.key) as number);
    const policyOut = sets?.out === undefined ? 0 : (setIds.get(sets.out.key) as number);
    const here = pod.spec.nodeName === nodeName;
    for (const ip of podAddrs.get(pod) ?? []) {
      const a = value(identity, policyIn, policyOut);
      info.addresses.set(ip, a);
      if (policyIn !== 0) info.ingressNodes.set(ip, pod.spec.nodeName ?? '');
      const local = here && ((endpoints.get(ip)?.flags ?? 0) & VW_EP_LOCAL) !== 0;
      fields.set(ip, local ? a : value(identity, 0, 0));
      if (local) {
        if (policyIn !== 0) localSets.add(policyIn);
        if (policyOut !== 0) localSets.add(policyOut);
      }
    }
  }

  // ---- which node each host address is (ingress exempts only the pod's own: VW_EP_THIS_NODE in the datapath) ----
  if (info.ingressNodes.size > 0) info.hostNodes = hostNodesOf(state);

  // ---- ClusterIPs, when some pod has an egress set (the evaluator judges any pod's) ----
  if ([...info.sets.values()].some((s) => s.direction === 'egress')) info.vips = vipPorts(state);

  // ---- the local sets' entries ----
  const policy = new Map<string, PolicyValue>();
  const policyCidrs = new Map<string, PolicyValue>();
  for (const id of [...localSets].sort((a, b) => a - b)) {
    const set = info.sets.get(id) as PolicySetInfo;
    const e = setEntries(info, set);
    for (const [k, v] of e.policy) policy.set(k, v);
    for (const [k, v] of e.cidrs) policyCidrs.set(k, v);
    // Named per policy of the set (an Event on each: any of them may be the one to split).
    for (const m of e.problems) for (const name of set.policies) problems.push({ source: `NetworkPolicy ${name}`, message: m });
  }
  return { info, policy, policyCidrs, fields, problems };
}

/** Node and host-network pod addresses -> the nodes they belong to, as compile's hostAddresses reads them. */
function hostNodesOf(state: PolicyCompileInputs['state']): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (raw: string, node: string): void => {
    const ip = canonicalIp(raw);
    if (ip === undefined) return;
    const list = out.get(ip);
    if (list === undefined) out.set(ip, [node]);
    else if (!list.includes(node)) list.push(node);
  };
  for (const node of state.nodes.values()) for (const a of node.addresses) add(a, node.name);
  for (const pod of state.pods.values()) if (pod.spec.hostNetwork) for (const a of pod.status.podIPs) add(a, pod.spec.nodeName ?? '');
  return out;
}

/** Every ClusterIP's ports with their ready backends (services.ts, as the backends map reads them). */
function vipPorts(state: PolicyCompileInputs['state']): Map<string, PolicyVipPort[]> {
  const out = new Map<string, PolicyVipPort[]>();
  const proto = { TCP: 6, UDP: 17, SCTP: 132 } as const;
  for (const svc of serviceEndpoints(state).services) {
    for (const vip of svc.vips) {
      const ports = svc.ports.map((p): PolicyVipPort => ({ service: svc.key, proto: proto[p.protocol], port: p.port, backends: p.backends.map((b) => ({ ip: b.ip, port: b.port })) }));
      out.set(vip, [...(out.get(vip) ?? []), ...ports]);
    }
  }
  return out;
}

/** Ids for `keys`: a key keeps its previous id; new keys take the smallest free ids, in key order. */
function allocate(keys: readonly string[], previous: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  const used = new Set<number>();
  for (const k of keys) {
    const id = previous.get(k);
    if (id !== undefined && !used.has(id)) {
      out.set(k, id);
      used.add(id);
    }
  }
  let next = 1;
  for (const k of [...keys].sort(compareText)) {
    if (out.has(k)) continue;
    while (used.has(next)) next++;
    out.set(k, next);
    used.add(next);
  }
  return out;
}

/** `endpoints` with the policy fields of `fields` (in place); changed addresses go to `changed`. */
export function applyEndpointPolicy(endpoints: Map<string, DesiredEndpoint>, fields: ReadonlyMap<string, EndpointPolicy>, changed?: Set<string>): void {
  // One frozen object per distinct value (remote pods of one identity share theirs), as the compile's own endpoints.
  const shared = new Map<string, DesiredEndpoint>();
  for (const [ip, ep] of endpoints) {
    const f = fields.get(ip);
    const identity = f?.identity ?? 0;
    const policyIn = f?.policyIn ?? 0;
    const policyOut = f?.policyOut ?? 0;
    if ((ep.identity ?? 0) === identity && (ep.policyIn ?? 0) === policyIn && (ep.policyOut ?? 0) === policyOut) continue;
    // Only non-zero fields are written, so an endpoint without policy is the plain one.
    const k = `${ep.vrfId}/${ep.flags}/${ep.ifindex}/${identity}/${policyIn}/${policyOut}`;
    let next = shared.get(k);
    if (next === undefined) {
      const e: DesiredEndpoint = { vrfId: ep.vrfId, flags: ep.flags, ifindex: ep.ifindex };
      if (identity !== 0) e.identity = identity;
      if (policyIn !== 0) e.policyIn = policyIn;
      if (policyOut !== 0) e.policyOut = policyOut;
      shared.set(k, (next = Object.freeze(e)));
    }
    endpoints.set(ip, next);
    changed?.add(ip);
  }
}

/** A pod's part of its identity key (labels, named ports), kept per pod object: sources keep an unchanged
 *  pod's object from one state to the next, so a recompile does not rebuild it. */
const podParts = new WeakMap<PodObject, { key: string; namedPorts: NamedPort[] }>();
function podPart(pod: PodObject): { key: string; namedPorts: NamedPort[] } {
  let part = podParts.get(pod);
  if (part === undefined) {
    const namedPorts = pod.spec.ports
      .filter((p): p is typeof p & { name: string } => p.name !== undefined && p.name !== '')
      .map((p) => ({ name: p.name, protocol: p.protocol, port: p.containerPort }))
      .sort((a, b) => compareText(a.name, b.name) || compareText(a.protocol, b.protocol) || a.port - b.port);
    part = { key: JSON.stringify([sortedLabels(pod.metadata.labels), namedPorts.map((p) => `${p.name}/${p.protocol}/${p.port}`)]), namedPorts };
    podParts.set(pod, part);
  }
  return part;
}

function sortedLabels(l: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(l).sort(([a], [b]) => compareText(a, b));
}

function keyOf(o: { metadata: { namespace: string; name: string } }): string {
  return `${o.metadata.namespace}/${o.metadata.name}`;
}
