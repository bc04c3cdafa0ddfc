import 'reflect-metadata';
import type { BerthConfig } from '@berth/config';
import {
  type DomainError,
  ErrorCode,
  ImagePatterns,
  type ImageView,
  type PullImageReply,
  type RemoveImageReply,
  type ResolvedImageView,
  progressStreamKey,
} from '@berth/contracts';
import { RedisRpcClient } from '@berth/messaging';
import { parseReference, RegistryClient } from '@berth/oci';
import { buildImage, buildLayer, busyboxRootfsEntries, maliciousEntries, pushImage, startTestRegistry, type TestRegistry } from '@berth/oci/dist/testing';
import { rebuild } from '@berth/service-kit';
import { startTestNode, type TestNode } from '@berth/service-kit/dist/testing';
import type { TestNamespace } from '@berth/testing';
import Redis from 'ioredis';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { imagesService } from './definition';

describe('images service (real registry, Postgres, Redis, executor host)', { timeout: 300_000 }, () => {
  let node: TestNode;
  let config: BerthConfig;
  let rpc: RedisRpcClient;
  let ns: TestNamespace;
  let reg: TestRegistry;
  let tokenReg: TestRegistry;
  const client = new RegistryClient();

  before(async () => {
    reg = await startTestRegistry();
    tokenReg = await startTestRegistry({ auth: 'token' });
    node = await startTestNode(imagesService, { rpcTimeoutMs: 60_000 });
    ({ config, rpc, ns } = node);
  });

  after(async () => {
    await node?.stop();
    await client.close();
    await reg?.stop();
    await tokenReg?.stop();
  });

  const layers = () => {
    const d = join(config['data-root'], 'layers');
    return existsSync(d) ? readdirSync(d).filter((n) => !n.startsWith('.')) : [];
  };

  it('pulls (progress on the Redis stream), resolves for the containers service, removes with layer GC', async () => {
    const image = buildImage([await buildLayer(busyboxRootfsEntries()), await buildLayer([{ name: 'etc/hostname', data: 'berth\n' }], { compression: 'zstd', format: 'oci' })], {
      format: 'oci',
      config: { Cmd: ['sh'], Env: ['A=1'], WorkingDir: '/tmp', ExposedPorts: { '80/tcp': {} } },
    });
    await pushImage(client.repository(parseReference(`${reg.host}/bb`), undefined, { push: true }), image, '1');
    const reply = await rpc.request<PullImageReply>(ImagePatterns.pull, { fromImage: `${reg.host}/bb`, tag: '1', progressKey: 'k1' });
    assert.equal(reply.id, image.configDescriptor.digest);

    const redis = new Redis(ns.redisUrl);
    try {
      const entries = await redis.xrange(progressStreamKey(ns.namespace, 'k1'), '-', '+');
      const statuses = entries.map(([, f]) => (JSON.parse(f[1]) as { status?: string }).status);
      assert.ok(statuses.includes('Pulling fs layer'), statuses.join(','));
      assert.ok(statuses.includes('Pull complete'), statuses.join(','));
      assert.match(statuses.at(-1) ?? '', /^Status: Downloaded newer image for /);
    } finally {
      redis.disconnect();
    }

    const resolved = await rpc.request<ResolvedImageView>(ImagePatterns.resolve, { reference: `${reg.host}/bb:1` });
    assert.equal(resolved.id, image.configDescriptor.digest);
    assert.deepEqual(resolved.config.Cmd, ['sh']);
    assert.equal(resolved.config.WorkingDir, '/tmp');
    assert.equal(resolved.layerDirs.length, 2);
    assert.ok(existsSync(join(resolved.layerDirs[0], 'etc', 'hostname')), 'top layer first');
    assert.ok(existsSync(join(resolved.layerDirs[1], 'bin', 'busybox')));
    assert.deepEqual(resolved.repoTags, [`${reg.host}/bb:1`]);
    const byPrefix = await rpc.request<ResolvedImageView>(ImagePatterns.resolve, { reference: resolved.id.slice(7, 19) });
    assert.equal(byPrefix.id, resolved.id);
    await assert.rejects(rpc.request(ImagePatterns.resolve, { reference: 'nope:1' }), (e: DomainError) => {
      assert.equal(e.code, ErrorCode.NotFound);
      assert.equal(e.message, 'No such image: nope:1');
      return true;
    });

    await rpc.request(ImagePatterns.tag, { source: `${reg.host}/bb:1`, repo: 'other/name', tag: 'x' });
    const view = await rpc.request<ImageView>(ImagePatterns.inspect, { name: 'other/name:x' });
    assert.deepEqual([...view.repoTags].sort(), [`${reg.host}/bb:1`, 'other/name:x'].sort());

    const live = await rpc.request<ImageView[]>(ImagePatterns.list, {});
    await rebuild(imagesService, config);
    assert.deepEqual(await rpc.request<ImageView[]>(ImagePatterns.list, {}), live, 'a rebuilt projection equals the live one');

    const untag = await rpc.request<RemoveImageReply>(ImagePatterns.remove, { name: 'other/name:x' });
    assert.deepEqual(untag, [{ Untagged: 'other/name:x' }]);
    const del = await rpc.request<RemoveImageReply>(ImagePatterns.remove, { name: `${reg.host}/bb:1` });
    assert.ok(del.some((d) => 'Deleted' in d && d.Deleted === image.configDescriptor.digest));
    assert.deepEqual(layers(), []);
  });

  it('pulls from a token-auth registry with X-Registry-Auth; refuses without; login checks credentials', async () => {
    const image = buildImage([await buildLayer([{ name: 'hello', data: 'world' }])]);
    const creds = { username: tokenReg.username, password: tokenReg.password };
    await pushImage(client.repository(parseReference(`${tokenReg.host}/priv`), creds, { push: true }), image, 'v1');
    await assert.rejects(rpc.request(ImagePatterns.pull, { fromImage: `${tokenReg.host}/priv:v1` }));
    const auth = Buffer.from(JSON.stringify({ ...creds, serveraddress: tokenReg.host })).toString('base64url');
    const reply = await rpc.request<PullImageReply>(ImagePatterns.pull, { fromImage: `${tokenReg.host}/priv:v1`, registryAuth: auth });
    assert.equal(reply.id, image.configDescriptor.digest);
    const ok = await rpc.request<{ status: string }>(ImagePatterns.login, { ...creds, serveraddress: tokenReg.host });
    assert.equal(ok.status, 'Login Succeeded');
    await assert.rejects(rpc.request(ImagePatterns.login, { username: creds.username, password: 'wrong', serveraddress: tokenReg.host }));
  });

  it('refuses a malicious layer and leaves no layer, blob or image behind', async () => {
    const before = layers();
    const evil = buildImage([await buildLayer(maliciousEntries('symlink-write-through', '/tmp'))]);
    await pushImage(client.repository(parseReference(`${reg.host}/evil`), undefined, { push: true }), evil, '1');
    await assert.rejects(rpc.request(ImagePatterns.pull, { fromImage: `${reg.host}/evil:1` }), (e: DomainError) => {
      assert.equal(e.code, ErrorCode.InvalidArgument);
      assert.match(e.message, /refusing layer entry/);
      return true;
    });
    assert.deepEqual(layers(), before);
    assert.ok(!existsSync(join(config['data-root'], 'blobs', 'sha256', evil.layers[0].descriptor.digest.slice(7))));
    await assert.rejects(rpc.request(ImagePatterns.inspect, { name: `${reg.host}/evil:1` }));
  });
});
