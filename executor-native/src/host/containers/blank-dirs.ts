import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Marks directories as tops of directory hierarchies (ext4's `chattr +T`), so that the Orlov allocator
 * puts each directory made in them (a container's dir) in a block group of its own rather than next
 * to its siblings. Files then take their inodes in their directory's group. On ext4 without a journal
 * (these machines) an inode allocation scans past every recently freed inode of its group (the
 * kernel's `recently_deleted`, up to 5 minutes), and every container churns inodes: an overlay mount
 * alone makes and frees four in work/ (the kernel's feature probes), a removal frees a dozen. Side
 * by side in one group, each allocation scanned them all: ~5% of the machine's CPU in a burst of
 * `docker run`s. Elsewhere (another filesystem, no chattr) it does nothing; failures are only reported.
 */
export async function spreadSubdirs(dirs: string[], onError: (e: Error) => void): Promise<void> {
  await execFileAsync('chattr', ['+T', ...dirs]).catch((e: NodeJS.ErrnoException & { stderr?: string }) => {
    // not ext4 (or similar), or no e2fsprogs: nothing to spread
    if (e.code === 'ENOENT' || /Operation not supported|Inappropriate ioctl/.test(e.stderr ?? '')) return;
    onError(new Error(`chattr +T ${dirs.join(' ')}: ${(e.stderr ?? e.message).trim()}`));
  });
}

/** The directories a container's dir holds before its first mount (see containerPaths). */
export const BLANK_SUBDIRS = ['upper', 'work', 'rootfs'] as const;

/**
 * Their modes. The overlay's root directory takes the upper dir's attributes, so upper/ is the
 * container's `/`: 0755 as in Docker (0710 locked every user but root and group 0 out of the whole
 * filesystem). The container's dir, work/ and the mount point stay 0710.
 */
export const SUBDIR_MODES: Record<(typeof BLANK_SUBDIRS)[number], number> = { upper: 0o755, work: 0o710, rootfs: 0o710 };

/**
 * Blank container dirs (upper/, work/ and rootfs/ made) kept ready on the data root's disk, so a create
 * renames one into place instead of making four directories. On these disks (ext4 without a journal)
 * an inode allocation scans past the recently freed ones and costs ms under churn; a rename allocates
 * none. Refilled in the background a little after the last take, so a burst of creates is not slowed
 * by its own refill; when none is ready the caller makes the dirs itself.
 */
export class BlankDirs {
  private readonly ready: string[] = [];
  private timer?: NodeJS.Timeout;
  private filling = false;
  private closed = false;

  constructor(
    /** on the same filesystem as the containers' dirs */
    readonly root: string,
    private readonly size: number,
    private readonly onError: (e: Error) => void,
    private readonly refillDelayMs = 250,
  ) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    // What an earlier executor left: whole blanks are taken as they are, the rest deleted.
    for (const name of readdirSync(root)) {
      const dir = join(root, name);
      if (this.ready.length < size && BLANK_SUBDIRS.every((s) => existsSync(join(dir, s)))) {
        chmodSync(join(dir, 'upper'), SUBDIR_MODES.upper); // made by an executor that gave it 0710
        this.ready.push(dir);
      } else void rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
    this.refillSoon();
  }

  get available(): number {
    return this.ready.length;
  }

  /** Moves a blank dir to `dest` (which must not exist); false when none was ready. */
  take(dest: string): boolean {
    let taken = false;
    while (!taken && this.ready.length) {
      const dir = this.ready.pop()!;
      try {
        renameSync(dir, dest);
        taken = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
          this.ready.push(dir);
          this.onError(e as Error);
          break;
        }
      }
    }
    this.refillSoon();
    return taken;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private refillSoon(): void {
    if (this.closed || this.ready.length >= this.size) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.fill(), this.refillDelayMs);
    this.timer.unref();
  }

  private async fill(): Promise<void> {
    if (this.filling) return;
    this.filling = true;
    try {
      while (!this.closed && this.ready.length < this.size) {
        const dir = join(this.root, randomBytes(8).toString('hex'));
        await mkdir(dir, { mode: 0o710 });
        await Promise.all(BLANK_SUBDIRS.map((s) => mkdir(join(dir, s), { mode: SUBDIR_MODES[s] })));
        this.ready.push(dir);
      }
    } catch (e) {
      this.onError(e as Error);
    } finally {
      this.filling = false;
    }
  }
}
