// The agent's reading of `ip monitor label link route neigh` (src/agent/agent.ts
// startMonitor / isTrigger) without a kernel or root: a stand-in `ip` first on
// PATH prints what iproute2 prints. Link and route events wake a reconcile;
// neighbour entries churn all the time, so only one that gives a bridged pod
// address still waiting for its port a MAC does; a line split across two
// reads is read whole. The agent is constructed with a fake addon and never
// started (nothing here loads a program). These are private members of the
// Agent: when agent.ts is split (issue 17 item 3) this test follows the code.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, type AgentConfig } from '../src/agent/agent.js';
import type { NativeAddon } from '../src/bpf/native.js';
import type { StateSource } from '../src/sources/source.js';

interface Inside {
  isTrigger(line: string): boolean;
  unresolved: Set<string>;
  startMonitor(): void;
  monitor: { kill(): boolean } | undefined;
  queue: { length: number };
  netlinkEvents: number;
}

let dir: string;
const savedPath = process.env.PATH;
const agents: Inside[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-agent-monitor-test-'));
  // `ip monitor ...` prints monitor-1.txt, pauses, prints monitor-2.txt, and stays (as the real one does).
  fs.writeFileSync(
    path.join(dir, 'ip'),
    `#!/bin/sh\ncase "$1" in\nmonitor) printf '%s' "$(cat '${dir}/monitor-1.txt')"; sleep 0.2; cat '${dir}/monitor-2.txt'; exec sleep 30;;\n*) echo "unexpected: ip $*" >&2; exit 2;;\nesac\n`,
    { mode: 0o755 },
  );
  process.env.PATH = `${dir}:${savedPath}`;
});

afterAll(() => {
  process.env.PATH = savedPath;
  fs.rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  for (const a of agents.splice(0)) a.monitor?.kill();
});

function agent(): Inside {
  const config: AgentConfig = {
    nodeName: 'node1',
    instance: 'test',
    bpffsRoot: path.join(dir, 'bpffs'),
    runDir: path.join(dir, 'run'),
    bpfDir: path.join(dir, 'bpf'),
    podCIDRs: ['10.244.0.0/16', 'fd00:10:244::/48'],
    serviceCIDRs: [],
    attachMode: 'auto',
    resyncMs: 60_000,
  };
  const source = {} as StateSource; // never started
  const noAddon = new Proxy({}, { get: (_t, p) => (p === 'then' ? undefined : () => { throw new Error(`addon.${String(p)} called`); }) }) as NativeAddon;
  const a = new Agent(config, source, pino({ level: 'silent' }), noAddon) as unknown as Inside;
  agents.push(a);
  return a;
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const LINK = '[LINK]12: vwt4blate@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master cni0 state UP group default';
const ROUTE = '[ROUTE]10.244.1.99 dev vwt4blate scope link';
const neigh = (ip: string, rest: string) => `[NEIGH]${ip} dev cni0 ${rest}`;

describe('agent: ip monitor lines', () => {
  it('link and route events wake a reconcile; neighbour events only for a waiting bridged address that got a MAC', () => {
    const a = agent();
    expect(a.isTrigger(LINK)).toBe(true);
    expect(a.isTrigger(ROUTE)).toBe(true);
    const resolved = neigh('10.244.1.10', 'lladdr aa:bb:cc:dd:ee:0a REACHABLE');
    expect(a.isTrigger(resolved), 'no address is waiting').toBe(false);
    a.unresolved = new Set(['10.244.1.10', 'fd00:10:244:1::a']);
    expect(a.isTrigger(resolved)).toBe(true);
    expect(a.isTrigger(neigh('10.244.1.10', 'FAILED')), 'no MAC yet').toBe(false);
    expect(a.isTrigger(neigh('10.244.1.10', 'INCOMPLETE')), 'no MAC yet').toBe(false);
    expect(a.isTrigger(`[NEIGH]Deleted 10.244.1.10 dev cni0 lladdr aa:bb:cc:dd:ee:0a STALE`)).toBe(true);
    expect(a.isTrigger(neigh('10.244.1.11', 'lladdr aa:bb:cc:dd:ee:0b REACHABLE')), 'another address').toBe(false);
    // the kernel's long IPv6 form is the same address as the compile step's
    expect(a.isTrigger(neigh('fd00:10:244:1:0:0:0:a', 'lladdr aa:bb:cc:dd:ee:0a REACHABLE'))).toBe(true);
    expect(a.isTrigger(neigh('not-an-ip', 'lladdr aa:bb:cc:dd:ee:0a'))).toBe(false);
    expect(a.isTrigger('[ADDR]2: eth0    inet 10.0.0.1/24')).toBe(false);
    expect(a.isTrigger('')).toBe(false);
  });

  it('the monitor process: every read counts as a netlink event; a trigger (even split across reads) schedules one reconcile', async () => {
    // first read: neighbour churn and the first half of a route line; second read: its rest
    fs.writeFileSync(path.join(dir, 'monitor-1.txt'), `${neigh('10.244.1.50', 'lladdr aa:bb:cc:dd:ee:50 STALE')}\n[RO`);
    fs.writeFileSync(path.join(dir, 'monitor-2.txt'), `UTE]10.244.1.99 dev vwt4blate scope link\n`);
    const a = agent();
    a.startMonitor();
    await until(() => a.netlinkEvents >= 1, 3000, 'the first read');
    // A timer set now for longer than the monitor's 20 ms coalescing timer (which the read would have set
    // already) fires after it: ordering, not timing.
    await new Promise((r) => setTimeout(r, 50));
    expect(a.queue.length, 'churn alone schedules nothing').toBe(0);
    await until(() => a.queue.length === 1, 3000, 'the split route line schedules a reconcile');
    expect(a.netlinkEvents).toBeGreaterThanOrEqual(2);
  });

  it('the same two reads without the route line schedule nothing (so the split line is what scheduled above)', async () => {
    fs.writeFileSync(path.join(dir, 'monitor-1.txt'), `${neigh('10.244.1.50', 'lladdr aa:bb:cc:dd:ee:50 STALE')}\n`);
    fs.writeFileSync(path.join(dir, 'monitor-2.txt'), `${neigh('10.244.1.51', 'lladdr aa:bb:cc:dd:ee:51 STALE')}\n`);
    const a = agent();
    a.startMonitor();
    await until(() => a.netlinkEvents >= 2, 3000, 'both reads');
    await new Promise((r) => setTimeout(r, 50)); // after any coalescing timer the reads set (see above)
    expect(a.queue.length).toBe(0);
  });
});
