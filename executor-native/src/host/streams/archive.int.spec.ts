/**
 * berth-archive against a hostile rootfs (root, real kernel): links planted to lead out
 * (/etc/passwd -> /../../../../etc/shadow, /out -> /, /esc -> the canary dir), `..` and absolute
 * names in a put tar, a link in the tar then a write through it. A canary directory outside the
 * rootfs must stay untouched and its content must never come out. Both modes: --bundle (a stopped
 * container: private overlay mount) and --pid (a live one: its mount namespace, /proc inside).
 * Build first: `npx tsc -b executor-native` and `npm run build --workspace executor-native`.
 */
import { tarEntries, type LayerEntry } from '@berth/oci/dist/testing';
import { createTempDir, randomSuffix, type TempDir } from '@berth/testing';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { berthArchivePath } from './stream-server';
import { containerChanges } from './changes';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && process.env.CI !== 'true' ? 'needs root' : false;

interface Out {
  code: number | null;
  header: { ok: boolean; code?: string; message?: string; stat?: Record<string, unknown> };
  body: Buffer;
  stderr: string;
}

function archive(where: string[], op: string[], input?: Buffer): Out {
  const r = spawnSync(berthArchivePath, [...where, ...op], { input: input ?? Buffer.alloc(0), maxBuffer: 256 * 1024 * 1024 });
  const nl = r.stdout.indexOf(10);
  return {
    code: r.status,
    header: JSON.parse(r.stdout.subarray(0, nl).toString()) as Out['header'],
    body: r.stdout.subarray(nl + 1),
    stderr: r.stderr.toString(),
  };
}

const tarList = (tar: Buffer) => execFileSync('tar', ['tvf', '-'], { input: tar, encoding: 'utf8' });

