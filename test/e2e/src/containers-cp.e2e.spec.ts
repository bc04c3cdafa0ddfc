/**
 * docker cp (both ways), docker diff and docker export through the real CLI, on the busybox image
 * of containers.e2e.spec.ts; a hostile container plants links out of itself (/etc/passwd ->
 * /../../../../etc/shadow, /out -> /, /hostetc -> ../../../../etc): nothing outside the
 * container's rootfs is ever read or written.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseReference, RegistryClient } from '@berth/oci';
import { buildImage, buildLayer, busyboxRootfsEntries, pushImage, startTestRegistry, type TestRegistry } from '@berth/oci/dist/testing';
import { createTempDir, randomSuffix, type TempDir } from '@berth/testing';
import { startBerth, type RunningBerth } from './harness';

let berth: RunningBerth;
let reg: TestRegistry;
let image: string;
let tmp: TempDir;
const client = new RegistryClient();

describe('docker cp, diff, export through the docker CLI', { timeout: 900_000 }, () => {
  before(async () => {
    reg = await startTestRegistry();
    const base = await buildLayer(busyboxRootfsEntries());
    const config = { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] };
    image = `${reg.host}/busybox:1`;
    await pushImage(client.repository(parseReference(image), undefined, { push: true }), buildImage([base], { config }), '1');
    tmp = createTempDir('berth-cp-');
    berth = await startBerth();
    await berth.docker(['pull', image], { timeoutMs: 120_000 });
  }, { timeout: 300_000 });

  after(async () => {
    await berth?.stop();
    await reg?.stop();
    await client.close();
    tmp?.remove();
  }, { timeout: 180_000 });

  const local = (...p: string[]) => join(tmp.path, ...p);

  test('cp a file and a directory into a running container and back out', async () => {
    const name = `cp-${randomSuffix()}`;
    await berth.docker(['run', '-d', '--name', name, image, 'sleep', '300']);
    writeFileSync(local('file.txt'), 'hello from the host\n');
    await berth.docker(['cp', local('file.txt'), `${name}:/tmp/`]);
    assert.equal(await berth.docker(['exec', name, 'cat', '/tmp/file.txt']), 'hello from the host\n');

    // a file out: /etc/hostname is the container's own
    mkdirSync(local('out1'));
    await berth.docker(['cp', `${name}:/etc/hostname`, local('out1')]);
    const id = (await berth.docker(['inspect', '-f', '{{.Id}}', name])).trim();
    assert.equal(readFileSync(local('out1', 'hostname'), 'utf8'), `${id.slice(0, 12)}\n`);

    // directories both ways
    mkdirSync(local('tree', 'sub'), { recursive: true });
    writeFileSync(local('tree', 'a'), 'A');
    writeFileSync(local('tree', 'sub', 'b'), 'B');
    await berth.docker(['cp', local('tree'), `${name}:/tmp/tree`]);
    assert.equal(await berth.docker(['exec', name, 'cat', '/tmp/tree/a', '/tmp/tree/sub/b']), 'AB');
    await berth.docker(['exec', name, 'sh', '-c', 'mkdir -p /data/x && echo c > /data/x/c && ln -s c /data/x/l']);
    await berth.docker(['cp', `${name}:/data`, local('data-out')]);
    assert.equal(readFileSync(local('data-out', 'x', 'c'), 'utf8'), 'c\n');
    assert.equal(readlinkSync(local('data-out', 'x', 'l')), 'c');
    // contents only with /.
    mkdirSync(local('dot'));
    await berth.docker(['cp', `${name}:/data/x/.`, local('dot')]);
    assert.deepEqual(readdirSync(local('dot')).sort(), ['c', 'l']);

    // a missing path: Docker's 404 wording
    const missing = await berth.dockerResult(['cp', `${name}:/nope`, local('nope')]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, new RegExp(`Could not find the file /nope in container ${name}`));
    await berth.docker(['rm', '-f', name]);
  });

  test('cp into a created, never started container, then start it', async () => {
    const name = `created-${randomSuffix()}`;
    await berth.docker(['create', '--name', name, image, 'cat', '/opt/greeting']);
    writeFileSync(local('greeting'), 'before start\n');
    const mk = await berth.dockerResult(['cp', local('greeting'), `${name}:/opt/greeting`]);
    // /opt does not exist in the image: Docker answers that the destination directory is missing
    assert.notEqual(mk.code, 0);
    await berth.docker(['cp', local('greeting'), `${name}:/tmp/greeting`]);
    await berth.docker(['rm', name]);

    const name2 = `created-${randomSuffix()}`;
    await berth.docker(['create', '--name', name2, image, 'cat', '/tmp/greeting']);
    await berth.docker(['cp', local('greeting'), `${name2}:/tmp/greeting`]);
    assert.equal(await berth.docker(['start', '-a', name2]), 'before start\n');
    // a stopped container too (the overlay is mounted privately for the copy)
    await berth.docker(['cp', `${name2}:/tmp/greeting`, local('greeting-back')]);
    assert.equal(readFileSync(local('greeting-back'), 'utf8'), 'before start\n');
    await berth.docker(['rm', name2]);
  });

  test('docker diff and docker export', async () => {
    const name = `diff-${randomSuffix()}`;
    await berth.docker(['run', '-d', '--name', name, image, 'sleep', '300']);
    // as Docker's: the mount points and /.dockerenv are in the init layer, not the container's own
    assert.equal(await berth.docker(['diff', name]), '');
    await berth.docker(['exec', name, 'sh', '-c', 'echo n > /tmp/new && rm /bin/ls && echo x >> /etc/group']);
    const diff = (await berth.docker(['diff', name])).split('\n').filter(Boolean);
    for (const want of ['C /tmp', 'A /tmp/new', 'C /bin', 'D /bin/ls', 'C /etc', 'C /etc/group']) assert.ok(diff.includes(want), `${want} in ${diff.join(', ')}`);
    assert.ok(!diff.some((l) => /\/etc\/(hosts|hostname|resolv\.conf)$|^. \/(proc|sys|dev)$/.test(l)), diff.join(', '));

    await berth.docker(['export', '-o', local('export.tar'), name]);
    const entries = execFileSync('tar', ['tf', local('export.tar')], { encoding: 'utf8' }).split('\n');
    for (const want of ['bin/busybox', 'etc/passwd', 'tmp/new', '.dockerenv', 'etc/hosts']) assert.ok(entries.includes(want), `${want} exported`);
    assert.ok(!entries.includes('bin/ls'), 'a deleted file is not exported');
    assert.ok(!entries.some((e) => /^proc\/.|^sys\/./.test(e)), 'no /proc or /sys content');
    await berth.docker(['rm', '-f', name]);
  });

  test('a hostile container: its symlinks never lead out of its rootfs', async () => {
    const canaryDir = createTempDir('berth-canary-');
    const secret = `CANARY-${randomSuffix()}`;
    writeFileSync(join(canaryDir.path, 'secret'), secret);
    const hostHostname = readFileSync('/etc/hostname', 'utf8');
    try {
      const name = `hostile-${randomSuffix()}`;
      await berth.docker(['run', '-d', '--name', name, image, 'sleep', '300']);
      // planted by the container itself (the image unpacker refuses such links in layers)
      await berth.docker(['exec', name, 'sh', '-c', 'ln -s / /out && ln -s ../../../../../../etc /hostetc && ln -sf /../../../../etc/shadow /etc/passwd']);
      const id = (await berth.docker(['inspect', '-f', '{{.Id}}', name])).trim();
      // the symlink itself comes out (as a tar entry; the CLI itself refuses to write such a link)
      const tarOut = await berth.dockerResult(['cp', `${name}:/etc/passwd`, '-']);
      assert.match(tarOut.stdout, /\/\.\.\/\.\.\/\.\.\/\.\.\/etc\/shadow/);
      assert.doesNotMatch(tarOut.stdout, /root:/);
      mkdirSync(local('h1'));
      const followed = await berth.dockerResult(['cp', '-L', `${name}:/etc/passwd`, local('h1', 'followed')]);
      assert.notEqual(followed.code, 0);
      assert.match(followed.stderr, /Could not find the file/);
      assert.ok(!existsSync(local('h1', 'followed')));
      // /hostetc/hostname and /out/etc/hostname are the container's, not the host's
      await berth.docker(['cp', `${name}:/hostetc/hostname`, local('h2')]);
      assert.equal(readFileSync(local('h2'), 'utf8'), `${id.slice(0, 12)}\n`);
      assert.notEqual(readFileSync(local('h2'), 'utf8'), hostHostname);
      await berth.docker(['cp', `${name}:/out/etc/hostname`, local('h3')]);
      assert.equal(readFileSync(local('h3'), 'utf8'), `${id.slice(0, 12)}\n`);
      // the host's canary is not reachable through /out
      const read = await berth.dockerResult(['cp', `${name}:/out${canaryDir.path}/secret`, local('h4')]);
      assert.notEqual(read.code, 0);
      assert.ok(!existsSync(local('h4')));
      // writing through /out lands in the container
      writeFileSync(local('payload'), 'payload\n');
      await berth.docker(['cp', local('payload'), `${name}:/out/tmp/`]);
      assert.equal(await berth.docker(['exec', name, 'cat', '/tmp/payload']), 'payload\n');
      const write = await berth.dockerResult(['cp', local('payload'), `${name}:/out${canaryDir.path}/`]);
      assert.notEqual(write.code, 0);
      // a stopped hostile container: the same through the private overlay mount
      await berth.docker(['stop', '-t', '0', name]);
      await berth.docker(['cp', `${name}:/hostetc/group`, local('h5')]);
      assert.match(readFileSync(local('h5'), 'utf8'), /^root:x:0:/);
      assert.equal(readFileSync(local('h5'), 'utf8'), 'root:x:0:\nnogroup:x:65534:\n');
      await berth.docker(['rm', '-f', name]);
      assert.deepEqual(readdirSync(canaryDir.path), ['secret']);
      assert.equal(readFileSync(join(canaryDir.path, 'secret'), 'utf8'), secret);
      for (const f of ['h2', 'h3', 'h5']) assert.ok(!readFileSync(local(f), 'utf8').includes(secret));
    } finally {
      canaryDir.remove();
    }
  });
});
