// The split of the suite (vitest.config.ts): every file of the `unit`
// project exists and imports nothing that needs root or the kernel (the
// native addon, network namespaces, pinned datapaths, the lab), directly or
// through the test helpers it uses; every other test file is `kernel`.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UNIT_TESTS } from '../vitest.config.js';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Modules whose import means root or the kernel (value imports; `import type` is free). */
const NEEDS_KERNEL = [
  /\/src\/bpf\/native\.js$/,
  /\/src\/lab\/(lab|agents|procs|topology|exec)\.js$/,
  /\/src\/agent\/(agent|attach|attach-tc|bpffs|datapath-load|hookorder)\.js$/,
  /\/helpers\/(netns|lab|datapath|tunnel|build|flowtable)\.js$/,
];

/** Value imports of a file, resolved to paths relative to the repository. */
function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^import\s+(?!type\s)[^;]*?from\s+'(\.[^']+)'/gms)) out.push(path.relative(ROOT, path.resolve(path.dirname(file), m[1]!)));
  return out;
}

/**
 * Known exceptions. The test API server (helpers/apiserver.ts) imports
 * netns.js for its `netns` option, which only kernel tests use: a unit file
 * may import it as long as it never passes that option.
 */
function allowed(file: string, module: string): boolean {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  return module === 'test/helpers/netns.js' && text.includes("helpers/apiserver.js'") && !/\bnetns\s*:/.test(text) && !/helpers\/netns\.js'/.test(text);
}

describe('test projects', () => {
  it('every unit file exists; unit and kernel together are every test file', () => {
    for (const f of UNIT_TESTS) expect(fs.existsSync(path.join(ROOT, f)), f).toBe(true);
    const all = fs.readdirSync(path.join(ROOT, 'test')).filter((f) => f.endsWith('.test.ts'));
    const kernel = all.filter((f) => !UNIT_TESTS.includes(`test/${f}`));
    expect(kernel.length).toBeGreaterThan(20);
    expect(kernel).toContain('datapath.test.ts'); // positive control: a kernel file is not unit
  });

  it('unit files import nothing that needs root or the kernel, directly or through a test helper', () => {
    const bad: string[] = [];
    for (const f of UNIT_TESTS) {
      const direct = imports(path.join(ROOT, f));
      const viaHelpers = direct.filter((m) => m.startsWith('test/helpers/')).flatMap((h) => imports(path.join(ROOT, h.replace(/\.js$/, '.ts'))));
      for (const m of [...direct, ...viaHelpers]) if (NEEDS_KERNEL.some((re) => re.test(`/${m}`)) && !allowed(f, m)) bad.push(`${f}: ${m}`);
    }
    expect(bad).toEqual([]);
    // positive control: the check sees a kernel file's imports
    expect(imports(path.join(ROOT, 'test/native.test.ts')).some((m) => NEEDS_KERNEL.some((re) => re.test(`/${m}`)))).toBe(true);
  });
});
