// The issue-11 lab scenario, with agents, on 1 and 2 nodes: Services in every
// kind of namespace and network (isolated namespace, ordinary namespace, a
// custom network in an ordinary namespace, a legacy Contrail namespace whose
// Services are shared, a Service shared by annotation, selector-less Services
// whose hand-written EndpointSlices name a pod of the isolated namespace,
// NodePort and LoadBalancer Services, externalIPs, hostPorts; plus the lab's
// kube-dns and kubernetes, which are shared). The WHOLE matrix (pods over
// ICMP/TCP/UDP, Services on every ClusterIP, externalIP and LoadBalancer IP,
// every NodePort on every node address, every hostPort, DNS; IPv4 and IPv6)
// must be what design section 3 says. The expectation is computed from the
// rules (see `expect*` below), not written out by hand: a Service has no
// network of its own; a shared Service is usable from every network and
// opens its own-namespace backends on their target ports (rules 3, 4);
// every other Service answers only the networks that may reach its backends
// under rules 1 and 2; a pod of another namespace gains nothing from a
// Service; a NodePort, externalIP or LoadBalancer IP is judged like the
// ClusterIP, a hostPort like its pod.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { dnsPodSpec } from '../src/lab/builtin.js';
import { labDown, labMatrix, labUp } from '../src/lab/lab.js';
import { readLabManifests } from '../src/lab/manifests.js';
import { servicesFile } from '../src/lab/names.js';
import { planLab } from '../src/lab/plan.js';
import type { LabPlan, PlannedPod } from '../src/lab/plan.js';
import { CELL_FIELDS } from '../src/lab/protocol.js';
import type { Matrix, MatrixCell } from '../src/lab/protocol.js';
import type { LabHostPort, LabService, LabServiceBackend, LabServicePort, LabServicesFile } from '../src/lab/services.js';
import { ensureBuilt } from './helpers/build.js';

// ---- the scenario --------------------------------------------------------------

const DEFAULT_NETWORK = 'default/default-podnetwork';
const SHARED = { 'vrfwall.dev/shared': 'true' };

