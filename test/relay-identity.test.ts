// Who the agents and the relay take for whom (follow-up of issue 15's
// security review). Real gRPC servers on mutual TLS, certificates made with
// openssl, the agent's policy from its real settings (loadAgentConfig):
// 1. the agents' one certificate (every node holds it) does not open another
//    node's agent, nor the relay; the relay's and operators' names do;
// 2. the relay names every per-node answer by the node it asked, whatever the
//    agent wrote, and says so once.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../src/agent/config.js';
import { AgentClient, collect, resolveTargets } from '../src/api/client.js';
import { authorise, sanNames, type ClientPolicy, type Refusal } from '../src/api/client-identity.js';
import { FlowServiceImpl } from '../src/api/flow-service.js';
import { flowsOf, type ExplainResponse, type ListEndpointsResponse, type ServerStatusResponse } from '../src/api/messages.js';
import { ApiServer } from '../src/api/server.js';
import { FlowStore } from '../src/flows/store.js';
import type { Flow } from '../src/flows/types.js';
import { loadRelayConfig } from '../src/relay/config.js';
import { Relay } from '../src/relay/relay.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-relay-identity-'));
const file = (name: string): string => path.join(dir, name);
const openssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
function makeCa(): void {
  openssl(['req', '-x509', ...EC, '-days', '1', '-subj', '/CN=test CA', '-keyout', 'ca.key', '-out', 'ca.crt']);
}
/** A certificate of the CA; san undefined: none (a CN only). */
function makeCert(name: string, cn: string, san: string | undefined): void {
  openssl(['req', ...EC, '-subj', `/CN=${cn}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  fs.writeFileSync(file(`${name}.ext`), san !== undefined ? `subjectAltName=${san}\n` : 'basicConstraints=CA:FALSE\n');
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
}

function flow(node: string, i: number, over: Partial<Flow> = {}): Flow {
  const ep = (pod: string, ip: string) => ({ ip, port: 80, namespace: 'ns', pod, network: 'ns/net', node, service: '', kind: 'pod' as const, interface: '' });
  return {
    id: `${node}-${i}`, node, ifindex: 3, source: ep(`a-${node}`, `10.0.0.${i}`), destination: ep('b', '10.0.1.1'), protocol: 6, protocolName: 'tcp', ethertype: 0x800,
    direction: 'EGRESS', verdict: 'ALLOWED', dropReason: '', allowRule: 'SAME_NETWORK', code: 0,
    forward: { packets: 1, bytes: 100, droppedPackets: 0, tcpFlags: 2 }, reverse: { packets: 0, bytes: 0, droppedPackets: 0, tcpFlags: 0 },
    firstSeenMs: Date.now() - 1000 + i, lastSeenMs: Date.now() - 1000 + i, ...over,
  };
}

/** The TCP listener's policy as `vrfwall agent` makes it from its settings (default --grpc-allowed-clients). */
function agentPolicy(): ClientPolicy {
  const manifests = file('manifests');
  fs.mkdirSync(manifests, { recursive: true });
  const { config } = loadAgentConfig({
    flags: { nodeName: 'n', manifests: [manifests], podCidr: ['10.244.0.0/16'], grpcListen: '127.0.0.1:0', grpcTlsCert: file('agent.crt'), grpcTlsKey: file('agent.key'), grpcTlsCa: file('ca.crt') },
    env: {},
    defaultBpfDir: path.join(ROOT, 'build/bpf'),
  });
  return config.observability!.clients!;
}

/**
 * An agent's API over a flow store: `lie` makes it write node2's name into everything it says
 * (flows, ServerStatus, Explain, the endpoint it hosts).
 */
async function agent(node: string, flows: Flow[], opts: { lie?: string; socket?: string; refused?: Refusal[] } = {}): Promise<ApiServer> {
  const store = new FlowStore(1000);
  for (const f of flows) store.put(f);
  const says = opts.lie ?? node;
  const state: grpc.UntypedServiceImplementation = {
    ServerStatus: (_c: unknown, cb: grpc.sendUnaryData<Partial<ServerStatusResponse>>) => cb(null, { node: says, version: 'test', synced: true }),
    ListEndpoints: (_c: unknown, cb: grpc.sendUnaryData<Partial<ListEndpointsResponse>>) =>
      cb(null, {
        node: says,
        endpoints: ['node1', 'node2'].map((n) => ({
          ip: n === 'node1' ? '10.0.0.1' : '10.0.0.2', kind: 'pod', namespace: 'ns', pod: `a-${n}`, network: 'ns/net',
          node: n === node ? says : n, local: n === node, ifindex: n === node ? 9 : 0, quarantined: false, reason: '', service: '', interface: '',
        })),
      }),
    Explain: (_c: unknown, cb: grpc.sendUnaryData<Partial<ExplainResponse>>) => {
      const hook = node === 'node1' ? 'from_pod' : 'to_pod';
      cb(null, { verdict: 'VERDICT_ALLOWED', reason: 'SAME_NETWORK', node: says, steps: [{ hook, pod: `ns/a-${node}`, ifindex: 9, verdict: 'VERDICT_ALLOWED', reason: 'SAME_NETWORK', rule: '', policy: '' }] });
    },
  };
  const s = new ApiServer(new FlowServiceImpl(store, node).handlers(), state, {
    listen: '127.0.0.1:0',
    tls: { cert: file('agent.crt'), key: file('agent.key'), ca: file('ca.crt') },
    clients: agentPolicy(),
    ...(opts.socket !== undefined ? { socketPath: opts.socket } : {}),
    onRefused: (r) => opts.refused?.push(r),
  });
  await s.start();
  s.setServing(true);
  return s;
}

const tcp = (s: ApiServer): string => s.addresses.find((a) => !a.startsWith('unix:'))!;
const client = (address: string, cert: string): AgentClient =>
  new AgentClient(resolveTargets({ server: address, tlsCert: file(`${cert}.crt`), tlsKey: file(`${cert}.key`), tlsCa: file('ca.crt') })[0]!);
const flowsVia = async (address: string, cert: string): Promise<Flow[]> => (await collect(client(address, cert).getFlows({}))).flatMap(flowsOf) as unknown as Flow[];

/** grpc.health.v1.Health/Check with an empty request, raw bytes: any service of the server, not only ours. */
function healthCheck(address: string, cert: string): Promise<void> {
  const creds = grpc.credentials.createSsl(fs.readFileSync(file('ca.crt')), fs.readFileSync(file(`${cert}.key`)), fs.readFileSync(file(`${cert}.crt`)));
  const c = new grpc.Client(address, creds);
  return new Promise<void>((resolve, reject) => {
    c.makeUnaryRequest('/grpc.health.v1.Health/Check', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (e) => (e ? reject(e) : resolve()));
  }).finally(() => c.close());
}

beforeAll(() => {
  makeCa();
  makeCert('agent', 'vrfwall-agent', 'DNS:vrfwall-agent,IP:127.0.0.1'); // the one agents' certificate, on every node
  makeCert('relay', 'vrfwall-relay', 'DNS:vrfwall-relay.vrfwall-system.svc,DNS:localhost,IP:127.0.0.1'); // deploy/relay.yaml's vrfwall-relay-tls
  makeCert('operator', 'alice', 'DNS:vrfwall-operator'); // docs/flows.md: an operator's certificate
  makeCert('stranger', 'someone', 'DNS:client'); // the CA's, but a name nobody listed
  makeCert('cn-only', 'vrfwall-operator', undefined); // the right name, but only as a CN
  makeCert('wildcard', 'wild', 'DNS:*.vrfwall-system.svc');
}, 60_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('client names: parsing and the pure decision', () => {
  it('DNS and URI names of a subjectAltName text; IP addresses and quoted entries are not split into names', () => {
    expect(sanNames('DNS:a.b, URI:spiffe://c/d, IP Address:10.0.0.1, email:x@y')).toEqual(['a.b', 'spiffe://c/d']);
    // Node quotes an entry holding ", ": its inside is one name, never a second listed one
    expect(sanNames('DNS:"x, DNS:vrfwall-operator", DNS:y')).toEqual(['x, DNS:vrfwall-operator', 'y']);
    expect(sanNames(undefined)).toEqual([]);
  });

  it("own names win over the list; no name is no entry; 'any' lets every other name of the CA in", () => {
    const p: ClientPolicy = { allowed: ['vrfwall-operator'], refused: ['vrfwall-agent'] };
    expect(authorise(['vrfwall-operator'], p)).toEqual({ ok: true, name: 'vrfwall-operator' });
    expect(authorise(['vrfwall-operator', 'vrfwall-agent'], p)).toMatchObject({ ok: false, why: expect.stringMatching(/agents' own identity/) });
    expect(authorise([], p)).toMatchObject({ ok: false, why: expect.stringMatching(/has no DNS or URI name/) });
    expect(authorise(['x'], { allowed: 'any', refused: ['vrfwall-agent'] })).toEqual({ ok: true, name: 'x' });
    expect(authorise(['vrfwall-agent'], { allowed: 'any', refused: ['vrfwall-agent'] }).ok).toBe(false);
  });
});

describe("the agent's TCP API: who may call", () => {
  it("an agent's certificate (on every node) does not open another node's agent; the relay's and an operator's do", async () => {
    const refused: Refusal[] = [];
    const a2 = await agent('node2', [flow('node2', 1)], { refused });
    try {
      // positive controls: the relay and an operator read node2's flows
      expect(await flowsVia(tcp(a2), 'relay')).toHaveLength(1);
      expect(await flowsVia(tcp(a2), 'operator')).toHaveLength(1);
      // node1's root holds the agents' Secret: refused, twice, logged once
      for (let i = 0; i < 2; i++) {
        await expect(flowsVia(tcp(a2), 'agent')).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringMatching(/"vrfwall-agent", the agents' own identity/) });
      }
      // the CA's certificates with other names: refused, saying what was allowed
      await expect(flowsVia(tcp(a2), 'stranger')).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringMatching(/names "client"; allowed: vrfwall-relay.vrfwall-system.svc, vrfwall-operator/) });
      await expect(flowsVia(tcp(a2), 'cn-only')).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringMatching(/no DNS or URI name/) });
      await expect(flowsVia(tcp(a2), 'wildcard')).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      expect(refused.map((r) => r.names)).toEqual([['vrfwall-agent'], ['client'], [], ['*.vrfwall-system.svc']]);
      expect(refused[0]).toMatchObject({ peer: expect.stringMatching(/^127\.0\.0\.1:/), fingerprint: expect.stringMatching(/^[0-9A-F:]+$/) });
    } finally {
      await a2.stop(100);
    }
  }, 30_000);

  it('one check for every service of the listener (health too); the unix socket needs no certificate', async () => {
    const sock = file('agent-sock/api.sock');
    const a = await agent('node1', [flow('node1', 1)], { socket: sock });
    try {
      await healthCheck(tcp(a), 'relay'); // positive control
      await expect(healthCheck(tcp(a), 'agent')).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      const local = new AgentClient(resolveTargets({ socket: sock })[0]!);
      expect((await collect(local.getFlows({}))).flatMap(flowsOf)).toHaveLength(1);
      expect(fs.statSync(sock).mode & 0o777).toBe(0o600);
    } finally {
      await a.stop(100);
    }
  }, 30_000);
});

describe('the relay', () => {
  const relayOf = async (agents: ApiServer[], log = pino({ level: 'silent' })): Promise<Relay> => {
    const { config } = loadRelayConfig(
      {
        listen: '127.0.0.1:0', tlsCert: file('relay.crt'), tlsKey: file('relay.key'), tlsCa: file('ca.crt'),
        agents: agents.map((a, i) => `node${i + 1}=${tcp(a)}`), nodeTimeout: 3, agentTlsServerName: 'vrfwall-agent',
      },
      {},
    );
    const relay = new Relay(config, log);
    await relay.start();
    return relay;
  };

  it("its listener refuses the agents' certificate (it would open every agent through the relay); an operator's reads", async () => {
    const a1 = await agent('node1', [flow('node1', 1)]);
    const relay = await relayOf([a1]);
    try {
      expect(await flowsVia(relay.server.addresses[0]!, 'operator')).toHaveLength(1);
      await expect(flowsVia(relay.server.addresses[0]!, 'agent')).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    } finally {
      await relay.stop();
      await a1.stop(100);
    }
  }, 30_000);

  it('names every per-node answer by the node it asked (flows, status, endpoints, explain), and warns once with both names', async () => {
    const a1 = await agent('node1', [flow('node1', 1), flow('node2', 2, { id: 'forged' })], { lie: 'node2' }); // node1 speaks as node2
    const a2 = await agent('node2', [flow('node2', 3)]);
    const warnings: Record<string, unknown>[] = [];
    const relay = await relayOf([a1, a2], pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as Record<string, unknown>) }));
    const c = client(relay.server.addresses[0]!, 'operator');
    try {
      for (let i = 0; i < 2; i++) {
        const flows = (await collect(c.getFlows({}))).flatMap(flowsOf);
        expect(flows.map((f) => f.id).sort()).toEqual(['forged', 'node1-1', 'node2-3']); // positive control: all arrived
        expect(Object.fromEntries(flows.map((f) => [f.id, f.node]))).toEqual({ forged: 'node1', 'node1-1': 'node1', 'node2-3': 'node2' });
      }
      const status = await c.unary<ServerStatusResponse>('state', 'ServerStatus', {});
      expect(status.nodeStatus!.map((s) => s.node)).toEqual(['node1', 'node2']);
      const eps = await c.unary<ListEndpointsResponse>('state', 'ListEndpoints', {});
      expect(eps.endpoints.filter((e) => e.local).map((e) => `${e.pod}@${e.node}`).sort()).toEqual(['a-node1@node1', 'a-node2@node2']);
      // the sender's hook is asked of node1, which hosts it, and shown as node1's
      const ex = await c.unary<ExplainResponse>('state', 'Explain', { source: 'ns/a-node1', destination: 'ns/a-node2' });
      expect(ex.node).toBe('from_pod@node1, to_pod@node2');
      const forged = warnings.filter((w) => w['msg'] !== undefined && /another node's name/.test(String(w['msg'])));
      expect(forged.map((w) => [w['node'], w['wrote']])).toEqual([['node1', 'node2']]);
    } finally {
      c.close();
      await relay.stop();
      await a1.stop(100);
      await a2.stop(100);
    }
  }, 30_000);
});
