// Agent settings: flags, environment and config file agree, precedence is
// flag > env > file > default, and bad configuration is exit 2 with a
// message naming the setting (before anything touches the kernel).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { labFileCidrsOf } from '../src/lab/cluster-file.js';
import {
  AGENT_OPTIONS,
  ConfigError,
  camelName,
  envNames,
  loadAgentConfig,
  resolveSettings,
  type OptionSpec,
} from '../src/agent/config.js';
const ROOT = path.resolve(import.meta.dirname, '..');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-config-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const MAIN = path.join(ROOT, 'dist/cli/main.js');
const BPF_DIR = path.join(ROOT, 'build/bpf');

/** A self-signed certificate with these subjectAltNames (openssl, EC P-256). */
function makeCert(cert: string, key: string, san: string): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=vrfwall-operator', '-addext', `subjectAltName=${san}`, '-keyout', key, '-out', cert], { stdio: 'pipe' });
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

/** A valid value of an option, in its typed form and as flag/env text. */
function sample(o: OptionSpec): { typed: unknown; text: string; flag: unknown } {
  switch (o.kind) {
    case 'boolean':
      return { typed: true, text: 'true', flag: true };
    case 'number':
      return { typed: 7, text: '7', flag: '7' };
    case 'list':
      return { typed: ['10.1.0.0/16', '10.2.0.0/16'], text: '10.1.0.0/16,10.2.0.0/16', flag: ['10.1.0.0/16', '10.2.0.0/16'] };
    case 'string': {
      // A value the entry's own check accepts (entries are added by several people).
      const candidates = [`/x/${o.name}`, 'abc', '127.0.0.1:9443'];
      const v = o.choices?.[o.choices.length - 1] ?? candidates.find((c) => o.check?.(c) === undefined) ?? candidates[0]!;
      return { typed: v, text: v, flag: v };
    }
  }
}

