// From the security review of issue 15: what one agent can make the relay
// say about another node, and what another site's page can make the UI do.
// Real gRPC servers on mutual TLS (as test/relay.test.ts), certificates made
// with openssl, a real HTTP UI. Both failed before their fixes.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, collect, resolveTargets } from '../src/api/client.js';
import { FlowServiceImpl } from '../src/api/flow-service.js';
import { flowsOf } from '../src/api/messages.js';
import { ApiServer } from '../src/api/server.js';
import { FlowStore } from '../src/flows/store.js';
import type { Flow } from '../src/flows/types.js';
import { loadRelayConfig } from '../src/relay/config.js';
import { Relay } from '../src/relay/relay.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-review-relay-'));
const file = (name: string): string => path.join(dir, name);
const openssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
function makeCa(name: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`]);
}
function makeCert(name: string, san: string): void {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  fs.writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\n`);
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

/** An agent's real FlowService over a store, on mutual TLS with the agents' one certificate (deploy/relay.yaml: one for every node). */
async function agent(node: string, flows: Flow[]): Promise<ApiServer> {
  const store = new FlowStore(1000);
  for (const f of flows) store.put(f);
  const s = new ApiServer(new FlowServiceImpl(store, node).handlers(), {}, { listen: '127.0.0.1:0', tls: { cert: file('agent.crt'), key: file('agent.key'), ca: file('ca.crt') } });
  await s.start();
  s.setServing(true);
  return s;
}

const client = (address: string, cert: string): AgentClient =>
  new AgentClient(resolveTargets({ server: address, tlsCert: file(`${cert}.crt`), tlsKey: file(`${cert}.key`), tlsCa: file('ca.crt') })[0]!);

beforeAll(() => {
  makeCa('ca');
  makeCert('agent', 'DNS:vrfwall-agent,IP:127.0.0.1'); // the one agents' certificate, on every node
  makeCert('relay', 'DNS:vrfwall-relay.vrfwall-system.svc,IP:127.0.0.1');
}, 60_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('relay: what an agent may say', () => {
  it('the relay names each flow by the node that answered, not by what that agent wrote', async () => {
    const a1 = await agent('node1', [flow('node1', 1), flow('node2', 2, { id: 'forged' })]); // node1 lies about node2
    const a2 = await agent('node2', [flow('node2', 3)]);
    const { config } = loadRelayConfig(
      { listen: '127.0.0.1:0', tlsCert: file('relay.crt'), tlsKey: file('relay.key'), tlsCa: file('ca.crt'), agents: [`node1=${a1.addresses[0]}`, `node2=${a2.addresses[0]}`], nodeTimeout: 3, agentTlsServerName: 'vrfwall-agent' },
      {},
    );
    const relay = new Relay(config, pino({ level: 'silent' }));
    await relay.start();
    try {
      const flows = (await collect(client(relay.server.addresses[0]!, 'relay').getFlows({}))).flatMap(flowsOf);
      expect(flows.map((f) => f.id).sort()).toEqual(['forged', 'node1-1', 'node2-3']); // positive control: all arrived
      expect(flows.find((f) => f.id === 'forged')!.node).toBe('node1');
    } finally {
      await relay.stop();
      await a1.stop(100);
      await a2.stop(100);
    }
  }, 30_000);
});

describe('the web UI: requests from other sites', () => {
  it("a cross-site page cannot hold the relay's GetFlows streams (every follow stream of any web page counts against the relay's 16)", async () => {
    const a1 = await agent('node1', [flow('node1', 1)]);
    const { config } = loadRelayConfig(
      { listen: '127.0.0.1:0', tlsCert: file('relay.crt'), tlsKey: file('relay.key'), tlsCa: file('ca.crt'), agents: [`node1=${a1.addresses[0]}`], nodeTimeout: 3, uiListen: '127.0.0.1:0' },
      {},
    );
    const relay = new Relay(config, pino({ level: 'silent' }));
    await relay.start();
    const reqs: http.ClientRequest[] = [];
    try {
      const [host, port] = [relay.ui!.address.split(':')[0]!, Number(relay.ui!.address.split(':')[1])];
      // what <img src="http://127.0.0.1:9446/api/flows?follow=1"> on any site makes a browser send
      const statuses = await Promise.all(
        Array.from({ length: 16 }, () =>
          new Promise<number>((resolve, reject) => {
            const r = http.get({ host, port, path: '/api/flows?follow=1', headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' } }, (res) => resolve(res.statusCode ?? 0));
            r.on('error', reject);
            reqs.push(r);
          }),
        ),
      );
      // positive control: the operator's own CLI reads flows
      const flows = (await collect(client(relay.server.addresses[0]!, 'relay').getFlows({}))).flatMap(flowsOf);
      expect(flows).toHaveLength(1);
      // on main: 15 answered 200 and hold a relay stream each, the 16th is refused as over the limit
      const held = (relay.services as unknown as { streams: number }).streams;
      expect({ statuses: [...new Set(statuses)], held }).toEqual({ statuses: [403], held: 0 });
    } finally {
      for (const r of reqs) r.destroy();
      await relay.stop();
      await a1.stop(100);
    }
  }, 30_000);
});
