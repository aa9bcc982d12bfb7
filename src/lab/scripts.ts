// Paths of the compiled scripts the lab runs in other namespaces. Resolved
// from the repository root, so they are the same whether this module runs from
// src/ (tests) or dist/ (the CLI).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function distScript(rel: string): string {
  const file = path.join(REPO_ROOT, 'dist', rel);
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: build first (npx tsc -p tsconfig.json, or make build)`);
  }
  return file;
}
