import {
  DomainError,
  ErrorCode,
  type ExecutorJob,
  type ExecutorJobPayloads,
  type ExecutorJobResults,
} from '@berth/contracts';
import { decodeRegistryAuthHeader, DigestMismatchError, parallel, RegistryClient, type RegistryPolicy, unpackLayer } from '@berth/oci';
import { rm } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import type { LayerStore } from './layer-store';
import { ProgressBatcher } from './progress';

type Payload = ExecutorJobPayloads[ExecutorJob.ImagePullLayers];
type Result = ExecutorJobResults[ExecutorJob.ImagePullLayers];
type LayerResult = Result['layers'][number];

/** Layers fetched at once: dockerd's max-concurrent-downloads default. */
const CONCURRENCY = 3;

/**
 * Splits one stream into two with back-pressure from both (the content store and the unpacker read
 * at their own pace). Destroying the source errors both sides.
 */
function tee(src: Readable): [PassThrough, PassThrough] {
  const a = new PassThrough({ highWaterMark: 1 << 20 });
  const b = new PassThrough({ highWaterMark: 1 << 20 });
  // A side whose reader has not started (or already stopped) must not turn the source's error into an
  // uncaught exception: readers see it through their own iteration (a destroyed stream keeps it).
  a.on('error', () => undefined);
  b.on('error', () => undefined);
  src.on('data', (chunk: Buffer) => {
    const okA = a.write(chunk);
    const okB = b.write(chunk);
    if (okA && okB) return;
    src.pause();
    let waiting = (okA ? 0 : 1) + (okB ? 0 : 1);
    const resume = () => {
      if (--waiting === 0) src.resume();
    };
    if (!okA) a.once('drain', resume);
    if (!okB) b.once('drain', resume);
  });
  src.once('end', () => {
    a.end();
    b.end();
  });
  src.once('error', (e) => {
    a.destroy(e);
    b.destroy(e);
  });
  return [a, b];
}

/** The network cut, timed out or refused: keep what was verified and the partial for a resume. */
const isTransient = (e: unknown) =>
  !(e instanceof DigestMismatchError) && !(e instanceof DomainError && e.code === ErrorCode.InvalidArgument);

/**
 * `image.pull-layers`: fetches every layer blob into the content store and unpacks it into
 * `layers/<chainID>` while it streams in, verifying blob digest and diffID. On a refused layer (unsafe,
 * digest or diffID mismatch) everything this job added is removed; on a network failure the verified
 * blobs, finished layers and the partial download stay so a retry fetches only what is missing.
 */
