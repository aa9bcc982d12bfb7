// The web UI's pure parts: the graph built from ListNetworks + ListEndpoints
// answers, and URL filters turned into a GetFlows request by the CLI's rules.
import { describe, expect, it } from 'vitest';
import type { EndpointInfoMsg, NetworkMsg } from '../src/api/messages.js';
import { buildGraph, isIsolatedNetwork, serviceNetworks } from '../src/relay/ui/graph.js';
import { DEFAULT_LAST, QueryError, uiFlowsRequest } from '../src/relay/ui/query.js';
import { fetchSiteAllowed, hostAllowed } from '../src/relay/ui/server.js';

const net = (name: string, pods: string[], reaches: string[] = []): NetworkMsg => ({ name, vrfId: 1, externalDeny: false, enforcement: 'enforce', pods, reaches });
const ep = (e: Partial<EndpointInfoMsg>): EndpointInfoMsg => ({ ip: '', kind: 'pod', namespace: '', pod: '', network: '', node: '', local: false, ifindex: 0, quarantined: false, reason: '', service: '', interface: '', ...e });

describe('web UI graph', () => {
  const networks = [
    net('default/default-podnetwork', ['default/pod4', 'ns3/pod3'], ['team/blue']),
    net('default/vn1', ['default/pod4@eth1']),
    net('iso/default-podnetwork', ['iso/pod1']),
    net('team/blue', ['team/b1'], ['default/default-podnetwork']),
  ];
  const endpoints = [
    ep({ kind: 'pod', namespace: 'ns3', pod: 'pod3', quarantined: true, reason: 'quarantined by label' }),
    ep({ kind: 'pod', namespace: 'iso', pod: 'pod1' }),
    ep({ kind: 'service', ip: '10.96.0.1', service: 'default/kubernetes', reason: 'Service virtual IP, shared; used by every network' }),
    ep({ kind: 'service', ip: '10.96.0.3', service: 'iso/web', reason: 'Service virtual IP, not shared; used by iso/default-podnetwork; backend pods in iso/default-podnetwork' }),
    ep({ kind: 'service', ip: '10.96.0.9', service: 'x/odd', reason: 'Service virtual IP' }),
  ];
  const g = buildGraph(networks, endpoints);
  const node = (id: string) => g.nodes.find((n) => n.id === id);
  const edges = (id: string) => g.edges.filter((e) => e.source === id || e.target === id).map((e) => (e.source === id ? e.target : e.source)).sort();

  it('networks, pods and secondary interfaces; an isolated namespace and a quarantined pod stand out', () => {
    expect(g.nodes.filter((n) => n.kind === 'network').map((n) => n.id)).toEqual(['net:default/default-podnetwork', 'net:default/vn1', 'net:iso/default-podnetwork', 'net:team/blue']);
    expect(node('net:iso/default-podnetwork')?.isolated).toBe(true);
    expect(node('net:default/default-podnetwork')?.isolated).toBe(false);
    expect(node('net:team/blue')?.isolated).toBe(false);
    expect(node('pod:ns3/pod3')).toMatchObject({ quarantined: true, detail: 'quarantined by label' });
    expect(node('pod:iso/pod1')?.quarantined).toBeUndefined();
    expect(edges('pod:default/pod4@eth1')).toEqual(['net:default/vn1']);
    expect(isIsolatedNetwork('default/default-podnetwork')).toBe(false);
  });

  it('one router per joined pair (listed on both sides), Services on the networks they answer', () => {
    const routers = g.nodes.filter((n) => n.kind === 'router');
    expect(routers.map((r) => r.id)).toEqual(['router:default/default-podnetwork|team/blue']);
    expect(edges(routers[0]!.id)).toEqual(['net:default/default-podnetwork', 'net:team/blue']);
    expect(edges('svc:default/kubernetes')).toEqual(networks.map((n) => `net:${n.name}`).sort());
    expect(edges('svc:iso/web')).toEqual(['net:iso/default-podnetwork']);
    // a description naming no network: drawn, unattached, never guessed onto one
    expect(node('svc:x/odd')).toBeDefined();
    expect(edges('svc:x/odd')).toEqual([]);
    expect(serviceNetworks('used by a/b, nowhere/x', ['a/b'])).toEqual(['a/b']);
  });
});

describe('web UI flow filters', () => {
  it('the CLI flags as URL parameters, comma lists and repeats', () => {
    const r = uiFlowsRequest(new URLSearchParams('namespace=a,b&verdict=dropped&reason=isolated&port=53&exclude=protocol=icmpv6&follow=1'));
    expect(r.allow).toHaveLength(1);
    expect(r.allow[0]).toMatchObject({ namespace: ['a', 'b'], verdict: ['VERDICT_DROPPED'], dropReason: ['ISOLATED'], port: [53] });
    expect(r.deny).toEqual([{ protocol: ['icmpv6'] }]);
    expect(r).toMatchObject({ follow: true, last: DEFAULT_LAST });
    expect(uiFlowsRequest(new URLSearchParams('last=5'))).toMatchObject({ allow: [], deny: [], last: 5, follow: false });
  });

  it('a bad filter is a QueryError naming it', () => {
    const bad = (q: string) => () => uiFlowsRequest(new URLSearchParams(q));
    expect(bad('verdict=sometimes')).toThrow(QueryError);
    expect(bad('verdict=sometimes')).toThrow(/"sometimes": one of allowed, dropped/);
    expect(bad('port=http')).toThrow(/"http" is not a port/);
    expect(bad('colour=red')).toThrow(/unknown filter "colour"/);
    expect(bad('last=-1')).toThrow(/last "-1": a whole number/);
    expect(bad('exclude=nonsense')).toThrow(/use field=value/);
  });
});

describe('web UI Host check (DNS rebinding)', () => {
  it('IP addresses and localhost, with or without a port; names are refused', () => {
    for (const h of ['127.0.0.1:9446', 'localhost:9446', '[::1]:9446', '10.244.1.1', 'localhost']) expect(hostAllowed(h), h).toBe(true);
    for (const h of ['evil.example:9446', 'vrfwall-relay', '', undefined]) expect(hostAllowed(h), String(h)).toBe(false);
    // Another site's page may not drive the API (an <img> at the port-forward); the UI's own page and curl may.
    for (const s of ['same-origin', 'none', undefined]) expect(fetchSiteAllowed(s), String(s)).toBe(true);
    for (const s of ['cross-site', 'same-site']) expect(fetchSiteAllowed(s), s).toBe(false);
  });
});
