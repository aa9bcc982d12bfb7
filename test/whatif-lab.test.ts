// What-if end to end on the real kernel (issue 19 items 2 and 3), lab wif1
// with 2 nodes: the full matrix run so every pair has flow history, then
// `vrfwall what-if --lab` (CLI -> the lab's relay -> both agents) with a
// change; then the same change made in the lab's manifests and the matrix run
// again: the cells what-if predicted allowed -> dropped must be exactly the
// cells the new matrix blocks and the old one allowed, and nothing else may
// change. Two changes: isolating the namespace of
// examples/cn2-isolated-namespace that has no isolation label, and switching
// examples/staged-isolation's audited namespace to enforce (its conversations
// pass as AUDIT before). what-if itself writes nothing: the agents' policy
// maps, read back from the kernel, are the same before and after each call
// (a manifest that does not parse: exit 2, nothing sent).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, socketOf } from '../src/api/client.js';
import type { ListNetworksResponse, WhatIfChangeMsg, WhatIfResponse } from '../src/api/messages.js';
import { labDown, labMatrix, labUp } from '../src/lab/lab.js';
import { servicesFile } from '../src/lab/names.js';
import { CELL_FIELDS, serviceProbeKey, type Matrix } from '../src/lab/protocol.js';
import type { LabServicesFile } from '../src/lab/services.js';
import type { LabState } from '../src/lab/state.js';
import { MapName } from '../src/kernel/abi.js';
import { ROOT, readPinnedMap } from './helpers/lab.js';
import { ensureBuilt } from './helpers/build.js';
import { EXAMPLE } from './helpers/cn2-example.js';
import { freshTmpDir } from './helpers/manifests.js';

const run = promisify(execFile);
const LAB = 'wif1';
const MAIN = path.join(ROOT, 'dist/cli/main.js');
/** The policy maps what-if must not touch. */
const POLICY_MAPS = [MapName.endpoints, MapName.vrfPairs, MapName.networks, MapName.cidrs, MapName.services, MapName.backends, MapName.ports];

let tmp: string;
let labDir: string;
let state: LabState;

function policyMaps(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const a of state.agents) for (const m of POLICY_MAPS) out[`${a.node}/${m}`] = readPinnedMap(a.instance, m).map((e) => `${e.key.toString('hex')}=${e.value.toString('hex')}`).sort();
  return out;
}

async function whatIfCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [MAIN, 'what-if', '--lab', LAB, ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** Every probed cell of a matrix that passed, as "pod src -> dst field" and "svc src -> row". */
function openCells(m: Matrix): Set<string> {
  const out = new Set<string>();
  for (const [src, row] of Object.entries(m.pods)) for (const [dst, cell] of Object.entries(row)) for (const f of CELL_FIELDS) if (cell[f] === true) out.add(`pod ${src} -> ${dst} ${f}`);
  for (const [src, row] of Object.entries(m.services)) for (const [key, ok] of Object.entries(row)) if (ok) out.add(`svc ${src} -> ${key}`);
  return out;
}

function probedCells(m: Matrix): Set<string> {
  const out = new Set<string>();
  for (const [src, row] of Object.entries(m.pods)) for (const [dst, cell] of Object.entries(row)) for (const f of CELL_FIELDS) if (cell[f] !== null) out.add(`pod ${src} -> ${dst} ${f}`);
  for (const [src, row] of Object.entries(m.services)) for (const key of Object.keys(row)) out.add(`svc ${src} -> ${key}`);
  return out;
}

const isIcmp = (cell: string): boolean => / icmp6?$/.test(cell);

/** Cells with ICMP ones as unordered pairs ("pod a <-> b icmp"), sorted. */
function pairwise(cells: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const c of cells) {
    const m = /^pod (\S+) -> (\S+) (icmp6?)$/.exec(c);
    out.add(m ? `pod ${[m[1], m[2]].sort().join(' <-> ')} ${m[3]}` : c);
  }
  return [...out].sort();
}

const keyOf = (e: WhatIfChangeMsg['source']): string => `${e.namespace}/${e.pod}${e.interface ? `@${e.interface}` : ''}`;
const v6 = (ip: string): boolean => ip.includes(':');
const FIELD: Record<number, [string, string]> = { 1: ['icmp', 'icmp6'], 58: ['icmp', 'icmp6'], 6: ['tcp', 'tcp6'], 17: ['udp', 'udp6'] };
const PROTO: Record<number, string> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

/**
 * The matrix cells a change stands for. A pod -> pod change on the matrix's
 * port or ICMP is a pod cell; one to a ClusterIP is that Service's row; one to
 * a backend on its target port is the receiver's half of a Service probe
 * (after the lab kube-proxy's DNAT): that Service's row for the same source.
 */
