// The agent's settings: one table, three ways to give each entry (command-line
// flag, environment variable, config file) and one resolution function.
// Precedence: flag > environment > config file > default.
//
// To add a setting, add one entry to AGENT_OPTIONS: the flag, --help, the
// VRFWALL_* variable, the config-file key and the typed field of
// AgentSettings all follow from it. Checks across settings and the
// translation into AgentConfig are in loadAgentConfig at the end.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { canonicalCidr } from '../model/ip.js';
import type { AgentConfig } from './agent.js';
import { FieldMaskError } from '../flows/field-mask.js';
import { compileExportSelection, parseFilterList, type FlowExportConfig } from '../flows/export-settings.js';
import { checkExportPath } from '../flows/rotating-file.js';
import { DEFAULT_ALLOWED_CLIENTS, certificateFileNames, checkClientName, type ClientPolicy } from '../api/client-identity.js';

/** A setting that is wrong: `key` is its flag / config-file name, so the message can say where. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Returns an error text for a bad value, or undefined when it is fine. */
type Check<T> = (value: T) => string | undefined;

interface Base {
  /** flag name without "--"; also the config-file key */
  readonly name: string;
  readonly description: string;
  /** environment variables, highest priority first (default: VRFWALL_<NAME>) */
  readonly env?: readonly string[];
}
export interface StringOption extends Base {
  readonly kind: 'string';
  /** placeholder in --help, e.g. "<dir>" */
  readonly arg: string;
  readonly default?: string;
  readonly choices?: readonly string[];
  readonly check?: Check<string>;
}
export interface NumberOption extends Base {
  readonly kind: 'number';
  readonly arg: string;
  readonly default?: number;
  readonly min?: number;
  readonly integer?: boolean;
}
export interface BooleanOption extends Base {
  readonly kind: 'boolean';
  /** flags can only switch it on, so the default is off */
  readonly default?: false;
}
export interface ListOption extends Base {
  readonly kind: 'list';
  readonly arg: string;
  readonly check?: Check<string>;
}
export type OptionSpec = StringOption | NumberOption | BooleanOption | ListOption;

const isCidr: Check<string> = (v) => (canonicalCidr(v) === undefined ? 'is not a CIDR (address/prefix)' : undefined);
const isInstance: Check<string> = (v) =>
  /^[a-z0-9][a-z0-9_.-]*$/i.test(v) ? undefined : "use letters, digits, '-', '_', '.' (it names a pin directory)";
const isAbsolute: Check<string> = (v) => (v.startsWith('/') ? undefined : 'must be an absolute path');

/**
 * Every setting of `vrfwall agent`. Append entries; `satisfies` keeps the
 * literal types so AgentSettings below gets one typed field per entry.
 */
