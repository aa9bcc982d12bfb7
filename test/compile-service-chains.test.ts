// Red-team findings on the compile step (design section 3 rule 3: "a ClusterIP
// never opens a path that addressing the pods directly would not").
//
// A backend that is not a pod is not checked where it is reached: the
// receiver's to-pod hook sees the node (kube-proxy's or the CNI's SNAT) or
// nothing at all (an outside address). A ClusterIP that leads there must
// therefore answer only networks that may reach that backend directly:
//   - a node address on a port that is itself a frontend (another Service's
//     NodePort, a pod's hostPort) or an externalIP / load balancer IP: the
//     next node DNATs again (and masquerades) to a pod the client may not
//     reach; judged here like the frontend would be: fail closed, nobody;
//   - an outside address: networks that may not go outside may not use the
//     ClusterIP, even when another of its backends is their own pod (the
//     ClusterIP's clients are a union over backends, and kube-proxy picks
//     any backend for any of them).
import { describe, expect, it } from 'vitest';
import { compile } from '../src/model/compile.js';
import { DEFAULT_NETWORK, type ClusterConfig, type ClusterState, type DesiredState } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { cluster, entryClients, isolatedNs, pod, problemTexts, slice, svc } from './helpers/cluster.js';

const config: ClusterConfig = {
  nodeName: 'n1',
  podCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
  serviceCIDRs: ['10.96.0.0/16', 'fd00:10:96::/108'],
};
const run = (s: ClusterState): DesiredState => compile(s, config, new Map(), emptyAllocation());
const ISO = 'iso/default-podnetwork';
const CLOSED = 'closed/default-podnetwork';

/** "network name or * or FRONTEND" per entry of addr:port/protocol in the services map. */
const clients = (d: DesiredState, addr: string, port: number, protocol = 'TCP'): string[] => entryClients(d, d.services, addr, port, protocol);
const problems = problemTexts;

/** A hand-written slice for Service `service` (port "" -> targets' ports). */
const handSlice = (key: string, service: string, targets: { ip: string; port: number }[]) =>
  targets.map((t, i) =>
    slice(`${key}-${i}`, service, t.ip.includes(':') ? 'IPv6' : 'IPv4', [{ addresses: [t.ip], ready: true }], [{ name: '', port: t.port, protocol: 'TCP' }]),
  );

