// Parsers of the issue-3 kinds (VirtualNetwork, VirtualNetworkRouter under
// both API groups, Service, EndpointSlice) and the CRDs that describe the
// first two for a real API server.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { canonicalCidr } from '../src/model/ip.js';
import { objectKey, parseManifests, type ManifestObject } from '../src/sources/documents.js';

const repo = path.resolve(import.meta.dirname, '..');

function one(text: string): ManifestObject {
  const r = parseManifests(text, 't.yaml');
  expect(r.problems.filter((p) => !/not a known field|needs a name/.test(p.message))).toEqual([]);
  expect(r.objects).toHaveLength(1);
  return r.objects[0]!.object;
}

function refused(text: string): string {
  const r = parseManifests(text, 't.yaml');
  expect(r.objects).toEqual([]);
  expect(r.lostContent).toBe(true);
  return r.problems.map((p) => p.message).join('\n');
}

describe('VirtualNetwork', () => {
  it('vrfwall.dev/v1alpha1 with every field', () => {
    const vn = one(`
apiVersion: vrfwall.dev/v1alpha1
kind: VirtualNetwork
metadata: { name: blue, namespace: team-a, labels: { vn: web } }
spec: { podNetwork: true, v4Subnet: 10.10.0.7/16, v6Subnet: "FD00:10::/64", external: deny }
`);
    expect(vn).toEqual({
      kind: 'VirtualNetwork',
      apiGroup: 'vrfwall.dev',
      metadata: { name: 'blue', namespace: 'team-a', labels: { vn: 'web' }, annotations: {} },
      spec: { podNetwork: true, v4Subnet: '10.10.0.0/16', v6Subnet: 'fd00:10::/64', external: 'deny' },
    });
    expect(objectKey(vn)).toBe('VirtualNetwork/team-a/blue');
  });

  it('CN2 group: same kind, its own spec fields ignored silently, podNetwork defaults to true', () => {
    const r = parseManifests(
      `
apiVersion: core.contrail.juniper.net/v1alpha1
kind: VirtualNetwork
metadata: { name: vn1, namespace: ns1, annotations: { core.juniper.net/display-name: vn1 } }
spec:
  v4SubnetReference: { apiVersion: core.contrail.juniper.net/v1alpha1, kind: Subnet, namespace: ns1, name: s1 }
`,
      'cn2.yaml',
    );
    expect(r.problems).toEqual([]);
    expect(r.objects[0]!.object).toMatchObject({ apiGroup: 'core.contrail.juniper.net', spec: { podNetwork: true } });
  });

  it('our group warns about unknown spec fields (typos)', () => {
    const r = parseManifests('apiVersion: vrfwall.dev/v1alpha1\nkind: VirtualNetwork\nmetadata: {name: a}\nspec: {extrenal: deny}\n', 'x');
    expect(r.objects).toHaveLength(1);
    expect(r.problems.map((p) => p.message)).toEqual(['spec.extrenal is not a known field; ignored']);
  });

  it('refuses bad values with a clear reason', () => {
    const vn = (spec: string, api = 'vrfwall.dev/v1alpha1') =>
      `apiVersion: ${api}\nkind: VirtualNetwork\nmetadata: {name: a, namespace: n}\nspec: ${spec}\n`;
    expect(refused(vn('{v4Subnet: 10.0.0.0/33}'))).toMatch(/spec.v4Subnet .* is not an IPv4 CIDR/);
    expect(refused(vn('{v4Subnet: "fd00::/64"}'))).toMatch(/not an IPv4 CIDR/);
    expect(refused(vn('{v6Subnet: 10.0.0.0/8}'))).toMatch(/not an IPv6 CIDR/);
    expect(refused(vn('{external: Deny}'))).toMatch(/spec.external "Deny" is not "allow" or "deny"/);
    expect(refused(vn('{podNetwork: "yes"}'))).toMatch(/podNetwork must be true or false/);
    expect(refused(vn('{}', 'vrfwall.dev/v1'))).toMatch(/apiVersion "vrfwall.dev\/v1" is not vrfwall.dev\/v1alpha1 or core/);
  });
});

