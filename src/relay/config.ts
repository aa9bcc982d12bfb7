// `vrfwall relay` settings: one table in the agent's style (flag, VRFWALL_*
// variable, --config YAML file; flag > environment > file > default), the
// same resolution function (src/agent/config.ts resolveSettings), and the
// checks across settings in loadRelayConfig. Every problem is a ConfigError
// naming its setting; nothing is started here.
import fs from 'node:fs';
import { ConfigError, FLOW_EXPORT_OPTIONS, exportOf, readSettingsFile, resolveSettings, type FlowExportSettings, type OptionSpec, type Origin } from '../agent/config.js';
import type { FlowExportConfig } from '../flows/export-settings.js';
import { parseSelector, parseStaticAgent } from './discovery.js';
import type { AgentAddress } from './agents.js';

/** The agents' TLS port when nothing says otherwise (deploy/daemonset.yaml's --grpc-listen). */
export const DEFAULT_AGENT_PORT = 9444;
export const DEFAULT_RELAY_LISTEN = '0.0.0.0:9445';

export const RELAY_OPTIONS = [
  { name: 'config', kind: 'string', arg: '<file>', description: 'YAML file of settings; its keys are these flag names without "--"' },
  { name: 'listen', kind: 'string', arg: '<host:port>', default: DEFAULT_RELAY_LISTEN, description: "the relay's gRPC API on TCP, mutual TLS ('none': only --socket)" },
  { name: 'socket', kind: 'string', arg: '<path>', description: 'also serve the API on this unix socket (mode 0600)' },
  { name: 'tls-cert', kind: 'string', arg: '<file>', description: "PEM certificate (chain) of the relay's listener" },
  { name: 'tls-key', kind: 'string', arg: '<file>', description: 'PEM private key of --tls-cert' },
  { name: 'tls-ca', kind: 'string', arg: '<file>', description: "PEM CA bundle that clients' certificates must chain to" },
  { name: 'agent-tls-cert', kind: 'string', arg: '<file>', description: 'client certificate the relay shows the agents (default: --tls-cert)' },
  { name: 'agent-tls-key', kind: 'string', arg: '<file>', description: 'key of --agent-tls-cert (default: --tls-key)' },
  { name: 'agent-tls-ca', kind: 'string', arg: '<file>', description: "CA of the agents' certificates (default: --tls-ca)" },
  { name: 'agent-tls-server-name', kind: 'string', arg: '<name>', description: "the name in the agents' certificates, when it is not their address" },
  { name: 'agents', kind: 'list', arg: '<node=host:port,...>', description: 'fixed agents instead of finding them through the Kubernetes API' },
  { name: 'namespace', kind: 'string', arg: '<ns>', default: 'vrfwall-system', description: "the agents' namespace" },
  {
    name: 'selector',
    kind: 'string',
    arg: '<k=v,...>',
    default: 'app.kubernetes.io/name=vrfwall,app.kubernetes.io/component=agent',
    description: "the agents' pod labels (the DaemonSet's matchLabels)",
  },
  { name: 'agent-port', kind: 'number', arg: '<port>', default: DEFAULT_AGENT_PORT, min: 1, integer: true, description: "the agents' --grpc-listen port" },
  { name: 'kubeconfig', kind: 'string', arg: '<file>', description: 'kubeconfig (default: the in-cluster service account)' },
  { name: 'node-timeout', kind: 'number', arg: '<seconds>', default: 10, min: 0.1, description: 'how long one agent may take to answer before it counts as not answering' },
  { name: 'node-queue', kind: 'number', arg: '<n>', default: 4096, min: 1, integer: true, description: "live flows a node may have queued for one follower before its oldest are dropped (and counted)" },
  { name: 'ui-listen', kind: 'string', arg: '<host:port>', description: 'serve the web UI (plain HTTP) here, e.g. 127.0.0.1:9446; reach it with a port-forward (default: off)' },
  { name: 'ui-matrix', kind: 'string', arg: '<file>', description: "the lab's last connectivity matrix (JSON) the web UI shows" },
  { name: 'log-level', kind: 'string', arg: '<level>', default: 'info', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'], description: 'log level' },
  { name: 'log-file', kind: 'string', arg: '<file>', description: 'log here instead of stdout' },
  // the cluster-wide stream to a JSON-lines file, as the agent's (docs/flows.md "Flow export")
  ...FLOW_EXPORT_OPTIONS,
] as const satisfies readonly OptionSpec[];

export interface RelaySettings {
  config?: string;
  listen: string;
  socket?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  agentTlsCert?: string;
  agentTlsKey?: string;
  agentTlsCa?: string;
  agentTlsServerName?: string;
  agents: string[];
  namespace: string;
  selector: string;
  agentPort: number;
  kubeconfig?: string;
  nodeTimeout: number;
  nodeQueue: number;
  uiListen?: string;
  uiMatrix?: string;
  logLevel: string;
  logFile?: string;
}

/** RelaySettings with its --flow-export-* entries (as the agent's). */
type RelaySettingsWithExport = RelaySettings & FlowExportSettings;

export interface RelayConfig {
  listen?: string;
  socket?: string;
  /** the relay's own listener */
  tls?: { cert: string; key: string; ca: string };
  /** what the relay shows the agents and trusts of them */
  agentTls: { cert: string; key: string; ca: string; serverName?: string };
  discovery: { kind: 'static'; agents: AgentAddress[] } | { kind: 'kube'; namespace: string; selector: Record<string, string>; port: number; kubeconfig?: string };
  nodeTimeoutMs: number;
  nodeQueue: number;
  /** the cluster-wide flow export */
  flowExport?: FlowExportConfig;
  /** the web UI (src/relay/ui/) */
  ui?: { listen: string; matrixFile?: string };
}

function need(cond: boolean, key: string, message: string): asserts cond {
  if (!cond) throw new ConfigError(key, message);
}

function readFile(flags: Record<string, unknown>, env: Record<string, string | undefined>): { file?: unknown; fileName?: string } {
  const fileName = (flags.config as string | undefined) ?? (env.VRFWALL_CONFIG || undefined);
  return fileName === undefined ? {} : readSettingsFile(fileName);
}

/** Flags + environment + config file -> checked RelayConfig. */
export function loadRelayConfig(flags: Record<string, unknown>, env: Record<string, string | undefined>): { settings: RelaySettings; origins: Record<string, Origin>; config: RelayConfig } {
  const { file, fileName } = readFile(flags, env);
  const { settings, origins } = resolveSettings({ flags, env, file, ...(fileName !== undefined ? { fileName } : {}) }, RELAY_OPTIONS);
  const s = settings as unknown as RelaySettingsWithExport;

  const listen = s.listen === 'none' ? undefined : s.listen;
  need(listen !== undefined || s.socket !== undefined, 'listen', "--listen none needs --socket (the relay must serve somewhere)");
  if (listen !== undefined) {
    need(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(listen), 'listen', `--listen ${listen}: use host:port`);
  }
  const tlsGiven = [s.tlsCert, s.tlsKey, s.tlsCa].filter((v) => v !== undefined).length;
  if (listen !== undefined) need(tlsGiven === 3, 'tls-cert', '--listen needs --tls-cert, --tls-key and --tls-ca (the relay serves mutual TLS only)');
  const agentTls = { cert: s.agentTlsCert ?? s.tlsCert, key: s.agentTlsKey ?? s.tlsKey, ca: s.agentTlsCa ?? s.tlsCa };
  need(agentTls.cert !== undefined && agentTls.key !== undefined && agentTls.ca !== undefined, 'agent-tls-cert', 'the agents speak mutual TLS: give --agent-tls-cert, --agent-tls-key and --agent-tls-ca (or --tls-*)');
  for (const [key, f] of [
    ['tls-cert', s.tlsCert],
    ['tls-key', s.tlsKey],
    ['tls-ca', s.tlsCa],
    ['agent-tls-cert', s.agentTlsCert],
    ['agent-tls-key', s.agentTlsKey],
    ['agent-tls-ca', s.agentTlsCa],
    ['kubeconfig', s.kubeconfig],
  ] as const) {
    if (f !== undefined) need(fs.existsSync(f), key, `--${key} ${f}: no such file`);
  }

  let discovery: RelayConfig['discovery'];
  if (s.agents.length > 0) {
    need(s.kubeconfig === undefined, 'kubeconfig', '--kubeconfig is for finding agents through the Kubernetes API; --agents names them instead');
    const agents = s.agents.map((a) => {
      try {
        return parseStaticAgent(a);
      } catch (e) {
        throw new ConfigError('agents', `--agents ${(e as Error).message}`);
      }
    });
    const dup = agents.find((a, i) => agents.findIndex((b) => b.node === a.node) !== i);
    need(dup === undefined, 'agents', `--agents: node ${dup?.node ?? ''} is listed twice`);
    discovery = { kind: 'static', agents };
  } else {
    let selector: Record<string, string>;
    try {
      selector = parseSelector(s.selector);
    } catch (e) {
      throw new ConfigError('selector', `--selector ${(e as Error).message}`);
    }
    need(s.agentPort <= 65535, 'agent-port', `--agent-port ${s.agentPort}: not a port`);
    discovery = { kind: 'kube', namespace: s.namespace, selector, port: s.agentPort, ...(s.kubeconfig !== undefined ? { kubeconfig: s.kubeconfig } : {}) };
  }

  if (s.uiListen !== undefined) {
    need(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(s.uiListen), 'ui-listen', `--ui-listen ${s.uiListen}: use host:port`);
  }
  need(s.uiMatrix === undefined || s.uiListen !== undefined, 'ui-matrix', '--ui-matrix is shown by the web UI: it needs --ui-listen');

  const config: RelayConfig = {
    ...(listen !== undefined ? { listen, tls: { cert: s.tlsCert as string, key: s.tlsKey as string, ca: s.tlsCa as string } } : {}),
    ...(s.socket !== undefined ? { socket: s.socket } : {}),
    agentTls: { cert: agentTls.cert, key: agentTls.key, ca: agentTls.ca, ...(s.agentTlsServerName !== undefined ? { serverName: s.agentTlsServerName } : {}) },
    discovery,
    nodeTimeoutMs: Math.round(s.nodeTimeout * 1000),
    nodeQueue: s.nodeQueue,
    ...exportOf(s),
    ...(s.uiListen !== undefined ? { ui: { listen: s.uiListen, ...(s.uiMatrix !== undefined ? { matrixFile: s.uiMatrix } : {}) } } : {}),
  };
  return { settings: s, origins, config };
}
