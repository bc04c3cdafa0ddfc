import type { ExecutorJob, ExecutorJobPayloads, ExecutorJobResults } from '@berth/contracts';
import { digestHex, sha256 } from '@berth/oci';
import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tarStream from 'tar-stream';
import type { LayerStore } from './layer-store';

type Payload = ExecutorJobPayloads[ExecutorJob.ImageExport];

/**
 * `image.export` (docker save): an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`)
 * plus Docker's `manifest.json` and `repositories`, as dockerd ≥ 25 writes it; both loaders read it.
 */
export async function exportImages(store: LayerStore, payload: Payload): Promise<ExecutorJobResults[ExecutorJob.ImageExport]> {
  const path = store.checkTmpPath(payload.path);
  await mkdir(dirname(path), { recursive: true });
  const pack = tarStream.pack();
  const out = pipeline(pack, createWriteStream(path, { mode: 0o600 }));
  const written = new Set<string>();
  const entry = (name: string, data: Buffer) =>
    new Promise<void>((resolve, reject) => pack.entry({ name, mode: 0o644, mtime: new Date(0) }, data, (e) => (e ? reject(e) : resolve())));
  const dir = (name: string) =>
    new Promise<void>((resolve, reject) => pack.entry({ name, type: 'directory', mode: 0o755, mtime: new Date(0) }, (e) => (e ? reject(e) : resolve())));
  const blob = async (digest: string, data?: Buffer) => {
    if (written.has(digest)) return;
    written.add(digest);
    const name = `blobs/sha256/${digestHex(digest)}`;
    if (data) return entry(name, data);
    const size = (await stat(store.blobs.blobPath(digest))).size;
    await new Promise<void>((resolve, reject) => {
      const sink = pack.entry({ name, size, mode: 0o644, mtime: new Date(0) }, (e) => (e ? reject(e) : resolve()));
      const src = store.blobs.open(digest);
      src.on('error', (e) => sink.destroy(e));
      src.pipe(sink);
    });
  };
  try {
    await dir('blobs/');
    await dir('blobs/sha256/');
    const index: { schemaVersion: 2; mediaType: string; manifests: unknown[] } = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [],
    };
    const manifestJson: Array<{ Config: string; RepoTags: string[]; Layers: string[] }> = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const img of payload.images) {
      for (const l of img.layers) await blob(l.digest);
      await blob(img.id, Buffer.from(img.configJson));
      const manifestBytes = Buffer.from(img.manifestJson);
      const manifestDigest = sha256(manifestBytes);
      await blob(manifestDigest, manifestBytes);
      const base = { mediaType: img.manifestMediaType, digest: manifestDigest, size: manifestBytes.length };
      if (img.canonicalTags.length === 0) index.manifests.push(base);
      for (const [i, canonical] of img.canonicalTags.entries()) {
        const tag = canonical.slice(canonical.lastIndexOf(':') + 1);
        index.manifests.push({
          ...base,
          annotations: { 'io.containerd.image.name': canonical, 'org.opencontainers.image.ref.name': tag },
        });
        const familiar = img.repoTags[i];
        if (familiar) {
          const repo = familiar.slice(0, familiar.lastIndexOf(':'));
          (repositories[repo] ??= {})[familiar.slice(familiar.lastIndexOf(':') + 1)] = digestHex(img.layers.at(-1)?.chainId ?? img.id);
        }
      }
      manifestJson.push({
        Config: `blobs/sha256/${digestHex(img.id)}`,
        RepoTags: img.repoTags,
        Layers: img.layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`),
      });
    }
    await entry('index.json', Buffer.from(JSON.stringify(index)));
    await entry('manifest.json', Buffer.from(JSON.stringify(manifestJson)));
    await entry('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    if (Object.keys(repositories).length) await entry('repositories', Buffer.from(JSON.stringify(repositories)));
    pack.finalize();
    await out;
  } catch (e) {
    pack.destroy(e as Error);
    await out.catch(() => undefined);
    throw e;
  }
  return { path, size: (await stat(path)).size };
}
