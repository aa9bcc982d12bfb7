// `make test-real-apiserver KUBE_APISERVER=<path>` (not part of `make test`):
// the agent against a real kube-apiserver and etcd, installed as the README
// says (CRDs, RBAC, ConfigMap, DaemonSet with kubectl), running with a token
// of the ServiceAccount bound to exactly the shipped ClusterRole. Checks what
// a kinder test API server once hid (issue 18), then prints a summary:
//
//  1. a pod created unscheduled, then bound to the node: its Quarantined Event
//  2. an Event counted up (by patch), and no request of the agent refused (403)
//  3. the shipped manifests pass a 1.28 server's strict decoding
//     (kubectl apply --dry-run=server --validate=strict), and the field that
//     needs 1.30 is refused there (negative control)
//  4. quiet watches are not restarted for QUIET_SECONDS (default 100)
//  5. the agent's connections to the API server carry TCP keep-alive
//  6. an API server restart: the agent resumes, a 410 relist (if any) is
//     logged at info with the resource and both resourceVersions
//
// Runs inside a network namespace of its own (test/real-apiserver/run.sh):
// etcd, the API server and the agent all on that namespace's loopback.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { AGENT_SA, AGENT_USER, RealCluster, until, type AuditEvent } from './cluster.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'dist/cli/main.js');
const env = (name: string, fallback?: string): string => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') throw new Error(`${name} is not set (make test-real-apiserver KUBE_APISERVER=<path to kube-apiserver>)`);
  return v;
};
const QUIET_SECONDS = Number(process.env.QUIET_SECONDS ?? 100);
const INSTANCE = `realapi-${process.pid}`;
const NODE = 'node1';
const SUMMARY = process.env.REALAPI_SUMMARY ?? path.join(ROOT, 'build/real-apiserver-summary.txt');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-realapi-'));
const cluster = new RealCluster({
  apiserver: env('KUBE_APISERVER'),
  kubectl: env('KUBECTL', 'kubectl'),
  etcd: env('ETCD', 'etcd'),
  dir,
  log: (l) => console.info(l),
});
let agent: ChildProcess | undefined;
let version = '';
const results: { name: string; ok: boolean; detail: string }[] = [];

/** One numbered check: recorded for the summary whatever happens. */
function check(name: string, fn: () => Promise<string>, timeoutMs: number): void {
  it(name, async () => {
    try {
      const detail = await fn();
      results.push({ name, ok: true, detail });
    } catch (e) {
      results.push({ name, ok: false, detail: e instanceof Error ? e.message.split('\n').slice(0, 6).join(' | ') : String(e) });
      throw e;
    }
  }, timeoutMs);
}

const agentLogFile = path.join(dir, 'agent.log');
function agentLog(): { level: number; msg: string; [k: string]: unknown }[] {
  if (!fs.existsSync(agentLogFile)) return [];
  return fs
    .readFileSync(agentLogFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string });
}

function agentStatus(): { synced?: boolean; quarantined?: Record<string, string> } {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'run', INSTANCE, 'status.json'), 'utf8')) as { synced?: boolean };
  } catch {
    return {};
  }
}

interface EventObj {
  metadata: { name: string };
  involvedObject: { kind: string; name: string; namespace?: string };
  reason: string;
  message: string;
  count?: number;
  source?: { host?: string };
}
function events(namespace: string, pod: string, reason: string): EventObj[] {
  const list = JSON.parse(cluster.kubectl(['get', 'events', '-n', namespace, '-o', 'json'])) as { items: EventObj[] };
  return list.items.filter((e) => e.involvedObject.kind === 'Pod' && e.involvedObject.name === pod && e.reason === reason);
}

