// The committed TypeScript types of the gRPC messages (src/api/generated/) are
// what the generator makes from proto/ today (`make api-types`), with the
// options the API loads the protos with: a .proto edited without regenerating,
// or a hand edit of a generated file, fails here.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOADER_OPTIONS } from '../src/api/proto.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const GENERATED = path.join(ROOT, 'src/api/generated');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vrfwall-api-types-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), fs.readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

const flags = execFileSync('make', ['-s', '--no-print-directory', 'print-api-types-flags'], { cwd: ROOT, encoding: 'utf8' }).trim().split(/\s+/);

describe('generated API types', () => {
  it('are generated with the options the API loads the protos with (src/api/proto.ts)', () => {
    expect(flags).toContain(`--longs=${(LOADER_OPTIONS.longs as NumberConstructor).name}`);
    expect(flags).toContain(`--enums=${(LOADER_OPTIONS.enums as StringConstructor).name}`);
    for (const on of ['defaults', 'oneofs', 'arrays'] as const) expect(flags, on).toContain(LOADER_OPTIONS[on] ? `--${on}` : '--no-such-flag');
    expect(LOADER_OPTIONS.keepCase).toBe(false);
    expect(flags).not.toContain('--keepCase');
  });

  it('the committed files are exactly what the generator makes from proto/ now', () => {
    const protos = fs.readdirSync(path.join(ROOT, 'proto/vrfwall/v1')).filter((f) => f.endsWith('.proto')).map((f) => `vrfwall/v1/${f}`);
    execFileSync(path.join(ROOT, 'node_modules/.bin/proto-loader-gen-types'), [...protos, ...flags, '-O', tmp, '--includeDirs', 'proto'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const fresh = tree(tmp);
    const committed = tree(GENERATED);
    expect(fresh.size).toBeGreaterThan(20); // a file per message, enum and service
    expect([...committed.keys()].sort()).toEqual([...fresh.keys()].sort());
    for (const [file, text] of fresh) expect(committed.get(file), file).toBe(text);
  });
});
