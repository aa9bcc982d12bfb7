// Whether a process still runs, for pid files, status files and leftovers.
import fs from 'node:fs';

/** True while `pid` runs (EPERM: it does, owned by someone else); false once
 *  it is gone or a zombie (exited, not yet reaped, yet still answering kill 0). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
