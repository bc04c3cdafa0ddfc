/**
 * Images end to end: the real docker CLI against a Berth started with `berth up`, pulling from and
 * pushing to real `docker-registry` instances on loopback (insecure by default), with images the test
 * builds itself (busybox-static rootfs, layers with whiteouts, a multi-platform index, a hostile layer).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { encodeRegistryAuthHeader, parseReference, RegistryClient } from '@berth/oci';
import {
  buildImage,
  buildIndex,
  buildLayer,
  busyboxRootfsEntries,
  maliciousEntries,
  pushImage,
  pushIndex,
  startTestRegistry,
  type BuiltImage,
  type TestRegistry,
} from '@berth/oci/dist/testing';
import { startBerth, type RunningBerth } from './harness';

let berth: RunningBerth;
let reg: TestRegistry;
let authReg: TestRegistry;
let busybox: BuiltImage;
const client = new RegistryClient();

async function push(registry: TestRegistry, name: string, image: BuiltImage, creds?: { username: string; password: string }) {
  const ref = parseReference(`${registry.host}/${name}`);
  return pushImage(client.repository(ref, creds, { push: true }), image, ref.tag);
}

const dataRoot = () => String(berth.config['data-root']);
const layerDirs = () => {
  const dir = join(dataRoot(), 'layers');
  return existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('.')) : [];
};
const scratchDirs = () => {
  const dir = join(dataRoot(), 'layers', '.tmp');
  return existsSync(dir) ? readdirSync(dir) : [];
};

describe('images through the docker CLI', { timeout: 900_000 }, () => {
  before(async () => {
    reg = await startTestRegistry();
    authReg = await startTestRegistry({ auth: 'htpasswd' });
    busybox = buildImage([await buildLayer(busyboxRootfsEntries())], {
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'], Labels: { 'org.berth.test': 'busybox' } },
    });
    await push(reg, 'busybox:1', busybox);
    berth = await startBerth();
  }, { timeout: 300_000 });

  after(async () => {
    await berth?.stop();
    await reg?.stop();
    await authReg?.stop();
    await client.close();
  }, { timeout: 180_000 });

  test('docker pull shows progress, then images / inspect / history show the image', async () => {
    const ref = `${reg.host}/busybox:1`;
    const out = await berth.docker(['pull', ref], { timeoutMs: 120_000 });
    assert.match(out, /Pull complete/, out);
    assert.match(out, new RegExp(`Status: Downloaded newer image for ${ref.replace(/[.]/g, '\\.')}`), out);
    assert.match(out, /Digest: sha256:[a-f0-9]{64}/, out);
    const again = await berth.docker(['pull', ref]);
    assert.match(again, /Already exists|Image is up to date/, again);

    const ls = await berth.docker(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    assert.match(ls, new RegExp(`^${reg.host.replace(/[.]/g, '\\.')}/busybox:1 ${busybox.configDescriptor.digest.slice(7, 19)}$`, 'm'), ls);

    const inspect = JSON.parse(await berth.docker(['image', 'inspect', ref]))[0];
    assert.equal(inspect.Id, busybox.configDescriptor.digest);
    assert.deepEqual(inspect.RepoTags, [ref]);
    assert.match(inspect.RepoDigests[0], new RegExp(`^${reg.host.replace(/[.]/g, '\\.')}/busybox@sha256:`));
    assert.deepEqual(inspect.Config.Cmd, ['sh']);
    assert.equal(inspect.Os, 'linux');
    assert.equal(inspect.Architecture, 'amd64');
    assert.deepEqual(inspect.RootFS.Layers, [busybox.layers[0].diffId]);
    assert.ok(inspect.Size > 500_000, `Size ${inspect.Size}`);
    const lower = String(inspect.GraphDriver.Data.LowerDir);
    assert.ok(existsSync(join(lower, 'bin', 'busybox')), `${lower}/bin/busybox is unpacked`);

    const history = await berth.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', ref]);
    assert.match(history, /berth test layer 0\|/, history);

    // docker inspect by short id works too.
    const byId = JSON.parse(await berth.docker(['image', 'inspect', busybox.configDescriptor.digest.slice(7, 19)]))[0];
    assert.equal(byId.Id, inspect.Id);
  });

  test('an invalid reference is refused with Docker\'s message; a missing image is a 404', async () => {
    const bad = await berth.dockerResult(['pull', `${reg.host}/Busybox:1`]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid reference format|must be lowercase/, bad.stderr);
    const missing = await berth.dockerResult(['pull', `${reg.host}/nothing:1`]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /manifest for .*nothing:1 not found|not found/, missing.stderr);
    const inspect = await berth.dockerResult(['image', 'inspect', 'nothing-here:1']);
    assert.notEqual(inspect.code, 0);
    assert.match(inspect.stderr, /No such image: nothing-here:1/, inspect.stderr);
  });

  test('tag, push to another repository (cross-repository mount), rmi untags then deletes', async () => {
    const src = `${reg.host}/busybox:1`;
    const dst = `${reg.host}/copy/busybox:2`;
    await berth.docker(['tag', src, dst]);
    const tags = await berth.docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.match(tags, new RegExp(`${dst.replace(/[.]/g, '\\.')}`), tags);
    const out = await berth.docker(['push', dst], { timeoutMs: 120_000 });
    assert.match(out, /Mounted from busybox|Layer already exists|Pushed/, out);
    assert.match(out, /2: digest: sha256:[a-f0-9]{64} size: \d+/, out);
    const m = await client.repository(parseReference(dst)).getManifest('2');
    assert.equal(m.manifest?.config.digest, busybox.configDescriptor.digest);

    const untag = await berth.docker(['rmi', dst]);
    assert.match(untag, new RegExp(`Untagged: ${dst.replace(/[.]/g, '\\.')}`), untag);
    assert.doesNotMatch(untag, /Deleted:/, 'the image keeps its other tag');
    assert.ok(layerDirs().length >= 1);
  });

  test('docker save | docker load round-trips the image (OCI layout + manifest.json)', async () => {
    const ref = `${reg.host}/busybox:1`;
    const tar = join(berth.dir, 'busybox.tar');
    await berth.docker(['save', '-o', tar, ref], { timeoutMs: 120_000 });
    assert.ok(existsSync(tar));
    const rm = await berth.docker(['rmi', ref]);
    assert.match(rm, /Deleted: sha256:/, rm);
    assert.equal(layerDirs().length, 0, `layers left after rmi: ${layerDirs().join(', ')}`);
    const load = await berth.docker(['load', '-i', tar], { timeoutMs: 120_000 });
    assert.match(load, new RegExp(`Loaded image: ${ref.replace(/[.]/g, '\\.')}`), load);
    const inspect = JSON.parse(await berth.docker(['image', 'inspect', ref]))[0];
    assert.equal(inspect.Id, busybox.configDescriptor.digest);
    assert.ok(existsSync(join(String(inspect.GraphDriver.Data.LowerDir), 'bin', 'busybox')));
  });

  test('images with filters: reference, label, dangling, before/since', async () => {
    const whiteouts = buildImage(
      [
        await buildLayer([{ name: 'a/', type: 'directory' }, { name: 'a/gone', data: 'x' }, { name: 'keep', data: 'k' }]),
        await buildLayer([{ name: 'a/.wh.gone', data: '' }, { name: 'b/', type: 'directory' }, { name: 'b/.wh..wh..opq', data: '' }]),
      ],
      { created: '2024-06-01T00:00:00Z', config: { Cmd: ['true'], Labels: { tier: 'two' } } },
    );
    await push(reg, 'layered:1', whiteouts);
    await berth.docker(['pull', `${reg.host}/layered:1`], { timeoutMs: 120_000 });
    const inspect = JSON.parse(await berth.docker(['image', 'inspect', `${reg.host}/layered:1`]))[0];
    const lowers = String(inspect.GraphDriver.Data.LowerDir).split(':');
    assert.equal(lowers.length, 2);
    assert.ok(existsSync(join(lowers[0], 'a', 'gone')), 'the whiteout is a device node in the upper layer');

    const byRef = await berth.docker(['images', '--filter', `reference=${reg.host}/lay*`, '--format', '{{.Repository}}']);
    assert.deepEqual(byRef.trim().split('\n'), [`${reg.host}/layered`]);
    const byLabel = await berth.docker(['images', '--filter', 'label=tier=two', '--format', '{{.Repository}}']);
    assert.deepEqual(byLabel.trim().split('\n'), [`${reg.host}/layered`]);
    const since = await berth.docker(['images', '--filter', `since=${reg.host}/busybox:1`, '--format', '{{.Repository}}']);
    assert.match(since, /layered/);
    const before = await berth.docker(['images', '--filter', `before=${reg.host}/layered:1`, '--format', '{{.Repository}}']);
    assert.doesNotMatch(before, /layered/);
    // Tag the busybox image over layered's tag: layered becomes dangling.
    await berth.docker(['tag', `${reg.host}/busybox:1`, `${reg.host}/layered:1`]);
    const dangling = await berth.docker(['images', '--filter', 'dangling=true', '--format', '{{.ID}}']);
    assert.equal(dangling.trim(), whiteouts.configDescriptor.digest.slice(7, 19));
    const prune = await berth.docker(['image', 'prune', '-f']);
    assert.match(prune, /deleted: sha256:|Deleted/i, prune);
    await berth.docker(['rmi', `${reg.host}/layered:1`]);
  });

  test('multi-platform index: linux/amd64 by default, --platform picks another', async () => {
    const amd = buildImage([await buildLayer([{ name: 'arch', data: 'amd64' }])], { format: 'oci', platform: { os: 'linux', architecture: 'amd64' } });
    const arm = buildImage([await buildLayer([{ name: 'arch', data: 'arm64' }])], { format: 'oci', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    await pushIndex(client.repository(parseReference(`${reg.host}/multi`), undefined, { push: true }), buildIndex([amd, arm]), 'v1');
    await berth.docker(['pull', `${reg.host}/multi:v1`]);
    let inspect = JSON.parse(await berth.docker(['image', 'inspect', `${reg.host}/multi:v1`]))[0];
    assert.equal(inspect.Architecture, 'amd64');
    await berth.docker(['pull', '--platform', 'linux/arm64', `${reg.host}/multi:v1`]);
    inspect = JSON.parse(await berth.docker(['image', 'inspect', `${reg.host}/multi:v1`]))[0];
    assert.equal(inspect.Architecture, 'arm64');
    assert.equal(inspect.Id, arm.configDescriptor.digest);
  });

  test('docker login against an htpasswd registry, then pull with the stored credentials', async () => {
    await push(authReg, 'private:1', busybox, { username: authReg.username, password: authReg.password });
    const denied = await berth.dockerResult(['pull', `${authReg.host}/private:1`]);
    assert.notEqual(denied.code, 0, 'an anonymous pull is refused');
    const wrong = await berth.dockerResult(['login', '-u', authReg.username, '--password-stdin', authReg.host], { input: 'wrong\n' });
    assert.notEqual(wrong.code, 0);
    const ok = await berth.docker(['login', '-u', authReg.username, '--password-stdin', authReg.host], { input: `${authReg.password}\n` });
    assert.match(ok, /Login Succeeded/);
    const out = await berth.docker(['pull', `${authReg.host}/private:1`], { timeoutMs: 120_000 });
    assert.match(out, /Downloaded newer image|Image is up to date/, out);
    await berth.docker(['rmi', `${authReg.host}/private:1`]);
    void encodeRegistryAuthHeader;
  });

  test('a malicious layer is refused and leaves nothing behind', async () => {
    const before = new Set(layerDirs());
    const evil = buildImage([await buildLayer(busyboxRootfsEntries()), await buildLayer(maliciousEntries('dotdot', '/tmp/berth-e2e-pwned'))]);
    await push(reg, 'evil:1', evil);
    const r = await berth.dockerResult(['pull', `${reg.host}/evil:1`], { timeoutMs: 120_000 });
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stdout + r.stderr, /refusing layer entry|\.\./, r.stdout + r.stderr);
    assert.ok(!existsSync('/tmp/berth-e2e-pwned'));
    const images = await berth.docker(['images', '-a', '--format', '{{.Repository}}']);
    assert.doesNotMatch(images, /evil/);
    assert.deepEqual(new Set(layerDirs()), before, 'no layer directory was added');
    assert.deepEqual(scratchDirs(), []);
    assert.ok(!existsSync(join(dataRoot(), 'blobs', 'sha256', evil.layers[1].descriptor.digest.slice(7))), 'the refused blob is gone');
  });

  test('a registry that drops the connection mid-blob: an error, no image, and a retry succeeds', async () => {
    const big = buildImage([
      await buildLayer([{ name: 'big.bin', data: Buffer.alloc(6 * 1024 * 1024, 7) }], { compression: 'none' }),
      await buildLayer([{ name: 'small', data: 'x' }]),
    ]);
    await push(reg, 'flaky:1', big);
    const target = big.layers[0].descriptor.digest;
    let dropped = 0;
    const proxy: Server = createServer((req, res) => {
      const up = httpRequest(`${reg.url}${req.url}`, { method: req.method, headers: { ...req.headers, host: reg.host } }, (ures) => {
        res.writeHead(ures.statusCode ?? 502, ures.headers);
        if (req.method === 'GET' && req.url?.includes(`/blobs/${target}`) && dropped === 0 && ures.statusCode === 200) {
          dropped++;
          let sent = 0;
          ures.on('data', (c: Buffer) => {
            sent += c.length;
            res.write(c);
            if (sent > 1024 * 1024) {
              ures.destroy();
              res.socket?.destroy();
            }
          });
          return;
        }
        ures.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const first = await berth.dockerResult(['pull', `${host}/flaky:1`], { timeoutMs: 120_000 });
      assert.notEqual(first.code, 0, first.stdout);
      assert.equal(dropped, 1);
      const none = await berth.dockerResult(['image', 'inspect', `${host}/flaky:1`]);
      assert.notEqual(none.code, 0, 'no half image after the failure');
      const second = await berth.docker(['pull', `${host}/flaky:1`], { timeoutMs: 120_000 });
      assert.match(second, /Downloaded newer image/, second);
      const inspect = JSON.parse(await berth.docker(['image', 'inspect', `${host}/flaky:1`]))[0];
      assert.equal(inspect.Id, big.configDescriptor.digest);
      assert.deepEqual(scratchDirs(), []);
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });

  test('docker import with changes; docker search answers with a clear error offline', async () => {
    const tar = join(berth.dir, 'rootfs.tar');
    const { tarEntries } = await import('@berth/oci/dist/testing');
    writeFileSync(tar, await tarEntries([{ name: 'hello.txt', data: 'hi' }]));
    const id = (await berth.docker(['import', '-c', 'CMD ["/hello"]', '-c', 'ENV A=b', '-m', 'from e2e', tar, 'imported:1'])).trim();
    assert.match(id, /^sha256:[a-f0-9]{64}$/);
    const inspect = JSON.parse(await berth.docker(['image', 'inspect', 'imported:1']))[0];
    assert.deepEqual(inspect.Config.Cmd, ['/hello']);
    assert.deepEqual(inspect.Config.Env, ['A=b']);
    assert.equal(inspect.Comment, 'from e2e');
    await berth.docker(['rmi', 'imported:1']);
    const search = await berth.dockerResult(['search', 'busybox'], { timeoutMs: 30_000 });
    if (search.code !== 0) assert.match(search.stderr, /no registry index is reachable/, search.stderr);
  });

  test('docker events shows pull, tag, untag, delete, push, save, load', async () => {
    const out = await berth.docker(['events', '--since', '0', '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'type=image', '--format', '{{.Action}}'], { timeoutMs: 60_000 });
    const actions = new Set(out.split('\n').filter(Boolean));
    for (const a of ['pull', 'tag', 'untag', 'delete', 'push', 'save', 'load']) assert.ok(actions.has(a), `no image ${a} event in: ${[...actions].join(', ')}`);
  });
});
