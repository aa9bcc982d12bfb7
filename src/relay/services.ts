// The relay's FlowService and StateService: the agents' API, answered for
// the whole cluster by asking every agent (AgentPool.fanOut) and merging
// (merge.ts). Every answer carries a NodeReport: which nodes answered and
// which did not, with why.
import * as grpc from '@grpc/grpc-js';
import { ApiError, MAX_BATCH_SIZE, aggregateKeys, parseFlowsRequest, toServiceError, type FlowServiceLimits } from '../api/flow-service.js';
import type {
  EndpointInfoMsg,
  ExplainRequest,
  ExplainResponse,
  FlowMsg,
  GetFlowStatsRequest,
  GetFlowStatsResponse,
  GetFlowsRequest,
  GetFlowsResponse,
  ListEndpointsRequest,
  ListEndpointsResponse,
  ListNetworksResponse,
  NodeReportMsg,
  ServerStatusResponse,
  FlowExportStatusMsg,
  WhatIfRequest,
  WhatIfResponse,
} from '../api/messages.js';
import { ProposalError, parseProposal } from '../model/proposal.js';
import { mergeWhatIf } from '../flows/whatif.js';
import { flowsOf } from '../api/messages.js';
import { StreamWriter, callOver, type WritableCall } from '../api/stream.js';
import { packageVersion } from '../util/version.js';
import type { AgentConnection, AgentPool } from './agents.js';
import { FollowMerger, flowVersion, type FollowOptions } from './follow.js';
import { answers, hostOf, mergeEndpoints, mergeExplain, mergeFlows, mergeGroups, mergeNetworks, nodeReport, type NodeResult } from './merge.js';

export interface RelayLimits extends FlowServiceLimits, FollowOptions {
  /** how long one agent may take for a unary call or a history */
  nodeTimeoutMs: number;
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  maxStreams: 16,
  maxFlowsPerRequest: 100_000,
  followQueue: 4096,
  perNodeQueue: 4096,
  nodeTimeoutMs: 10_000,
  retryMs: 2_000,
};

/** Flows per message the relay asks agents for (fewer messages to decode). */
const AGENT_BATCH = MAX_BATCH_SIZE;
/** A live stream starts this long before the history was asked for (clock steps between nodes); what it repeats of the history is not sent twice. */
const FOLLOW_OVERLAP_MS = 2_000;

/** The name a relay gives itself in answers' `node`. */
export const RELAY_NODE = 'relay';

/** No agent known: an error, never an empty answer that looks like a quiet cluster. */
function needAgents(pool: AgentPool, where: () => string): AgentConnection[] {
  const members = pool.members();
  if (members.length === 0) throw new ApiError(grpc.status.UNAVAILABLE, `the relay knows no agents yet (${where()})`);
  return members;
}

/** A fan-out where no node answered is an error naming each node's reason. */
function needAnswer(results: readonly NodeResult<unknown>[]): void {
  if (results.length > 0 && results.every((r) => !r.ok)) {
    const why = results.map((r) => `${r.node}: ${r.ok ? '' : r.error}`).join('; ');
    throw new ApiError(grpc.status.UNAVAILABLE, `no agent answered (${why})`);
  }
}

function readAll(c: AgentConnection, req: Partial<GetFlowsRequest>, timeoutMs: number): Promise<FlowMsg[]> {
  return new Promise((resolve, reject) => {
    const out: FlowMsg[] = [];
    const s = c.getFlows(req, timeoutMs);
    s.on('data', (m: GetFlowsResponse) => {
      for (const f of flowsOf(m)) out.push(c.ownFlow(f));
    });
    s.on('error', reject);
    s.on('end', () => resolve(out));
  });
}

export class RelayServices {
  private streams = 0;
  /** flows dropped from followers' queues (per-node and per-client) */
  streamLost = 0;
  readonly startedAt = Date.now();
  /** the relay's flow export counters (relay.ts sets it with --flow-export-file) */
  flowExport: (() => FlowExportStatusMsg) | undefined;

  constructor(
    private readonly pool: AgentPool,
    private readonly limits: RelayLimits = DEFAULT_RELAY_LIMITS,
    /** what discovery is doing, for "no agents" messages */
    private readonly discovery: () => string = () => 'no discovery',
  ) {}