describe('resolveSettings', () => {
  const options = AGENT_OPTIONS.filter((o) => o.name !== 'config');

  it.each(options.map((o) => [o.name, o] as const))('%s: flag, environment and config file give the same value', (_n, o) => {
    const s = sample(o);
    const field = camelName(o.name);
    const env = envNames(o)[0] as string;
    const byFlag = resolveSettings({ flags: { [field]: s.flag } });
    const byEnv = resolveSettings({ env: { [env]: s.text } });
    const byFile = resolveSettings({ file: { [o.name]: s.typed } });
    const byFileText = resolveSettings({ file: YAML.parse(`${o.name}: "${s.text}"`) as unknown });
    for (const r of [byFlag, byEnv, byFile, byFileText]) expect((r.settings as Record<string, unknown>)[field]).toEqual(s.typed);
    expect([byFlag, byEnv, byFile].map((r) => r.origins[o.name])).toEqual(['flag', 'env', 'file']);
  });

  it('precedence: flag > environment > file > default', () => {
    const file = { resync: 3, 'log-level': 'warn', 'pod-cidr': ['10.3.0.0/16'], instance: 'fromfile' };
    const env = { VRFWALL_RESYNC: '2', VRFWALL_LOG_LEVEL: 'debug' };
    const flags = { resync: '1' };
    const { settings, origins } = resolveSettings({ flags, env, file });
    expect(settings.resync).toBe(1);
    expect(settings.logLevel).toBe('debug');
    expect(settings.podCidr).toEqual(['10.3.0.0/16']);
    expect(settings.instance).toBe('fromfile');
    expect(settings.attachMode).toBe('auto');
    expect(settings.cleanup).toBe(false);
    expect(origins).toMatchObject({ resync: 'flag', 'log-level': 'env', 'pod-cidr': 'file', instance: 'file', 'attach-mode': 'default' });
  });

  it('node name: --node-name, then VRFWALL_NODE_NAME, then NODE_NAME (downward API), then the file', () => {
    expect(resolveSettings({ env: { NODE_NAME: 'k' }, file: { 'node-name': 'f' } }).settings.nodeName).toBe('k');
    expect(resolveSettings({ env: { NODE_NAME: 'k', VRFWALL_NODE_NAME: 'v' } }).settings.nodeName).toBe('v');
    expect(resolveSettings({ flags: { nodeName: 'x' }, env: { NODE_NAME: 'k' } }).settings.nodeName).toBe('x');
    expect(resolveSettings({ file: { 'node-name': 'f' } }).settings.nodeName).toBe('f');
    expect(resolveSettings({}).settings.nodeName).toBeUndefined();
  });

  it('lists: repeated flags, comma-separated text and YAML sequences are the same list', () => {
    const want = ['10.0.0.0/8', 'fd00::/8'];
    expect(resolveSettings({ flags: { podCidr: ['10.0.0.0/8', 'fd00::/8'] } }).settings.podCidr).toEqual(want);
    expect(resolveSettings({ env: { VRFWALL_POD_CIDR: '10.0.0.0/8, fd00::/8' } }).settings.podCidr).toEqual(want);
    expect(resolveSettings({ file: { 'pod-cidr': want } }).settings.podCidr).toEqual(want);
    expect(resolveSettings({ file: { 'pod-cidr': '10.0.0.0/8,fd00::/8' } }).settings.podCidr).toEqual(want);
  });

  it.each([
    [{ flags: { resync: '0' } }, 'resync', /--resync: "0" is below the minimum 0.1/],
    [{ flags: { resync: 'soon' } }, 'resync', /not a number/],
    [{ env: { VRFWALL_MAX_ENDPOINTS: '2.5' } }, 'max-endpoints', /VRFWALL_MAX_ENDPOINTS: "2.5" is not an integer/],
    [{ flags: { attachMode: 'xdp' } }, 'attach-mode', /"xdp" is not one of auto, tcx, tc/],
    [{ env: { VRFWALL_ENFORCEMENT: 'observe' } }, 'enforcement', /"observe" is not one of enforce, audit/],
    [{ flags: { networkPolicy: 'maybe' } }, 'network-policy', /"maybe" is not one of on, off/],
    [{ env: { VRFWALL_POD_CIDR: '10.0.0.0/8,10.0.0/8' } }, 'pod-cidr', /"10.0.0\/8" is not a CIDR/],
    [{ file: { 'log-level': 'loud' }, fileName: 'a.yaml' }, 'log-level', /log-level \(in a.yaml\): "loud" is not one of/],
    [{ file: { cleanup: 'maybe' } }, 'cleanup', /not true or false/],
    [{ file: { instance: 'a/b' } }, 'instance', /use letters, digits/],
    [{ file: { 'run-dir': 'relative' } }, 'run-dir', /absolute path/],
    [{ file: { 'node-nmae': 'x' }, fileName: 'c.yaml' }, 'node-nmae', /c.yaml: unknown setting "node-nmae"/],
    [{ file: ['not', 'a', 'map'] }, 'config', /must be a mapping/],
    [{ file: { 'pod-cidr': { a: 1 } } }, 'pod-cidr', /is not text/],
    [{ env: { VRFWALL_INSTANCE: '' }, flags: { instance: '' } }, 'instance', /is empty/],
  ])('bad input %j is a ConfigError naming %s', (inputs, key, message) => {
    const e = configError(() => resolveSettings(inputs));
    expect(e.key).toBe(key);
    expect(e.message).toMatch(message);
  });

  it('enforcement: enforce by default; audit by flag, VRFWALL_ENFORCEMENT or the file', () => {
    expect(resolveSettings({}).settings.enforcement).toBe('enforce');
    expect(resolveSettings({ flags: { enforcement: 'audit' } }).settings.enforcement).toBe('audit');
    expect(resolveSettings({ env: { VRFWALL_ENFORCEMENT: 'audit' } }).settings.enforcement).toBe('audit');
    expect(resolveSettings({ file: { enforcement: 'audit' }, flags: { enforcement: 'enforce' } }).settings.enforcement).toBe('enforce');
  });

  it('network-policy: on by default; off by flag, VRFWALL_NETWORK_POLICY or the file', () => {
    expect(resolveSettings({}).settings.networkPolicy).toBe('on');
    expect(resolveSettings({ flags: { networkPolicy: 'off' } }).settings.networkPolicy).toBe('off');
    expect(resolveSettings({ env: { VRFWALL_NETWORK_POLICY: 'off' } }).settings.networkPolicy).toBe('off');
    expect(resolveSettings({ file: { 'network-policy': 'off' } }).settings.networkPolicy).toBe('off');
    expect(resolveSettings({ file: { 'network-policy': 'off' }, flags: { networkPolicy: 'on' } }).settings.networkPolicy).toBe('on');
  });

  it('an empty environment variable counts as unset', () => {
    expect(resolveSettings({ env: { VRFWALL_LOG_LEVEL: '' }, file: { 'log-level': 'warn' } }).settings.logLevel).toBe('warn');
  });
});

