// `ip monitor` of links, routes and neighbours. Interfaces and routes appear
// after Pod objects (CNI timing), so the agent reconciles when they change;
// and it counts the monitor's output, so a cached interface discovery can
// tell whether anything at all happened since it was taken.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { canonicalIp } from '../model/ip.js';

/** How long `ip monitor` may take after its spawn to be listening: nothing
 *  observed before then can be trusted to have been reported. */
const SETTLE_MS = 1000;

/** Triggers within this window make one reconcile. */
const COALESCE_MS = 20;

/**
 * A line of `ip monitor label link route neigh` worth a reconcile: any link
 * or route change; a neighbour entry only when it gives one of the addresses
 * waited for (`unresolved`, canonical) its MAC. Neighbour entries change all
 * the time; the others are noise.
 */
export function isTriggerLine(line: string, unresolved: ReadonlySet<string>): boolean {
  if (line.startsWith('[LINK]') || line.startsWith('[ROUTE]')) return true;
  if (!line.startsWith('[NEIGH]') || unresolved.size === 0) return false;
  const ip = canonicalIp(line.slice('[NEIGH]'.length).replace(/^Deleted /, '').split(' ')[0] ?? '');
  return ip !== undefined && unresolved.has(ip) && line.includes(' lladdr ');
}

export class NetlinkMonitor {
  /** Output chunks so far: any of them may change what discovery finds. */
  events = 0;
  /** When the monitor was started; undefined: not running. */
  private since: number | undefined;
  private child: ChildProcess | undefined;

  constructor(
    /** the addresses whose neighbour entries are waited for */
    private readonly unresolved: () => ReadonlySet<string>,
    private readonly onTrigger: () => void,
    private readonly log: Logger,
  ) {}

  start(): void {
    const child = spawn('ip', ['monitor', 'label', 'link', 'route', 'neigh'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let pending: NodeJS.Timeout | undefined;
    let partial = '';
    child.stdout.setEncoding('utf8');
    this.since = performance.now();
    child.stdout.on('data', (chunk: string) => {
      this.events++;
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      const unresolved = this.unresolved();
      if (!lines.some((l) => isTriggerLine(l, unresolved))) return;
      pending ??= setTimeout(() => {
        pending = undefined;
        this.onTrigger();
      }, COALESCE_MS);
    });
    child.on('error', (e) => {
      this.since = undefined;
      this.log.warn({ err: e.message }, 'ip monitor unavailable; relying on periodic resync');
    });
    child.on('exit', () => (this.since = undefined));
    this.child = child;
  }

  stop(): void {
    this.child?.kill();
  }

  /** The monitor was running and settled at `at` (performance.now()), so
   *  anything that happened after `at` shows in `events`. */
  listeningAt(at: number): boolean {
    return this.since !== undefined && at > this.since + SETTLE_MS;
  }
}
