/**
 * Unpacks one layer (tar, gzip or zstd — detected from the magic bytes) into a fresh directory that
 * becomes an overlayfs lower dir, while the layer streams in. The diffID (sha256 of the uncompressed
 * tar) is computed on the way.
 *
 * Safety rules (the layer is hostile input; this code runs as root):
 *  - Absolute names are resolved inside the root, as Docker does (`/etc/x` → `<root>/etc/x`).
 *  - Any `..` component is refused (Docker allows `a/../b` when it stays inside; no real layer needs it).
 *  - Nothing is ever created through a symlink: every parent component is lstat'ed and a symlink there
 *    refuses the entry; an existing final component is unlinked first and files are created O_EXCL.
 *  - Symlink targets that climb out of the root (relative, via `..`) are refused, as Docker does;
 *    absolute symlink targets are fine (they resolve inside the container).
 *  - Hard links must point at a non-directory already unpacked from this layer, reached without symlinks.
 *  - `trusted.overlay.*` xattrs from the tar are dropped (they would steer overlayfs).
 * On refusal or any error the whole directory is removed, and the error names the entry.
 *
 * Whiteouts become overlayfs whiteouts: `.wh.<name>` → char device 0/0 `<name>`; `.wh..wh..opq` →
 * `trusted.overlay.opaque=y` on the directory; other `.wh..wh.*` (aufs metadata) are skipped.
 *
 * Two extractors share everything but the file creation: this module's tar-stream one (any user,
 * the fallback) and `UnpackOptions.nativeUnpacker`, executor-native's `berth-unpack` (C, libarchive,
 * openat-based; the same rules and messages), which gets the plain tar on its stdin. Decompression,
 * the diffID, maxSize and the cleanup stay here for both.
 */
import { spawn } from 'node:child_process';
import { createHash, Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, readdir, realpath, rm, symlink, unlink } from 'node:fs/promises';
import { posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import * as tarStream from 'tar-stream';
import { DomainError, ErrorCode } from '@berth/contracts';
import { FsOpsError, PrivilegedFsOps, PythonFsOps } from './fs-ops';

export type LayerCompression = 'gzip' | 'zstd' | 'none';

export interface UnpackOptions {
  /** mknod / lsetxattr provider; default: a python3 helper (see fs-ops.ts). */
  fsOps?: PrivilegedFsOps;
  /** Keep uid/gid from the tar (default: when running as root). */
  preserveOwnership?: boolean;
  /** Refuse layers whose uncompressed tar exceeds this many bytes (decompression bombs). */
  maxSize?: number;
  /**
   * Path of executor-native's `berth-unpack`: entries are extracted by it (several times faster on
   * real images) instead of in this process. `fsOps` is not used then.
   */
  nativeUnpacker?: string;
}

export interface UnpackResult {
  /** sha256 of the uncompressed tar. */
  diffId: string;
  /** Bytes of the uncompressed tar. */
  size: number;
  /** Bytes read from the source. */
  compressedSize: number;
  compression: LayerCompression;
  entries: number;
}

export class UnsafeLayerError extends DomainError {
  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super(ErrorCode.InvalidArgument, `refusing layer entry ${JSON.stringify(entry)}: ${reason}`);
    this.name = 'UnsafeLayerError';
  }
}

export function detectCompression(head: Uint8Array): LayerCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** Decompresses by magic bytes; reports the detected kind through `onKind`. */
export async function* decompress(source: AsyncIterable<Uint8Array>, onKind?: (k: LayerCompression) => void): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let done = false;
  while (head.length < 4 && !done) {
    const r = await it.next();
    if (r.done) done = true;
    else head = Buffer.concat([head, Buffer.from(r.value)]);
  }
  const rest = async function* () {
    if (head.length) yield head;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.from(r.value);
    }
  };
  const kind = detectCompression(head);
  onKind?.(kind);
  if (kind === 'gzip') {
    // 16 KiB (the default) means thousands of small writes to the extractor per layer.
    const gunzip = createGunzip({ chunkSize: 1 << 18 });
    const feeding = pipeline(Readable.from(rest()), gunzip).catch(() => undefined);
    try {
      for await (const c of gunzip) yield c as Buffer;
    } finally {
      await feeding;
    }
  } else if (kind === 'zstd') {
    const out: Buffer[] = [];
    const d = new Decompress((chunk) => out.push(Buffer.from(chunk)));
    for await (const c of rest()) {
      d.push(c);
      while (out.length) yield out.shift()!;
    }
    d.push(new Uint8Array(0), true);
    while (out.length) yield out.shift()!;
  } else {
    yield* rest();
  }
}

