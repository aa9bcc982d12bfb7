// The README comparison examples.test.ts relies on, without a lab: a matrix
// built from the README's own tables matches it, and every missing or wrong
// cell is reported (a cell the lab did not probe is never a pass).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CELL_FIELDS, type Matrix, type MatrixCell } from '../src/lab/protocol.js';
import { mismatches, readmeTable } from './helpers/readme-matrix.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const README = fs.readFileSync(path.join(ROOT, 'examples/cn2-isolated-namespace/README.md'), 'utf8');
const KEYS: Record<string, string> = {
  pod1: 'isolated-namespace-demo/pod1',
  pod2: 'isolated-namespace-demo/pod2',
  pod3: 'non-isolated-namespace-demo/pod3',
  pod4: 'default/pod4',
  'vn1-pod': 'default/vn1-pod',
  'vn2-pod': 'default/vn2-pod',
  'pod4@eth1': 'default/pod4@eth1',
  'vn1-pod@eth1': 'default/vn1-pod@eth1',
  'vn2-pod@eth1': 'default/vn2-pod@eth1',
};

const cell = (open: boolean): MatrixCell => Object.fromEntries(CELL_FIELDS.map((f) => [f, open])) as unknown as MatrixCell;

/** The matrix the README documents, as a lab that behaves as documented would report it. */
function documented(): Matrix {
  const m: Matrix = { pods: {}, services: {}, nodePorts: {}, hostPorts: {}, dns: {} };
  const pods = readmeTable(README, 'pods');
  for (const [from, row] of pods.rows) {
    const src = KEYS[from]!;
    m.pods[src] = {};
    // "–": a pod and its own interfaces, which the lab does not probe.
    for (const [to, v] of row) if (to !== from && v !== '–') m.pods[src]![KEYS[to]!] = cell(v === 'yes');
  }
  const services = readmeTable(README, 'services');
  for (const [from, row] of services.rows) {
    const src = KEYS[from]!;
    m.services[src] = {};
    for (const [col, v] of row) {
      if (col === 'dns') m.dns[src] = v === 'yes';
      else for (const k of [col, `${col}/v6`]) m.services[src]![k] = v === 'yes';
    }
  }
  return m;
}

describe('README matrix comparison', () => {
  it('a matrix as documented has no mismatch', () => {
    expect(Object.keys(documented().pods)).toHaveLength(9);
    expect(mismatches(documented(), README)).toEqual([]);
  });

  it('a missing pod cell is reported, not skipped', () => {
    const m = documented();
    delete m.pods[KEYS.pod1!]![KEYS.pod2!];
    expect(mismatches(m, README)).toEqual(['pod1 -> pod2: not in the matrix']);
  });

  it('a wrong pod cell, a wrong or missing Service probe and a wrong DNS answer are reported', () => {
    const m = documented();
    m.pods[KEYS.pod1!]![KEYS.pod3!]!.udp6 = true;
    m.services[KEYS.pod3!]!['default/web:80/TCP/v6'] = false;
    delete m.services[KEYS.pod4!]!['default/web:80/TCP'];
    m.dns[KEYS.pod2!] = false;
    expect(mismatches(m, README)).toEqual([
      'pod1 -> pod3 udp6: true',
      'pod2 dns: false',
      'pod3 -> default/web:80/TCP/v6: false',
      expect.stringMatching(/^pod4: probed .*; README lists /),
      'pod4 -> default/web:80/TCP: undefined',
    ]);
  });
});

describe('README matrix comparison with secondary interfaces', () => {
  // ns/a@net1 is v4-only, ns/b@v6 v6-only: they share no family (n/a).
  const readme = [
    '<!-- expected: pods -->',
    '| from \\ to | a | a@net1 | b | b@v6 |',
    '|---|---|---|---|---|',
    '| a | · | · | yes | yes |',
    '| a@net1 | · | · | yes | n/a |',
    '| b | yes | no | · | · |',
    '| b@v6 | no | n/a | · | · |',
    '',
    '<!-- expected: services -->',
    '| from \\ to | dns |',
    '|---|---|',
    '| a | yes |',
    '| b | yes |',
    '',
  ].join('\n');
  const fam = (v4: boolean | null, v6: boolean | null): MatrixCell => ({ icmp: v4, tcp: v4, udp: v4, icmp6: v6, tcp6: v6, udp6: v6 });
  const lab = (): Matrix => ({
    pods: {
      'ns/a': { 'ns/b': fam(true, true), 'ns/b@v6': fam(null, true) },
      'ns/a@net1': { 'ns/b': fam(true, null) },
      'ns/b': { 'ns/a': fam(true, true), 'ns/a@net1': fam(false, null) },
      'ns/b@v6': { 'ns/a': fam(null, false) },
    },
    services: { 'ns/a': {}, 'ns/b': {} },
    nodePorts: {},
    hostPorts: {},
    dns: { 'ns/a': true, 'ns/b': true },
  });

  it('compares only the probed families; n/a pairs must have no probe', () => {
    expect(mismatches(lab(), readme)).toEqual([]);
    const m = lab();
    m.pods['ns/b']!['ns/a@net1']!.udp = true;
    m.pods['ns/a@net1']!['ns/b@v6'] = fam(true, null);
    expect(mismatches(m, readme)).toEqual(['a@net1 -> b@v6: README says n/a, but the lab probed it', 'b -> a@net1 udp: true']);
  });

  it('a cell naming protocols ("tcp", "icmp+udp") expects exactly those open, on both families', () => {
    const readme = ['<!-- expected: pods -->', '| from \\ to | p1 | p2 |', '|---|---|---|', '| **p1** | – | tcp |', '| **p2** | icmp+udp | – |', '', '<!-- expected: services -->', '| from \\ to | dns |', '|---|---|', '| p1 | yes |', '| p2 | yes |'].join('\n');
    const only = (...open: string[]): MatrixCell => Object.fromEntries(CELL_FIELDS.map((f) => [f, open.includes(f.replace(/6$/, ''))])) as unknown as MatrixCell;
    const m: Matrix = { pods: { 'a/p1': { 'a/p2': only('tcp') }, 'a/p2': { 'a/p1': only('icmp', 'udp') } }, services: { 'a/p1': {}, 'a/p2': {} }, nodePorts: {}, hostPorts: {}, dns: { 'a/p1': true, 'a/p2': true } };
    expect(mismatches(m, readme)).toEqual([]);
    m.pods['a/p1']!['a/p2'] = { ...only('tcp'), udp6: true };
    m.pods['a/p2']!['a/p1'] = { ...only('icmp', 'udp'), icmp6: false };
    expect(mismatches(m, readme)).toEqual(['p1 -> p2 udp6: true', 'p2 -> p1 icmp6: false']);
  });
});
