/**
 * The two filesystem calls Node lacks and layer unpacking needs: mknod (device nodes, fifos, overlay
 * whiteouts) and lsetxattr (PAX xattrs, `trusted.overlay.opaque`). They sit behind PrivilegedFsOps so
 * the executor can plug in its native addon; the default runs one small python3 helper per unpack
 * (Debian's python3 is on every Berth host; `setfattr` from the `attr` package is not) and speaks
 * JSON lines to it, so calls stay in tar order at pipe latency instead of a process per call.
 */
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface, Interface } from 'node:readline';

export type NodeKind = 'char' | 'block' | 'fifo';

export interface PrivilegedFsOps {
  /** mknod(2) at `path` (never follows a final symlink; fails with EEXIST). `mode` holds permission bits. */
  mknod(path: string, kind: NodeKind, mode: number, major: number, minor: number): Promise<void>;
  /** lsetxattr(2): never follows symlinks. */
  lsetxattr(path: string, name: string, value: Buffer): Promise<void>;
  close(): Promise<void>;
}

export class FsOpsError extends Error {
  constructor(
    message: string,
    readonly errno: number,
    readonly code: string,
  ) {
    super(message);
    this.name = 'FsOpsError';
  }
}

const HELPER = String.raw`
import base64, errno, json, os, stat, sys
os.umask(0)
kinds = {"char": stat.S_IFCHR, "block": stat.S_IFBLK, "fifo": stat.S_IFIFO}
for line in sys.stdin:
    req = json.loads(line)
    try:
        if req["op"] == "mknod":
            os.mknod(req["path"], kinds[req["kind"]] | (req["mode"] & 0o7777), os.makedev(req["major"], req["minor"]))
        elif req["op"] == "lsetxattr":
            os.setxattr(req["path"], req["name"], base64.b64decode(req["value"]), follow_symlinks=False)
        else:
            raise OSError(errno.EINVAL, "unknown op")
        out = {"ok": True}
    except OSError as e:
        out = {"ok": False, "errno": e.errno, "code": errno.errorcode.get(e.errno, "EIO"), "error": e.strerror or str(e)}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
`;

export function findPython(): string {
  for (const p of ['/usr/bin/python3', '/usr/local/bin/python3', '/bin/python3']) if (existsSync(p)) return p;
  return 'python3';
}

/** Default PrivilegedFsOps: one python3 helper process, spawned lazily, requests served in order. */
export class PythonFsOps implements PrivilegedFsOps {
  private child?: ChildProcessWithoutNullStreams;
  private lines?: Interface;
  private readonly waiting: Array<{ resolve: (v: { ok: boolean; errno?: number; code?: string; error?: string }) => void; reject: (e: Error) => void }> = [];
  private exitError?: Error;

  constructor(private readonly python = findPython()) {}

  private start(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn(this.python, ['-I', '-c', HELPER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => this.fail(new Error(`fs helper (${this.python}): ${e.message}`)));
    child.on('exit', (code) => this.fail(new Error(`fs helper exited with ${code}: ${stderr.slice(-500)}`)));
    this.lines = createInterface({ input: child.stdout });
    this.lines.on('line', (l) => this.waiting.shift()?.resolve(JSON.parse(l)));
    this.child = child;
    return child;
  }

  private fail(e: Error) {
    this.exitError = e;
    while (this.waiting.length) this.waiting.shift()!.reject(e);
  }

  private async call(req: Record<string, unknown>, what: string): Promise<void> {
    if (this.exitError) throw this.exitError;
    const child = this.start();
    const res = await new Promise<{ ok: boolean; errno?: number; code?: string; error?: string }>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      child.stdin.write(JSON.stringify(req) + '\n');
    });
    if (!res.ok) throw new FsOpsError(`${what}: ${res.error} (${res.code})`, res.errno ?? 0, res.code ?? 'EIO');
  }

  mknod(path: string, kind: NodeKind, mode: number, major: number, minor: number): Promise<void> {
    return this.call({ op: 'mknod', path, kind, mode, major, minor }, `mknod ${path}`);
  }

  lsetxattr(path: string, name: string, value: Buffer): Promise<void> {
    return this.call({ op: 'lsetxattr', path, name, value: value.toString('base64') }, `lsetxattr ${name} ${path}`);
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin.end();
    await exited;
  }
}
