// Prometheus metrics over HTTP on 127.0.0.1 (prom-client). Kernel counters
// are read at scrape time from the pinned maps; latency histograms are fed
// by the agent after each compile and reconcile.
import http from 'node:http';
import path from 'node:path';
import client from 'prom-client';
import { decodeCounters, directionName, verdictName } from '../kernel/abi.js';
import type { NativeAddon } from '../kernel/native.js';
import type { FlowExportStats } from '../flows/exporter.js';
import { registerExportMetrics } from './export-metrics.js';

export interface MetricsSources {
  /** /sys/fs/bpf/vrfwall/<instance>/maps */
  mapsDir: string;
  flows(): { held: number; max: number; seen: number; evicted: number };
  events(): { received: number; lostRing: number; lostStreams: number };
  mapFill(): { name: string; entries: number; maxEntries: number; fill: number }[];
  /** What the last compile reported about Services (foreign endpoints, frontend conflicts, ...). */
  serviceProblems(): { service: string; problem: string; count: number }[];
  /** Interfaces the last compile quarantined: a pod's own ("" interface) and its secondary ones. */
  quarantined(): { pod: string; interface: string }[];
  /** the flow export's counters; absent: no export */
  flowExport?: () => FlowExportStats;
  /** hook order and isolation limits (agent/node-reports.ts); absent: not exported */
  reports?: {
    restored(): Record<string, number>;
    notFirst(): Record<string, number>;
    findings(): Record<string, number>;
  };
}

export interface SessionSweep {
  expired: number;
  revoked: number;
  live: number;
  holders: number;
  quota: number;
}

export class Metrics {
  readonly registry = new client.Registry();
  readonly compileSeconds: client.Histogram;
  readonly reconcileSeconds: client.Histogram;
  private readonly sessionsRemoved: client.Counter<'reason'>;
  private readonly sessionGauges: Record<'live' | 'holders' | 'quota', client.Gauge>;
  private server: http.Server | undefined;

