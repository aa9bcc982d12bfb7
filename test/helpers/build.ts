// The compiled lab scripts (responders, DNS, kube-proxy, probe) run in other
// namespaces from dist/: rebuild them when a source is newer.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SCRIPTS = [
  'lab/responder',
  'lab/dns-responder',
  'lab/kube-proxy',
  'lab/probe',
  'lab/sctp',
  'lab/services',
  'lab/frontends',
  'lab/nodeports',
  'lab/nftables',
  'lab/dns',
  'cli/main',
  // what-if: the CLI and the agent's and relay's answer (whatif-lab.test.ts)
  'cli/whatif',
  'api/whatif',
  'flows/whatif',
  'model/verdict',
  'model/proposal',
];

export function ensureBuilt(): void {
  const pairs = SCRIPTS.map((f) => [path.join(ROOT, 'src', `${f}.ts`), path.join(ROOT, 'dist', `${f}.js`)] as const);
  const stale = () => pairs.some(([src, out]) => !fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs);
  if (!stale()) return;
  // Type errors elsewhere in the tree must not keep the lab scripts from being emitted.
  spawnSync(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore' });
  if (stale()) throw new Error('dist/ is stale and tsc did not rebuild it: run npx tsc -p tsconfig.json');
}
