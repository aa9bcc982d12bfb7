// The relay's web UI (`--ui-listen`): static assets from the package's ui/
// folder and a small JSON API over the relay's own merged services
// (RelayServices: ListNetworks, ListEndpoints, GetFlows, Explain), never a
// second implementation. Plain HTTP: bind it to loopback and reach it with a
// port-forward (docs/flows.md "Web UI").
//   GET /api/graph                       networks, pods, Services, routers
//   GET /api/flows?<flows flags>&follow=1  newline-delimited JSON: GetFlows messages
//   GET /api/explain?source=&destination=
//   GET /api/matrix                      the lab's last connectivity matrix (--ui-matrix)
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GetFlowsResponse } from '../../api/messages.js';
import type { WritableCall } from '../../api/stream.js';
import type { RelayServices } from '../services.js';
import { buildGraph } from './graph.js';
import { QueryError, uiFlowsRequest } from './query.js';

/** dist/relay/ui/server.js -> <package>/ui */
export const UI_ASSETS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../ui');

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.png': 'image/png' };

export interface UiOptions {
  listen: string;
  /** a JSON file with the lab's last `lab matrix` (the lab writes it) */
  matrixFile?: string;
  assets?: string;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** The message of a relay error (a gRPC ServiceError-like object) or any error. */
function errorText(e: unknown): string {
  if (e && typeof e === 'object' && 'details' in e && typeof e.details === 'string') return e.details;
  return e instanceof Error ? e.message : String(e);
}

/** Only an IP address or localhost as the Host (what a port-forward or the lab gives). */
export function hostAllowed(host: string | undefined): boolean {
  if (host === undefined) return false;
  const name = host.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  return name === 'localhost' || isIP(name) !== 0;
}

/**
 * A request the UI's own page made, or one typed in the address bar: browsers
 * say where a request comes from (Sec-Fetch-Site), and another site's page
 * (an <img> pointing at the port-forward) must not drive the API, even
 * blindly (each follow holds a relay stream). No header: not a browser.
 */
export function fetchSiteAllowed(site: string | string[] | undefined): boolean {
  return site === undefined || site === 'same-origin' || site === 'none';
}

/** A GetFlows "call" writing newline-delimited JSON to an HTTP response, with its backpressure and cancellation. */
class HttpFlowCall extends EventEmitter implements WritableCall<GetFlowsResponse> {
  cancelled = false;
  private started = false;

  constructor(private readonly res: http.ServerResponse) {
    super();
    res.on('drain', () => this.emit('drain'));
    res.on('close', () => {
      if (!res.writableFinished) {
        this.cancelled = true;
        this.emit('cancelled');
      }
    });
    this.on('error', (e: unknown) => {
      // before anything was sent the error is the answer (a bad filter: 400); later it ends the stream
      if (!this.started) json(res, 400, { error: errorText(e) });
      else res.end(`${JSON.stringify({ error: errorText(e) })}\n`);
    });
  }

  write(message: GetFlowsResponse): boolean {
    if (!this.started) {
      this.started = true;
      this.res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    }
    return this.res.write(`${JSON.stringify(message)}\n`);
  }

  end(): void {
    if (!this.started) this.write({ batch: { flows: [] } });
    this.res.end();
  }
}

export class UiServer {
  private readonly server: http.Server;
  private readonly assets: string;

  constructor(
    private readonly services: RelayServices,
    private readonly opts: UiOptions,
  ) {
    this.assets = opts.assets ?? UI_ASSETS;
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) json(res, 502, { error: errorText(e) });
        else res.end();
      });
    });
  }

  get address(): string {
    const a = this.server.address() as AddressInfo | null;
    return a ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : '';
  }

  async start(): Promise<void> {
    const i = this.opts.listen.lastIndexOf(':');
    const host = this.opts.listen.slice(0, i).replace(/^\[|\]$/g, '');
    const port = Number(this.opts.listen.slice(i + 1));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // DNS rebinding: a web page of some other site must not read flows through a name it points at loopback
    if (!hostAllowed(req.headers.host)) return json(res, 403, { error: `Host ${JSON.stringify(req.headers.host ?? '')}: open the UI by IP address or localhost` });
    const url = new URL(req.url ?? '/', 'http://ui');
    if (req.method !== 'GET') return json(res, 405, { error: 'GET only' });
    if (url.pathname.startsWith('/api/') && !fetchSiteAllowed(req.headers['sec-fetch-site'])) {
      return json(res, 403, { error: `a request from another site (Sec-Fetch-Site: ${String(req.headers['sec-fetch-site'])}) may not use the UI's API` });
    }
    switch (url.pathname) {
      case '/api/graph': {
        const [networks, endpoints] = await Promise.all([this.services.listNetworks(), this.services.listEndpoints({ namespace: '', network: '', localOnly: false })]);
        return json(res, 200, { graph: buildGraph(networks.networks, endpoints.endpoints), nodes: networks.nodes });
      }
      case '/api/flows': {
        let request;
        try {
          request = uiFlowsRequest(url.searchParams);
        } catch (e) {
          if (e instanceof QueryError) return json(res, 400, { error: e.message });
          throw e;
        }
        return this.services.streamFlows(request, new HttpFlowCall(res));
      }
      case '/api/explain': {
        const q = (k: string): string => url.searchParams.get(k)?.trim() ?? '';
        const port = q('port');
        if (port !== '' && !/^\d{1,5}$/.test(port)) return json(res, 400, { error: `port ${JSON.stringify(port)}: not a port` });
        try {
          return json(res, 200, await this.services.explain({ source: q('source'), destination: q('destination'), protocol: q('protocol'), port: Number(port || 0), family: q('family') }));
        } catch (e) {
          return json(res, 400, { error: errorText(e) });
        }
      }
      case '/api/matrix': {
        if (this.opts.matrixFile === undefined) return json(res, 404, { error: 'no connectivity matrix: this relay is not a lab\'s (--ui-matrix)' });
        try {
          return json(res, 200, { matrix: JSON.parse(fs.readFileSync(this.opts.matrixFile, 'utf8')) as unknown, modified: fs.statSync(this.opts.matrixFile).mtimeMs });
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          return json(res, 404, { error: code === 'ENOENT' ? 'no matrix yet: run `vrfwall lab matrix`' : errorText(e) });
        }
      }
      default:
        return this.asset(url.pathname, res);
    }
  }

  /** A file of the UI folder; nothing outside it. */
  private asset(pathname: string, res: http.ServerResponse): void {
    let rel: string;
    try {
      rel = pathname === '/' ? 'index.html' : decodeURIComponent(pathname).replace(/^\/+/, '');
    } catch {
      return json(res, 400, { error: 'bad path' });
    }
    const file = path.resolve(this.assets, rel);
    if (!file.startsWith(this.assets + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) return json(res, 404, { error: `no ${pathname}` });
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
    fs.createReadStream(file).pipe(res);
  }
}
