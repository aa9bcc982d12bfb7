// image/, deploy/, crds/: the image and the manifests for a real cluster. No container engine
// runs here, so the Dockerfile is linted (dockerfile-utils) and its COPY
// sources checked; every manifest is validated against the Kubernetes API
// schemas (kubernetes-models) and against the fields a Kubernetes 1.28 API
// server knows (its strict decoding), the RBAC rules against what the Kubernetes
// source reads, every example VirtualNetwork/VirtualNetworkRouter against the
// CRDs' OpenAPI schemas (ajv), and the agent is run on the real kernel with
// exactly the DaemonSet's capabilities (and fails without them).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { DockerfileParser } from 'dockerfile-ast';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Service } from 'kubernetes-models/v1/Service';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { CustomResourceDefinition } from 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { AGENT_OPTIONS, resolveSettings } from '../src/agent/config.js';
import { RELAY_OPTIONS } from '../src/relay/config.js';
import { parseSelector } from '../src/relay/discovery.js';
import { native } from '../src/kernel/native.js';
import { labDown, labUp } from '../src/lab/lab.js';
import { agentStatusFile, clusterFile, netnsPath } from '../src/lab/names.js';
import type { LabState } from '../src/lab/state.js';
import { KUBE_RESOURCES } from '../src/sources/kube-resources.js';
import { withNetns } from './helpers/netns.js';
import { ROOT } from './helpers/lab.js';
import { interfaceKeys } from './helpers/cn2-example.js';

type Doc = Record<string, unknown> & { apiVersion: string; kind: string; metadata?: { name?: string } };

function docsIn(file: string): Doc[] {
  return YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);
}
function yamlFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.ya?ml$/.test(f)).map((f) => path.join(dir, f)).sort();
}

const DEPLOY = path.join(ROOT, 'deploy');
const CRDS = path.join(ROOT, 'crds');
const deployDocs = yamlFiles(DEPLOY).flatMap(docsIn);
const crdDocs = yamlFiles(CRDS).flatMap(docsIn);
/** The one object of a kind (and name: the agent's and the relay's ServiceAccount and ConfigMap share kinds). */
const one = <T extends Doc>(kind: string, name?: string): T => {
  const found = deployDocs.filter((d) => d.kind === kind && (name === undefined || d.metadata?.name === name));
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0] as T;
};

/** The Kubernetes API models that validate each kind (OpenAPI schemas of the API). */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': CustomResourceDefinition,
};
function validateK8s(doc: Doc): void {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc as never).validate();
}

interface Container {
  args: string[];
  env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  securityContext: { capabilities: { add: string[]; drop: string[] }; privileged: boolean; allowPrivilegeEscalation: boolean };
  readinessProbe: { exec: { command: string[] } };
  livenessProbe: { exec: { command: string[] } };
  volumeMounts: { name: string; mountPath: string }[];
  resources: { requests: Record<string, string>; limits: Record<string, string> };
}
interface DaemonSetDoc extends Doc {
  spec: {
    updateStrategy: { type: string; rollingUpdate: { maxUnavailable: number; maxSurge: number } };
    template: {
      metadata: { annotations?: Record<string, string> };
      spec: {
        hostNetwork: boolean;
        serviceAccountName: string;
        tolerations: unknown[];
        containers: Container[];
        volumes: { name: string; hostPath?: { path: string }; configMap?: { name: string } }[];
      };
    };
  };
}
const daemonSet = (): DaemonSetDoc => one<DaemonSetDoc>('DaemonSet');

/** The fields an API server knows, per type (test/fixtures/kube-fields/extract.mjs made it from the OpenAPI documents). */
interface FieldTable {
  version: string;
  roots: Record<string, string>;
  types: Record<string, Record<string, string>>;
}
const fieldTable = (minor: string): FieldTable => withRelayKinds(JSON.parse(fs.readFileSync(path.join(ROOT, `test/fixtures/kube-fields/v${minor}.json`), 'utf8')) as FieldTable);

/**
 * The relay's kinds (deploy/relay.yaml), which the extracted table does not
 * have (no Kubernetes source tree here to extract them from): Role and
 * RoleBinding have the fields of ClusterRole and ClusterRoleBinding (less
 * aggregationRule); Deployment and Service are written out from the 1.28
 * API reference, down to the types the table has (ObjectMeta,
 * LabelSelector, PodTemplateSpec). Kept by hand: regenerate the fixture with
 * them (extract.mjs) when a Kubernetes source tree is at hand.
 */
