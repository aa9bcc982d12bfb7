// Everything the agent runs besides enforcement: the flow reader and store,
// the gRPC API and the metrics endpoint. The agent starts it after loading
// the datapath and reports each reconcile to it (synced()).
import type { Logger } from 'pino';
import type { NativeAddon } from '../kernel/native.js';
import type { SweepResult } from '../agent/sessions.js';
import type { DesiredDelta } from '../model/incremental.js';
import type { ClusterState, DesiredState } from '../model/types.js';
import type { ObjectRef } from '../sources/changes.js';
import { Directory, buildDirectory } from '../flows/directory.js';
import { FlowReader } from '../flows/reader.js';
import { PolicyNamer } from '../flows/policy-name.js';
import { FlowStore } from '../flows/store.js';
import { openFlowExport, type FlowExportConfig } from '../flows/export-settings.js';
import { exportStatus, type FlowExporter } from '../flows/exporter.js';
import { Metrics, type MetricsSources } from '../metrics/metrics.js';
import type { NodeReports } from '../agent/node-reports.js';
import type { ProbePrograms } from './explain.js';
import { DEFAULT_FLOW_LIMITS, FlowServiceImpl, type FlowServiceLimits } from './flow-service.js';
import { MapFillCache } from './mapfill.js';
import type { ServerStatusResponse } from './messages.js';
import { DEFAULT_ALLOWED_CLIENTS, certificateFileNames, type ClientPolicy } from './client-identity.js';
import { ApiServer, type TlsFiles } from './server.js';
import { packageVersion } from '../util/version.js';
import { stateHandlers } from './state-service.js';

export interface ObservabilityConfig {
  /** unix socket of the API (default <run-dir>/<instance>/api.sock); '' = none */
  socketPath?: string;
  /** TCP host:port of the API, mutual TLS */
  listen?: string;
  tls?: TlsFiles;
  /** who may call over TCP (--grpc-allowed-clients; the agent's own certificate names refused) */
  clients?: ClientPolicy;
  /** why the TCP listener asked for is off (its certificate files are not there), to log */
  listenOff?: string;
  /** 127.0.0.1 port of /metrics; 0 = off */
  metricsPort: number;
  /** flows the store holds */
  maxFlows: number;
  /** period of the flow-map scan */
  flowPollMs: number;
  limits?: Partial<FlowServiceLimits>;
  /** write every flow record to a file (issue 15) */
  flowExport?: FlowExportConfig;
}

export const DEFAULT_MAX_FLOWS = 20_000;
export const DEFAULT_FLOW_POLL_MS = 1000;
export const DEFAULT_METRICS_PORT = 9477;

/** What observability needs from the agent. */
export interface AgentHandle {
  node: string;
  /** /sys/fs/bpf/vrfwall/<instance>/maps */
  mapsDir: string;
  programs(): ProbePrograms | undefined;
  /** hook order and isolation-limit reports, exported as metrics */
  reports?: NodeReports;
  /** the cluster ranges the agent compiles with (WhatIf compiles a proposal with them); absent: no WhatIf */
  cidrs?: { podCIDRs: string[]; serviceCIDRs: string[] };
  /** the node-wide setting (agent --enforcement) */
  enforcement?: 'audit' | 'enforce';
}

export interface SyncReport {
  state: ClusterState;
  desired: DesiredState;
  /** What may have changed since the last report: map keys and objects
   *  (undefined / "all": anything; the directory is then rebuilt). */
  delta?: DesiredDelta | undefined;
  changed?: readonly ObjectRef[] | 'all';
  generation: number;
  attachMode: string | null;
  compileMs: number;
  reconcileMs: number;
}

/** The metric rows of vrfwall_service_problems: one per Service and kind of problem. */
export function serviceProblemRows(desired: DesiredState | undefined): { service: string; problem: string; count: number }[] {
  const rows: { service: string; problem: string; count: number }[] = [];
  for (const [service, access] of desired?.serviceAccess ?? []) {
    for (const [problem, count] of Object.entries(access.problems)) {
      if (count !== undefined && count > 0) rows.push({ service, problem, count });
    }
  }
  return rows;
}

