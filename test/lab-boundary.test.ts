// The lab depends on the product, not the other way round (issue 17 item 1,
// in part): no module of the agent, the sources, the model, the API or the
// datapath's TypeScript imports the lab. What still crosses is listed here,
// so the list can only shrink.
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

/** The lab's own command line (still under src/cli) and the client commands' optional lab support. */
const STATIC_ALLOWED = new Set(['src/cli/lab.ts']);
const DYNAMIC_ALLOWED = new Set(['src/cli/flows.ts']);

describe('the product does not import the lab', () => {
  it('no module outside src/lab imports it, but the lab CLI; the client commands load it only when present', () => {
    const crossing: string[] = [];
    let seenLabCli = false;
    for (const f of files(SRC)) {
      const rel = path.relative(ROOT, f);
      if (rel.startsWith('src/lab/')) continue;
      const i = labImports(f);
      if (rel === 'src/cli/lab.ts' && i.static.length > 0) seenLabCli = true; // positive control: the scan sees imports
      if (i.static.length > 0 && !STATIC_ALLOWED.has(rel)) crossing.push(`${rel}: ${i.static.join(', ')}`);
      if (i.dynamic.length > 0 && !DYNAMIC_ALLOWED.has(rel)) crossing.push(`${rel}: import(${i.dynamic.join(', ')})`);
    }
    expect(seenLabCli).toBe(true);
    expect(crossing).toEqual([]);
  });
});
