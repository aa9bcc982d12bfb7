// Audit mode in the pure compile step (issue 19 item 1; src/model/enforcement.ts):
// the annotation vrfwall.dev/enforcement read per network, the OPEN set
// (audited networks and the default network), the network flags
// VW_NET_AUDIT / VW_NET_OPEN, the Services' audit entries, bad values, and
// the incremental compile giving the same maps when the mode switches.
import { describe, expect, it } from 'vitest';
import { VW_NET_AUDIT, VW_NET_EXTERNAL_DENY, VW_NET_OPEN, VW_SVC_AUDIT, VW_SVC_AUDIT_VRF } from '../src/kernel/abi.js';
import { compile, EXTERNAL_KEY } from '../src/model/compile.js';
import { ENFORCEMENT_KEY, networkModes } from '../src/model/enforcement.js';
import { IncrementalCompiler } from '../src/model/incremental.js';
import { NETWORK_KEY } from '../src/model/placement.js';
import { DEFAULT_NETWORK, type ClusterConfig, type ClusterState, type DesiredState } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { cluster, entryClients, isolatedNs, ns, pod, problemTexts, svc, vn } from './helpers/cluster.js';

const config: ClusterConfig = { nodeName: 'n1', podCIDRs: ['10.244.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] };
const run = (s: ClusterState): DesiredState => compile(s, config, new Map(), emptyAllocation());
const audit = { [ENFORCEMENT_KEY]: 'audit' };
const flagsOf = (d: DesiredState, net: string): number | undefined => d.networks.get(d.allocation.ids[net] ?? -1);
const STAGED = 'ns-staged/default-podnetwork';
const ENFORCED = 'ns-locked/default-podnetwork';

/** default (pods d1), ns-staged isolated and audited (s1, s2), ns-locked isolated and enforced (l1). */
function staged(stagedMeta = { annotations: audit as Record<string, string> }): ClusterState {
  return cluster({
    namespaces: [isolatedNs('ns-staged', stagedMeta), isolatedNs('ns-locked')],
    pods: [
      pod('default/d1', ['10.244.0.10'], { labels: { app: 'd' } }),
      pod('ns-staged/s1', ['10.244.1.10'], { labels: { app: 's' } }),
      pod('ns-staged/s2', ['10.244.1.11'], { labels: { app: 's' } }),
      pod('ns-locked/l1', ['10.244.2.10'], { labels: { app: 'l' } }),
    ],
    services: [
      svc('default/web', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.10'], selector: { app: 'd' } }),
      svc('ns-staged/api', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.20'], selector: { app: 's' } }),
      svc('ns-locked/db', [{ port: 5432, targetPort: 5432 }], { clusterIPs: ['10.96.0.30'], selector: { app: 'l' } }),
    ],
  });
}

describe('audit mode: which networks, and the flags the datapath gets', () => {
  it('an audited isolated namespace: its network AUDIT|OPEN, the default network OPEN, an enforced one neither', () => {
    const d = run(staged());
    expect(flagsOf(d, STAGED)).toBe(VW_NET_AUDIT | VW_NET_OPEN);
    expect(flagsOf(d, DEFAULT_NETWORK)).toBe(VW_NET_OPEN);
    expect(flagsOf(d, ENFORCED)).toBe(0);
    // Isolation itself is unchanged: no router pair, the pods keep their networks.
    expect(d.vrfPairs.size).toBe(0);
    expect(d.placements.get('ns-staged/s1')).toMatchObject({ network: STAGED });
    expect(problemTexts(d)).toEqual([]);
  });

  it('positive control: the same cluster without the annotation has no audit flag and no audit entry anywhere', () => {
    const d = run(staged({ annotations: {} }));
    for (const f of d.networks.values()) expect(f & (VW_NET_AUDIT | VW_NET_OPEN)).toBe(0);
    expect([...d.services.values()].filter((e) => e.clientVrf === VW_SVC_AUDIT_VRF)).toEqual([]);
    // and "enforce" written out says the same
    const e = run(staged({ annotations: { [ENFORCEMENT_KEY]: 'enforce' } }));
    expect(e.networks).toEqual(d.networks);
    expect(e.services).toEqual(d.services);
  });

  it('Services: an audit entry where every backend is in an OPEN network, none for an enforced network', () => {
    const d = run(staged());
    // default/web (backends in the default network, OPEN) and ns-staged/api (audited): audit entries.
    expect(entryClients(d, d.services, '10.96.0.10', 80)).toEqual(['AUDIT', DEFAULT_NETWORK]);
    expect(entryClients(d, d.services, '10.96.0.20', 80)).toEqual(['AUDIT', STAGED]);
    // ns-locked/db: enforced, only its own network.
    expect(entryClients(d, d.services, '10.96.0.30', 5432)).toEqual([ENFORCED]);
    const e = [...d.services.values()].find((x) => x.addr === '10.96.0.20' && x.clientVrf === VW_SVC_AUDIT_VRF);
    expect(e).toEqual({ addr: '10.96.0.20', port: 80, protocol: 'TCP', clientVrf: VW_SVC_AUDIT_VRF, svcVrf: d.allocation.ids[STAGED], flags: VW_SVC_AUDIT });
    // Who may use it (explain, the API) still names only the real clients.
    expect(d.serviceAccess.get('ns-staged/api')?.clients).toEqual([STAGED]);
  });

  it('a VirtualNetwork: its own annotation wins over its namespace’s, either way', () => {
    const s = cluster({
      namespaces: [ns('team', { annotations: audit }), ns('other')],
      virtualNetworks: [
        vn('team/blue'), // inherits audit
        vn('team/red', { annotations: { [ENFORCEMENT_KEY]: 'enforce' } }),
        vn('other/green', { annotations: { [ENFORCEMENT_KEY]: ' Audit ' } }), // trimmed, any case
      ],
      pods: [pod('team/p', ['10.244.3.10'], { annotations: { [NETWORK_KEY]: 'team/blue' } })],
    });
    const d = run(s);
    expect(flagsOf(d, 'team/blue')).toBe(VW_NET_AUDIT | VW_NET_OPEN);
    expect(flagsOf(d, 'team/red')).toBe(0);
    expect(flagsOf(d, 'other/green')).toBe(VW_NET_AUDIT | VW_NET_OPEN);
    expect(flagsOf(d, DEFAULT_NETWORK)).toBe(VW_NET_OPEN);
    expect(networkModes(s, Object.keys(d.allocation.ids)).why.get('team/blue')).toBe(`audit (Namespace team annotation ${ENFORCEMENT_KEY})`);
    expect(problemTexts(d)).toEqual([]);
  });

  it('bad values enforce (fail closed) and are reported on the object that has them', () => {
    const s = cluster({
      namespaces: [isolatedNs('ns-staged', { annotations: { [ENFORCEMENT_KEY]: 'audit-please' } })],
      virtualNetworks: [vn('ns-staged/blue', { annotations: { [ENFORCEMENT_KEY]: 'true' } })],
      pods: [pod('ns-staged/s1', ['10.244.1.10'])],
    });
    const d = run(s);
    expect(flagsOf(d, STAGED)).toBe(0);
    expect(flagsOf(d, 'ns-staged/blue')).toBe(0);
    expect(flagsOf(d, DEFAULT_NETWORK)).toBe(0);
    expect(problemTexts(d)).toEqual([
      `Namespace ns-staged: annotation ${ENFORCEMENT_KEY}="audit-please" is neither "audit" nor "enforce"; enforced`,
      `VirtualNetwork ns-staged/blue: annotation ${ENFORCEMENT_KEY}="true" is neither "audit" nor "enforce"; enforced`,
    ]);
    // Nothing quarantined by it: the pod keeps its network.
    expect(d.placements.get('ns-staged/s1')).toMatchObject({ kind: 'network', network: STAGED });
  });

  it('the default network is never audited by annotation; a namespace whose annotation governs nothing is told so', () => {
    const s = cluster({
      namespaces: [ns('default', { annotations: audit }), ns('plain', { annotations: audit })],
      virtualNetworks: [vn('default/default-podnetwork', { annotations: audit })],
      pods: [pod('plain/p', ['10.244.0.20']), pod('default/d', ['10.244.0.21'])],
    });
    const d = run(s);
    expect(flagsOf(d, DEFAULT_NETWORK)).toBe(0);
    expect(problemTexts(d).sort()).toEqual([
      `Namespace default: ${ENFORCEMENT_KEY}=audit has no effect: the namespace is not isolated and has no VirtualNetwork that inherits it (its pods are in the shared default network, which is never audited by annotation)`,
      `Namespace plain: ${ENFORCEMENT_KEY}=audit has no effect: the namespace is not isolated and has no VirtualNetwork that inherits it (its pods are in the shared default network, which is never audited by annotation)`,
      `VirtualNetwork ${DEFAULT_NETWORK}: ${ENFORCEMENT_KEY}=audit has no effect: the default pod network is shared by every non-isolated namespace and is never audited by annotation (the node-wide --enforcement setting is)`,
    ]);
  });

  it('external deny stays in the flags of an audited network (the datapath turns its drops into AUDIT)', () => {
    const s = staged({ annotations: { ...audit, [EXTERNAL_KEY]: 'deny' } });
    const d = run(s);
    expect(flagsOf(d, STAGED)).toBe(VW_NET_EXTERNAL_DENY | VW_NET_AUDIT | VW_NET_OPEN);
  });

  it('no audit entry on a port with a node or outside backend, nor for a several-network port with an enforced backend', () => {
    const s = staged();
    // ns-locked may not go outside: the outside backend keeps it out, and only it (no audit entry lets it in).
    s.namespaces.set('ns-locked', isolatedNs('ns-locked', { annotations: { [EXTERNAL_KEY]: 'deny' } }));
    s.services.set('ns-staged/mixed', svc('ns-staged/mixed', [{ port: 81, targetPort: 8080 }], { clusterIPs: ['10.96.0.21'] }));
    s.endpointSlices.set('ns-staged/mixed-1', {
      kind: 'EndpointSlice',
      metadata: { name: 'mixed-1', namespace: 'ns-staged', labels: {}, annotations: {} },
      serviceName: 'mixed',
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.244.1.10'], ready: true }, { addresses: ['203.0.113.9'], ready: true }],
      ports: [{ name: '', port: 8080, protocol: 'TCP' }],
    });
    // a pod of ns-staged in an enforced VirtualNetwork of its namespace: a second backend network for ns-staged/api.
    s.virtualNetworks.set('ns-staged/locked', vn('ns-staged/locked', { annotations: { [ENFORCEMENT_KEY]: 'enforce' } }));
    s.pods.set('ns-staged/s3', pod('ns-staged/s3', ['10.244.1.12'], { labels: { app: 's' }, annotations: { [NETWORK_KEY]: 'ns-staged/locked' } }));
    const d = run(s);
    expect(entryClients(d, d.services, '10.96.0.21', 81)).toEqual([DEFAULT_NETWORK, STAGED, 'ns-staged/locked'].sort());
    // ns-staged/api now has backends in STAGED (audited) and ns-staged/locked (enforced): no audit entry.
    expect(entryClients(d, d.services, '10.96.0.20', 80)).toEqual([STAGED, 'ns-staged/locked']);
    // positive control in the same cluster: default/web keeps its audit entry.
    expect(entryClients(d, d.services, '10.96.0.10', 80)).toEqual(['AUDIT', DEFAULT_NETWORK]);
  });
});

describe('audit mode in the incremental compile', () => {
  it('switching the namespace audit -> enforce -> audit: the same maps as compile(), with the changed keys in the delta', () => {
    const inc = new IncrementalCompiler(config, emptyAllocation());
    const s1 = staged();
    inc.update(s1, 'all', new Map());
    const strip = (d: DesiredState): unknown => ({ networks: new Map(d.networks), services: new Map(d.services), vrfPairs: new Set(d.vrfPairs) });
    expect(strip(inc.desired())).toEqual(strip(compile(s1, config, new Map(), inc.allocation)));

    const s2 = staged({ annotations: { [ENFORCEMENT_KEY]: 'enforce' } });
    const delta = inc.update(s2, [{ kind: 'Namespace', key: 'ns-staged' }], new Map());
    const d2 = inc.desired();
    expect(strip(d2)).toEqual(strip(compile(s2, config, new Map(), inc.allocation)));
    expect(flagsOf(d2, STAGED)).toBe(0);
    expect(flagsOf(d2, DEFAULT_NETWORK)).toBe(0);
    expect(delta.networks).toEqual(new Set([d2.allocation.ids[DEFAULT_NETWORK], d2.allocation.ids[STAGED]]));
    const auditKeys = [...delta.services].filter((k) => k.endsWith(`|${VW_SVC_AUDIT_VRF}`)).sort();
    expect(auditKeys).toEqual([`10.96.0.10|80|TCP|${VW_SVC_AUDIT_VRF}`, `10.96.0.20|80|TCP|${VW_SVC_AUDIT_VRF}`]);
    for (const k of auditKeys) expect(d2.services.has(k)).toBe(false);

    inc.update(s1, [{ kind: 'Namespace', key: 'ns-staged' }], new Map());
    expect(strip(inc.desired())).toEqual(strip(compile(s1, config, new Map(), inc.allocation)));
    expect(flagsOf(inc.desired(), STAGED)).toBe(VW_NET_AUDIT | VW_NET_OPEN);
  });
});
