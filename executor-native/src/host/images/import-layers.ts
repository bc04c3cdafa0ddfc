import { DomainError, ErrorCode, type ExecutorJob, type ExecutorJobPayloads, type ExecutorJobResults, type StoredLayer } from '@berth/contracts';
import { detectCompression, MediaType, sha256, unpackLayer } from '@berth/oci';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import type { LayerStore } from './layer-store';

type Payload = ExecutorJobPayloads[ExecutorJob.ImageImportLayers];
type Result = ExecutorJobResults[ExecutorJob.ImageImportLayers];
type LoadedImage = Result['images'][number];

const bad = (msg: string) => new DomainError(ErrorCode.InvalidArgument, msg);

const chainOf = (parent: string | undefined, diffId: string) => (parent ? sha256(`${parent} ${diffId}`) : diffId);

async function fileDigest(path: string): Promise<{ digest: string; size: number; head: Buffer }> {
  const h = createHash('sha256');
  let size = 0;
  let head = Buffer.alloc(0);
  for await (const c of createReadStream(path)) {
    const b = c as Buffer;
    if (head.length < 8) head = Buffer.concat([head, b.subarray(0, 8)]);
    h.update(b);
    size += b.length;
  }
  return { digest: 'sha256:' + h.digest('hex'), size, head };
}

/**
 * Unpacks an archive's regular files into `dir` (names checked: no `..`, no absolute escapes);
 * symlinks are remembered (old `docker save` links identical layer.tar files) and resolved in `read`.
 */
async function extractArchive(path: string, dir: string): Promise<{ files: Set<string>; links: Map<string, string> }> {
  const files = new Set<string>();
  const links = new Map<string, string>();
  const extract = tarStream.extract();
  const feeding = pipeline(createReadStream(path), extract);
  feeding.catch(() => undefined);
  for await (const entry of extract) {
    const h = entry.header;
    const name = posix.normalize(h.name.replace(/^\/+/, '')).replace(/\/+$/, '');
    if (!name || name === '.' || name.startsWith('../') || name === '..') {
      entry.resume();
      if (name.startsWith('..')) throw bad(`invalid archive entry ${JSON.stringify(h.name)}`);
      continue;
    }
    if (h.type === 'file' || h.type === 'contiguous-file') {
      const dest = join(dir, name);
      await mkdir(posix.dirname(dest), { recursive: true });
      await pipeline(entry as unknown as Readable, createWriteStream(dest, { flags: 'wx' }));
      files.add(name);
    } else {
      if (h.type === 'symlink' && h.linkname) links.set(name, posix.normalize(posix.join(posix.dirname(name), h.linkname)));
      entry.resume();
    }
  }
  await feeding;
  return { files, links };
}

/**
 * `image.import-layers`: `load` reads a docker save archive (manifest.json) or an OCI layout
 * (index.json); `rootfs` takes one filesystem tar (docker import). Every layer blob is stored as it
 * came (compressed or not), unpacked into `layers/<chainID>`, and checked against the config's diffIDs.
 */