describe('VirtualNetworkRouter', () => {
  it('mesh with a selector in both forms and cross-namespace imports', () => {
    const r = one(`
apiVersion: vrfwall.dev/v1alpha1
kind: VirtualNetworkRouter
metadata: { name: r1, namespace: ns1, labels: { vnr: web } }
spec:
  type: mesh
  virtualNetworkSelector:
    matchLabels: { vn: web }
    matchExpressions:
      - { key: tier, operator: In, values: [a, b] }
      - { key: legacy, operator: DoesNotExist }
  import:
    virtualNetworkRouters:
      - virtualNetworkRouterSelector: { matchLabels: { vnr: db } }
        namespaceSelector: { matchLabels: { ns: backend } }
      - virtualNetworkRouterSelector: { matchExpressions: [{ key: vnr, operator: Exists }] }
`);
    expect(r).toMatchObject({
      kind: 'VirtualNetworkRouter',
      spec: {
        type: 'mesh',
        virtualNetworkSelector: {
          matchLabels: { vn: 'web' },
          matchExpressions: [
            { key: 'tier', operator: 'In', values: ['a', 'b'] },
            { key: 'legacy', operator: 'DoesNotExist', values: [] },
          ],
        },
        imports: [
          {
            virtualNetworkRouterSelector: { matchLabels: { vnr: 'db' }, matchExpressions: [] },
            namespaceSelector: { matchLabels: { ns: 'backend' }, matchExpressions: [] },
          },
          { virtualNetworkRouterSelector: { matchLabels: {}, matchExpressions: [{ key: 'vnr', operator: 'Exists', values: [] }] } },
        ],
      },
    });
    expect('namespaceSelector' in (r.kind === 'VirtualNetworkRouter' ? r.spec.imports[1]! : {})).toBe(false);
  });

  it('refuses a bad type, bad selectors and an import without a router selector', () => {
    const vnr = (spec: string) =>
      `apiVersion: core.contrail.juniper.net/v1alpha1\nkind: VirtualNetworkRouter\nmetadata: {name: r}\nspec: ${spec}\n`;
    expect(refused(vnr('{type: star}'))).toMatch(/spec.type "star" is not one of mesh, hub, spoke/);
    expect(refused(vnr('{virtualNetworkSelector: {}}'))).toMatch(/spec.type undefined/);
    expect(refused(vnr('{type: mesh, virtualNetworkSelector: {matchExpressions: [{key: a, operator: In}]}}'))).toMatch(
      /operator In needs values/,
    );
    expect(refused(vnr('{type: mesh, virtualNetworkSelector: {matchExpressions: [{key: a, operator: Exists, values: [x]}]}}'))).toMatch(
      /operator Exists takes no values/,
    );
    expect(refused(vnr('{type: mesh, virtualNetworkSelector: {matchExpressions: [{key: a, operator: Near}]}}'))).toMatch(
      /operator "Near" is not one of/,
    );
    expect(refused(vnr('{type: hub, import: {virtualNetworkRouters: [{namespaceSelector: {}}]}}'))).toMatch(
      /virtualNetworkRouterSelector is required/,
    );
  });
});

