// Every "design section N" (and "... rule M") that code, tests and docs cite
// resolves to docs/contract.md: section N is one of its numbered sections and
// rule M a numbered item of that section. No reference to the contract outside
// the repository is left.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const CONTRACT = path.join(ROOT, 'docs/contract.md');
const SKIP = new Set(['node_modules', 'dist', 'build', '.git']);
const TEXT = /\.(ts|mts|mjs|js|c|h|cc|md|ya?ml|proto|py|sh|json)$|^(Makefile|Dockerfile|Containerfile)$/;

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (SKIP.has(e.name)) return [];
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return files(p);
    return TEXT.test(e.name) ? [p] : [];
  });
}

/** Section number -> the numbers of its rules (its top-level numbered items). */
export function contractSections(text: string): Map<number, Set<number>> {
  const out = new Map<number, Set<number>>();
  let current: Set<number> | undefined;
  for (const line of text.split('\n')) {
    const h = /^## (\d+)\. /.exec(line);
    if (h) out.set(Number(h[1]), (current = new Set()));
    const rule = /^(\d+)\. /.exec(line);
    if (rule && current) current.add(Number(rule[1]));
  }
  return out;
}

export interface ContractRef {
  file: string;
  text: string;
  sections: number[];
  rules: number[];
}

/** The references in a file's text; comment markers at line starts are joined away first (a reference may wrap). */
export function contractRefs(file: string, text: string): ContractRef[] {
  const flat = text.replace(/\n[ \t]*(?:\/\/|\*|#|<!--)?[ \t]*/g, ' ');
  const re = /\bdesign(?:\.md)? sections? (\d+)(?: (?:to|and) (\d+))?(?:,? rules? (\d+(?:(?:, | and |, and )\d+)*))?/gi;
  const out: ContractRef[] = [];
  for (const m of flat.matchAll(re)) {
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    const sections = Array.from({ length: Math.max(1, to - from + 1) }, (_, i) => from + i);
    const rules = m[3] === undefined ? [] : m[3].split(/, and |, | and /).map(Number);
    out.push({ file: path.relative(ROOT, file), text: m[0], sections, rules });
  }
  return out;
}

function unresolved(refs: ContractRef[], sections: Map<number, Set<number>>): string[] {
  const bad: string[] = [];
  for (const r of refs) {
    for (const s of r.sections) if (!sections.has(s)) bad.push(`${r.file}: "${r.text}": no section ${s}`);
    for (const rule of r.rules) if (!sections.get(r.sections[0]!)?.has(rule)) bad.push(`${r.file}: "${r.text}": no rule ${rule} in section ${r.sections[0]}`);
  }
  return bad;
}

describe('references to the behaviour contract', () => {
  const sections = contractSections(fs.readFileSync(CONTRACT, 'utf8'));
  const all = files(ROOT).filter((f) => f !== CONTRACT && f !== import.meta.filename); // this file holds bad examples on purpose

  it('the contract has sections 1 to 6, and the rules sections 2 and 3 are cited by', () => {
    expect([...sections.keys()]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...sections.get(2)!]).toEqual([1, 2, 3, 4]);
    expect([...sections.get(3)!]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('every "design section N [rule M]" in the repository names a section (and rule) of docs/contract.md', () => {
    const refs = all.flatMap((f) => contractRefs(f, fs.readFileSync(f, 'utf8')));
    expect(refs.length).toBeGreaterThan(40); // they are found (code, tests, docs, BPF headers, CRDs)
    expect(new Set(refs.map((r) => r.file.split(path.sep)[0])).size).toBeGreaterThan(4);
    expect(unresolved(refs, sections)).toEqual([]);
  });

  it('nothing points at the contract outside the repository', () => {
    const outside = all.filter((f) => /shared\/design\.md/.test(fs.readFileSync(f, 'utf8'))).map((f) => path.relative(ROOT, f));
    expect(outside).toEqual([]);
  });

  it('the check itself: wrapped references are read; a missing section or rule is reported', () => {
    const refs = contractRefs('x.ts', '// ... (design section\n// 3 rules 3, 4 and 5); design section 7; design section 2 rule 9; design sections 2 to 4');
    expect(refs.map((r) => [r.sections, r.rules])).toEqual([
      [[3], [3, 4, 5]],
      [[7], []],
      [[2], [9]],
      [[2, 3, 4], []],
    ]);
    expect(unresolved(refs, sections)).toEqual(['x.ts: "design section 7": no section 7', 'x.ts: "design section 2 rule 9": no rule 9 in section 2']);
  });
});
