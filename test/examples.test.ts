// The examples with agents, on 1 and 2 nodes: the full matrix (pods over
// ICMP/TCP/UDP, Services by ClusterIP, DNS; IPv4 and IPv6) must be the one
// written in each example's README (the tables are parsed from there, so the
// documentation cannot drift from the behaviour). On the 2-node CN2 lab: only
// a shared Service's backend (kube-dns) is reachable from another network,
// on its target port; no other Service opens its backend; and a quarantined pod
// reaches nothing, not even DNS, with the reason in the agent's log.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labMatrix, labUp } from '../src/lab/lab.js';
import { CELL_FIELDS } from '../src/lab/protocol.js';
import type { LabState } from '../src/lab/state.js';
import { ensureBuilt } from './helpers/build.js';
import { ROOT, podOf } from './helpers/lab.js';
import { mismatches } from './helpers/readme-matrix.js';

const run = promisify(execFile);

/** One TCP connection from a pod; the reply line, or why there was none. */
async function connect(state: LabState, from: string, host: string, port: number): Promise<string> {
  const script = `const s = require('net').connect({ host: ${JSON.stringify(host)}, port: ${port} });
    s.setTimeout(800, () => { console.log('timeout'); process.exit(); });
    s.on('data', (d) => { console.log(String(d).trim()); process.exit(); });
    s.on('error', (e) => { console.log(e.code); process.exit(); });`;
  const { stdout } = await run('ip', ['netns', 'exec', podOf(state, from).netns, process.execPath, '-e', script]);
  return stdout.trim();
}

const EXAMPLES = [
  { dir: 'cn2-isolated-namespace', tag: 'cn' },
  { dir: 'custom-pod-networks', tag: 'cp' },
  { dir: 'hub-and-spoke', tag: 'hs' },
  { dir: 'staged-isolation', tag: 'si' }, // audit mode as shipped (test/lab-audit.test.ts switches it to enforce)
  { dir: 'network-policy', tag: 'np' }, // issue 16: NetworkPolicy inside an isolated namespace
];

beforeAll(() => ensureBuilt());

for (const example of EXAMPLES) {
  describe.each([1, 2])(`examples/${example.dir} on %i node(s), with agents`, (nodes) => {
    const lab = `lp${example.tag}${nodes}`;
    const readme = fs.readFileSync(path.join(ROOT, 'examples', example.dir, 'README.md'), 'utf8');
    let dir: string;
    let state: LabState;

    beforeAll(async () => {
      await labDown(lab);
      // A copy: some tests edit manifests while the lab runs.
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `vrfwall-${lab}-`));
      fs.cpSync(path.join(ROOT, 'examples', example.dir), dir, { recursive: true });
      state = await labUp(dir, { lab, nodes, log: () => undefined });
    });

    afterAll(async () => {
      await labDown(lab);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('gives the matrix its README documents: pods, Services (IPv4 and IPv6 ClusterIPs) and DNS', async () => {
      expect(mismatches(await labMatrix(lab), readme)).toEqual([]);
    });

    if (example.tag !== 'cn' || nodes !== 2) return;

    it("reaches only a shared Service's backend from another network, on its target port; no Service opens its backend", async () => {
      const pod1 = 'isolated-namespace-demo/pod1';
      const pod3 = 'non-isolated-namespace-demo/pod3';
      // kube-dns is shared: its backend answers pod1 directly on the target port (rule 4).
      const dnsPod = podOf(state, 'kube-system/coredns').ips;
      const { stdout } = await run('ip', [
        'netns', 'exec', podOf(state, pod1).netns, process.execPath, '--input-type=module', '-e',
        `import dns from 'node:dns'; const out = [];
         for (const server of [${JSON.stringify(dnsPod.v4)}, ${JSON.stringify(`[${dnsPod.v6}]`)}]) {
           const r = new dns.promises.Resolver({ timeout: 1500, tries: 2 }); r.setServers([server]);
           out.push(await r.resolve4('kubernetes.default.svc.cluster.local'));
         }
         console.log(JSON.stringify(out));`,
      ]);
      expect(JSON.parse(stdout)).toEqual([['10.96.0.1'], ['10.96.0.1']]);
      // non-isolated-namespace-demo/web is not shared: its backend pod3 is closed to pod1
      // on its target port 80 as on every other port.
      const ips = podOf(state, pod3).ips;
      for (const ip of [ips.v4, ips.v6]) {
        expect(await connect(state, pod1, ip, 80)).toBe('timeout');
        expect(await connect(state, pod1, ip, 8080)).toBe('timeout');
      }
      // Same network: pod4 reaches pod3 on 80 (positive control).
      expect(await connect(state, 'default/pod4', ips.v4, 80)).toBe(pod3);
      const back = podOf(state, pod1).ips;
      for (const ip of [back.v4, back.v6]) expect(await connect(state, pod3, ip, 8080)).toBe('timeout');
      // pod2:80 backs the isolated namespace's own Service: closed to pod3 directly too.
      expect(await connect(state, pod3, podOf(state, 'isolated-namespace-demo/pod2').ips.v4, 80)).toBe('timeout');
    });

    it('quarantines a pod with a bad network annotation: it reaches nothing, not even DNS, and the agent says why', async () => {
      const pod1 = 'isolated-namespace-demo/pod1';
      const file = path.join(dir, 'isolated-namespace-demo.yaml');
      const original = fs.readFileSync(file, 'utf8');
      const annotated = original.replace(
        /(  name: pod1\n  namespace: isolated-namespace-demo\n)/,
        '$1  annotations:\n    vrfwall.dev/network: isolated-namespace-demo/no-such-network\n',
      );
      expect(annotated).not.toBe(original);
      fs.writeFileSync(file, annotated);
      try {
        const deadline = Date.now() + 5_000;
        let m = await labMatrix(lab, { timeoutMs: 500 });
        while (m.dns[pod1] && Date.now() < deadline) m = await labMatrix(lab, { timeoutMs: 500 });
        const reached = [
          ...Object.entries(m.services[pod1] ?? {}).filter(([, ok]) => ok).map(([k]) => k),
          ...Object.entries(m.pods[pod1] ?? {}).filter(([, c]) => CELL_FIELDS.some((f) => c[f])).map(([k]) => k),
          ...Object.keys(m.pods).filter((k) => k !== pod1 && CELL_FIELDS.some((f) => m.pods[k]?.[pod1]?.[f])),
        ];
        expect(reached).toEqual([]);
        expect(m.dns[pod1]).toBe(false);
        expect(Object.keys(m.services[pod1] ?? {})).toContain('kube-system/kube-dns:53/UDP');
        // pod2, its former neighbour, still resolves names: only pod1 is cut off.
        expect(m.dns['isolated-namespace-demo/pod2']).toBe(true);
        const logs = state.agents.map((a) => fs.readFileSync(a.logFile, 'utf8')).join('\n');
        const line = logs.split('\n').find((l) => l.includes('quarantined') && l.includes(pod1));
        expect(line).toBeDefined();
        expect(line).toContain('no-such-network');
      } finally {
        fs.writeFileSync(file, original);
      }
    });
  });
}
