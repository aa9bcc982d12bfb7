// Audit mode end to end (issue 19 item 1): the lab builds
// examples/staged-isolation (a copy) with its agent, and real ICMP/TCP/UDP
// packets (v4 and v6) between real network namespaces show that
//   - in audit mode the matrix is all open, as the README documents, and the
//     kernel's flows record verdict AUDIT with reason ISOLATED for exactly
//     the pod pairs enforcing cuts (and none for the others: the control);
//   - editing the annotation to "enforce" cuts the namespace off within a
//     second, the README's enforced matrix, and a TCP connection opened
//     before the switch stops passing at its next packet.
import { spawn, type ChildProcess } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DropReason, Verdict, VW_NET_AUDIT, decodeNetwork } from '../src/kernel/abi.js';
import { labDown, labMatrix, labUp } from '../src/lab/lab.js';
import type { LabState } from '../src/lab/state.js';
import { AgentClient, collect, socketOf } from '../src/api/client.js';
import { flowsOf, type ExplainResponse, type GetFlowsRequest, type ListNetworksResponse, type ServerStatusResponse } from '../src/api/messages.js';
import { ROOT, podOf, readFlowTable, readPinnedMap, timeUntil } from './helpers/lab.js';
import { mismatches } from './helpers/readme-matrix.js';

const LAB = 'aud1';
const EXAMPLE = path.join(ROOT, 'examples/staged-isolation');
const STAGED = ['ns-staged/pod1', 'ns-staged/pod2'];
const DEFAULT = ['default/pod3', 'default/pod4'];
const README = fs.readFileSync(path.join(EXAMPLE, 'README.md'), 'utf8');
/** The README with its enforced tables under the names mismatches() reads. */
const ENFORCED_README = README.replace('<!-- expected: pods -->', '<!-- was: pods -->')
  .replace('<!-- expected: services -->', '<!-- was: services -->')
  .replace('<!-- expected: pods-enforced -->', '<!-- expected: pods -->')
  .replace('<!-- expected: services-enforced -->', '<!-- expected: services -->');