  get openStreams(): number {
    return this.streams;
  }

  flowHandlers(): grpc.UntypedServiceImplementation {
    return {
      GetFlows: (call: grpc.ServerWritableStream<GetFlowsRequest, GetFlowsResponse>) => {
        void this.getFlows(call);
      },
      GetFlowStats: this.unary((req: GetFlowStatsRequest) => this.getFlowStats(req)),
    };
  }

  stateHandlers(): grpc.UntypedServiceImplementation {
    return {
      ServerStatus: this.unary(() => this.serverStatus()),
      ListNetworks: this.unary(() => this.listNetworks()),
      ListEndpoints: this.unary((req: ListEndpointsRequest) => this.listEndpoints(req)),
      Explain: this.unary((req: ExplainRequest) => this.explain(req)),
      WhatIf: this.unary((req: WhatIfRequest) => this.whatIf(req)),
    };
  }

  private unary<Req, Res>(fn: (req: Req) => Promise<Res>) {
    return (call: grpc.ServerUnaryCall<Req, Res>, cb: grpc.sendUnaryData<Res>): void => {
      fn(call.request).then(
        (r) => cb(null, r),
        (e: unknown) => cb(toServiceError(e)),
      );
    };
  }

  private getFlows(call: grpc.ServerWritableStream<GetFlowsRequest, GetFlowsResponse>): Promise<void> {
    return this.streamFlows(call.request, call);
  }

  /**
   * GetFlows into any writable call: the gRPC handler's and the web UI's
   * (src/relay/ui/), so the UI's flows are this code, not a second one. A
   * bad request or no agent is an 'error' event carrying a ServiceError.
   */
  async streamFlows(request: GetFlowsRequest, call: WritableCall<GetFlowsResponse>): Promise<void> {
    let members: AgentConnection[];
    let q: ReturnType<typeof parseFlowsRequest>;
    try {
      // the relay checks the request itself: a bad filter is the client's error, not N agents'
      q = parseFlowsRequest(request, this.limits);
      if (this.streams >= this.limits.maxStreams) {
        throw new ApiError(grpc.status.RESOURCE_EXHAUSTED, `too many concurrent GetFlows streams (at most ${this.limits.maxStreams})`);
      }
      members = needAgents(this.pool, this.discovery);
    } catch (e) {
      call.emit('error', toServiceError(e));
      return;
    }
    this.streams++;
    const r = request;
    const writer = new StreamWriter<GetFlowsResponse>(call, this.limits.followQueue, (count) => ({ lost: { count, where: 'relay stream queue (client too slow)' } }), (n) => {
      this.streamLost += n;
    });
    const seen = new Set<string>();
    const askedAt = Date.now();
    const follow = q.follow
      ? new FollowMerger(
          this.pool,
          writer,
          { allow: r.allow, deny: r.deny, sinceMs: Math.max(r.sinceMs, askedAt - FOLLOW_OVERLAP_MS), follow: true, batchSize: 0 },
          this.limits,
          seen,
          (n) => {
            this.streamLost += n;
          },
        )
      : undefined;
    try {
      follow?.start(); // before the history: nothing falls in between
      const history = { allow: r.allow, deny: r.deny, last: r.last, first: r.first, sinceMs: r.sinceMs, untilMs: r.untilMs, follow: false, batchSize: AGENT_BATCH };
      const results = await this.pool.fanOut((c) => readAll(c, history, this.limits.nodeTimeoutMs), members);
      if (results.every((x) => !x.ok)) needAnswer(results);
      const flows = mergeFlows(answers(results), q);
      if (follow) for (const f of flows) if (f.lastSeenMs >= askedAt - FOLLOW_OVERLAP_MS) seen.add(flowVersion(f));
      const report = nodeReport(results);
      const live = follow?.failures() ?? new Map<string, string>();
      for (const [node, error] of live) {
        if (!report.failed.some((x) => x.node === node)) {
          report.answered = report.answered.filter((n) => n !== node);
          report.failed.push({ node, error });
        }
      }
      if (!(await writer.write({ nodes: report }))) return;
      if (q.batchSize > 1) {
        for (let i = 0; i < flows.length; i += q.batchSize) {
          if (!(await writer.write({ batch: { flows: flows.slice(i, i + q.batchSize) } }))) return;
        }
      } else {
        for (const f of flows) if (!(await writer.write({ flow: f }))) return;
      }
      if (!follow) {
        if (!writer.isClosed) call.end();
        return;
      }
      follow.release();
      await callOver(call, writer);
    } catch (e) {
      if (!writer.isClosed) call.emit('error', toServiceError(e));
    } finally {
      follow?.stop();
      this.streams--;
    }
  }