function withRelayKinds(t: FieldTable): FieldTable {
  const types = { ...t.types };
  const clusterRole = types['io.k8s.api.rbac.v1.ClusterRole']!;
  types['relay.Role'] = Object.fromEntries(Object.entries(clusterRole).filter(([k]) => k !== 'aggregationRule'));
  const meta = clusterRole.metadata!;
  const selector = types['io.k8s.api.apps.v1.DaemonSetSpec']!.selector!;
  types['relay.Deployment'] = { apiVersion: '', kind: '', metadata: meta, spec: 'relay.DeploymentSpec', status: '' };
  types['relay.DeploymentSpec'] = {
    minReadySeconds: '', paused: '', progressDeadlineSeconds: '', replicas: '', revisionHistoryLimit: '', selector, strategy: 'relay.DeploymentStrategy',
    template: 'io.k8s.api.core.v1.PodTemplateSpec',
  };
  types['relay.DeploymentStrategy'] = { type: '', rollingUpdate: 'relay.RollingUpdateDeployment' };
  types['relay.RollingUpdateDeployment'] = { maxSurge: '', maxUnavailable: '' };
  types['relay.Service'] = { apiVersion: '', kind: '', metadata: meta, spec: 'relay.ServiceSpec', status: '' };
  types['relay.ServiceSpec'] = Object.fromEntries(
    ['allocateLoadBalancerNodePorts', 'clusterIP', 'clusterIPs', 'externalIPs', 'externalName', 'externalTrafficPolicy', 'healthCheckNodePort', 'internalTrafficPolicy', 'ipFamilies', 'ipFamilyPolicy', 'loadBalancerClass', 'loadBalancerIP', 'loadBalancerSourceRanges', 'publishNotReadyAddresses', 'selector', 'sessionAffinity', 'sessionAffinityConfig', 'type']
      .map((k) => [k, ''])
      .concat([['ports', '[]relay.ServicePort']]),
  );
  types['relay.ServicePort'] = { appProtocol: '', name: '', nodePort: '', port: '', protocol: '', targetPort: '' };
  return {
    ...t,
    roots: {
      ...t.roots,
      'rbac.authorization.k8s.io/v1/Role': 'relay.Role',
      'rbac.authorization.k8s.io/v1/RoleBinding': t.roots['rbac.authorization.k8s.io/v1/ClusterRoleBinding']!,
      'apps/v1/Deployment': 'relay.Deployment',
      'v1/Service': 'relay.Service',
    },
    types,
  };
}

/** What strict decoding (kubectl's default --validate=strict, fieldValidation=Strict) refuses: fields the server does not know, by path. */
function unknownFields(table: FieldTable, doc: Doc): string[] {
  const root = table.roots[`${doc.apiVersion}/${doc.kind}`];
  if (root === undefined) return [`(no ${doc.apiVersion} ${doc.kind} in Kubernetes ${table.version})`];
  const out: string[] = [];
  const walk = (value: unknown, type: string, at: string): void => {
    if (type === '' || typeof value !== 'object' || value === null || Array.isArray(value)) return;
    const fields = table.types[type]!;
    for (const [key, v] of Object.entries(value)) {
      const where = at === '' ? key : `${at}.${key}`;
      const child = fields[key];
      if (child === undefined) out.push(where);
      else if (child.startsWith('[]')) (Array.isArray(v) ? v : []).forEach((e, i) => walk(e, child.slice(2), `${where}[${i}]`));
      else if (child.startsWith('{}')) for (const [k, e] of Object.entries((v ?? {}) as object)) walk(e, child.slice(2), `${where}.${k}`);
      else walk(v, child, where);
    }
  };
  walk(doc, root, '');
  return out;
}
const agentContainer = (): Container => daemonSet().spec.template.spec.containers[0]!;