describe('Service', () => {
  const svc = (spec: string) => `apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: ${spec}\n`;

  it('ClusterIP with a numeric and a named targetPort; defaults TCP and targetPort = port', () => {
    const s = one(
      svc(`
  clusterIP: 10.96.0.20
  selector: { app: web }
  ports:
    - { name: http, port: 80, targetPort: http-alt }
    - { name: dns, port: 53, protocol: UDP, targetPort: 5353 }
    - { name: metrics, port: 9090 }`),
    );
    expect(s).toEqual({
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop', labels: {}, annotations: {} },
      spec: {
        type: 'ClusterIP',
        clusterIPs: ['10.96.0.20'],
        headless: false,
        selector: { app: 'web' },
        ports: [
          { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http-alt' },
          { name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353 },
          { name: 'metrics', protocol: 'TCP', port: 9090, targetPort: 9090 },
        ],
        externalIPs: [],
        loadBalancerIPs: [],
      },
    });
  });

  it('NodePort and LoadBalancer keep their ClusterIPs; dual stack via clusterIPs', () => {
    const s = one(svc('{type: NodePort, clusterIPs: [10.96.0.5, "FD00:10:96::5"], ports: [{port: 80, nodePort: 30080}]}'));
    expect(s).toMatchObject({ spec: { type: 'NodePort', clusterIPs: ['10.96.0.5', 'fd00:10:96::5'] } });
    expect(one(svc('{type: LoadBalancer, clusterIP: 10.96.0.6, ports: [{port: 80}]}'))).toMatchObject({
      spec: { clusterIPs: ['10.96.0.6'] },
    });
  });

  it('node ports, external IPs and load balancer addresses (spec and status), canonical and without repeats', () => {
    const s = one(`apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.7
  externalIPs: ["203.0.113.7", "2001:DB8::7", "203.0.113.7"]
  loadBalancerIP: 198.51.100.9
  ports:
    - { name: http, port: 80, nodePort: 30080 }
    - { name: dns, port: 53, protocol: UDP, nodePort: 30053 }
    - { name: dns-tcp, port: 53, protocol: TCP, nodePort: 30053 }
    - { name: none, port: 81, nodePort: 0 }
status:
  loadBalancer:
    ingress: [{ip: 198.51.100.10}, {hostname: lb.example.org}, {ip: "198.51.100.9"}]
`);
    expect(s.kind === 'Service' && s.spec).toMatchObject({
      type: 'LoadBalancer',
      externalIPs: ['203.0.113.7', '2001:db8::7'],
      loadBalancerIPs: ['198.51.100.9', '198.51.100.10'],
      ports: [
        { name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 },
        { name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', nodePort: 30053 },
        { name: 'none', port: 81, protocol: 'TCP' },
      ],
    });
    expect(s.kind === 'Service' && 'nodePort' in s.spec.ports[3]!).toBe(false);
    // A ClusterIP Service without any of them: empty lists.
    expect(one(svc('{ports: [{port: 80}]}'))).toMatchObject({ spec: { externalIPs: [], loadBalancerIPs: [] } });
  });

  it('refuses bad node ports, external IPs and load balancer addresses, naming the field', () => {
    expect(refused(svc('{type: NodePort, ports: [{port: 80, nodePort: 70000}]}'))).toMatch(/spec.ports\[0\].nodePort 70000 is not a port number/);
    expect(refused(svc('{type: NodePort, ports: [{port: 80, nodePort: "30080"}]}'))).toMatch(/spec.ports\[0\].nodePort "30080" is not a port number/);
    expect(refused(svc('{type: NodePort, ports: [{port: 80, nodePort: 30080.5}]}'))).toMatch(/nodePort 30080.5 is not a port number/);
    expect(refused(svc('{ports: [{port: 80, nodePort: 30080}]}'))).toMatch(/spec.ports\[0\].nodePort is set, but only NodePort and LoadBalancer Services have node ports \(type ClusterIP\)/);
    expect(refused(svc('{type: NodePort, ports: [{name: a, port: 80, nodePort: 30080}, {name: b, port: 81, nodePort: 30080}]}'))).toMatch(
      /spec.ports\[1\].nodePort: 30080\/TCP is listed twice/,
    );
    expect(refused(svc('{externalIPs: [203.0.113.300], ports: [{port: 80}]}'))).toMatch(/spec.externalIPs\[0\] "203.0.113.300" is not an IP address/);
    expect(refused(svc('{externalIPs: 203.0.113.3, ports: [{port: 80}]}'))).toMatch(/spec.externalIPs must be a list of IP addresses/);
    expect(refused(svc('{type: LoadBalancer, loadBalancerIP: lb.example.org, ports: [{port: 80}]}'))).toMatch(
      /spec.loadBalancerIP "lb.example.org" is not an IP address/,
    );
    expect(refused(`${svc('{type: LoadBalancer, ports: [{port: 80}]}')}status: {loadBalancer: {ingress: [{ip: "1.2.3"}]}}\n`)).toMatch(
      /status.loadBalancer.ingress\[0\].ip "1.2.3" is not an IP address/,
    );
  });

  it('headless ("None"): no ClusterIP, headless; no ClusterIP yet: empty; ExternalName: none', () => {
    expect(one(svc('{clusterIP: None, selector: {app: web}, ports: [{port: 80}]}'))).toMatchObject({
      spec: { clusterIPs: [], headless: true, selector: { app: 'web' } },
    });
    expect(one(svc('{ports: [{port: 80}]}'))).toMatchObject({ spec: { clusterIPs: [], headless: false } });
    expect(one(svc('{clusterIP: "", ports: [{port: 80}]}'))).toMatchObject({ spec: { clusterIPs: [] } });
    expect(one(svc('{type: ExternalName, externalName: example.org}'))).toMatchObject({
      spec: { type: 'ExternalName', clusterIPs: [], ports: [] },
    });
  });

  it('an empty selector is no selector (endpoints managed elsewhere)', () => {
    const s = one(svc('{selector: {}, ports: [{port: 80}]}'));
    expect(s.kind === 'Service' && 'selector' in s.spec).toBe(false);
  });

  it('refuses what the API server would refuse', () => {
    expect(refused(svc('{clusterIP: 10.96.0.300}'))).toMatch(/is not an IP address/);
    expect(refused(svc('{clusterIP: 10.96.0.1, clusterIPs: [10.96.0.2]}'))).toMatch(/not the first of spec.clusterIPs/);
    expect(refused(svc('{clusterIPs: [10.96.0.1, 10.96.0.2]}'))).toMatch(/two addresses of the same family/);
    expect(refused(svc('{ports: [{port: 0}]}'))).toMatch(/spec.ports\[0\].port 0 is not a port number/);
    expect(refused(svc('{ports: [{port: 80, protocol: ICMP}]}'))).toMatch(/is not TCP, UDP or SCTP/);
    expect(refused(svc('{ports: [{port: 80, targetPort: "8080"}]}'))).toMatch(/targetPort "8080" is not a port number or name/);
    expect(refused(svc('{ports: [{port: 80, targetPort: 70000}]}'))).toMatch(/targetPort 70000 is not a port number/);
    expect(refused(svc('{ports: [{name: a, port: 80}, {name: b, port: 80}]}'))).toMatch(/80\/TCP is listed twice/);
    expect(refused(svc('{type: Magic}'))).toMatch(/spec.type "Magic"/);
    expect(refused('apiVersion: v1\nkind: Service\nmetadata: {name: Web}\nspec: {}\n')).toMatch(/metadata.name "Web"/);
  });
});

describe('Pod ports published on the node (hostPort)', () => {
  const pod = (ports: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec: {containers: [{name: c, image: x, ports: ${ports}}]}\n`;

  it('reads hostPort and hostIP (canonical; 0.0.0.0, :: and "" mean every node address)', () => {
    const p = one(
      pod(
        '[{containerPort: 80, hostPort: 8080}, {containerPort: 53, protocol: UDP, hostPort: 53, hostIP: 192.168.50.1}, ' +
          '{containerPort: 443, hostPort: 443, hostIP: "FD00::0001"}, {containerPort: 81, hostPort: 81, hostIP: 0.0.0.0}, ' +
          '{containerPort: 82, hostPort: 82, hostIP: "::"}, {containerPort: 85, hostPort: 85, hostIP: ""}, ' +
          '{containerPort: 83, hostPort: 0}, {containerPort: 84, hostIP: 192.168.50.1}]',
      ),
    );
    expect(p.kind === 'Pod' && p.spec.ports).toEqual([
      { containerPort: 80, protocol: 'TCP', hostPort: 8080 },
      { containerPort: 53, protocol: 'UDP', hostPort: 53, hostIP: '192.168.50.1' },
      { containerPort: 443, protocol: 'TCP', hostPort: 443, hostIP: 'fd00::1' },
      { containerPort: 81, protocol: 'TCP', hostPort: 81 },
      { containerPort: 82, protocol: 'TCP', hostPort: 82 },
      { containerPort: 85, protocol: 'TCP', hostPort: 85 },
      // hostPort 0 is none; a hostIP without a hostPort publishes nothing
      { containerPort: 83, protocol: 'TCP' },
      { containerPort: 84, protocol: 'TCP' },
    ]);
  });

  it('refuses a bad hostPort or hostIP, naming the field', () => {
    expect(refused(pod('[{containerPort: 80, hostPort: 65536}]'))).toMatch(/spec.containers\[0\].ports\[0\].hostPort 65536 is not a port number/);
    expect(refused(pod('[{containerPort: 80, hostPort: "8080"}]'))).toMatch(/hostPort "8080" is not a port number/);
    expect(refused(pod('[{containerPort: 80}, {containerPort: 81, hostPort: 81, hostIP: 192.168.50.01}]'))).toMatch(
      /spec.containers\[0\].ports\[1\].hostIP "192.168.50.01" is not an IP address/,
    );
  });
});

describe('EndpointSlice', () => {
  it('reads addresses, readiness, pod references and ports', () => {
    const s = one(`
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-abc12, namespace: shop, labels: { kubernetes.io/service-name: web } }
addressType: IPv6
endpoints:
  - addresses: ["FD00:10:244:1::10"]
    conditions: { ready: true }
    targetRef: { kind: Pod, name: web-1 }
  - addresses: ["fd00:10:244:2::10"]
    conditions: { ready: false }
  - addresses: ["fd00:10:244:2::11"]
ports:
  - { name: http, port: 8080 }
  - { name: dns, port: 5353, protocol: UDP }
`);
    expect(s).toEqual({
      kind: 'EndpointSlice',
      metadata: { name: 'web-abc12', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' }, annotations: {} },
      serviceName: 'web',
      addressType: 'IPv6',
      endpoints: [
        { addresses: ['fd00:10:244:1::10'], ready: true, pod: 'shop/web-1' },
        { addresses: ['fd00:10:244:2::10'], ready: false },
        { addresses: ['fd00:10:244:2::11'], ready: true },
      ],
      ports: [
        { name: 'http', port: 8080, protocol: 'TCP' },
        { name: 'dns', port: 5353, protocol: 'UDP' },
      ],
    });
  });

  it('refuses a slice without its Service label, or with an address of the wrong family', () => {
    const slice = (labels: string, addr: string) =>
      `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s, labels: ${labels}}\naddressType: IPv4\nendpoints: [{addresses: ["${addr}"]}]\n`;
    expect(refused(slice('{}', '10.0.0.1'))).toMatch(/label kubernetes.io\/service-name undefined does not name a Service/);
    expect(refused(slice('{kubernetes.io/service-name: web}', 'fd00::1'))).toMatch(/is not an IPv4 address/);
  });
});

describe('CRDs (crds)', () => {
  type Schema = { type?: string; enum?: string[]; pattern?: string; properties?: Record<string, Schema>; items?: Schema; required?: string[] };
  const crd = (file: string) =>
    parse(fs.readFileSync(path.join(repo, 'crds', file), 'utf8')) as {
      kind: string;
      metadata: { name: string };
      spec: {
        group: string;
        scope: string;
        names: { kind: string; plural: string };
        versions: { name: string; served: boolean; storage: boolean; schema: { openAPIV3Schema: Schema } }[];
      };
    };

  for (const [file, kind, plural] of [
    ['virtualnetworks.yaml', 'VirtualNetwork', 'virtualnetworks'],
    ['virtualnetworkrouters.yaml', 'VirtualNetworkRouter', 'virtualnetworkrouters'],
  ] as const) {
    it(`${file}: vrfwall.dev/v1alpha1 ${kind}, namespaced, served and stored`, () => {
      const c = crd(file);
      expect(c.kind).toBe('CustomResourceDefinition');
      expect(c.metadata.name).toBe(`${plural}.vrfwall.dev`);
      expect(c.spec).toMatchObject({ group: 'vrfwall.dev', scope: 'Namespaced', names: { kind, plural } });
      expect(c.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([['v1alpha1', true, true]]);
    });
  }

  it('the router schema has the same type enum, selector operators and required fields as the parser', () => {
    const spec = crd('virtualnetworkrouters.yaml').spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
    expect(spec.required).toEqual(['type']);
    expect(spec.properties!.type!.enum).toEqual(['mesh', 'hub', 'spoke']);
    const sel = spec.properties!.virtualNetworkSelector!;
    expect(sel.properties!.matchExpressions!.items!.properties!.operator!.enum).toEqual(['In', 'NotIn', 'Exists', 'DoesNotExist']);
    const item = spec.properties!.import!.properties!.virtualNetworkRouters!.items!;
    expect(item.required).toEqual(['virtualNetworkRouterSelector']);
    expect(Object.keys(item.properties!)).toEqual(['virtualNetworkRouterSelector', 'namespaceSelector']);
  });

  it('the network schema: external enum and CIDR patterns that agree with the parser', () => {
    const spec = crd('virtualnetworks.yaml').spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
    expect(spec.properties!.external!.enum).toEqual(['allow', 'deny']);
    const v4 = new RegExp(spec.properties!.v4Subnet!.pattern!);
    const v6 = new RegExp(spec.properties!.v6Subnet!.pattern!);
    const samples = ['10.0.0.0/8', '192.168.1.0/24', '0.0.0.0/0', '10.0.0.0/33', '256.0.0.0/8', '10.0.0/8', '10.0.0.0',
      'fd00::/64', '::/0', 'fd00:10:244::/48', '2001:db8::1/128', 'fd00::/129', 'fd00::', 'fd00:10/64', '::ffff:10.0.0.0/104'];
    for (const s of samples) {
      const c = canonicalCidr(s);
      const family = c === undefined ? undefined : c.includes(':') ? 6 : 4;
      expect(v4.test(s), `v4 pattern on ${s}`).toBe(family === 4);
      expect(v6.test(s), `v6 pattern on ${s}`).toBe(family === 6);
    }
  });
});

describe('NetworkAttachmentDefinition (Multus, issue 14)', () => {
  it("k8s.cni.cncf.io/v1: identity, annotations and the delegate plugin's type (the rest of spec.config is the CNI's)", () => {
    const o = one(`
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: vn1
  namespace: default
  annotations:
    vrfwall.dev/network: default/vn1
spec:
  config: '{"cniVersion":"0.3.1","type":"bridge","bridge":"br-vn1"}'
`);
    expect(o).toEqual({ kind: 'NetworkAttachmentDefinition', metadata: { name: 'vn1', namespace: 'default', labels: {}, annotations: { 'vrfwall.dev/network': 'default/vn1' } }, cniType: 'bridge', bridge: 'br-vn1' });
    expect(objectKey(o)).toBe('NetworkAttachmentDefinition/default/vn1');
    // Without spec or namespace (kubectl's default namespace).
    expect(one('apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: macvlan-a\n')).toMatchObject({ metadata: { name: 'macvlan-a', namespace: 'default' } });
    // A plugin list: its first plugin makes the interface. A config that is not JSON: no type, and a warning.
    const nadWith = (config: string): string => `apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: a\nspec:\n  config: '${config}'\n`;
    expect(one(nadWith('{"cniVersion":"1.0.0","plugins":[{"type":"macvlan","master":"eth0"},{"type":"tuning"}]}'))).toMatchObject({ cniType: 'macvlan' });
    // the bridge plugin's bridge, its default cni0 when the config names none; no bridge for other types
    expect(one(nadWith('{"cniVersion":"1.0.0","plugins":[{"type":"bridge"},{"type":"tuning"}]}'))).toMatchObject({ cniType: 'bridge', bridge: 'cni0' });
    expect(one(nadWith('{"cniVersion":"1.0.0","plugins":[{"type":"macvlan","master":"eth0"}]}'))).not.toHaveProperty('bridge');
    const noJson = parseManifests(nadWith('{not json'), 'f.yaml');
    expect(noJson.objects[0]?.object).not.toHaveProperty('cniType');
    expect(noJson.problems.map((p) => p.message).join('; ')).toMatch(/spec.config is not JSON/);
  });

  it('refused: another apiVersion, a bad name, a config that is not text', () => {
    expect(refused('apiVersion: k8s.cni.cncf.io/v2\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: vn1\n')).toMatch(/apiVersion "k8s.cni.cncf.io\/v2" is not k8s.cni.cncf.io\/v1/);
    expect(refused('apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: Not_A_Name\n')).toMatch(/metadata.name "Not_A_Name" is not a valid name/);
    expect(refused('apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: vn1\nspec:\n  config:\n    type: bridge\n')).toMatch(/spec.config must be text/);
  });
});
