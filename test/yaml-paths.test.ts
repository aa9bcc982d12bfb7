// The manifest parser reads plain YAML with js-yaml (fast) and everything
// else with the `yaml` package (the reference). Wherever the fast path
// answers, it must give exactly the reference's values.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fastDocuments, fullDocuments } from '../src/sources/yaml.js';

const ROOT = path.resolve(import.meta.dirname, '..');

function yamlFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

/** Scalars where YAML 1.1 and 1.2 readers (and the two libraries) are known to part ways. */
const AWKWARD_SCALARS = [
  'yes', 'no', 'on', 'off', 'y', 'n', 'True', 'TRUE', 'false', '~', 'null', 'Null', '',
  '1_000', '0b101', '0o17', '017', '0x1F', '+12', '-0', '.5', '1e3', '1.0', '.inf', '-.Inf', '.nan', '12:30:00',
  '2026-11-21', '2026-11-21T12:00:00Z', '"quoted"', "'single'", '"1"', '10.244.1.10', 'fd00::1', '8080/TCP',
  'a: b', '"a: b"', 'key=value', '@at', '`tick`', '%percent', '|-', '>', 'text # comment',
  // every first character the fast reading's scalar types look at (documents.ts scalarType)
  'NULL', 'nULL', 'FALSE', 'tRUE', 'f', 'T', '-.5', '+.inf', '.NaN', '.NAN', '+0o7', '-0x1', '9', 'x1', '.', '-', '+',
];

function docFor(value: string): string {
  return [
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    '  name: p',
    '  labels:',
    `    l: ${value}`,
    '  annotations:',
    `    a: ${value}`,
    'spec:',
    `  hostNetwork: ${value}`,
    '  containers:',
    '    - name: c',
    '      ports:',
    `        - containerPort: ${value}`,
    '---',
    `- ${value}`,
    `- {k: ${value}}`,
    '',
  ].join('\n');
}

/**
 * The scalars the fast path must decline (a regex in documents.ts
 * NEEDS_FULL_PARSER sends them to the reference): flow indicators, tags,
 * directives, block scalars, comments and a bare '-'. Every other scalar
 * must take the fast path, so each case asserts something either way.
 */
const DECLINED = new Set(['a: b', '@at', '`tick`', '%percent', '|-', '>', 'text # comment', '-']);

function values(docs: ReturnType<typeof fullDocuments>): unknown[] {
  return docs.map((d) => ('value' in d ? d.value : { error: true }));
}

describe('fast and reference YAML readings agree', () => {
  const files = [...yamlFiles(path.join(ROOT, 'examples')), ...yamlFiles(path.join(ROOT, 'deploy')), ...yamlFiles(path.join(ROOT, 'crds'))];

  it('on every example and deployment manifest of the repository', () => {
    expect(files.length).toBeGreaterThan(10);
    let fast = 0;
    for (const f of files) {
      const text = fs.readFileSync(f, 'utf8');
      const quick = fastDocuments(text);
      if (quick === undefined) {
        // declined (comments, flow style): the reference reads every document of it
        expect(values(fullDocuments(text)).filter((v) => typeof v === 'object' && v !== null && 'error' in v), f).toEqual([]);
        continue;
      }
      fast++;
      expect(values(quick), f).toEqual(values(fullDocuments(text)));
    }
    expect(fast).toBeGreaterThan(0);
    expect(fastDocuments(docFor('8080'))).toBeDefined(); // an ordinary Pod manifest takes the fast path
  });

  it.each(AWKWARD_SCALARS)('on the scalar %j in labels, annotations, booleans, numbers and flow collections', (scalar) => {
    const text = docFor(scalar);
    const quick = fastDocuments(text);
    if (DECLINED.has(scalar)) {
      expect(quick, 'the fast path declines').toBeUndefined();
      // the reference alone reads it: both documents, each a value or a named error
      expect(fullDocuments(text)).toHaveLength(2);
    } else {
      expect(quick, 'the fast path answers').toBeDefined();
      expect(values(quick!)).toEqual(values(fullDocuments(text)));
    }
  });

  it('leaves to the reference what it cannot read the same way', () => {
    const anchors = 'a: &x 1\nb: *x\n';
    const merge = 'base: &b {x: 1}\nd:\n  <<: *b\n';
    const underIndented = 'a: "one\ntwo"\n';
    for (const text of [anchors, merge, underIndented]) expect(fastDocuments(text)).toBeUndefined();
  });
});