export const AGENT_OPTIONS = [
  {
    name: 'config',
    kind: 'string',
    arg: '<file>',
    description: 'YAML file of settings; its keys are these flag names without "--"',
  },
  {
    name: 'node-name',
    kind: 'string',
    arg: '<name>',
    env: ['VRFWALL_NODE_NAME', 'NODE_NAME'],
    description: "this node's name, as in the Pods' spec.nodeName (a DaemonSet sets NODE_NAME from the downward API)",
  },
  {
    name: 'source',
    kind: 'string',
    arg: '<kind>',
    default: 'manifests',
    choices: ['manifests', 'kube'],
    description: 'cluster state from local manifests (--manifests), or from the Kubernetes API (in-cluster service account, or --kubeconfig)',
  },
  {
    name: 'kubeconfig',
    kind: 'string',
    arg: '<file>',
    description: 'with --source kube: a kubeconfig file instead of the in-cluster service account',
  },
  {
    name: 'api-timeout',
    kind: 'number',
    arg: '<seconds>',
    default: 30,
    min: 1,
    description:
      'with --source kube: give up on a request unanswered this long, and on a watch the API server has not ended this long after its session; ' +
      'TCP keep-alive probes start after min(this, 30) s idle, so a vanished API server is noticed about 10 s later',
  },
  {
    name: 'watch-session',
    kind: 'number',
    arg: '<seconds>',
    default: 300,
    min: 1,
    integer: true,
    description:
      'with --source kube: each watch asks the API server to end it after this long (timeoutSeconds, randomized up to twice that), then resumes; ' +
      'a quiet watch (no change, no bookmark) is healthy',
  },
  {
    name: 'manifests',
    kind: 'list',
    arg: '<dir>',
    description: 'local-manifest source: a directory of Kubernetes YAML, watched; repeatable',
  },
  {
    name: 'instance',
    kind: 'string',
    arg: '<name>',
    default: 'default',
    check: isInstance,
    description: 'name of this agent instance: pins under <bpffs-root>/<instance>, files under <run-dir>/<instance>',
  },
  {
    name: 'bpffs-root',
    kind: 'string',
    arg: '<dir>',
    default: '/sys/fs/bpf/vrfwall',
    check: isAbsolute,
    description: 'bpffs directory for pins (maps and links)',
  },
  {
    name: 'run-dir',
    kind: 'string',
    arg: '<dir>',
    default: '/run/vrfwall',
    check: isAbsolute,
    description: 'directory for status.json and the VRF id file',
  },
  {
    name: 'bpf-dir',
    kind: 'string',
    arg: '<dir>',
    description: 'directory with from_pod.o, to_pod.o and session_gc.o (default: build/bpf of this installation)',
  },
  {
    name: 'pod-cidr',
    kind: 'list',
    arg: '<cidr>',
    check: isCidr,
    description: 'cluster pod CIDR; repeatable or comma-separated (required)',
  },
  {
    name: 'service-cidr',
    kind: 'list',
    arg: '<cidr>',
    check: isCidr,
    description: 'cluster service CIDR; repeatable or comma-separated',
  },
  {
    name: 'attach-mode',
    kind: 'string',
    arg: '<mode>',
    default: 'auto',
    choices: ['auto', 'tcx', 'tc'],
    description: 'tcx links (kernel 6.6+), tc (clsact/cls_bpf), or auto (tcx when the kernel has it)',
  },
  {
    name: 'enforcement',
    kind: 'string',
    arg: '<mode>',
    default: 'enforce',
    choices: ['enforce', 'audit'],
    description:
      'audit: on this node every ISOLATED, SERVICE_DENIED and EXTERNAL_DENIED drop passes and is recorded as AUDIT ' +
      '(the rollout switch; per network: the vrfwall.dev/enforcement annotation, docs/audit.md)',
  },
  {
    name: 'network-policy',
    kind: 'string',
    arg: '<on|off>',
    default: 'on',
    choices: ['on', 'off'],
    description:
      'off: no Kubernetes NetworkPolicy state is compiled and no policy checks run (for a CNI that enforces ' +
      'NetworkPolicy itself; docs/network-policy.md)',
  },
  {
    name: 'resync',
    kind: 'number',
    arg: '<seconds>',
    default: 10,
    min: 0.1,
    description: 'full reconcile period in seconds (events drive reconciles otherwise)',
  },
  {
    name: 'max-endpoints',
    kind: 'number',
    arg: '<n>',
    min: 1,
    integer: true,
    description: 'size of the endpoints map (only when the map is first created)',
  },
  {
    name: 'max-sessions',
    kind: 'number',
    arg: '<n>',
    min: 1,
    integer: true,
    description:
      'size of the Service session table (only when the map is first created; default 262144); ' +
      'each client address gets at most its fair share of it (see --session-quota)',
  },
  {
    name: 'session-quota',
    kind: 'number',
    arg: '<n>',
    default: 4096,
    min: 1,
    integer: true,
    description:
      'most live Service sessions one client address may hold on this node; lowered to the table size ' +
      'divided by the addresses holding sessions when the table could not hold them all',
  },
  {
    name: 'session-timeout-tcp',
    kind: 'number',
    arg: '<seconds>',
    default: 21600,
    min: 1,
    description: 'idle timeout of an answered TCP Service session',
  },
  {
    name: 'session-timeout-tcp-syn',
    kind: 'number',
    arg: '<seconds>',
    default: 60,
    min: 1,
    description: 'idle timeout of a TCP Service session not yet answered',
  },
  {
    name: 'session-timeout-tcp-close',
    kind: 'number',
    arg: '<seconds>',
    default: 10,
    min: 1,
    description: 'how long a TCP Service session stays after RST or FIN both ways',
  },
  {
    name: 'session-timeout-udp',
    kind: 'number',
    arg: '<seconds>',
    default: 30,
    min: 1,
    description: 'idle timeout of a UDP Service session',
  },
  {
    name: 'session-timeout-other',
    kind: 'number',
    arg: '<seconds>',
    default: 60,
    min: 1,
    description: 'idle timeout of an SCTP Service session',
  },
  {
    name: 'session-sweep',
    kind: 'number',
    arg: '<seconds>',
    default: 5,
    min: 0.1,
    description: 'period of the sweep that removes expired Service sessions and recomputes the quota',
  },
  {
    name: 'log-file',
    kind: 'string',
    arg: '<file>',
    description: 'JSON log to this file instead of stdout',
  },
  {
    name: 'log-level',
    kind: 'string',
    arg: '<level>',
    default: 'info',
    choices: ['trace', 'debug', 'info', 'warn', 'error'],
    description: 'pino log level',
  },
  {
    name: 'cleanup',
    kind: 'boolean',
    description: 'detach every program this instance attached, remove its pins and run files, and exit',
  },
  // ---- flow statistics, gRPC API, metrics (issue 5) ----
  {
    name: 'grpc-socket',
    kind: 'string',
    arg: '<path>',
    description: 'unix socket of the gRPC API, mode 0600 (default: <run-dir>/<instance>/api.sock; "none": no socket)',
  },
  {
    name: 'grpc-listen',
    kind: 'string',
    arg: '<host:port>',
    check: (v: string) => (/^.+:\d{1,5}$/.test(v) ? undefined : 'is not host:port'),
    description: 'also serve the gRPC API on TCP, with mutual TLS (needs --grpc-tls-cert, --grpc-tls-key, --grpc-tls-ca)',
  },
  { name: 'grpc-tls-cert', kind: 'string', arg: '<file>', description: "PEM certificate (chain) of the API's TCP listener" },
  { name: 'grpc-tls-key', kind: 'string', arg: '<file>', description: 'PEM private key of --grpc-tls-cert' },
  { name: 'grpc-tls-ca', kind: 'string', arg: '<file>', description: 'PEM CA bundle that client certificates must chain to' },
  {
    name: 'grpc-allowed-clients',
    kind: 'list',
    arg: '<name>',
    check: checkClientName,
    description:
      `with --grpc-listen: the client certificate names (SAN DNS or URI; never the CN) that may call; repeatable or comma-separated ` +
      `(default: ${DEFAULT_ALLOWED_CLIENTS.join(',')}, the relay and operators as deploy/ issues them). ` +
      "A certificate naming this agent's own identity (--grpc-tls-cert's names) is always refused",
  },
  {
    name: 'metrics-port',
    kind: 'number',
    arg: '<port>',
    default: 9477,
    min: 0,
    integer: true,
    description: 'Prometheus metrics on http://127.0.0.1:<port>/metrics (0: off)',
  },
  {
    name: 'max-flows',
    kind: 'number',
    arg: '<n>',
    default: 20000,
    min: 1,
    integer: true,
    description: 'flows the agent keeps in memory; the least recently active are evicted (and counted)',
  },
  {
    name: 'flow-poll',
    kind: 'number',
    arg: '<seconds>',
    default: 1,
    min: 0.05,
    description: 'period of the flow-counter scan (new flows and drops arrive at once through the ring buffer)',
  },
  // ---- flow export (issue 15): docs/flows.md "Flow export" ----
  {
    name: 'flow-export-file',
    kind: 'string',
    arg: '<path>',
    check: isAbsolute,
    description: 'write every flow record (first seen, each change, so before any eviction) to this JSON-lines file, as `vrfwall flows -o json` prints them',
  },
  { name: 'flow-export-max-size', kind: 'number', arg: '<MB>', default: 100, min: 0.001, description: 'rotate the export file when the next write would take it past this size' },
  {
    name: 'flow-export-max-files',
    kind: 'number',
    arg: '<n>',
    default: 5,
    min: 0,
    integer: true,
    description: 'rotated export files kept: <path>.1 (newest) ... <path>.<n>; the oldest is dropped',
  },
  {
    name: 'flow-export-allow',
    kind: 'string',
    arg: '<json>',
    description: 'export only flows matching one of these GetFlows filters: a JSON list, e.g. \'[{"verdict":["DROPPED"]}]\' (default: all)',
  },
  { name: 'flow-export-deny', kind: 'string', arg: '<json>', description: 'do not export flows matching one of these GetFlows filters (JSON list, as --flow-export-allow)' },
  {
    name: 'flow-export-fields',
    kind: 'list',
    arg: '<field,...>',
    description: 'field mask: only these fields of each record, dotted names as printed (verdict, source.pod, forward.packets); default: all',
  },
  {
    name: 'flow-export-queue',
    kind: 'number',
    arg: '<n>',
    default: 16384,
    min: 1,
    integer: true,
    description: 'records waiting for the disk at most (~0.7 KB each); past it new records are dropped and counted, never slowing the datapath or the API',
  },
] as const satisfies readonly OptionSpec[];

