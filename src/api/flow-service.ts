// vrfwall.v1.FlowService: GetFlows (history, then follow) and GetFlowStats.
import * as grpc from '@grpc/grpc-js';
import { aggregate, aggregateByKeys, inWindow, type AggregateKey, type GroupBy, type SortBy } from '../flows/aggregate.js';
import { FilterError, compileFilters, type FlowPredicate } from '../flows/filter.js';
import type { FlowStore } from '../flows/store.js';
import type { Flow } from '../flows/types.js';
import { toFilterSpec, toFlowMsg, verdictName } from './convert.js';
import type { GetFlowStatsRequest, GetFlowStatsResponse, GetFlowsRequest, GetFlowsResponse } from './messages.js';
import { StreamWriter, callOver } from './stream.js';

export interface FlowServiceLimits {
  /** concurrent GetFlows streams */
  maxStreams: number;
  /** largest last/first N */
  maxFlowsPerRequest: number;
  /** live items a follower may have queued before the oldest are dropped */
  followQueue: number;
}

export const DEFAULT_FLOW_LIMITS: FlowServiceLimits = { maxStreams: 16, maxFlowsPerRequest: 100_000, followQueue: 4096 };

/** Largest batch_size: keeps one message well under grpc-js's 4 MiB default. */
export const MAX_BATCH_SIZE = 1000;

/** An API error with its gRPC status; handlers turn it into the call's error. */
export class ApiError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export const invalid = (msg: string) => new ApiError(grpc.status.INVALID_ARGUMENT, msg);
export const exhausted = (msg: string) => new ApiError(grpc.status.RESOURCE_EXHAUSTED, msg);

export function toServiceError(e: unknown): Partial<grpc.ServiceError> {
  if (e instanceof ApiError) return { code: e.code, details: e.message, message: e.message };
  if (e instanceof FilterError) return { code: grpc.status.INVALID_ARGUMENT, details: e.message, message: e.message };
  const msg = e instanceof Error ? e.message : String(e);
  return { code: grpc.status.INTERNAL, details: msg, message: msg };
}

function checkTime(v: number, field: string): void {
  if (!Number.isFinite(v) || v < 0) throw invalid(`${field}: must be milliseconds since the epoch (>= 0)`);
}

export interface FlowQuery {
  predicate: FlowPredicate;
  sinceMs: number;
  untilMs: number;
  last: number;
  first: number;
  follow: boolean;
  /** history flows per message; 0 or 1: one Flow per message */
  batchSize: number;
}

/** Validates a GetFlows request; throws ApiError/FilterError naming the field. */
export function parseFlowsRequest(req: GetFlowsRequest, limits: FlowServiceLimits): FlowQuery {
  checkTime(req.sinceMs, 'since_ms');
  checkTime(req.untilMs, 'until_ms');
  if (req.untilMs > 0 && req.sinceMs > req.untilMs) throw invalid('until_ms: before since_ms');
  if (req.last > 0 && req.first > 0) throw invalid('first: cannot be combined with last');
  if (req.follow && req.untilMs > 0) throw invalid('until_ms: cannot be combined with follow');
  for (const [field, n] of [['last', req.last], ['first', req.first]] as const) {
    if (n > limits.maxFlowsPerRequest) throw exhausted(`${field}: at most ${limits.maxFlowsPerRequest} flows per request`);
  }
  const batchSize = req.batchSize ?? 0;
  if (!Number.isInteger(batchSize) || batchSize < 0) throw invalid('batch_size: must be a whole number');
  if (batchSize > MAX_BATCH_SIZE) throw exhausted(`batch_size: at most ${MAX_BATCH_SIZE} flows per message`);
  const predicate = compileFilters(req.allow.map(toFilterSpec), req.deny.map(toFilterSpec));
  return { predicate, sinceMs: req.sinceMs, untilMs: req.untilMs, last: req.last, first: req.first, follow: req.follow, batchSize };
}

/** The flows a query selects from the store, least recently active first. */
export function selectFlows(flows: Flow[], q: Pick<FlowQuery, 'predicate' | 'sinceMs' | 'untilMs' | 'last' | 'first'>): Flow[] {
  const hits = flows.filter((f) => q.predicate(f) && inWindow(f, q.sinceMs, q.untilMs));
  hits.sort((a, b) => a.lastSeenMs - b.lastSeenMs);
  if (q.last > 0) return hits.slice(-q.last);
  if (q.first > 0) return hits.slice(0, q.first);
  return hits;
}

const GROUP_BY: Record<string, GroupBy> = {
  GROUP_BY_UNSPECIFIED: 'NAMESPACE',
  GROUP_BY_NAMESPACE: 'NAMESPACE',
  GROUP_BY_NETWORK: 'NETWORK',
  GROUP_BY_POD: 'POD',
};
const SORT_BY: Record<string, SortBy> = {
  SORT_BY_UNSPECIFIED: 'BYTES',
  SORT_BY_BYTES: 'BYTES',
  SORT_BY_PACKETS: 'PACKETS',
  SORT_BY_FLOWS: 'FLOWS',
};