/** The quarantined placements of a compile, as metric rows ("ns/pod@eth1": pod "ns/pod", interface "eth1"). */
export function quarantinedRows(desired: DesiredState | undefined): { pod: string; interface: string }[] {
  const rows: { pod: string; interface: string }[] = [];
  for (const [key, p] of desired?.placements ?? []) {
    if (p.kind !== 'quarantine') continue;
    const at = key.indexOf('@');
    rows.push(at < 0 ? { pod: key, interface: '' } : { pod: key.slice(0, at), interface: key.slice(at + 1) });
  }
  return rows;
}

function reportMetrics(r: NodeReports): NonNullable<MetricsSources['reports']> {
  return {
    restored: () => r.snapshot().restored,
    notFirst: () => {
      const out: Record<string, number> = { ingress: 0, egress: 0 };
      for (const n of r.snapshot().notFirst) out[n.direction] = (out[n.direction] ?? 0) + 1;
      return out;
    },
    findings: () => r.findingCounts(),
  };
}

export class Observability {
  readonly store: FlowStore;
  readonly reader: FlowReader;
  readonly flows: FlowServiceImpl;
  private readonly mapFill: MapFillCache;
  /** the flow export, subscribed to the store before the reader starts (so it sees every flow) */
  private exporter: FlowExporter | undefined;
  private unsubscribeExport: (() => void) | undefined;
  private directory: Directory = Directory.empty();
  private api: ApiServer | undefined;
  private metrics: Metrics | undefined;
  /** the last report without its delta and changed objects (used once, by the directory: 5 MB after a first sync of 100,000 pods) */
  private lastSync: Omit<SyncReport, 'delta' | 'changed'> | undefined;
  private lastSyncMs = 0;
  /** NetworkPolicy's names for flows and Explain, from the last reconcile's desired state */
  readonly policyNamer = new PolicyNamer(() => this.lastSync?.desired);
  private readonly startedAt = Date.now();
  private readonly version = packageVersion();

  private constructor(
    private readonly bpf: NativeAddon,
    private readonly agent: AgentHandle,
    private readonly cfg: ObservabilityConfig,
    private readonly log: Logger,
  ) {
    this.store = new FlowStore(cfg.maxFlows);
    this.reader = new FlowReader(bpf, this.store, () => this.directory, { mapsDir: agent.mapsDir, node: agent.node, pollMs: cfg.flowPollMs, policyName: (f) => this.policyNamer.forFlow(f) }, log);
    this.flows = new FlowServiceImpl(this.store, agent.node, { ...DEFAULT_FLOW_LIMITS, ...cfg.limits });
    this.mapFill = new MapFillCache(bpf, agent.mapsDir, 1000, () => ({ flows: this.reader.kernelEntries }));
  }

