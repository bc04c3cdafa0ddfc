/**
 * Push → pull round trips through RegistryClient against a real docker-registry (anonymous, htpasswd,
 * bearer tokens), index selection, layer compressions, digest verification, a connection cut
 * mid-blob, and cross-repository mounts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, request as httpRequest, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DomainError, ErrorCode } from '@berth/contracts';
import { ContentStore, DigestMismatchError } from './content-store';
import { encodeRegistryAuthHeader, decodeRegistryAuthHeader } from './auth';
import { parseReference } from './reference';
import { RegistryClient } from './registry-client';
import { buildImage, buildIndex, buildLayer, busyboxRootfsEntries, pushImage, pushIndex } from './testing/image-builder';
import { startTestRegistry, TestRegistry } from './testing/registry';

const tmp = () => mkdtempSync(join(tmpdir(), 'berth-oci-'));

async function smallImage(compression: 'gzip' | 'zstd' | 'none' = 'gzip', format: 'docker' | 'oci' = 'docker', marker = 'x') {
  const l1 = await buildLayer([{ name: 'a/', type: 'directory' }, { name: 'a/file', data: `hello ${marker}\n` }], { compression, format });
  const l2 = await buildLayer([{ name: 'b', data: Buffer.alloc(300_000, marker) }], { compression, format });
  return buildImage([l1, l2], { format });
}

describe('registry client: anonymous registry', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  const dirs: string[] = [];
  before(async () => {
    reg = await startTestRegistry();
    client = new RegistryClient();
  });
  after(async () => {
    await client.close();
    await reg.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('ping finds plain HTTP for a loopback registry', async () => {
    const p = await client.ping(reg.host);
    assert.equal(p.baseUrl, `http://${reg.host}`);
    assert.equal(p.challenge, undefined);
  });

  for (const [compression, format] of [['gzip', 'docker'], ['gzip', 'oci'], ['zstd', 'oci'], ['none', 'oci']] as const) {
    test(`push then pull a ${format} image with ${compression} layers`, async () => {
      const img = await smallImage(compression, format, compression);
      const ref = parseReference(`${reg.host}/rt/${compression}-${format}:v1`);
      const pushed = await pushImage(client.repository(ref, undefined, { push: true }), img, ref.tag);
      assert.equal(pushed, img.manifestDescriptor.digest);

      const head = await client.repository(ref).headManifest('v1');
      assert.equal(head.digest, img.manifestDescriptor.digest);
      assert.equal(head.mediaType, img.manifestDescriptor.mediaType);

      const dir = tmp();
      dirs.push(dir);
      const store = new ContentStore(dir);
      const progress: string[] = [];
      const pulled = await client.repository(ref).pullImage('v1', store, { onProgress: (p) => progress.push(p.action) });
      assert.equal(pulled.repoDigest, img.manifestDescriptor.digest);
      assert.equal(pulled.configDigest, img.configDescriptor.digest);
      assert.deepEqual(pulled.config.rootfs.diff_ids, img.layers.map((l) => l.diffId));
      for (const l of img.layers) assert.deepEqual(await store.read(l.descriptor.digest), l.blob);
      assert.ok(progress.includes('downloaded'));
      // Second pull: everything cached.
      const again = await client.repository(ref).pullImage('v1', store);
      assert.deepEqual(again.layers.map((l) => l.action), ['cached', 'cached']);
      // skopeo agrees on the digest.
      const out = execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref.name}:v1`]);
      assert.deepEqual(out, img.manifestBytes);
    });
  }

  test('multi-platform index: default linux/amd64, linux/arm64/v8, arm/v7, missing platform', async () => {
    const amd = buildImage([await buildLayer([{ name: 'arch', data: 'amd64' }])], { format: 'oci', platform: { os: 'linux', architecture: 'amd64' } });
    const arm64 = buildImage([await buildLayer([{ name: 'arch', data: 'arm64' }])], { format: 'oci', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } });
    const armv7 = buildImage([await buildLayer([{ name: 'arch', data: 'armv7' }])], { format: 'oci', platform: { os: 'linux', architecture: 'arm', variant: 'v7' } });
    const index = buildIndex([amd, arm64, armv7]);
    const ref = parseReference(`${reg.host}/multi/app:latest`);
    const digest = await pushIndex(client.repository(ref, undefined, { push: true }), index, 'latest');
    assert.equal(digest, index.descriptor.digest);
    const repo = client.repository(ref);
    const a = await repo.resolveImage('latest', 'linux/amd64');
    assert.equal(a.repoDigest, index.descriptor.digest);
    assert.equal(a.manifest.descriptor.digest, amd.manifestDescriptor.digest);
    assert.equal((await repo.resolveImage('latest', 'linux/arm64/v8')).manifest.descriptor.digest, arm64.manifestDescriptor.digest);
    assert.equal((await repo.resolveImage('latest', 'linux/arm64')).manifest.descriptor.digest, arm64.manifestDescriptor.digest);
    assert.equal((await repo.resolveImage('latest', 'linux/arm/v7')).manifest.descriptor.digest, armv7.manifestDescriptor.digest);
    assert.equal((await repo.resolveImage('latest', 'linux/arm')).manifest.descriptor.digest, armv7.manifestDescriptor.digest);
    await assert.rejects(repo.resolveImage('latest', 'linux/s390x'), (e: DomainError) => e.code === ErrorCode.NotFound && /no matching manifest for linux\/s390x/.test(e.message));
    // By digest of the index, too.
    assert.equal((await repo.resolveImage(index.descriptor.digest)).manifest.descriptor.digest, amd.manifestDescriptor.digest);
  });

  test('unknown tag and unknown repository give Docker-like errors', async () => {
    const ref = parseReference(`${reg.host}/rt/gzip-docker`);
    await assert.rejects(client.repository(ref).getManifest('nope'), (e: DomainError) => e.code === ErrorCode.NotFound && e.message.startsWith(`manifest for ${reg.host}/rt/gzip-docker:nope not found: manifest unknown`));
  });

  test('a corrupted blob is refused and nothing is stored', async () => {
    const img = await smallImage('gzip', 'docker', 'corrupt');
    const ref = parseReference(`${reg.host}/corrupt/app:v1`);
    await pushImage(client.repository(ref, undefined, { push: true }), img, 'v1');
    const layer = img.layers[1].descriptor;
    const hex = layer.digest.slice(7);
    const blobFile = join(reg.root, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    const bad = Buffer.from(img.layers[1].blob);
    bad[bad.length - 20] ^= 0xff;
    writeFileSync(blobFile, bad);
    const dir = tmp();
    dirs.push(dir);
    const store = new ContentStore(dir);
    await assert.rejects(client.repository(ref).fetchBlob(layer, store), DigestMismatchError);
    assert.equal(await store.has(layer.digest), false);
    assert.equal(await store.partialSize(layer.digest), 0);
    // A verified in-memory read is refused as well, and so is a streamed read at its end.
    await assert.rejects(client.repository(ref).fetchBlobBytes(layer), DigestMismatchError);
    const s = await client.repository(ref).openBlob(layer);
    await assert.rejects(async () => {
      for await (const _ of s) void _;
    }, DigestMismatchError);
  });

  test('a manifest whose bytes do not match the requested digest is refused', async () => {
    const img = await smallImage('gzip', 'docker', 'mdigest');
    const ref = parseReference(`${reg.host}/mdigest/app:v1`);
    await pushImage(client.repository(ref, undefined, { push: true }), img, 'v1');
    const hex = img.manifestDescriptor.digest.slice(7);
    const file = join(reg.root, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    writeFileSync(file, Buffer.from(img.manifestBytes.toString().replace('"schemaVersion": 2', '"schemaVersion":2')));
    await assert.rejects(client.repository(ref).getManifest(img.manifestDescriptor.digest), DigestMismatchError);
  });

  test('connection cut mid-blob: error, nothing in the store, retry resumes and succeeds', async () => {
    const img = await smallImage('none', 'oci', 'cut');
    const ref = parseReference(`${reg.host}/cut/app:v1`);
    await pushImage(client.repository(ref, undefined, { push: true }), img, 'v1');
    const target = img.layers[1].descriptor;
    let cuts = 0;
    const ranges: Array<string | undefined> = [];
    const proxy: Server = createServer((req, res) => {
      const isTarget = req.url?.includes(`/blobs/${target.digest}`) && req.method === 'GET';
      if (isTarget) ranges.push(req.headers.range);
      const up = httpRequest({ host: '127.0.0.1', port: Number(reg.host.split(':')[1]), path: req.url, method: req.method, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        if (isTarget && cuts === 0) {
          cuts++;
          let sent = 0;
          ur.on('data', (c: Buffer) => {
            if (sent > 100_000) return;
            sent += c.length;
            res.write(c);
            if (sent > 100_000) {
              ur.destroy();
              // Let the bytes already written reach the client, then cut.
              setTimeout(() => res.socket?.destroy(), 200);
            }
          });
          return;
        }
        ur.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyHost = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const dir = tmp();
    dirs.push(dir);
    const store = new ContentStore(dir);
    const c2 = new RegistryClient();
    try {
      const repo = c2.repository(parseReference(`${proxyHost}/cut/app`));
      await assert.rejects(repo.fetchBlob(target, store), (e: Error) => e instanceof Error && !(e instanceof DigestMismatchError));
      assert.equal(await store.has(target.digest), false);
      assert.ok(!existsSync(join(dir, 'blobs', 'sha256', target.digest.slice(7))));
      assert.ok((await store.partialSize(target.digest)) > 0, 'partial data kept for resume');
      assert.equal(await repo.fetchBlob(target, store), 'downloaded');
      assert.deepEqual(await store.read(target.digest), img.layers[1].blob);
      assert.equal(ranges.length, 2);
      assert.equal(ranges[0], undefined);
      assert.match(ranges[1] ?? '', /^bytes=\d+-$/);
      assert.equal(readdirSync(join(dir, 'ingest')).length, 0);
    } finally {
      await c2.close();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });

  test('cross-repository mount during push', async () => {
    const img = await smallImage('gzip', 'docker', 'mount');
    const src = parseReference(`${reg.host}/mount/src:v1`);
    await pushImage(client.repository(src, undefined, { push: true }), img, 'v1');
    const dst = parseReference(`${reg.host}/mount/dst:v1`);
    const repo = client.repository(dst, undefined, { push: true });
    const actions: string[] = [];
    for (const d of [...img.layers.map((l) => l.descriptor), img.configDescriptor]) {
      actions.push(await repo.pushBlob(d, () => { throw new Error('must not upload'); }, { mountFrom: ['mount/src'] }));
    }
    assert.deepEqual(actions, ['mounted', 'mounted', 'mounted']);
    assert.equal(await repo.putManifest('v1', img.manifestBytes, img.manifestDescriptor.mediaType), img.manifestDescriptor.digest);
    // A mount from a repository without the blob falls back to a normal upload.
    const other = await buildLayer([{ name: 'fresh', data: 'fresh' }]);
    const { Readable } = await import('node:stream');
    assert.equal(await repo.pushBlob(other.descriptor, () => Readable.from([other.blob]), { mountFrom: ['mount/nowhere'] }), 'uploaded');
    assert.equal(await repo.pushBlob(other.descriptor, () => Readable.from([other.blob])), 'exists');
  });

  test('busybox rootfs image round trip', async () => {
    const layer = await buildLayer(busyboxRootfsEntries());
    const img = buildImage([layer]);
    const ref = parseReference(`${reg.host}/library/busybox:latest`);
    await pushImage(client.repository(ref, undefined, { push: true }), img, 'latest');
    const dir = tmp();
    dirs.push(dir);
    const pulled = await client.repository(ref).pullImage('latest', new ContentStore(dir));
    assert.equal(pulled.config.config?.Cmd?.[0], 'sh');
    // `busybox` (docker.io) through a configured mirror: served by the test registry.
    const mirrored = new RegistryClient({ mirrors: [reg.url] });
    try {
      const dir2 = tmp();
      dirs.push(dir2);
      const viaMirror = await mirrored.repository(parseReference('busybox')).pullImage('latest', new ContentStore(dir2));
      assert.equal(viaMirror.repoDigest, img.manifestDescriptor.digest);
    } finally {
      await mirrored.close();
    }
  });
});

describe('registry client: htpasswd Basic auth', () => {
  let reg: TestRegistry;
  let client: RegistryClient;
  const dirs: string[] = [];
  before(async () => {
    reg = await startTestRegistry({ auth: 'htpasswd' });
    client = new RegistryClient();
  });
  after(async () => {
    await client.close();
    await reg.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('login, push with X-Registry-Auth credentials, pull; anonymous and wrong password refused', async () => {
    const header = encodeRegistryAuthHeader({ username: reg.username, password: reg.password, serveraddress: reg.host });
    const creds = decodeRegistryAuthHeader(header);
    assert.deepEqual(await client.checkLogin(reg.host, creds), { status: 'Login Succeeded' });
    await assert.rejects(client.checkLogin(reg.host, { username: reg.username, password: 'wrong' }), (e: DomainError) => e.code === ErrorCode.Unauthorized);

    const img = await smallImage('gzip', 'docker', 'basic');
    const ref = parseReference(`${reg.host}/private/app:v1`);
    await pushImage(client.repository(ref, creds, { push: true }), img, 'v1');
    const dir = tmp();
    dirs.push(dir);
    const pulled = await client.repository(ref, creds).pullImage('v1', new ContentStore(dir));
    assert.equal(pulled.repoDigest, img.manifestDescriptor.digest);

    const anon = new RegistryClient();
    try {
      await assert.rejects(anon.repository(ref, decodeRegistryAuthHeader('e30=')).getManifest('v1'), (e: DomainError) =>
        e.code === ErrorCode.NotFound && /pull access denied for .*private\/app/.test(e.message));
    } finally {
      await anon.close();
    }
  });
});

describe('registry client: bearer token auth', () => {
  let reg: TestRegistry;
  const dirs: string[] = [];
  before(async () => {
    reg = await startTestRegistry({ auth: 'token', tokenField: 'access_token' });
  });
  after(async () => {
    await reg.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('token flow: push, pull, tokens cached per scope, mount asks pull on the source', async () => {
    const client = new RegistryClient();
    try {
      const creds = { username: reg.username, password: reg.password };
      assert.deepEqual(await client.checkLogin(`http://${reg.host}/v2/`, creds), { status: 'Login Succeeded' });
      await assert.rejects(client.checkLogin(reg.host, { username: reg.username, password: 'nope' }), (e: DomainError) => e.code === ErrorCode.Unauthorized);

      const img = await smallImage('zstd', 'oci', 'token');
      const ref = parseReference(`${reg.host}/tok/app:v1`);
      const before = reg.tokenRequests.length;
      await pushImage(client.repository(ref, creds, { push: true }), img, 'v1');
      const pushTokens = reg.tokenRequests.slice(before);
      assert.ok(pushTokens.length <= 2, `tokens fetched once per scope, got ${pushTokens.length}`);
      assert.ok(pushTokens.some((t) => t.scopes.includes('repository:tok/app:pull,push') && t.user === reg.username && t.service === 'berth-test'));

      const dir = tmp();
      dirs.push(dir);
      const pulled = await client.repository(ref, creds).pullImage('v1', new ContentStore(dir));
      assert.equal(pulled.repoDigest, img.manifestDescriptor.digest);

      const dst = parseReference(`${reg.host}/tok/copy:v1`);
      const repo = client.repository(dst, creds, { push: true });
      assert.equal(await repo.pushBlob(img.layers[0].descriptor, () => { throw new Error('no upload'); }, { mountFrom: ['tok/app'] }), 'mounted');
      assert.ok(reg.tokenRequests.some((t) => t.scopes.includes('repository:tok/app:pull') && t.scopes.includes('repository:tok/copy:pull,push')));

      // No credentials: the token server grants nothing and the registry refuses.
      const anon = new RegistryClient();
      try {
        await assert.rejects(anon.repository(ref).getManifest('v1'), (e: DomainError) => e.code === ErrorCode.NotFound && /pull access denied/.test(e.message));
      } finally {
        await anon.close();
      }
    } finally {
      await client.close();
    }
  });
});
