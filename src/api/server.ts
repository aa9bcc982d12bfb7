// The agent's gRPC server: FlowService and StateService, server reflection,
// and the standard health service (NOT_SERVING until the agent's first
// sync). By default on a unix socket with mode 0600 inside a 0700
// directory (so there is no moment where another user could connect); TCP
// only with mutual TLS, and then only for the client names its ClientPolicy
// allows (client-identity.ts: one interceptor for every service and method).
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { clientIdentityInterceptor, type ClientPolicy, type Refusal } from './client-identity.js';
import { withFastFlowEncoder } from './encode.js';
import { PACKAGE, loadApi } from './proto.js';

export interface TlsFiles {
  cert: string;
  key: string;
  /** CA that client certificates must chain to */
  ca: string;
}

export interface ApiServerOptions {
  /** unix socket path; omitted = no unix socket */
  socketPath?: string;
  /** host:port for TCP (requires tls) */
  listen?: string;
  tls?: TlsFiles;
  /**
   * Who may call over TCP besides holding a certificate of the CA (the
   * agent: its --grpc-allowed-clients, never its own identity). Omitted: any
   * certificate of the CA (the relay's listener, for operators).
   */
  clients?: ClientPolicy;
  /** a refused TCP client, once per certificate (to log) */
  onRefused?: (r: Refusal) => void;
}

export const SERVICE_NAMES = [`${PACKAGE}.FlowService`, `${PACKAGE}.StateService`];

export class ApiServer {
  readonly server: grpc.Server;
  private readonly health = new HealthImplementation({
    '': 'NOT_SERVING',
    ...Object.fromEntries(SERVICE_NAMES.map((s) => [s, 'NOT_SERVING' as const])),
  });
  /** where it listens, e.g. ["unix:/run/vrfwall/x/api.sock", "0.0.0.0:9444"] */
  readonly addresses: string[] = [];

  constructor(
    flows: grpc.UntypedServiceImplementation,
    state: grpc.UntypedServiceImplementation,
    private readonly opts: ApiServerOptions,
  ) {
    if (!opts.socketPath && !opts.listen) throw new Error('API server: no unix socket and no TCP address');
    if (opts.listen && !opts.tls) throw new Error('API server: TCP needs --grpc-tls-cert, --grpc-tls-key and --grpc-tls-ca (mutual TLS)');
    this.server = new grpc.Server(
      opts.clients ? { interceptors: [clientIdentityInterceptor(opts.clients, opts.onRefused ?? (() => undefined))] } : {},
    );
    const api = loadApi();
    this.server.addService(withFastFlowEncoder(api.flowService), flows);
    this.server.addService(api.stateService, state);
    new ReflectionService(api.definition).addToServer(this.server);
    this.health.addToServer(this.server);
  }

  async start(): Promise<void> {
    if (this.opts.socketPath) {
      const sock = this.opts.socketPath;
      fs.mkdirSync(path.dirname(sock), { recursive: true, mode: 0o700 });
      fs.chmodSync(path.dirname(sock), 0o700);
      // A socket left by a killed agent would make bind fail.
      if (fs.lstatSync(sock, { throwIfNoEntry: false })?.isSocket()) fs.unlinkSync(sock);
      await this.bind(`unix:${sock}`, grpc.ServerCredentials.createInsecure());
      fs.chmodSync(sock, 0o600);
      this.addresses.push(`unix:${sock}`);
    }
    if (this.opts.listen && this.opts.tls) {
      const t = this.opts.tls;
      const creds = grpc.ServerCredentials.createSsl(
        fs.readFileSync(t.ca),
        [{ cert_chain: fs.readFileSync(t.cert), private_key: fs.readFileSync(t.key) }],
        true, // client certificates are required: mutual TLS
      );
      const port = await this.bind(this.opts.listen, creds);
      const host = this.opts.listen.slice(0, this.opts.listen.lastIndexOf(':'));
      this.addresses.push(`${host}:${port}`);
    }
  }

  /** Health goes SERVING (after the agent's first sync). */
  setServing(serving: boolean): void {
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', status);
    for (const s of SERVICE_NAMES) this.health.setStatus(s, status);
  }

  async stop(graceMs = 2000): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (this.opts.socketPath) fs.rmSync(this.opts.socketPath, { force: true });
  }

  private bind(address: string, creds: grpc.ServerCredentials): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, creds, (err, port) => (err ? reject(new Error(`gRPC bind ${address}: ${err.message}`)) : resolve(port)));
    });
  }
}