interface NsSpec {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** iso: isolated; leg: isolated the legacy Contrail way, with shared Services; ord, cust: ordinary. */
const NAMESPACES: Record<string, NsSpec> = {
  iso: { labels: { 'vrfwall.dev/isolated': 'true' } },
  leg: { annotations: { 'opencontrail.org/isolation': 'true', 'opencontrail.org/isolation.service': 'false' } },
  ord: {},
  cust: {},
};

interface PodSpec {
  key: string;
  labels?: Record<string, string>;
  /** vrfwall.dev/network */
  network?: string;
  ports?: { containerPort: number; protocol?: string; hostPort?: number }[];
}

/** Every pod listens on 8080 (TCP and UDP): the lab's default, and every Service's target port. */
const PODS: PodSpec[] = [
  { key: 'iso/a', labels: { app: 'a' }, ports: [{ containerPort: 8080, hostPort: 8081 }] },
  { key: 'iso/b' },
  { key: 'ord/web', labels: { app: 'web' }, ports: [{ containerPort: 8080, hostPort: 8082 }] },
  { key: 'ord/client' },
  { key: 'ord/sh', labels: { app: 'sh' } },
  { key: 'cust/blue1', labels: { app: 'blue' }, network: 'cust/blue' },
  { key: 'cust/blue2', network: 'cust/blue' },
  { key: 'cust/plain' },
  { key: 'leg/l1', labels: { app: 'l' } },
];

const tcp = (port: number, name = 'http') => ({ name, port, protocol: 'TCP', targetPort: 8080 });
const udp = (port: number, name = 'udp') => ({ name, port, protocol: 'UDP', targetPort: 8080 });

interface SvcSpec {
  key: string;
  annotations?: Record<string, string>;
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
  /** selector-less: EndpointSlices naming these pods (of any namespace) on 8080/TCP, port name http */
  endpoints?: string[];
}

const SERVICES: SvcSpec[] = [
  // The isolated namespace: its own Service, and the NodePort.
  { key: 'iso/web', spec: { selector: { app: 'a' }, ports: [tcp(80)] } },
  { key: 'iso/np', spec: { type: 'NodePort', selector: { app: 'a' }, ports: [tcp(80), udp(81)] } },
  // An ordinary namespace: a NodePort Service with externalIPs (hostPort on its pod too).
  { key: 'ord/web', spec: { type: 'NodePort', selector: { app: 'web' }, externalIPs: ['192.0.2.10', '2001:db8::10'], ports: [tcp(80), udp(80)] } },
  // Shared by annotation: usable from every network, its backend open on 8080 from every network.
  { key: 'ord/shared', annotations: SHARED, spec: { selector: { app: 'sh' }, ports: [tcp(80), udp(80)] } },
  // Selector-less, with hand-written EndpointSlices naming the isolated pod iso/a.
  { key: 'ord/steal', spec: { ports: [{ name: 'http', port: 80 }] }, endpoints: ['iso/a'] },
  { key: 'ord/stealshared', annotations: SHARED, spec: { ports: [{ name: 'http', port: 80 }] }, endpoints: ['iso/a'] },
  // A custom network in an ordinary namespace, behind a LoadBalancer (nodePort and LoadBalancer IP).
  {
    key: 'cust/blue',
    spec: { type: 'LoadBalancer', selector: { app: 'blue' }, ports: [tcp(80)] },
    status: { loadBalancer: { ingress: [{ ip: '198.51.100.20' }] } },
  },
  // A legacy Contrail isolated namespace with isolation.service "false": its Services are shared.
  { key: 'leg/svc', spec: { selector: { app: 'l' }, ports: [tcp(80)] } },
];

const split = (key: string) => key.split('/') as [string, string];

function documents(plan?: LabPlan): object[] {
  const docs: object[] = [];
  for (const [name, ns] of Object.entries(NAMESPACES)) {
    docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: ns.labels ?? {}, annotations: ns.annotations ?? {} } });
  }
  docs.push({ apiVersion: 'vrfwall.dev/v1alpha1', kind: 'VirtualNetwork', metadata: { name: 'blue', namespace: 'cust' }, spec: {} });
  for (const p of PODS) {
    const [namespace, name] = split(p.key);
    docs.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, labels: p.labels ?? {}, annotations: p.network ? { 'vrfwall.dev/network': p.network } : {} },
      spec: { containers: [{ name: 'c', image: 'x', ...(p.ports ? { ports: p.ports } : {}) }] },
    });
  }
  for (const s of SERVICES) {
    const [namespace, name] = split(s.key);
    docs.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace, annotations: s.annotations ?? {} },
      spec: s.spec,
      ...(s.status ? { status: s.status } : {}),
    });
    if (!s.endpoints || !plan) continue;
    for (const family of ['IPv4', 'IPv6'] as const) {
      docs.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `${name}-${family.toLowerCase()}`, namespace, labels: { 'kubernetes.io/service-name': name } },
        addressType: family,
        endpoints: s.endpoints.map((key) => {
          const pod = plan.pods.find((p) => p.key === key) as PlannedPod;
          const [podNs, podName] = split(key);
          return { addresses: [family === 'IPv4' ? pod.ips.v4 : pod.ips.v6], targetRef: { kind: 'Pod', namespace: podNs, name: podName } };
        }),
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      });
    }
  }
  return docs;
}

/** Writes the scenario; the EndpointSlices need the pods' addresses, which the lab plans from the pods alone. */
function writeScenario(dir: string, lab: string, nodes: number): void {
  const file = path.join(dir, 'scenario.yaml');
  fs.writeFileSync(file, documents().map((d) => stringify(d)).join('---\n'));
  const pods = [...readLabManifests(dir).pods, dnsPodSpec()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const plan = planLab(lab, nodes, pods);
  fs.writeFileSync(file, documents(plan).map((d) => stringify(d)).join('---\n'));
}

// ---- the rules (design section 3), as functions -----------------------------

/** A cell the contract does not decide (see viaService); never checked. */
type Verdict = boolean | 'either';

const nsOf = (key: string) => split(key)[0];
const isPod = (name: string) => PODS.some((p) => p.key === name) || name === dnsPodSpec().key;

/** Section 2: annotation, else the isolated namespace's network, else the default network. */
function networkOf(pod: string): string {
  const spec = PODS.find((p) => p.key === pod);
  if (spec?.network) return spec.network;
  const ns = NAMESPACES[nsOf(pod)];
  const isolated = ns?.labels?.['vrfwall.dev/isolated'] === 'true' || ns?.annotations?.['opencontrail.org/isolation'] === 'true';
  return isolated ? `${nsOf(pod)}/default-podnetwork` : DEFAULT_NETWORK;
}

/** Rules 1 and 2 (this scenario has no routers). */
const mayReach = (a: string, b: string): boolean => networkOf(a) === networkOf(b);

/** Shared: kube-system, default/kubernetes, annotated shared, or of a namespace with isolation.service "false". */
function isShared(svc: string): boolean {
  if (nsOf(svc) === 'kube-system' || svc === 'default/kubernetes') return true;
  if (SERVICES.find((s) => s.key === svc)?.annotations?.['vrfwall.dev/shared'] === 'true') return true;
  return NAMESPACES[nsOf(svc)]?.annotations?.['opencontrail.org/isolation.service'] === 'false';
}

/** May `client`'s connection to Service `svc` that kube-proxy sends to backend `b` pass? */
function viaService(client: string, svc: LabService, b: LabServiceBackend): Verdict {
  if (!isPod(b.name)) return true; // the API server on node1: not a pod (rule 6)
  if (nsOf(b.name) !== svc.namespace) {
    // A pod of another namespace gains nothing from the Service, shared or not: rules 1 and 2
    // only. Whether a client that may reach that pod anyway may use a non-shared Service that
    // speaks for no pod of its own namespace the contract does not decide; both keep isolation.
    if (isShared(svc.key)) return mayReach(client, b.name);
    return mayReach(client, b.name) ? 'either' : false;
  }
  // Rules 3 and 4: a shared Service opens its own namespace's backends to every network;
  // every other Service answers the networks that may reach its backends (rules 1 and 2).
  return isShared(svc.key) || mayReach(client, b.name);
}

const familyOf = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4);

