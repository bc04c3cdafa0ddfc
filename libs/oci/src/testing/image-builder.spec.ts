import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decompress as zstdDecompress } from 'fzstd';
import { gunzipSync } from 'node:zlib';
import { MediaType, sha256 } from '../manifest';
import { buildImage, buildIndex, buildLayer, zstdStored } from './image-builder';

test('zstd stored frames decode with fzstd', () => {
  for (const size of [0, 1, 131072, 131073, 400_000]) {
    const data = Buffer.alloc(size, 'z');
    assert.deepEqual(Buffer.from(zstdDecompress(zstdStored(data))), data);
  }
});

test('layers: digests over the compressed blob, diffID over the tar', async () => {
  const l = await buildLayer([{ name: 'a', data: 'a' }], { compression: 'gzip' });
  assert.equal(l.diffId, sha256(l.tar));
  assert.equal(l.descriptor.digest, sha256(l.blob));
  assert.deepEqual(gunzipSync(l.blob), l.tar);
  assert.equal(l.descriptor.mediaType, MediaType.DockerLayerGzip);
  const z = await buildLayer([{ name: 'a', data: 'a' }], { compression: 'zstd' });
  assert.equal(z.descriptor.mediaType, MediaType.OciLayerZstd);
  assert.deepEqual(Buffer.from(zstdDecompress(z.blob)), z.tar);
});

test('image and index documents reference each other by digest', async () => {
  const img = buildImage([await buildLayer([{ name: 'a', data: 'a' }])], { format: 'oci' });
  const m = JSON.parse(img.manifestBytes.toString());
  assert.equal(m.config.digest, sha256(img.configBytes));
  assert.deepEqual(img.config.rootfs.diff_ids, [img.layers[0].diffId]);
  const idx = buildIndex([img]);
  assert.equal(JSON.parse(idx.bytes.toString()).manifests[0].digest, img.manifestDescriptor.digest);
});
