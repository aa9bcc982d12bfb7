// The relay's flow export (issue 15 item 3): the cluster-wide stream to a
// JSON-lines file. Fake agents that are real gRPC servers on mutual TLS (the
// agents' own FlowService over a FlowStore this test fills, as in
// relay.test.ts); the relay (real, --flow-export-file) writes each node's
// records with their node, through its filter; a node that goes away is
// reported in status while the other's records keep coming, and when it is
// back its records come again. Certificates are made with openssl.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/agent/config.js';
import { AgentClient, resolveTargets } from '../src/api/client.js';
import { FlowServiceImpl } from '../src/api/flow-service.js';
import type { FlowMsg, ServerStatusResponse } from '../src/api/messages.js';
import { ApiServer } from '../src/api/server.js';
import { FlowStore } from '../src/flows/store.js';
import type { Flow } from '../src/flows/types.js';
import { loadRelayConfig } from '../src/relay/config.js';
import { Relay } from '../src/relay/relay.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-export-relay-'));
const file = (name: string): string => path.join(dir, name);
const openssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
const EXPORT = file('cluster-flows.jsonl');

function makeCert(name: string, san: string): void {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  fs.writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\n`);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
}

// lastSeenMs ahead of now: a stream the relay opens at any time has them in its history
const T = Date.now() + 3_600_000;
function flow(node: string, i: number, dropped: boolean): Flow {
  const ep = (pod: string, ip: string) => ({ ip, port: 80, namespace: 'ns', pod, network: 'ns/net', node, service: '', kind: 'pod' as const, interface: '' });
  return {
    id: `${node}-${i}`,
    node,
    ifindex: 3,
    source: ep(`a-${node}`, `10.0.0.${i % 250}`),
    destination: ep('b', '10.0.1.1'),
    protocol: 6,
    protocolName: 'tcp',
    ethertype: 0x800,
    direction: 'EGRESS',
    verdict: dropped ? 'DROPPED' : 'ALLOWED',
    dropReason: dropped ? 'ISOLATED' : '',
    allowRule: dropped ? '' : 'SAME_NETWORK',
    code: 0,
    forward: { packets: i + 1, bytes: 100 * (i + 1), droppedPackets: dropped ? i + 1 : 0, tcpFlags: 2 },
    reverse: { packets: 0, bytes: 0, droppedPackets: 0, tcpFlags: 0 },
    firstSeenMs: T + i,
    lastSeenMs: T + i,
  };
}

/** A fake agent: the real FlowService over a store, a fixed status, on mutual TLS at a fixed port once started. */
class FakeAgent {
  readonly store = new FlowStore(1000);
  server: ApiServer | undefined;
  address = '127.0.0.1:0';

  constructor(readonly node: string) {}

  async start(): Promise<void> {
    const node = this.node;
    const state: grpc.UntypedServiceImplementation = {
      ServerStatus: (_c: unknown, cb: grpc.sendUnaryData<Partial<ServerStatusResponse>>) => cb(null, { node, version: 'fake', synced: true }),
    };
    this.server = new ApiServer(new FlowServiceImpl(this.store, node).handlers(), state, { listen: this.address, tls: { cert: file(`${node}.crt`), key: file(`${node}.key`), ca: file('ca.crt') } });
    await this.server.start();
    this.server.setServing(true);
    this.address = this.server.addresses[0] as string;
  }

  async stop(): Promise<void> {
    await this.server?.stop(100);
  }
}

const exported = (): FlowMsg[] =>
  fs.existsSync(EXPORT)
    ? fs
        .readFileSync(EXPORT, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as FlowMsg)
    : [];

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const agents = [new FakeAgent('node1'), new FakeAgent('node2')];
let relay: Relay | undefined;
let client: AgentClient | undefined;
const relayFlags = (extra: Record<string, unknown> = {}) => ({
  listen: '127.0.0.1:0',
  tlsCert: file('relay.crt'),
  tlsKey: file('relay.key'),
  tlsCa: file('ca.crt'),
  agents: agents.map((a) => `${a.node}=${a.address}`),
  nodeTimeout: 3,
  ...extra,
});

beforeAll(async () => {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=ca', '-keyout', 'ca.key', '-out', 'ca.crt']);
  for (const n of ['node1', 'node2', 'relay']) makeCert(n, 'IP:127.0.0.1');
  makeCert('client', 'DNS:client');
  for (const a of agents) await a.start();
}, 60_000);

afterAll(async () => {
  client?.close();
  await relay?.stop();
  for (const a of agents) await a.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("the relay's flow export", () => {
  it('settings are checked as the agent\'s: a bad filter is a ConfigError naming it', () => {
    const bad = (extra: Record<string, unknown>): ConfigError => {
      try {
        loadRelayConfig(relayFlags(extra), {});
      } catch (e) {
        if (e instanceof ConfigError) return e;
        throw e;
      }
      throw new Error('expected a ConfigError');
    };
    expect(bad({ flowExportFile: EXPORT, flowExportAllow: '[{"verdict":"MAYBE"}]' }).key).toBe('flow-export-allow');
    expect(bad({ flowExportFile: '/nonexistent-vrfwall/x.jsonl' }).message).toMatch(/is not a directory/);
    expect(loadRelayConfig(relayFlags({ flowExportFile: EXPORT }), {}).config.flowExport?.file).toBe(EXPORT);
    expect(loadRelayConfig(relayFlags(), {}).config.flowExport).toBeUndefined();
    // its variables are its own: an agent's environment (a lab's) does not make the relay write the agent's file
    expect(loadRelayConfig(relayFlags(), { VRFWALL_FLOW_EXPORT_FILE: EXPORT }).config.flowExport).toBeUndefined();
    expect(loadRelayConfig(relayFlags(), { VRFWALL_RELAY_FLOW_EXPORT_FILE: EXPORT }).config.flowExport?.file).toBe(EXPORT);
  });

  it("every node's records with their node, through the filter; a node away is reported and its records come again when it is back", async () => {
    relay = new Relay(loadRelayConfig(relayFlags({ flowExportFile: EXPORT, flowExportDeny: '[{"verdict":["ALLOWED"]}]' }), {}).config, pino({ level: 'silent' }));
    await relay.start();
    const [t] = resolveTargets({ server: relay.server.addresses[0] as string, tlsCert: file('client.crt'), tlsKey: file('client.key'), tlsCa: file('ca.crt') });
    client = new AgentClient(t!);
    for (const a of agents) for (let i = 0; i < 4; i++) a.store.put(flow(a.node, i, i % 2 === 0));
    const ids = () => new Set(exported().map((f) => f.id));
    await until(() => ids().has('node1-2') && ids().has('node2-2'), 'dropped flows of both nodes in the file');
    const got = exported();
    // the dropped ones (0, 2) of each node, with their node; the allowed ones (1, 3) left out by the deny filter
    expect([...ids()].sort()).toEqual(['node1-0', 'node1-2', 'node2-0', 'node2-2']);
    for (const f of got) expect(f.node).toBe(f.id.split('-')[0]);
    expect(got.find((f) => f.id === 'node2-2')).toMatchObject({ verdict: 'VERDICT_DROPPED', dropReason: 'ISOLATED', forward: { packets: 3 } });
    const s1 = await client.unary<ServerStatusResponse>('state', 'ServerStatus', {});
    expect(s1.flowExport).toMatchObject({ file: EXPORT, dropped: 0, lastError: '' });
    expect(s1.flowExport!.written).toBe(4);
    expect(s1.flowExport!.filtered).toBe(4);

    // node2 goes away: reported; node1's records keep coming
    await agents[1]!.stop();
    agents[0]!.store.put(flow('node1', 10, true));
    await until(() => ids().has('node1-10'), "node1's new record while node2 is away");
    await until(async () => /node node2: /.test((await client!.unary<ServerStatusResponse>('state', 'ServerStatus', {})).flowExport?.lastError ?? ''), 'node2 reported');
    // node2 back at the same address: a flow it had meanwhile comes (from its history, as it changed after the last record)
    agents[1]!.store.put(flow('node2', 11, true));
    await agents[1]!.start();
    await until(() => ids().has('node2-11'), "node2's record after it is back", 15_000);
  }, 40_000);
});