export async function pullLayers(
  store: LayerStore,
  policy: RegistryPolicy,
  payload: Payload,
  job?: { updateProgress(p: object): Promise<void> },
): Promise<Result> {
  for (const b of payload.blobs) await store.blobs.put(Buffer.from(b.data, 'base64'), b.digest);
  const progress = new ProgressBatcher(job);
  const client = new RegistryClient({ ...policy, userAgent: 'berth/0.1 (executor)' });
  const repo = client.repository(
    { domain: payload.registry.domain, path: payload.registry.path },
    decodeRegistryAuthHeader(payload.registry.registryAuth ?? ''),
  );
  const addedBlobs = new Set<string>();
  const addedLayers = new Set<string>();

  const pullOne = async (layer: Payload['layers'][number]): Promise<LayerResult> => {
    if (await store.hasLayer(layer.chainId)) {
      progress.report({ digest: layer.digest, phase: 'cached' });
      return { chainId: layer.chainId, unpackedSize: 0, action: 'cached' };
    }
    const desc = { digest: layer.digest, size: layer.size };
    const scratch = await store.scratch(layer.chainId);
    let diffId: string;
    let unpackedSize: number;
    let action: LayerResult['action'];
    const haveBlob = await store.blobs.has(layer.digest);
    if (haveBlob || (await store.blobs.partialSize(layer.digest)) > 0) {
      // Complete in the store, or resumable with Range: finish the blob first, then unpack the file.
      if (!haveBlob) {
        await repo.fetchBlob(desc, store.blobs, (p) => {
          if (p.action === 'download') progress.report({ digest: layer.digest, phase: 'download', current: p.current, total: p.total });
        });
        addedBlobs.add(layer.digest);
        progress.report({ digest: layer.digest, phase: 'verified' });
      }
      progress.report({ digest: layer.digest, phase: 'extract', current: 0, total: layer.size });
      const r = await unpackLayer(store.blobs.open(layer.digest), scratch, store.unpackOptions);
      diffId = r.diffId;
      unpackedSize = r.size;
      action = haveBlob ? 'unpacked' : 'downloaded';
    } else {
      progress.report({ digest: layer.digest, phase: 'download', current: 0, total: layer.size });
      const body = await repo.openBlob(desc);
      const [toStore, toUnpack] = tee(body);
      const stored = store.blobs.write(desc, toStore, {
        onProgress: (n) => progress.report({ digest: layer.digest, phase: 'download', current: n, total: layer.size }),
      });
      const unpacked = unpackLayer(toUnpack, scratch, store.unpackOptions);
      // Who failed first decides what the failure means: the source (network, digest) or the unpacker.
      let sourceError: unknown;
      let stopping = false;
      body.once('error', (e) => {
        if (!stopping) sourceError = e;
      });
      const stop = (e: unknown) => {
        stopping = true;
        body.destroy(e as Error);
        toStore.destroy(e as Error);
        toUnpack.destroy(e as Error);
      };
      stored.catch(stop);
      unpacked.catch(stop);
      const [s, u] = await Promise.allSettled([stored, unpacked]);
      if (s.status === 'rejected' || u.status === 'rejected') {
        await rm(scratch, { recursive: true, force: true });
        const err =
          sourceError !== undefined
            ? s.status === 'rejected' && s.reason instanceof DigestMismatchError
              ? s.reason
              : sourceError
            : u.status === 'rejected'
              ? u.reason
              : (s as PromiseRejectedResult).reason;
        if (s.status === 'fulfilled') addedBlobs.add(layer.digest);
        if (!isTransient(err)) {
          // A refused layer leaves nothing: not its blob, not its partial.
          await store.blobs.discardPartial(layer.digest);
          await store.blobs.delete(layer.digest);
          addedBlobs.delete(layer.digest);
        }
        throw isTransient(err) && !(err instanceof DomainError)
          ? new DomainError(ErrorCode.Unavailable, `failed to fetch layer ${layer.digest}: ${(err as Error).message}`)
          : err;
      }
      addedBlobs.add(layer.digest);
      progress.report({ digest: layer.digest, phase: 'verified' });
      diffId = u.value.diffId;
      unpackedSize = u.value.size;
      action = 'downloaded';
    }
    if (diffId !== layer.diffId) {
      await rm(scratch, { recursive: true, force: true });
      throw new DomainError(ErrorCode.InvalidArgument, `layer ${layer.digest}: diffID mismatch: the config says ${layer.diffId}, the layer is ${diffId}`);
    }
    await store.commitLayer(scratch, layer.chainId);
    addedLayers.add(layer.chainId);
    progress.report({ digest: layer.digest, phase: 'complete' });
    return { chainId: layer.chainId, unpackedSize, action };
  };

  try {
    const layers = await parallel(payload.layers, CONCURRENCY, pullOne);
    return { layers };
  } catch (e) {
    if (!isTransient(e)) {
      for (const chainId of addedLayers) await rm(store.layerDir(chainId), { recursive: true, force: true });
      for (const digest of addedBlobs) await store.blobs.delete(digest);
    }
    throw e instanceof DomainError ? e : new DomainError(ErrorCode.Unavailable, (e as Error).message);
  } finally {
    await progress.close();
    await client.close();
  }
}