  constructor(
    private readonly bpf: NativeAddon,
    sources: MetricsSources,
  ) {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry, prefix: 'vrfwall_' });
    const readCounters = () => {
      const fd = this.bpf.objGet(path.join(sources.mapsDir, 'counters'));
      try {
        return decodeCounters(this.bpf.mapDump(fd), this.bpf.possibleCpus());
      } finally {
        this.bpf.closeFd(fd);
      }
    };
    const labelsOf = (c: { direction: number; verdict: number; name: string }) => ({
      direction: directionName(c.direction).toLowerCase(),
      verdict: verdictName(c.verdict).toLowerCase(),
      reason: c.name.split('/')[2] ?? '',
    });
    let cache: { at: number; rows: ReturnType<typeof readCounters> } = { at: 0, rows: [] };
    const counters = () => {
      if (Date.now() - cache.at > 100) cache = { at: Date.now(), rows: readCounters() };
      return cache.rows;
    };
    const labelNames = ['direction', 'verdict', 'reason'] as const;
    new client.Counter({
      name: 'vrfwall_packets_total',
      help: 'Packets judged by the datapath, by hook direction, verdict and allow rule or drop reason',
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const c of counters()) if (c.packets > 0n) this.inc(labelsOf(c), Number(c.packets));
      },
    });
    new client.Counter({
      name: 'vrfwall_bytes_total',
      help: 'Bytes (frame length) judged by the datapath, by hook direction, verdict and rule or reason',
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const c of counters()) if (c.bytes > 0n) this.inc(labelsOf(c), Number(c.bytes));
      },
    });
    this.sessionsRemoved = new client.Counter({
      name: 'vrfwall_sessions_removed_total',
      help: 'Service sessions removed by the sweeps: expired (idle past their timeout) or revoked (the policy no longer allows them)',
      labelNames: ['reason'] as const,
      registers,
    });
    this.sessionGauges = {
      live: new client.Gauge({ name: 'vrfwall_sessions', help: 'Service sessions in the table after the last sweep', registers }),
      holders: new client.Gauge({ name: 'vrfwall_session_holders', help: 'Client addresses that may hold sessions (fair-share divisor)', registers }),
      quota: new client.Gauge({ name: 'vrfwall_session_quota', help: 'Live sessions one client address may hold now', registers }),
    };
    const src = sources;
    new client.Gauge({
      name: 'vrfwall_flows_held',
      help: 'Flows in the agent store',
      registers,
      collect() {
        this.set(src.flows().held);
      },
    });
    new client.Gauge({
      name: 'vrfwall_flows_max',
      help: 'Size of the agent flow store',
      registers,
      collect() {
        this.set(src.flows().max);
      },
    });
    new client.Counter({
      name: 'vrfwall_flows_seen_total',
      help: 'Distinct flows the agent store has taken in',
      registers,
      collect() {
        this.reset();
        this.inc(src.flows().seen);
      },
    });
    new client.Counter({
      name: 'vrfwall_flows_evicted_total',
      help: 'Flows pushed out of the full agent store',
      registers,
      collect() {
        this.reset();
        this.inc(src.flows().evicted);
      },
    });
    new client.Counter({
      name: 'vrfwall_flow_events_received_total',
      help: 'Flow events read from the ring buffer',
      registers,
      collect() {
        this.reset();
        this.inc(src.events().received);
      },
    });
    new client.Counter({
      name: 'vrfwall_flow_events_lost_total',
      help: 'Flow events lost: ringbuf = ring buffer full in the kernel, stream = dropped from slow API clients',
      labelNames: ['where'],
      registers,
      collect() {
        this.reset();
        const e = src.events();
        this.inc({ where: 'ringbuf' }, e.lostRing);
        this.inc({ where: 'stream' }, e.lostStreams);
      },
    });
    for (const [name, help, field] of [
      ['vrfwall_map_entries', 'Entries in each pinned BPF map', 'entries'],
      ['vrfwall_map_max_entries', 'Capacity of each pinned BPF map', 'maxEntries'],
      ['vrfwall_map_fill_ratio', 'entries / max_entries of each pinned BPF map', 'fill'],
    ] as const) {
      new client.Gauge({
        name,
        help,
        labelNames: ['map'],
        registers,
        collect() {
          this.reset();
          for (const m of src.mapFill()) this.set({ map: m.name }, m[field]);
        },
      });
    }
    new client.Gauge({
      name: 'vrfwall_service_problems',
      help:
        'What the last compile reported per Service: foreign_backend (endpoints that are pods of another namespace), ' +
        'unknown_backend, several_networks, bad_annotation, external_narrowed, frontend_rejected, frontend_conflict, frontend_backend, tunnel_backend',
      labelNames: ['service', 'problem'],
      registers,
      collect() {
        this.reset();
        for (const p of src.serviceProblems()) this.set({ service: p.service, problem: p.problem }, p.count);
      },
    });
    new client.Gauge({
      name: 'vrfwall_quarantined',
      help: 'Interfaces the last compile quarantined (design section 2): 1 per pod ("" interface: its own) and per secondary interface; why: explain, the log, Events',
      labelNames: ['pod', 'interface'],
      registers,
      collect() {
        this.reset();
        for (const q of src.quarantined()) this.set({ pod: q.pod, interface: q.interface }, 1);
      },
    });
    if (sources.flowExport) registerExportMetrics(this.registry, sources.flowExport);
    const reports = sources.reports;
    if (reports) {
      new client.Counter({
        name: 'vrfwall_hook_order_restored_total',
        help: 'Times the agent found another program running before vrfwall on a hook it owns and attached itself first again',
        labelNames: ['direction'],
        registers,
        collect() {
          this.reset();
          for (const [direction, n] of Object.entries(reports.restored())) this.inc({ direction }, n);
        },
      });
      new client.Gauge({
        name: 'vrfwall_hooks_not_first',
        help: 'Hooks vrfwall owns where another program runs before it and it cannot move ahead (see the status file)',
        labelNames: ['direction'],
        registers,
        collect() {
          this.reset();
          for (const [direction, n] of Object.entries(reports.notFirst())) this.set({ direction }, n);
        },
      });
      new client.Gauge({
        name: 'vrfwall_isolation_limit_findings',
        help: 'Things on this node the datapath cannot see past, by kind (docs/limits.md; details in the log and status file)',
        labelNames: ['finding'],
        registers,
        collect() {
          this.reset();
          for (const [finding, n] of Object.entries(reports.findings())) this.set({ finding }, n);
        },
      });
    }
    const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
    this.compileSeconds = new client.Histogram({
      name: 'vrfwall_compile_duration_seconds',
      help: 'Time of the pure compile step (cluster state -> desired maps)',
      buckets,
      registers,
    });
    this.reconcileSeconds = new client.Histogram({
      name: 'vrfwall_reconcile_duration_seconds',
      help: 'Time of a whole reconcile (discover, compile, diff, apply, attach)',
      buckets,
      registers,
    });
  }

  /** Serve GET /metrics on 127.0.0.1:port; resolves with the port bound. */
  sessionsSwept(r: SessionSweep): void {
    if (r.expired > 0) this.sessionsRemoved.inc({ reason: 'expired' }, r.expired);
    if (r.revoked > 0) this.sessionsRemoved.inc({ reason: 'revoked' }, r.revoked);
    this.sessionGauges.live.set(r.live);
    this.sessionGauges.holders.set(r.holders);
    this.sessionGauges.quota.set(r.quota);
  }

  listen(port: number, host = '127.0.0.1'): Promise<number> {
    const server = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url !== '/metrics' && req.url !== '/')) {
        res.writeHead(404).end('not found: GET /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500).end(`metrics failed: ${e instanceof Error ? e.message : String(e)}\n`),
      );
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}