describe('Dockerfile', () => {
  const file = path.join(ROOT, 'image/Dockerfile');
  const text = fs.readFileSync(file, 'utf8');
  const df = DockerfileParser.parse(text);

  it('lints clean (and the linter does catch mistakes)', () => {
    expect(lintDockerfile(text)).toEqual([]);
    expect(lintDockerfile(text.replace('COPY src ./src', 'COPY src')).length).toBeGreaterThan(0);
  });

  it('builds on official Node images: a build stage, production modules, a slim runtime', () => {
    const stages = df.getFROMs().map((f) => f.getBuildStage());
    expect(stages).toEqual(['build', 'prod-deps', 'runtime']);
    expect(text).toMatch(/^ARG NODE_IMAGE=node:\d+-bookworm$/m);
    expect(df.getFROMs().at(-1)!.getImageName()).toBe('${NODE_IMAGE}-slim');
  });

  it('copies only what exists: context sources (not .dockerignored) and build-stage outputs', () => {
    const ignored = fs
      .readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'));
    const copies = df.getInstructions().filter((i) => i.getKeyword() === 'COPY');
    expect(copies.length).toBeGreaterThan(5);
    const stageNames = new Set(df.getFROMs().map((f) => f.getBuildStage()));
    for (const c of copies) {
      const args = c.getArguments().map((a) => a.getValue());
      const from = (c as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] }).getFlags().find((f) => f.getName() === 'from');
      for (const src of args.slice(0, -1)) {
        if (from) {
          expect(stageNames.has(from.getValue() ?? '')).toBe(true);
          if (from.getValue() === 'prod-deps') continue; // npm ci output
          // Build-stage outputs (WORKDIR /src) are what `make bpf`, node-gyp and tsc make here too.
          expect(src.startsWith('/src/'), src).toBe(true);
          expect(fs.existsSync(path.join(ROOT, src.slice('/src/'.length))), src).toBe(true);
        } else {
          expect(fs.existsSync(path.join(ROOT, src)), src).toBe(true);
          expect(ignored.some((i) => src === i || src.startsWith(`${i}/`)), `${src} is .dockerignored`).toBe(false);
        }
      }
    }
    // The runtime carries the agent, both BPF objects and the addon.
    for (const need of ['/src/dist', '/src/build/bpf', '/src/addon/build/Release/vrfwall_native.node']) expect(text).toContain(need);
    // Files the agent reads at run time next to dist/ (e.g. the gRPC API's .proto files).
    expect(text).toMatch(/^COPY proto \.\/proto$/m);
    for (const o of fs.readdirSync(path.join(ROOT, 'bpf')).filter((f) => f.endsWith('.c'))) {
      expect(fs.existsSync(path.join(ROOT, 'build/bpf', o.replace(/\.c$/, '.o')))).toBe(true);
    }
  });

  it('puts the CLI where the DaemonSet runs it', () => {
    expect(text).toMatch(/^WORKDIR \/opt\/vrfwall$/m);
    expect(text).toContain('ENTRYPOINT ["node", "/opt/vrfwall/dist/cli/main.js"]');
    const c = agentContainer();
    for (const probe of [c.readinessProbe, c.livenessProbe]) expect(probe.exec.command.slice(0, 2)).toEqual(['node', '/opt/vrfwall/dist/cli/main.js']);
  });
});

