// Connecting to agents' APIs: a unix socket, TCP with mutual TLS, or the
// agents of a running lab (one socket per node). Small promise wrappers
// over the generated clients.
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadApi } from './proto.js';
import type { GetFlowsRequest, GetFlowsResponse } from './messages.js';

export interface Target {
  /** what to call it in output: the node, or the address */
  label: string;
  address: string;
  creds: grpc.ChannelCredentials;
}

export interface TargetOptions {
  socket?: string;
  server?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  lab?: string;
  node?: string;
}

/** Where agents keep their sockets (the agent's --run-dir default). */
const RUN_ROOT = '/run/vrfwall';

export const DEFAULT_INSTANCE_SOCKET = path.join(RUN_ROOT, 'default', 'api.sock');

export function socketOf(instance: string): string {
  return path.join(RUN_ROOT, instance, 'api.sock');
}

/** The agents of the labs on this machine: how to find them is given from
 *  outside (the lab program's own, src/lab/agent-sockets.ts, or asking that
 *  program, src/cli/lab-program.ts); the agent and its image have no lab. */
export interface LabAgents {
  /** labs that are up */
  up(): string[];
  /** a lab's agents, and its relay (relay: true) when it has one; undefined when the lab is not up */
  agents(lab: string): { node: string; instance: string; relay?: boolean }[] | undefined;
  /** why a lab is not up or where its state would be, for messages */
  where(lab: string): string;
}

let labAgents: LabAgents | undefined;

export function useLabAgents(l: LabAgents): void {
  labAgents = l;
}

function labTargets(lab: string, node: string | undefined): Target[] {
  if (labAgents === undefined) throw new Error(`--lab ${lab}: this installation has no lab`);
  const all = labAgents.agents(lab);
  if (all === undefined) throw new Error(`lab "${lab}" is not up (${labAgents.where(lab)})`);
  // the whole lab through its relay (one answer, nodes that do not answer named); one node from its agent
  const relay = all.find((a) => a.relay === true);
  if (relay && node === undefined) return [{ label: 'relay', address: `unix:${socketOf(relay.instance)}`, creds: grpc.credentials.createInsecure() }];
  const nodes = all.filter((a) => a.relay !== true);
  const agents = nodes.filter((a) => node === undefined || a.node === node);
  if (agents.length === 0) {
    throw new Error(node ? `lab "${lab}" has no agent on node ${node} (nodes: ${nodes.map((a) => a.node).join(', ')})` : `lab "${lab}" runs no agents`);
  }
  return agents.map((a) => ({ label: a.node, address: `unix:${socketOf(a.instance)}`, creds: grpc.credentials.createInsecure() }));
}

/** Which agents to ask: explicit socket/server, a lab's nodes, or the default that finds one. */
export function resolveTargets(o: TargetOptions): Target[] {
  if (o.socket) return [{ label: o.node ?? o.socket, address: `unix:${o.socket}`, creds: grpc.credentials.createInsecure() }];
  if (o.server) {
    if (!o.tlsCert || !o.tlsKey || !o.tlsCa) throw new Error('--server needs --tls-cert, --tls-key and --tls-ca (the API is mutual TLS on TCP)');
    const creds = grpc.credentials.createSsl(fs.readFileSync(o.tlsCa), fs.readFileSync(o.tlsKey), fs.readFileSync(o.tlsCert));
    return [{ label: o.server, address: o.server, creds }];
  }
  if (o.lab) return labTargets(o.lab, o.node);
  const env = process.env.VRFWALL_SOCKET;
  if (env) return [{ label: env, address: `unix:${env}`, creds: grpc.credentials.createInsecure() }];
  if (fs.existsSync(DEFAULT_INSTANCE_SOCKET)) {
    return [{ label: 'default', address: `unix:${DEFAULT_INSTANCE_SOCKET}`, creds: grpc.credentials.createInsecure() }];
  }
  const labs = labAgents?.up() ?? [];
  if (labs.length === 1) return labTargets(labs[0] as string, o.node);
  throw new Error(
    labs.length > 1
      ? `several labs are up (${labs.join(', ')}): choose one with --lab`
      : `no agent found: no ${DEFAULT_INSTANCE_SOCKET} and no lab up; use --socket, --server or --lab`,
  );
}

/** A receive window of 4 MiB instead of HTTP/2's 64 KiB: a history of
 *  100,000 flows (~30 MB) then streams without a round trip every 200 flows. */
const CHANNEL_OPTIONS: grpc.ClientOptions = { 'grpc-node.flow_control_window': 4 << 20 };

export class AgentClient {
  readonly flows: grpc.Client;
  readonly state: grpc.Client;

  constructor(readonly target: Target) {
    const api = loadApi();
    this.flows = new api.FlowClient(target.address, target.creds, CHANNEL_OPTIONS);
    this.state = new api.StateClient(target.address, target.creds, { channelOverride: this.flows.getChannel() } as grpc.ClientOptions);
  }

  unary<Res>(client: 'flows' | 'state', method: string, req: object, timeoutMs = 10_000): Promise<Res> {
    const c = this[client] as unknown as Record<string, (r: object, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Res) => void) => void>;
    const fn = c[method];
    if (!fn) throw new Error(`no method ${method}`);
    return new Promise((resolve, reject) => {
      fn.call(this[client], req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r)));
    });
  }

  getFlows(req: Partial<GetFlowsRequest>): grpc.ClientReadableStream<GetFlowsResponse> {
    const c = this.flows as unknown as { GetFlows(r: object): grpc.ClientReadableStream<GetFlowsResponse> };
    return c.GetFlows(req);
  }

  close(): void {
    this.flows.close();
  }
}

/** Reads a non-follow stream to the end. */
export function collect<T>(stream: grpc.ClientReadableStream<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    stream.on('data', (m: T) => out.push(m));
    stream.on('error', reject);
    stream.on('end', () => resolve(out));
  });
}
