import { DomainError, ErrorCode, type ExecutorJob, type ExecutorJobResults } from '@berth/contracts';
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

const SAFE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Volume directories live at `<data-root>/volumes/<name>/_data` (Docker's local driver layout). */
export class VolumeDirs {
  constructor(private readonly dataRoot: string) {}

  private dir(name: string): string {
    // Defence in depth: the volumes service validates names too, but this process is root.
    if (!SAFE_NAME.test(name) || name.includes('..')) {
      throw new DomainError(ErrorCode.InvalidArgument, `invalid volume name ${JSON.stringify(name)}`);
    }
    return join(this.dataRoot, 'volumes', name);
  }

  async create(name: string): Promise<ExecutorJobResults[ExecutorJob.CreateVolumeDir]> {
    await mkdir(join(this.dataRoot, 'volumes'), { recursive: true, mode: 0o701 });
    const data = join(this.dir(name), '_data');
    await mkdir(data, { recursive: true, mode: 0o755 });
    return { mountpoint: data };
  }

  async remove(name: string): Promise<ExecutorJobResults[ExecutorJob.RemoveVolumeDir]> {
    const dir = this.dir(name);
    const bytes = await diskUsage(dir);
    await rm(dir, { recursive: true, force: true });
    return { removed: true, bytes };
  }
}

/** Bytes held by a tree, without following symlinks. Missing trees count as 0. */
export async function diskUsage(path: string): Promise<number> {
  let st;
  try {
    st = await lstat(path);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const entry of await readdir(path)) total += await diskUsage(join(path, entry));
  return total;
}
