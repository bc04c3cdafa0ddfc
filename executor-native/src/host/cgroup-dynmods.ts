import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Shared by every Berth on the host (and outside any instance's own dirs, which tests delete). */
export const DYNMODS_MOUNTPOINT = '/run/berth-cgroup-dynmods';

/**
 * Moving a process into a cgroup (v1 or v2) takes the kernel's cgroup_threadgroup_rwsem for writing,
 * which by default first waits for an RCU grace period: 7-10 ms per container start and per exec on
 * these machines, the largest single step of a spawn. A hierarchy mounted with `favordynmods` (Linux
 * >= 6.0, documented in the kernel's cgroup-v2.rst) keeps that semaphore in its writer-friendly mode:
 * migrations cost microseconds, forks and exits a little more. The switch is global and stays until
 * reboot. Berth turns it on by mounting an empty named v1 hierarchy with the option (no controllers, no
 * groups in it); nothing to do when some cgroup mount already has it. Never fails the executor: an
 * older kernel (EINVAL) or a host that forbids v1 named hierarchies just keeps the slow path.
 */
export async function favorCgroupDynmods(): Promise<'already' | 'mounted' | { unsupported: string }> {
  const mounts = await readFile('/proc/mounts', 'utf8').catch(() => '');
  const favored = mounts
    .split('\n')
    .some((line) => {
      const [, , type, options] = line.split(' ');
      return (type === 'cgroup' || type === 'cgroup2') && (options ?? '').split(',').includes('favordynmods');
    });
  if (favored) return 'already';
  try {
    await mkdir(DYNMODS_MOUNTPOINT, { recursive: true, mode: 0o700 });
    await execFileAsync('mount', ['-t', 'cgroup', '-o', 'none,name=berth_dynmods,favordynmods', 'cgroup', DYNMODS_MOUNTPOINT]);
    return 'mounted';
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    return { unsupported: (err.stderr || err.message).trim() };
  }
}
