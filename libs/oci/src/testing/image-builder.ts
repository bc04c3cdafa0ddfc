/**
 * Test images without any engine: layers are tars built in memory (tar-stream), compressed with gzip,
 * zstd or not at all; config, manifest (Docker schema2 or OCI) and multi-platform indexes are plain
 * JSON; `pushImage` uploads them through the RegistryClient.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { ContainerConfig, Descriptor, ImageConfig, MediaType, Platform, sha256 } from '../manifest';
import { Repository } from '../registry-client';

export interface LayerEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';
  data?: Buffer | string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extra PAX records, e.g. {'SCHILY.xattr.user.k': 'v'}. */
  pax?: Record<string, string>;
}

export type Compression = 'gzip' | 'zstd' | 'none';

export interface BuiltLayer {
  /** Uncompressed tar. */
  tar: Buffer;
  /** Bytes as pushed. */
  blob: Buffer;
  diffId: string;
  descriptor: Descriptor;
  compression: Compression;
}

export interface BuiltImage {
  layers: BuiltLayer[];
  config: ImageConfig;
  configBytes: Buffer;
  configDescriptor: Descriptor;
  manifestBytes: Buffer;
  manifestDescriptor: Descriptor;
}

export interface BuiltIndex {
  bytes: Buffer;
  descriptor: Descriptor;
  images: BuiltImage[];
}

const EPOCH = new Date('2024-01-01T00:00:00Z');

export async function tarEntries(entries: LayerEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = e.data === undefined ? undefined : Buffer.from(e.data);
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? EPOCH,
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
      ...(e.devmajor !== undefined ? { devmajor: e.devmajor } : {}),
      ...(e.devminor !== undefined ? { devminor: e.devminor } : {}),
      ...(e.pax ? { pax: e.pax } : {}),
      size: type === 'file' ? (data?.length ?? 0) : 0,
    };
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (type === 'file') pack.entry(header, data ?? Buffer.alloc(0), cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  return done;
}

/** zstd: the `zstd` CLI when present, else a valid frame of raw (stored) blocks. */
export function zstdCompress(data: Buffer): Buffer {
  try {
    return execFileSync('zstd', ['-q', '-c', '-3'], { input: data, maxBuffer: 1 << 30 });
  } catch {
    return zstdStored(data);
  }
}

/** A zstd frame made of Raw_Blocks (RFC 8878 §3.1.1): valid, uncompressed. */
export function zstdStored(data: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3])]; // magic, FHD, window 128 KiB
  const max = 128 * 1024;
  let off = 0;
  do {
    const n = Math.min(max, data.length - off);
    const last = off + n >= data.length ? 1 : 0;
    const h = (n << 3) | (0 << 1) | last;
    parts.push(Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff]), data.subarray(off, off + n));
    off += n;
  } while (off < data.length);
  return Buffer.concat(parts);
}

export async function buildLayer(entries: LayerEntry[], opts: { compression?: Compression; format?: 'docker' | 'oci' } = {}): Promise<BuiltLayer> {
  const tar = await tarEntries(entries);
  return layerFromTar(tar, opts);
}

export function layerFromTar(tar: Buffer, opts: { compression?: Compression; format?: 'docker' | 'oci' } = {}): BuiltLayer {
  const compression = opts.compression ?? 'gzip';
  const format = opts.format ?? 'docker';
  const blob = compression === 'gzip' ? gzipSync(tar) : compression === 'zstd' ? zstdCompress(tar) : tar;
  const mediaType =
    format === 'docker' && compression === 'gzip'
      ? MediaType.DockerLayerGzip
      : compression === 'gzip'
        ? MediaType.OciLayerGzip
        : compression === 'zstd'
          ? MediaType.OciLayerZstd
          : MediaType.OciLayer;
  return { tar, blob, diffId: sha256(tar), descriptor: { mediaType, digest: sha256(blob), size: blob.length }, compression };
}

/** A busybox-static rootfs: /bin/busybox, a symlink per applet, /etc/passwd and /etc/group. */
export function busyboxRootfsEntries(busybox = '/bin/busybox'): LayerEntry[] {
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'busybox' && !s.includes('/'));
  const entries: LayerEntry[] = [
    { name: 'bin/', type: 'directory' },
    { name: 'etc/', type: 'directory' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'root/', type: 'directory', mode: 0o700 },
    { name: 'bin/busybox', data: readFileSync(busybox), mode: 0o755 },
    ...applets.map((a): LayerEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' },
    { name: 'etc/group', data: 'root:x:0:\nnogroup:x:65534:\n' },
  ];
  return entries;
}

