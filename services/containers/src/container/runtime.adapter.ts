import {
  type ContainerResources,
  type ContainerRuntimeSpec,
  type ContainerSignalName,
  type ContainerProcessSpec,
  ExecutorJob,
  type ExecutorJobResults,
} from '@berth/contracts';
import { ExecutorQueueClient } from '@berth/messaging';
import { Injectable } from '@nestjs/common';

const QUICK_MS = 30_000;

/**
 * The one place this service reaches the executor: typed calls over the node's BullMQ queue.
 * Jobs are idempotent on the executor side, so a retry after a timeout is safe.
 */
@Injectable()
export class RuntimeAdapter {
  constructor(private readonly executor: ExecutorQueueClient) {}

  prepare(id: string, layerDirs: string[]) {
    return this.executor.run(ExecutorJob.ContainerPrepare, { id, layerDirs }, { timeoutMs: 60_000 });
  }

  /** With `layerDirs`, a container not prepared yet is prepared by the same job. */
  create(id: string, spec: ContainerRuntimeSpec, layerDirs?: string[]) {
    return this.executor.run(ExecutorJob.ContainerCreate, { id, spec, ...(layerDirs ? { layerDirs } : {}) }, { timeoutMs: 60_000 });
  }

  start(id: string) {
    return this.executor.run(ExecutorJob.ContainerStart, { id }, { timeoutMs: QUICK_MS });
  }

  signal(id: string, signal: ContainerSignalName) {
    return this.executor.run(ExecutorJob.ContainerSignal, { id, signal }, { timeoutMs: QUICK_MS });
  }

  /** Waits for the exit: the job lasts up to the grace period, then SIGKILL. */
  stop(id: string, signal: ContainerSignalName | undefined, timeoutSeconds: number) {
    const waitMs = timeoutSeconds < 0 ? 24 * 3600_000 : (timeoutSeconds + 30) * 1000;
    return this.executor.run(
      ExecutorJob.ContainerStop,
      { id, ...(signal !== undefined ? { signal } : {}), timeoutSeconds },
      { timeoutMs: waitMs },
    );
  }

  pause(id: string) {
    return this.executor.run(ExecutorJob.ContainerPause, { id }, { timeoutMs: QUICK_MS });
  }

  unpause(id: string) {
    return this.executor.run(ExecutorJob.ContainerUnpause, { id }, { timeoutMs: QUICK_MS });
  }

  update(id: string, resources: ContainerResources) {
    return this.executor.run(ExecutorJob.ContainerUpdate, { id, resources }, { timeoutMs: QUICK_MS });
  }

  resize(id: string, h: number, w: number) {
    return this.executor.run(ExecutorJob.ContainerResize, { id, h, w }, { timeoutMs: QUICK_MS });
  }

  closeStdin(id: string) {
    return this.executor.run(ExecutorJob.ContainerCloseStdin, { id }, { timeoutMs: QUICK_MS });
  }

  stats(id: string): Promise<ExecutorJobResults[ExecutorJob.ContainerStats]> {
    return this.executor.run(ExecutorJob.ContainerStats, { id }, { timeoutMs: QUICK_MS });
  }

  size(id: string) {
    return this.executor.run(ExecutorJob.ContainerSize, { id }, { timeoutMs: QUICK_MS });
  }

  top(id: string, psArgs?: string) {
    return this.executor.run(ExecutorJob.ContainerTop, { id, ...(psArgs ? { psArgs } : {}) }, { timeoutMs: QUICK_MS });
  }

  state(id: string) {
    return this.executor.run(ExecutorJob.ContainerState, { id }, { timeoutMs: QUICK_MS });
  }

  remove(id: string) {
    return this.executor.run(ExecutorJob.ContainerRemove, { id }, { timeoutMs: 60_000 });
  }

  list() {
    return this.executor.run(ExecutorJob.ContainerList, {}, { timeoutMs: QUICK_MS });
  }

  execCreate(containerId: string, execId: string, process: ContainerProcessSpec, privileged: boolean, captureOutput = false) {
    return this.executor.run(
      ExecutorJob.ExecCreate,
      { containerId, execId, process, privileged, ...(captureOutput ? { captureOutput } : {}) },
      { timeoutMs: QUICK_MS },
    );
  }

  /** Up to timeoutMs for the exec's exit (then SIGKILL when killOnTimeout); its captured output. */
  execWait(containerId: string, execId: string, timeoutMs: number, killOnTimeout: boolean) {
    return this.executor.run(ExecutorJob.ExecWait, { containerId, execId, timeoutMs, killOnTimeout }, { timeoutMs: timeoutMs + QUICK_MS });
  }

  execStart(containerId: string, execId: string) {
    return this.executor.run(ExecutorJob.ExecStart, { containerId, execId }, { timeoutMs: QUICK_MS });
  }

  execResize(containerId: string, execId: string, h: number, w: number) {
    return this.executor.run(ExecutorJob.ExecResize, { containerId, execId, h, w }, { timeoutMs: QUICK_MS });
  }

  execState(containerId: string, execId: string) {
    return this.executor.run(ExecutorJob.ExecState, { containerId, execId }, { timeoutMs: QUICK_MS });
  }
}
