// A real Kubernetes control plane for `make test-real-apiserver`: etcd and
// kube-apiserver (a binary given by path), on 127.0.0.1 only, free ports, a
// temporary directory, certificates and keys made here with openssl. The
// Makefile target runs all of this inside a network namespace of its own
// (vrfwall-realapi-*), so nothing listens outside it.
//
// There is no controller-manager, scheduler or kubelet: pods are bound with
// pods/binding, ServiceAccounts are created by hand. An audit log records
// every request of the agent's identity (the ServiceAccount bound to the
// shipped ClusterRole), with its response code.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';

export const AGENT_SA = { namespace: 'vrfwall-system', name: 'vrfwall-agent' };
export const AGENT_USER = `system:serviceaccount:${AGENT_SA.namespace}:${AGENT_SA.name}`;

export interface ClusterOptions {
  apiserver: string;
  kubectl: string;
  etcd: string;
  dir: string;
  log: (line: string) => void;
}

/** One line of the audit log (level Metadata). */
export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  requestURI: string;
  stageTimestamp: string;
  annotations?: Record<string, string>;
}

export class RealCluster {
  readonly dir: string;
  private etcd: ChildProcess | undefined;
  private apiserver: ChildProcess | undefined;
  private etcdPort = 0;
  private apiPort = 0;
  private apiserverArgs: string[] = [];

  constructor(private readonly o: ClusterOptions) {
    this.dir = o.dir;
  }

  get url(): string {
    return `https://127.0.0.1:${this.apiPort}`;
  }

  get port(): number {
    return this.apiPort;
  }

  get auditLog(): string {
    return path.join(this.dir, 'audit.log');
  }

  /** kubeconfig of the cluster admin (client certificate, group system:masters). */
  get adminKubeconfig(): string {
    return path.join(this.dir, 'admin.kubeconfig');
  }

  async start(): Promise<void> {
    this.makeCertificates();
    this.etcdPort = await freePort();
    const peerPort = await freePort();
    this.etcd = this.spawn('etcd', this.o.etcd, [
      '--name', 'realapi',
      '--data-dir', path.join(this.dir, 'etcd'),
      '--listen-client-urls', `http://127.0.0.1:${this.etcdPort}`,
      '--advertise-client-urls', `http://127.0.0.1:${this.etcdPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `realapi=http://127.0.0.1:${peerPort}`,
    ]);
    await until(async () => (await httpGet(`http://127.0.0.1:${this.etcdPort}/health`)).includes('true'), 30_000, 'etcd healthy');

    this.apiPort = await freePort();
    fs.writeFileSync(
      path.join(this.dir, 'audit-policy.yaml'),
      [
        'apiVersion: audit.k8s.io/v1',
        'kind: Policy',
        'omitStages: [RequestReceived]',
        'rules:',
        '  - level: Metadata',
        `    users: ["${AGENT_USER}"]`,
        '  - level: None',
        '',
      ].join('\n'),
    );
    const f = (n: string): string => path.join(this.dir, n);
    this.apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${this.etcdPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${this.apiPort}`,
      `--cert-dir=${f('apiserver-certs')}`,
      `--tls-cert-file=${f('server.crt')}`,
      `--tls-private-key-file=${f('server.key')}`,
      `--client-ca-file=${f('ca.crt')}`,
      '--authorization-mode=Node,RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${f('sa.pub')}`,
      `--service-account-signing-key-file=${f('sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      `--audit-policy-file=${f('audit-policy.yaml')}`,
      `--audit-log-path=${this.auditLog}`,
      '--audit-log-mode=blocking',
      '--profiling=false',
    ];
    await this.startApiserver();
    this.writeKubeconfig(this.adminKubeconfig, { cert: f('admin.crt'), key: f('admin.key') });
  }

  /** Stop the API server (etcd stays), wait, start it again. */
  async restartApiserver(downMs: number): Promise<void> {
    await stopProcess(this.apiserver);
    await new Promise((r) => setTimeout(r, downMs));
    await this.startApiserver();
  }

  async stop(): Promise<void> {
    await stopProcess(this.apiserver);
    await stopProcess(this.etcd);
  }

  /** kubectl as the cluster admin; returns stdout, throws with stderr. */
  kubectl(args: string[], input?: string): string {
    try {
      return execFileSync(this.o.kubectl, ['--kubeconfig', this.adminKubeconfig, ...args], {
        encoding: 'utf8',
        stdio: ['pipe', 'pipe', 'pipe'],
        ...(input !== undefined ? { input } : {}),
      });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`kubectl ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`);
    }
  }

  /** kubectl that may fail: exit status and both outputs. */
  kubectlResult(args: string[], input?: string): { ok: boolean; out: string } {
    try {
      return { ok: true, out: this.kubectl(args, input) };
    } catch (e) {
      return { ok: false, out: e instanceof Error ? e.message : String(e) };
    }
  }

  /** A kubeconfig with a bearer token (a ServiceAccount's) or a client certificate. */
  writeKubeconfig(file: string, user: { token: string } | { cert: string; key: string }): void {
    const userLines =
      'token' in user ? [`    token: ${user.token}`] : [`    client-certificate: ${user.cert}`, `    client-key: ${user.key}`];
    fs.writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: real',
        '  cluster:',
        `    server: ${this.url}`,
        `    certificate-authority: ${path.join(this.dir, 'ca.crt')}`,
        'users:',
        '- name: user',
        '  user:',
        ...userLines,
        'contexts:',
        '- name: real',
        '  context: {cluster: real, user: user}',
        'current-context: real',
        '',
      ].join('\n'),
    );
  }

  /** The audit log so far: the agent identity's requests. */
  audit(): AuditEvent[] {
    if (!fs.existsSync(this.auditLog)) return [];
    return fs
      .readFileSync(this.auditLog, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as AuditEvent);
  }

  private async startApiserver(): Promise<void> {
    this.apiserver = this.spawn('kube-apiserver', this.o.apiserver, this.apiserverArgs);
    const ca = fs.readFileSync(path.join(this.dir, 'ca.crt'));
    const cert = fs.readFileSync(path.join(this.dir, 'admin.crt'));
    const key = fs.readFileSync(path.join(this.dir, 'admin.key'));
    await until(async () => (await httpsGet(`${this.url}/readyz`, { ca, cert, key })) === 'ok', 90_000, 'kube-apiserver ready');
  }

  private spawn(name: string, bin: string, args: string[]): ChildProcess {
    const out = fs.openSync(path.join(this.dir, `${name}.log`), 'a');
    const child = spawn(bin, args, { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    child.on('exit', (code, signal) => this.o.log(`${name} exited (${signal ?? code})`));
    return child;
  }

  private makeCertificates(): void {
    const d = this.dir;
    const ssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: d, stdio: ['ignore', 'ignore', 'pipe'] });
    ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=vrfwall-realapi-ca']);
    const leaf = (name: string, subject: string, ext: string): void => {
      fs.writeFileSync(path.join(d, `${name}.ext`), ext);
      ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
      ssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
    };
    leaf('server', '/CN=kube-apiserver', 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n');
    leaf('admin', '/O=system:masters/CN=realapi-admin', 'extendedKeyUsage=clientAuth\n');
    ssl(['genrsa', '-out', 'sa.key', '2048']);
    ssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
  }
}

/** A port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a !== null ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    try {
      if (await cond()) return Date.now() - t0;
    } catch {
      // not yet
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function httpGet(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.text();
}

function httpsGet(url: string, tls: { ca: Buffer; cert: Buffer; key: Buffer }): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ...tls, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}