export interface ImageOptions {
  format?: 'docker' | 'oci';
  platform?: Platform;
  config?: ContainerConfig;
  history?: ImageConfig['history'];
  created?: string;
}

export function buildImage(layers: BuiltLayer[], opts: ImageOptions = {}): BuiltImage {
  const format = opts.format ?? 'docker';
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const created = opts.created ?? EPOCH.toISOString();
  const config: ImageConfig = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    created,
    config: opts.config ?? { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: opts.history ?? layers.map((_, i) => ({ created, created_by: `berth test layer ${i}` })),
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDescriptor: Descriptor = {
    mediaType: format === 'docker' ? MediaType.DockerConfig : MediaType.OciConfig,
    digest: sha256(configBytes),
    size: configBytes.length,
  };
  const manifestMediaType = format === 'docker' ? MediaType.DockerManifest : MediaType.OciManifest;
  const manifest = {
    schemaVersion: 2,
    mediaType: manifestMediaType,
    config: configDescriptor,
    layers: layers.map((l) => l.descriptor),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 3));
  return {
    layers,
    config,
    configBytes,
    configDescriptor,
    manifestBytes,
    manifestDescriptor: { mediaType: manifestMediaType, digest: sha256(manifestBytes), size: manifestBytes.length, platform },
  };
}

export function buildIndex(images: BuiltImage[], format: 'docker' | 'oci' = 'oci'): BuiltIndex {
  const mediaType = format === 'docker' ? MediaType.DockerManifestList : MediaType.OciIndex;
  const index = {
    schemaVersion: 2,
    mediaType,
    manifests: images.map((i) => i.manifestDescriptor),
  };
  const bytes = Buffer.from(JSON.stringify(index, null, 2));
  return { bytes, descriptor: { mediaType, digest: sha256(bytes), size: bytes.length }, images };
}

/** Pushes layers, config, then the manifest under `tag` (or by digest when tag is omitted). */
export async function pushImage(repo: Repository, image: BuiltImage, tag?: string, opts: { mountFrom?: string[] } = {}): Promise<string> {
  for (const l of image.layers) {
    await repo.pushBlob(l.descriptor, () => Readable.from([l.blob]), opts);
  }
  await repo.pushBlob(image.configDescriptor, () => Readable.from([image.configBytes]), opts);
  return repo.putManifest(tag ?? image.manifestDescriptor.digest, image.manifestBytes, image.manifestDescriptor.mediaType);
}

export async function pushIndex(repo: Repository, index: BuiltIndex, tag: string): Promise<string> {
  for (const img of index.images) await pushImage(repo, img);
  return repo.putManifest(tag, index.bytes, index.descriptor.mediaType);
}

export type MaliciousKind =
  | 'dotdot'
  | 'dotdot-inner'
  | 'absolute'
  | 'symlink-write-through'
  | 'symlink-dir-write-through'
  | 'hardlink-out'
  | 'hardlink-absolute-out'
  | 'symlink-escape';

/**
 * Layers a safe unpacker must refuse (or, for `absolute`, confine: Docker resolves absolute names
 * inside the layer root). `target` names a host path the attack aims at.
 */
export function maliciousEntries(kind: MaliciousKind, target: string): LayerEntry[] {
  const up = '../'.repeat(20);
  switch (kind) {
    case 'dotdot':
      return [{ name: 'ok/', type: 'directory' }, { name: `${up}${target.replace(/^\//, '')}`, data: 'pwned' }];
    case 'dotdot-inner':
      return [{ name: 'a/', type: 'directory' }, { name: `a/../../${target.replace(/^\//, '')}`, data: 'pwned' }];
    case 'absolute':
      return [{ name: target, data: 'confined' }];
    case 'symlink-write-through':
      // evil -> <target dir>; then evil/x is written through the link.
      return [
        { name: 'evil', type: 'symlink', linkname: target },
        { name: 'evil/pwned', data: 'pwned' },
      ];
    case 'symlink-dir-write-through':
      return [
        { name: 'd/', type: 'directory' },
        { name: 'd/link', type: 'symlink', linkname: '/' },
        { name: 'd/link' + target, data: 'pwned' },
      ];
    case 'hardlink-out':
      return [{ name: 'h', type: 'link', linkname: `${up}${target.replace(/^\//, '')}` }];
    case 'hardlink-absolute-out':
      // An absolute link name resolves inside the root; the target does not exist in this layer.
      return [{ name: 'h', type: 'link', linkname: target }];
    case 'symlink-escape':
      return [{ name: 'a/b/s', type: 'symlink', linkname: `${up}etc` }];
  }
}
