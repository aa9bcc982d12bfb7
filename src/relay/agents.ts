// The relay's connections to the agents: one gRPC channel per node over
// mutual TLS, kept while the node is a member (discovery decides), and the
// fan-out of one call to every member with a deadline, so an answer always
// says which nodes answered and which did not.
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { loadApi } from '../api/proto.js';
import type { FlowMsg, GetFlowsRequest, GetFlowsResponse } from '../api/messages.js';
import type { NodeResult } from './merge.js';
import { NodeNames } from './node-names.js';
import { compareText } from '../util/order.js';

/** One agent to ask: its node and its TLS address. */
export interface AgentAddress {
  node: string;
  /** host:port of the agent's --grpc-listen */
  address: string;
}

export interface AgentTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  /** the name the agents' certificates carry, when it is not their address */
  serverName?: string;
}

/**
 * A 4 MiB receive window (as the CLI's): a node's 100,000-flow history does
 * not stall every 64 KiB. Reconnect backoff capped at 5 s (gRPC's default
 * grows to 120 s): an agent that is back answers again within seconds, and
 * until then calls fail at once with the last connection error.
 */
const CHANNEL_OPTIONS: grpc.ClientOptions = {
  'grpc-node.flow_control_window': 4 << 20,
  'grpc.initial_reconnect_backoff_ms': 500,
  'grpc.max_reconnect_backoff_ms': 5000,
};

export class AgentConnection {
  readonly flows: grpc.Client;
  readonly state: grpc.Client;

  constructor(
    readonly node: string,
    readonly address: string,
    tls: AgentTls,
    private readonly names: NodeNames = new NodeNames(() => undefined),
  ) {
    const api = loadApi();
    const creds = grpc.credentials.createSsl(tls.ca, tls.key, tls.cert);
    const options: grpc.ClientOptions = { ...CHANNEL_OPTIONS, ...(tls.serverName ? { 'grpc.ssl_target_name_override': tls.serverName } : {}) };
    this.flows = new api.FlowClient(address, creds, options);
    this.state = new api.StateClient(address, creds, { ...options, channelOverride: this.flows.getChannel() } as grpc.ClientOptions);
  }

  unary<Res>(client: 'flows' | 'state', method: string, req: object, timeoutMs: number): Promise<Res> {
    const c = this[client] as unknown as Record<string, (r: object, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Res) => void) => void>;
    const fn = c[method];
    if (!fn) return Promise.reject(new Error(`no method ${method}`));
    return new Promise((resolve, reject) => {
      fn.call(this[client], req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(this.own(method, r))));
    });
  }

  /**
   * An answer as this node's, whatever node name the agent wrote in it: its
   * `node` (ServerStatus, Explain, ...), and the node of the endpoints it
   * says it hosts (`local`: the relay sends Explain there). Other endpoints
   * name the pod's node as the cluster says, which is not the agent's own.
   */
  private own<Res>(method: string, r: Res): Res {
    const a = r as { node?: unknown; endpoints?: unknown };
    if (typeof a.node === 'string') a.node = this.names.name(this.node, a.node, method);
    if (Array.isArray(a.endpoints)) {
      for (const e of a.endpoints as { local?: boolean; node?: string }[]) {
        if (e.local === true && typeof e.node === 'string') e.node = this.names.name(this.node, e.node, `${method} (local endpoint)`);
      }
    }
    return r;
  }

  /** A flow as this node's, whatever the agent wrote (an agent cannot speak for another). */
  ownFlow(f: FlowMsg): FlowMsg {
    f.node = this.names.name(this.node, f.node, 'flow');
    return f;
  }

  getFlows(req: Partial<GetFlowsRequest>, deadlineMs?: number): grpc.ClientReadableStream<GetFlowsResponse> {
    const c = this.flows as unknown as { GetFlows(r: object, o: grpc.CallOptions): grpc.ClientReadableStream<GetFlowsResponse> };
    return c.GetFlows(req, deadlineMs !== undefined ? { deadline: Date.now() + deadlineMs } : {});
  }

  close(): void {
    this.flows.close();
  }
}

/** An agent's error in words for a NodeFailure: gRPC's details, with TLS problems named as such. */
export function describeError(e: unknown): string {
  const err = e as Partial<grpc.ServiceError>;
  // grpc-js appends an empty "Resolution note: " to connection errors
  const text = (err.details ?? (e instanceof Error ? e.message : String(e))).replace(/\.? Resolution note: *$/, '');
  const name = err.code !== undefined ? grpc.status[err.code] : undefined;
  const tls = /certificate|handshake|ssl|tls|alert/i.test(text) ? 'TLS refused: ' : '';
  return `${tls}${name ? `${name}: ` : ''}${text}`;
}

/**
 * The agents that are members now. Emits 'change' when the set changes
 * (a node came, went, or moved to another address).
 */
export class AgentPool extends EventEmitter {
  private readonly conns = new Map<string, AgentConnection>();

  constructor(
    private readonly tls: AgentTls,
    /** node names agents wrote that are not their own (logged by the relay) */
    private readonly names: NodeNames = new NodeNames(() => undefined),
  ) {
    super();
  }

  /** Replaces the member set (from discovery); channels of nodes that stay are kept. */
  setMembers(members: readonly AgentAddress[]): void {
    let changed = false;
    const want = new Map(members.map((m) => [m.node, m.address]));
    for (const [node, c] of this.conns) {
      if (want.get(node) !== c.address) {
        c.close();
        this.conns.delete(node);
        changed = true;
      }
    }
    for (const [node, address] of want) {
      if (!this.conns.has(node)) {
        this.conns.set(node, new AgentConnection(node, address, this.tls, this.names));
        changed = true;
      }
    }
    if (changed) this.emit('change');
  }

  members(): AgentConnection[] {
    return [...this.conns.values()].sort((a, b) => compareText(a.node, b.node));
  }

  get(node: string): AgentConnection | undefined {
    return this.conns.get(node);
  }

  /** One call on every member (or the given ones), each with its own deadline: every node ends as an answer or an error. */
  async fanOut<T>(call: (c: AgentConnection) => Promise<T>, only?: readonly AgentConnection[]): Promise<NodeResult<T>[]> {
    const targets = only ?? this.members();
    return Promise.all(
      targets.map((c) =>
        call(c).then(
          (value): NodeResult<T> => ({ node: c.node, ok: true, value }),
          (e: unknown): NodeResult<T> => ({ node: c.node, ok: false, error: describeError(e) }),
        ),
      ),
    );
  }

  close(): void {
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
  }
}
