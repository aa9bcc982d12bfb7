// The relay in a real lab (2 nodes, real agents on the real kernel): `lab up`
// starts it in node1's namespace in front of both agents' mutual-TLS
// listeners. Through the CLI as a user runs it: `flows --server <relay>`
// (inside node1's namespace, with the lab's client certificate) shows flows
// of both nodes with their node; `status` lists both nodes; `--lab` goes
// through the relay; an agent killed is reported as not answering while the
// other node's flows still come; an agent whose certificate is of another CA
// is refused with a TLS error while the rest keeps working; the agents' own
// certificate (on every node) opens neither another node's agent nor the relay.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlowMsg } from '../src/api/messages.js';
import { agentSpecs, launchAgent, waitAgentsReady } from '../src/lab/agents.js';
import { labDown, labMatrix, labUp } from '../src/lab/lab.js';
import { netnsPath } from '../src/lab/names.js';
import { isAlive } from '../src/lab/procs.js';
import { AGENT_CERT_NAME, agentApiAddress, labTls, relaySocket } from '../src/lab/relay.js';
import type { LabState } from '../src/lab/state.js';
import { ROOT, timeUntil } from './helpers/lab.js';

const LAB = 'relay1';
const EXAMPLE = path.join(ROOT, 'examples/cn2-isolated-namespace');
const CLI = path.join(ROOT, 'dist/cli/main.js');

let state: LabState;
const extraPids: number[] = [];