/** The probe of one Service port on one address (ClusterIP, externalIP, LB IP, NodePort) of a family. */
function expectService(client: string, svc: LabService, port: LabServicePort, family: 4 | 6): Verdict {
  const verdicts = new Set(port.backends.filter((b) => familyOf(b.ip) === family).map((b) => viaService(client, svc, b)));
  if (verdicts.size === 0) return false; // nothing behind it
  if (verdicts.has(true) && verdicts.has(false)) {
    throw new Error(`scenario: ${client} -> ${svc.key}:${port.port} depends on the backend chosen; keep each Service's backends in one network`);
  }
  return verdicts.has('either') ? 'either' : verdicts.has(true);
}

/** Rule 4: `pod` is an own-namespace backend of a shared Service on port/protocol (of that family). */
function sharedBackendPort(pod: PlannedPod, port: number, protocol: string, family: 4 | 6, services: LabServicesFile): boolean {
  return services.services.some(
    (s) =>
      isShared(s.key) &&
      nsOf(pod.key) === s.namespace &&
      s.ports.some((p) => p.protocol === protocol && p.backends.some((b) => b.name === pod.key && b.port === port && familyOf(b.ip) === family)),
  );
}

/** A packet from `src` to pod `dst` (directly, or through dst's hostPort) on port/protocol. */
function expectToPod(src: string, dst: PlannedPod, port: number | undefined, protocol: string, family: 4 | 6, services: LabServicesFile): boolean {
  if (mayReach(src, dst.key)) return true;
  return port !== undefined && sharedBackendPort(dst, port, protocol, family, services);
}

function expectPodCell(src: string, dst: PlannedPod, field: keyof MatrixCell, services: LabServicesFile): boolean {
  const family = field.endsWith('6') ? 6 : 4;
  const proto = field.replace(/6$/, '');
  const port = proto === 'tcp' ? dst.probe.tcp : proto === 'udp' ? dst.probe.udp : undefined;
  return expectToPod(src, dst, port, proto.toUpperCase(), family, services);
}

// ---- comparing ----------------------------------------------------------------

interface Check {
  mismatches: string[];
  checked: number;
  undecided: number;
}

function compare(what: string, got: boolean | undefined, want: Verdict, out: Check): void {
  if (want === 'either') {
    out.undecided++;
    return;
  }
  out.checked++;
  if (got !== want) out.mismatches.push(`${what}: ${got === undefined ? 'not probed' : got ? 'reached' : 'blocked'}, expected ${want ? 'reached' : 'blocked'}`);
}

const newCheck = (): Check => ({ mismatches: [], checked: 0, undecided: 0 });

function checkPods(m: Matrix, plan: LabPlan, services: LabServicesFile): Check {
  const out = newCheck();
  const pods = plan.pods.filter((p) => p.builtin === undefined);
  expect(Object.keys(m.pods).sort()).toEqual(pods.map((p) => p.key).sort());
  for (const src of pods) {
    for (const dst of pods) {
      if (dst.key === src.key) continue;
      for (const f of CELL_FIELDS) compare(`${src.key} -> ${dst.key} ${f}`, m.pods[src.key]?.[dst.key]?.[f] ?? undefined, expectPodCell(src.key, dst, f, services), out);
    }
  }
  return out;
}

