import type { ExecutorJob, ExecutorJobPayloads, ExecutorJobResults } from '@berth/contracts';
import { decodeRegistryAuthHeader, parallel, RegistryClient, type RegistryPolicy } from '@berth/oci';
import type { LayerStore } from './layer-store';
import { ProgressBatcher } from './progress';

/** Blobs uploaded at once (dockerd: 5). */
const CONCURRENCY = 5;

/**
 * `image.push-blobs`: each blob is checked (HEAD), mounted from a sibling repository when possible,
 * otherwise uploaded (POST, PATCH streamed from the content store, PUT ?digest=); then the manifest.
 */
export async function pushBlobs(
  store: LayerStore,
  policy: RegistryPolicy,
  payload: ExecutorJobPayloads[ExecutorJob.ImagePushBlobs],
  job?: { updateProgress(p: object): Promise<void> },
): Promise<ExecutorJobResults[ExecutorJob.ImagePushBlobs]> {
  const progress = new ProgressBatcher(job);
  const client = new RegistryClient({ ...policy, userAgent: 'berth/0.1 (executor)' });
  try {
    const repo = client.repository(
      { domain: payload.registry.domain, path: payload.registry.path },
      decodeRegistryAuthHeader(payload.registry.registryAuth ?? ''),
      { push: true },
    );
    await parallel(payload.blobs, CONCURRENCY, async (b) => {
      progress.report({ digest: b.digest, phase: 'waiting' });
      const action = await repo.pushBlob(b, () => store.blobs.open(b.digest), {
        mountFrom: [...payload.mountFrom],
        onProgress: (p) => {
          if (p.action === 'upload') progress.report({ digest: b.digest, phase: 'upload', current: p.current, total: p.total });
        },
      });
      progress.report({ digest: b.digest, phase: action === 'exists' ? 'exists' : action === 'mounted' ? 'mounted' : 'pushed' });
    });
    const m = payload.manifest;
    const digest = await repo.putManifest(m.reference, Buffer.from(m.data, 'base64'), m.mediaType);
    return { digest };
  } finally {
    await progress.close();
    await client.close();
  }
}