type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;
type ValueOf<O> = O extends { kind: 'boolean' }
  ? boolean
  : O extends { kind: 'list' }
    ? string[]
    : O extends { kind: 'number' }
      ? O extends { default: number }
        ? number
        : number | undefined
      : O extends { default: string }
        ? string
        : string | undefined;

/** One typed field per AGENT_OPTIONS entry, named in camelCase ("node-name" -> nodeName). */
export type AgentSettings = { [O in (typeof AGENT_OPTIONS)[number] as Camel<O['name']>]: ValueOf<O> };

/** Where each setting's value came from (for messages and `--help`-style dumps). */
export type Origin = 'flag' | 'env' | 'file' | 'default';

export function camelName(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function envNames(o: OptionSpec): readonly string[] {
  return o.env ?? [`VRFWALL_${o.name.toUpperCase().replace(/-/g, '_')}`];
}

/** Raw inputs: flags as commander gives them (only those given), the environment, the parsed config file. */
export interface RawInputs {
  flags?: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  file?: unknown;
  /** names the config file in messages */
  fileName?: string;
}

function where(origin: Origin, o: OptionSpec, env: string | undefined, fileName: string | undefined): string {
  switch (origin) {
    case 'flag':
      return `--${o.name}`;
    case 'env':
      return env ?? envNames(o)[0] ?? o.name;
    case 'file':
      return `${o.name} (in ${fileName ?? 'the config file'})`;
    case 'default':
      return `--${o.name} (default)`;
  }
}

type Value = string | number | boolean | string[];

/** Text from a flag or variable, or a YAML scalar/sequence, into the option's type. */
function convert(o: OptionSpec, raw: unknown, label: string): Value {
  const fail = (why: string): never => {
    throw new ConfigError(o.name, `${label}: ${why}`);
  };
  switch (o.kind) {
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(true|1|yes)$/i.test(raw.trim())) return true;
      if (typeof raw === 'string' && /^(false|0|no|)$/i.test(raw.trim())) return false;
      return fail(`${JSON.stringify(raw)} is not true or false`);
    }
    case 'number': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) return fail(`${JSON.stringify(raw)} is not a number`);
      if (o.integer === true && !Number.isInteger(n)) return fail(`${JSON.stringify(raw)} is not an integer`);
      if (o.min !== undefined && n < o.min) return fail(`${JSON.stringify(raw)} is below the minimum ${o.min}`);
      return n;
    }
    case 'list': {
      const items = Array.isArray(raw) ? raw : [raw];
      const out: string[] = [];
      for (const item of items) {
        if (typeof item !== 'string' && typeof item !== 'number') return fail(`${JSON.stringify(item)} is not text`);
        out.push(...String(item).split(',').map((s) => s.trim()).filter((s) => s !== ''));
      }
      for (const item of out) {
        const why = o.check?.(item);
        if (why !== undefined) fail(`${JSON.stringify(item)} ${why}`);
      }
      return out;
    }
    case 'string': {
      if (typeof raw !== 'string' && typeof raw !== 'number') return fail(`${JSON.stringify(raw)} is not text`);
      const s = String(raw);
      if (s === '') return fail('is empty');
      if (o.choices !== undefined && !o.choices.includes(s)) return fail(`${JSON.stringify(s)} is not one of ${o.choices.join(', ')}`);
      const why = o.check?.(s);
      if (why !== undefined) fail(`${JSON.stringify(s)} ${why}`);
      return s;
    }
  }
}

