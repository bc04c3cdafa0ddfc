import type { ContainerView } from '@berth/contracts';
import type { ContainerState } from './container.decider';

/** Memory state -> the contract's view (what the gateway turns into Docker's JSON). */
export function toContainerView(s: ContainerState, version = 0): ContainerView {
  return {
    id: s.id,
    name: s.name,
    created: s.created,
    image: s.image,
    imageId: s.imageId,
    path: s.path,
    args: s.args,
    config: s.config,
    hostConfig: s.hostConfig,
    mounts: s.mounts,
    state: {
      status: s.status,
      pid: s.pid,
      exitCode: s.exitCode,
      error: s.error,
      oomKilled: s.oomKilled,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      health: s.health,
    },
    restartCount: s.restartCount,
    exitCount: s.exitCount,
    stoppedByUser: s.stoppedByUser,
    logPath: s.logPath,
    // As dockerd: an exec leaves the container's ExecIDs when it exits (it stays inspectable by id).
    execIds: Object.values(s.execs).filter((e) => !e.healthcheck && e.exitCode === null).map((e) => e.id),
    version,
  };
}
