// An independent oracle for Kubernetes NetworkPolicy (networking.k8s.io/v1),
// written from the API reference and the concept page, not from src/model:
// the conformance suite (test/lab-netpol.test.ts) compares the lab's real
// packets with what this says. Plain objects in, booleans out; no I/O.
//
// The rules, as Kubernetes defines them:
// - A policy selects the pods of its own namespace matching spec.podSelector
//   ({} = all). policyTypes defaults to ["Ingress"], plus "Egress" when
//   spec.egress has a rule.
// - A pod selected by no policy of a direction is open in that direction;
//   otherwise a connection passes that direction when some rule of some
//   selecting policy allows it (policies and rules are additive).
// - A connection passes when the sender's egress AND the receiver's ingress
//   allow it (replies of an allowed connection are not judged again).
// - A rule's peers: absent or [] = everything; a peer is podSelector (pods of
//   the policy's namespace), namespaceSelector (every pod of matching
//   namespaces), both (matching pods in matching namespaces), or ipBlock
//   (cidr minus except). Namespaces carry kubernetes.io/metadata.name.
// - A rule's ports: absent or [] = every protocol and port; else a port
//   entry matches its protocol (default TCP) and port: none = every port,
//   a number (to endPort when given), or a name, looked up in the
//   DESTINATION pod's container ports (same name and protocol).
// vrfwall's documented choices where Kubernetes leaves room:
// - ipBlock matches every peer address, pods' included;
// - ICMP has no port: only a rule without ports allows it.
//
// Invalid policies (a peer with no selector, endPort with a named port, ...)
// throw: the API server would have refused them, so the suite never needs them.

export type Protocol = 'TCP' | 'UDP' | 'SCTP' | 'ICMP';
export type Family = 'v4' | 'v6';

export interface OracleNamespace {
  name: string;
  labels: Record<string, string>;
}

export interface OraclePod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ips: { v4: string; v6: string };
  /** container ports: name (optional), number, protocol */
  ports: { name?: string; port: number; protocol: Exclude<Protocol, 'ICMP'> }[];
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface PolicyPort {
  protocol?: Exclude<Protocol, 'ICMP'>;
  port?: number | string;
  endPort?: number;
}

export interface NetworkPolicy {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string };
  spec: {
    podSelector: LabelSelector;
    policyTypes?: ('Ingress' | 'Egress')[];
    ingress?: { from?: PolicyPeer[]; ports?: PolicyPort[] }[];
    egress?: { to?: PolicyPeer[]; ports?: PolicyPort[] }[];
  };
}

export interface Connection {
  from: string;
  to: string;
  family: Family;
  protocol: Protocol;
  /** absent for ICMP */
  port?: number;
}

const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** matchLabels AND every matchExpression; {} (or absent) matches everything. */
export function selects(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (values.length === 0) throw new Error(`matchExpressions ${e.key} In: values must be non-empty`);
        if (!has || !values.includes(labels[e.key] as string)) return false;
        break;
      case 'NotIn':
        if (values.length === 0) throw new Error(`matchExpressions ${e.key} NotIn: values must be non-empty`);
        if (has && values.includes(labels[e.key] as string)) return false;
        break;
      case 'Exists':
        if (values.length > 0) throw new Error(`matchExpressions ${e.key} Exists: values must be empty`);
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (values.length > 0) throw new Error(`matchExpressions ${e.key} DoesNotExist: values must be empty`);
        if (has) return false;
        break;
      default:
        throw new Error(`matchExpressions ${e.key}: unknown operator ${String((e as { operator: unknown }).operator)}`);
    }
  }
  return true;
}

/** An address as a bigint and its width (32 or 128); IPv4 in IPv6 notation is not accepted. */
function parseIp(ip: string): { bits: 32 | 128; value: bigint } {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ip)) {
    const parts = ip.split('.').map(Number);
    if (parts.some((p) => p > 255)) throw new Error(`bad IPv4 address ${ip}`);
    return { bits: 32, value: parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n) };
  }
  if (!ip.includes(':') || ip.includes('.')) throw new Error(`bad IP address ${ip}`);
  const [head, tail, extra] = ip.split('::');
  if (extra !== undefined) throw new Error(`bad IPv6 address ${ip}`);
  const hs = head === '' || head === undefined ? [] : head.split(':');
  const ts = tail === undefined ? [] : tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? 0 : 8 - hs.length - ts.length;
  const groups = [...hs, ...Array<string>(fill).fill('0'), ...ts];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) throw new Error(`bad IPv6 address ${ip}`);
  return { bits: 128, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

/** Is `ip` in `cidr`? Different families never match. */
export function inCidr(ip: string, cidr: string): boolean {
  const [net, len] = cidr.split('/');
  const a = parseIp(ip);
  const n = parseIp(net as string);
  const bits = Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > n.bits) throw new Error(`bad CIDR ${cidr}`);
  if (a.bits !== n.bits) return false;
  const shift = BigInt(n.bits - bits);
  return a.value >> shift === n.value >> shift;
}

export class NetpolOracle {
  private readonly namespaces = new Map<string, Record<string, string>>();
  private readonly pods = new Map<string, OraclePod>();

