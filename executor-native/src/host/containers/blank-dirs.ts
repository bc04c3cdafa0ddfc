import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/** The directories a container's dir holds before its first mount (see containerPaths). */
export const BLANK_SUBDIRS = ['upper', 'work', 'rootfs'] as const;

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
      if (this.ready.length < size && BLANK_SUBDIRS.every((s) => existsSync(join(dir, s)))) this.ready.push(dir);
      else void rm(dir, { recursive: true, force: true }).catch(() => undefined);
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
        await Promise.all(BLANK_SUBDIRS.map((s) => mkdir(join(dir, s), { mode: 0o710 })));
        this.ready.push(dir);
      }
    } catch (e) {
      this.onError(e as Error);
    } finally {
      this.filling = false;
    }
  }
}
