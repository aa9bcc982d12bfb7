// The `ip monitor` process as the agent runs it (src/agent/netlink-monitor.ts
// NetlinkMonitor), without a kernel or root: a stand-in `ip` first on PATH
// prints what iproute2 prints, in two reads. Every read counts as an event
// (a cached discovery is distrusted after any); a trigger line makes one
// reconcile after the coalescing window, also when it is split across two
// reads; neighbour churn alone makes none. Which lines trigger: netlink-monitor.test.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NetlinkMonitor } from '../src/agent/netlink-monitor.js';

let dir: string;
const savedPath = process.env.PATH;
const running: NetlinkMonitor[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-netlink-monitor-test-'));
  // `ip monitor ...` prints monitor-1.txt, pauses, prints monitor-2.txt, and stays (as the real one does).
  fs.writeFileSync(
    path.join(dir, 'ip'),
    `#!/bin/sh\ncase "$1" in\nmonitor) cat '${dir}/monitor-1.txt'; sleep 0.2; cat '${dir}/monitor-2.txt'; exec sleep 30;;\n*) echo "unexpected: ip $*" >&2; exit 2;;\nesac\n`,
    { mode: 0o755 },
  );
  process.env.PATH = `${dir}:${savedPath}`;
});

afterAll(() => {
  process.env.PATH = savedPath;
  fs.rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  for (const m of running.splice(0)) m.stop();
});

function monitor(reads: [string, string]): { m: NetlinkMonitor; triggers: () => number } {
  fs.writeFileSync(path.join(dir, 'monitor-1.txt'), reads[0]);
  fs.writeFileSync(path.join(dir, 'monitor-2.txt'), reads[1]);
  let n = 0;
  const m = new NetlinkMonitor(() => new Set(), () => n++, pino({ level: 'silent' }));
  running.push(m);
  m.start();
  return { m, triggers: () => n };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const CHURN = '[NEIGH]10.244.1.50 dev cni0 lladdr aa:bb:cc:dd:ee:50 STALE\n';

describe('ip monitor process', () => {
  it('every read is an event; a route line split across two reads makes one reconcile; churn alone none', async () => {
    const { m, triggers } = monitor([`${CHURN}[RO`, 'UTE]10.244.1.99 dev vwt4blate scope link\n']);
    await until(() => m.events >= 1, 3000, 'the first read');
    // A timer set now for longer than the monitor's 20 ms coalescing timer (which the read
    // would have set already) fires after it: ordering, not timing.
    await new Promise((r) => setTimeout(r, 50));
    expect(triggers(), 'churn and half a line').toBe(0);
    await until(() => triggers() === 1, 3000, 'the split route line makes a reconcile');
    expect(m.events).toBeGreaterThanOrEqual(2);
  });

  it('the same two reads without the route line make none (so the split line is what triggered above)', async () => {
    const { m, triggers } = monitor([CHURN, CHURN.replace('.50 ', '.51 ')]);
    await until(() => m.events >= 2, 3000, 'both reads');
    await new Promise((r) => setTimeout(r, 50)); // after any coalescing timer the reads set (see above)
    expect(triggers()).toBe(0);
  });

  it('triggers in one read make one reconcile, not one per line', async () => {
    const { m, triggers } = monitor(['[LINK]12: a@if2: <UP> mtu 1500\n[ROUTE]10.244.1.98 dev a scope link\n[LINK]13: b@if2: <UP> mtu 1500\n', CHURN]);
    await until(() => triggers() >= 1, 3000, 'a reconcile');
    await until(() => m.events >= 2, 3000, 'the second read');
    await new Promise((r) => setTimeout(r, 50));
    expect(triggers()).toBe(1);
  });
});