describe('manifests', () => {
  it('every object of deploy and crds is valid against the Kubernetes API schemas', () => {
    const all = [...deployDocs, ...crdDocs];
    expect(all.map((d) => d.kind).sort()).toEqual(
      [
        ...['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'CustomResourceDefinition', 'CustomResourceDefinition', 'DaemonSet', 'Namespace', 'ServiceAccount'],
        // the relay (deploy/relay.yaml)
        ...['ConfigMap', 'Deployment', 'Role', 'RoleBinding', 'Service', 'ServiceAccount'],
      ].sort(),
    );
    for (const d of all) expect(() => validateK8s(d), `${d.kind} ${d.metadata?.name}`).not.toThrow();
    // The validator is not a rubber stamp.
    const broken = structuredClone(daemonSet());
    (broken.spec.template.spec.containers[0]!.securityContext.capabilities as { add: unknown }).add = 'BPF';
    expect(() => validateK8s(broken)).toThrow(/capabilities\/add must be array/);
  });

  it('Kubernetes 1.28 decodes every object strictly (no field it does not know); the appArmorProfile field was one', () => {
    const v128 = fieldTable('1.28');
    expect(v128.version).toMatch(/^v1\.28\./);
    for (const d of [...deployDocs, ...crdDocs]) expect(unknownFields(v128, d), `${d.kind} ${d.metadata?.name}`).toEqual([]);
    // Not a rubber stamp: the field of Kubernetes 1.30 is refused, at the path a 1.28 server names
    // ('strict decoding error: unknown field "spec.template.spec.containers[0].securityContext.appArmorProfile"').
    const withField = structuredClone(daemonSet());
    (withField.spec.template.spec.containers[0]!.securityContext as unknown as Record<string, unknown>).appArmorProfile = { type: 'Unconfined' };
    expect(unknownFields(v128, withField)).toEqual(['spec.template.spec.containers[0].securityContext.appArmorProfile']);
    // and the hand-kept relay kinds too
    const relay = structuredClone(one<Doc & { spec: Record<string, unknown> }>('Deployment'));
    relay.spec.replica = 1;
    const svc = structuredClone(one<Doc & { spec: { ports: Record<string, unknown>[] } }>('Service'));
    svc.spec.ports[0]!.target = 1;
    expect([...unknownFields(v128, relay), ...unknownFields(v128, svc)]).toEqual(['spec.replica', 'spec.ports[0].target']);
  });

  it('AppArmor: the agent container is unconfined through the annotation that 1.28 and newer honour', () => {
    const ds = daemonSet();
    expect(ds.spec.template.metadata.annotations).toEqual({ 'container.apparmor.security.beta.kubernetes.io/agent': 'unconfined' });
    // The annotation names a container of the pod (the API server checks it too).
    expect(ds.spec.template.spec.containers.map((c) => (c as unknown as { name: string }).name)).toEqual(['agent']);
  });

  it('ClusterRole: get/list/watch exactly what the Kubernetes source reads, events create/patch, nothing else', () => {
    const rules = one<Doc & { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }>('ClusterRole').rules;
    const reads = new Set<string>();
    const other: string[] = [];
    for (const r of rules) {
      for (const g of r.apiGroups) {
        for (const res of r.resources) {
          if (r.verbs.join() === 'get,list,watch') reads.add(`${g}/${res}`);
          else other.push(`${g}/${res}:${r.verbs.join()}`);
        }
      }
    }
    const wanted = KUBE_RESOURCES.map((k) => {
      const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)\/([^/]+)$/.exec(k.path);
      if (!m) throw new Error(`unexpected path ${k.path}`);
      return `${m[1] ?? ''}/${m[2]}`;
    });
    expect([...reads].sort()).toEqual([...new Set(wanted)].sort());
    expect(other).toEqual(['/events:create,patch']);
    expect(JSON.stringify(rules)).not.toContain('*');
    const binding = one<Doc & { subjects: { name: string; namespace: string }[]; roleRef: { name: string } }>('ClusterRoleBinding');
    const sa = one<Doc & { metadata: { name: string; namespace: string } }>('ServiceAccount', 'vrfwall-agent');
    expect(binding.roleRef.name).toBe(one<Doc & { metadata: { name: string } }>('ClusterRole').metadata.name);
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
    expect(daemonSet().spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
  });

  it('DaemonSet: host network, minimal capabilities, mounts, probes, resources, rolling update, node name, tolerations', () => {
    const ds = daemonSet();
    const pod = ds.spec.template.spec;
    const c = agentContainer();
    expect(pod.hostNetwork).toBe(true);
    expect(c.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['BPF', 'PERFMON', 'NET_ADMIN'] });
    expect([c.securityContext.privileged, c.securityContext.allowPrivilegeEscalation]).toEqual([false, false]);
    const mounts = Object.fromEntries(c.volumeMounts.map((m) => [m.mountPath, pod.volumes.find((v) => v.name === m.name)]));
    expect(mounts['/sys/fs/bpf']?.hostPath?.path).toBe('/sys/fs/bpf');
    expect(mounts['/run/vrfwall']?.hostPath?.path).toBe('/run/vrfwall');
    expect(c.env.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('spec.nodeName');
    expect(c.readinessProbe.exec.command).toContain('--ready');
    expect(c.livenessProbe.exec.command).toContain('--live');
    expect(Object.keys(c.resources.requests).sort()).toEqual(['cpu', 'memory']);
    expect(c.resources.limits.memory).toBeDefined();
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
  });

  it('the agent accepts the DaemonSet arguments and the ConfigMap settings file', () => {
    const known = new Set(AGENT_OPTIONS.map((o) => `--${o.name}`));
    const args = agentContainer().args;
    expect(args[0]).toBe('agent');
    for (const a of args.filter((x) => x.startsWith('--'))) expect(known.has(a), a).toBe(true);
    const cm = one<Doc & { data: Record<string, string> }>('ConfigMap', 'vrfwall-agent');
    const configFile = args[args.indexOf('--config') + 1]!;
    const mount = agentContainer().volumeMounts.find((m) => configFile.startsWith(`${m.mountPath}/`));
    expect(mount).toBeDefined();
    const text = cm.data[path.basename(configFile)];
    expect(text).toBeDefined();
    const { settings, origins } = resolveSettings({ file: YAML.parse(text!) as unknown, fileName: 'agent.yaml' });
    expect(settings.podCidr.length).toBeGreaterThan(0);
    expect(origins['pod-cidr']).toBe('file');
  });
});

describe('relay manifests (deploy/relay.yaml)', () => {
  interface RelayDeployment extends Doc {
    spec: {
      replicas: number;
      selector: { matchLabels: Record<string, string> };
      template: {
        metadata: { labels: Record<string, string> };
        spec: {
          serviceAccountName: string;
          securityContext: { runAsNonRoot: boolean };
          containers: (Container & { ports: { name: string; containerPort: number }[]; readinessProbe: { tcpSocket?: { port: string } } })[];
          volumes: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
        };
      };
    };
  }
  const deployment = (): RelayDeployment => one<RelayDeployment>('Deployment', 'vrfwall-relay');
  const relayContainer = () => deployment().spec.template.spec.containers[0]!;
  const relayFile = (): Record<string, unknown> => {
    const args = relayContainer().args;
    const file = args[args.indexOf('--config') + 1]!;
    const mount = relayContainer().volumeMounts.find((m) => file.startsWith(`${m.mountPath}/`) && m.name === 'config');
    expect(mount, file).toBeDefined();
    const cm = one<Doc & { data: Record<string, string> }>('ConfigMap', 'vrfwall-relay');
    expect(deployment().spec.template.spec.volumes.find((v) => v.name === 'config')?.configMap?.name).toBe('vrfwall-relay');
    return YAML.parse(cm.data[path.basename(file)]!) as Record<string, unknown>;
  };

  it('Role: get/list/watch pods in the agents\' namespace, nothing else; bound to the relay\'s ServiceAccount', () => {
    const role = one<Doc & { metadata: { namespace: string }; rules: unknown[] }>('Role', 'vrfwall-relay');
    expect(role.metadata.namespace).toBe((daemonSet().metadata as { namespace?: string }).namespace);
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }]);
    const binding = one<Doc & { roleRef: unknown; subjects: unknown[] }>('RoleBinding', 'vrfwall-relay');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'vrfwall-relay' });
    const sa = one<Doc & { metadata: { name: string; namespace: string } }>('ServiceAccount', 'vrfwall-relay');
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
    expect(deployment().spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
  });

  it('the relay accepts the Deployment arguments and its ConfigMap; it finds the DaemonSet pods at the agents\' TLS port', () => {
    const known = new Set(RELAY_OPTIONS.map((o) => `--${o.name}`));
    const args = relayContainer().args;
    expect(args[0]).toBe('relay');
    for (const a of args.filter((x) => x.startsWith('--'))) expect(known.has(a), a).toBe(true);
    const file = relayFile();
    const { settings, origins } = resolveSettings({ file, fileName: 'relay.yaml' }, RELAY_OPTIONS);
    const s = settings as unknown as { selector: string; namespace: string; agentPort: number; listen: string; agentTlsServerName: string };
    expect(origins.selector).toBe('file');
    // the selector picks the DaemonSet's pods (and not the relay's own)
    const ds = daemonSet();
    const podLabels = (ds.spec.template.metadata as unknown as { labels: Record<string, string> }).labels;
    const sel = parseSelector(s.selector);
    expect(Object.entries(sel).every(([k, v]) => podLabels[k] === v)).toBe(true);
    expect(Object.entries(sel).every(([k, v]) => deployment().spec.template.metadata.labels[k] === v)).toBe(false);
    expect(s.namespace).toBe((ds.metadata as { namespace?: string }).namespace);
    // the agents listen where the relay looks, with the name the relay checks in their certificate
    const agentFile = YAML.parse(one<Doc & { data: Record<string, string> }>('ConfigMap', 'vrfwall-agent').data['agent.yaml']!) as Record<string, string>;
    expect(agentFile['grpc-listen']).toBe(`0.0.0.0:${s.agentPort}`);
    expect(s.agentTlsServerName).toBe('vrfwall-agent');
    const { settings: agent } = resolveSettings({ file: agentFile, fileName: 'agent.yaml' });
    // the TLS files are where the Secrets are mounted, in both pods
    const mountedAt = (c: Container, pod: { volumes: { name: string; secret?: { secretName: string } }[] }, f: string) => {
      const m = c.volumeMounts.find((v) => f.startsWith(`${v.mountPath}/`) && pod.volumes.find((x) => x.name === v.name)?.secret);
      return m && pod.volumes.find((x) => x.name === m.name)?.secret?.secretName;
    };
    for (const f of [agent.grpcTlsCert, agent.grpcTlsKey, agent.grpcTlsCa]) expect(mountedAt(agentContainer(), ds.spec.template.spec as never, f!), f).toBe('vrfwall-agent-tls');
    for (const k of ['tls-cert', 'tls-key', 'tls-ca']) expect(mountedAt(relayContainer(), deployment().spec.template.spec, file[k] as string), k).toBe('vrfwall-relay-tls');
  });

  it('Deployment and Service: non-root, no capabilities, the Service reaches the listener', () => {
    const d = deployment();
    expect(d.spec.selector.matchLabels).toEqual(d.spec.template.metadata.labels);
    expect(d.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    const c = relayContainer();
    expect(c.securityContext.capabilities).toEqual({ drop: ['ALL'] });
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    const listen = relayFile().listen as string;
    const port = c.ports.find((p) => p.name === 'grpc')!;
    expect(listen).toBe(`0.0.0.0:${port.containerPort}`);
    expect(c.readinessProbe.tcpSocket?.port).toBe('grpc');
    const svc = one<Doc & { spec: { selector: Record<string, string>; ports: { targetPort: string; port: number }[] } }>('Service', 'vrfwall-relay');
    expect(svc.spec.selector).toEqual(d.spec.template.metadata.labels);
    expect(svc.spec.ports.map((p) => p.targetPort)).toEqual(['grpc']);
  });
});

