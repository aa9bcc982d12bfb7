// The relay's flow export (issue 15 item 3): the cluster-wide stream to the
// same JSON-lines exporter as an agent's. One live GetFlows stream per agent
// (the pool's members, followed as they come and go), each flow record
// (with its node) offered to the exporter, which filters, masks, queues and
// writes. A node's stream that fails is retried; it then asks for what
// changed since the last record it had from that node, so a node that was
// away leaves no gap but the flows its agent evicted meanwhile (some records
// come twice). What an agent dropped from its queue for this stream is
// counted as dropped.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { flowsOf, type GetFlowsResponse } from '../api/messages.js';
import type { FlowExporter } from '../flows/exporter.js';
import { describeError, type AgentConnection, type AgentPool } from './agents.js';

interface Feed {
  conn: AgentConnection;
  stream?: grpc.ClientReadableStream<GetFlowsResponse>;
  retry?: NodeJS.Timeout;
  /** lastSeenMs of the newest record from this node: where a new stream starts */
  sinceMs: number;
  stopped: boolean;
}

export class RelayFlowExport {
  private readonly feeds = new Map<string, Feed>();
  private readonly onChange = (): void => this.sync();

  constructor(
    private readonly pool: AgentPool,
    readonly exporter: FlowExporter,
    private readonly log: Logger,
    private readonly retryMs = 2000,
  ) {}

  start(): void {
    this.pool.on('change', this.onChange);
    this.sync();
  }

  async stop(): Promise<void> {
    this.pool.off('change', this.onChange);
    for (const f of this.feeds.values()) this.close(f);
    this.feeds.clear();
    await this.exporter.close();
  }

  /** Streams to the pool's members: new ones opened, gone ones closed. */
  private sync(): void {
    const members = new Map(this.pool.members().map((c) => [c.node, c]));
    for (const [node, f] of this.feeds) {
      if (members.get(node) !== f.conn) {
        this.close(f);
        this.feeds.delete(node);
      }
    }
    for (const [node, conn] of members) {
      if (this.feeds.has(node)) continue;
      const f: Feed = { conn, sinceMs: Date.now(), stopped: false };
      this.feeds.set(node, f);
      this.open(f);
    }
  }

  private open(f: Feed): void {
    if (f.stopped) return;
    const s = f.conn.getFlows({ allow: [], deny: [], sinceMs: f.sinceMs, untilMs: 0, last: 0, first: 0, follow: true, batchSize: 0 });
    f.stream = s;
    s.on('data', (m: GetFlowsResponse) => {
      for (const flow of flowsOf(m)) {
        this.exporter.offerMessage(flow);
        if (flow.lastSeenMs > f.sinceMs) f.sinceMs = flow.lastSeenMs;
      }
      if (m.lost) this.exporter.countDropped(m.lost.count);
    });
    const again = (why: string) => {
      if (f.stopped || f.stream !== s) return;
      f.stream = undefined;
      this.exporter.noteError(`node ${f.conn.node}: ${why}`);
      this.log.warn({ node: f.conn.node, err: why }, 'flow export: stream from the agent ended; retrying');
      f.retry = setTimeout(() => this.open(f), this.retryMs);
      f.retry.unref?.();
    };
    s.on('error', (e: grpc.ServiceError) => again(describeError(e)));
    s.on('end', () => again('stream ended'));
  }

  private close(f: Feed): void {
    f.stopped = true;
    clearTimeout(f.retry);
    const s = f.stream;
    f.stream = undefined;
    s?.cancel();
  }
}
