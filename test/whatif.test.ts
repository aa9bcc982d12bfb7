// What-if without the kernel: the proposal parsed with the manifest parser
// and upserted over a copy of the state (src/model/proposal.ts), the agent's
// WhatIf over a compiled cluster and its recorded flows (src/api/whatif.ts,
// src/flows/whatif.ts), several agents' answers merged into one per
// conversation (mergeWhatIf), and the CLI's reading of a file or directory.
// The evaluator itself is held to the kernel in verdict-kernel.test.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { compile } from '../src/model/compile.js';
import { ProposalError, applyProposal, parseProposal } from '../src/model/proposal.js';
import type { ClusterConfig, ClusterState, DesiredState } from '../src/model/types.js';
import { emptyAllocation } from '../src/model/vrf.js';
import { ApiError } from '../src/api/flow-service.js';
import { whatIf, type WhatIfSources } from '../src/api/whatif.js';
import { conversationKey, mergeWhatIf } from '../src/flows/whatif.js';
import { VerdictEvaluator, judgeConnection } from '../src/model/verdict.js';
import { ENFORCEMENT_KEY } from '../src/model/enforcement.js';
import type { Flow, FlowEndpoint } from '../src/flows/types.js';
import type { WhatIfResponse } from '../src/api/messages.js';
import { parseWindow, printWhatIf, readManifests } from '../src/cli/whatif.js';
import { cluster, isolatedNs, ns, pod, svc } from './helpers/cluster.js';

const config: ClusterConfig = { nodeName: 'n1', podCIDRs: ['10.244.0.0/16'], serviceCIDRs: ['10.96.0.0/16'] };

const PODS: Record<string, [string, string]> = {
  'default/d1': ['10.244.1.1', 'n1'],
  'default/d2': ['10.244.1.2', 'n2'],
  'team/t1': ['10.244.2.1', 'n1'],
  'team/t2': ['10.244.2.2', 'n2'],
  'iso/i1': ['10.244.3.1', 'n1'],
  'kube-system/dns': ['10.244.9.1', 'n2'],
};

function state(): ClusterState {
  return cluster({
    namespaces: [ns('team', { labels: { owner: 'blue' } }), isolatedNs('iso')],
    nodes: { n1: ['192.168.50.1'], n2: ['192.168.50.2'] },
    pods: Object.entries(PODS).map(([key, [ip, node]]) => pod(key, [ip], { node, labels: key === 'kube-system/dns' ? { app: 'dns' } : {}, ports: key === 'kube-system/dns' ? [{ containerPort: 53, protocol: 'UDP' }] : [] })),
    services: [svc('kube-system/kube-dns', [{ protocol: 'UDP', port: 53, targetPort: 53 }], { clusterIPs: ['10.96.0.10'], selector: { app: 'dns' } })],
  });
}

const NETWORK: Record<string, string> = { default: 'default/default-podnetwork', team: 'default/default-podnetwork', iso: 'iso/default-podnetwork', 'kube-system': 'default/default-podnetwork' };

function ep(who: string, port: number, node: string): FlowEndpoint {
  const p = PODS[who];
  if (p === undefined) return { ip: who, port, namespace: '', pod: '', network: '', node: '', service: who === '10.96.0.10' ? 'kube-system/kube-dns' : '', kind: who === '10.96.0.10' ? 'service' : 'external', interface: '' };
  const [namespace, name] = who.split('/') as [string, string];
  return { ip: p[0], port, namespace, pod: name, network: NETWORK[namespace] ?? '', node: p[1], service: '', kind: 'pod', interface: '' };
}

let seq = 0;
/** A flow record as the agent on `node` keeps it (EGRESS at the sender's interface, INGRESS at the receiver's). */
function rec(node: string, from: string, to: string, dport: number, o: { proto?: number; direction?: 'EGRESS' | 'INGRESS'; packets?: number; ageMs?: number } = {}): Flow {
  const proto = o.proto ?? 6;
  return {
    id: `f${seq++}`,
    node,
    ifindex: 5,
    source: ep(from, 40000 + seq, node),
    destination: ep(to, dport, node),
    protocol: proto,
    protocolName: proto === 6 ? 'tcp' : 'udp',
    ethertype: 0x800,
    direction: o.direction ?? 'EGRESS',
    verdict: 'ALLOWED',
    dropReason: '',
    allowRule: 'SAME_NETWORK',
    code: 1,
    forward: { packets: o.packets ?? 3, bytes: (o.packets ?? 3) * 100, droppedPackets: 0, tcpFlags: 0 },
    reverse: { packets: 2, bytes: 200, droppedPackets: 0, tcpFlags: 0 },
    firstSeenMs: NOW - (o.ageMs ?? 1000),
    lastSeenMs: NOW - (o.ageMs ?? 1000),
  };
}
/** The same conversation as the other end records it. */
const otherEnd = (f: Flow, node: string): Flow => ({ ...f, id: `${f.id}-rx`, node, direction: f.direction === 'EGRESS' ? 'INGRESS' : 'EGRESS', forward: { ...f.forward, packets: 1 } });

