// Finds the host-side interface of each local pod from its IP: the host route
// the CNI installed for the pod (ptp-style CNIs such as Calico or the ptp plugin).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import ipaddr from 'ipaddr.js';
import type { InterfaceIndex } from '../model/types.js';

const run = promisify(execFile);

interface IpRoute {
  dst: string;
  dev?: string;
  type?: string;
}

interface IpLink {
  ifindex: number;
  ifname: string;
}

async function ipJson<T>(args: string[]): Promise<T[]> {
  const { stdout } = await run('ip', ['-json', ...args], { maxBuffer: 64 * 1024 * 1024 });
  const text = stdout.trim();
  return text === '' ? [] : (JSON.parse(text) as T[]);
}

/** Canonical text of an address, as the compile step writes it. */
export function canonicalIp(text: string): string {
  return ipaddr.process(text).toString();
}

function hostRouteAddress(dst: string): string | undefined {
  const [addr, len] = dst.split('/');
  if (addr === undefined || !ipaddr.isValid(addr)) return undefined;
  const parsed = ipaddr.parse(addr);
  const full = parsed.kind() === 'ipv4' ? '32' : '128';
  if (len !== undefined && len !== full) return undefined;
  return canonicalIp(addr);
}

export interface Discovered {
  /** pod IP -> ifindex, from host routes (/32, /128) out of a device */
  byIp: InterfaceIndex;
  /** every interface of this netns */
  all: number[];
}

/** What the node's routing table says about pod interfaces, in this netns. */
export async function discoverInterfaces(): Promise<Discovered> {
  const [links, v4, v6] = await Promise.all([
    ipJson<IpLink>(['link', 'show']),
    ipJson<IpRoute>(['-4', 'route', 'show', 'table', 'main']),
    ipJson<IpRoute>(['-6', 'route', 'show', 'table', 'main']),
  ]);
  const byName = new Map(links.map((l) => [l.ifname, l.ifindex]));
  const out: InterfaceIndex = new Map();
  for (const r of [...v4, ...v6]) {
    if (r.dev === undefined || (r.type !== undefined && r.type !== 'unicast')) continue;
    const addr = hostRouteAddress(r.dst);
    const ifindex = byName.get(r.dev);
    if (addr !== undefined && ifindex !== undefined && r.dev !== 'lo') out.set(addr, ifindex);
  }
  return { byIp: out, all: links.map((l) => l.ifindex) };
}
