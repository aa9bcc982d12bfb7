// The relay's web UI in a real browser (Debian's chromium driven by
// playwright-core) against a real lab (1 node, the CN2 example, real agent on
// the real kernel): the graph shows the example's networks; a UDP datagram
// from pod3 to pod1 (isolated), sent from inside pod3's namespace, appears
// as a dropped flow in the live panel; a bad filter shows an error while a
// good one shows flows; Explain for pod1 -> pod4 says DROPPED and for
// pod3 -> pod4 ALLOWED; the lab's matrix is shown. The UI listens on node1's
// loopback, so the browser runs inside node1's namespace (nsenter wrapper).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labMatrix, labUp } from '../src/lab/lab.js';
import { netnsPath } from '../src/lab/names.js';
import type { LabState } from '../src/lab/state.js';
import { ROOT } from './helpers/lab.js';

const LAB = 'webui1';
const CHROMIUM = '/usr/bin/chromium';
/** where the run's screenshot goes (docs/ui.png is one of these, committed once) */
const SCREENSHOT = process.env.VRFWALL_UI_SCREENSHOT ?? path.join(ROOT, 'build/test/ui.png');
/** a source port no other traffic of the lab uses: the probe's flow is this one, not one of the matrix's */
const PROBE_SPORT = 41777;

let state: LabState;
let tmp: string;
let browser: Browser | undefined;
let page: Page;

const pod = (key: string) => {
  const p = state.plan.pods.find((x) => x.key === key);
  if (!p) throw new Error(`no pod ${key} in the lab`);
  return p;
};