  constructor(
    namespaces: OracleNamespace[],
    pods: OraclePod[],
    private readonly policies: NetworkPolicy[],
  ) {
    // The API server labels every namespace with its name.
    for (const ns of namespaces) this.namespaces.set(ns.name, { ...ns.labels, [NAMESPACE_NAME_LABEL]: ns.name });
    for (const p of pods) this.pods.set(`${p.namespace}/${p.name}`, p);
    for (const pol of policies) this.validate(pol);
  }

  private pod(key: string): OraclePod {
    const p = this.pods.get(key);
    if (!p) throw new Error(`oracle: no pod ${key}`);
    return p;
  }

  private validate(pol: NetworkPolicy): void {
    const where = `${pol.metadata.namespace}/${pol.metadata.name}`;
    const peers = [...(pol.spec.ingress ?? []).flatMap((r) => r.from ?? []), ...(pol.spec.egress ?? []).flatMap((r) => r.to ?? [])];
    for (const p of peers) {
      const n = [p.podSelector, p.namespaceSelector, p.ipBlock].filter((x) => x !== undefined).length;
      if (n === 0) throw new Error(`${where}: a peer needs podSelector, namespaceSelector or ipBlock`);
      if (p.ipBlock && n > 1) throw new Error(`${where}: ipBlock cannot be combined with selectors`);
    }
    const ports = [...(pol.spec.ingress ?? []).flatMap((r) => r.ports ?? []), ...(pol.spec.egress ?? []).flatMap((r) => r.ports ?? [])];
    for (const p of ports) {
      if (p.endPort !== undefined && typeof p.port !== 'number') throw new Error(`${where}: endPort needs a numeric port`);
      if (p.endPort !== undefined && typeof p.port === 'number' && p.endPort < p.port) throw new Error(`${where}: endPort < port`);
    }
  }

  /** Kubernetes's defaulting of spec.policyTypes. */
  private types(pol: NetworkPolicy): Set<'Ingress' | 'Egress'> {
    if (pol.spec.policyTypes !== undefined && pol.spec.policyTypes.length > 0) return new Set(pol.spec.policyTypes);
    return new Set<'Ingress' | 'Egress'>((pol.spec.egress ?? []).length > 0 ? ['Ingress', 'Egress'] : ['Ingress']);
  }

  /** Policies that select `pod` for `dir`. */
  selecting(pod: string, dir: 'Ingress' | 'Egress'): NetworkPolicy[] {
    const p = this.pod(pod);
    return this.policies.filter((pol) => pol.metadata.namespace === p.namespace && this.types(pol).has(dir) && selects(pol.spec.podSelector, p.labels));
  }

  /** Does a peer of a rule of `pol` match the pod `peer` (by its `family` address)? */
  private peerMatches(pol: NetworkPolicy, peers: PolicyPeer[] | undefined, peer: OraclePod, family: Family): boolean {
    if (peers === undefined || peers.length === 0) return true;
    return peers.some((p) => {
      if (p.ipBlock) {
        const ip = peer.ips[family];
        return inCidr(ip, p.ipBlock.cidr) && !(p.ipBlock.except ?? []).some((e) => inCidr(ip, e));
      }
      const nsLabels = this.namespaces.get(peer.namespace) ?? { [NAMESPACE_NAME_LABEL]: peer.namespace };
      if (p.namespaceSelector === undefined) {
        // podSelector alone: pods of the policy's own namespace
        return peer.namespace === pol.metadata.namespace && selects(p.podSelector as LabelSelector, peer.labels);
      }
      return selects(p.namespaceSelector, nsLabels) && (p.podSelector === undefined || selects(p.podSelector, peer.labels));
    });
  }

  /** Does a rule's port list allow `c` to the pod `dst` (named ports resolved on `dst`)? */
  private portMatches(ports: PolicyPort[] | undefined, c: Connection, dst: OraclePod): boolean {
    if (ports === undefined || ports.length === 0) return true;
    if (c.protocol === 'ICMP') return false;
    return ports.some((p) => {
      if ((p.protocol ?? 'TCP') !== c.protocol) return false;
      if (p.port === undefined) return true;
      if (typeof p.port === 'string') {
        return dst.ports.some((cp) => cp.name === p.port && cp.protocol === c.protocol && cp.port === c.port);
      }
      const port = c.port as number;
      return p.endPort === undefined ? port === p.port : port >= p.port && port <= p.endPort;
    });
  }

  /** The sender's egress lets `c` out. */
  egressAllows(c: Connection): boolean {
    const dst = this.pod(c.to);
    const pols = this.selecting(c.from, 'Egress');
    if (pols.length === 0) return true;
    return pols.some((pol) => (pol.spec.egress ?? []).some((r) => this.peerMatches(pol, r.to, dst, c.family) && this.portMatches(r.ports, c, dst)));
  }

  /** The receiver's ingress lets `c` in. */
  ingressAllows(c: Connection): boolean {
    const src = this.pod(c.from);
    const dst = this.pod(c.to);
    const pols = this.selecting(c.to, 'Ingress');
    if (pols.length === 0) return true;
    return pols.some((pol) => (pol.spec.ingress ?? []).some((r) => this.peerMatches(pol, r.from, src, c.family) && this.portMatches(r.ports, c, dst)));
  }

  allows(c: Connection): boolean {
    return this.egressAllows(c) && this.ingressAllows(c);
  }
}