/** Requests of the agent's identity by verb and resource ("watch pods"), one per audit ID. */
function requestCounts(audit: AuditEvent[]): Map<string, number> {
  const seen = new Set<string>();
  const out = new Map<string, number>();
  for (const e of audit) {
    if (e.user.username !== AGENT_USER || seen.has(e.auditID)) continue;
    seen.add(e.auditID);
    const k = `${e.verb} ${e.objectRef?.resource ?? e.requestURI}`;
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

/** 403s of the agent's requests: what the ClusterRole did not grant. */
function refused(audit: AuditEvent[]): string[] {
  return forbidden(audit).filter((e) => !startingUp(e)).map((e) => `${e.verb} ${e.requestURI}: ${e.annotations?.['authorization.k8s.io/reason'] ?? ''}`);
}

/** 403s while a (re)started API server had not loaded its RBAC objects yet, which the agent's retry then got. */
function refusedAtStart(audit: AuditEvent[]): number {
  return forbidden(audit).filter(startingUp).length;
}

function forbidden(audit: AuditEvent[]): AuditEvent[] {
  const complete = audit.filter((e) => e.user.username === AGENT_USER && e.stage === 'ResponseComplete');
  const code = (e: AuditEvent): number => e.responseStatus?.code ?? 0;
  const what = (e: AuditEvent): string => `${e.verb} ${e.objectRef?.apiGroup ?? ''}/${e.objectRef?.resource ?? ''}`;
  return complete
    .filter((e) => code(e) === 403)
    .map((e) => ({
      ...e,
      // The same request (verb, resource) granted later: the 403 was the server's, not a missing permission.
      grantedLater: complete.some((l) => what(l) === what(e) && code(l) >= 200 && code(l) < 300 && l.stageTimestamp > e.stageTimestamp),
    }));
}

/**
 * A restarted API server answers before its RBAC informers have synced: with
 * the role "not found", or with no reason at all (no binding seen yet). Such a
 * 403 is followed by the same request granted once the agent retries; one for
 * a permission the ClusterRole lacks never is.
 */
function startingUp(e: AuditEvent & { grantedLater?: boolean }): boolean {
  const reason = e.annotations?.['authorization.k8s.io/reason'] ?? '';
  return e.grantedLater === true && (reason === '' || reason.includes(`clusterrole.rbac.authorization.k8s.io "${AGENT_SA.name}" not found`));
}

const KIND_OF: Record<string, string> = {
  namespaces: 'Namespace',
  pods: 'Pod',
  nodes: 'Node',
  services: 'Service',
  endpointslices: 'EndpointSlice',
  virtualnetworks: 'VirtualNetwork',
  virtualnetworkrouters: 'VirtualNetworkRouter',
  'network-attachment-definitions': 'NetworkAttachmentDefinition',
};

/** A pod as a Deployment makes it: no node yet. */
function podManifest(ns: string, name: string, annotations: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, annotations },
    spec: { containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.9' }] },
  });
}

function bind(ns: string, name: string, node: string): void {
  const binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace: ns }, target: { apiVersion: 'v1', kind: 'Node', name: node } };
  cluster.kubectl(['create', '--raw', `/api/v1/namespaces/${ns}/pods/${name}/binding`, '-f', '-'], JSON.stringify(binding));
}