function emptyValue(o: OptionSpec): Value | undefined {
  if (o.kind === 'boolean') return o.default ?? false;
  if (o.kind === 'list') return [];
  return o.default;
}

/**
 * The one resolution function: flag > environment > config file > default,
 * each value converted and checked. Unknown config-file keys are errors (a
 * typo must not silently fall back to a default).
 */
export function resolveSettings(
  inputs: RawInputs,
  options: readonly OptionSpec[] = AGENT_OPTIONS,
): { settings: AgentSettings; origins: Record<string, Origin> } {
  const flags = inputs.flags ?? {};
  const env = inputs.env ?? {};
  let file: Record<string, unknown> = {};
  if (inputs.file !== undefined && inputs.file !== null) {
    if (typeof inputs.file !== 'object' || Array.isArray(inputs.file)) {
      throw new ConfigError('config', `${inputs.fileName ?? 'config file'}: must be a mapping of setting: value`);
    }
    file = inputs.file as Record<string, unknown>;
    const known = new Set(options.map((o) => o.name));
    for (const key of Object.keys(file)) {
      if (key === 'config') throw new ConfigError('config', `${inputs.fileName ?? 'config file'}: a config file cannot name another one`);
      if (!known.has(key)) throw new ConfigError(key, `${inputs.fileName ?? 'config file'}: unknown setting "${key}"`);
    }
  }

  const settings: Record<string, Value | undefined> = {};
  const origins: Record<string, Origin> = {};
  for (const o of options) {
    const field = camelName(o.name);
    const flag = flags[field];
    const envName = envNames(o).find((n) => env[n] !== undefined && env[n] !== '');
    let origin: Origin;
    let raw: unknown;
    if (flag !== undefined && !(Array.isArray(flag) && flag.length === 0)) [origin, raw] = ['flag', flag];
    else if (envName !== undefined) [origin, raw] = ['env', env[envName]];
    else if (o.name in file && file[o.name] !== null) [origin, raw] = ['file', file[o.name]];
    else {
      settings[field] = emptyValue(o);
      origins[o.name] = 'default';
      continue;
    }
    settings[field] = convert(o, raw, where(origin, o, envName, inputs.fileName));
    origins[o.name] = origin;
  }
  return { settings: settings as unknown as AgentSettings, origins };
}