function cellsOf(c: WhatIfChangeMsg, services: LabServicesFile, probePort: number): string[] {
  const fam = v6(c.destination.ip) ? 1 : 0;
  if (c.destination.kind === 'service') {
    const svc = services.services.find((s) => s.key === c.destination.service);
    return svc ? [`svc ${keyOf(c.source)} -> ${serviceProbeKey(svc.key, c.destination.port, PROTO[c.protocol] ?? '?', fam === 1)}`] : [`unmapped ${JSON.stringify(c)}`];
  }
  const field = FIELD[c.protocol]?.[fam];
  if (c.destination.kind === 'pod' && field && (c.protocol === 1 || c.protocol === 58 || c.destination.port === probePort)) {
    return [`pod ${keyOf(c.source)} -> ${keyOf(c.destination)} ${field}`];
  }
  const rows: string[] = [];
  for (const s of services.services) {
    for (const p of s.ports) {
      if (p.protocol !== PROTO[c.protocol]) continue;
      for (const b of p.backends) if (b.ip === c.destination.ip && b.port === c.destination.port) rows.push(`svc ${keyOf(c.source)} -> ${serviceProbeKey(s.key, p.port, p.protocol, fam === 1)}`);
    }
  }
  return rows.length > 0 ? rows : [`unmapped ${JSON.stringify(c)}`];
}

/** A lab of a copy of `example` (its files may then be edited), taken down after the block. */
function labOf(example: string): void {
  beforeAll(async () => {
    ensureBuilt();
    await labDown(LAB);
    tmp = await freshTmpDir('vrfwall-wif1-'); // leftovers of a killed run removed
    labDir = path.join(tmp, 'manifests');
    fs.cpSync(example, labDir, { recursive: true });
    state = await labUp(labDir, { lab: LAB, nodes: 2, log: () => undefined });
  }, 120_000);
  afterAll(async () => {
    await labDown(LAB);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }, 60_000);
}

/** Until every agent's synced state satisfies `ready` (its network list comes from it). */
async function untilAgents(ready: (nets: ListNetworksResponse['networks']) => boolean): Promise<void> {
  for (const a of state.agents) {
    const agent = new AgentClient({ label: a.node, address: `unix:${socketOf(a.instance)}`, creds: grpc.credentials.createInsecure() });
    try {
      let ok = false;
      const t0 = Date.now();
      while (!ok && Date.now() - t0 < 20_000) {
        ok = ready((await agent.unary<ListNetworksResponse>('state', 'ListNetworks', {})).networks);
        if (!ok) await new Promise((res) => setTimeout(res, 200));
      }
      expect(ok, `${a.node}: the change is compiled`).toBe(true);
    } finally {
      agent.close();
    }
  }
}

interface Scenario {
  /** the proposal's file text */
  proposal: string;
  /** the same change made in the lab's manifests */
  apply(): void;
  /** the agents have compiled it */
  applied(nets: ListNetworksResponse['networks']): boolean;
  /** the namespace the change is about: every change touches it */
  namespace: string;
  /** the verdict the changed conversations have now */
  beforeVerdict: 'ALLOWED' | 'AUDIT';
  /** some changed conversation runs between the two nodes (the relay merges its two ends) */
  crossNode: boolean;
}

/** what-if, then the change for real: the prediction against the two matrices. */
async function predictThenApply(sc: Scenario): Promise<WhatIfResponse> {
  const before = await labMatrix(LAB);
  const services = JSON.parse(fs.readFileSync(servicesFile(LAB), 'utf8')) as LabServicesFile;
  const proposal = path.join(tmp, 'proposal.yaml');
  fs.writeFileSync(proposal, sc.proposal);

  const maps0 = policyMaps();
  const out = await whatIfCli('-o', 'json', proposal);
  expect(out.stderr).toBe('');
  expect(out.code).toBe(0);
  const r = JSON.parse(out.stdout) as WhatIfResponse;
  expect(policyMaps()).toEqual(maps0); // what-if wrote nothing
  expect(r.nodes?.answered).toEqual(['node1', 'node2']); // through the lab's relay, every node
  // a conversation between the nodes was seen at both ends: one change, both nodes
  const keys = r.changes.map((c) => `${c.protocol}|${c.source.ip}|${c.source.port}|${c.destination.ip}|${c.destination.port}`);
  expect(new Set(keys).size).toBe(keys.length);
  if (sc.crossNode) expect(r.changes.some((c) => c.nodes.length === 2)).toBe(true);
  expect(r.applied).toEqual([`Namespace ${sc.namespace}`]);
  expect(r.changes.filter((c) => c.kind !== 'ALLOWED_TO_DROPPED' || c.before.verdict !== sc.beforeVerdict)).toEqual([]);
  expect(r.changes.length).toBeGreaterThan(0);
  const predicted = new Set(r.changes.flatMap((c) => cellsOf(c, services, 8080)));
  expect([...predicted].filter((x) => x.startsWith('unmapped'))).toEqual([]);
  for (const c of r.changes) expect([c.source.namespace, c.destination.namespace]).toContain(sc.namespace);

  sc.apply();
  await untilAgents(sc.applied);
  const after = await labMatrix(LAB);
  expect(probedCells(after)).toEqual(probedCells(before)); // the same cells were probed
  const was = openCells(before);
  const now = openCells(after);
  const lost = [...was].filter((x) => !now.has(x)).sort();
  const gained = [...now].filter((x) => !was.has(x)).sort();
  expect(gained).toEqual([]);
  expect(lost.length).toBeGreaterThan(0);
  // ICMP has no ports: the flow table keeps one record per pair of addresses
  // (oriented by whoever pinged first), so an ICMP change stands for the pair.
  expect(pairwise(predicted)).toEqual(pairwise(lost));
  // and every other prediction is per direction, exactly
  expect([...predicted].filter((x) => !isIcmp(x)).sort()).toEqual(lost.filter((x) => !isIcmp(x)));
  return r;
}

