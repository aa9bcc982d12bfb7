// The NetworkPolicy oracle (test/helpers/netpol-oracle.ts) on the cases the
// specification makes tricky: policyTypes defaulting, a peer's two selectors
// together versus as two peers, NotIn on a missing label, ipBlock except and
// families, named ports resolved on the destination with their protocol,
// endPort, ports [] versus absent, ICMP. Each denial has its allowing control.
import { describe, expect, it } from 'vitest';
import { NetpolOracle, inCidr, selects, type Connection, type NetworkPolicy, type OracleNamespace, type OraclePod } from './helpers/netpol-oracle.js';

const NAMESPACES: OracleNamespace[] = [
  { name: 'x', labels: { ns: 'x', team: 'blue' } },
  { name: 'y', labels: { ns: 'y' } },
];

function pod(namespace: string, name: string, host: number, labels: Record<string, string> = {}, ports: OraclePod['ports'] = []): OraclePod {
  return { namespace, name, labels: { pod: name, ...labels }, ips: { v4: `10.0.0.${host}`, v6: `fd00::${host.toString(16)}` }, ports };
}

const PODS = [
  pod('x', 'a', 1, {}, [
    { name: 'web', port: 80, protocol: 'TCP' },
    { name: 'dns', port: 53, protocol: 'UDP' },
  ]),
  pod('x', 'b', 2, { tier: 'db' }, [{ name: 'web', port: 81, protocol: 'TCP' }]),
  pod('y', 'a', 3),
  pod('y', 'b', 4, { tier: 'web' }),
];

const np = (namespace: string, name: string, spec: NetworkPolicy['spec']): NetworkPolicy => ({ metadata: { namespace, name }, spec });
const tcp = (from: string, to: string, port = 80, family: 'v4' | 'v6' = 'v4'): Connection => ({ from, to, family, protocol: 'TCP', port });