describe('CRDs and the example objects', () => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const schemas = new Map<string, ReturnType<Ajv['compile']>>();
  for (const crd of crdDocs as (Doc & {
    spec: { group: string; names: { kind: string }; versions: { name: string; served: boolean; schema: { openAPIV3Schema: object } }[] };
  })[]) {
    for (const v of crd.spec.versions) {
      if (v.served) schemas.set(`${crd.spec.names.kind}@${v.name}`, ajv.compile(v.schema.openAPIV3Schema));
    }
  }
  const examples = yamlFiles(path.join(ROOT, 'examples'))
    .flatMap((f) => docsIn(f).map((d) => ({ f: path.relative(ROOT, f), d })))
    .filter(({ d }) => d.kind === 'VirtualNetwork' || d.kind === 'VirtualNetworkRouter');
  const check = (d: Doc): string[] => {
    const version = d.apiVersion.split('/')[1] ?? '';
    const v = schemas.get(`${d.kind}@${version}`);
    if (!v) return [`no served CRD version for ${d.kind} ${d.apiVersion}`];
    return v(d) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  };

  it('defines both kinds in vrfwall.dev', () => {
    expect([...schemas.keys()].map((k) => k.split('@')[0]).sort()).toEqual(['VirtualNetwork', 'VirtualNetworkRouter']);
  });

  it('every example VirtualNetwork / VirtualNetworkRouter is valid against its CRD schema', () => {
    expect(examples.length).toBeGreaterThan(0);
    const bad = examples.flatMap(({ f, d }) => check(d).map((e) => `${f} ${d.kind} ${d.metadata?.name}: ${e}`));
    expect(bad).toEqual([]);
  });

  it('the schemas reject what the agent would reject', () => {
    const vn = examples.find(({ d }) => d.kind === 'VirtualNetwork')?.d;
    const vnr = examples.find(({ d }) => d.kind === 'VirtualNetworkRouter')?.d;
    expect(vn && vnr).toBeTruthy();
    expect(check({ ...vn!, spec: { ...(vn!.spec as object), external: 'sometimes' } })).not.toEqual([]);
    expect(check({ ...vnr!, spec: { ...(vnr!.spec as object), type: 'ring' } })).not.toEqual([]);
  });
});