/** The "--help" line of a setting: description, default and environment variables. */
export function helpText(o: OptionSpec): string {
  const extra: string[] = [];
  if ('choices' in o && o.choices !== undefined) extra.push(`one of: ${o.choices.join(', ')}`);
  if (o.kind !== 'boolean' && 'default' in o && o.default !== undefined) extra.push(`default: ${String(o.default)}`);
  extra.push(`env: ${envNames(o).join(' or ')}`);
  return `${o.description} (${extra.join('; ')})`;
}

// ---------------------------------------------------------------------------
// From settings to the agent's configuration: read the config file, resolve,
// then the checks that involve more than one setting or the file system.

/** What `vrfwall agent` runs with, all checked. */
export interface ResolvedAgent {
  settings: AgentSettings;
  origins: Record<string, Origin>;
  config: AgentConfig;
}

export interface LoadInputs {
  flags?: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  /** where from_pod.o / to_pod.o are when --bpf-dir is not set */
  defaultBpfDir: string;
  /** The cluster's ranges when no setting gives them (a lab knows its own);
   *  called only then, and may throw a ConfigError naming its own setting. */
  cidrDefaults?: () => { podCIDRs: string[]; serviceCIDRs: string[] };
}

/** The --config file (flag, then VRFWALL_CONFIG), parsed; undefined without one. */
function readConfigFile(inputs: LoadInputs): { file?: unknown; fileName?: string } {
  const { settings } = resolveSettings({ flags: { config: inputs.flags?.config }, env: inputs.env ?? {} }, [
    AGENT_OPTIONS[0],
  ]);
  const fileName = (settings as { config?: string }).config;
  return fileName === undefined ? {} : readSettingsFile(fileName);
}

