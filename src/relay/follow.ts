// `follow` across nodes: one live GetFlows stream per agent, each feeding a
// bounded queue of its own, and one pump that takes from the queues in turn
// and writes to the client with backpressure. A slow or flooding node fills
// only its own queue (its oldest items go, counted, and the client is told
// with a `lost` item naming the node); a node that fails is reported with a
// `nodes` item and retried while the client listens; a node that comes back,
// or joins, is reported again.
import type * as grpc from '@grpc/grpc-js';
import type { FlowMsg, GetFlowsRequest, GetFlowsResponse, NodeReportMsg } from '../api/messages.js';
import { flowsOf } from '../api/messages.js';
import type { StreamWriter } from '../api/stream.js';
import { describeError, type AgentConnection, type AgentPool } from './agents.js';
import { compareText } from '../util/order.js';

export interface FollowOptions {
  /** live items one node may have queued before its oldest are dropped */
  perNodeQueue: number;
  /** how long a node's check may take before it counts as down */
  nodeTimeoutMs: number;
  /** wait between attempts at a node that failed */
  retryMs: number;
}

/** Identity of one version of a flow: a live item equal to a history one is not sent twice. */
export const flowVersion = (f: FlowMsg): string => `${f.node}\0${f.id}\0${f.lastSeenMs}\0${f.forward.packets}\0${f.reverse.packets}`;

class NodeFeed {
  readonly queue: GetFlowsResponse[] = [];
  /** dropped from this node's queue, not yet told to the client */
  pendingLost = 0;
  /** what the agent said it dropped from its queue for us, not yet told (kept out of the queue, so dropping the oldest never loses a count) */
  agentLost = 0;
  agentWhere = '';
  lostTotal = 0;
  stream: grpc.ClientReadableStream<GetFlowsResponse> | undefined;
  error: string | undefined;
  retry: NodeJS.Timeout | undefined;
  stopped = false;

  constructor(readonly conn: AgentConnection) {}
}

export class FollowMerger {
  private readonly feeds = new Map<string, NodeFeed>();
  private pumping = false;
  private released = false;
  /** the set of answering nodes changed since the client was last told */
  private reportDue = false;
  private closed = false;
  private readonly onPoolChange = (): void => this.syncMembers();
  /** flows lost in this relay's per-node queues */
  lost = 0;

  constructor(
    private readonly pool: AgentPool,
    private readonly writer: StreamWriter<GetFlowsResponse>,
    /** what each agent is asked (follow: true, no last/first) */
    private readonly request: Partial<GetFlowsRequest>,
    private readonly opts: FollowOptions,
    /** versions already sent in the history */
    private readonly seen: Set<string>,
    private readonly onLost: (n: number) => void = () => undefined,
  ) {}

  /** Opens a stream to every member now (before the history is read, so nothing falls in between). */
  start(): void {
    this.pool.on('change', this.onPoolChange);
    for (const c of this.pool.members()) this.open(new NodeFeed(c), false);
  }

  /** Failures so far (merged into the history's report). */
  failures(): Map<string, string> {
    return new Map([...this.feeds.values()].flatMap((f) => (f.error !== undefined ? [[f.conn.node, f.error] as const] : [])));
  }

  /** Starts delivering live items (after the history is written). */
  release(): void {
    this.released = true;
    void this.pump();
  }

  stop(): void {
    this.closed = true;
    this.pool.off('change', this.onPoolChange);
    for (const f of this.feeds.values()) this.stopFeed(f);
    this.feeds.clear();
  }

  report(): NodeReportMsg {
    const feeds = [...this.feeds.values()].sort((a, b) => compareText(a.conn.node, b.conn.node));
    return {
      answered: feeds.filter((f) => f.error === undefined).map((f) => f.conn.node),
      failed: feeds.flatMap((f) => (f.error !== undefined ? [{ node: f.conn.node, error: f.error }] : [])),
    };
  }