beforeAll(async () => {
  await cluster.start();
  version = JSON.parse(cluster.kubectl(['version', '-o', 'json'])).serverVersion.gitVersion as string;
  // Installed as the README says.
  cluster.kubectl(['apply', '-f', path.join(ROOT, 'crds/')]);
  cluster.kubectl(['apply', '-f', path.join(ROOT, 'deploy/namespace.yaml')]);
  cluster.kubectl(['apply', '-f', path.join(ROOT, 'deploy/rbac.yaml'), '-f', path.join(ROOT, 'deploy/configmap.yaml')]);
  // Without a controller-manager nothing makes the namespaces' default ServiceAccounts.
  cluster.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } }));
  cluster.kubectl(['create', 'serviceaccount', 'default', '-n', 'demo']);
  cluster.kubectl(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE } },
    status: { addresses: [{ type: 'InternalIP', address: '192.168.50.1' }] },
  }));
  await until(() => cluster.kubectlResult(['get', 'crd', 'virtualnetworks.vrfwall.dev']).ok, 30_000, 'CRDs established');

  // The agent: a token of the shipped ServiceAccount, nothing else.
  const token = cluster.kubectl(['create', 'token', AGENT_SA.name, '-n', AGENT_SA.namespace, '--duration', '3h']).trim();
  const kubeconfig = path.join(dir, 'agent.kubeconfig');
  cluster.writeKubeconfig(kubeconfig, { token });
  const out = fs.openSync(path.join(dir, 'agent.out'), 'w');
  agent = spawn(
    process.execPath,
    [
      MAIN, 'agent', '--source', 'kube', '--kubeconfig', kubeconfig, '--node-name', NODE, '--instance', INSTANCE,
      '--run-dir', path.join(dir, 'run'), '--pod-cidr', '10.244.0.0/16', '--service-cidr', '10.96.0.0/16',
      '--resync', '5', '--log-file', agentLogFile, '--log-level', 'debug', '--metrics-port', '0', '--grpc-socket', 'none',
    ],
    { stdio: ['ignore', out, out] },
  );
  fs.closeSync(out);
  await until(() => agentStatus().synced === true, 60_000, 'agent synced');
}, 240_000);

afterAll(async () => {
  if (agent !== undefined && agent.exitCode === null) {
    const exited = new Promise((r) => agent!.once('exit', r));
    agent.kill('SIGTERM');
    await exited;
  }
  try {
    execFileSync(process.execPath, [MAIN, 'agent', '--cleanup', '--node-name', NODE, '--instance', INSTANCE, '--run-dir', path.join(dir, 'run')], { stdio: 'ignore' });
  } catch {
    // reported by the agent's own log
  }
  await cluster.stop();
  const lines = [
    `make test-real-apiserver: kube-apiserver ${version || '(not started)'}, etcd and kubectl on 127.0.0.1 of a private network namespace; agent as ${AGENT_USER}`,
    ...results.map((r) => `${r.ok ? 'PASS' : 'FAIL'}  ${r.name}\n      ${r.detail}`),
    `${results.every((r) => r.ok) && results.length > 0 ? 'PASSED' : 'FAILED'}: ${results.filter((r) => r.ok).length} of ${results.length} checks (logs in ${dir})`,
  ];
  fs.mkdirSync(path.dirname(SUMMARY), { recursive: true });
  fs.writeFileSync(SUMMARY, `${lines.join('\n')}\n`);
});

