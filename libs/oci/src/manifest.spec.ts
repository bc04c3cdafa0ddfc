import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError, ErrorCode } from '@berth/contracts';
import { ImageIndex, MediaType, normalizePlatform, parseManifest, parsePlatform, selectPlatform } from './manifest';

const d = (c: string) => 'sha256:' + c.repeat(64);
const entry = (c: string, architecture: string, variant?: string, os = 'linux') => ({
  mediaType: MediaType.OciManifest,
  digest: d(c),
  size: 1,
  platform: { os, architecture, ...(variant ? { variant } : {}) },
});

test('parsePlatform normalizes like containerd', () => {
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatform('linux/aarch64'), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(parsePlatform('linux/arm'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.deepEqual(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(parsePlatform('arm64'), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'i386' }), { os: 'linux', architecture: '386' });
  assert.throws(() => parsePlatform('linux//x'), DomainError);
  assert.throws(() => parsePlatform('beos/amd64'), DomainError);
});

test('selectPlatform: exact, variants, arm fallbacks, attestation entries skipped', () => {
  const index: ImageIndex = {
    schemaVersion: 2,
    manifests: [
      { mediaType: MediaType.OciManifest, digest: d('0'), size: 1, platform: { os: 'unknown', architecture: 'unknown' } },
      entry('1', 'amd64'),
      entry('2', 'arm64', 'v8'),
      entry('3', 'arm', 'v6'),
      entry('4', 'arm', 'v7'),
      entry('5', 'amd64', undefined, 'windows'),
    ],
  };
  assert.equal(selectPlatform(index, 'linux/amd64').digest, d('1'));
  assert.equal(selectPlatform(index, { os: 'linux', architecture: 'amd64' }).digest, d('1'));
  assert.equal(selectPlatform(index, 'linux/arm64').digest, d('2'));
  assert.equal(selectPlatform(index, 'linux/arm/v7').digest, d('4'));
  assert.equal(selectPlatform(index, 'linux/arm/v6').digest, d('3'));
  assert.equal(selectPlatform(index, 'windows/amd64').digest, d('5'));
  const v6only: ImageIndex = { schemaVersion: 2, manifests: [entry('3', 'arm', 'v6')] };
  assert.equal(selectPlatform(v6only, 'linux/arm/v7').digest, d('3'), 'v7 runs v6');
  assert.throws(() => selectPlatform(v6only, 'linux/arm/v5'), (e: DomainError) => e.code === ErrorCode.NotFound && e.message === 'no matching manifest for linux/arm/v5 in the manifest list entries');
});

test('parseManifest: kinds, media type from Content-Type, schema1 refused', () => {
  const m = { schemaVersion: 2, config: { mediaType: MediaType.DockerConfig, digest: d('a'), size: 2 }, layers: [] };
  assert.equal(parseManifest(Buffer.from(JSON.stringify(m)), MediaType.DockerManifest).mediaType, MediaType.DockerManifest);
  assert.equal(parseManifest(Buffer.from(JSON.stringify(m))).kind, 'manifest');
  assert.equal(parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }))).kind, 'index');
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', fsLayers: [] }))), /schema 1 support has been removed/);
  assert.throws(() => parseManifest(Buffer.from('{'), MediaType.OciManifest), /not JSON/);
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ ...m, layers: [{ digest: 'md5:x', size: 1 }] }))), DomainError);
});
