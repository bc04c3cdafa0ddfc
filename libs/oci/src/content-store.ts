/**
 * Content-addressed blob store: `<root>/blobs/sha256/<hex>`. A blob appears there only after its
 * digest (and size, when known) has been verified; until then it lives in `<root>/ingest/<hex>.partial`,
 * which a later attempt may resume from (HTTP Range).
 */
import { createHash, Hash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, ReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DomainError, ErrorCode } from '@berth/contracts';
import { digestHex } from './manifest';

export interface ExpectedBlob {
  digest: string;
  /** When given, a longer or shorter stream is refused. */
  size?: number;
}

export interface WriteOptions {
  /** Append to the partial file of an earlier attempt (the source starts at `partialSize()`). */
  resume?: boolean;
  onProgress?: (written: number) => void;
}

export class DigestMismatchError extends DomainError {
  constructor(
    readonly expected: string,
    readonly actual: string,
    detail = '',
  ) {
    super(ErrorCode.InvalidArgument, `digest mismatch: expected ${expected}, got ${actual}${detail}`);
    this.name = 'DigestMismatchError';
  }
}

export class ContentStore {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(readonly root: string) {}

  blobPath(digest: string): string {
    return join(this.root, 'blobs', 'sha256', digestHex(digest));
  }

  private partialPath(digest: string): string {
    return join(this.root, 'ingest', `${digestHex(digest)}.partial`);
  }

  async has(digest: string): Promise<boolean> {
    return (await this.size(digest)) !== undefined;
  }

  /** Size in bytes, undefined when absent. */
  async size(digest: string): Promise<number | undefined> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  open(digest: string, opts: { start?: number } = {}): ReadStream {
    return createReadStream(this.blobPath(digest), opts);
  }

  async read(digest: string): Promise<Buffer> {
    try {
      return await readFile(this.blobPath(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DomainError(ErrorCode.NotFound, `blob ${digest} not found`);
      throw e;
    }
  }

  async delete(digest: string): Promise<boolean> {
    try {
      await unlink(this.blobPath(digest));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  /** Bytes kept from an interrupted write, 0 when none. */
  async partialSize(digest: string): Promise<number> {
    try {
      return (await stat(this.partialPath(digest))).size;
    } catch {
      return 0;
    }
  }

  async discardPartial(digest: string): Promise<void> {
    await rm(this.partialPath(digest), { force: true });
  }

  /** Writes bytes whose digest is computed (or checked against `expected`). */
  async put(bytes: Uint8Array, expected?: string): Promise<string> {
    const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
    if (expected && expected !== digest) throw new DigestMismatchError(expected, digest);
    if (await this.has(digest)) return digest;
    const dir = join(this.root, 'ingest');
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `${digestHex(digest)}.${randomBytes(4).toString('hex')}.tmp`);
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await this.commit(digest, tmp);
    return digest;
  }

  /**
   * Streams `source` into the store, verifying digest and size. On a digest or size mismatch the
   * partial data is removed and DigestMismatchError thrown; on a source error the partial data is
   * kept (for `resume`) and the error rethrown. Concurrent writes of one digest are serialized.
   */
  async write(expected: ExpectedBlob, source: Readable | AsyncIterable<Uint8Array>, opts: WriteOptions = {}): Promise<ExpectedBlob & { size: number }> {
    return this.withLock(expected.digest, async () => {
      const existing = await this.size(expected.digest);
      if (existing !== undefined) {
        if (source instanceof Readable) source.destroy();
        return { digest: expected.digest, size: existing };
      }
      const partial = this.partialPath(expected.digest);
      await mkdir(join(this.root, 'ingest'), { recursive: true });
      const hash = createHash('sha256');
      let written = 0;
      if (opts.resume) {
        written = await hashFile(partial, hash);
      }
      const out = createWriteStream(partial, { flags: opts.resume && written > 0 ? 'a' : 'w', mode: 0o644 });
      const closed = new Promise<void>((resolve, reject) => {
        out.on('close', resolve);
        out.on('error', reject);
      });
      try {
        for await (const chunk of source as AsyncIterable<Uint8Array>) {
          written += chunk.length;
          if (expected.size !== undefined && written > expected.size) {
            throw new DigestMismatchError(expected.digest, 'unknown', ` (more than the expected ${expected.size} bytes)`);
          }
          hash.update(chunk);
          if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
          opts.onProgress?.(written);
        }
        await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
        await closed;
      } catch (e) {
        out.destroy();
        await closed.catch(() => undefined);
        if (e instanceof DigestMismatchError) await rm(partial, { force: true });
        throw e;
      }
      const actual = 'sha256:' + hash.digest('hex');
      if (actual !== expected.digest || (expected.size !== undefined && written !== expected.size)) {
        await rm(partial, { force: true });
        throw new DigestMismatchError(expected.digest, actual, expected.size !== undefined && written !== expected.size ? ` (size ${written}, expected ${expected.size})` : '');
      }
      await this.commit(expected.digest, partial);
      return { digest: expected.digest, size: written };
    });
  }

  private async commit(digest: string, tmp: string): Promise<void> {
    const dest = this.blobPath(digest);
    await mkdir(join(this.root, 'blobs', 'sha256'), { recursive: true });
    await rename(tmp, dest);
  }

  private async withLock<T>(digest: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(digest) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(fn);
    const tail = run.catch(() => undefined);
    this.locks.set(digest, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(digest) === tail) this.locks.delete(digest);
    }
  }
}

async function hashFile(path: string, hash: Hash): Promise<number> {
  let n = 0;
  try {
    for await (const chunk of createReadStream(path)) {
      hash.update(chunk as Buffer);
      n += (chunk as Buffer).length;
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  return n;
}
