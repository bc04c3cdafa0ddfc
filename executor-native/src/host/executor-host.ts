import type { BerthConfig } from '@berth/config';
import { ExecutorJob } from '@berth/contracts';
import { createExecutorWorker } from '@berth/messaging';
import { VolumeDirs } from './volume-dirs';

export interface ExecutorHost {
  close(): Promise<void>;
}

/**
 * The node agent's job loop: consumes `executor-<nodeId>` and does the privileged work. Container jobs
 * (spawn through the addon and the shim, signals, exec, stats) are added here as the executor grows.
 */
export async function startExecutorHost(config: BerthConfig): Promise<ExecutorHost> {
  const volumes = new VolumeDirs(config['data-root']);
  const worker = createExecutorWorker({
    redisUrl: config.redisUrl,
    namespace: config.namespace,
    nodeId: config.nodeId,
    concurrency: 16,
    handlers: {
      [ExecutorJob.Ping]: async () => ({ nodeId: config.nodeId, pid: process.pid }),
      [ExecutorJob.CreateVolumeDir]: ({ name }) => volumes.create(name),
      [ExecutorJob.RemoveVolumeDir]: ({ name }) => volumes.remove(name),
    },
  });
  return {
    async close() {
      await worker.close();
    },
  };
}