/** What both extractors report besides their entries: filled in while the tar streams. */
interface Measure {
  hash: Hash;
  size: number;
  compressedSize: number;
  compression: LayerCompression;
}

/** The plain tar of `source`, hashed and counted on the way (trailing padding included). */
async function* plainTar(source: Readable | AsyncIterable<Uint8Array>, m: Measure, maxSize?: number): AsyncGenerator<Buffer> {
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const c of source as AsyncIterable<Uint8Array>) {
      m.compressedSize += c.length;
      yield c;
    }
  }
  for await (const chunk of decompress(counted(), (k) => (m.compression = k))) {
    m.hash.update(chunk);
    m.size += chunk.length;
    if (maxSize !== undefined && m.size > maxSize) {
      throw new DomainError(ErrorCode.InvalidArgument, `layer is larger than ${maxSize} bytes uncompressed`);
    }
    yield chunk;
  }
}

const OPAQUE = '.wh..wh..opq';
const WH_PREFIX = '.wh.';
const WH_META_PREFIX = '.wh..wh.';

/** Splits a tar name into safe components: leading '/' and '.' dropped; '..' refused. */
function components(name: string, what = 'path'): string[] {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new UnsafeLayerError(name, `${what} contains ".."`);
  if (parts.some((p) => p.includes('\0'))) throw new UnsafeLayerError(name, `${what} contains NUL`);
  return parts;
}

