// Services through the pure compile step: endpoints derived from selectors
// or taken from EndpointSlices (src/model/services.ts, shared with the lab's
// kube-proxy), target-port resolution, and the services/backends map
// entries with the networks allowed to use them (design section 3 rules 3, 4).
import { describe, expect, it } from 'vitest';
import { VW_CIDR_SERVICE, VW_SVC_ANY_VRF, VW_SVC_ROUTER, VW_SVC_SHARED } from '../src/bpf/abi.js';
import { compile } from '../src/model/compile.js';
import { dnatTargets, serviceEndpoints } from '../src/model/services.js';
import { DEFAULT_NETWORK, type ClusterConfig, type ClusterState, type DesiredServiceEntry, type DesiredState } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { cluster, isolatedNs, ns, pod, router, sel, slice, svc, vn } from './helpers/cluster.js';

const config: ClusterConfig = {
  nodeName: 'n1',
  podCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
  serviceCIDRs: ['10.96.0.0/16', 'fd00:10:96::/108'],
};
const run = (s: ClusterState): DesiredState => compile(s, config, new Map(), emptyAllocation());
const entries = (m: Map<string, DesiredServiceEntry>, addr: string): DesiredServiceEntry[] =>
  [...m.values()].filter((e) => e.addr === addr).sort((a, b) => a.port - b.port || a.clientVrf - b.clientVrf);

describe('serviceEndpoints: the computation the lab kube-proxy shares', () => {
  const web = (name: string, ip: string[], labels: Record<string, string>, ports = [{ containerPort: 8080, protocol: 'TCP' as const, name: 'http' }]) =>
    pod(`shop/${name}`, ip, { labels, ports });

  it('selector over the namespace’s pods with addresses; named targetPort resolved per pod', () => {
    const s = cluster({
      pods: [
        web('w1', ['10.244.1.10', 'fd00:10:244:1::10'], { app: 'web' }),
        web('w2', ['10.244.2.10'], { app: 'web' }, [{ containerPort: 9090, protocol: 'TCP', name: 'http' }]),
        web('w3', [], { app: 'web' }), // not started: no address
        web('other', ['10.244.1.11'], { app: 'db' }),
        pod('elsewhere/w4', ['10.244.1.12'], { labels: { app: 'web' }, ports: [{ containerPort: 8080, protocol: 'TCP', name: 'http' }] }),
        web('noport', ['10.244.1.13'], { app: 'web' }, []),
      ],
      services: [
        svc('shop/web', [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'raw', port: 81, targetPort: 7070, protocol: 'UDP' }], {
          clusterIPs: ['10.96.0.20', 'fd00:10:96::20'],
          selector: { app: 'web' },
        }),
      ],
    });
    const { services, problems } = serviceEndpoints(s);
    expect(services).toHaveLength(1);
    const [sv] = services;
    expect(sv).toMatchObject({ key: 'shop/web', vips: ['10.96.0.20', 'fd00:10:96::20'], endpointsFrom: 'selector' });
    expect(sv!.ports[0]).toEqual({
      name: 'http',
      protocol: 'TCP',
      port: 80,
      backends: [
        { ip: '10.244.1.10', port: 8080, pod: 'shop/w1' },
        { ip: '10.244.2.10', port: 9090, pod: 'shop/w2' },
        { ip: 'fd00:10:244:1::10', port: 8080, pod: 'shop/w1' },
      ],
    });
    expect(sv!.ports[1]!.backends.map((b) => `${b.ip}:${b.port}`)).toEqual([
      '10.244.1.10:7070',
      '10.244.1.13:7070',
      '10.244.2.10:7070',
      'fd00:10:244:1::10:7070',
    ]);
    expect(problems.map((p) => p.message)).toEqual([
      'port 80/TCP: targetPort "http" names no TCP container port of pod noport; those pods are no backends of this port',
    ]);
    // kube-proxy view: per VIP and port, backends of the VIP's family only
    const t = dnatTargets(services);
    expect(t.map((x) => `${x.vip}:${x.port}/${x.protocol} -> ${x.backends.map((b) => `${b.ip}:${b.port}`).join(',')}`)).toEqual([
      '10.96.0.20:80/TCP -> 10.244.1.10:8080,10.244.2.10:9090',
      '10.96.0.20:81/UDP -> 10.244.1.10:7070,10.244.1.13:7070,10.244.2.10:7070',
      'fd00:10:96::20:80/TCP -> fd00:10:244:1::10:8080',
      'fd00:10:96::20:81/UDP -> fd00:10:244:1::10:7070',
    ]);
    expect(t.every((x) => (x.family === 6) === x.vip.includes(':'))).toBe(true);
  });

  it('EndpointSlices win over the selector; not-ready endpoints and unmatched ports are left out', () => {
    const s = cluster({
      pods: [web('w1', ['10.244.1.10'], { app: 'web' })],
      services: [svc('shop/web', [{ name: 'http', port: 80, targetPort: 'http' }], { clusterIPs: ['10.96.0.20'], selector: { app: 'web' } })],
      endpointSlices: [
        slice('shop/web-a', 'web', 'IPv4', [{ addresses: ['10.244.3.3'], ready: true, pod: 'shop/x' }, { addresses: ['10.244.3.4'], ready: false }], [
          { name: 'http', port: 8443, protocol: 'TCP' },
          { name: 'other', port: 1, protocol: 'TCP' },
        ]),
        slice('shop/web-b', 'web', 'IPv4', [{ addresses: ['10.244.3.5'], ready: true }], [{ name: 'http', port: 8443, protocol: 'UDP' }]),
        slice('other/web-c', 'web', 'IPv4', [{ addresses: ['10.244.3.6'], ready: true }], [{ name: 'http', port: 8443, protocol: 'TCP' }]),
      ],
    });
    const [sv] = serviceEndpoints(s).services;
    expect(sv!.endpointsFrom).toBe('endpointSlices');
    expect(sv!.ports[0]!.backends).toEqual([{ ip: '10.244.3.3', port: 8443, pod: 'shop/x' }]);
  });

  it('headless: no VIP, backends still; no selector and no slices: no backends; ExternalName: left out', () => {
    const s = cluster({
      pods: [web('w1', ['10.244.1.10'], { app: 'web' })],
      services: [
        svc('shop/headless', [{ port: 8080 }], { headless: true, selector: { app: 'web' } }),
        svc('shop/manual', [{ port: 80 }], { clusterIPs: ['10.96.0.30'] }),
        svc('shop/ext', [], { type: 'ExternalName' }),
      ],
    });
    const out = serviceEndpoints(s).services;
    expect(out.map((x) => [x.key, x.vips, x.endpointsFrom, x.ports.map((p) => p.backends.length)])).toEqual([
      ['shop/headless', [], 'selector', [1]],
      ['shop/manual', ['10.96.0.30'], 'none', [0]],
    ]);
  });
});