/** One UDP datagram from inside a pod's namespace (the kernel's own socket, nothing faked). */
function sendUdp(from: string, toIp: string, port: number, sport: number): void {
  const code = `import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('', ${sport})); s.sendto(b'why', ('${toIp}', ${port}))`;
  const r = spawnSync('nsenter', [`--net=${netnsPath(pod(from).netns)}`, '--', 'python3', '-c', code], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`sending from ${from}: ${r.stderr}`);
}

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (make deps installs it)`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-webui-'));
  fs.cpSync(path.join(ROOT, 'examples/cn2-isolated-namespace'), path.join(tmp, 'example'), { recursive: true });
  await labDown(LAB);
  state = await labUp(path.join(tmp, 'example'), { lab: LAB, nodes: 1, log: () => undefined });
  await labMatrix(LAB, { timeoutMs: 500 });
  // chromium inside node1's namespace, where the UI listens on loopback
  const wrapper = path.join(tmp, 'chromium-in-node1');
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec nsenter --net=${netnsPath(state.plan.nodes[0]!.netns)} -- ${CHROMIUM} "$@"\n`, { mode: 0o755 });
  browser = await chromium.launch({ executablePath: wrapper, args: ['--headless', '--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await labDown(LAB);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe('the relay web UI in a browser', () => {
  it('lab up starts it on node1 loopback; the graph shows the example networks, the isolated one marked', async () => {
    expect(state.relay?.ui).toBe('127.0.0.1:9446');
    await page.goto(`http://${state.relay!.ui}/`);
    await page.waitForFunction(() => (window as unknown as { vrfwallGraph?: unknown }).vrfwallGraph !== undefined, undefined, { timeout: 15_000 });
    const graph = await page.evaluate(() => (window as unknown as { vrfwallGraph: { nodes: { id: string; kind: string; isolated?: boolean }[] } }).vrfwallGraph);
    const nets = graph.nodes.filter((n) => n.kind === 'network');
    expect(nets.map((n) => n.id).sort()).toEqual(['net:default/default-podnetwork', 'net:default/vn1', 'net:default/vn2', 'net:isolated-namespace-demo/default-podnetwork']);
    expect(nets.filter((n) => n.isolated).map((n) => n.id)).toEqual(['net:isolated-namespace-demo/default-podnetwork']);
    const ids = new Set(graph.nodes.map((n) => n.id));
    for (const p of ['pod:isolated-namespace-demo/pod1', 'pod:default/pod4@eth1', 'svc:default/web']) expect(ids.has(p), p).toBe(true);
    // cytoscape holds every one of them, and drew on its canvas
    const drawn = await page.evaluate(() => (window as unknown as { vrfwallCy: { nodes: () => { length: number } } }).vrfwallCy.nodes().length);
    expect(drawn).toBe(graph.nodes.length);
    expect(await page.locator('#graph canvas').count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#flows-info').textContent()).toContain('nodes answered: node1');
  }, 30_000);

  it('a denied UDP datagram from pod3 to pod1 appears as a dropped flow in the live panel', async () => {
    const pod1 = pod('isolated-namespace-demo/pod1');
    const src = `non-isolated-namespace-demo/pod3:${PROBE_SPORT}`;
    const row = page.locator('#flows tbody tr', { hasText: src });
    // positive control of the same page: the matrix's flows arrived (allowed ones among them)
    await expect.poll(() => page.locator('#flows tbody tr[data-verdict="ALLOWED"]').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await row.count()).toBe(0);
    const sent = Date.now();
    sendUdp('non-isolated-namespace-demo/pod3', pod1.ips.v4, 8080, PROBE_SPORT);
    await row.first().waitFor({ timeout: 10_000 });
    const seenAfterMs = Date.now() - sent;
    expect(await row.first().getAttribute('class')).toBe('dropped');
    expect(await row.first().getAttribute('data-verdict')).toBe('DROPPED');
    expect(await row.first().textContent()).toContain('ISOLATED');
    expect(await row.first().getAttribute('data-destination')).toBe('isolated-namespace-demo/pod1:8080');
    console.log(`dropped probe shown ${seenAfterMs} ms after it was sent`);
  }, 30_000);

  it('a bad filter shows a clear error; a good one shows only matching flows', async () => {
    await page.fill('#flows-form input[name=verdict]', 'sometimes');
    await page.click('#flows-form button');
    await expect.poll(() => page.locator('#flows-error').textContent()).toContain('"sometimes": one of allowed, dropped');
    expect(await page.locator('#flows-error').isVisible()).toBe(true);
    await page.fill('#flows-form input[name=verdict]', 'dropped');
    await page.click('#flows-form button');
    await expect.poll(() => page.locator('#flows tbody tr').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await page.locator('#flows-error').isVisible()).toBe(false);
    expect(await page.locator('#flows tbody tr[data-verdict="ALLOWED"]').count()).toBe(0);
    expect(await page.locator('#flows tbody tr[data-verdict="DROPPED"]').count()).toBeGreaterThan(0);
  }, 30_000);

  it('why: Explain pod1 -> pod4 says DROPPED (ISOLATED); pod3 -> pod4 ALLOWED; an unknown pod is an error', async () => {
    const ask = async (s: string, d: string) => {
      await page.fill('#why-form input[name=source]', s);
      await page.fill('#why-form input[name=destination]', d);
      await page.click('#why-form button');
    };
    await ask('isolated-namespace-demo/pod1', 'default/pod4');
    await expect.poll(() => page.locator('#why-result').getAttribute('data-verdict'), { timeout: 10_000 }).toBe('DROPPED');
    expect(await page.locator('#why-result').textContent()).toContain('ISOLATED');
    await ask('non-isolated-namespace-demo/pod3', 'default/pod4');
    await expect.poll(() => page.locator('#why-result').getAttribute('data-verdict'), { timeout: 10_000 }).toBe('ALLOWED');
    await ask('nowhere/nobody', 'nowhere/else');
    await expect.poll(() => page.locator('#why-result .error').textContent(), { timeout: 10_000 }).toContain('nothing to explain');
    await ask('isolated-namespace-demo/pod1', 'default/pod4');
    await expect.poll(() => page.locator('#why-result').getAttribute('data-verdict'), { timeout: 10_000 }).toBe('DROPPED');
  }, 30_000);

  it('the lab matrix: pod1 -> pod2 open, pod1 -> pod4 blocked', async () => {
    await page.reload();
    await page.locator('#matrix table').waitFor({ timeout: 10_000 });
    const cell = (a: string, b: string) =>
      page.evaluate(
        ([x, y]) => {
          const t = document.querySelector('#matrix table') as HTMLTableElement;
          const head = [...t.rows[0]!.cells].map((c) => c.textContent);
          const row = [...t.rows].find((r) => r.cells[0]!.textContent === x)!;
          return row.cells[head.indexOf(y!)]!.className;
        },
        [a, b],
      );
    expect(await cell('isolated-namespace-demo/pod1', 'isolated-namespace-demo/pod2')).toBe('yes');
    expect(await cell('isolated-namespace-demo/pod1', 'default/pod4')).toBe('no');
    // the page as a person sees it, with a Why? answer and drops in the flows
    await page.fill('#why-form input[name=source]', 'isolated-namespace-demo/pod1');
    await page.fill('#why-form input[name=destination]', 'default/pod4');
    await page.click('#why-form button');
    await expect.poll(() => page.locator('#why-result').getAttribute('data-verdict'), { timeout: 10_000 }).toBe('DROPPED');
    await page.waitForTimeout(500); // the graph's layout settles (the picture only)
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
  }, 30_000);
});