async function lstatOrNull(p: string) {
  try {
    return await lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Unpacks `source` into `dest`, which must not exist yet or be empty. On error `dest` is removed.
 */
export async function unpackLayer(source: Readable | AsyncIterable<Uint8Array>, dest: string, opts: UnpackOptions = {}): Promise<UnpackResult> {
  const root = posix.resolve(dest);
  const existing = await lstatOrNull(root);
  if (existing) {
    if (!existing.isDirectory() || (await readdir(root)).length) {
      throw new DomainError(ErrorCode.Conflict, `layer directory ${root} already exists and is not empty`);
    }
  } else {
    await mkdir(root, { mode: 0o755 });
  }
  if (opts.nativeUnpacker) return unpackNative(opts.nativeUnpacker, source, root, opts);
  const ownFsOps = !opts.fsOps;
  const fsOps = opts.fsOps ?? new PythonFsOps();
  const preserveOwnership = opts.preserveOwnership ?? process.getuid?.() === 0;
  const m: Measure = { hash: createHash('sha256'), size: 0, compressedSize: 0, compression: 'none' };
  let entries = 0;
  const dirTimes: Array<{ path: string; atime: Date; mtime: Date }> = [];
  const extract = tarStream.extract();

  // Producer: decompress → hash → tar parser.
  const feed = (async () => {
    try {
      for await (const chunk of plainTar(source, m, opts.maxSize)) {
        if (!extract.write(chunk)) await new Promise<void>((r) => extract.once('drain', () => r()));
      }
      (extract as unknown as { end(): void }).end();
    } catch (e) {
      extract.destroy(e as Error);
      throw e;
    }
  })();
  feed.catch(() => undefined);

  /** Ensures every parent of `parts` exists as a real directory (never a symlink). */
  async function ensureParents(entryName: string, parts: string[]): Promise<string> {
    let cur = root;
    for (const p of parts.slice(0, -1)) {
      cur = posix.join(cur, p);
      const st = await lstatOrNull(cur);
      if (!st) await mkdir(cur, { mode: 0o755 });
      else if (st.isSymbolicLink()) throw new UnsafeLayerError(entryName, `parent ${JSON.stringify(posix.relative(root, cur))} is a symlink`);
      else if (!st.isDirectory()) throw new UnsafeLayerError(entryName, `parent ${JSON.stringify(posix.relative(root, cur))} is not a directory`);
    }
    return cur;
  }

  /** Removes whatever sits at `path` unless both it and the new entry are directories. */
  async function clearTarget(path: string, keepDir: boolean): Promise<boolean> {
    const st = await lstatOrNull(path);
    if (!st) return false;
    if (st.isDirectory()) {
      if (keepDir) return true;
      await rm(path, { recursive: true, force: true });
    } else {
      await unlink(path);
    }
    return false;
  }

  async function applyMetadata(path: string, h: tarStream.Header, isSymlink: boolean): Promise<void> {
    if (preserveOwnership) await lchown(path, h.uid ?? 0, h.gid ?? 0);
    // chmod after chown: chown clears set-id bits.
    if (!isSymlink) await chmod(path, (h.mode ?? 0o644) & 0o7777);
    const pax = (h.pax ?? {}) as Record<string, string>;
    for (const [k, v] of Object.entries(pax)) {
      if (!k.startsWith('SCHILY.xattr.')) continue;
      const name = k.slice('SCHILY.xattr.'.length);
      if (name.startsWith('trusted.overlay.')) continue;
      try {
        await fsOps.lsetxattr(path, name, Buffer.from(v, 'utf8'));
      } catch (e) {
        // As Docker: filesystems without xattr support (or namespaces we may not write) are tolerated.
        if (!(e instanceof FsOpsError && (e.code === 'ENOTSUP' || e.code === 'EOPNOTSUPP' || e.code === 'EPERM'))) throw e;
      }
    }
    const mtime = h.mtime ?? new Date(0);
    const atime = pax.atime ? new Date(Number(pax.atime) * 1000) : mtime;
    if (h.type === 'directory') dirTimes.push({ path, atime, mtime });
    else await lutimes(path, atime, mtime);
  }

  async function handle(h: tarStream.Header, body: Readable): Promise<void> {
    entries++;
    const name = h.name;
    const parts = components(name);
    if (parts.length === 0) {
      // The root itself ("./"): only a directory may describe it.
      if (h.type !== 'directory') throw new UnsafeLayerError(name, 'the layer root must be a directory');
      await applyMetadata(root, h, false);
      return;
    }
    const base = parts[parts.length - 1];
    if (base.startsWith(WH_PREFIX)) {
      const parent = await ensureParents(name, parts);
      if (base === OPAQUE) {
        await fsOps.lsetxattr(parent, 'trusted.overlay.opaque', Buffer.from('y'));
      } else if (!base.startsWith(WH_META_PREFIX)) {
        const hidden = base.slice(WH_PREFIX.length);
        if (!hidden || hidden === '.' || hidden === '..') throw new UnsafeLayerError(name, 'invalid whiteout');
        const path = posix.join(parent, hidden);
        await clearTarget(path, false);
        await fsOps.mknod(path, 'char', 0, 0, 0);
        if (preserveOwnership) await lchown(path, h.uid ?? 0, h.gid ?? 0);
      }
      return;
    }
    const parent = await ensureParents(name, parts);
    const path = posix.join(parent, base);
    const rel = parts.join('/');
    switch (h.type) {
      case 'directory': {
        const keep = await clearTarget(path, true);
        if (!keep) await mkdir(path, { mode: 0o700 });
        await applyMetadata(path, h, false);
        return;
      }
      case 'file':
      case 'contiguous-file': {
        await clearTarget(path, false);
        // 'wx' = O_CREAT|O_EXCL: refuses to follow anything that reappeared at `path`.
        await pipeline(body, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
        await applyMetadata(path, h, false);
        return;
      }
      case 'symlink': {
        const target = h.linkname ?? '';
        if (!target) throw new UnsafeLayerError(name, 'symlink without target');
        if (!target.startsWith('/')) {
          const resolved = posix.normalize(posix.join(posix.dirname(rel), target));
          if (resolved === '..' || resolved.startsWith('../')) {
            throw new UnsafeLayerError(name, `symlink target ${JSON.stringify(target)} points outside the layer`);
          }
        }
        await clearTarget(path, false);
        await symlink(target, path);
        await applyMetadata(path, h, true);
        return;
      }
      case 'link': {
        const linkParts = components(h.linkname ?? '', 'hard link target');
        if (!linkParts.length) throw new UnsafeLayerError(name, 'hard link to the layer root');
        let cur = root;
        for (const p of linkParts.slice(0, -1)) {
          cur = posix.join(cur, p);
          const st = await lstatOrNull(cur);
          if (!st || !st.isDirectory() || st.isSymbolicLink()) {
            throw new UnsafeLayerError(name, `hard link target ${JSON.stringify(h.linkname)} is not inside this layer`);
          }
        }
        const src = posix.join(cur, linkParts[linkParts.length - 1]);
        const st = await lstatOrNull(src);
        if (!st) throw new UnsafeLayerError(name, `hard link target ${JSON.stringify(h.linkname)} is not inside this layer`);
        if (st.isDirectory()) throw new UnsafeLayerError(name, 'hard link to a directory');
        if (src === path) return;
        await clearTarget(path, false);
        // link(2) does not follow a final symlink; parents were checked above.
        await link(src, path);
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        await clearTarget(path, false);
        const kind = h.type === 'fifo' ? 'fifo' : h.type === 'block-device' ? 'block' : 'char';
        await fsOps.mknod(path, kind, (h.mode ?? 0o644) & 0o7777, h.devmajor ?? 0, h.devminor ?? 0);
        await applyMetadata(path, h, false);
        return;
      }
      default:
        // Unknown or meta entry types carry nothing to unpack.
        return;
    }
  }

  let current = '';
  try {
    for await (const entry of extract) {
      current = entry.header.name;
      try {
        await handle(entry.header, entry as unknown as Readable);
      } finally {
        // Drain what the handler did not read so the parser can move on.
        (entry as unknown as Readable).resume();
      }
    }
    await feed;
    // Deepest first, so setting a child's time does not disturb its parent's.
    // A directory replaced later in the layer (its parent now a symlink) is skipped: never set times
    // through a symlink.
    const rootReal = await realpath(root);
    for (const d of dirTimes.reverse()) {
      if (d.path !== root) {
        const parent = posix.dirname(d.path);
        const real = await realpath(parent).catch(() => undefined);
        if (real !== posix.join(rootReal, posix.relative(root, parent))) continue;
      }
      await lutimes(d.path, d.atime, d.mtime);
    }
    return { diffId: 'sha256:' + m.hash.digest('hex'), size: m.size, compressedSize: m.compressedSize, compression: m.compression, entries };
  } catch (e) {
    extract.destroy(new Error('unpack aborted'));
    if (source instanceof Readable) source.destroy();
    await feed.catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    if (e instanceof DomainError) throw e;
    const msg = (e as Error).message;
    throw new DomainError(ErrorCode.InvalidArgument, `failed to unpack layer${current ? ` at entry ${JSON.stringify(current)}` : ''}: ${msg}`);
  } finally {
    if (ownFsOps) await fsOps.close();
  }
}

/** berth-unpack's failure line on stderr. */
interface NativeError {
  error: string;
  refused?: boolean;
  entry?: string;
}

/**
 * Extraction by `berth-unpack <root>` reading the plain tar on stdin. The first failure decides the
 * error: the source (network, digest, decompression, maxSize) or the extractor (a refused entry, an
 * I/O error), the same errors the tar-stream path raises. The child is always gone before `root` is
 * removed.
 */
async function unpackNative(bin: string, source: Readable | AsyncIterable<Uint8Array>, root: string, opts: UnpackOptions): Promise<UnpackResult> {
  const preserveOwnership = opts.preserveOwnership ?? process.getuid?.() === 0;
  const child = spawn(bin, [preserveOwnership ? '--owner' : '--no-owner', root], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-65536)));
  // EPIPE when the extractor stops early: its exit status and stderr say why.
  child.stdin.on('error', () => undefined);
  let exitState: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
    child.once('error', (e) => resolve({ code: null, signal: null, spawnError: e }));
    child.once('close', (code, signal) => resolve((exitState = { code, signal })));
  });
  const m: Measure = { hash: createHash('sha256'), size: 0, compressedSize: 0, compression: 'none' };

  let feedError: unknown;
  try {
    for await (const chunk of plainTar(source, m, opts.maxSize)) {
      if (exitState) break;
      if (!child.stdin.write(chunk)) await Promise.race([new Promise((r) => child.stdin.once('drain', r)), exited]);
    }
    if (!exitState) child.stdin.end();
  } catch (e) {
    feedError = e;
  }
  const extractorDone = exitState !== undefined;
  if (feedError !== undefined && !extractorDone) child.kill('SIGKILL');
  const { code, signal, spawnError } = await exited;

  let error: Error | undefined;
  if (spawnError) {
    error = new DomainError(ErrorCode.Internal, `layer extractor ${bin}: ${spawnError.message}`);
  } else if (code !== 0 && (feedError === undefined || extractorDone)) {
    // The extractor failed on its own (before the source did, or with no source failure).
    const line = stderr.trim().split('\n').pop() ?? '';
    let parsed: NativeError | undefined;
    try {
      parsed = JSON.parse(line) as NativeError;
    } catch {
      parsed = undefined;
    }
    if (parsed?.error && parsed.refused) {
      error = new UnsafeLayerError(parsed.entry ?? '', '');
      error.message = parsed.error;
    } else if (parsed?.error) {
      error = new DomainError(ErrorCode.InvalidArgument, parsed.error);
    } else {
      error = new DomainError(ErrorCode.Internal, `layer extractor exited with ${signal ?? code}: ${stderr.trim().slice(-500)}`);
    }
  } else if (feedError !== undefined) {
    error =
      feedError instanceof DomainError
        ? feedError
        : new DomainError(ErrorCode.InvalidArgument, `failed to unpack layer: ${(feedError as Error).message}`);
  }
  if (error) {
    if (source instanceof Readable) source.destroy();
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  let entries = 0;
  try {
    entries = (JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { entries?: number }).entries ?? 0;
  } catch {
    // The summary is informational.
  }
  return { diffId: 'sha256:' + m.hash.digest('hex'), size: m.size, compressedSize: m.compressedSize, compression: m.compression, entries };
}