export async function importLayers(store: LayerStore, payload: Payload): Promise<Result> {
  const archive = store.checkTmpPath(payload.path);
  if (payload.mode === 'rootfs') {
    const { layer } = await storeLayer(store, archive, undefined, undefined);
    return { images: [], layer };
  }
  const work = join(store.dataRoot, 'tmp', `load-${randomBytes(6).toString('hex')}`);
  await mkdir(work, { recursive: true, mode: 0o700 });
  try {
    const { files, links } = await extractArchive(archive, work);
    const resolve = (name: string): string => {
      let n = posix.normalize(name.replace(/^\/+/, ''));
      for (let i = 0; i < 10 && links.has(n); i++) n = links.get(n)!;
      if (!files.has(n)) throw bad(`invalid archive: ${JSON.stringify(name)} is missing`);
      return join(work, n);
    };
    const images: LoadedImage[] = [];
    if (files.has('manifest.json')) {
      const manifest = JSON.parse(await readFile(join(work, 'manifest.json'), 'utf8')) as Array<{ Config: string; RepoTags?: string[] | null; Layers: string[] }>;
      if (!Array.isArray(manifest)) throw bad('invalid manifest.json');
      for (const m of manifest) {
        const configJson = await readFile(resolve(m.Config), 'utf8');
        images.push(await loadImage(store, configJson, m.Layers.map(resolve), m.RepoTags ?? [], MediaType.DockerConfig));
      }
    } else if (files.has('index.json')) {
      const blobPath = (d: string) => resolve(`blobs/${d.replace(':', '/')}`);
      const index = JSON.parse(await readFile(join(work, 'index.json'), 'utf8')) as { manifests?: Array<{ digest: string; mediaType?: string; annotations?: Record<string, string> }> };
      const byDigest = new Map<string, string[]>();
      const queue = [...(index.manifests ?? [])];
      const order: string[] = [];
      while (queue.length) {
        const d = queue.shift()!;
        const doc = JSON.parse(await readFile(blobPath(d.digest), 'utf8')) as { manifests?: typeof queue; config?: { digest: string; mediaType: string }; layers?: Array<{ digest: string }> };
        if (doc.manifests) {
          queue.push(...doc.manifests.filter((x) => !x.annotations?.['vnd.docker.reference.type']));
          continue;
        }
        if (!byDigest.has(d.digest)) {
          byDigest.set(d.digest, []);
          order.push(d.digest);
        }
        const name = d.annotations?.['io.containerd.image.name'];
        const ref = d.annotations?.['org.opencontainers.image.ref.name'];
        if (name) byDigest.get(d.digest)!.push(name);
        else if (ref && /[:/]/.test(ref)) byDigest.get(d.digest)!.push(ref);
      }
      for (const digest of order) {
        const doc = JSON.parse(await readFile(blobPath(digest), 'utf8')) as { config: { digest: string; mediaType: string }; layers: Array<{ digest: string }> };
        const configJson = await readFile(blobPath(doc.config.digest), 'utf8');
        images.push(await loadImage(store, configJson, doc.layers.map((l) => blobPath(l.digest)), byDigest.get(digest)!, doc.config.mediaType));
      }
    } else {
      throw bad('invalid archive: neither manifest.json nor index.json found');
    }
    return { images };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function loadImage(store: LayerStore, configJson: string, layerFiles: string[], repoTags: string[], configMediaType: string): Promise<LoadedImage> {
  const config = JSON.parse(configJson) as { rootfs?: { diff_ids?: string[] } };
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== layerFiles.length) throw bad('invalid archive: the config diff_ids do not match the layers');
  const layers: StoredLayer[] = [];
  let parent: string | undefined;
  for (const [i, file] of layerFiles.entries()) {
    const { layer } = await storeLayer(store, file, diffIds[i], parent);
    layers.push(layer);
    parent = layer.chainId;
  }
  return { configJson, configMediaType: configMediaType.includes('oci') ? MediaType.OciConfig : MediaType.DockerConfig, layers, repoTags };
}

/** Stores one layer file as a blob and unpacks it (unless its chainID is already there). */
async function storeLayer(store: LayerStore, file: string, expectedDiffId: string | undefined, parent: string | undefined): Promise<{ layer: StoredLayer }> {
  const { digest, size, head } = await fileDigest(file);
  const kind = detectCompression(head);
  const mediaType = kind === 'gzip' ? MediaType.DockerLayerGzip : kind === 'zstd' ? MediaType.OciLayerZstd : MediaType.OciLayer;
  const hadBlob = await store.blobs.has(digest);
  if (!hadBlob) await store.blobs.write({ digest, size }, createReadStream(file));
  if (expectedDiffId) {
    const chainId = chainOf(parent, expectedDiffId);
    if (await store.hasLayer(chainId)) {
      return { layer: { digest, size, mediaType, diffId: expectedDiffId, chainId, unpackedSize: size } };
    }
  }
  // The chainID needs the diffID, known only after unpacking when the caller has none (import).
  const scratch = await store.scratch(sha256(`${digest}${Date.now()}`));
  try {
    const r = await unpackLayer(store.blobs.open(digest), scratch, store.unpackOptions);
    if (expectedDiffId && r.diffId !== expectedDiffId) throw bad(`layer ${digest}: diffID mismatch: the config says ${expectedDiffId}, the layer is ${r.diffId}`);
    const chainId = chainOf(parent, r.diffId);
    if (await store.hasLayer(chainId)) await rm(scratch, { recursive: true, force: true });
    else await store.commitLayer(scratch, chainId);
    return { layer: { digest, size, mediaType, diffId: r.diffId, chainId, unpackedSize: r.size } };
  } catch (e) {
    await rm(scratch, { recursive: true, force: true });
    if (!hadBlob) await store.blobs.delete(digest);
    throw e;
  }
}
