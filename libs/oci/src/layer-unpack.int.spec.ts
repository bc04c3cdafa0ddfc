/**
 * Real unpacking as root: ownership, modes, times, xattrs, links, devices, whiteouts seen through a
 * real overlay mount, compressions, and hostile layers refused without leaving anything behind. Every
 * test runs against both extractors: tar-stream (this library) and executor-native's berth-unpack.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DomainError } from '@berth/contracts';
import { findPython } from './fs-ops';
import { unpackLayer, UnpackOptions, UnsafeLayerError } from './layer-unpack';
import { verifyingStream } from './registry-client';
import { buildLayer, busyboxRootfsEntries, LayerEntry, maliciousEntries, MaliciousKind } from './testing/image-builder';

const work = mkdtempSync(join(tmpdir(), 'berth-unpack-'));
let n = 0;
const fresh = () => join(work, `l${n++}`);
const getxattr = (path: string, name: string) =>
  execFileSync(findPython(), ['-c', `import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())`, path, name], { encoding: 'utf8' });

after(() => {
  rmSync(work, { recursive: true, force: true });
});

const nativeUnpacker = process.env.BERTH_UNPACK ?? join(__dirname, '..', '..', '..', 'executor-native', 'build', 'berth-unpack');

for (const extractor of ['tar-stream', 'native'] as const) {
describe(`layer unpack (${extractor})`, () => {
  const unpack = (source: Readable, dest: string, opts: UnpackOptions = {}) =>
    unpackLayer(source, dest, extractor === 'native' ? { ...opts, nativeUnpacker } : opts);

  if (extractor === 'native') {
    test('berth-unpack is built', () => {
      assert.ok(existsSync(nativeUnpacker), `build first: npm run build --workspace executor-native (${nativeUnpacker})`);
    });
  }

  test('runs as root (CI requires the privileged path)', () => {
    assert.equal(process.getuid?.(), 0, 'layer unpack tests need root');
  });

  for (const compression of ['gzip', 'zstd', 'none'] as const) {
    test(`busybox rootfs (${compression}): content, diffID, links`, async () => {
      const layer = await buildLayer(busyboxRootfsEntries(), { compression });
      const dest = fresh();
      const r = await unpack(Readable.from([layer.blob]), dest);
      assert.equal(r.diffId, layer.diffId);
      assert.equal(r.size, layer.tar.length);
      assert.equal(r.compression, compression);
      assert.equal(r.compressedSize, layer.blob.length);
      assert.deepEqual(readFileSync(join(dest, 'bin/busybox')), readFileSync('/bin/busybox'));
      assert.equal(statSync(join(dest, 'bin/busybox')).mode & 0o7777, 0o755);
      assert.equal(readlinkSync(join(dest, 'bin/sh')), 'busybox');
      assert.equal(statSync(join(dest, 'tmp')).mode & 0o7777, 0o1777);
      const out = execFileSync('chroot', [dest, '/bin/sh', '-c', 'echo hi from $(id -u)'], { encoding: 'utf8' });
      assert.equal(out, 'hi from 0\n');
    });
  }

  test('ownership, modes, mtimes, xattrs, hard links, devices, fifos', async () => {
    const mtime = new Date('2020-02-02T02:02:02Z');
    const entries: LayerEntry[] = [
      { name: 'd/', type: 'directory', mode: 0o750, uid: 1000, gid: 1001, mtime },
      { name: 'd/f', data: 'data', mode: 0o4755, uid: 1000, gid: 1001, mtime, pax: { 'SCHILY.xattr.user.berth': 'v1', 'SCHILY.xattr.trusted.overlay.redirect': '/etc' } },
      { name: 'd/hl', type: 'link', linkname: 'd/f' },
      { name: 'abs/hl2', type: 'link', linkname: '/d/f' },
      { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'dev/loop9', type: 'block-device', devmajor: 7, devminor: 9, mode: 0o660 },
      { name: 'run/fifo', type: 'fifo', mode: 0o620 },
      { name: 'ln', type: 'symlink', linkname: '/d/f', uid: 5, gid: 6, mtime },
      { name: '/etc/abs', data: 'inside' },
      { name: 'replace', data: 'old' },
      { name: 'replace', data: 'new' },
    ];
    const layer = await buildLayer(entries);
    const dest = fresh();
    const r = await unpack(Readable.from([layer.blob]), dest);
    assert.equal(r.diffId, layer.diffId);
    const d = lstatSync(join(dest, 'd'));
    assert.equal(d.mode & 0o7777, 0o750);
    assert.equal(d.uid, 1000);
    assert.equal(d.gid, 1001);
    assert.equal(d.mtime.getTime(), mtime.getTime());
    const f = lstatSync(join(dest, 'd/f'));
    assert.equal(f.mode & 0o7777, 0o4755);
    assert.equal(f.uid, 1000);
    assert.equal(f.mtime.getTime(), mtime.getTime());
    assert.equal(getxattr(join(dest, 'd/f'), 'user.berth'), 'v1');
    assert.throws(() => getxattr(join(dest, 'd/f'), 'trusted.overlay.redirect'));
    assert.equal(lstatSync(join(dest, 'd/hl')).ino, f.ino);
    assert.equal(lstatSync(join(dest, 'abs/hl2')).ino, f.ino);
    const nul = lstatSync(join(dest, 'dev/null'));
    assert.ok(nul.isCharacterDevice());
    assert.equal(nul.rdev, (1 << 8) | 3);
    assert.equal(nul.mode & 0o7777, 0o666);
    assert.ok(lstatSync(join(dest, 'dev/loop9')).isBlockDevice());
    const fifo = lstatSync(join(dest, 'run/fifo'));
    assert.ok(fifo.isFIFO());
    assert.equal(fifo.mode & 0o7777, 0o620);
    const ln = lstatSync(join(dest, 'ln'));
    assert.ok(ln.isSymbolicLink());
    assert.equal(ln.uid, 5);
    assert.equal(ln.mtime.getTime(), mtime.getTime());
    assert.equal(readFileSync(join(dest, 'etc/abs'), 'utf8'), 'inside');
    assert.equal(readFileSync(join(dest, 'replace'), 'utf8'), 'new');
  });

  test('whiteouts hide lower files through a real overlay mount', async () => {
    const l1 = await buildLayer([
      { name: 'd/a', data: 'a' },
      { name: 'd/b', data: 'b' },
      { name: 'f', data: 'f' },
      { name: 'o/x', data: 'x' },
      { name: 'o/sub/z', data: 'z' },
    ]);
    const l2 = await buildLayer(
      [
        { name: 'd/.wh.a', data: '' },
        { name: '.wh.f', data: '' },
        { name: 'o/', type: 'directory' },
        { name: 'o/.wh..wh..opq', data: '' },
        { name: 'o/y', data: 'y' },
        { name: '.wh..wh.plnk/', type: 'directory' },
      ],
      { compression: 'zstd' },
    );
    const lower1 = fresh();
    const lower2 = fresh();
    assert.equal((await unpack(Readable.from([l1.blob]), lower1)).diffId, l1.diffId);
    assert.equal((await unpack(Readable.from([l2.blob]), lower2)).diffId, l2.diffId);
    const wh = lstatSync(join(lower2, 'd/a'));
    assert.ok(wh.isCharacterDevice());
    assert.equal(wh.rdev, 0);
    assert.equal(getxattr(join(lower2, 'o'), 'trusted.overlay.opaque'), 'y');
    assert.ok(!existsSync(join(lower2, '.wh..wh.plnk')));
    const mnt = fresh();
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower2}:${lower1}`, mnt]);
    try {
      assert.ok(!existsSync(join(mnt, 'd/a')), 'd/a hidden by whiteout');
      assert.equal(readFileSync(join(mnt, 'd/b'), 'utf8'), 'b');
      assert.ok(!existsSync(join(mnt, 'f')), 'f hidden by whiteout');
      assert.ok(!existsSync(join(mnt, 'o/x')), 'o/x hidden by opaque dir');
      assert.ok(!existsSync(join(mnt, 'o/sub')), 'o/sub hidden by opaque dir');
      assert.equal(readFileSync(join(mnt, 'o/y'), 'utf8'), 'y');
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  const kinds: MaliciousKind[] = ['dotdot', 'dotdot-inner', 'symlink-write-through', 'symlink-dir-write-through', 'hardlink-out', 'hardlink-absolute-out', 'symlink-escape'];
  for (const kind of kinds) {
    for (const compression of ['gzip', 'none'] as const) {
      test(`malicious layer "${kind}" (${compression}) is refused and leaves nothing`, async () => {
        const victim = mkdtempSync(join(work, 'victim-'));
        writeFileSync(join(victim, 'secret'), 'secret');
        const target = kind.startsWith('hardlink') ? join(victim, 'secret') : kind === 'symlink-write-through' ? victim : join(victim, 'pwned');
        const layer = await buildLayer([{ name: 'before', data: 'x' }, ...maliciousEntries(kind, target), { name: 'after', data: 'x' }], { compression });
        const dest = fresh();
        await assert.rejects(unpack(Readable.from([layer.blob]), dest), (e: unknown) => {
          assert.ok(e instanceof UnsafeLayerError, String(e));
          assert.match((e as Error).message, /^refusing layer entry "/);
          return true;
        });
        assert.ok(!existsSync(dest), 'partial layer dir removed');
        assert.ok(!existsSync(join(victim, 'pwned')), 'nothing written outside');
        assert.equal(readFileSync(join(victim, 'secret'), 'utf8'), 'secret');
        assert.equal(statSync(join(victim, 'secret')).nlink, 1);
      });
    }
  }

  test('absolute names are confined to the layer root', async () => {
    const victim = mkdtempSync(join(work, 'victim-'));
    const layer = await buildLayer(maliciousEntries('absolute', join(victim, 'pwned')));
    const dest = fresh();
    await unpack(Readable.from([layer.blob]), dest);
    assert.ok(!existsSync(join(victim, 'pwned')));
    assert.equal(readFileSync(join(dest, victim, 'pwned'), 'utf8'), 'confined');
  });

  test('a stream failing its digest check at the end removes the layer dir', async () => {
    const layer = await buildLayer(busyboxRootfsEntries());
    const dest = fresh();
    const src = Readable.from([layer.blob]).pipe(verifyingStream({ digest: 'sha256:' + '0'.repeat(64), size: layer.blob.length }));
    await assert.rejects(unpack(src, dest), (e: unknown) => e instanceof DomainError && /digest mismatch/.test((e as Error).message));
    assert.ok(!existsSync(dest));
  });

  test('a truncated gzip stream fails and removes the layer dir', async () => {
    const layer = await buildLayer(busyboxRootfsEntries());
    const dest = fresh();
    await assert.rejects(unpack(Readable.from([layer.blob.subarray(0, layer.blob.length >> 1)]), dest), DomainError);
    assert.ok(!existsSync(dest));
  });

  test('maxSize stops a decompression bomb and removes the layer dir', async () => {
    const layer = await buildLayer([{ name: 'big', data: Buffer.alloc(5_000_000) }]);
    const dest = fresh();
    await assert.rejects(unpack(Readable.from([layer.blob]), dest, { maxSize: 1_000_000 }), /larger than 1000000 bytes/);
    assert.ok(!existsSync(dest));
  });

  test('refuses a non-empty destination', async () => {
    const dest = fresh();
    mkdirSync(dest);
    writeFileSync(join(dest, 'x'), 'x');
    const layer = await buildLayer([{ name: 'a', data: 'a' }]);
    await assert.rejects(unpack(Readable.from([layer.blob]), dest), /not empty/);
    assert.ok(existsSync(join(dest, 'x')));
  });

  if (extractor === 'native') {
    test('binary xattr values are restored byte-exact', async () => {
      const value = Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff, 0xfe, 0x80, 0x00]);
      // tar-stream writes pax values as UTF-8 strings, so the tar is built by python's tarfile here.
      const tarPath = join(work, 'xattr.tar');
      execFileSync(findPython(), ['-c', `
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape") as t:
    i = tarfile.TarInfo("f"); i.size = 1
    i.pax_headers = {"SCHILY.xattr.user.bin": bytes.fromhex(sys.argv[2]).decode("utf-8", "surrogateescape")}
    t.addfile(i, io.BytesIO(b"x"))
`, tarPath, value.toString('hex')]);
      const dest = fresh();
      await unpack(Readable.from([readFileSync(tarPath)]), dest);
      const got = execFileSync(findPython(), ['-c', 'import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], "user.bin").hex())', join(dest, 'f')], { encoding: 'utf8' });
      assert.equal(got, value.toString('hex'));
    });
  }

  test('a directory replaced by a symlink later in the layer: its deferred times go nowhere', async () => {
    const victim = mkdtempSync(join(work, 'victim-'));
    mkdirSync(join(victim, 'b'));
    const before = statSync(join(victim, 'b')).mtimeMs;
    const layer = await buildLayer([
      { name: 'a/', type: 'directory' },
      { name: 'a/b/', type: 'directory', mtime: new Date('2001-01-01T00:00:00Z') },
      { name: 'a', type: 'symlink', linkname: victim },
    ]);
    const dest = fresh();
    await unpack(Readable.from([layer.blob]), dest);
    assert.equal(readlinkSync(join(dest, 'a')), victim);
    assert.equal(statSync(join(victim, 'b')).mtimeMs, before);
  });
});
}
