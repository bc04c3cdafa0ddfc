import { DomainError, ErrorCode, type ExecutorJob, type ExecutorJobResults } from '@berth/contracts';
import { execFile } from 'node:child_process';
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

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

  /**
   * Docker's copy-up: a volume that is empty when first mounted gets the image's content at `path`.
   * Layers are applied bottom to top; whiteouts (`.wh.<name>`, char 0/0) delete what lower layers gave.
   */
  async populate(name: string, layerDirs: readonly string[], path: string): Promise<ExecutorJobResults[ExecutorJob.PopulateVolumeDir]> {
    const data = join(this.dir(name), '_data');
    const parts = path.split('/').filter(Boolean);
    if (!path.startsWith('/') || parts.some((p) => p === '..' || p === '.')) {
      throw new DomainError(ErrorCode.InvalidArgument, `invalid volume path ${JSON.stringify(path)}`);
    }
    await mkdir(data, { recursive: true, mode: 0o755 });
    if ((await readdir(data)).length > 0) return { copied: false };
    let copied = false;
    for (const layer of [...layerDirs].reverse()) {
      if (!layer.startsWith('/') || layer.includes('..')) continue;
      // Only a real directory in the layer, reached without symlinks (this process is root).
      let dir = layer;
      let ok = true;
      for (const part of parts) {
        dir = join(dir, part);
        const st = await lstat(dir).catch(() => null);
        if (!st || !st.isDirectory()) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      await run('cp', ['-a', `${dir}/.`, `${data}/`]);
      await removeWhiteouts(data);
      copied = true;
    }
    return { copied };
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

/** Drops overlay whiteouts (char 0/0) and AUFS-style `.wh.` markers with what they hide. */
async function removeWhiteouts(dir: string): Promise<void> {
  for (const entry of await readdir(dir)) {
    const full = join(dir, entry);
    const st = await lstat(full).catch(() => null);
    if (!st) continue;
    if (entry === '.wh..wh..opq') {
      await rm(full, { force: true });
    } else if (entry.startsWith('.wh.')) {
      await rm(join(dir, entry.slice(4)), { recursive: true, force: true });
      await rm(full, { force: true });
    } else if (st.isCharacterDevice() && st.rdev === 0) {
      await rm(full, { force: true });
    } else if (st.isDirectory()) {
      await removeWhiteouts(full);
    }
  }
}