/** aggregate_by names -> keys; an unknown or repeated one is INVALID_ARGUMENT naming it. */
export function aggregateKeys(names: readonly string[]): AggregateKey[] {
  const out: AggregateKey[] = [];
  names.forEach((n, i) => {
    const k = n.startsWith('AGGREGATE_KEY_') ? n.slice('AGGREGATE_KEY_'.length) : '';
    if (!['NAMESPACE', 'POD', 'NETWORK', 'PORT', 'VERDICT', 'REASON'].includes(k)) throw invalid(`aggregate_by[${i}]: unknown key ${String(n)}`);
    if (out.includes(k as AggregateKey)) throw invalid(`aggregate_by[${i}]: ${n} is named twice`);
    out.push(k as AggregateKey);
  });
  return out;
}

export class FlowServiceImpl {
  private streams = 0;
  /** flows dropped from all followers' queues */
  streamLost = 0;

  constructor(
    private readonly store: FlowStore,
    private readonly node: string,
    private readonly limits: FlowServiceLimits = DEFAULT_FLOW_LIMITS,
  ) {}

  get openStreams(): number {
    return this.streams;
  }

  handlers(): grpc.UntypedServiceImplementation {
    return {
      GetFlows: (call: grpc.ServerWritableStream<GetFlowsRequest, GetFlowsResponse>) => {
        void this.getFlows(call);
      },
      GetFlowStats: (
        call: grpc.ServerUnaryCall<GetFlowStatsRequest, GetFlowStatsResponse>,
        cb: grpc.sendUnaryData<GetFlowStatsResponse>,
      ) => {
        try {
          cb(null, this.getFlowStats(call.request));
        } catch (e) {
          cb(toServiceError(e));
        }
      },
    };
  }

  private async getFlows(call: grpc.ServerWritableStream<GetFlowsRequest, GetFlowsResponse>): Promise<void> {
    let q: FlowQuery;
    try {
      q = parseFlowsRequest(call.request, this.limits);
      if (this.streams >= this.limits.maxStreams) {
        throw exhausted(`too many concurrent GetFlows streams (at most ${this.limits.maxStreams})`);
      }
    } catch (e) {
      call.emit('error', toServiceError(e));
      return;
    }
    this.streams++;
    const writer = new StreamWriter<GetFlowsResponse>(
      call,
      this.limits.followQueue,
      (count) => ({ lost: { count, where: 'stream queue (client too slow)' } }),
      (n) => {
        this.streamLost += n;
      },
    );
    let unsubscribe: (() => void) | undefined;
    try {
      // Subscribe before reading the history so nothing falls in between;
      // live items wait in the queue until the history is out.
      if (q.follow) {
        writer.hold();
        unsubscribe = this.store.subscribe((f) => {
          if (q.predicate(f) && inWindow(f, q.sinceMs, 0)) writer.offer({ flow: toFlowMsg(f) });
        });
      }
      const history = selectFlows(this.store.all(), q);
      if (q.batchSize > 1) {
        for (let i = 0; i < history.length; i += q.batchSize) {
          if (!(await writer.write({ batch: { flows: history.slice(i, i + q.batchSize).map(toFlowMsg) } }))) break;
        }
      } else {
        for (const f of history) {
          if (!(await writer.write({ flow: toFlowMsg(f) }))) break;
        }
      }
      if (!q.follow) {
        if (!writer.isClosed) call.end();
        return;
      }
      writer.release();
      await callOver(call, writer);
    } catch (e) {
      if (!writer.isClosed) call.emit('error', toServiceError(e));
    } finally {
      unsubscribe?.();
      this.streams--;
    }
  }

  getFlowStats(req: GetFlowStatsRequest): GetFlowStatsResponse {
    checkTime(req.sinceMs, 'since_ms');
    checkTime(req.untilMs, 'until_ms');
    if (req.untilMs > 0 && req.sinceMs > req.untilMs) throw invalid('until_ms: before since_ms');
    const by = GROUP_BY[req.groupBy];
    if (!by) throw invalid(`group_by: unknown value ${String(req.groupBy)}`);
    const sort = SORT_BY[req.sortBy];
    if (!sort) throw invalid(`sort_by: unknown value ${String(req.sortBy)}`);
    if (req.top > this.limits.maxFlowsPerRequest) throw exhausted(`top: at most ${this.limits.maxFlowsPerRequest}`);
    const predicate = compileFilters(req.allow.map(toFilterSpec), req.deny.map(toFilterSpec));
    const flows = this.store.all().filter((f) => predicate(f) && inWindow(f, req.sinceMs, req.untilMs));
    const keys = aggregateKeys(req.aggregateBy ?? []);
    const groups =
      keys.length > 0
        ? aggregateByKeys(flows, keys, sort, req.top).map((g) => ({ ...g, keys: g.keys ?? [], verdict: 'VERDICT_UNSPECIFIED' as const }))
        : aggregate(flows, by, sort, req.top).map((g) => ({ ...g, keys: [], verdict: verdictName(g.verdict) }));
    return { groups, flows: flows.length, node: this.node };
  }
}