const TARGET_NS = 'non-isolated-namespace-demo';

describe('what-if in the lab: isolating a namespace (examples/cn2-isolated-namespace)', () => {
  labOf(EXAMPLE);

  it('predicts exactly the cells the matrix loses when the namespace is isolated, and writes nothing', async () => {
    // positive control: the namespace to isolate is open to the default network now
    expect((await labMatrix(LAB)).pods[`${TARGET_NS}/pod3`]?.['default/pod4']?.tcp).toBe(true);
    const proposal = `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${TARGET_NS}\n  labels:\n    vrfwall.dev/isolated: "true"\n`;
    const nsFile = path.join(labDir, `${TARGET_NS}.yaml`);
    // the table output names the group and its reasons
    fs.writeFileSync(path.join(tmp, 'isolate.yaml'), proposal);
    const table = await whatIfCli(path.join(tmp, 'isolate.yaml'));
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/allowed -> DROPPED: \d+ conversation\(s\)/);
    expect(table.stdout).toMatch(/SAME_NETWORK -> ISOLATED/);
    expect(table.stdout).toMatch(/summary: \d+ conversation\(s\) replayed; \d+ allowed -> dropped, 0 dropped -> allowed/);
    const r = await predictThenApply({
      proposal,
      namespace: TARGET_NS,
      beforeVerdict: 'ALLOWED',
      crossNode: true,
      apply: () => {
        const text = fs.readFileSync(nsFile, 'utf8');
        fs.writeFileSync(nsFile, text.replace(`name: ${TARGET_NS}\n`, `name: ${TARGET_NS}\n  labels:\n    vrfwall.dev/isolated: "true"\n`));
      },
      applied: (nets) => nets.some((n) => n.name === `${TARGET_NS}/default-podnetwork`),
    });
    // it says where the namespace's pods go
    expect(r.changes.some((c) => c.source.namespace === TARGET_NS && c.sourceNetworkAfter === `${TARGET_NS}/default-podnetwork`)).toBe(true);
  }, 180_000);

  it('a manifest that does not parse: exit 2 with "file: reason", nothing sent, the maps unchanged', async () => {
    const bad = path.join(tmp, 'bad.yaml');
    fs.writeFileSync(bad, 'apiVersion: v1\nkind: Namespace\nmetadata: [unclosed\n');
    const maps0 = policyMaps();
    const out = await whatIfCli(bad);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(`${bad}#1: YAML error`);
    expect(out.stdout).toBe('');
    expect(policyMaps()).toEqual(maps0);
    // positive control: the same call with a good file answers
    const good = path.join(tmp, 'good.yaml');
    fs.writeFileSync(good, 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n');
    const ok = await whatIfCli('-o', 'json', good);
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as WhatIfResponse).applied).toEqual(['Namespace default']);
  }, 60_000);
});

describe('what-if in the lab: audit to enforce (examples/staged-isolation)', () => {
  labOf(path.join(ROOT, 'examples/staged-isolation'));

  it('the conversations that pass as AUDIT now and that enforce cuts: exactly the cells the enforced matrix loses', async () => {
    const nsFile = path.join(labDir, 'ns-staged.yaml');
    const text = fs.readFileSync(nsFile, 'utf8');
    const line = /^(\s+vrfwall\.dev\/enforcement:) audit$/m; // the annotation, not the comment that names it
    expect(text).toMatch(line);
    const nsDoc = text.split(/^---$/m)[0] as string;
    const r = await predictThenApply({
      proposal: nsDoc.replace(line, '$1 enforce'),
      namespace: 'ns-staged',
      beforeVerdict: 'AUDIT',
      crossNode: false,
      apply: () => fs.writeFileSync(nsFile, text.replace(line, '$1 enforce')),
      applied: (nets) => nets.some((n) => n.name === 'ns-staged/default-podnetwork' && n.enforcement === 'enforce'),
    });
    // audit recorded the reason enforce now gives
    for (const c of r.changes) expect(['ISOLATED', 'SERVICE_DENIED']).toContain(c.after.reason);
    for (const c of r.changes) expect(c.before.reason).toBe(c.after.reason);
    expect(r.changes.some((c) => c.after.reason === 'ISOLATED')).toBe(true);
  }, 180_000);
});
