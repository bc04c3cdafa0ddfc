import type { BerthConfig } from '@berth/config';
import { containerPaths, ExecutorJob } from '@berth/contracts';
import { createExecutorWorker, publishObservation, redisOptionsFromUrl } from '@berth/messaging';
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { join } from 'node:path';
import { DYNMODS_MOUNTPOINT, favorCgroupDynmods } from './cgroup-dynmods';
import { ContainerRuntime, type Publish } from './containers/container-runtime';
import { ensureStateTmpfs } from './containers/state-tmpfs';
import { imageHandlers } from './images';
import { networkJobHandlers } from './network';
import { startStreamServer } from './streams';
import { diskUsage, VolumeDirs } from './volume-dirs';

export interface ExecutorHost {
  readonly containers: ContainerRuntime;
  close(): Promise<void>;
}

/** How often the reconcile loop runs after the one at start. */
const RECONCILE_INTERVAL_MS = 60_000;

/**
 * The node agent's job loop: consumes `executor-<nodeId>` and does the privileged work. At start it
 * reconciles (re-attaches to every shim, reports exits missed while it was down, clears orphans)
 * before taking jobs, then again every minute.
 */
export async function startExecutorHost(config: BerthConfig): Promise<ExecutorHost> {
  const logger = new Logger(`Executor(${config.nodeId})`);
  const volumes = new VolumeDirs(config['data-root']);
  const redis = new Redis({ ...redisOptionsFromUrl(config.redisUrl), maxRetriesPerRequest: null });
  redis.on('error', (e) => logger.warn(`redis: ${e.message}`));
  const publish: Publish = async (kind, subject, observationId, data) => {
    await publishObservation(redis, config.namespace, {
      observationId,
      nodeId: config.nodeId,
      kind,
      subject,
      data: data as unknown as Record<string, unknown>,
      observedAt: new Date().toISOString(),
    });
  };
  if (config['cgroup-favor-dynmods']) {
    const favored = await favorCgroupDynmods();
    if (favored === 'mounted') logger.log(`cgroup migrations: favordynmods on (${DYNMODS_MOUNTPOINT})`);
    else if (favored !== 'already') logger.warn(`cgroup migrations stay slow: favordynmods unavailable (${favored.unsupported})`);
  }
  const state = await ensureStateTmpfs(join(config['exec-root'], 's'));
  if (state === 'mounted') logger.log(`shim state dirs: a tmpfs mounted on ${join(config['exec-root'], 's')}`);
  else if (state !== 'already') logger.warn(`shim state dirs stay on disk: ${state.kept}`);
  const containers = new ContainerRuntime(config['data-root'], config['exec-root'], publish, logger);
  const streams = await startStreamServer(config['exec-root'], containers, logger); // docker cp/export/diff bytes
  const reconcile = () =>
    containers.reconcile().catch((e: unknown) => logger.error(`reconcile: ${(e as Error)?.stack ?? String(e)}`));
  await reconcile();
  const timer = setInterval(() => void reconcile(), RECONCILE_INTERVAL_MS);
  timer.unref();

  const c = containers;
  const worker = createExecutorWorker({
    redisUrl: config.redisUrl,
    namespace: config.namespace,
    nodeId: config.nodeId,
    concurrency: 16,
    handlers: {
      [ExecutorJob.Ping]: async () => ({ nodeId: config.nodeId, pid: process.pid }),
      [ExecutorJob.CreateVolumeDir]: ({ name }) => volumes.create(name),
      [ExecutorJob.RemoveVolumeDir]: ({ name }) => volumes.remove(name),
      [ExecutorJob.PopulateVolumeDir]: ({ name, layerDirs, path }) => volumes.populate(name, layerDirs, path),
      [ExecutorJob.ContainerPrepare]: (p) => c.prepare(p),
      [ExecutorJob.ContainerCreate]: (p) => c.create(p),
      [ExecutorJob.ContainerStart]: (p) => c.start(p),
      [ExecutorJob.ContainerSignal]: (p) => c.signal(p),
      [ExecutorJob.ContainerStop]: (p) => c.stop(p),
      [ExecutorJob.ContainerPause]: (p) => c.pause(p),
      [ExecutorJob.ContainerUnpause]: (p) => c.unpause(p),
      [ExecutorJob.ContainerUpdate]: (p) => c.update(p),
      [ExecutorJob.ContainerResize]: (p) => c.resize(p),
      [ExecutorJob.ContainerCloseStdin]: (p) => c.closeStdin(p),
      [ExecutorJob.ContainerStats]: (p) => c.stats(p),
      [ExecutorJob.ContainerTop]: (p) => c.top(p),
      [ExecutorJob.ContainerState]: (p) => c.state(p),
      [ExecutorJob.ContainerSize]: async ({ id }) => ({ sizeRw: await diskUsage(containerPaths(config['data-root'], config['exec-root'], id).upper) }),
      [ExecutorJob.ContainerRemove]: (p) => c.remove(p),
      [ExecutorJob.ContainerList]: async () => c.list(),
      [ExecutorJob.ExecCreate]: (p) => c.execCreate(p),
      [ExecutorJob.ExecStart]: (p) => c.execStart(p),
      [ExecutorJob.ExecResize]: (p) => c.execResize(p),
      [ExecutorJob.ExecState]: (p) => c.execState(p),
      [ExecutorJob.ExecWait]: (p) => c.execWait(p),
      ...networkJobHandlers(config),
      ...imageHandlers(config),
    },
  });
  return {
    containers,
    async close() {
      clearInterval(timer);
      await worker.close();
      await streams.close();
      await containers.close();
      redis.disconnect();
    },
  };
}
