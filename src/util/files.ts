// Small file helpers shared by the agent and the lab.
import fs from 'node:fs';
import path from 'node:path';

/** Write JSON so that readers see the old or the new file, never half of one. */
export function writeJsonAtomic(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  fs.renameSync(tmp, file);
}