  static async start(bpf: NativeAddon, agent: AgentHandle, cfg: ObservabilityConfig, log: Logger): Promise<Observability> {
    const o = new Observability(bpf, agent, cfg, log);
    try {
      if (cfg.flowExport) {
        let lastLogged = '';
        const file = cfg.flowExport.file;
        const exporter = openFlowExport(cfg.flowExport, (err, records) => {
          // Once per distinct error: a full disk fails every write.
          if (err !== lastLogged) log.error({ err, records, file }, 'flow export: write failed, records dropped (counted; enforcement and the API go on)');
          lastLogged = err;
        });
        o.exporter = exporter;
        o.unsubscribeExport = o.store.subscribe((f) => exporter.offer(f));
        log.info({ file, maxBytes: cfg.flowExport.maxBytes, maxFiles: cfg.flowExport.maxFiles }, 'flow export on');
      }
      o.reader.start();
      if (cfg.listenOff !== undefined) log.error({ reason: cfg.listenOff }, 'gRPC API on TCP is off (the relay cannot reach this agent); enforcement runs');
      if (cfg.socketPath || cfg.listen) {
        o.api = new ApiServer(
          o.flows.handlers(),
          stateHandlers(
            {
              node: agent.node,
              directory: () => o.directory,
              status: () => o.status(),
              programs: () => agent.programs(),
              policy: o.policyNamer,
              ...(agent.cidrs
                ? {
                    whatIf: {
                      node: agent.node,
                      ...agent.cidrs,
                      nodeAudit: agent.enforcement === 'audit',
                      current: () => (o.lastSync ? { state: o.lastSync.state, desired: o.lastSync.desired } : undefined),
                      flows: () => o.store.all(),
                      now: () => Date.now(),
                    },
                  }
                : {}),
            },
            bpf,
          ),
          {
            ...(cfg.socketPath ? { socketPath: cfg.socketPath } : {}),
            ...(cfg.listen ? { listen: cfg.listen } : {}),
            ...(cfg.tls ? { tls: cfg.tls } : {}),
            // an agent's TCP listener always names who may call (deny by default, config or not)
            ...(cfg.tls ? { clients: cfg.clients ?? { allowed: DEFAULT_ALLOWED_CLIENTS, refused: certificateFileNames(cfg.tls.cert) } } : {}),
            onRefused: (r) => log.warn({ peer: r.peer, names: r.names, fingerprint: r.fingerprint, reason: r.why }, 'gRPC API: client refused (PERMISSION_DENIED; logged once per certificate)'),
          },
        );
        await o.api.start();
        log.info({ addresses: o.api.addresses }, 'gRPC API listening (health NOT_SERVING until the first sync)');
      }
      if (cfg.metricsPort > 0) {
        o.metrics = new Metrics(bpf, {
          mapsDir: agent.mapsDir,
          flows: () => o.store.stats(),
          events: () => ({
            received: o.reader.stats().eventsReceived,
            lostRing: Number(o.reader.kernelStats().eventsLost),
            lostStreams: o.flows.streamLost,
          }),
          mapFill: () => o.mapFill.get(),
          serviceProblems: () => serviceProblemRows(o.lastSync?.desired),
          quarantined: () => quarantinedRows(o.lastSync?.desired),
          ...(o.exporter ? { flowExport: () => (o.exporter as FlowExporter).stats() } : {}),
          ...(agent.reports ? { reports: reportMetrics(agent.reports) } : {}),
        });
        try {
          const port = await o.metrics.listen(cfg.metricsPort);
          log.info({ url: `http://127.0.0.1:${port}/metrics` }, 'metrics listening');
        } catch (e) {
          // Metrics are not worth failing enforcement for.
          log.warn({ err: e instanceof Error ? e.message : String(e), port: cfg.metricsPort }, 'metrics endpoint unavailable');
        }
      }
    } catch (e) {
      await o.stop();
      throw e;
    }
    return o;
  }

  /** After each successful reconcile: new names for flows, health, latencies. */
  /** A session sweep ran (src/agent/sessions.ts). */
  sessionsSwept(r: SweepResult): void {
    this.metrics?.sessionsSwept(r);
  }

  synced(r: SyncReport): void {
    // Names change where the cluster did: updated in place, rebuilt only when anything may have changed.
    if (r.delta === undefined || r.changed === undefined || r.changed === 'all') this.directory = buildDirectory(r.state, r.desired, this.agent.node);
    else this.directory.update(r.state, r.desired, r.delta, r.changed);
    const { delta: _delta, changed: _changed, ...kept } = r;
    this.lastSync = kept;
    this.lastSyncMs = Date.now();
    this.metrics?.compileSeconds.observe(r.compileMs / 1000);
    this.metrics?.reconcileSeconds.observe(r.reconcileMs / 1000);
    this.api?.setServing(true);
  }

  status(): ServerStatusResponse {
    const s = this.store.stats();
    const k = this.reader.kernelStats();
    return {
      version: this.version,
      node: this.agent.node,
      uptimeSeconds: (Date.now() - this.startedAt) / 1000,
      flowsHeld: s.held,
      flowsMax: s.max,
      flowsSeen: s.seen,
      flowsEvicted: s.evicted,
      eventsReceived: this.reader.stats().eventsReceived,
      eventsLost: Number(k.eventsLost),
      streamFlowsLost: this.flows.streamLost,
      attachMode: this.lastSync?.attachMode ?? '',
      enforcement: this.agent.enforcement ?? 'enforce',
      maps: this.mapFill.get(),
      lastSyncMs: this.lastSyncMs,
      generation: this.lastSync?.generation ?? 0,
      synced: this.lastSync !== undefined,
      kernelFlowsCreated: Number(k.flowsCreated),
      streams: this.flows.openStreams,
      ...(this.exporter ? { flowExport: exportStatus(this.exporter.stats()) } : {}),
    };
  }

  async stop(): Promise<void> {
    this.reader.stop();
    this.unsubscribeExport?.();
    await this.exporter?.close();
    await this.api?.stop();
    await this.metrics?.close();
  }
}
