// Services through the pure compile step: endpoints derived from selectors
// or taken from EndpointSlices (src/model/services.ts, shared with the lab's
// kube-proxy), target-port resolution, and the services/backends map
// entries with the networks allowed to use them (design section 3 rules 3, 4):
// shared Services, Services that follow their backends, backends identified
// by address, and the frontends outside the service ranges (NodePorts,
// external and load balancer IPs, hostPorts).
import { describe, expect, it } from 'vitest';
import { VW_CIDR_SERVICE, VW_EP_HOST, VW_EP_NO_BACKEND, VW_SVC_ANY_VRF, VW_SVC_FRONTEND_VRF, VW_SVC_ROUTER, VW_SVC_SHARED } from '../src/kernel/abi.js';
import { compile } from '../src/model/compile.js';
import { serviceEndpoints } from '../src/model/services.js';
import { dnatTargets } from '../src/lab/dnat.js';
import { DEFAULT_NETWORK, type ClusterConfig, type ClusterState, type DesiredServiceEntry, type DesiredState, type PodObject } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { cluster, entryClients, isolatedNs, ns, pod, problemTexts, router, sel, slice, svc, vn } from './helpers/cluster.js';

const config: ClusterConfig = {
  nodeName: 'n1',
  podCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
  serviceCIDRs: ['10.96.0.0/16', 'fd00:10:96::/108'],
};
const run = (s: ClusterState): DesiredState => compile(s, config, new Map(), emptyAllocation());
const entries = (m: Map<string, DesiredServiceEntry>, addr: string): DesiredServiceEntry[] =>
  [...m.values()].filter((e) => e.addr === addr).sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol) || a.clientVrf - b.clientVrf);

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
  const webPod = pod('default/web', ['10.244.1.20'], { labels: { app: 'web' } });
  const web = svc('default/web', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.20'], selector: { app: 'web' } });
  const secret = pod('iso/secret', ['10.244.1.66', 'fd00:10:244:1::66'], { labels: { app: 'secret' } });
  /** A hand-written slice for `service` (port "" -> 8080) naming `ip`, with the targetRef its writer chose. */
  const handSlice = (key: string, service: string, ip: string, ref?: string) =>
    slice(key, service, ip.includes(':') ? 'IPv6' : 'IPv4', [{ addresses: [ip], ready: true, ...(ref ? { pod: ref } : {}) }], [
      { name: '', port: 8080, protocol: 'TCP' },
    ]);

  /** "network name or * or FRONTEND" per client of addr:port/protocol. */
  const clients = entryClients;
  const problems = problemTexts;
  const ISO = 'iso/default-podnetwork';

  it('the cluster’s Services are shared: one ANY entry per VIP/port, and ANY per backend pod/target port', () => {
    const d = run(cluster({ pods: [dnsPod], services: [kubeDns, kubernetes], endpointSlices: [kubernetesSlice] }));
    const shared = { clientVrf: VW_SVC_ANY_VRF, svcVrf: d.allocation.ids[DEFAULT_NETWORK], flags: VW_SVC_SHARED };
    expect(entries(d.services, '10.96.0.10')).toEqual([
      { addr: '10.96.0.10', port: 53, protocol: 'TCP', ...shared },
      { addr: '10.96.0.10', port: 53, protocol: 'UDP', ...shared },
    ]);
    expect(entries(d.services, 'fd00:10:96::a')).toHaveLength(2);
    // kubernetes' backend is the node: no network, so no svc_vrf
    expect(entries(d.services, '10.96.0.1')).toEqual([{ addr: '10.96.0.1', port: 443, protocol: 'TCP', clientVrf: VW_SVC_ANY_VRF, svcVrf: 0, flags: VW_SVC_SHARED }]);
    expect(entries(d.backends, '10.244.2.53').map((e) => `${e.port}/${e.protocol} ${e.clientVrf} ${e.flags}`).sort()).toEqual([
      `53/TCP ${VW_SVC_ANY_VRF} ${VW_SVC_SHARED}`,
      `53/UDP ${VW_SVC_ANY_VRF} ${VW_SVC_SHARED}`,
    ]);
    expect(entries(d.backends, 'fd00:10:244:2::53')).toHaveLength(2);
    // the node is a host endpoint: rule 6 covers it, no backend entry
    expect(entries(d.backends, '192.168.50.1')).toEqual([]);
    // every endpoint whose address no backends entry has says so (VW_EP_NO_BACKEND: the datapath skips
    // the rule-4 lookup); the backend's addresses do not, and host endpoints are left alone
    const backendAddrs = new Set([...d.backends.values()].map((e) => e.addr));
    expect([...backendAddrs].sort()).toEqual(['10.244.2.53', 'fd00:10:244:2::53']);
    for (const [addr, ep] of d.endpoints) {
      const want = backendAddrs.has(addr) || (ep.flags & VW_EP_HOST) !== 0 ? 0 : VW_EP_NO_BACKEND;
      expect(ep.flags & VW_EP_NO_BACKEND, addr).toBe(want);
    }
    expect(d.endpoints.get('10.244.2.53')?.flags).toBe(0); // a remote pod, a backend
    expect(d.serviceAccess.get('kube-system/kube-dns')).toEqual({
      shared: true,
      why: 'a Service of kube-system',
      backendNetworks: [DEFAULT_NETWORK],
      clients: ['*'],
      problems: {},
    });
    expect(d.serviceAccess.get('default/kubernetes')).toMatchObject({ shared: true, why: 'the API server Service', backendNetworks: [], clients: ['*'] });
    expect(d.problems).toEqual([]);
  });

  it('default/web follows its backend: the default network only, no backend entries; an isolated pod may not use it', () => {
    const d = run(cluster({ namespaces: [isolatedNs('iso')], pods: [webPod, pod('iso/client', ['10.244.1.30'])], services: [web] }));
    expect(entries(d.services, '10.96.0.20')).toEqual([
      { addr: '10.96.0.20', port: 80, protocol: 'TCP', clientVrf: d.allocation.ids[DEFAULT_NETWORK]!, svcVrf: d.allocation.ids[DEFAULT_NETWORK]!, flags: 0 },
    ]);
    expect(d.backends.size).toBe(0);
    expect([...d.services.values()].some((e) => e.clientVrf === d.allocation.ids[ISO])).toBe(false);
    expect(d.serviceAccess.get('default/web')).toEqual({
      shared: false,
      why: 'not shared: answers the networks that may reach its backends',
      backendNetworks: [DEFAULT_NETWORK],
      clients: [DEFAULT_NETWORK],
      problems: {},
    });
  });

  it('a Service of an isolated namespace: its backends’ network, plus networks a router joins to it; no backend entries', () => {
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
    // rules 1 and 2 reach the backend; nothing else may
    expect(d.backends.size).toBe(0);
    expect([...d.services.values()].some((e) => e.clientVrf === ids['other/default-podnetwork'])).toBe(false);
  });

  it('a Service of an ordinary namespace whose backend is in a custom network answers that network only', () => {
    const s = cluster({
      namespaces: [ns('team'), ns('blueteam', { annotations: { 'vrfwall.dev/network': 'team/blue' } })],
      virtualNetworks: [vn('team/blue')],
      pods: [
        pod('team/api', ['10.244.1.40'], { labels: { app: 'api' }, annotations: { 'vrfwall.dev/network': 'team/blue' } }),
        pod('blueteam/b', ['10.244.1.41'], { labels: { app: 'b' } }),
      ],
      services: [
        svc('team/api', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.1.1'], selector: { app: 'api' } }),
        // a Service's own network annotation means nothing any more: its backends decide
        svc('blueteam/b', [{ port: 80, targetPort: 8080 }], {
          clusterIPs: ['10.96.1.2'],
          selector: { app: 'b' },
          annotations: { 'vrfwall.dev/network': 'default/default-podnetwork' },
        }),
      ],
    });
    const d = run(s);
    expect(clients(d, d.services, '10.96.1.1', 80)).toEqual(['team/blue']);
    expect(clients(d, d.services, '10.96.1.2', 80)).toEqual(['team/blue']);
    expect(d.backends.size).toBe(0);
    expect(d.serviceAccess.get('team/api')).toMatchObject({ shared: false, backendNetworks: ['team/blue'], clients: ['team/blue'] });
  });

  it('a selector-less Service + EndpointSlice naming a pod of another namespace opens nothing, shared or not, whatever its targetRef says', () => {
    const s = cluster({
      namespaces: [isolatedNs('iso')],
      pods: [secret, webPod],
      services: [
        svc('default/sneaky', [{ port: 80 }], { clusterIPs: ['10.96.0.44'] }),
        svc('default/sneaky-shared', [{ port: 80 }], { clusterIPs: ['10.96.0.45'], annotations: { 'vrfwall.dev/shared': 'true' } }),
        // shared, with one backend of its own and one stranger
        svc('default/mixed', [{ port: 80 }], { clusterIPs: ['10.96.0.46'], annotations: { 'vrfwall.dev/shared': 'true' } }),
      ],
      endpointSlices: [
        handSlice('default/sneaky-1', 'sneaky', '10.244.1.66', 'iso/secret'),
        handSlice('default/sneaky-2', 'sneaky', 'fd00:10:244:1::66', 'iso/secret'),
        // the targetRef lies: it names a pod of the Service's namespace
        handSlice('default/sneaky-shared-1', 'sneaky-shared', '10.244.1.66', 'default/web'),
        handSlice('default/mixed-1', 'mixed', '10.244.1.66'),
        // and here the lie goes the other way: an own pod said to be a stranger
        handSlice('default/mixed-2', 'mixed', '10.244.1.20', 'iso/secret'),
      ],
    });
    const d = run(s);
    // sneaky: its only backend is somebody else's pod: nobody may use it
    expect(clients(d, d.services, '10.96.0.44', 80)).toEqual([]);
    // shared: the ClusterIP answers everyone, but the stranger gains no backend entry,
    // so at its to-pod hook a connection is judged by rules 1 and 2 (isolated: dropped)
    expect(clients(d, d.services, '10.96.0.45', 80)).toEqual(['*']);
    expect(entries(d.backends, '10.244.1.66')).toEqual([]);
    expect(entries(d.backends, 'fd00:10:244:1::66')).toEqual([]);
    // mixed: its own pod (identified by address, not by the lying targetRef) is a shared backend
    expect(clients(d, d.backends, '10.244.1.20', 8080)).toEqual(['*']);
    expect([...d.backends.keys()]).toEqual([`10.244.1.20|8080|TCP|${VW_SVC_ANY_VRF}`]);
    expect(problems(d)).toEqual(
      expect.arrayContaining([
        'Service default/sneaky: endpoints 10.244.1.66 (pod iso/secret), fd00:10:244:1::66 (pod iso/secret) are pods of another namespace: ' +
          'a Service speaks only for pods of its own namespace (default), so they gain nothing from it',
        'Service default/sneaky-shared: endpoints 10.244.1.66 (pod iso/secret) are pods of another namespace: ' +
          'a Service speaks only for pods of its own namespace (default), so they gain nothing from it, shared or not',
        'Service default/sneaky-shared: endpoint targetRef disagrees with the address (10.244.1.66 says it is pod default/web but is pod iso/secret): judged by the address',
        'Service default/mixed: endpoint targetRef disagrees with the address (10.244.1.20 says it is pod iso/secret but is pod default/web): judged by the address',
      ]),
    );
    expect(d.serviceAccess.get('default/sneaky')).toMatchObject({ clients: [], backendNetworks: [], problems: { foreign_backend: 2 } });
    expect(d.serviceAccess.get('default/mixed')).toMatchObject({ shared: true, backendNetworks: [DEFAULT_NETWORK], problems: { foreign_backend: 1 } });
  });

  it('a Service’s selector only ever finds pods of its namespace; a pod-CIDR address nobody owns, a quarantined pod, a contested address: nothing', () => {
    const s = cluster({
      namespaces: [ns('team')],
      pods: [
        pod('team/bad', ['10.244.1.50'], { labels: { app: 'x' }, annotations: { 'vrfwall.dev/network': 'team/nope' } }),
        pod('team/twin1', ['10.244.1.51'], { labels: { app: 'y' } }),
        pod('team/twin2', ['10.244.1.51'], { labels: { app: 'z' } }),
      ],
      services: [
        svc('team/q', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.50'], selector: { app: 'x' } }),
        svc('team/hand', [{ port: 80 }], { clusterIPs: ['10.96.0.51'], annotations: { 'vrfwall.dev/shared': 'true' } }),
      ],
      endpointSlices: [handSlice('team/hand-1', 'hand', '10.244.9.9'), handSlice('team/hand-2', 'hand', '10.244.1.51'), handSlice('team/hand-3', 'hand', '10.96.0.50')],
    });
    const d = run(s);
    expect(clients(d, d.services, '10.96.0.50', 80)).toEqual([]);
    expect(d.backends.size).toBe(0);
    expect(problems(d)).toContain(
      'Service team/hand: endpoints 10.244.1.51 (claimed by several pods: team/twin1, team/twin2), 10.244.9.9 (in the pod ranges, but no known pod has it), ' +
        '10.96.0.50 (a service address) gain nothing from it',
    );
    expect(d.serviceAccess.get('team/hand')?.problems).toEqual({ unknown_backend: 3 });
  });

  it('backends that are not pods: the node for everyone, an outside address for every network that may go outside', () => {
    const base = {
      namespaces: [isolatedNs('iso'), isolatedNs('closed', { labels: { 'vrfwall.dev/external': 'deny' } })],
      pods: [pod('closed/p', ['10.244.1.70'])],
      services: [
        svc('default/node', [{ port: 80 }], { clusterIPs: ['10.96.0.60'] }),
        svc('default/outside', [{ port: 80 }], { clusterIPs: ['10.96.0.61'] }),
        svc('default/outside-shared', [{ port: 80 }], { clusterIPs: ['10.96.0.62'], annotations: { 'vrfwall.dev/shared': 'true' } }),
        svc('kube-system/outside', [{ port: 80 }], { clusterIPs: ['10.96.0.63'] }),
      ],
      endpointSlices: [
        handSlice('default/node-1', 'node', '192.168.50.1'),
        handSlice('default/outside-1', 'outside', '203.0.113.9'),
        handSlice('default/outside-shared-1', 'outside-shared', '203.0.113.9'),
        handSlice('kube-system/outside-1', 'outside', '203.0.113.10'),
      ],
    };
    const d = run(cluster(base));
    expect(clients(d, d.services, '10.96.0.60', 80)).toEqual(['*']);
    // closed denies outside addresses: it may not reach 203.0.113.9 through a ClusterIP either
    expect(clients(d, d.services, '10.96.0.61', 80)).toEqual([DEFAULT_NETWORK, ISO].sort());
    expect(clients(d, d.services, '10.96.0.62', 80)).toEqual([DEFAULT_NETWORK, ISO].sort());
    expect(problems(d)).toContain(
      'Service default/outside-shared: backends 203.0.113.9 are outside the cluster: networks that may not go outside (closed/default-podnetwork) cannot use this shared Service',
    );
    // the cluster's own Services stay shared (a managed API server is outside the ranges)
    expect(clients(d, d.services, '10.96.0.63', 80)).toEqual(['*']);
    expect(d.backends.size).toBe(0);
    // Nobody denies: one ANY entry.
    const open = run(cluster({ ...base, namespaces: [isolatedNs('iso'), isolatedNs('closed')] }));
    expect(clients(open, open.services, '10.96.0.61', 80)).toEqual(['*']);
  });

  it('a node or outside backend on a tunnel port (UDP 4789, 8472, 6081) answers nobody: DNAT would hand the node’s overlay device a forged inner packet', () => {
    // The attack: a tenant's selector-less Service on UDP, a hand-written
    // slice naming a node address on flannel's VXLAN port. The pod's packet
    // to the ClusterIP passes rule 3, kube-proxy DNATs it to the node, and
    // flannel.1 decapsulates an inner packet whose source nobody checked.
    const udpSlice = (key: string, service: string, ip: string, port: number) =>
      slice(key, service, 'IPv4', [{ addresses: [ip], ready: true }], [{ name: '', port, protocol: 'UDP' }]);
    const d = run(
      cluster({
        namespaces: [isolatedNs('iso'), ns('tenant')],
        services: [
          svc('tenant/vx', [{ port: 4789, protocol: 'UDP', nodePort: 30789 }], { type: 'NodePort', clusterIPs: ['10.96.0.70'] }),
          svc('tenant/gnv', [{ port: 53, protocol: 'UDP' }], { clusterIPs: ['10.96.0.71'] }),
          svc('tenant/out', [{ port: 53, protocol: 'UDP' }], { clusterIPs: ['10.96.0.72'] }),
          // positive control: a node backend on an ordinary UDP port stays open to everyone (rule 6)
          svc('tenant/dns', [{ port: 53, protocol: 'UDP' }], { clusterIPs: ['10.96.0.73'] }),
        ],
        endpointSlices: [
          udpSlice('tenant/vx-1', 'vx', '192.168.50.1', 8472),
          udpSlice('tenant/gnv-1', 'gnv', '192.168.50.1', 6081),
          udpSlice('tenant/out-1', 'out', '203.0.113.9', 4789),
          udpSlice('tenant/dns-1', 'dns', '192.168.50.1', 53),
        ],
      }),
    );
    expect(clients(d, d.services, '10.96.0.73', 53, 'UDP')).toEqual(['*']);
    expect(clients(d, d.services, '10.96.0.70', 4789, 'UDP')).toEqual([]);
    expect(clients(d, d.services, '::', 30789, 'UDP')).toEqual(['FRONTEND']); // its NodePort: the marker alone
    expect(clients(d, d.services, '10.96.0.71', 53, 'UDP')).toEqual([]);
    expect(clients(d, d.services, '10.96.0.72', 53, 'UDP')).toEqual([]);
    expect(d.serviceAccess.get('tenant/vx')?.problems).toMatchObject({ tunnel_backend: 1 });
  });

  it('backends in several networks: the union of who may reach each, and a problem', () => {
    const s = cluster({
      namespaces: [ns('team')],
      virtualNetworks: [vn('team/blue'), vn('team/red')],
      pods: [
        pod('team/a', ['10.244.1.80'], { labels: { app: 'x' }, annotations: { 'vrfwall.dev/network': 'team/blue' } }),
        pod('team/b', ['10.244.1.81'], { labels: { app: 'x' }, annotations: { 'vrfwall.dev/network': 'team/red' } }),
      ],
      services: [svc('team/x', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.80'], selector: { app: 'x' } })],
    });
    const d = run(s);
    expect(clients(d, d.services, '10.96.0.80', 80)).toEqual(['team/blue', 'team/red']);
    expect(problems(d)).toContain(
      'Service team/x: backend pods are in several networks (team/blue, team/red): each connection is judged by the backend it reaches',
    );
    expect(d.serviceAccess.get('team/x')).toMatchObject({ backendNetworks: ['team/blue', 'team/red'], problems: { several_networks: 1 } });
  });

  it('shared by annotation, by the legacy namespace annotation; bad values share nothing and are reported; "false" opts out', () => {
    const s = cluster({
      namespaces: [
        ns('legacy', { annotations: { 'opencontrail.org/isolation': 'true', 'opencontrail.org/isolation.service': 'False' } }),
        ns('oddns', { annotations: { 'opencontrail.org/isolation': 'true', 'opencontrail.org/isolation.service': 'maybe' } }),
        isolatedNs('iso'),
      ],
      pods: [
        pod('legacy/app', ['10.244.1.90'], { labels: { app: 'a' } }),
        pod('oddns/app', ['10.244.1.91'], { labels: { app: 'a' } }),
        pod('iso/app', ['10.244.1.92'], { labels: { app: 'a' } }),
        pod('kube-system/metrics', ['10.244.1.93'], { labels: { app: 'm' } }),
      ],
      services: [
        svc('legacy/app', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.90'], selector: { app: 'a' } }),
        svc('oddns/app', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.91'], selector: { app: 'a' } }),
        svc('iso/yes', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.92'], selector: { app: 'a' }, annotations: { 'vrfwall.dev/shared': ' TRUE ' } }),
        svc('iso/odd', [{ port: 81, targetPort: 8081 }], { clusterIPs: ['10.96.0.94'], selector: { app: 'a' }, annotations: { 'vrfwall.dev/shared': 'yes' } }),
        svc('kube-system/metrics', [{ port: 443, targetPort: 8443 }], { clusterIPs: ['10.96.0.93'], selector: { app: 'm' }, annotations: { 'vrfwall.dev/shared': 'false' } }),
      ],
    });
    const d = run(s);
    expect(clients(d, d.services, '10.96.0.90', 80)).toEqual(['*']);
    expect(clients(d, d.backends, '10.244.1.90', 8080)).toEqual(['*']);
    expect(clients(d, d.services, '10.96.0.91', 80)).toEqual(['oddns/default-podnetwork']);
    expect(clients(d, d.services, '10.96.0.92', 80)).toEqual(['*']);
    expect(clients(d, d.backends, '10.244.1.92', 8080)).toEqual(['*']);
    expect(clients(d, d.services, '10.96.0.94', 81)).toEqual([ISO]);
    expect(clients(d, d.backends, '10.244.1.92', 8081)).toEqual([]);
    expect(clients(d, d.services, '10.96.0.93', 443)).toEqual([DEFAULT_NETWORK]);
    expect(clients(d, d.backends, '10.244.1.93', 8443)).toEqual([]);
    expect(problems(d)).toEqual(
      expect.arrayContaining([
        'Namespace oddns: annotation opencontrail.org/isolation.service="maybe" is neither "true" nor "false"; its Services are not shared by it',
        'Service iso/odd: annotation vrfwall.dev/shared="yes" is neither "true" nor "false"; not shared',
      ]),
    );
    expect(d.serviceAccess.get('legacy/app')?.why).toBe('namespace legacy annotation opencontrail.org/isolation.service="false"');
    expect(d.serviceAccess.get('iso/odd')?.problems).toEqual({ bad_annotation: 1 });
    expect(d.serviceAccess.get('kube-system/metrics')).toMatchObject({ shared: false, why: 'annotation vrfwall.dev/shared="false"' });
  });

  it('no backends, no entries; a ClusterIP outside the service CIDRs still gets a host-length service range, and a problem', () => {
    const d = run(cluster({ services: [svc('default/odd', [{ port: 80 }], { clusterIPs: ['172.16.0.1'] })] }));
    expect(d.services.size).toBe(0);
    expect(d.cidrs.get('172.16.0.1/32')).toBe(VW_CIDR_SERVICE);
    expect(d.problems.map((p) => p.message)).toContain('ClusterIP 172.16.0.1 is outside the service CIDRs; covered by a host-length service range');
    const inside = run(cluster({ services: [svc('default/ok', [{ port: 80 }], { clusterIPs: ['10.96.0.7'] })] }));
    expect([...inside.cidrs.keys()].sort()).toEqual(['10.244.0.0/16', '10.96.0.0/16', 'fd00:10:244::/48', 'fd00:10:96::/108']);
  });
});

describe('compile: frontends outside the service ranges', () => {
  const unscheduled = (p: PodObject): PodObject => {
    const { nodeName: _none, ...spec } = p.spec;
    return { ...p, spec };
  };
  const webPod = pod('default/web', ['10.244.1.20'], { labels: { app: 'web' } });
  const clients = (d: DesiredState, addr: string, port: number, protocol = 'TCP'): string[] => entryClients(d, d.services, addr, port, protocol);
  const problems = problemTexts;

  it('NodePort, external IPs and load balancer IPs: the ClusterIP’s clients on each, plus the marker', () => {
    const s = cluster({
      namespaces: [isolatedNs('iso')],
      pods: [webPod, pod('iso/app', ['10.244.1.21'], { labels: { app: 'a' } })],
      services: [
        svc('default/web', [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }, { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353, nodePort: 30053 }], {
          type: 'LoadBalancer',
          clusterIPs: ['10.96.0.20'],
          selector: { app: 'web' },
          externalIPs: ['203.0.113.20'],
          loadBalancerIPs: ['198.51.100.20', '2001:db8::20'],
        }),
        svc('iso/app', [{ port: 81, targetPort: 8081, nodePort: 30081 }], { type: 'NodePort', clusterIPs: ['10.96.0.21'], selector: { app: 'a' }, annotations: { 'vrfwall.dev/shared': 'true' } }),
        // no backends: the marker alone (every pod's connection to it is SERVICE_DENIED)
        svc('default/empty', [{ port: 82, nodePort: 30082 }], { type: 'NodePort', clusterIPs: ['10.96.0.22'], externalIPs: ['203.0.113.22'] }),
        // headless Services are not programmed by kube-proxy: no frontends
        svc('default/headless', [{ port: 83 }], { headless: true, externalIPs: ['203.0.113.23'] }),
      ],
    });
    const d = run(s);
    expect(clients(d, '10.96.0.20', 80)).toEqual([DEFAULT_NETWORK]); // no marker in the service ranges
    for (const [addr, port, proto] of [
      ['::', 30080, 'TCP'],
      ['::', 30053, 'UDP'],
      ['203.0.113.20', 80, 'TCP'],
      ['203.0.113.20', 53, 'UDP'],
      ['198.51.100.20', 80, 'TCP'],
      ['2001:db8::20', 53, 'UDP'],
    ] as const) {
      expect([`${addr}:${port}/${proto}`, ...clients(d, addr, port, proto)]).toEqual([`${addr}:${port}/${proto}`, 'FRONTEND', DEFAULT_NETWORK]);
    }
    const marker = d.services.get(`::|30080|TCP|${VW_SVC_FRONTEND_VRF}`);
    expect(marker).toEqual({ addr: '::', port: 30080, protocol: 'TCP', clientVrf: VW_SVC_FRONTEND_VRF, svcVrf: 0, flags: 0 });
    expect(clients(d, '::', 30081)).toEqual(['*', 'FRONTEND']);
    expect(d.services.get(`::|30081|TCP|${VW_SVC_ANY_VRF}`)?.flags).toBe(VW_SVC_SHARED);
    expect(clients(d, '::', 30082)).toEqual(['FRONTEND']);
    expect(clients(d, '203.0.113.22', 82)).toEqual(['FRONTEND']);
    expect(clients(d, '203.0.113.23', 83)).toEqual([]);
    // frontends are not ClusterIPs: no service range for them
    expect([...d.cidrs.keys()].some((c) => c.startsWith('203.0.113.'))).toBe(false);
  });

  it('a hostPort on a tunnel port is reported: portmap would DNAT the overlay traffic other nodes send to the node into that pod', () => {
    const d = run(
      cluster({
        namespaces: [ns('tenant')],
        nodes: { n1: ['192.168.50.1'] },
        pods: [
          pod('tenant/tap', ['10.244.1.40'], { node: 'n1', ports: [{ containerPort: 9999, protocol: 'UDP', hostPort: 8472 }] }),
          pod('tenant/ok', ['10.244.1.41'], { node: 'n1', ports: [{ containerPort: 53, protocol: 'UDP', hostPort: 5353 }] }),
        ],
      }),
    );
    const texts = problems(d);
    expect(texts.filter((t) => t.includes('tunnel port'))).toEqual([
      'Pod tenant/tap: hostPort 8472/UDP is a tunnel port (VXLAN, Geneve): the node’s DNAT would hand this pod the overlay packets other nodes send here, of every network; forbid hostPorts (Pod Security baseline) or this port',
    ]);
  });

  it('hostPorts: the pod’s reachers at each node address (or its hostIP), a quarantined pod the marker alone; host-network pods none', () => {
    const s = cluster({
      namespaces: [isolatedNs('iso'), isolatedNs('ops')],
      nodes: { n1: ['192.168.50.1', 'fd00:50::1'], n2: ['192.168.50.2'], n3: [] },
      pods: [
        pod('iso/hp', ['10.244.1.30'], { node: 'n1', ports: [{ containerPort: 80, protocol: 'TCP', hostPort: 8080 }, { containerPort: 53, protocol: 'UDP', hostPort: 5353, hostIP: '192.168.50.1' }] }),
        pod('iso/bad', ['10.244.2.31'], { node: 'n2', annotations: { 'vrfwall.dev/network': 'iso/nope' }, ports: [{ containerPort: 80, protocol: 'TCP', hostPort: 8081 }] }),
        pod('kube-system/hostnet', ['192.168.50.2'], { node: 'n2', hostNetwork: true, ports: [{ containerPort: 9100, protocol: 'TCP', hostPort: 9100 }] }),
        pod('iso/nowhere', ['10.244.3.32'], { node: 'n3', ports: [{ containerPort: 80, protocol: 'TCP', hostPort: 8082 }] }),
        unscheduled(pod('iso/pending', [], { ports: [{ containerPort: 80, protocol: 'TCP', hostPort: 8083 }] })),
      ],
      routers: [
        router('iso/r', 'mesh', {
          labels: { r: 'iso' },
          select: sel({ 'vrfwall.dev/network': 'iso/default-podnetwork' }),
          imports: [{ virtualNetworkRouterSelector: sel({ r: 'ops' }), namespaceSelector: sel({ 'kubernetes.io/metadata.name': 'ops' }) }],
        }),
        router('ops/r', 'mesh', { labels: { r: 'ops' }, select: sel({ 'vrfwall.dev/network': 'ops/default-podnetwork' }) }),
      ],
    });
    const d = run(s);
    for (const addr of ['192.168.50.1', 'fd00:50::1']) expect(clients(d, addr, 8080)).toEqual(['FRONTEND', 'iso/default-podnetwork', 'ops/default-podnetwork']);
    expect(d.services.get(`192.168.50.1|8080|TCP|${d.allocation.ids['ops/default-podnetwork']}`)?.flags).toBe(VW_SVC_ROUTER);
    expect(clients(d, '192.168.50.1', 5353, 'UDP')).toEqual(['FRONTEND', 'iso/default-podnetwork', 'ops/default-podnetwork']);
    expect(clients(d, 'fd00:50::1', 5353, 'UDP')).toEqual([]);
    expect(clients(d, '192.168.50.2', 8081)).toEqual(['FRONTEND']);
    expect(clients(d, '192.168.50.2', 9100)).toEqual([]);
    expect([...d.services.values()].filter((e) => e.port === 8083)).toEqual([]);
    expect(problems(d)).toContain(
      'Pod iso/nowhere: hostPort 8082/TCP: node n3 has no known address, so a pod\'s connection to it is judged as one to the node',
    );
  });

  it('a frontend inside the pod or service ranges gets nothing and is reported (the externalIPs hijack); a node’s own address may be one', () => {
    const s = cluster({
      nodes: { n1: ['10.244.1.1', '192.168.50.1'] }, // like the lab: a node address inside the pod range
      pods: [webPod, pod('default/other', ['10.244.1.99']), pod('default/hp', ['10.244.1.98'], { ports: [{ containerPort: 80, protocol: 'TCP', hostPort: 8080, hostIP: '10.244.1.97' }] })],
      services: [
        svc('default/web', [{ port: 80, targetPort: 8080 }], {
          clusterIPs: ['10.96.0.20'],
          selector: { app: 'web' },
          externalIPs: ['10.244.1.99', '10.244.1.1', '0.0.0.0'],
          loadBalancerIPs: ['10.96.0.21'],
        }),
      ],
    });
    const d = run(s);
    expect(clients(d, '10.244.1.99', 80)).toEqual([]);
    expect(clients(d, '10.96.0.21', 80)).toEqual([]);
    expect(clients(d, '0.0.0.0', 80)).toEqual([]);
    expect(clients(d, '10.244.1.1', 80)).toEqual(['FRONTEND', DEFAULT_NETWORK]);
    expect(clients(d, '10.244.1.97', 8080)).toEqual([]);
    expect(problems(d)).toEqual(
      expect.arrayContaining([
        "Service default/web: externalIP 10.244.1.99 is inside the cluster's pod ranges (kube-proxy would capture traffic to that pod address): it gets no entries, and pods reach nothing through it",
        'Service default/web: externalIP 0.0.0.0 is the unspecified address: it gets no entries, and pods reach nothing through it',
        "Service default/web: load balancer IP 10.96.0.21 is inside the cluster's service ranges (kube-proxy would capture traffic to that Service address): it gets no entries, and pods reach nothing through it",
        "Pod default/hp: hostPort 8080/TCP: hostIP 10.244.1.97 is inside the cluster's pod ranges (kube-proxy would capture traffic to that pod address): no entries",
      ]),
    );
    expect(d.serviceAccess.get('default/web')?.problems).toEqual({ frontend_rejected: 3 });
  });

  it('two owners of one frontend: only the networks both allow, reported on both; a node address on a NodePort’s port too', () => {
    const s = cluster({
      namespaces: [isolatedNs('iso')],
      nodes: { n1: ['192.168.50.1'] },
      pods: [
        webPod,
        pod('iso/app', ['10.244.1.21'], { labels: { app: 'a' } }),
        pod('iso/hp', ['10.244.1.22'], { ports: [{ containerPort: 80, protocol: 'TCP', hostPort: 30090 }] }),
      ],
      services: [
        svc('default/web', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.20'], selector: { app: 'web' }, externalIPs: ['203.0.113.50'] }),
        svc('iso/app', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.21'], selector: { app: 'a' }, externalIPs: ['203.0.113.50'] }),
        svc('iso/shared', [{ port: 80, targetPort: 8080 }], {
          clusterIPs: ['10.96.0.20'], // a ClusterIP written twice
          selector: { app: 'a' },
          annotations: { 'vrfwall.dev/shared': 'true' },
        }),
        svc('default/np', [{ port: 90, targetPort: 8080, nodePort: 30090 }], { type: 'NodePort', clusterIPs: ['10.96.0.23'], selector: { app: 'web' } }),
      ],
    });
    const d = run(s);
    // default network ∩ iso network: nobody, but still a frontend
    expect(clients(d, '203.0.113.50', 80)).toEqual(['FRONTEND']);
    // ANY ∩ default network
    expect(clients(d, '10.96.0.20', 80)).toEqual([DEFAULT_NETWORK]);
    // iso/hp's hostPort on the node address is also default/np's NodePort there: iso ∩ default
    expect(clients(d, '192.168.50.1', 30090)).toEqual(['FRONTEND']);
    expect(clients(d, '::', 30090)).toEqual(['FRONTEND', DEFAULT_NETWORK]);
    expect(problems(d)).toEqual(
      expect.arrayContaining([
        'Service default/web: frontend 203.0.113.50:80/TCP is also claimed by Service iso/app: only the networks all of them allow may use it',
        'Service iso/app: frontend 203.0.113.50:80/TCP is also claimed by Service default/web: only the networks all of them allow may use it',
        'Service iso/shared: ClusterIP 10.96.0.20:80/TCP is also claimed by Service default/web: only the networks all of them allow may use it',
        'Pod iso/hp: frontend 192.168.50.1:30090/TCP is also a NodePort of Service default/np: only the networks both allow may use it',
      ]),
    );
    expect(d.serviceAccess.get('default/web')?.problems).toEqual({ frontend_conflict: 2 });
  });
});
