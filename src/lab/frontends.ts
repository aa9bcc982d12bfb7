// The lab's Service frontends besides the ClusterIP (pure): what kube-proxy
// programs for NodePorts, externalIPs and LoadBalancer ingress IPs, and what
// the portmap CNI plugin programs for a container's hostPort.
//
// - NodePort (and the nodePorts of LoadBalancer Services): on every node,
//   <any local address>:nodePort/protocol -> a backend, per family of the
//   Service's ClusterIPs (kube-proxy runs one proxier per family), and the
//   connection is masqueraded to the node, as kube-proxy does with
//   externalTrafficPolicy: Cluster (the lab models only that policy).
// - externalIPs and LoadBalancer IPs: <ip>:port/protocol -> a backend on
//   every node, masqueraded too (kube-proxy's "external destinations").
// - hostPort: on the pod's node only, <any local address, or hostIP>:hostPort
//   /protocol -> pod:containerPort, per family of the pod's addresses;
//   masqueraded only when the pod reaches itself (hairpin), as portmap does.
//   Host-network pods need none (their ports are the node's).
// Two Services claiming one nodePort/protocol, or two pods on one node one
// hostPort/protocol/address, would be refused by the API server or the
// scheduler; the lab programs the first (in "ns/name" order) and reports the
// other.
import type { ServiceBackend, ServiceEndpoints } from '../model/services.js';
import { ipFamily, type DnatTarget } from './dnat.js';
import type { ClusterState, L4Protocol, SourceProblem } from '../model/types.js';
import { compareText } from '../util/order.js';

export interface NodePortTarget {
  /** "ns/name" */
  service: string;
  /** the Service port (on the ClusterIP) */
  port: number;
  nodePort: number;
  protocol: L4Protocol;
  family: 4 | 6;
  /** same family; may be empty (no rule then) */
  backends: ServiceBackend[];
}

export interface HostPortTarget {
  /** "ns/name" */
  pod: string;
  node: string;
  protocol: L4Protocol;
  hostPort: number;
  /** absent: every address of the node (of the family) */
  hostIP?: string;
  family: 4 | 6;
  /** the pod's address of that family */
  ip: string;
  containerPort: number;
}

export interface LabFrontends {
  nodePorts: NodePortTarget[];
  /** externalIPs and LoadBalancer IPs, DNATed like a ClusterIP (vip = that address) */
  external: DnatTarget[];
  hostPorts: HostPortTarget[];
  problems: SourceProblem[];
}

const hasNodePorts = (type: string) => type === 'NodePort' || type === 'LoadBalancer';

/** Every frontend of the cluster; `services` is serviceEndpoints(state).services. */
export function labFrontends(state: Pick<ClusterState, 'services' | 'pods'>, services: readonly ServiceEndpoints[]): LabFrontends {
  const problems: SourceProblem[] = [];
  const nodePorts: NodePortTarget[] = [];
  const external: DnatTarget[] = [];
  const usedNodePorts = new Map<string, string>();
  for (const se of services) {
    const svc = state.services.get(se.key);
    if (svc === undefined) continue;
    const families = [...new Set(se.vips.map(ipFamily))];
    for (const p of se.ports) {
      const declared = svc.spec.ports.find((x) => x.port === p.port && x.protocol === p.protocol);
      const ofFamily = (f: 4 | 6) => p.backends.filter((b) => ipFamily(b.ip) === f);
      if (hasNodePorts(svc.spec.type) && declared?.nodePort !== undefined && families.length > 0) {
        const slot = `${declared.nodePort}/${p.protocol}`;
        const owner = usedNodePorts.get(slot);
        if (owner !== undefined) {
          problems.push({ source: `Service ${se.key}`, message: `nodePort ${slot} is already ${owner}'s; not programmed` });
        } else {
          usedNodePorts.set(slot, se.key);
          for (const family of families) {
            nodePorts.push({ service: se.key, port: p.port, nodePort: declared.nodePort, protocol: p.protocol, family, backends: ofFamily(family) });
          }
        }
      }
      if (se.vips.length === 0) continue; // headless: kube-proxy programs nothing for it
      for (const vip of [...new Set([...svc.spec.externalIPs, ...svc.spec.loadBalancerIPs])]) {
        const family = ipFamily(vip);
        if (!families.includes(family)) continue; // no proxier of that family serves the Service
        external.push({ service: se.key, vip, family, protocol: p.protocol, port: p.port, backends: ofFamily(family) });
      }
    }
  }
  return { nodePorts, external, hostPorts: hostPortTargets(state, problems), problems };
}

function hostPortTargets(state: Pick<ClusterState, 'pods'>, problems: SourceProblem[]): HostPortTarget[] {
  const out: HostPortTarget[] = [];
  const used = new Map<string, string>();
  const pods = [...state.pods.values()].sort((a, b) => compareText(keyOf(a), keyOf(b)));
  for (const pod of pods) {
    const node = pod.spec.nodeName;
    if (pod.spec.hostNetwork || node === undefined) continue;
    for (const c of pod.spec.ports) {
      if (c.hostPort === undefined) continue;
      for (const ip of pod.status.podIPs) {
        const family = ipFamily(ip);
        if (c.hostIP !== undefined && ipFamily(c.hostIP) !== family) continue;
        // A wildcard and a specific address of one family collide, as bind() would.
        const mine = `${node}|${family}|${c.hostPort}/${c.protocol}`;
        const clash = [`${mine}|*`, ...(c.hostIP === undefined ? [...used.keys()].filter((k) => k.startsWith(`${mine}|`)) : [`${mine}|${c.hostIP}`])]
          .map((k) => used.get(k))
          .find((owner) => owner !== undefined);
        if (clash !== undefined) {
          problems.push({ source: `Pod ${keyOf(pod)}`, message: `hostPort ${c.hostPort}/${c.protocol} on ${node} is already ${clash}'s; not programmed` });
          continue;
        }
        used.set(`${mine}|${c.hostIP ?? '*'}`, keyOf(pod));
        out.push({
          pod: keyOf(pod),
          node,
          protocol: c.protocol,
          hostPort: c.hostPort,
          ...(c.hostIP !== undefined ? { hostIP: c.hostIP } : {}),
          family,
          ip,
          containerPort: c.containerPort,
        });
      }
    }
  }
  return out;
}

function keyOf(o: { metadata: { namespace: string; name: string } }): string {
  return `${o.metadata.namespace}/${o.metadata.name}`;
}