describe('loadAgentConfig', () => {
  const manifests = path.join(tmp, 'manifests');
  fs.mkdirSync(manifests, { recursive: true });
  const base = { nodeName: 'n1', manifests: [manifests], podCidr: ['10.244.0.0/16'] };

  it('builds the AgentConfig from a config file, with canonical CIDRs and the default bpf dir', () => {
    const file = path.join(tmp, 'agent.yaml');
    fs.writeFileSync(
      file,
      YAML.stringify({ 'node-name': 'fromfile', manifests: [manifests], 'pod-cidr': ['10.244.7.9/16', 'FD00:10::/48'], resync: 0.5, 'attach-mode': 'tc' }),
    );
    const r = loadAgentConfig({ flags: { config: file }, env: {}, defaultBpfDir: BPF_DIR });
    expect(r.config).toMatchObject({
      nodeName: 'fromfile',
      podCIDRs: ['10.244.0.0/16', 'fd00:10::/48'],
      serviceCIDRs: [],
      resyncMs: 500,
      attachMode: 'tc',
      bpfDir: BPF_DIR,
      instance: 'default',
    });
    // The file is also found through VRFWALL_CONFIG.
    expect(loadAgentConfig({ env: { VRFWALL_CONFIG: file }, defaultBpfDir: BPF_DIR }).config.nodeName).toBe('fromfile');
  });

  it("takes pod and service CIDRs from an embedding program (the lab's cluster file) when not set, explicit ones win", () => {
    const lab = path.join(tmp, 'cluster.json');
    fs.writeFileSync(lab, JSON.stringify({ version: 1, podCIDRs: ['10.9.0.0/16'], serviceCIDRs: ['10.8.0.0/16'], nodes: [], pods: {} }));
    const cidrDefaults = () => labFileCidrsOf(lab);
    const r = loadAgentConfig({ flags: { ...base, podCidr: undefined }, defaultBpfDir: BPF_DIR, cidrDefaults });
    expect([r.config.podCIDRs, r.config.serviceCIDRs]).toEqual([['10.9.0.0/16'], ['10.8.0.0/16']]);
    const r2 = loadAgentConfig({ flags: base, defaultBpfDir: BPF_DIR, cidrDefaults });
    expect(r2.config.podCIDRs).toEqual(['10.244.0.0/16']);
    // The agent alone has no such defaults.
    expect(configError(() => loadAgentConfig({ flags: { ...base, podCidr: undefined }, defaultBpfDir: BPF_DIR })).key).toBe('pod-cidr');
  });

  it('a missing lab file is a ConfigError naming --lab-file', () => {
    const e = configError(() => loadAgentConfig({ flags: { ...base, podCidr: [] }, defaultBpfDir: BPF_DIR, cidrDefaults: () => labFileCidrsOf('/nonexistent/cluster.json') }));
    expect(e.key).toBe('lab-file');
    expect(e.message).toMatch(/ENOENT/);
  });

  it('reads only the lab file as a whole: an unusable file is a ConfigError with the source\'s words, a bad pod entry is not', () => {
    const lab = path.join(tmp, 'cluster-bad.json');
    const settings = { version: 1, podCIDRs: ['10.9.0.0/16'], serviceCIDRs: ['10.8.0.0/16'], nodes: [] };
    const load = (content: unknown): ReturnType<typeof loadAgentConfig> => {
      fs.writeFileSync(lab, typeof content === 'string' ? content : JSON.stringify(content));
      return loadAgentConfig({ flags: { ...base, podCidr: undefined }, defaultBpfDir: BPF_DIR, cidrDefaults: () => labFileCidrsOf(lab) });
    };
    // A pod entry the source will skip (with a problem) does not stop the agent.
    expect(load({ ...settings, pods: { 'ns/p': { node: 'n1', ips: ['not-an-ip'] }, bad: 1 } }).config.podCIDRs).toEqual(['10.9.0.0/16']);
    const cases: [unknown, RegExp][] = [
      ['{', /--lab-file: not JSON/],
      [{ ...settings, version: 2, pods: {} }, /--lab-file: version 2 is not supported/],
      [{ ...settings, podCIDRs: ['x'], pods: {} }, /--lab-file: "podCIDRs" must be a list of CIDRs/],
      [{ ...settings, pods: [] }, /--lab-file: "pods" must be an object/],
    ];
    for (const [content, message] of cases) {
      const e = configError(() => load(content));
      expect(e.key).toBe('lab-file');
      expect(e.message).toMatch(message);
    }
  });

  it.each([
    [{ nodeName: undefined }, 'node-name', /--node-name \(or NODE_NAME/],
    [{ manifests: [] }, 'manifests', /--manifests is required/],
    [{ manifests: ['/nonexistent/dir'] }, 'manifests', /not a directory/],
    [{ podCidr: [] }, 'pod-cidr', /--pod-cidr is required/],
    [{ bpfDir: '/nonexistent' }, 'bpf-dir', /no from_pod.o/],
    [{ config: '/nonexistent.yaml' }, 'config', /--config \/nonexistent.yaml: ENOENT/],
  ])('%j: ConfigError naming %s', (change, key, message) => {
    const e = configError(() => loadAgentConfig({ flags: { ...base, ...change }, env: {}, defaultBpfDir: BPF_DIR }));
    expect(e.key).toBe(key);
    expect(e.message).toMatch(message);
  });

  it('the TCP API needs its three TLS files; with none of them there (no Secret on this node) it is off and the agent still runs', () => {
    const dirTls = path.join(tmp, 'tls');
    fs.mkdirSync(dirTls, { recursive: true });
    const files = { grpcTlsCert: path.join(dirTls, 'tls.crt'), grpcTlsKey: path.join(dirTls, 'tls.key'), grpcTlsCa: path.join(dirTls, 'ca.crt') };
    const load = () => loadAgentConfig({ flags: { ...base, grpcListen: '0.0.0.0:9444', ...files }, defaultBpfDir: BPF_DIR });
    // None there: off, saying why.
    const off = load().config.observability!;
    expect(off.listen).toBeUndefined();
    expect(off.listenOff).toMatch(/none of --grpc-tls-cert, --grpc-tls-key, --grpc-tls-ca exists/);
    // One there: a mistake, refused.
    fs.writeFileSync(files.grpcTlsCert, 'x');
    expect(configError(load).key).toBe('grpc-tls-key');
    // All there: the listener (its certificate is read: its names are the identity no client may show).
    makeCert(files.grpcTlsCert, files.grpcTlsKey, 'DNS:vrfwall-agent');
    fs.writeFileSync(files.grpcTlsCa, 'x');
    expect(load().config.observability).toMatchObject({ listen: '0.0.0.0:9444', tls: { cert: files.grpcTlsCert } });
    expect(load().config.observability?.listenOff).toBeUndefined();
  });

  describe('--grpc-allowed-clients: who may call the TCP API', () => {
    const dirTls = path.join(tmp, 'tls-clients');
    fs.mkdirSync(dirTls, { recursive: true });
    const files = { grpcTlsCert: path.join(dirTls, 'tls.crt'), grpcTlsKey: path.join(dirTls, 'tls.key'), grpcTlsCa: path.join(dirTls, 'ca.crt') };
    makeCert(files.grpcTlsCert, files.grpcTlsKey, 'DNS:vrfwall-agent,URI:spiffe://cluster.local/ns/vrfwall-system/sa/vrfwall-agent,IP:10.0.0.1');
    fs.writeFileSync(files.grpcTlsCa, 'x');
    const load = (more: Record<string, unknown> = {}) =>
      loadAgentConfig({ flags: { ...base, grpcListen: '0.0.0.0:9444', ...files, ...more }, defaultBpfDir: BPF_DIR }).config.observability!;

    it("default: the relay's and operators' names; the agent's own certificate names (DNS and URI, not IP) are refused", () => {
      expect(load().clients).toEqual({
        allowed: ['vrfwall-relay.vrfwall-system.svc', 'vrfwall-operator'],
        refused: ['vrfwall-agent', 'spiffe://cluster.local/ns/vrfwall-system/sa/vrfwall-agent'],
      });
      expect(load({ grpcAllowedClients: ['ops.example.com', 'spiffe://x/relay'] }).clients?.allowed).toEqual(['ops.example.com', 'spiffe://x/relay']);
    });

    it.each([
      [{ grpcAllowedClients: ['vrfwall-operator', 'vrfwall-agent'] }, 'grpc-allowed-clients', /vrfwall-agent is this agent's own certificate name/],
      [{ grpcTlsCert: files.grpcTlsCa }, 'grpc-tls-cert', /not a PEM certificate/],
      [{ grpcListen: undefined, grpcTlsCert: undefined, grpcTlsKey: undefined, grpcTlsCa: undefined, grpcAllowedClients: ['vrfwall-operator'] }, 'grpc-allowed-clients', /only applies with --grpc-listen/],
    ])('%j: ConfigError naming %s', (change, key, message) => {
      const e = configError(() => load(change));
      expect(e.key).toBe(key);
      expect(e.message).toMatch(message);
    });
  });

  it('--cleanup needs only the node name and instance', () => {
    const r = loadAgentConfig({ flags: { nodeName: 'n', cleanup: true }, defaultBpfDir: '/nonexistent' });
    expect(r.settings.cleanup).toBe(true);
  });
});

describe('vrfwall agent command line', () => {
  const agent = (args: string[], env: Record<string, string> = {}) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VRFWALL_') && k !== 'NODE_NAME'));
    return spawnSync(process.execPath, [MAIN, 'agent', ...args], { encoding: 'utf8', env: { ...clean, ...env }, timeout: 20_000 });
  };

  it('--help documents every setting with its environment variables', () => {
    const r = agent(['--help']);
    expect(r.status).toBe(0);
    const help = r.stdout.replace(/\s+/g, ' ');
    for (const o of AGENT_OPTIONS) {
      expect(help).toContain(`--${o.name}`);
      for (const e of envNames(o)) expect(help).toContain(e);
    }
  });

  it.each([
    [['--bogus'], {}, /unknown option '--bogus'/],
    [['--node-name', 'n', '--manifests', tmp, '--pod-cidr', '10.0.0/8'], {}, /--pod-cidr: "10.0.0\/8" is not a CIDR/],
    [['--manifests', tmp, '--pod-cidr', '10.0.0.0/8'], {}, /--node-name \(or NODE_NAME/],
    [['--manifests', tmp], { NODE_NAME: 'n', VRFWALL_RESYNC: '-1' }, /VRFWALL_RESYNC: "-1" is below the minimum/],
    [['--node-name', 'n', '--manifests', tmp, '--pod-cidr', '10.0.0.0/8', '--grpc-allowed-clients', '*.vrfwall-system.svc'], {}, /--grpc-allowed-clients: "\*\.vrfwall-system\.svc" is not a certificate name/],
    [['--manifests', tmp], { NODE_NAME: 'n', VRFWALL_GRPC_ALLOWED_CLIENTS: 'vrfwall operator' }, /VRFWALL_GRPC_ALLOWED_CLIENTS: "vrfwall operator" is not a certificate name/],
  ])('%j exits 2 with a message naming the setting', (args, env, message) => {
    const r = agent(args, env);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it("takes no lab file: that is the lab's agent (vrfwall-lab agent), which requires one", () => {
    const file = path.join(tmp, 'cluster-cli.json');
    fs.writeFileSync(file, JSON.stringify({ version: 1, podCIDRs: ['10.9.0.0/16'], serviceCIDRs: ['10.8.0.0/16'], nodes: [], pods: {} }));
    const r = agent(['--node-name', 'n', '--manifests', tmp, '--lab-file', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--lab-file'/);
    const labAgent = (args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'dist/lab/main.js'), 'agent', ...args], { encoding: 'utf8', timeout: 20_000 });
    const missing = labAgent(['--node-name', 'n', '--manifests', tmp]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('--lab-file is required');
    // A lab file it cannot read is a configuration error naming it.
    const bad = labAgent(['--node-name', 'n', '--manifests', tmp, '--lab-file', path.join(tmp, 'none.json')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--lab-file .*none\.json: ENOENT/);
  });

  it('a config file with an unknown key exits 2 naming the key', () => {
    const file = path.join(tmp, 'typo.yaml');
    fs.writeFileSync(file, 'node-name: n\nresynk: 5\n');
    const r = agent(['--config', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown setting "resynk"');
  });
});

describe('vrfwall probe (the DaemonSet probes)', () => {
  const runDir = path.join(tmp, 'run');
  const write = (st: object) => {
    fs.mkdirSync(path.join(runDir, 'p1'), { recursive: true });
    fs.writeFileSync(path.join(runDir, 'p1', 'status.json'), JSON.stringify(st));
  };
  const status = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [MAIN, 'probe', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 });
    // Anything but a verdict (0/1 with a one-line reason) is a crash: show it.
    if (r.status !== 0 && r.status !== 1) throw new Error(`status ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
    if (r.stderr !== '') throw new Error(`status ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const base = { node: 'n', attachMode: 'tcx', attached: [], quarantined: {} };

  it('--ready: 0 only once the live agent has synced; --live: 0 while it runs and keeps reconciling', () => {
    const now = new Date().toISOString();
    write({ ...base, pid: process.pid, generation: 0, synced: false, time: now });
    expect(status(['--ready', '--instance', 'p1', '--run-dir', runDir]).status).toBe(1);
    expect(status(['--live', '--instance', 'p1', '--run-dir', runDir]).status).toBe(0); // starting
    write({ ...base, pid: process.pid, generation: 3, synced: true, time: now });
    // Instance and run dir found the way the agent finds them: here from the environment and a config file.
    expect(status(['--ready'], { VRFWALL_INSTANCE: 'p1', VRFWALL_RUN_DIR: runDir }).status).toBe(0);
    const cfg = path.join(tmp, 'probe.yaml');
    fs.writeFileSync(cfg, `instance: p1\nrun-dir: ${runDir}\npod-cidr: [10.0.0.0/8]\n`);
    expect(status(['--live', '--config', cfg]).status).toBe(0);
    // Stale: the last reconcile is older than --max-age.
    write({ ...base, pid: process.pid, generation: 3, synced: true, time: new Date(Date.now() - 120_000).toISOString() });
    expect(status(['--live', '--max-age', '60', '--config', cfg]).status).toBe(1);
    expect(status(['--ready', '--config', cfg]).status).toBe(0);
    // The writer is gone.
    write({ ...base, pid: 2 ** 22 + 7, generation: 3, synced: true, time: now });
    const r = status(['--ready', '--config', cfg]);
    expect([r.status, r.stdout]).toEqual([1, expect.stringContaining('is gone')]);
    // No status at all.
    expect(status(['--live', '--instance', 'nothing', '--run-dir', runDir]).status).toBe(1);
  });
});