  private stopFeed(f: NodeFeed): void {
    f.stopped = true;
    clearTimeout(f.retry);
    f.stream?.cancel();
    f.stream = undefined;
  }

  private syncMembers(): void {
    if (this.closed) return;
    const members = new Map(this.pool.members().map((c) => [c.node, c]));
    let changed = false;
    for (const [node, f] of this.feeds) {
      if (members.get(node) !== f.conn) {
        this.stopFeed(f);
        this.feeds.delete(node);
        changed = true;
      }
    }
    for (const [node, c] of members) {
      if (!this.feeds.has(node)) {
        // a node that joins is checked first, then reported with the others
        this.open(new NodeFeed(c), true);
      }
    }
    if (changed) this.announce();
  }

  private announce(): void {
    if (this.closed) return;
    this.reportDue = true;
    if (this.released) void this.pump();
  }

  /** (Re)connects a node: a status call first, so "answers" means it does, then the live stream. */
  private open(f: NodeFeed, check: boolean): void {
    this.feeds.set(f.conn.node, f);
    const connect = (): void => {
      if (f.stopped || this.closed) return;
      const s = f.conn.getFlows(this.request);
      f.stream = s;
      s.on('data', (m: GetFlowsResponse) => this.take(f, m));
      s.on('error', (e: grpc.ServiceError) => {
        if (f.stopped || this.closed || e.code === 1 /* CANCELLED by us */) return;
        this.failed(f, describeError(e));
      });
      s.on('end', () => {
        if (!f.stopped && !this.closed) this.failed(f, 'the agent ended the stream');
      });
    };
    if (!check) {
      connect();
      return;
    }
    f.conn.unary('state', 'ServerStatus', {}, this.opts.nodeTimeoutMs).then(
      () => {
        if (f.stopped || this.closed) return;
        f.error = undefined;
        connect();
        this.announce();
      },
      (e: unknown) => this.failed(f, describeError(e)),
    );
  }

  private failed(f: NodeFeed, error: string): void {
    if (f.stopped || this.closed) return;
    f.stream?.cancel();
    f.stream = undefined;
    const first = f.error === undefined;
    f.error = error;
    if (first) this.announce();
    clearTimeout(f.retry);
    f.retry = setTimeout(() => this.open(f, true), this.opts.retryMs);
    f.retry.unref?.();
  }

  private take(f: NodeFeed, m: GetFlowsResponse): void {
    if (m.lost) {
      // the agent's own queue for us overflowed: pass it on, naming the node
      f.agentLost += m.lost.count;
      f.agentWhere = m.lost.where;
    } else {
      for (const flow of flowsOf(m)) {
        f.conn.ownFlow(flow);
        if (this.seen.size > 0 && this.seen.has(flowVersion(flow))) continue;
        if (f.queue.length >= this.opts.perNodeQueue) {
          f.queue.shift();
          f.pendingLost++;
          f.lostTotal++;
          this.lost++;
          this.onLost(1);
        }
        f.queue.push({ flow });
      }
    }
    if (this.released) void this.pump();
  }

  /** Round robin over the nodes' queues, one item each turn, waiting for the client. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        if (this.closed || this.writer.isClosed) return;
        let wrote = false;
        if (this.reportDue) {
          this.reportDue = false;
          wrote = true;
          if (!(await this.writer.write({ nodes: this.report() }))) return;
        }
        for (const f of [...this.feeds.values()]) {
          let item: GetFlowsResponse | undefined;
          if (f.agentLost > 0) {
            item = { lost: { count: f.agentLost, where: `node ${f.conn.node}: ${f.agentWhere}` } };
            f.agentLost = 0;
          } else if (f.pendingLost > 0) {
            item = { lost: { count: f.pendingLost, where: `relay queue for node ${f.conn.node} (client too slow)` } };
            f.pendingLost = 0;
          } else item = f.queue.shift();
          if (item === undefined) continue;
          wrote = true;
          if (!(await this.writer.write(item))) return;
        }
        if (!wrote) return;
      }
    } finally {
      this.pumping = false;
    }
  }
}