describe('examples/staged-isolation: audit, then enforce (1 node, real packets)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-aud1-'));
  const nsFile = path.join(dir, 'ns-staged.yaml');
  const instance = `${LAB}-node1`;
  let state: LabState;
  let original: string;

  beforeAll(async () => {
    fs.cpSync(EXAMPLE, dir, { recursive: true });
    original = fs.readFileSync(nsFile, 'utf8');
    await labDown(LAB); // leftovers of a killed run
    state = await labUp(dir, { lab: LAB, nodes: 1, log: () => undefined });
  });
  let api: AgentClient | undefined;
  const client = (): AgentClient =>
    (api ??= new AgentClient({ label: 'node1', address: `unix:${socketOf(instance)}`, creds: grpc.credentials.createInsecure() }));
  afterAll(async () => {
    api?.close();
    await labDown(LAB);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Any network of the agent's kernel map in audit mode? */
  const anyAudited = (): boolean => readPinnedMap(instance, 'networks').some((e) => (decodeNetwork(e.value).flags & VW_NET_AUDIT) !== 0);

  it('audit mode: the matrix is all open, and the flows say AUDIT (ISOLATED) for exactly the pairs enforce cuts', async () => {
    expect(anyAudited()).toBe(true);
    expect(mismatches(await labMatrix(LAB), README)).toEqual([]);

    const podByIp = new Map<string, string>();
    for (const key of [...STAGED, ...DEFAULT]) {
      const ips = podOf(state, key).ips;
      podByIp.set(ips.v4, key);
      if (ips.v6) podByIp.set(ips.v6, key);
    }
    const audited = new Set<string>();
    const allowed = new Set<string>();
    for (const r of readFlowTable(instance)) {
      const self = podByIp.get(r.key.selfAddr);
      const peer = podByIp.get(r.key.peerAddr);
      if (self === undefined || peer === undefined) continue;
      const pair = [self, peer].sort().join(' ');
      if (r.value.verdict === Verdict.AUDIT && r.value.code === DropReason.ISOLATED) audited.add(pair);
      else if (r.value.verdict === Verdict.ALLOWED) allowed.add(pair);
      expect(r.value.verdict, `${self} <-> ${peer}`).not.toBe(Verdict.DROPPED);
    }
    const cut = new Set(STAGED.flatMap((s) => DEFAULT.map((d) => [s, d].sort().join(' '))));
    expect([...audited].sort()).toEqual([...cut].sort());
    // control: the pairs in one network are plain ALLOWED, never AUDIT
    expect([...allowed].sort()).toEqual([[...STAGED].sort().join(' '), [...DEFAULT].sort().join(' ')].sort());
  });

  it('the API: flows --verdict audit, explain says AUDIT and whose audit mode, networks show their mode, status the node setting', async () => {
    const c = client();
    const request = (r: Partial<GetFlowsRequest>): GetFlowsRequest => ({ allow: [], deny: [], last: 0, first: 0, sinceMs: 0, untilMs: 0, follow: false, batchSize: 0, ...r });
    const auditFlows = (await collect(c.getFlows(request({ allow: [{ verdict: ['VERDICT_AUDIT'] }] })))).flatMap(flowsOf);
    expect(auditFlows.length).toBeGreaterThan(0);
    for (const f of auditFlows) {
      expect(f.verdict).toBe('VERDICT_AUDIT');
      expect(['ISOLATED', 'SERVICE_DENIED']).toContain(f.dropReason);
    }
    const staged = (e: { namespace: string }): boolean => e.namespace === 'ns-staged';
    expect(auditFlows.every((f) => staged(f.source) !== staged(f.destination))).toBe(true);

    const ex = await c.unary<ExplainResponse>('state', 'Explain', { source: 'default/pod3', destination: 'ns-staged/pod1', protocol: 'tcp', port: 8080, family: '' });
    expect([ex.verdict, ex.reason]).toEqual(['VERDICT_AUDIT', 'ISOLATED']);
    expect(ex.rule).toContain('network ns-staged/default-podnetwork is in audit mode');
    // control: inside one network, plain ALLOWED
    const same = await c.unary<ExplainResponse>('state', 'Explain', { source: 'default/pod3', destination: 'default/pod4', protocol: 'tcp', port: 8080, family: '' });
    expect([same.verdict, same.reason]).toEqual(['VERDICT_ALLOWED', 'SAME_NETWORK']);

    const nets = await c.unary<ListNetworksResponse>('state', 'ListNetworks', {});
    const mode = new Map(nets.networks.map((n) => [n.name, n.enforcement]));
    expect(mode.get('ns-staged/default-podnetwork')).toBe('audit');
    expect(mode.get('default/default-podnetwork')).toBe('enforce');
    expect((await c.unary<ServerStatusResponse>('state', 'ServerStatus', {})).enforcement).toBe('enforce');
  });

  it('enforce: the namespace is cut off within a second, and a connection opened before the switch stops at its next packet', async () => {
    const pod3 = podOf(state, 'default/pod3');
    const pod1 = podOf(state, 'ns-staged/pod1');
    const PORT = 7411;
    const procs: ChildProcess[] = [];
    const inNetns = (netns: string, script: string): ChildProcess => {
      const p = spawn('ip', ['netns', 'exec', netns, process.execPath, '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
      procs.push(p);
      return p;
    };
    const lines = (p: ChildProcess): (() => Promise<string>) => {
      const queue: string[] = [];
      const waiting: ((l: string) => void)[] = [];
      let buf = '';
      p.stdout!.setEncoding('utf8');
      p.stdout!.on('data', (d: string) => {
        buf += d;
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const l = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const w = waiting.shift();
          if (w) w(l);
          else queue.push(l);
        }
      });
      return () =>
        new Promise((res, rej) => {
          const l = queue.shift();
          if (l !== undefined) return res(l);
          const t = setTimeout(() => rej(new Error('no line from the pod within 10 s')), 10_000);
          waiting.push((x) => {
            clearTimeout(t);
            res(x);
          });
        });
    };
    try {
      // From the default network into the staged namespace: open in audit mode.
      const server = inNetns(pod1.netns, `import net from 'node:net';
        net.createServer((s) => s.on('data', (d) => s.write(d))).listen(${PORT}, '${pod1.ips.v4}', () => console.log('listening'));`);
      expect(await lines(server)()).toBe('listening');
      const client = inNetns(pod3.netns, `import net from 'node:net';
        import readline from 'node:readline';
        const s = net.connect({ host: '${pod1.ips.v4}', port: ${PORT} });
        s.setNoDelay(true);
        const echo = (m) => new Promise((res) => {
          const t = setTimeout(() => res('timeout'), 2000);
          s.once('data', (d) => { clearTimeout(t); res(String(d)); });
          s.write(m);
        });
        s.on('error', (e) => console.log('error ' + e.code));
        s.on('connect', async () => {
          console.log('first ' + (await echo('one')));
          for await (const _ of readline.createInterface({ input: process.stdin })) {
            console.log('again ' + (await echo('two')));
          }
        });`);
      const next = lines(client);
      expect(await next()).toBe('first one'); // control: the connection runs in audit mode
      client.stdin!.write('go\n');
      expect(await next()).toBe('again two'); // and keeps running while audited

      // the annotation's line (the file's comment says "audit" too)
      fs.writeFileSync(nsFile, original.replace(/^( {4}vrfwall\.dev\/enforcement:) audit$/m, '$1 enforce'));
      expect(fs.readFileSync(nsFile, 'utf8')).toMatch(/^ {4}vrfwall\.dev\/enforcement: enforce$/m);
      const ms = await timeUntil(() => !anyAudited(), 1000, 'audit flags gone from the kernel map');
      expect(ms).toBeLessThan(1000);
      console.info(`annotation audit -> enforce: kernel map enforcing in ${ms.toFixed(0)} ms`);
      client.stdin!.write('go\n');
      expect(await next()).toBe('again timeout');

      expect(mismatches(await labMatrix(LAB), ENFORCED_README)).toEqual([]);
    } finally {
      for (const p of procs) p.kill('SIGKILL');
      fs.writeFileSync(nsFile, original);
    }
  });
});
