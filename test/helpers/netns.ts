// Network namespaces and veth pairs for kernel tests, through `ip`.
//
// Safety: every namespace these helpers create or delete has a name starting
// with `vrfwall-`, and links are only ever created inside such a namespace
// (`ip -n NS ...`), so the host's root namespace is never touched.
//
// Naming: give each test file its own prefix (e.g. 'vrfwall-tnat-') and build
// names with ownedName(prefix, tag) -> 'vrfwall-tnat-<pid>-<tag>'. Because
// the pid is in the name, deleteStaleNetns(prefix) can remove what a crashed
// earlier run left behind without touching a run that is still going.
import { execFileSync } from 'node:child_process';
import { native } from '../../src/kernel/native.js';
import { isAlive as processAlive } from '../../src/util/process.js';

export { processAlive };

export const NETNS_ROOT_PREFIX = 'vrfwall-';
/** Interface names are limited to 15 bytes by the kernel (IFNAMSIZ - 1). */
export const IFNAME_MAX = 15;

/** Runs `ip args...` and returns stdout; throws with ip's stderr on failure. */
export function ip(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`);
  }
}

function requireOwnedName(name: string): void {
  if (!name.startsWith(NETNS_ROOT_PREFIX) || name.length <= NETNS_ROOT_PREFIX.length) {
    throw new Error(`network namespace '${name}' must be named ${NETNS_ROOT_PREFIX}*`);
  }
}

/** The file `ip netns add` binds the namespace to, for native().enterNetns. */
export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

/** `${prefix}${pid}-${tag}`: a name this process owns (see file comment). */
export function ownedName(prefix: string, tag: string): string {
  requireOwnedName(prefix);
  return `${prefix}${process.pid}-${tag}`;
}

/** Namespaces whose names start with prefix (which must be vrfwall-*). */
export function listNetns(prefix: string): string[] {
  requireOwnedName(prefix);
  // `ip netns list` prints "name" or "name (id: N)", one per line.
  return ip(['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(prefix));
}

export function createNetns(name: string): void {
  requireOwnedName(name);
  ip(['netns', 'add', name]);
  ip(['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Deletes the namespace (and so every interface in it); no-op when absent. */
export function deleteNetns(name: string): void {
  requireOwnedName(name);
  if (listNetns(name).includes(name)) ip(['netns', 'delete', name]);
}


/**
 * Deletes namespaces named `${prefix}<pid>-*` whose process is gone, and this
 * process's own. Call it at the start of a test file.
 */
export function deleteStaleNetns(prefix: string): void {
  for (const name of listNetns(prefix)) {
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    if (Number.isInteger(pid) && (pid === process.pid || !processAlive(pid))) deleteNetns(name);
  }
}

export interface VethOptions {
  /** namespace of `name` (must exist) */
  ns: string;
  name: string;
  /** namespace of `peer`; defaults to ns */
  peerNs?: string;
  peer: string;
  /** addresses (CIDR) for each end, optional */
  addr?: string;
  peerAddr?: string;
}

/** Creates a veth pair inside namespaces, sets addresses and brings both ends up. */
export function createVethPair(o: VethOptions): void {
  const peerNs = o.peerNs ?? o.ns;
  requireOwnedName(o.ns);
  requireOwnedName(peerNs);
  for (const dev of [o.name, o.peer]) {
    if (dev.length > IFNAME_MAX) throw new Error(`interface name '${dev}' is longer than ${IFNAME_MAX}`);
  }
  ip(['-n', o.ns, 'link', 'add', o.name, 'type', 'veth', 'peer', 'name', o.peer, 'netns', peerNs]);
  if (o.addr) ip(['-n', o.ns, 'addr', 'add', o.addr, 'dev', o.name]);
  if (o.peerAddr) ip(['-n', peerNs, 'addr', 'add', o.peerAddr, 'dev', o.peer]);
  ip(['-n', o.ns, 'link', 'set', o.name, 'up']);
  ip(['-n', peerNs, 'link', 'set', o.peer, 'up']);
}

/**
 * Runs fn with the calling (JS main) thread inside namespace `ns`, and always
 * comes back. Synchronous only: across an `await` every other piece of code on
 * this thread would run inside the namespace, so a returned promise is refused.
 * Child processes spawned by fn start in the namespace too.
 */
export function withNetns<T>(ns: string, fn: () => T): T {
  requireOwnedName(ns);
  const addon = native();
  const back = addon.enterNetns(netnsPath(ns));
  let result: T;
  try {
    result = fn();
  } finally {
    addon.restoreNetns(back);
  }
  if (result instanceof Promise) {
    throw new TypeError('withNetns: fn must be synchronous (it returned a Promise)');
  }
  return result;
}

/** ifindex of `dev` inside namespace `ns`. */
export function ifindexIn(ns: string, dev: string): number {
  return withNetns(ns, () => native().ifNameToIndex(dev));
}

/**
 * Runs a command inside `ns` (`ip netns exec`); returns true when it exits 0.
 * For probes such as ping whose failure is an expected outcome.
 */
export function succeedsIn(ns: string, cmd: string[], timeoutMs = 5000): boolean {
  requireOwnedName(ns);
  try {
    execFileSync('ip', ['netns', 'exec', ns, ...cmd], { stdio: 'ignore', timeout: timeoutMs });
    return true;
  } catch {
    return false;
  }
}
