// The lab's side of NetworkPolicy, without a lab: manifests with policies read
// without a warning (the policies are the agents' business, the lab passes the
// directory on as it is), SCTP container ports planned for the responder's
// SCTP receiver, and the port-probe syntax of `lab matrix --ports`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLabManifests } from '../src/lab/manifests.js';
import { planLab } from '../src/lab/plan.js';
import { parsePortProbe, portProbeKey } from '../src/lab/protocol.js';
import { gridManifests } from './helpers/netpol-grid.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-nplm-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('NetworkPolicy in lab manifests', () => {
  it('examples/network-policy: four pods, no warning about its policies', () => {
    const m = readLabManifests(path.join(ROOT, 'examples/network-policy'));
    expect(m.warnings).toEqual([]);
    expect(m.pods.map((p) => `${p.key}:${p.ports.map((x) => x.port).join(',')}`)).toEqual([
      'default/visitor:',
      'shop/backend:8080',
      'shop/db:5432',
      'shop/frontend:80',
    ]);
    expect(m.services).toEqual(['shop/backend']);
    // control: a broken document in the same directory is warned about
    const dir = path.join(tmp, 'np');
    fs.cpSync(path.join(ROOT, 'examples/network-policy'), dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: shop}\nspec: {containers: 7}\n');
    expect(readLabManifests(dir).warnings.map((w) => path.basename(w.source))).toEqual(['broken.yaml#1']);
  });

  it("the conformance grid: every pod's SCTP ports go to its responder, TCP/UDP probes on 80", () => {
    const dir = path.join(tmp, 'grid');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'grid.yaml'), gridManifests({ namespaceLabels: { z: { 'vrfwall.dev/isolated': 'true' } } }));
    fs.writeFileSync(
      path.join(dir, 'policies.yaml'),
      JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny', namespace: 'x' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } }),
    );
    const m = readLabManifests(dir);
    expect(m.warnings).toEqual([]);
    expect(m.pods).toHaveLength(9);
    const plan = planLab('nplm', 2, m.pods);
    for (const p of plan.pods) {
      expect(p.ports).toEqual([80, 81]);
      expect(p.sctpPorts).toEqual([80, 81]);
      expect(p.probe).toEqual({ tcp: 80, udp: 80 });
    }
    expect(new Set(plan.pods.map((p) => p.node))).toEqual(new Set(['node1', 'node2']));
    // a pod without SCTP ports has no SCTP receiver
    expect(planLab('nplm', 1, readLabManifests(path.join(ROOT, 'examples/network-policy')).pods).pods.every((p) => p.sctpPorts === undefined)).toBe(true);
  });

  it('port probes: tcp/80, UDP/81, sctp/80; anything else is refused', () => {
    expect(['tcp/80', 'UDP/81', ' sctp/80 '].map(parsePortProbe).map(portProbeKey)).toEqual(['TCP/80', 'UDP/81', 'SCTP/80']);
    for (const bad of ['icmp/1', 'tcp/0', 'tcp/65536', 'tcp', '80', 'tcp/8x']) expect(() => parsePortProbe(bad), bad).toThrow(/port probe/);
  });
});
