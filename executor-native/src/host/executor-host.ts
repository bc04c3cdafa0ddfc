import type { BerthConfig } from '@berth/config';
import { DomainError, ErrorCode, ExecutorJob } from '@berth/contracts';
import { createExecutorWorker } from '@berth/messaging';
import { VolumeDirs } from './volume-dirs';
import { networkJobHandlers } from './network';

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
      ...containerStubs(),
      ...networkJobHandlers(config),
    },
  });
  return {
    async close() {
      await worker.close();
    },
  };
}

function containerStubs() {
  const todo = async (): Promise<never> => {
    throw new DomainError(ErrorCode.NotImplemented, 'container jobs are not implemented yet');
  };
  return {
    [ExecutorJob.ContainerPrepare]: todo,
    [ExecutorJob.ContainerCreate]: todo,
    [ExecutorJob.ContainerStart]: todo,
    [ExecutorJob.ContainerSignal]: todo,
    [ExecutorJob.ContainerStop]: todo,
    [ExecutorJob.ContainerPause]: todo,
    [ExecutorJob.ContainerUnpause]: todo,
    [ExecutorJob.ContainerUpdate]: todo,
    [ExecutorJob.ContainerResize]: todo,
    [ExecutorJob.ContainerCloseStdin]: todo,
    [ExecutorJob.ContainerStats]: todo,
    [ExecutorJob.ContainerTop]: todo,
    [ExecutorJob.ContainerState]: todo,
    [ExecutorJob.ContainerRemove]: todo,
    [ExecutorJob.ExecCreate]: todo,
    [ExecutorJob.ExecStart]: todo,
    [ExecutorJob.ExecResize]: todo,
    [ExecutorJob.ExecState]: todo,
  };
}
