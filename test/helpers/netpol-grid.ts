// The pod grid of the upstream Kubernetes network-policy conformance tests
// (test/e2e/network/netpol): namespaces x, y, z (label ns=<name>), pods a, b, c
// in each (label pod=<name>), every pod serving TCP, UDP and SCTP on 80 and 81
// with the upstream port names ("serve-80-tcp", ...). As lab manifests, and as
// the oracle's input (netpol-oracle.ts).
import type { OracleNamespace, OraclePod } from './netpol-oracle.js';
import type { PortProbe, PortProtocol } from '../../src/lab/protocol.js';

export const GRID_NAMESPACES = ['x', 'y', 'z'] as const;
export const GRID_PODS = ['a', 'b', 'c'] as const;
export const GRID_PORTS = [80, 81] as const;
export const GRID_PROTOCOLS: readonly PortProtocol[] = ['TCP', 'UDP', 'SCTP'];

/** What every case probes on every pod: TCP/UDP/SCTP 80 and 81. */
export const GRID_PROBES: PortProbe[] = GRID_PROTOCOLS.flatMap((protocol) => GRID_PORTS.map((port) => ({ protocol, port })));

export const portName = (port: number, protocol: PortProtocol): string => `serve-${port}-${protocol.toLowerCase()}`;

/** "x/a", ... in key order (the lab's row order). */
export const GRID_KEYS: string[] = GRID_NAMESPACES.flatMap((ns) => GRID_PODS.map((p) => `${ns}/${p}`));

export interface GridOptions {
  /** extra labels per namespace (e.g. isolation) */
  namespaceLabels?: Partial<Record<string, Record<string, string>>>;
}

/** The grid's Namespaces and Pods as one YAML stream (ports: one container per port, as upstream). */
export function gridManifests(opts: GridOptions = {}): string {
  const docs: string[] = [];
  for (const ns of GRID_NAMESPACES) {
    const labels = { ns, ...(opts.namespaceLabels?.[ns] ?? {}) };
    docs.push(`apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
  labels:
${Object.entries(labels).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join('\n')}
`);
    for (const pod of GRID_PODS) {
      const containers = GRID_PORTS.map(
        (port) => `  - name: cont-${port}
    image: registry.k8s.io/e2e-test-images/agnhost:2.47
    ports:
${GRID_PROTOCOLS.map((proto) => `    - {name: ${portName(port, proto)}, containerPort: ${port}, protocol: ${proto}}`).join('\n')}`,
      ).join('\n');
      docs.push(`apiVersion: v1
kind: Pod
metadata:
  name: ${pod}
  namespace: ${ns}
  labels:
    pod: ${pod}
spec:
  containers:
${containers}
`);
    }
  }
  return docs.join('---\n');
}

/** The grid as the oracle sees it; addresses from the running lab. */
export function gridForOracle(
  ips: (key: string) => { v4: string; v6: string },
  opts: GridOptions = {},
): { namespaces: OracleNamespace[]; pods: OraclePod[] } {
  return {
    namespaces: GRID_NAMESPACES.map((ns) => ({ name: ns, labels: { ns, ...(opts.namespaceLabels?.[ns] ?? {}) } })),
    pods: GRID_KEYS.map((key) => {
      const [namespace, name] = key.split('/') as [string, string];
      return {
        namespace,
        name,
        labels: { pod: name },
        ips: ips(key),
        ports: GRID_PORTS.flatMap((port) => GRID_PROTOCOLS.map((protocol) => ({ name: portName(port, protocol), port, protocol }))),
      };
    }),
  };
}
