// The API on TCP is mutual TLS: a client certificate from the configured CA
// gets answers; no certificate, or one from another CA, gets nothing.
// Certificates are made with the openssl CLI for each run.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, resolveTargets } from '../src/api/client.js';
import { FlowServiceImpl } from '../src/api/flow-service.js';
import { ApiServer } from '../src/api/server.js';
import { FlowStore } from '../src/flows/store.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-tls-'));
const file = (name: string): string => path.join(dir, name);

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, and a key + certificate signed by it (with the given SAN). */
function makeCa(name: string): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`]);
}

function makeCert(name: string, ca: string, san: string): void {
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
  fs.writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\n`);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
}

describe('gRPC API over TCP with mutual TLS', () => {
  let server: ApiServer;
  let address: string;
  const clients: AgentClient[] = [];

  beforeAll(async () => {
    makeCa('ca');
    makeCa('other-ca');
    makeCert('server', 'ca', 'IP:127.0.0.1');
    makeCert('client', 'ca', 'DNS:client');
    makeCert('stranger', 'other-ca', 'DNS:stranger');
    const flows = new FlowServiceImpl(new FlowStore(16), 'tls-node');
    server = new ApiServer(flows.handlers(), {}, {
      listen: '127.0.0.1:0',
      tls: { cert: file('server.crt'), key: file('server.key'), ca: file('ca.crt') },
    });
    await server.start();
    server.setServing(true);
    address = server.addresses[0]!;
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  afterAll(async () => {
    for (const c of clients) {
      c.flows.close();
    }
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const clientWith = (creds: grpc.ChannelCredentials): AgentClient => {
    const c = new AgentClient({ label: 'tls', address, creds });
    clients.push(c);
    return c;
  };
  const stats = (c: AgentClient) => c.unary<{ node: string; flows: number }>('flows', 'GetFlowStats', {}, 5000);

  it('answers a client whose certificate the configured CA signed (as `vrfwall --server` builds it)', async () => {
    const [target] = resolveTargets({ server: address, tlsCert: file('client.crt'), tlsKey: file('client.key'), tlsCa: file('ca.crt') });
    const c = clientWith(target!.creds);
    const res = await stats(c);
    expect(res.node).toBe('tls-node');
    expect(res.flows).toBe(0);
  });

  it('refuses a client without a certificate', async () => {
    const c = clientWith(grpc.credentials.createSsl(fs.readFileSync(file('ca.crt'))));
    await expect(stats(c)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it('refuses a client whose certificate another CA signed', async () => {
    const c = clientWith(grpc.credentials.createSsl(fs.readFileSync(file('ca.crt')), fs.readFileSync(file('stranger.key')), fs.readFileSync(file('stranger.crt'))));
    await expect(stats(c)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
  });

  it('will not listen on TCP without TLS, and the CLI will not connect without the three files', () => {
    expect(() => new ApiServer({}, {}, { listen: '127.0.0.1:0' })).toThrow(/mutual TLS/);
    expect(() => resolveTargets({ server: address, tlsCa: file('ca.crt') })).toThrow(/--tls-cert, --tls-key and --tls-ca/);
  });
});