  private async getFlowStats(req: GetFlowStatsRequest): Promise<GetFlowStatsResponse> {
    aggregateKeys(req.aggregateBy ?? []); // a bad key is the client's error, named before any agent is asked
    const members = needAgents(this.pool, this.discovery);
    // every node's groups, uncut: the cluster's top N is cut after the sums
    const results = await this.pool.fanOut((c) => c.unary<GetFlowStatsResponse>('flows', 'GetFlowStats', { ...req, top: 0 }, this.limits.nodeTimeoutMs), members);
    const bad = results.find((x) => !x.ok && /INVALID_ARGUMENT|RESOURCE_EXHAUSTED/.test(x.error));
    if (bad && !bad.ok) throw new ApiError(grpc.status.INVALID_ARGUMENT, bad.error.replace(/^INVALID_ARGUMENT: /, ''));
    needAnswer(results);
    const ok = answers(results);
    if (req.top > this.limits.maxFlowsPerRequest) throw new ApiError(grpc.status.RESOURCE_EXHAUSTED, `top: at most ${this.limits.maxFlowsPerRequest}`);
    return {
      groups: mergeGroups(ok.map((x) => x.groups), req.sortBy, req.top),
      flows: ok.reduce((n, x) => n + x.flows, 0),
      node: RELAY_NODE,
      nodes: nodeReport(results),
    };
  }

  private async serverStatus(): Promise<ServerStatusResponse> {
    const members = this.pool.members();
    const results = await this.pool.fanOut((c) => c.unary<ServerStatusResponse>('state', 'ServerStatus', {}, this.limits.nodeTimeoutMs), members);
    const ok = answers(results);
    const sum = (k: 'flowsHeld' | 'flowsMax' | 'flowsSeen' | 'flowsEvicted' | 'eventsReceived' | 'eventsLost' | 'streamFlowsLost' | 'kernelFlowsCreated'): number =>
      ok.reduce((n, s) => n + s[k], 0);
    // the relay's own status is a summary; each agent's is in nodeStatus
    return {
      version: packageVersion(),
      node: RELAY_NODE,
      uptimeSeconds: (Date.now() - this.startedAt) / 1000,
      flowsHeld: sum('flowsHeld'),
      flowsMax: sum('flowsMax'),
      flowsSeen: sum('flowsSeen'),
      flowsEvicted: sum('flowsEvicted'),
      eventsReceived: sum('eventsReceived'),
      eventsLost: sum('eventsLost'),
      streamFlowsLost: sum('streamFlowsLost') + this.streamLost,
      attachMode: '',
      maps: [],
      lastSyncMs: ok.reduce((m, s) => (m === 0 ? s.lastSyncMs : Math.min(m, s.lastSyncMs)), 0),
      generation: 0,
      synced: members.length > 0 && ok.length === members.length && ok.every((s) => s.synced),
      kernelFlowsCreated: sum('kernelFlowsCreated'),
      streams: this.streams,
      nodeStatus: ok,
      nodes: nodeReport(results),
      ...(this.flowExport ? { flowExport: this.flowExport() } : {}),
    };
  }

  async listNetworks(): Promise<ListNetworksResponse> {
    const results = await this.pool.fanOut(
      (c) => c.unary<ListNetworksResponse>('state', 'ListNetworks', {}, this.limits.nodeTimeoutMs),
      needAgents(this.pool, this.discovery),
    );
    needAnswer(results);
    return { networks: mergeNetworks(answers(results).map((x) => x.networks)), node: RELAY_NODE, nodes: nodeReport(results) };
  }

