import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface BuildInfo {
  readonly version: string;
  readonly gitCommit: string;
  /** RFC 3339: when this gateway was compiled (the mtime of its dist/). */
  readonly buildTime: string;
}

/** Read once from the package this process runs from. */
export function readBuildInfo(distDir: string = __dirname): BuildInfo {
  const pkgDir = join(distDir, '..', '..');
  let version = '0.0.0-dev';
  try {
    version = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version?: string }).version ?? version;
  } catch {
    // keep the dev version
  }
  let buildTime = new Date().toISOString();
  try {
    buildTime = statSync(join(distDir, '..')).mtime.toISOString();
  } catch {
    // keep now
  }
  return { version, gitCommit: readGitCommit(pkgDir), buildTime };
}

function readGitCommit(pkgDir: string): string {
  try {
    const gitDir = join(pkgDir, '..', '..', '.git');
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head.slice(0, 7);
    const ref = head.slice(5);
    try {
      return readFileSync(join(gitDir, ref), 'utf8').trim().slice(0, 7);
    } catch {
      const packed = readFileSync(join(gitDir, 'packed-refs'), 'utf8');
      const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`));
      return line ? line.slice(0, 7) : 'unknown';
    }
  } catch {
    return 'unknown';
  }
}