// The DaemonSet's capabilities, for real: the agent runs with exactly those
// (setpriv drops the rest, as the container runtime would) and must sync and
// attach; without NET_ADMIN it must not manage to attach. (Without PERFMON
// the kernel refuses to load the programs: found by this test.)
describe('the DaemonSet capabilities on the real kernel', () => {
  const lab = 't4bdep';
  const instance = `${lab}-node1`;
  let state: LabState;
  const runAgent = (caps: string[], extra: string[], timeoutMs: number) => {
    const set = caps.map((c) => `+${c.toLowerCase()}`).join(',');
    return spawnSync(
      'nsenter',
      [
        `--net=${netnsPath(state.plan.nodes[0]!.netns)}`, '--',
        'setpriv', '--inh-caps', `-all,${set}`, '--ambient-caps', `-all,${set}`, '--bounding-set', `-all,${set}`, '--',
        process.execPath, path.join(ROOT, 'dist/lab/main.js'), 'agent', '--node-name', 'node1', '--instance', instance,
        '--manifests', state.manifests, '--lab-file', clusterFile(lab), ...extra,
      ],
      { encoding: 'utf8', timeout: timeoutMs },
    );
  };
  beforeAll(async () => {
    await labDown(lab);
    state = await labUp(path.join(ROOT, 'examples/cn2-isolated-namespace'), { lab, nodes: 1, agent: false, log: () => undefined });
  });
  afterAll(async () => {
    await labDown(lab);
  });

  it('with BPF + PERFMON + NET_ADMIN only, the agent syncs, attaches to every pod, and --cleanup removes it all', async () => {
    const caps = agentContainer().securityContext.capabilities.add;
    // Runs until the timeout kills it; the status file says what it did.
    const run = runAgent(caps, [], 4000);
    const st = JSON.parse(fs.readFileSync(agentStatusFile(instance), 'utf8')) as { synced: boolean; attached: string[]; lastError?: string };
    expect(st.lastError, run.stdout + run.stderr).toBeUndefined();
    expect(st.synced).toBe(true);
    // The lab's own DNS pod is not in the example's manifests the agent reads.
    const pods = state.plan.pods.filter((p) => p.hostIf !== undefined && p.builtin === undefined);
    expect(st.attached.sort()).toEqual(interfaceKeys(pods).sort());
    const bpf = native();
    const progs = () =>
      withNetns(state.plan.nodes[0]!.netns, () => pods.map((p) => bpf.tcxQuery(bpf.ifNameToIndex(p.hostIf!), 'ingress').length));
    expect(progs()).toEqual(pods.map(() => 1));

    const clean = runAgent(caps, ['--cleanup'], 10_000);
    expect(clean.status, clean.stderr).toBe(0);
    expect(progs()).toEqual(pods.map(() => 0));
    expect(fs.existsSync(`/sys/fs/bpf/vrfwall/${instance}`)).toBe(false);
  });

  it('without NET_ADMIN it cannot attach (the capability is needed)', async () => {
    const run = runAgent(['BPF', 'PERFMON'], [], 3000);
    const st = (() => {
      try {
        return JSON.parse(fs.readFileSync(agentStatusFile(instance), 'utf8')) as { synced: boolean; lastError?: string };
      } catch {
        return undefined;
      }
    })();
    expect(st).toBeDefined(); // it ran, and said so
    expect(st!.synced).toBe(false);
    expect(`${st!.lastError ?? ''} ${run.stdout}`).toMatch(/EPERM|permission|not permitted/i);
    execFileSync('nsenter', [
      `--net=${netnsPath(state.plan.nodes[0]!.netns)}`, '--', process.execPath, path.join(ROOT, 'dist/cli/main.js'),
      'agent', '--cleanup', '--node-name', 'node1', '--instance', instance,
    ]);
  });
});