describe('netpol oracle', () => {
  it('no policy: everything open; a default-deny ingress closes only its namespace, and only for ingress', () => {
    expect(new NetpolOracle(NAMESPACES, PODS, []).allows(tcp('y/a', 'x/a'))).toBe(true);
    const o = new NetpolOracle(NAMESPACES, PODS, [np('x', 'deny', { podSelector: {} })]);
    expect(o.allows(tcp('y/a', 'x/a'))).toBe(false);
    expect(o.allows(tcp('x/b', 'x/a'))).toBe(false);
    expect(o.allows(tcp('x/a', 'y/a'))).toBe(true); // egress of x stays open
    expect(o.allows(tcp('x/a', 'y/b'))).toBe(true);
  });

  it('policyTypes: egress rules alone make a policy Ingress AND Egress; an explicit [Egress] ignores ingress rules; egress: [] adds no Egress', () => {
    const onlyEgressRules = np('x', 'e', { podSelector: { matchLabels: { pod: 'a' } }, egress: [{ to: [{ podSelector: {} }] }] });
    const o = new NetpolOracle(NAMESPACES, PODS, [onlyEgressRules]);
    expect(o.allows(tcp('y/a', 'x/a'))).toBe(false); // isolated for ingress with no ingress rule
    expect(o.allows(tcp('x/a', 'x/b'))).toBe(true); // egress to its own namespace
    expect(o.allows(tcp('x/a', 'y/a'))).toBe(false);
    const explicit = np('x', 'e', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], ingress: [{ from: [] }], egress: [] });
    const o2 = new NetpolOracle(NAMESPACES, PODS, [explicit]);
    expect(o2.allows(tcp('x/a', 'y/a'))).toBe(false); // Egress with no rule: nothing out
    expect(o2.allows(tcp('y/a', 'x/a'))).toBe(true); // not selected for Ingress
    const emptyEgress = np('x', 'i', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{}], egress: [] });
    const o3 = new NetpolOracle(NAMESPACES, PODS, [emptyEgress]);
    expect(o3.allows(tcp('x/a', 'y/a'))).toBe(true);
    expect(o3.allows(tcp('y/a', 'x/a'))).toBe(true); // ingress: [{}] = from everywhere, every port
  });

  it('peers: podSelector alone is the own namespace; both selectors in one peer are AND; as two peers OR', () => {
    const own = np('x', 'own', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'a' } } }] }] });
    const o = new NetpolOracle(NAMESPACES, PODS, [own]);
    expect(o.allows(tcp('y/a', 'x/a'))).toBe(false); // pod=a, but in y
    expect(o.allows(tcp('x/b', 'x/a'))).toBe(false);
    const and = np('x', 'and', {
      podSelector: { matchLabels: { pod: 'a' } },
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { tier: 'web' } } }] }],
    });
    const oAnd = new NetpolOracle(NAMESPACES, PODS, [and]);
    expect(oAnd.allows(tcp('y/b', 'x/a'))).toBe(true);
    expect(oAnd.allows(tcp('y/a', 'x/a'))).toBe(false); // in y, but no tier=web
    const or = np('x', 'or', {
      podSelector: { matchLabels: { pod: 'a' } },
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }, { podSelector: { matchLabels: { tier: 'web' } } }] }],
    });
    const oOr = new NetpolOracle(NAMESPACES, PODS, [or]);
    expect(oOr.allows(tcp('y/a', 'x/a'))).toBe(true); // any pod of y
    expect(oOr.allows(tcp('x/b', 'x/a'))).toBe(false); // x/b has tier=db
    // the namespace's name label is there without being written
    const byName = np('x', 'n', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'y' } } }] }] });
    const oName = new NetpolOracle(NAMESPACES, PODS, [byName]);
    expect(oName.allows(tcp('y/a', 'x/b'))).toBe(true);
    expect(oName.allows(tcp('x/a', 'x/b'))).toBe(false);
  });

  it('matchExpressions: NotIn and DoesNotExist match a pod without the label; In and Exists do not', () => {
    const labels = { pod: 'a' };
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] }, labels)).toBe(true);
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] }, { tier: 'db' })).toBe(false);
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, labels)).toBe(true);
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['db', 'web'] }] }, labels)).toBe(false);
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['db', 'web'] }] }, { tier: 'web' })).toBe(true);
    expect(selects({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, labels)).toBe(false);
    expect(selects({ matchExpressions: [{ key: 'pod', operator: 'Exists' }] }, labels)).toBe(true);
    // matchLabels and expressions together: AND
    expect(selects({ matchLabels: { pod: 'a' }, matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, labels)).toBe(false);
    expect(() => selects({ matchExpressions: [{ key: 'tier', operator: 'In', values: [] }] }, labels)).toThrow(/non-empty/);
  });

  it('ipBlock: cidr minus except, per family; a v4 block never matches a v6 address', () => {
    expect(inCidr('10.0.0.3', '10.0.0.0/30')).toBe(true);
    expect(inCidr('10.0.0.4', '10.0.0.0/30')).toBe(false);
    expect(inCidr('fd00::3', '10.0.0.0/8')).toBe(false);
    expect(inCidr('fd00::3', 'fd00::/126')).toBe(true);
    expect(inCidr('fd00::4', 'fd00::/126')).toBe(false);
    const block = np('x', 'block', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/24', except: ['10.0.0.3/32'] } }] }] });
    const o = new NetpolOracle(NAMESPACES, PODS, [block]);
    expect(o.allows(tcp('y/b', 'x/a'))).toBe(true);
    expect(o.allows(tcp('y/a', 'x/a'))).toBe(false); // the except
    expect(o.allows(tcp('y/b', 'x/a', 80, 'v6'))).toBe(false); // no v6 block
    // another policy's allow is not taken away by this one's except (additive)
    const other = np('x', 'other', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] });
    expect(new NetpolOracle(NAMESPACES, PODS, [block, other]).allows(tcp('y/a', 'x/a'))).toBe(true);
  });

  it('ports: named ports on the destination with their protocol; endPort inclusive; [] = all; only a rule without ports allows ICMP', () => {
    const named = np('x', 'named', { podSelector: {}, ingress: [{ ports: [{ port: 'web' }] }] });
    const o = new NetpolOracle(NAMESPACES, PODS, [named]);
    expect(o.allows(tcp('y/a', 'x/a', 80))).toBe(true); // x/a's web is 80
    expect(o.allows(tcp('y/a', 'x/a', 81))).toBe(false);
    expect(o.allows(tcp('y/a', 'x/b', 81))).toBe(true); // x/b's web is 81
    expect(o.allows(tcp('y/a', 'x/b', 80))).toBe(false);
    expect(o.allows({ from: 'y/a', to: 'x/a', family: 'v4', protocol: 'UDP', port: 80 })).toBe(false); // web is TCP
    const udpName = np('x', 'u', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP', port: 'dns' }] }] });
    const ou = new NetpolOracle(NAMESPACES, PODS, [udpName]);
    expect(ou.allows({ from: 'y/a', to: 'x/a', family: 'v4', protocol: 'UDP', port: 53 })).toBe(true);
    expect(ou.allows(tcp('y/a', 'x/a', 53))).toBe(false);
    expect(ou.allows({ from: 'y/a', to: 'x/b', family: 'v4', protocol: 'UDP', port: 53 })).toBe(false); // x/b has no "dns"
    // egress: the name is looked up on each destination pod
    const egressNamed = np('y', 'en', { podSelector: {}, egress: [{ ports: [{ port: 'web' }] }] });
    const oe = new NetpolOracle(NAMESPACES, PODS, [egressNamed]);
    expect(oe.allows(tcp('y/a', 'x/b', 81))).toBe(true);
    expect(oe.allows(tcp('y/a', 'x/a', 81))).toBe(false);
    const range = np('x', 'range', { podSelector: {}, ingress: [{ ports: [{ protocol: 'TCP', port: 80, endPort: 82 }] }] });
    const or = new NetpolOracle(NAMESPACES, PODS, [range]);
    expect([79, 80, 82, 83].map((p) => or.allows(tcp('y/a', 'x/a', p)))).toEqual([false, true, true, false]);
    const emptyPorts = np('x', 'e', { podSelector: {}, ingress: [{ ports: [] }] });
    const icmp: Connection = { from: 'y/a', to: 'x/a', family: 'v6', protocol: 'ICMP' };
    expect(new NetpolOracle(NAMESPACES, PODS, [emptyPorts]).allows(icmp)).toBe(true);
    expect(or.allows(icmp)).toBe(false);
    const anyTcp = np('x', 't', { podSelector: {}, ingress: [{ ports: [{ protocol: 'SCTP' }] }] });
    const ot = new NetpolOracle(NAMESPACES, PODS, [anyTcp]);
    expect(ot.allows({ from: 'y/a', to: 'x/a', family: 'v4', protocol: 'SCTP', port: 9 })).toBe(true);
    expect(ot.allows(tcp('y/a', 'x/a', 9))).toBe(false);
  });

  it('policies are additive, and both ends must allow', () => {
    const deny = np('x', 'deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const allowIn = np('x', 'in', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: {} }] }] });
    const o = new NetpolOracle(NAMESPACES, PODS, [deny, allowIn]);
    expect(o.ingressAllows(tcp('x/b', 'x/a'))).toBe(true);
    expect(o.egressAllows(tcp('x/b', 'x/a'))).toBe(false);
    expect(o.allows(tcp('x/b', 'x/a'))).toBe(false);
    const allowOut = np('x', 'out', { podSelector: { matchLabels: { pod: 'b' } }, egress: [{}] });
    expect(new NetpolOracle(NAMESPACES, PODS, [deny, allowIn, allowOut]).allows(tcp('x/b', 'x/a'))).toBe(true);
  });

  it('refuses what the API server refuses', () => {
    expect(() => new NetpolOracle(NAMESPACES, PODS, [np('x', 'p', { podSelector: {}, ingress: [{ from: [{}] }] })])).toThrow(/peer needs/);
    expect(() => new NetpolOracle(NAMESPACES, PODS, [np('x', 'p', { podSelector: {}, ingress: [{ ports: [{ port: 'web', endPort: 90 }] }] })])).toThrow(/endPort/);
    expect(() => new NetpolOracle(NAMESPACES, PODS, [np('x', 'p', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] })])).toThrow(/ipBlock/);
  });
});
