// The lab depends on the product, not the other way round (issue 17 item 1):
// no module of the agent, the sources, the model, the API, the CLI or the
// datapath's TypeScript imports the lab, statically or dynamically. The lab
// is a program of its own (src/lab/main.ts); `vrfwall lab` runs it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const SRC = path.join(ROOT, 'src');

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

/** Modules under src/lab that a file imports: statically (`from '…/lab/x.js'`) and dynamically (`import('…/lab/x.js')`). */
function labImports(file: string): { static: string[]; dynamic: string[] } {
  const text = fs.readFileSync(file, 'utf8');
  const dir = path.dirname(file);
  const inLab = (spec: string): boolean => spec.startsWith('.') && path.resolve(dir, spec).startsWith(path.join(SRC, 'lab') + path.sep);
  const pick = (re: RegExp): string[] => [...text.matchAll(re)].map((m) => m[1] as string).filter(inLab);
  return { static: pick(/\bfrom\s+'([^']+)'/g), dynamic: pick(/\bimport\(\s*'([^']+)'\s*\)/g) };
}

describe('the product does not import the lab', () => {
  it('no module outside src/lab imports a module of src/lab', () => {
    const crossing: string[] = [];
    for (const f of files(SRC)) {
      const rel = path.relative(ROOT, f);
      if (rel.startsWith('src/lab/')) continue;
      const i = labImports(f);
      if (i.static.length > 0) crossing.push(`${rel}: ${i.static.join(', ')}`);
      if (i.dynamic.length > 0) crossing.push(`${rel}: import(${i.dynamic.join(', ')})`);
    }
    // The control: the scan sees the lab's own imports of lab modules, static and dynamic.
    const own = labImports(path.join(SRC, 'lab/main.ts'));
    expect(own.dynamic).toContain('./cli.js');
    expect(labImports(path.join(SRC, 'lab/cli.ts')).static).toContain('./lab.js');
    expect(crossing).toEqual([]);
  });
});