describe('berth-archive: a hostile rootfs never leads out (root, real kernel)', { skip }, () => {
  let tmp: TempDir;
  let canary: string;
  let secret: string;
  let layer: string;
  let bundle: string;
  let live: ChildProcess | undefined;

  before(() => {
    assert.ok(isRoot, 'CI=true: these tests must run as root');
    assert.ok(existsSync(berthArchivePath), `build first: npm run build --workspace executor-native (${berthArchivePath})`);
    tmp = createTempDir('bxa-');
    canary = join(tmp.path, 'canary');
    mkdirSync(canary);
    secret = `CANARY-${randomSuffix()}`;
    writeFileSync(join(canary, 'secret'), secret);
    layer = join(tmp.path, 'layer');
    for (const d of ['bin', 'etc', 'tmp', 'proc', 'dev', 'sys']) mkdirSync(join(layer, d), { recursive: true });
    copyFileSync('/bin/busybox', join(layer, 'bin', 'busybox'));
    writeFileSync(join(layer, 'etc', 'group'), 'root:x:0:\n');
    symlinkSync('/../../../../etc/shadow', join(layer, 'etc', 'passwd'));
    symlinkSync('/', join(layer, 'out'));
    symlinkSync(canary, join(layer, 'esc'));
    symlinkSync(`../../../../../../../..${canary}`, join(layer, 'esc-rel'));
    bundle = join(tmp.path, 'bundle');
    for (const d of ['upper', 'work', 'rootfs']) mkdirSync(join(bundle, d), { recursive: true });
    writeFileSync(join(bundle, 'layers.json'), JSON.stringify([layer]));
  });

  after(() => {
    if (live && live.exitCode === null) live.kill('SIGKILL'); // --kill-child: the container goes too
    // nothing we mounted stays (private namespaces die with the helper)
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(bundle), 'no mount left under the bundle');
    tmp?.remove();
  });

  const canaryIntact = () => {
    assert.deepEqual(readdirSync(canary), ['secret']);
    assert.equal(readFileSync(join(canary, 'secret'), 'utf8'), secret);
  };

  function hostileChecks(where: () => string[]) {
    it('stat: a link is reported with its target resolved inside the container', () => {
      const r = archive(where(), ['stat', '/etc/passwd']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.header.stat!.name, 'passwd');
      assert.equal(r.header.stat!.linkTarget, '/etc/shadow');
      assert.equal(Number(r.header.stat!.mode) & (1 << 27), 1 << 27);
      assert.equal(archive(where(), ['stat', '/out/etc/shadow']).header.code, 'not_found');
      assert.equal(archive(where(), ['stat', `/esc/secret`]).header.code, 'not_found');
      assert.equal(archive(where(), ['stat', `/esc-rel/secret`]).header.code, 'not_found');
    });

    it('get: links come out as links; following them stays inside', () => {
      const r = archive(where(), ['get', '/etc/passwd']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(tarList(r.body), /passwd -> \/\.\.\/\.\.\/\.\.\/\.\.\/etc\/shadow/);
      for (const p of ['/out/etc/shadow', '/esc/secret', '/esc-rel/secret', `/out${canary}/secret`]) {
        const g = archive(where(), ['get', p]);
        assert.equal(g.header.code, 'not_found', p);
        assert.ok(!g.body.includes(secret));
      }
      const all = archive(where(), ['get', '/out/']);
      assert.equal(all.code, 0, all.stderr);
      assert.ok(!all.body.includes(secret), 'the canary never comes out');
      assert.ok(!/canary\/secret/.test(tarList(all.body)), 'no entry of the canary dir');
    });

    it('put: `..` and absolute names, a link then a write through it, a destination through /out', async () => {
      const dots = archive(where(), ['put', '/tmp'], await tarEntries([{ name: `../../../../../../..${canary}/dotdot`, data: 'x' }]));
      assert.equal(dots.header.ok, true);
      assert.notEqual(dots.code, 0, 'a .. entry is refused');
      const abs = archive(where(), ['put', '/tmp'], await tarEntries([{ name: `${canary}/abs`, data: 'x' }]));
      assert.equal(abs.code, 0, abs.stderr);
      const through: LayerEntry[] = [
        { name: 'link', type: 'symlink', linkname: canary },
        { name: 'link/through', data: 'x' },
        { name: 'hl', type: 'link', linkname: `../../../../..${canary}/secret` },
      ];
      archive(where(), ['put', '/tmp'], await tarEntries(through));
      const viaOut = archive(where(), ['put', '/out/tmp'], await tarEntries([{ name: 'viaout', data: 'inside' }]));
      assert.equal(viaOut.code, 0, viaOut.stderr);
      const viaEsc = archive(where(), ['put', '/esc'], await tarEntries([{ name: 'pwned', data: 'x' }]));
      assert.equal(viaEsc.header.code, 'not_found');
      canaryIntact();
      const back = archive(where(), ['get', '/tmp/viaout']);
      assert.match(back.body.toString('latin1'), /inside/);
    });
  }

  describe('--bundle (a stopped container)', () => {
    hostileChecks(() => ['--bundle', bundle]);

    it('export: the rootfs with the planted links as links, nothing of the host', () => {
      const r = archive(['--bundle', bundle], ['export']);
      assert.equal(r.code, 0, r.stderr);
      const list = tarList(r.body);
      assert.match(list, /out -> \//);
      assert.match(list, / bin\/busybox\n/);
      assert.ok(!r.body.includes(secret));
    });

    it('changes: the upper dir against the layer', async () => {
      const changes = await containerChanges(join(bundle, 'upper'), [layer]);
      assert.ok(changes.some((c) => c.Path === '/tmp/viaout' && c.Kind === 1), JSON.stringify(changes));
      assert.ok(changes.some((c) => c.Path === '/tmp' && c.Kind === 0));
    });
  });

  describe('--pid (a live container: its mount namespace, proc mounted inside)', () => {
    before(async () => {
      const rootfs = join(bundle, 'rootfs');
      const script = [
        `mount -t overlay overlay -o lowerdir=${layer},upperdir=${bundle}/upper,workdir=${bundle}/work ${rootfs}`,
        `mount -t proc proc ${rootfs}/proc`,
        `mount -t tmpfs tmpfs ${rootfs}/dev`,
        `exec chroot ${rootfs} /bin/busybox sleep 300`,
      ].join(' && ');
      live = spawn('unshare', ['-m', '-p', '--fork', '--kill-child', '--propagation', 'private', 'sh', '-c', script], { stdio: 'ignore' });
      for (let i = 0; i < 100; i++) {
        const kids = spawnSync('pgrep', ['-f', `^/bin/busybox sleep 300$`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
        const pid = kids.map(Number).find((p) => readlinkRoot(p).startsWith(bundle));
        if (pid) {
          livePid = pid;
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('the live container did not start');
    });
    let livePid = 0;
    const readlinkRoot = (p: number) => {
      try {
        return execFileSync('readlink', [`/proc/${p}/root`], { encoding: 'utf8' }).trim();
      } catch {
        return '';
      }
    };

    hostileChecks(() => ['--pid', String(livePid)]);

    it('/proc of the container is not reachable (no magic links), /dev neither', () => {
      const r = archive(['--pid', String(livePid)], ['get', '/proc']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(tarList(r.body).trim().split('\n').length, 1, 'an empty directory');
      assert.equal(archive(['--pid', String(livePid)], ['stat', '/proc/1/root']).header.code, 'not_found');
    });
  });
});