  private async endpoints(req: Partial<ListEndpointsRequest>): Promise<{ endpoints: EndpointInfoMsg[]; report: NodeReportMsg; results: NodeResult<ListEndpointsResponse>[] }> {
    const results = await this.pool.fanOut(
      (c) => c.unary<ListEndpointsResponse>('state', 'ListEndpoints', req, this.limits.nodeTimeoutMs),
      needAgents(this.pool, this.discovery),
    );
    needAnswer(results);
    return { endpoints: mergeEndpoints(answers(results).map((x) => x.endpoints)), report: nodeReport(results), results };
  }

  async listEndpoints(req: ListEndpointsRequest): Promise<ListEndpointsResponse> {
    const { endpoints, report } = await this.endpoints(req);
    return { endpoints, node: RELAY_NODE, nodes: report };
  }

  /**
   * WhatIf for the whole cluster: every agent replays its own flows against
   * the same proposal; a conversation seen at the sender's and the receiver's
   * node is one change (mergeWhatIf). A proposal that does not parse is
   * refused here, before any agent is asked.
   */
  async whatIf(req: WhatIfRequest): Promise<WhatIfResponse> {
    try {
      parseProposal((req.documents ?? []).map((d) => ({ file: d.file, text: d.text })));
    } catch (e) {
      if (e instanceof ProposalError) throw new ApiError(grpc.status.INVALID_ARGUMENT, e.message);
      throw e;
    }
    const results = await this.pool.fanOut(
      (c) => c.unary<WhatIfResponse>('state', 'WhatIf', req, this.limits.nodeTimeoutMs),
      needAgents(this.pool, this.discovery),
    );
    const bad = results.find((x) => !x.ok && /INVALID_ARGUMENT/.test(x.error));
    if (bad && !bad.ok) throw new ApiError(grpc.status.INVALID_ARGUMENT, bad.error.replace(/^INVALID_ARGUMENT: /, ''));
    needAnswer(results);
    return { ...mergeWhatIf(answers(results), RELAY_NODE), nodes: nodeReport(results) };
  }

  /**
   * Explain on the node that hosts the sender (its from_pod) and the one that
   * hosts the receiver (its to_pod), merged; the hosts come from the
   * agents' endpoints. A host that does not answer is in `nodes.failed`
   * and named in the note.
   */
  async explain(req: ExplainRequest): Promise<ExplainResponse> {
    if (!req.source || !req.destination) throw new ApiError(grpc.status.INVALID_ARGUMENT, `${req.source ? 'destination' : 'source'}: required ("ns/pod" or an IP)`);
    const { endpoints } = await this.endpoints({});
    const hosts = [...new Set([hostOf(req.source, endpoints), hostOf(req.destination, endpoints)].filter((n): n is string => n !== undefined))];
    if (hosts.length === 0) {
      throw new ApiError(grpc.status.FAILED_PRECONDITION, `neither ${req.source} nor ${req.destination} is a pod the agents know: nothing to explain on any node`);
    }
    const conns = hosts.flatMap((n) => {
      const c = this.pool.get(n);
      return c ? [c] : [];
    });
    const missing = hosts.filter((n) => !this.pool.get(n));
    const results: NodeResult<ExplainResponse>[] = [
      ...(await this.pool.fanOut((c) => c.unary<ExplainResponse>('state', 'Explain', req, this.limits.nodeTimeoutMs), conns)),
      ...missing.map((node): NodeResult<ExplainResponse> => ({ node, ok: false, error: 'no agent of this node is known to the relay' })),
    ];
    const ok = answers(results);
    const merged = mergeExplain(ok);
    if (!merged) {
      const bad = results.find((x) => !x.ok && /INVALID_ARGUMENT|NOT_FOUND|FAILED_PRECONDITION/.test(x.error));
      if (bad && !bad.ok) throw new ApiError(grpc.status.FAILED_PRECONDITION, bad.error);
      needAnswer(results);
      throw new ApiError(grpc.status.UNAVAILABLE, 'no agent answered');
    }
    const report = nodeReport(results);
    const down = report.failed.map((f) => `node ${f.node} did not answer (${f.error}): its hook is not in this answer`);
    return { ...merged, note: [merged.note, ...down].filter(Boolean).join('; '), nodes: report };
  }
}
