import type { BerthConfig } from '@berth/config';
import { ExecutorJob } from '@berth/contracts';
import type { RegistryPolicy } from '@berth/oci';
import { exportImages } from './export-images';
import { importLayers } from './import-layers';
import { LayerStore } from './layer-store';
import { pullLayers } from './pull-layers';
import { pushBlobs } from './push-blobs';
import { removeLayers } from './remove-layers';

/** The images domain's executor jobs, spread into the host's handler table. */
export function imageHandlers(config: BerthConfig) {
  const store = new LayerStore(config['data-root']);
  const policy: RegistryPolicy = { insecureRegistries: config['insecure-registries'], mirrors: config['registry-mirrors'] };
  return {
    [ExecutorJob.ImagePullLayers]: (p, job) => pullLayers(store, policy, p, job),
    [ExecutorJob.ImagePutBlobs]: async (p) => {
      for (const b of p.blobs) await store.blobs.put(Buffer.from(b.data, 'base64'), b.digest);
      return { stored: p.blobs.length };
    },
    [ExecutorJob.ImageRemoveLayers]: (p) => removeLayers(store, p),
    [ExecutorJob.ImagePushBlobs]: (p, job) => pushBlobs(store, policy, p, job),
    [ExecutorJob.ImageExport]: (p) => exportImages(store, p),
    [ExecutorJob.ImageImportLayers]: (p) => importLayers(store, p),
  } satisfies Partial<import('@berth/messaging').ExecutorHandlers>;
}
