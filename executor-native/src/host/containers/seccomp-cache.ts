import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSeccomp } from '../../native';

/**
 * Compiled seccomp filters, one per (capability set, profile), under `<data-root>/seccomp/`.
 * Compiling costs ~25 ms; a cached file costs a stat. Concurrent requests share one compile.
 */
export class SeccompCache {
  private readonly dir: string;
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(dataRoot: string) {
    this.dir = join(dataRoot, 'seccomp');
  }

  async get(caps: string[], profileJson?: string): Promise<string> {
    const sorted = [...caps].sort();
    const hash = createHash('sha256').update(sorted.join(',')).update('\0').update(profileJson ?? '').digest('hex').slice(0, 32);
    const out = join(this.dir, `${hash}.bpf`);
    if (existsSync(out)) return out;
    let p = this.inflight.get(hash);
    if (!p) {
      p = this.compile(out, sorted, profileJson).finally(() => this.inflight.delete(hash));
      this.inflight.set(hash, p);
    }
    return p;
  }

  private async compile(out: string, caps: string[], profileJson?: string): Promise<string> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${out}.${process.pid}.tmp`;
    let profile: string | undefined;
    if (profileJson !== undefined) {
      profile = `${out}.profile.json`;
      writeFileSync(profile, profileJson);
    }
    try {
      await compileSeccomp(tmp, caps, profile);
      renameSync(tmp, out);
      return out;
    } finally {
      rmSync(tmp, { force: true });
      if (profile) rmSync(profile, { force: true });
    }
  }
}
