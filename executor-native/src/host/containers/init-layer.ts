import { chmodSync, existsSync, lstatSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { safeReaddir } from './fs-util';

/** Bumped when the layer's content changes: a new dir, and containers prepared before keep theirs. */
const INIT_LAYER_VERSION = 1;

/** The init layer's content: directories, empty files, symlinks (path relative to `/`, mode or target). */
const DIRS: [string, number][] = [['dev', 0o755], ['proc', 0o755], ['sys', 0o755], ['etc', 0o755]];
const FILES: [string, number][] = [['.dockerenv', 0o755], ['etc/hostname', 0o644], ['etc/hosts', 0o644], ['etc/resolv.conf', 0o644]];
const SYMLINKS: [string, string][] = [['etc/mtab', '/proc/mounts']];

/** Where the init layer's versions are. */
export function initLayerRoot(dataRoot: string): string {
  return join(dataRoot, 'init-layer');
}

/**
 * The init layer: one read-only overlay layer above every container's image layers, shared by all of
 * them, holding what Docker's per-container init layer holds: the mount points every run mounts over
 * (/proc, /sys, /dev, /etc/hostname, /etc/hosts, /etc/resolv.conf), /.dockerenv, /etc/mtab. Without it
 * berth-init made those mount points in each container's upper dir at its first start: seven inodes and
 * a copy-up of /etc per container, on a disk where every inode allocation scans past the recently
 * freed ones (ext4 without a journal): berth-init's mounts took 10.5% of the machine's CPU in a burst of
 * 50 `docker run -d`, 7% without them (perf; see spreadSubdirs for the rest). It also
 * keeps them out of the container's own layer, as Docker does (`docker diff` of a fresh container is
 * empty).
 *
 * Made once per data root (built aside and renamed into place, so a crash leaves no half layer);
 * returns its path. Containers whose layers.json names it need it to stay: it is never removed.
 */
export function ensureInitLayer(dataRoot: string): string {
  const root = initLayerRoot(dataRoot);
  const dir = join(root, `v${INIT_LAYER_VERSION}`);
  sweepTmp(root);
  if (existsSync(dir)) return dir;
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const tmp = join(root, `.tmp-${randomBytes(6).toString('hex')}`);
  try {
    mkdirSync(tmp, { mode: 0o755 });
    chmodSync(tmp, 0o755); // the layer's root would be the container's `/` were nothing above it
    for (const [d, mode] of DIRS) {
      mkdirSync(join(tmp, d), { mode });
      chmodSync(join(tmp, d), mode);
    }
    for (const [f, mode] of FILES) {
      writeFileSync(join(tmp, f), '', { mode });
      chmodSync(join(tmp, f), mode);
    }
    for (const [link, target] of SYMLINKS) symlinkSync(target, join(tmp, link));
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    // another executor (a test's) made it first
    if (!existsSync(dir)) throw e;
  }
  return dir;
}

/** What a crash while building left (`.tmp-*`), unless it is younger than a minute (another executor's build). */
function sweepTmp(root: string): void {
  for (const n of safeReaddir(root)) {
    if (!n.startsWith('.tmp-')) continue;
    const p = join(root, n);
    try {
      if (Date.now() - lstatSync(p).mtimeMs > 60_000) rmSync(p, { recursive: true, force: true });
    } catch {
      // gone already
    }
  }
}