/** Every Service port on every ClusterIP, externalIP and LoadBalancer IP (keys as lab matrix writes them). */
function checkServices(m: Matrix, services: LabServicesFile): Check {
  const out = newCheck();
  for (const [src, row] of Object.entries(m.services)) {
    const expected = new Set<string>();
    for (const svc of services.services) {
      for (const port of svc.ports) {
        const addresses = [
          ...svc.clusterIPs.map((ip) => ({ ip, key: `${svc.key}:${port.port}/${port.protocol}${familyOf(ip) === 6 ? '/v6' : ''}` })),
          ...(svc.externalIPs ?? []).map((ip) => ({ ip, key: `${svc.key}:${port.port}/${port.protocol} externalIP ${ip}` })),
          ...(svc.loadBalancerIPs ?? []).map((ip) => ({ ip, key: `${svc.key}:${port.port}/${port.protocol} loadBalancerIP ${ip}` })),
        ];
        for (const { ip, key } of addresses) {
          expected.add(key);
          compare(`${src} -> ${key}`, row[key], expectService(src, svc, port, familyOf(ip)), out);
        }
      }
    }
    const extra = Object.keys(row).filter((k) => !expected.has(k));
    if (extra.length > 0) out.mismatches.push(`${src}: probed ${extra.join(', ')}, which no Service has`);
    compare(`${src} dns`, m.dns[src], true, out); // kube-dns is shared
  }
  return out;
}

/** Every NodePort on every address of every node: judged like the ClusterIP. */
function checkNodePorts(m: Matrix, plan: LabPlan, services: LabServicesFile): Check {
  const out = newCheck();
  const pods = plan.pods.filter((p) => p.builtin === undefined);
  for (const src of pods) {
    const row = m.nodePorts[src.key] ?? {};
    let expected = 0;
    for (const svc of services.services) {
      for (const port of svc.ports) {
        if (port.nodePort === undefined) continue;
        for (const node of plan.nodes) {
          const addresses = [node.gateway.v4, node.gateway.v6, ...(node.underlay ? [node.underlay.v4, node.underlay.v6] : [])];
          for (const ip of addresses.filter((a) => svc.clusterIPs.some((c) => familyOf(c) === familyOf(a)))) {
            const key = `${svc.key}:${port.port}/${port.protocol} nodePort ${port.nodePort} ${node.name} v${familyOf(ip)} ${ip}`;
            expected++;
            compare(`${src.key} -> ${key}`, row[key], expectService(src.key, svc, port, familyOf(ip)), out);
          }
        }
      }
    }
    if (Object.keys(row).length !== expected) out.mismatches.push(`${src.key}: ${Object.keys(row).length} NodePort probes, expected ${expected}`);
  }
  return out;
}

/** Every hostPort on its node's addresses: judged like a packet to the pod on its container port. */
function checkHostPorts(m: Matrix, plan: LabPlan, services: LabServicesFile): Check {
  const out = newCheck();
  const pods = plan.pods.filter((p) => p.builtin === undefined);
  const hostPorts: LabHostPort[] = services.hostPorts ?? [];
  for (const src of pods) {
    const row = m.hostPorts[src.key] ?? {};
    let expected = 0;
    for (const h of hostPorts) {
      const node = plan.nodes.find((n) => n.name === h.node);
      const dst = plan.pods.find((p) => p.key === h.pod) as PlannedPod;
      const addresses = node ? [node.gateway.v4, node.gateway.v6, ...(node.underlay ? [node.underlay.v4, node.underlay.v6] : [])] : [];
      for (const ip of addresses.filter((a) => familyOf(a) === h.family)) {
        const key = `${h.pod} hostPort ${h.hostPort}/${h.protocol} ${h.node} v${h.family} ${ip}`;
        expected++;
        compare(`${src.key} -> ${key}`, row[key], expectToPod(src.key, dst, h.containerPort, h.protocol, h.family, services), out);
      }
    }
    if (Object.keys(row).length !== expected) out.mismatches.push(`${src.key}: ${Object.keys(row).length} hostPort probes, expected ${expected}`);
  }
  return out;
}

// ---- the labs -----------------------------------------------------------------

beforeAll(() => ensureBuilt());

