// `vrfwall relay`: discovery -> agent pool -> the merged API on the relay's
// own listener (mutual TLS, and a unix socket when asked), with reflection and
// gRPC health (SERVING once the first set of agents is known).
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Refusal } from '../api/client-identity.js';
import { ApiServer } from '../api/server.js';
import { NodeNames } from './node-names.js';
import { loadKubeConfig } from '../sources/kube.js';
import { AgentPool } from './agents.js';
import type { RelayConfig } from './config.js';
import { KubeDiscovery, StaticDiscovery, type Discovery } from './discovery.js';
import { DEFAULT_RELAY_LIMITS, RelayServices } from './services.js';
import { openFlowExport } from '../flows/export-settings.js';
import { exportStatus } from '../flows/exporter.js';
import { RelayFlowExport } from './export.js';
import { UiServer } from './ui/server.js';

export class Relay {
  readonly pool: AgentPool;
  readonly services: RelayServices;
  readonly server: ApiServer;
  readonly discovery: Discovery;
  /** --flow-export-file: the cluster-wide stream to a file */
  readonly flowExport: RelayFlowExport | undefined;
  /** the web UI, when --ui-listen */
  readonly ui: UiServer | undefined;

  constructor(
    config: RelayConfig,
    private readonly log: Logger,
  ) {
    this.pool = new AgentPool(
      {
        ca: fs.readFileSync(config.agentTls.ca),
        cert: fs.readFileSync(config.agentTls.cert),
        key: fs.readFileSync(config.agentTls.key),
        ...(config.agentTls.serverName !== undefined ? { serverName: config.agentTls.serverName } : {}),
      },
      new NodeNames((f) => log.warn({ node: f.node, wrote: f.wrote, in: f.where }, "an agent wrote another node's name: its answers are shown under the node the relay asked (logged once per name)")),
    );
    const d = config.discovery;
    this.discovery =
      d.kind === 'static'
        ? new StaticDiscovery(d.agents)
        : new KubeDiscovery({ kubeConfig: loadKubeConfig(d.kubeconfig), namespace: d.namespace, selector: d.selector, port: d.port, log });
    this.services = new RelayServices(this.pool, { ...DEFAULT_RELAY_LIMITS, nodeTimeoutMs: config.nodeTimeoutMs, perNodeQueue: config.nodeQueue }, () => this.discovery.describe());
    if (config.flowExport) {
      let lastLogged = '';
      const file = config.flowExport.file;
      const exporter = openFlowExport(config.flowExport, (err, records) => {
        if (err !== lastLogged) log.error({ err, records, file }, 'flow export: write failed, records dropped (counted; the relay goes on)');
        lastLogged = err;
      });
      this.flowExport = new RelayFlowExport(this.pool, exporter, log);
      this.services.flowExport = () => exportStatus(exporter.stats());
    }
    this.server = new ApiServer(this.services.flowHandlers(), this.services.stateHandlers(), {
      ...(config.socket !== undefined ? { socketPath: config.socket } : {}),
      ...(config.listen !== undefined ? { listen: config.listen } : {}),
      ...(config.tls !== undefined ? { tls: config.tls } : {}),
      // Operators' certificates are any of the CA's, but not the agents' one (every node holds it): it would open every agent through the relay.
      ...(config.agentTls.serverName !== undefined
        ? {
            clients: { allowed: 'any' as const, refused: [config.agentTls.serverName] },
            onRefused: (r: Refusal) => log.warn({ peer: r.peer, names: r.names, fingerprint: r.fingerprint, reason: r.why }, 'relay: client refused (PERMISSION_DENIED; logged once per certificate)'),
          }
        : {}),
    });
    this.ui = config.ui ? new UiServer(this.services, config.ui) : undefined;
  }

  async start(): Promise<void> {
    await this.server.start();
    await this.ui?.start();
    this.discovery.start((members) => {
      this.log.info({ agents: members.map((m) => `${m.node}=${m.address}`) }, 'agents');
      this.pool.setMembers(members);
    });
    void this.discovery.whenSynced().then(() => this.server.setServing(true));
    this.flowExport?.start();
    this.log.info({ addresses: this.server.addresses, discovery: this.discovery.describe(), ...(this.ui ? { ui: `http://${this.ui.address}/` } : {}) }, 'relay serving');
  }

  async stop(): Promise<void> {
    await this.discovery.stop();
    await this.flowExport?.stop();
    await this.ui?.stop();
    await this.server.stop();
    this.pool.close();
  }
}