const NOW = 1_700_000_000_000;

function sources(node: string, flows: Flow[], s: ClusterState = state()): WhatIfSources & { desired: DesiredState } {
  const desired = compile(s, { ...config, nodeName: node }, new Map(), emptyAllocation());
  return { node, podCIDRs: config.podCIDRs, serviceCIDRs: config.serviceCIDRs, current: () => ({ state: s, desired }), flows: () => flows, now: () => NOW, desired };
}

const ISOLATE_TEAM = { file: 'team.yaml', text: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n  labels:\n    vrfwall.dev/isolated: "true"\n' };
const pairs = (r: WhatIfResponse, kind: string): string[] =>
  r.changes.filter((c) => c.kind === kind).map((c) => `${c.source.namespace}/${c.source.pod || c.source.ip} -> ${c.destination.namespace}/${c.destination.pod || c.destination.ip}:${c.destination.port}`).sort();

describe('the proposal', () => {
  it('parses with the manifest parser; a document that does not parse fails the whole proposal, naming file and reason', () => {
    const ok = parseProposal([ISOLATE_TEAM, { file: 'x.yaml', text: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: team\n' }]);
    expect(ok.applied).toEqual(['Namespace team']);
    expect(ok.notes.join('\n')).toMatch(/x\.yaml#1: Deployment \(apps\/v1\) is not read by vrfwall/);
    expect(() => parseProposal([ISOLATE_TEAM, { file: 'bad.yaml', text: 'kind: Namespace\nmetadata: [unclosed\n' }])).toThrow(ProposalError);
    expect(() => parseProposal([ISOLATE_TEAM, { file: 'bad.yaml', text: 'kind: Namespace\nmetadata: [unclosed\n' }])).toThrow(/^bad\.yaml#1: /);
    expect(() => parseProposal([{ file: 'noname.yaml', text: 'apiVersion: v1\nkind: Namespace\nmetadata: {}\n' }])).toThrow(/noname\.yaml#1/);
    expect(() => parseProposal([{ file: 'empty.yaml', text: '' }])).toThrow(/no object vrfwall reads/);
    const twice = { file: 'b.yaml', text: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n' };
    expect(() => parseProposal([ISOLATE_TEAM, twice])).toThrow(/defined twice/);
  });

  it('upserts over a copy: the given state is unchanged; a replaced pod keeps its node and addresses', () => {
    const s = state();
    const p = parseProposal([ISOLATE_TEAM, { file: 'pod.yaml', text: 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: t1\n  namespace: team\n  labels: {app: x}\nspec:\n  containers: [{name: c, image: i}]\n' }]);
    const next = applyProposal(s, p.objects);
    expect(next.namespaces.get('team')?.metadata.labels).toEqual({ 'vrfwall.dev/isolated': 'true' });
    expect(s.namespaces.get('team')?.metadata.labels).toEqual({ owner: 'blue' });
    expect(next.pods.get('team/t1')?.status.podIPs).toEqual(['10.244.2.1']);
    expect(next.pods.get('team/t1')?.spec.nodeName).toBe('n1');
    expect(next.pods.get('team/t1')?.metadata.labels).toEqual({ app: 'x' });
    expect(s.pods.get('team/t1')?.metadata.labels).toEqual({});
  });
});

describe('WhatIf on one agent', () => {
  const flows = [
    rec('n1', 'default/d1', 'team/t1', 8080), // same node: both ends here
    rec('n2', 'default/d2', 'team/t2', 8080),
    rec('n1', 'team/t1', 'team/t2', 8080), // stays: same network after too
    rec('n1', 'iso/i1', 'default/d1', 8080), // dropped before and after
    rec('n1', 'team/t1', '10.96.0.10', 53, { proto: 17 }), // shared kube-dns: stays
    rec('n1', 'team/t1', '8.8.8.8', 443), // outside: stays
    rec('n2', 'team/t2', 'default/d2', 9999, { ageMs: 3_600_000 }), // an hour ago
  ];
  flows.splice(1, 0, otherEnd(flows[0] as Flow, 'n1'));

  it('isolating a namespace: exactly its conversations with the default network go allowed -> dropped, one per conversation', () => {
    const src = sources('n1', flows);
    const r = whatIf(src, { documents: [ISOLATE_TEAM], windowSeconds: 0 });
    expect(pairs(r, 'ALLOWED_TO_DROPPED')).toEqual(['default/d1 -> team/t1:8080', 'default/d2 -> team/t2:8080', 'team/t2 -> default/d2:9999']);
    expect(pairs(r, 'DROPPED_TO_ALLOWED')).toEqual([]);
    expect(r.conversations).toBe(7); // 8 records, one conversation seen at both ends
    const d1t1 = r.changes.find((c) => c.source.pod === 'd1');
    expect(d1t1).toMatchObject({
      before: { verdict: 'ALLOWED', reason: 'SAME_NETWORK', hook: 'to_pod' },
      after: { verdict: 'DROPPED', reason: 'ISOLATED', hook: 'from_pod' },
      sourceNetworkAfter: 'default/default-podnetwork',
      destinationNetworkAfter: 'team/default-podnetwork',
      packets: 5, // the sender's end's counters (3 + 2), not the receiver's
      nodes: ['n1'],
    });
    expect(r.groups).toEqual([
      expect.objectContaining({ kind: 'ALLOWED_TO_DROPPED', sourceNamespace: 'default', destinationNamespace: 'team', port: 8080, conversations: 2, beforeReason: 'SAME_NETWORK', afterReason: 'ISOLATED' }),
      expect.objectContaining({ kind: 'ALLOWED_TO_DROPPED', sourceNamespace: 'team', destinationNamespace: 'default', port: 9999, conversations: 1 }),
    ]);
    expect(r.applied).toEqual(['Namespace team']);
    // the agent's state is what it was
    expect(src.current()?.state.namespaces.get('team')?.metadata.labels).toEqual({ owner: 'blue' });
  });

  it('under the node-wide audit setting what enforce would cut is "would be AUDIT"', () => {
    const r = whatIf({ ...sources('n1', flows), nodeAudit: true }, { documents: [ISOLATE_TEAM], windowSeconds: 0 });
    expect(pairs(r, 'ALLOWED_TO_AUDIT')).toEqual(['default/d1 -> team/t1:8080', 'default/d2 -> team/t2:8080', 'team/t2 -> default/d2:9999']);
    expect(pairs(r, 'ALLOWED_TO_DROPPED')).toEqual([]);
    // i1 -> d1 (isolated) is AUDIT before and after: no change
    expect(r.changes.some((c) => c.source.namespace === 'iso')).toBe(false);
  });

  it('the window leaves out older conversations; the reverse change is reported as dropped -> allowed', () => {
    const r = whatIf(sources('n1', flows), { documents: [ISOLATE_TEAM], windowSeconds: 600 });
    expect(pairs(r, 'ALLOWED_TO_DROPPED')).toEqual(['default/d1 -> team/t1:8080', 'default/d2 -> team/t2:8080']);
    const open = whatIf(sources('n1', flows), { documents: [{ file: 'iso.yaml', text: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: iso\n' }], windowSeconds: 0 });
    expect(pairs(open, 'DROPPED_TO_ALLOWED')).toEqual(['iso/i1 -> default/d1:8080']);
    expect(pairs(open, 'ALLOWED_TO_DROPPED')).toEqual([]);
  });

  it('a document that does not parse is INVALID_ARGUMENT naming the file; no proposal, no answer', () => {
    const bad = () => whatIf(sources('n1', flows), { documents: [ISOLATE_TEAM, { file: 'broken.yaml', text: 'a: [' }], windowSeconds: 0 });
    expect(bad).toThrow(ApiError);
    expect(bad).toThrow(/broken\.yaml#1: YAML error/);
    try {
      bad();
    } catch (e) {
      expect((e as ApiError).code).toBe(grpc.status.INVALID_ARGUMENT);
    }
    expect(() => whatIf(sources('n1', flows), { documents: [], windowSeconds: 0 })).toThrow(/at least one/);
  });
});

describe('several agents merged', () => {
  it('a conversation seen at the sender’s and the receiver’s node is one change, with both nodes and the sender’s counters', () => {
    const tx = rec('n2', 'default/d2', 'team/t1', 8080, { packets: 7 });
    const rx = otherEnd(tx, 'n1');
    const only1 = rec('n1', 'default/d1', 'team/t1', 8081);
    const a = whatIf(sources('n1', [rx, only1]), { documents: [ISOLATE_TEAM], windowSeconds: 0 });
    const b = whatIf(sources('n2', [tx]), { documents: [ISOLATE_TEAM], windowSeconds: 0 });
    expect(a.changes.find((c) => conversationKey(c) === conversationKey(tx))?.packets).toBe(3); // the receiver's count
    for (const merged of [mergeWhatIf([a, b], 'relay'), mergeWhatIf([b, a], 'relay')]) {
      expect(pairs(merged, 'ALLOWED_TO_DROPPED')).toEqual(['default/d1 -> team/t1:8081', 'default/d2 -> team/t1:8080']);
      const one = merged.changes.find((c) => conversationKey(c) === conversationKey(tx));
      expect(one).toMatchObject({ nodes: ['n1', 'n2'], packets: 9 });
      expect(merged.groups).toEqual([
        expect.objectContaining({ sourceNamespace: 'default', destinationNamespace: 'team', port: 8080, conversations: 1, packets: 9 }),
        expect.objectContaining({ sourceNamespace: 'default', destinationNamespace: 'team', port: 8081, conversations: 1 }),
      ]);
      expect(merged.node).toBe('relay');
    }
    expect(printWhatIf(mergeWhatIf([a, b], 'relay'))).toMatch(/allowed -> DROPPED: 2 conversation\(s\)[\s\S]*default \(default\/default-podnetwork\)\s+team \(default\/default-podnetwork\)\s+8080\/tcp\s+SAME_NETWORK -> ISOLATED/);
  });
});

describe('the CLI’s reading of manifests', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-whatif-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a directory is read recursively (*.yaml, *.yml; hidden entries skipped); a missing path is a ProposalError', async () => {
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'a.yaml'), ISOLATE_TEAM.text);
    fs.writeFileSync(path.join(dir, 'sub', 'b.yml'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: iso\n');
    fs.writeFileSync(path.join(dir, '.hidden.yaml'), 'junk: [');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'junk: [');
    const docs = await readManifests(dir);
    expect(docs.map((d) => path.relative(dir, d.file))).toEqual(['a.yaml', 'sub/b.yml']);
    expect(parseProposal(docs).applied).toEqual(['Namespace iso', 'Namespace team']);
    await expect(readManifests(path.join(dir, 'nope'))).rejects.toThrow(/nope: no such file or directory/);
  });

  it('--window takes 30s, 10m, 2h, 1d', () => {
    expect([parseWindow('30s'), parseWindow('10m'), parseWindow('2h'), parseWindow('1d'), parseWindow('45')]).toEqual([30, 600, 7200, 86400, 45]);
    expect(() => parseWindow('10 minutes')).toThrow(/not a duration/);
    expect(() => parseWindow('0s')).toThrow(/between/);
  });
});

describe('audit mode (issue 19 item 1) in the evaluator and in what-if', () => {
  const audit = { [ENFORCEMENT_KEY]: 'audit' };
  /** default (d1), ns-staged isolated (s1; audited when `staged` says so, external deny), ns-locked isolated and enforced (l1). */
  function staged(stagedAnnotations: Record<string, string>): ClusterState {
    return cluster({
      namespaces: [isolatedNs('ns-staged', { annotations: { ...stagedAnnotations, 'vrfwall.dev/external': 'deny' } }), isolatedNs('ns-locked')],
      nodes: { n1: ['192.168.50.1'] },
      pods: [
        pod('default/d1', ['10.244.0.10'], { labels: { app: 'd' } }),
        pod('ns-staged/s1', ['10.244.1.10'], { labels: { app: 's' } }),
        pod('ns-locked/l1', ['10.244.2.10'], { labels: { app: 'l' } }),
      ],
      services: [svc('ns-staged/api', [{ port: 80, targetPort: 8080 }], { clusterIPs: ['10.96.0.20'], selector: { app: 's' } })],
    });
  }
  const tcp = (src: string, dst: string, dport = 8080) => ({ src, dst, protocol: 6, sport: 40000, dport });

  it('audits ISOLATED between OPEN networks only, SERVICE_DENIED for OPEN clients, EXTERNAL_DENIED of an audited network', () => {
    const ev = new VerdictEvaluator(compile(staged(audit), config, new Map(), emptyAllocation()));
    expect(judgeConnection(ev, tcp('10.244.0.10', '10.244.1.10'))).toMatchObject({ verdict: 'AUDIT', reason: 'ISOLATED' });
    expect(judgeConnection(ev, tcp('10.244.1.10', '10.244.0.10'))).toMatchObject({ verdict: 'AUDIT', reason: 'ISOLATED' });
    expect(judgeConnection(ev, { ...tcp('10.244.0.10', '10.244.1.10'), protocol: 1 })).toMatchObject({ verdict: 'AUDIT', reason: 'ISOLATED' });
    // an audited network never opens into an enforced one, nor the default network into it
    expect(judgeConnection(ev, tcp('10.244.1.10', '10.244.2.10'))).toMatchObject({ verdict: 'DROPPED', reason: 'ISOLATED' });
    expect(judgeConnection(ev, tcp('10.244.0.10', '10.244.2.10'))).toMatchObject({ verdict: 'DROPPED', reason: 'ISOLATED' });
    expect(judgeConnection(ev, tcp('10.244.0.10', '10.96.0.20', 80))).toMatchObject({ verdict: 'AUDIT', reason: 'SERVICE_DENIED', hook: 'from_pod' });
    expect(judgeConnection(ev, tcp('10.244.2.10', '10.96.0.20', 80))).toMatchObject({ verdict: 'DROPPED', reason: 'SERVICE_DENIED' });
    expect(judgeConnection(ev, tcp('10.244.1.10', '8.8.8.8', 443))).toMatchObject({ verdict: 'AUDIT', reason: 'EXTERNAL_DENIED' });
    // positive controls: what passes anyway still passes as ALLOWED
    expect(judgeConnection(ev, tcp('10.244.1.10', '10.96.0.20', 80))).toMatchObject({ verdict: 'ALLOWED' });
    // enforced: the same pairs are drops
    const enforced = new VerdictEvaluator(compile(staged({}), config, new Map(), emptyAllocation()));
    expect(judgeConnection(enforced, tcp('10.244.0.10', '10.244.1.10'))).toMatchObject({ verdict: 'DROPPED', reason: 'ISOLATED' });
    expect(judgeConnection(enforced, tcp('10.244.1.10', '8.8.8.8', 443))).toMatchObject({ verdict: 'DROPPED', reason: 'EXTERNAL_DENIED' });
  });

  it('what-if reports "would be AUDIT" as its own kind, and audit -> enforce as allowed -> dropped', () => {
    // d1 (default) opened a connection to s1 (ns-staged) on 8080
    const base = rec('n1', 'default/d1', 'team/t1', 8080);
    const flows1 = [{ ...base, destination: { ...base.destination, ip: '10.244.1.10', namespace: 'ns-staged', pod: 's1', network: 'ns-staged/default-podnetwork' } }];
    flows1[0]!.source.ip = '10.244.0.10';
    const toAudit = { file: 'staged.yaml', text: `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-staged\n  labels: {vrfwall.dev/isolated: "true"}\n  annotations: {vrfwall.dev/external: deny, ${ENFORCEMENT_KEY}: audit}\n` };
    const toEnforce = { file: 'staged.yaml', text: 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-staged\n  labels: {vrfwall.dev/isolated: "true"}\n  annotations: {vrfwall.dev/external: deny}\n' };
    const fromEnforced = whatIf(sources('n1', flows1, staged({})), { documents: [toAudit], windowSeconds: 0 });
    expect(fromEnforced.changes.map((c) => [c.kind, c.before.verdict, c.after.verdict, c.after.reason])).toEqual([['DROPPED_TO_AUDIT', 'DROPPED', 'AUDIT', 'ISOLATED']]);
    const fromAudit = whatIf(sources('n1', flows1, staged(audit)), { documents: [toEnforce], windowSeconds: 0 });
    expect(fromAudit.changes.map((c) => [c.kind, c.before.verdict, c.after.verdict])).toEqual([['ALLOWED_TO_DROPPED', 'AUDIT', 'DROPPED']]);
    expect(printWhatIf(fromEnforced)).toMatch(/dropped -> AUDIT \(passes in audit mode\): 1 conversation/);
  });
});
