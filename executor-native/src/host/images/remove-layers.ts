import type { ExecutorJob, ExecutorJobPayloads, ExecutorJobResults } from '@berth/contracts';
import { rm } from 'node:fs/promises';
import { diskUsage } from '../volume-dirs';
import type { LayerStore } from './layer-store';

/** `image.remove-layers`: the images service passes only layers and blobs no remaining image uses. */
export async function removeLayers(
  store: LayerStore,
  payload: ExecutorJobPayloads[ExecutorJob.ImageRemoveLayers],
): Promise<ExecutorJobResults[ExecutorJob.ImageRemoveLayers]> {
  let bytes = 0;
  for (const chainId of payload.chainIds) {
    const dir = store.layerDir(chainId);
    bytes += await diskUsage(dir);
    await rm(dir, { recursive: true, force: true });
  }
  for (const digest of payload.blobs) {
    bytes += (await store.blobs.size(digest)) ?? 0;
    await store.blobs.delete(digest);
    await store.blobs.discardPartial(digest);
  }
  return { bytes };
}