describe('compile: services and backends maps', () => {
  const dnsPod = pod('kube-system/coredns', ['10.244.2.53', 'fd00:10:244:2::53'], {
    labels: { k8s: 'dns' },
    ports: [
      { containerPort: 53, protocol: 'UDP', name: 'dns' },
      { containerPort: 53, protocol: 'TCP', name: 'dns-tcp' },
    ],
  });
  const kubeDns = svc(
    'kube-system/kube-dns',
    [
      { name: 'dns', port: 53, protocol: 'UDP', targetPort: 'dns' },
      { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 'dns-tcp' },
    ],
    { clusterIPs: ['10.96.0.10', 'fd00:10:96::a'], selector: { k8s: 'dns' } },
  );
  // `kubernetes` points at the node (an EndpointSlice, as the API server writes it)
  const kubernetes = svc('default/kubernetes', [{ name: 'https', port: 443, targetPort: 6443 }], { clusterIPs: ['10.96.0.1'] });
  const kubernetesSlice = slice('default/kubernetes', 'kubernetes', 'IPv4', [{ addresses: ['192.168.50.1'], ready: true }], [
    { name: 'https', port: 6443, protocol: 'TCP' },
  ]);

  it('a Service of the default network is shared: one ANY entry per VIP/port and per backend/target port', () => {
    const d = run(cluster({ pods: [dnsPod], services: [kubeDns, kubernetes], endpointSlices: [kubernetesSlice] }));
    const shared = { clientVrf: VW_SVC_ANY_VRF, svcVrf: d.allocation.ids[DEFAULT_NETWORK], flags: VW_SVC_SHARED };
    expect(entries(d.services, '10.96.0.10')).toEqual([
      { addr: '10.96.0.10', port: 53, protocol: 'UDP', ...shared },
      { addr: '10.96.0.10', port: 53, protocol: 'TCP', ...shared },
    ].sort((a, b) => a.port - b.port));
    expect(entries(d.services, 'fd00:10:96::a')).toHaveLength(2);
    expect(entries(d.services, '10.96.0.1')).toEqual([{ addr: '10.96.0.1', port: 443, protocol: 'TCP', ...shared }]);
    expect(entries(d.backends, '10.244.2.53').map((e) => `${e.port}/${e.protocol}`).sort()).toEqual(['53/TCP', '53/UDP']);
    expect(entries(d.backends, 'fd00:10:244:2::53')).toHaveLength(2);
    // the node is a host endpoint: rule 6 covers it, no backend entry
    expect(entries(d.backends, '192.168.50.1')).toEqual([]);
    expect(d.servicePlacements.get('kube-system/kube-dns')).toMatchObject({ kind: 'network', network: DEFAULT_NETWORK });
  });

  it('a Service of an isolated namespace: only its own network, plus networks a router joins to it', () => {
    const s = cluster({
      namespaces: [isolatedNs('shop'), isolatedNs('ops'), isolatedNs('other')],
      pods: [pod('shop/w1', ['10.244.1.10'], { labels: { app: 'web' } })],
      services: [svc('shop/web', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.20'], selector: { app: 'web' } })],
      routers: [
        router('shop/r', 'mesh', {
          labels: { r: 'shop' },
          select: sel({ 'vrfwall.dev/network': 'shop/default-podnetwork' }),
          imports: [{ virtualNetworkRouterSelector: sel({ r: 'ops' }), namespaceSelector: sel({ 'kubernetes.io/metadata.name': 'ops' }) }],
        }),
        router('ops/r', 'mesh', { labels: { r: 'ops' }, select: sel({ 'vrfwall.dev/network': 'ops/default-podnetwork' }) }),
      ],
    });
    const d = run(s);
    const ids = d.allocation.ids;
    const shopVrf = ids['shop/default-podnetwork']!;
    expect(entries(d.services, '10.96.0.20')).toEqual(
      [
        { addr: '10.96.0.20', port: 80, protocol: 'TCP', clientVrf: shopVrf, svcVrf: shopVrf, flags: 0 },
        { addr: '10.96.0.20', port: 80, protocol: 'TCP', clientVrf: ids['ops/default-podnetwork']!, svcVrf: shopVrf, flags: VW_SVC_ROUTER },
      ].sort((a, b) => a.clientVrf - b.clientVrf),
    );
    expect(entries(d.backends, '10.244.1.10').map((e) => [e.port, e.clientVrf]).sort()).toEqual(
      [[8080, shopVrf], [8080, ids['ops/default-podnetwork']!]].sort(),
    );
    // "other" may use neither
    expect([...d.services.values(), ...d.backends.values()].some((e) => e.clientVrf === ids['other/default-podnetwork'])).toBe(false);
  });

  it('a Service follows its namespace’s network annotation, or its own; a bad one quarantines it', () => {
    const s = cluster({
      namespaces: [ns('team', { annotations: { 'vrfwall.dev/network': 'team/blue' } })],
      virtualNetworks: [vn('team/blue'), vn('team/red')],
      services: [
        svc('team/a', [{ port: 80 }], { clusterIPs: ['10.96.1.1'] }),
        svc('team/b', [{ port: 80 }], { clusterIPs: ['10.96.1.2'], annotations: { 'net.juniper.contrail.podnetwork': 'team/red' } }),
        svc('team/c', [{ port: 80 }], { clusterIPs: ['10.96.1.3'], annotations: { 'vrfwall.dev/network': 'team/nope' } }),
      ],
    });
    const d = run(s);
    expect(entries(d.services, '10.96.1.1').map((e) => e.clientVrf)).toEqual([d.allocation.ids['team/blue']]);
    expect(entries(d.services, '10.96.1.2').map((e) => e.clientVrf)).toEqual([d.allocation.ids['team/red']]);
    expect(entries(d.services, '10.96.1.3')).toEqual([]);
    expect(d.servicePlacements.get('team/c')?.kind).toBe('quarantine');
    expect(d.problems.map((p) => `${p.source}: ${p.message}`)).toContainEqual(expect.stringMatching(/^Service team\/c: quarantined, nobody can use it: .*team\/nope, which does not exist/));
  });

  it('two Services sharing a backend port each grant their own networks', () => {
    const s = cluster({
      namespaces: [isolatedNs('a'), isolatedNs('b')],
      pods: [pod('a/p', ['10.244.1.10'], { labels: { app: 'x' } }), pod('b/q', ['10.244.1.20'], { labels: { app: 'x' } })],
      services: [
        svc('a/s', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.40'], selector: { app: 'x' } }),
        svc('default/shared', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.41'] }),
      ],
      endpointSlices: [slice('default/shared-1', 'shared', 'IPv4', [{ addresses: ['10.244.1.10'], ready: true }], [{ name: '', port: 8080, protocol: 'TCP' }])],
    });
    const d = run(s);
    expect(entries(d.backends, '10.244.1.10').map((e) => [e.clientVrf, e.flags]).sort()).toEqual(
      [[VW_SVC_ANY_VRF, VW_SVC_SHARED], [d.allocation.ids['a/default-podnetwork']!, 0]].sort(),
    );
    // b/q is not selected by a/s (other namespace)
    expect(entries(d.backends, '10.244.1.20')).toEqual([]);
  });

  it('a ClusterIP outside the service CIDRs gets a host-length service range, and a problem', () => {
    const d = run(cluster({ services: [svc('default/odd', [{ port: 80 }], { clusterIPs: ['172.16.0.1'] })] }));
    expect(d.cidrs.get('172.16.0.1/32')).toBe(VW_CIDR_SERVICE);
    expect(d.problems.map((p) => p.message)).toContain('ClusterIP 172.16.0.1 is outside the service CIDRs; covered by a host-length service range');
    const inside = run(cluster({ services: [svc('default/ok', [{ port: 80 }], { clusterIPs: ['10.96.0.7'] })] }));
    expect([...inside.cidrs.keys()].sort()).toEqual(['10.244.0.0/16', '10.96.0.0/16', 'fd00:10:244::/48', 'fd00:10:96::/108']);
  });
});