/** The CLI in node1's namespace, against the relay's TLS address: as a user next to the relay would run it. */
function viaServer(args: string[], server = state.relay!.listen, role: 'client' | 'agent' = 'client'): { status: number | null; stdout: string; stderr: string } {
  const t = labTls(LAB);
  const r = spawnSync(
    'nsenter',
    [`--net=${netnsPath(state.plan.nodes[0]!.netns)}`, '--', process.execPath, CLI, ...args, '--server', server, '--tls-cert', t[role].cert, '--tls-key', t[role].key, '--tls-ca', t.ca],
    { encoding: 'utf8', timeout: 30_000 },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * grpc.health.v1 Check on an agent's TCP listener from node1's namespace, with a lab certificate, checking the
 * agent's name as the relay does (the CLI has no server-name option, and the agents' certificate has no IP).
 */
function agentHealth(address: string, role: 'client' | 'agent'): string {
  const t = labTls(LAB);
  const script = `
    const grpc = require('@grpc/grpc-js'); const fs = require('fs'); const [addr, ca, key, cert, name] = process.argv.slice(1);
    const c = new grpc.Client(addr, grpc.credentials.createSsl(fs.readFileSync(ca), fs.readFileSync(key), fs.readFileSync(cert)), { 'grpc.ssl_target_name_override': name });
    c.makeUnaryRequest('/grpc.health.v1.Health/Check', (b) => b, (b) => b, Buffer.alloc(0), { deadline: Date.now() + 10000 }, (e) => { console.log(e ? 'ERR ' + e.code + ' ' + e.details : 'OK'); c.close(); });`;
  const r = spawnSync('nsenter', [`--net=${netnsPath(state.plan.nodes[0]!.netns)}`, '--', process.execPath, '-e', script, address, t.ca, t[role].key, t[role].cert, AGENT_CERT_NAME], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return r.stdout.trim() || r.stderr;
}

const flowsJson = (out: string): FlowMsg[] =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as FlowMsg);

beforeAll(async () => {
  await labDown(LAB);
  state = await labUp(EXAMPLE, { lab: LAB, nodes: 2, log: () => undefined });
  // traffic on both nodes: allowed and isolated pairs, within and across nodes
  await labMatrix(LAB, { timeoutMs: 500 });
}, 120_000);

afterAll(async () => {
  for (const pid of extraPids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await labDown(LAB);
}, 60_000);

describe('relay in a two-node lab', () => {
  it('lab up starts it: a unix socket for --lab and a mutual-TLS listener in node1', () => {
    expect(state.relay).toBeDefined();
    expect(fs.statSync(relaySocket(LAB)).isSocket()).toBe(true);
    expect(state.relay!.listen).toMatch(/^10\.244\.1\.1:9445$/);
  });

  it("from node1, the agents' certificate (every node holds it) opens neither node2's agent nor the relay; the lab's client certificate opens both", () => {
    const agent2 = agentApiAddress(state.plan.nodes[1]!);
    // positive controls: the operator's (lab client) certificate, to node2's agent and to the relay
    expect(agentHealth(agent2, 'client')).toBe('OK');
    expect(viaServer(['status']).status).toBe(0);
    for (let i = 0; i < 2; i++) expect(agentHealth(agent2, 'agent')).toMatch(/^ERR 7 client not allowed: .*"vrfwall-agent", the agents' own identity/); // 7: PERMISSION_DENIED
    // node2's agent logged it once (per certificate), naming it
    const logFile = agentSpecs(state.plan, state.manifests).find((x) => x.node === 'node2')!.logFile;
    const refusals = fs.readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes('client refused'));
    expect(refusals).toHaveLength(1);
    expect(JSON.parse(refusals[0]!)).toMatchObject({ level: 40, names: ['vrfwall-agent'] });
    const viaRelay = viaServer(['flows', '-o', 'json'], state.relay!.listen, 'agent');
    expect(viaRelay.status).not.toBe(0);
    expect(viaRelay.stderr).toMatch(/agents' own identity/);
  });

  it('flows --server <relay> shows the flows of both nodes, each with its node; status lists both nodes', () => {
    const f = viaServer(['flows', '-o', 'json']);
    expect(f.status, f.stderr).toBe(0);
    const flows = flowsJson(f.stdout);
    expect(new Set(flows.map((x) => x.node))).toEqual(new Set(['node1', 'node2']));
    // in time order over both nodes
    expect(flows.map((x) => x.lastSeenMs)).toEqual([...flows.map((x) => x.lastSeenMs)].sort((a, b) => a - b));
    // an isolated pod's drops are there, with the node that saw them
    const isolated = flows.filter((x) => x.dropReason === 'ISOLATED');
    expect(isolated.length).toBeGreaterThan(0);
    expect(isolated.every((x) => x.node === 'node1' || x.node === 'node2')).toBe(true);
    expect(f.stderr).toContain('nodes answered: node1, node2');
    const table = viaServer(['flows', '--verdict', 'dropped']);
    expect(table.stdout).toMatch(/^LAST SEEN\s+NODE\s+SOURCE/m);
    expect(table.stdout).toMatch(/node2\s+isolated-namespace-demo\/pod1/);

    const s = viaServer(['status']);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^relay relay: .*on 2 node\(s\)/m);
    expect(s.stdout).toMatch(/^node node1: version .*synced/m);
    expect(s.stdout).toMatch(/^node node2: version .*synced/m);
  });

  it('--lab goes through the relay; explain asks the nodes that host the pair', () => {
    const s = spawnSync(process.execPath, [CLI, 'status', '--lab', LAB], { encoding: 'utf8' });
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^relay relay:/m);
    expect(s.stdout).toContain('nodes answered: node1, node2');
    // pod1 is on node2, pod4 on node1 (round robin): both hooks, both nodes
    const e = spawnSync(process.execPath, [CLI, 'explain', '--lab', LAB, 'isolated-namespace-demo/pod1', 'default/pod4', '--port', '8080'], { encoding: 'utf8' });
    expect(e.status, e.stderr).toBe(3);
    expect(e.stdout).toMatch(/DROPPED \(ISOLATED\)/);
    expect(e.stdout).toContain('decided on from_pod@node2, to_pod@node1');
    // totals per group over both nodes (issue 15 item 4)
    const agg = spawnSync(process.execPath, [CLI, 'flows', '--lab', LAB, '--aggregate-by', 'namespace,verdict', '--exclude', 'protocol=icmpv6'], { encoding: 'utf8' });
    expect(agg.status, agg.stderr).toBe(0);
    expect(agg.stdout).toMatch(/^NAMESPACE\s+VERDICT\s+FLOWS\s+PACKETS\s+BYTES\s+DROPPED PKTS$/m);
    expect(agg.stdout).toMatch(/^isolated-namespace-demo -> default\s+DROPPED\s+\d+\s+\d+\s+\d+\s+[1-9]\d*$/m);
    expect(agg.stdout).toMatch(/^default -> non-isolated-namespace-demo\s+ALLOWED\s/m);
    expect(agg.stdout).toMatch(/^total: \d+ flows, \d+ packets, \d+ bytes, \d+ dropped packets$/m);
    expect(agg.stderr).toContain('nodes answered: node1, node2');
    // --node still asks that node's agent
    const one = spawnSync(process.execPath, [CLI, 'status', '--lab', LAB, '--node', 'node2'], { encoding: 'utf8' });
    expect(one.stdout).toMatch(/^node node2:/m);
    expect(one.stdout).not.toMatch(/relay/);
  });

  it("an agent killed: answers say node2 did not answer, node1's flows still come; a certificate of another CA is refused", async () => {
    const agent2 = state.agents.find((a) => a.node === 'node2')!;
    process.kill(agent2.pid, 'SIGKILL');
    await timeUntil(() => !isAlive(agent2.pid), 5000, 'node2 agent exit');

    const f = viaServer(['flows', '-o', 'json']);
    expect(f.status, f.stderr).toBe(0);
    const flows = flowsJson(f.stdout);
    expect(flows.length).toBeGreaterThan(0);
    expect(new Set(flows.map((x) => x.node))).toEqual(new Set(['node1']));
    expect(f.stderr).toMatch(/nodes answered: node1; did NOT answer: node2 \(UNAVAILABLE: .*ECONNREFUSED/);
    const s = viaServer(['status']);
    expect(s.stdout).toMatch(/did NOT answer: node2/);
    expect(s.stdout).toMatch(/^node node1: /m);

    // node2's agent again, with a certificate of another CA (its pins are still there: it adopts them)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-relay-lab-'));
    try {
      const ossl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
      const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
      ossl(['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=other CA', '-keyout', 'ca.key', '-out', 'ca.crt']);
      ossl(['req', ...ec, '-subj', '/CN=impostor', '-keyout', 'agent.key', '-out', 'agent.csr']);
      fs.writeFileSync(path.join(dir, 'agent.ext'), `subjectAltName=DNS:${AGENT_CERT_NAME}\n`);
      ossl(['x509', '-req', '-in', 'agent.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'agent.ext', '-out', 'agent.crt']);
      const spec = agentSpecs(state.plan, state.manifests).find((x) => x.node === 'node2')!;
      const apiArgs = ['--grpc-listen', spec.apiArgs![1]!, '--grpc-tls-cert', path.join(dir, 'agent.crt'), '--grpc-tls-key', path.join(dir, 'agent.key'), '--grpc-tls-ca', labTls(LAB).ca];
      const pid = launchAgent({ ...spec, apiArgs });
      extraPids.push(pid);
      await waitAgentsReady([{ spec, pid }], 30_000);

      // the relay's channel to node2 retries within 5 s (src/relay/agents.ts)
      let g = viaServer(['flows', '-o', 'json']);
      for (let i = 0; i < 20 && /ECONNREFUSED/.test(g.stderr); i++) {
        await new Promise((r) => setTimeout(r, 500));
        g = viaServer(['flows', '-o', 'json']);
      }
      expect(g.status, g.stderr).toBe(0);
      expect(g.stderr).toMatch(/nodes answered: node1; did NOT answer: node2 \(TLS refused: /);
      expect(new Set(flowsJson(g.stdout).map((x) => x.node))).toEqual(new Set(['node1']));
      // positive control: node2's agent itself answers on its unix socket
      const direct = spawnSync(process.execPath, [CLI, 'status', '--lab', LAB, '--node', 'node2'], { encoding: 'utf8' });
      expect(direct.stdout).toMatch(/^node node2: .*synced/m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