describe(`the agent against a real kube-apiserver`, () => {
  check('3. the shipped manifests pass strict decoding (kubectl apply --dry-run=server --validate=strict); the 1.30 field does not', async () => {
    const ds = path.join(ROOT, 'deploy/daemonset.yaml');
    const dry = cluster.kubectlResult(['apply', '--dry-run=server', '--validate=strict', '-f', ds]);
    expect(dry.ok, dry.out).toBe(true);
    // Negative control: the field this server does not know is refused by the same call.
    const doc = YAML.parse(fs.readFileSync(ds, 'utf8')) as { spec: { template: { metadata: { annotations?: object }; spec: { containers: { securityContext: Record<string, unknown> }[] } } } };
    const withField = structuredClone(doc);
    delete withField.spec.template.metadata.annotations;
    withField.spec.template.spec.containers[0]!.securityContext.appArmorProfile = { type: 'Unconfined' };
    const refusedField = cluster.kubectlResult(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], JSON.stringify(withField));
    expect(refusedField.ok).toBe(false);
    expect(refusedField.out).toMatch(/unknown field "spec\.template\.spec\.containers\[0\]\.securityContext\.appArmorProfile"/);
    // Installed for real (README: kubectl apply -f deploy/), and the annotation is kept.
    cluster.kubectl(['apply', '-f', path.join(ROOT, 'deploy/')]);
    const stored = JSON.parse(cluster.kubectl(['get', 'daemonset', '-n', 'vrfwall-system', 'vrfwall-agent', '-o', 'json'])) as typeof doc;
    expect(stored.spec.template.metadata.annotations).toEqual({ 'container.apparmor.security.beta.kubernetes.io/agent': 'unconfined' });
    return `${version} accepts crds and deploy strictly; refuses the appArmorProfile field ("${/unknown field "[^"]+"/.exec(refusedField.out)?.[0]}"); stored DaemonSet keeps the AppArmor annotation`;
  }, 60_000);

  check('1. a pod created unscheduled, then bound to this node: the agent writes its Quarantined Event', async () => {
    cluster.kubectl(['create', '-f', '-'], podManifest('demo', 'web', { 'vrfwall.dev/network': 'demo/no-such-network' }));
    await until(() => agentStatus().quarantined?.['demo/web'] !== undefined, 30_000, 'the agent sees the pending pod quarantined');
    await new Promise((r) => setTimeout(r, 2000));
    expect(events('demo', 'web', 'Quarantined'), 'no node yet: nobody’s to tell').toEqual([]);
    const t0 = Date.now();
    bind('demo', 'web', NODE);
    await until(() => events('demo', 'web', 'Quarantined').length > 0, 30_000, 'Quarantined Event after binding');
    const ev = events('demo', 'web', 'Quarantined')[0]!;
    expect(ev.source?.host).toBe(NODE);
    return `Event ${ev.metadata.name} by ${ev.source?.host} ${((Date.now() - t0) / 1000).toFixed(1)} s after binding: "${ev.message}"`;
  }, 90_000);

  check('2. the Event is counted up by patch (the shipped ClusterRole: create, patch), no 403', async () => {
    // The problem goes away and comes back, twice: the same Event again
    // each time (written at most every 30 s), so it is counted up at least once.
    for (let i = 0; i < 2; i++) {
      cluster.kubectl(['annotate', 'pod', '-n', 'demo', 'web', 'vrfwall.dev/network-']);
      await until(() => agentStatus().quarantined?.['demo/web'] === undefined, 30_000, 'problem gone');
      cluster.kubectl(['annotate', 'pod', '-n', 'demo', 'web', 'vrfwall.dev/network=demo/no-such-network']);
      await until(() => agentStatus().quarantined?.['demo/web'] !== undefined, 30_000, 'problem back');
    }
    await until(() => (events('demo', 'web', 'Quarantined')[0]?.count ?? 0) >= 2 || refused(cluster.audit()).length > 0, 75_000, 'Event count 2 (or a refusal)');
    expect(refused(cluster.audit())).toEqual([]);
    const evs = events('demo', 'web', 'Quarantined');
    expect(evs).toHaveLength(1);
    const audit = cluster.audit();
    const writes = audit.filter((e) => e.user.username === AGENT_USER && e.objectRef?.resource === 'events' && e.stage === 'ResponseComplete');
    const patches = writes.filter((e) => e.verb === 'patch');
    expect(patches.map((e) => e.responseStatus?.code)).toContain(200);
    expect(writes.filter((e) => e.verb === 'update')).toEqual([]);
    expect(refused(audit)).toEqual([]);
    return `count ${evs[0]!.count}; agent's Event writes (audit): ${writes.map((e) => `${e.verb} ${e.responseStatus?.code}`).join(', ')}; 403s: none`;
  }, 120_000);

  check(`4. quiet watches are not restarted within ${QUIET_SECONDS} s (a real server sends no bookmark on an unchanged resource)`, async () => {
    const before = requestCounts(cluster.audit());
    const watchesBefore = [...before].filter(([k]) => k.startsWith('watch '));
    expect(watchesBefore.length).toBe(7);
    const logBefore = agentLog().length;
    await new Promise((r) => setTimeout(r, QUIET_SECONDS * 1000));
    const after = requestCounts(cluster.audit());
    const restarted = watchesBefore.filter(([k, n]) => after.get(k) !== n).map(([k, n]) => `${k}: ${n} -> ${after.get(k)}`);
    const lists = [...after].filter(([k, n]) => k.startsWith('list ') && before.get(k) !== n).map(([k]) => k);
    const warnings = agentLog().slice(logBefore).filter((l) => l.level >= 40).map((l) => l.msg);
    expect(restarted).toEqual([]);
    expect(lists).toEqual([]);
    expect(warnings).toEqual([]);
    return `${watchesBefore.map(([k, n]) => `${k.replace('watch ', '')} ${n}`).join(', ')} watch request(s) before and after ${QUIET_SECONDS} s; no relist, no warning`;
  }, (QUIET_SECONDS + 60) * 1000);

  check('5. the agent’s connections to the API server carry TCP keep-alive', async () => {
    const ss = execFileSync('ss', ['-tnoHp', 'state', 'established', `( dport = :${cluster.port} )`], { encoding: 'utf8' });
    const mine = ss.split('\n').filter((l) => l.includes(`pid=${agent!.pid},`));
    expect(mine.length).toBeGreaterThanOrEqual(7);
    const without = mine.filter((l) => !/timer:\(keepalive,/.test(l));
    expect(without).toEqual([]);
    const idle = [...new Set(mine.map((l) => /timer:\(keepalive,([^,]+),/.exec(l)?.[1]))].slice(0, 3).join(', ');
    return `${mine.length} connections, all with a keep-alive timer (e.g. ${idle})`;
  }, 30_000);

  check('6. an API server restart: the agent resumes its watches; a 410 relist is logged at info with both resourceVersions', async () => {
    const before = requestCounts(cluster.audit());
    const logBefore = agentLog().length;
    await cluster.restartApiserver(3000);
    await until(() => {
      const now = requestCounts(cluster.audit());
      return [...before].filter(([k]) => k.startsWith('watch ')).every(([k, n]) => (now.get(k) ?? 0) > n);
    }, 90_000, 'every watch opened again');
    // Live again: a change arrives (a second quarantined pod, bound at once).
    cluster.kubectl(['create', '-f', '-'], podManifest('demo', 'web2', { 'vrfwall.dev/network': 'demo/no-such-network' }));
    bind('demo', 'web2', NODE);
    await until(() => events('demo', 'web2', 'Quarantined').length > 0, 60_000, 'Event for a pod made after the restart');
    const gone = agentLog().slice(logBefore).filter((l) => l.msg.includes('410 Gone'));
    for (const l of gone) {
      expect(l.level).toBe(30);
      expect(l.expiredVersion).toBeTruthy();
      expect(l.listedVersion).toBeTruthy();
    }
    // Every relist after the restart (a 410: the fresh watch cache cannot serve the old resume points) is in the log.
    const now = requestCounts(cluster.audit());
    const relisted = [...now].filter(([k, n]) => k.startsWith('list ') && n > (before.get(k) ?? 0)).map(([k]) => KIND_OF[k.slice(5)] ?? k).sort();
    expect(gone.map((l) => String(l.kind)).sort()).toEqual(relisted);
    expect(refused(cluster.audit())).toEqual([]);
    const relists = gone.map((l) => `${String(l.kind)} ${String(l.expiredVersion)} -> ${String(l.listedVersion)}`).join('; ');
    const early = refusedAtStart(cluster.audit());
    return (
      `watches resumed; ${gone.length > 0 ? `410 relists logged at info: ${relists}` : 'no 410 (every resume point still served)'}; ` +
      `no 403 for want of a permission${early > 0 ? ` (${early} while the restarted server had not loaded its RBAC roles yet, retried)` : ''}`
    );
  }, 180_000);
});