/** A --config YAML file, parsed; a file that cannot be read or parsed is a ConfigError of `config`. */
export function readSettingsFile(fileName: string): { file: unknown; fileName: string } {
  let text: string;
  try {
    text = fs.readFileSync(fileName, 'utf8');
  } catch (e) {
    throw new ConfigError('config', `--config ${fileName}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    return { file: YAML.parse(text) as unknown, fileName };
  } catch (e) {
    throw new ConfigError('config', `--config ${fileName}: not YAML: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
}

function need(cond: boolean, key: string, message: string): void {
  if (!cond) throw new ConfigError(key, message);
}

/**
 * Flags + environment + config file -> checked AgentConfig. Every problem is
 * a ConfigError naming its setting; nothing is started or changed here.
 */
export function loadAgentConfig(inputs: LoadInputs): ResolvedAgent {
  const { file, fileName } = readConfigFile(inputs);
  const { settings: s, origins } = resolveSettings({
    flags: inputs.flags ?? {},
    env: inputs.env ?? {},
    file,
    ...(fileName !== undefined ? { fileName } : {}),
  });

  need(s.nodeName !== undefined, 'node-name', '--node-name (or NODE_NAME / VRFWALL_NODE_NAME / node-name in --config) is required');
  for (const dir of s.manifests) {
    need(fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true, 'manifests', `--manifests ${dir}: not a directory`);
  }
  if (!s.cleanup && s.source === 'manifests') need(s.manifests.length > 0, 'manifests', '--manifests is required with --source manifests');
  if (s.kubeconfig !== undefined) {
    need(s.source === 'kube', 'kubeconfig', '--kubeconfig is only used with --source kube');
    need(fs.existsSync(s.kubeconfig), 'kubeconfig', `--kubeconfig ${s.kubeconfig}: no such file`);
  }

  let podCIDRs = s.podCidr.map((c) => canonicalCidr(c) as string);
  let serviceCIDRs = s.serviceCidr.map((c) => canonicalCidr(c) as string);
  if (inputs.cidrDefaults !== undefined && !s.cleanup && (podCIDRs.length === 0 || serviceCIDRs.length === 0)) {
    // Explicit settings win.
    const cidrs = inputs.cidrDefaults();
    if (podCIDRs.length === 0) podCIDRs = cidrs.podCIDRs.map((c) => canonicalCidr(c) as string);
    if (serviceCIDRs.length === 0) serviceCIDRs = cidrs.serviceCIDRs.map((c) => canonicalCidr(c) as string);
  }
  if (!s.cleanup) need(podCIDRs.length > 0, 'pod-cidr', '--pod-cidr is required');

  const bpfDir = s.bpfDir ?? inputs.defaultBpfDir;
  if (!s.cleanup) {
    for (const f of ['from_pod.o', 'to_pod.o', 'session_gc.o']) {
      need(fs.existsSync(path.join(bpfDir, f)), 'bpf-dir', `--bpf-dir ${bpfDir}: no ${f} (build it with: make bpf)`);
    }
  }

  const config: AgentConfig = {
    nodeName: s.nodeName as string,
    instance: s.instance,
    bpffsRoot: s.bpffsRoot,
    runDir: s.runDir,
    bpfDir,
    podCIDRs,
    serviceCIDRs,
    attachMode: s.attachMode as AgentConfig['attachMode'],
    enforcement: s.enforcement as AgentConfig['enforcement'],
    networkPolicy: s.networkPolicy === 'on',
    resyncMs: s.resync * 1000,
    ...(s.maxEndpoints !== undefined ? { maxEndpoints: s.maxEndpoints } : {}),
    ...(s.maxSessions !== undefined ? { maxSessions: s.maxSessions } : {}),
    sessions: {
      quota: s.sessionQuota,
      sweepMs: s.sessionSweep * 1000,
      timeoutsSec: {
        tcp: s.sessionTimeoutTcp,
        tcpSyn: s.sessionTimeoutTcpSyn,
        tcpClose: s.sessionTimeoutTcpClose,
        udp: s.sessionTimeoutUdp,
        other: s.sessionTimeoutOther,
      },
    },
    observability: observabilityOf(s),
  };
  return { settings: s, origins, config };
}

/** The flow/API/metrics settings (issue 5), checked together. */
function observabilityOf(s: AgentSettings): NonNullable<AgentConfig['observability']> {
  const tls = { cert: s.grpcTlsCert, key: s.grpcTlsKey, ca: s.grpcTlsCa };
  const given = Object.entries(tls).filter(([, v]) => v !== undefined);
  if (s.grpcListen !== undefined) {
    need(given.length === 3, 'grpc-listen', '--grpc-listen needs --grpc-tls-cert, --grpc-tls-key and --grpc-tls-ca (mutual TLS)');
  } else {
    need(given.length === 0, 'grpc-tls-cert', '--grpc-tls-* only apply with --grpc-listen');
  }
  // None of the three files there: the certificate was never given to this
  // node (the DaemonSet's Secret is optional). The TCP listener is only for
  // the relay, and enforcement must not wait for it: the agent runs without
  // it and says so. Some of them there is a mistake, refused as usual.
  const missing = given.filter(([, file]) => !fs.existsSync(file as string));
  const listenOff =
    s.grpcListen !== undefined && given.length > 0 && missing.length === given.length
      ? `none of --grpc-tls-cert, --grpc-tls-key, --grpc-tls-ca exists (${given.map(([, f]) => String(f)).join(', ')})`
      : undefined;
  if (listenOff === undefined) for (const [k, file] of missing) need(false, `grpc-tls-${k}`, `--grpc-tls-${k} ${String(file)}: no such file`);
  const listen = listenOff === undefined ? s.grpcListen : undefined;
  if (s.grpcListen === undefined) need(s.grpcAllowedClients.length === 0, 'grpc-allowed-clients', '--grpc-allowed-clients only applies with --grpc-listen');
  const socket = s.grpcSocket ?? path.join(s.runDir, s.instance, 'api.sock');
  return {
    ...(socket !== 'none' ? { socketPath: socket } : {}),
    ...(listen !== undefined ? { listen } : {}),
    ...(listen !== undefined ? { tls: { cert: tls.cert as string, key: tls.key as string, ca: tls.ca as string } } : {}),
    ...(listen !== undefined ? { clients: clientPolicyOf(s.grpcAllowedClients, tls.cert as string) } : {}),
    ...(listenOff !== undefined ? { listenOff } : {}),
    metricsPort: s.metricsPort,
    maxFlows: s.maxFlows,
    flowPollMs: Math.round(s.flowPoll * 1000),
    ...exportOf(s),
  };
}

/**
 * Who may call the TCP listener: the listed names (or the default), never a
 * certificate that names this agent's own identity. Listing an own name is a
 * mistake that would open every agent to every node: refused at start.
 */
function clientPolicyOf(allowed: readonly string[], certFile: string): ClientPolicy {
  let own: string[];
  try {
    own = certificateFileNames(certFile);
  } catch (e) {
    throw new ConfigError('grpc-tls-cert', `--grpc-tls-cert ${certFile}: not a PEM certificate (${e instanceof Error ? e.message : String(e)})`);
  }
  const list = allowed.length > 0 ? allowed : DEFAULT_ALLOWED_CLIENTS;
  const clash = list.filter((n) => own.includes(n));
  need(
    clash.length === 0,
    'grpc-allowed-clients',
    `--grpc-allowed-clients: ${clash.join(', ')} is this agent's own certificate name (--grpc-tls-cert), which every node holds: listing it would let any node read every agent`,
  );
  return { allowed: [...list], refused: own };
}

/** The flow export settings of the agent and the relay (the --flow-export-* entries of AGENT_OPTIONS). */
export type FlowExportSettings = Pick<AgentSettings, 'flowExportFile' | 'flowExportMaxSize' | 'flowExportMaxFiles' | 'flowExportAllow' | 'flowExportDeny' | 'flowExportFields' | 'flowExportQueue'>;

/** The --flow-export-* entries, for the relay's table: its variables are VRFWALL_RELAY_FLOW_EXPORT_*, so a
 *  relay and an agent that share an environment (a lab) never write the same file. */
export const FLOW_EXPORT_OPTIONS: readonly OptionSpec[] = AGENT_OPTIONS.filter((o) => o.name.startsWith('flow-export-')).map((o) => ({
  ...o,
  env: [`VRFWALL_RELAY_${o.name.toUpperCase().replace(/-/g, '_')}`],
}));

/** The flow export settings (issue 15): filters, mask and path checked here, so a mistake stops the start (exit 2). */
export function exportOf(s: FlowExportSettings): { flowExport?: FlowExportConfig } {
  const given = (['flowExportAllow', 'flowExportDeny'] as const).filter((k) => s[k] !== undefined);
  if (s.flowExportFile === undefined) {
    need(given.length === 0 && s.flowExportFields.length === 0, 'flow-export-file', '--flow-export-allow, --flow-export-deny and --flow-export-fields need --flow-export-file');
    return {};
  }
  const why = checkExportPath(s.flowExportFile);
  need(why === undefined, 'flow-export-file', `--flow-export-file ${s.flowExportFile}: ${why ?? ''}`);
  const filters = (key: 'flow-export-allow' | 'flow-export-deny', text: string | undefined) => {
    if (text === undefined) return [];
    try {
      return parseFilterList(text);
    } catch (e) {
      throw new ConfigError(key, `--${key}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const cfg: FlowExportConfig = {
    file: s.flowExportFile,
    maxBytes: Math.round(s.flowExportMaxSize * 1024 * 1024),
    maxFiles: s.flowExportMaxFiles,
    allow: filters('flow-export-allow', s.flowExportAllow),
    deny: filters('flow-export-deny', s.flowExportDeny),
    fields: s.flowExportFields,
    maxQueueRecords: s.flowExportQueue,
  };
  try {
    compileExportSelection(cfg);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof FieldMaskError) throw new ConfigError('flow-export-fields', `--flow-export-fields: ${msg}`);
    throw new ConfigError(msg.startsWith('deny') ? 'flow-export-deny' : 'flow-export-allow', `--${msg.startsWith('deny') ? 'flow-export-deny' : 'flow-export-allow'}: ${msg}`);
  }
  return { flowExport: cfg };
}
