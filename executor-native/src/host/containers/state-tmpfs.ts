import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, statfsSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
export const TMPFS_MAGIC = 0x01021994;

export function onTmpfs(path: string): boolean {
  return statfsSync(path).type === TMPFS_MAGIC;
}

/**
 * The shims' state dirs (`<exec-root>/s`: sockets, config.json, run.json, exit.json; made and deleted
 * with every run and exec) belong on a tmpfs, which a reboot empties, as Docker's exec root is on
 * /run. Where the exec root is on disk (a machine whose /run is not a tmpfs), a tmpfs is mounted on
 * the state root: on these disks each file made and freed cost the executor ms of inode allocation
 * under churn. Only while the state root is empty: a non-empty one holds the sockets of shims that are
 * still running (live restore), which a mount would hide. The mount stays (shims outlive the
 * executor), as /run does; never fails the executor.
 */
export async function ensureStateTmpfs(stateRoot: string): Promise<'already' | 'mounted' | { kept: string }> {
  mkdirSync(stateRoot, { recursive: true, mode: 0o711 });
  if (onTmpfs(stateRoot)) return 'already';
  if (readdirSync(stateRoot).length) return { kept: 'it holds running shims' };
  try {
    await execFileAsync('mount', ['-t', 'tmpfs', '-o', 'mode=0711,nosuid,nodev', 'berth-state', stateRoot]);
    return 'mounted';
  } catch (e) {
    return { kept: (e as { stderr?: string }).stderr?.trim() || (e as Error).message };
  }
}
