// bpffs: where maps and links are pinned so enforcement outlives the agent.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

export const BPFFS_MOUNT = '/sys/fs/bpf';

function isBpffsMounted(mountPoint: string): boolean {
  const mounts = fs.readFileSync('/proc/mounts', 'utf8');
  return mounts.split('\n').some((line) => {
    const [, mp, type] = line.split(' ');
    return mp === mountPoint && type === 'bpf';
  });
}

/** Mount bpffs at /sys/fs/bpf when it is not (as Cilium's agent does). */
export function ensureBpffs(mountPoint = BPFFS_MOUNT): void {
  if (isBpffsMounted(mountPoint)) return;
  fs.mkdirSync(mountPoint, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'bpf', 'bpf', mountPoint], { stdio: 'pipe' });
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new Error(`cannot mount bpffs at ${mountPoint}: ${err.stderr?.toString().trim() ?? String(e)}`);
  }
}

/** Remove a pin directory tree (pins are files; unlinking drops the kernel reference). */
export function removePins(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