describe.each([
  { nodes: 1, lab: 'npsec' },
  { nodes: 2, lab: 'npsec2' },
])('segmentation scenario on $nodes node(s), with agents', ({ nodes, lab }) => {
  let dir: string;
  let plan: LabPlan;
  let services: LabServicesFile;
  let matrix: Matrix;

  beforeAll(async () => {
    await labDown(lab);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `vrfwall-${lab}-`));
    writeScenario(dir, lab, nodes);
    const state = await labUp(dir, { lab, nodes, log: () => undefined });
    plan = state.plan;
    matrix = await labMatrix(lab);
    services = JSON.parse(fs.readFileSync(servicesFile(lab), 'utf8')) as LabServicesFile;
  });

  afterAll(async () => {
    await labDown(lab);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('builds what the scenario says: every Service with its backends, NodePorts and frontends, the slices naming iso/a', () => {
    const backends = (key: string) => [...new Set(services.services.find((s) => s.key === key)?.ports.flatMap((p) => p.backends.map((b) => b.name)))];
    expect(backends('ord/steal')).toEqual(['iso/a']);
    expect(backends('ord/stealshared')).toEqual(['iso/a']);
    // The slices carry iso/a's real addresses (planned before the lab was up).
    const isoA = plan.pods.find((p) => p.key === 'iso/a') as PlannedPod;
    const stealIps = services.services.find((s) => s.key === 'ord/steal')?.ports[0]?.backends.map((b) => b.ip);
    expect(stealIps?.sort()).toEqual([isoA.ips.v4, isoA.ips.v6].sort());
    expect(backends('cust/blue')).toEqual(['cust/blue1']);
    for (const key of ['iso/np', 'ord/web', 'cust/blue']) {
      expect(services.services.find((s) => s.key === key)?.ports.every((p) => p.nodePort !== undefined && p.nodePort >= 30000), key).toBe(true);
    }
    expect((services.hostPorts ?? []).map((h) => `${h.pod} ${h.hostPort}`).sort()).toEqual(['iso/a 8081', 'iso/a 8081', 'ord/web 8082', 'ord/web 8082']);
  });

  it("a default-network pod cannot reach an isolated pod through any node's NodePort; the isolated namespace and the default network's own NodePort still work", () => {
    const np = services.services.find((s) => s.key === 'iso/np') as LabService;
    const nodePort = np.ports.find((p) => p.protocol === 'TCP')?.nodePort;
    const row = (pod: string, svc: string) =>
      Object.entries(matrix.nodePorts[pod] ?? {}).filter(([k]) => k.startsWith(`${svc}:80/TCP nodePort `));
    // Positive controls: iso/b reaches iso/a through every node's NodePort, ord/client reaches ord/web's.
    expect(row('iso/b', 'iso/np').length).toBe(plan.nodes.length * (nodes > 1 ? 4 : 2));
    expect(row('iso/b', 'iso/np').filter(([, ok]) => !ok)).toEqual([]);
    expect(row('ord/client', 'ord/web').filter(([, ok]) => !ok)).toEqual([]);
    // The attack: ord/client (default network) -> <any node address>:nodePort -> iso/a.
    expect(nodePort).toBeDefined();
    expect(row('ord/client', 'iso/np').filter(([, ok]) => ok).map(([k]) => k)).toEqual([]);
  });

  it('gives the pod matrix section 3 gives (rules 1, 2 and 4), ICMP, TCP and UDP on IPv4 and IPv6', () => {
    const c = checkPods(matrix, plan, services);
    expect(c.mismatches).toEqual([]);
    expect(c.checked).toBe(9 * 8 * 6);
  });

  it('gives the Service matrix section 3 gives: ClusterIPs, externalIPs, LoadBalancer IPs, DNS', () => {
    const c = checkServices(matrix, services);
    expect(c.mismatches).toEqual([]);
    // ord/steal from the isolated namespace (see viaService): 2 pods x 2 families.
    expect(c.undecided).toBe(4);
  });

  it('judges every NodePort on every node address like its ClusterIP', () => {
    const c = checkNodePorts(matrix, plan, services);
    expect(c.mismatches).toEqual([]);
    expect(c.checked).toBeGreaterThan(0);
  });

  it('judges every hostPort like a packet to its pod', () => {
    const c = checkHostPorts(matrix, plan, services);
    expect(c.mismatches).toEqual([]);
    expect(c.checked).toBeGreaterThan(0);
  });
});
