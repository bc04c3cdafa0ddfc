/**
 * `docker diff`: the container's upper dir against its image layers, read-only, never following a
 * symlink (a lower is only looked into below directories that are real directories in it).
 * Docker's overlay2 rules: a 0/0 char device (whiteout) or an opaque dir is Deleted; a path that
 * exists in a lower is Modified (a dir with the same size, mode and mtime is not a change itself);
 * anything else is Added; a directory with a change inside is Modified once (dockerd's naive diff,
 * which it uses on kernels with overlay's redirect_dir).
 */
import type { ContainerChange } from '@berth/contracts';
import { execFile } from 'node:child_process';
import { lstatSync, readdirSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** What Docker keeps in the container's init layer (not part of its diff); Berth's init makes them in upper. */
const INIT_PATHS = new Set([
  '/.dockerenv', '/dev', '/dev/console', '/dev/pts', '/dev/shm', '/dev/mqueue', '/proc', '/sys',
  '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/etc/mtab',
]);

const lstat = (p: string): BigIntStats | null => {
  try {
    return lstatSync(p, { bigint: true });
  } catch {
    return null;
  }
};

/** Directories of `upper` marked opaque (trusted.overlay.opaque=y), relative paths with a leading `/`. */
async function opaqueDirs(upper: string): Promise<Set<string>> {
  const out = await execFileAsync('getfattr', ['--absolute-names', '-R', '-P', '-n', 'trusted.overlay.opaque', upper], {
    maxBuffer: 64 * 1024 * 1024,
  }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  const dirs = new Set<string>();
  let file: string | null = null;
  for (const line of out.stdout.split('\n')) {
    if (line.startsWith('# file: ')) file = line.slice(8);
    else if (file && line === 'trusted.overlay.opaque="y"') dirs.add(file.slice(upper.length) || '/');
  }
  return dirs;
}

const sameTime = (a: BigIntStats, b: BigIntStats) =>
  a.mtimeNs === b.mtimeNs ||
  (a.mtimeNs / 1_000_000_000n === b.mtimeNs / 1_000_000_000n && (a.mtimeNs % 1_000_000_000n === 0n || b.mtimeNs % 1_000_000_000n === 0n));

export async function containerChanges(upper: string, lowers: readonly string[]): Promise<ContainerChange[]> {
  const opaque = await opaqueDirs(upper);
  const changes: ContainerChange[] = [];
  const changedDirs = new Set<string>();

  const walk = (rel: string, dir: string, lowerDirs: string[]) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const path = rel === '/' ? `/${name}` : `${rel}/${name}`;
      const abs = join(dir, name);
      const st = lstat(abs);
      if (!st) continue;
      const isDir = st.isDirectory();
      let kind: ContainerChange['Kind'] = 1;
      let skip = false;
      if ((st.isCharacterDevice() && st.rdev === 0n) || (isDir && opaque.has(path))) {
        kind = 2;
      } else {
        for (const l of lowerDirs) {
          const ls = lstat(join(l, name));
          if (!ls) continue;
          if (ls.isDirectory() && isDir && ls.size === st.size && ls.mode === st.mode && sameTime(ls, st)) skip = true;
          kind = 0;
          break;
        }
      }
      if (!skip && !INIT_PATHS.has(path)) {
        if (isDir) changedDirs.add(path);
        // A directory with a change inside is Modified itself, once, before it (outermost first), even
        // when it is the same as below (a copy-up keeps the lower's attributes): as dockerd reports.
        const unchanged: string[] = [];
        for (let dir = rel; dir !== '/' && !changedDirs.has(dir); dir = dir.slice(0, dir.lastIndexOf('/')) || '/') unchanged.unshift(dir);
        for (const dir of unchanged) {
          changes.push({ Path: dir, Kind: 0 });
          changedDirs.add(dir);
        }
        changes.push({ Path: path, Kind: kind });
      }
      if (isDir) {
        // below, only lowers where this is a real directory (never through a lower's symlink)
        const next = lowerDirs.map((l) => join(l, name)).filter((l) => lstat(l)?.isDirectory());
        walk(path, abs, next);
      }
    }
  };
  walk('/', upper, [...lowers]);
  return changes;
}