describe('compile: a ClusterIP that leads to a backend nobody checks on arrival', () => {
  const NODE2 = '192.168.50.2';
  const base = {
    namespaces: [isolatedNs('iso')],
    nodes: { n1: ['192.168.50.1'], n2: [NODE2] },
    pods: [
      // iso's secret, published as a NodePort of its own Service, a hostPort, and an externalIP
      pod('iso/secret', ['10.244.2.66'], { node: 'n2', labels: { app: 'secret' }, ports: [{ containerPort: 80, protocol: 'TCP', hostPort: 8088 }] }),
      pod('default/attacker', ['10.244.1.10'], { node: 'n1', labels: { app: 'attacker' } }),
    ],
    services: [
      svc('iso/secret', [{ port: 80, targetPort: 80, nodePort: 30080 }], {
        type: 'NodePort',
        clusterIPs: ['10.96.0.66'],
        selector: { app: 'secret' },
        externalIPs: ['203.0.113.66'],
      }),
      // The attacker's selector-less Services in its own (ordinary) namespace.
      svc('default/hop-nodeport', [{ port: 80 }], { clusterIPs: ['10.96.1.1'] }),
      svc('default/hop-hostport', [{ port: 80 }], { clusterIPs: ['10.96.1.2'] }),
      svc('default/hop-external', [{ port: 80 }], { clusterIPs: ['10.96.1.3'] }),
      svc('default/hop-mixed', [{ port: 80 }], { clusterIPs: ['10.96.1.4'] }),
      svc('default/hop-shared', [{ port: 80 }], { clusterIPs: ['10.96.1.5'], annotations: { 'vrfwall.dev/shared': 'true' } }),
      // Positive control: a node address on a port that is no frontend is the node (rule 6).
      svc('default/node-plain', [{ port: 80 }], { clusterIPs: ['10.96.1.6'] }),
    ],
    endpointSlices: [
      ...handSlice('default/hop-nodeport', 'hop-nodeport', [{ ip: NODE2, port: 30080 }]),
      ...handSlice('default/hop-hostport', 'hop-hostport', [{ ip: NODE2, port: 8088 }]),
      ...handSlice('default/hop-external', 'hop-external', [{ ip: '203.0.113.66', port: 80 }]),
      ...handSlice('default/hop-mixed', 'hop-mixed', [
        { ip: '10.244.1.10', port: 80 },
        { ip: NODE2, port: 30080 },
      ]),
      ...handSlice('default/hop-shared', 'hop-shared', [{ ip: NODE2, port: 30080 }]),
      ...handSlice('default/node-plain', 'node-plain', [{ ip: NODE2, port: 9100 }]),
    ],
  };

  it('a node address on a NodePort or hostPort, or an externalIP, as backend: nobody may use the ClusterIP (reported)', () => {
    const d = run(cluster(base));
    // Positive controls: the frontends themselves answer iso only; a plain node port answers everyone.
    expect(clients(d, '::', 30080)).toEqual(['FRONTEND', ISO]);
    expect(clients(d, NODE2, 8088)).toEqual(['FRONTEND', ISO]);
    expect(clients(d, '203.0.113.66', 80)).toEqual(['FRONTEND', ISO]);
    expect(clients(d, '10.96.1.6', 80)).toEqual(['*']);
    // The attacks: each ClusterIP leads (kube-proxy DNAT, then the next
    // node's DNAT and masquerade) to iso/secret, seen there as from the node.
    expect({
      nodeport: clients(d, '10.96.1.1', 80),
      hostport: clients(d, '10.96.1.2', 80),
      external: clients(d, '10.96.1.3', 80),
      mixed: clients(d, '10.96.1.4', 80),
      shared: clients(d, '10.96.1.5', 80),
    }).toEqual({ nodeport: [], hostport: [], external: [], mixed: [], shared: [] });
    expect(problems(d)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Service default\/hop-nodeport: endpoints 192\.168\.50\.2:30080 are Service frontends/),
        expect.stringMatching(/^Service default\/hop-external: endpoints 203\.0\.113\.66:80 are Service frontends/),
      ]),
    );
    expect(d.serviceAccess.get('default/hop-mixed')?.problems).toMatchObject({ frontend_backend: 1 });
  });

  it('an outside backend keeps networks that may not go outside off the ClusterIP, even next to their own pod', () => {
    const d = run(
      cluster({
        namespaces: [isolatedNs('closed', { labels: { 'vrfwall.dev/external': 'deny' } })],
        pods: [pod('closed/app', ['10.244.1.70'], { labels: { app: 'a' } })],
        services: [
          svc('closed/exfil', [{ port: 80 }], { clusterIPs: ['10.96.2.1'] }),
          svc('closed/own', [{ port: 80 }], { clusterIPs: ['10.96.2.2'] }),
        ],
        endpointSlices: [
          ...handSlice('closed/exfil', 'exfil', [
            { ip: '10.244.1.70', port: 80 },
            { ip: '203.0.113.9', port: 443 },
          ]),
          ...handSlice('closed/own', 'own', [{ ip: '10.244.1.70', port: 80 }]),
        ],
      }),
    );
    // Positive control: closed uses its own Service.
    expect(clients(d, '10.96.2.2', 80)).toEqual([CLOSED]);
    // The attack: through exfil's ClusterIP, kube-proxy sends closed's pods to 203.0.113.9.
    expect(clients(d, '10.96.2.1', 80)).not.toContain(CLOSED);
    expect(clients(d, '10.96.2.1', 80)).toEqual([DEFAULT_NETWORK]);
  });
});
