import {
  ContainerImageUsersPattern,
  type AttachRequest,
  type ContainerImageUsersReply,
  type ContainerImageUsersRequest,
  ContainerPatterns,
  type ContainerRefRequest,
  type ContainersSummary,
  type CreateContainerRequest,
  type ExecCreateRequest,
  type ExecRefRequest,
  type ExecResizeRequest,
  GenerationPatterns,
  type GenerationReply,
  type KillContainerRequest,
  type ListContainersRequest,
  type PruneContainersRequest,
  type RemoveContainerRequest,
  type RenameContainerRequest,
  type ResizeRequest,
  type StopContainerRequest,
  SystemPatterns,
  type UpdateContainerRequest,
  type WaitContainerRequest,
  type CancelWaitsRequest,
} from '@berth/contracts';
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { ContainerRegistry } from './container.registry';
import { ContainersService } from './containers.service';

const ok = { ok: true } as const;

/** Transport entry points only: decode and delegate. */
@Controller()
export class ContainersController {
  constructor(
    private readonly containers: ContainersService,
    private readonly registry: ContainerRegistry,
  ) {}

  @MessagePattern(ContainerPatterns.create)
  create(@Payload() req: CreateContainerRequest) {
    return this.containers.create(req);
  }

  @MessagePattern(ContainerPatterns.inspect)
  inspect(@Payload() req: ContainerRefRequest) {
    return this.containers.inspect(req.id);
  }

  @MessagePattern(GenerationPatterns.containers)
  generation(): GenerationReply {
    return { generation: this.registry.generation };
  }

  @MessagePattern(ContainerPatterns.list)
  list(@Payload() req: ListContainersRequest) {
    return this.containers.list(req ?? {});
  }

  @MessagePattern(ContainerPatterns.start)
  async start(@Payload() req: ContainerRefRequest) {
    await this.containers.start(req.id);
    return ok;
  }

  @MessagePattern(ContainerPatterns.stop)
  async stop(@Payload() req: StopContainerRequest) {
    await this.containers.stop(req);
    return ok;
  }

  @MessagePattern(ContainerPatterns.restart)
  async restart(@Payload() req: StopContainerRequest) {
    await this.containers.restart(req);
    return ok;
  }

  @MessagePattern(ContainerPatterns.kill)
  async kill(@Payload() req: KillContainerRequest) {
    await this.containers.kill(req);
    return ok;
  }

  @MessagePattern(ContainerPatterns.pause)
  async pause(@Payload() req: ContainerRefRequest) {
    await this.containers.pause(req.id);
    return ok;
  }

  @MessagePattern(ContainerPatterns.unpause)
  async unpause(@Payload() req: ContainerRefRequest) {
    await this.containers.unpause(req.id);
    return ok;
  }

  @MessagePattern(ContainerPatterns.wait)
  wait(@Payload() req: WaitContainerRequest) {
    return this.containers.wait(req);
  }

  @MessagePattern(ContainerPatterns.waitCancel)
  cancelWaits(@Payload() req: CancelWaitsRequest): void {
    this.containers.cancelWaits(req);
  }

  @MessagePattern(ContainerPatterns.remove)
  async remove(@Payload() req: RemoveContainerRequest) {
    await this.containers.remove(req);
    return ok;
  }

  @MessagePattern(ContainerPatterns.rename)
  async rename(@Payload() req: RenameContainerRequest) {
    await this.containers.rename(req.id, req.name);
    return ok;
  }

  @MessagePattern(ContainerPatterns.update)
  update(@Payload() req: UpdateContainerRequest) {
    return this.containers.update(req);
  }

  @MessagePattern(ContainerPatterns.prune)
  prune(@Payload() req: PruneContainersRequest) {
    return this.containers.prune(req ?? {});
  }

  @MessagePattern(ContainerPatterns.resize)
  async resize(@Payload() req: ResizeRequest) {
    await this.containers.resize(req.id, req.h, req.w);
    return ok;
  }

  @MessagePattern(ContainerPatterns.attach)
  attach(@Payload() req: AttachRequest) {
    return this.containers.attach(req.id, null, !!req.early);
  }

  @MessagePattern(ContainerPatterns.attachReady)
  async attachReady(@Payload() req: ContainerRefRequest) {
    await this.containers.attachReady(req.id);
    return ok;
  }

  @MessagePattern(ContainerPatterns.closeStdin)
  async closeStdin(@Payload() req: ContainerRefRequest) {
    await this.containers.closeStdin(req.id);
    return ok;
  }

  @MessagePattern(ContainerPatterns.top)
  top(@Payload() req: ContainerRefRequest & { psArgs?: string }) {
    return this.containers.top(req.id, req.psArgs);
  }

  @MessagePattern(ContainerPatterns.size)
  size(@Payload() req: ContainerRefRequest) {
    return this.containers.size(req.id);
  }

  @MessagePattern(ContainerPatterns.stats)
  async stats(@Payload() req: ContainerRefRequest) {
    return { stats: await this.containers.stats(req.id) };
  }

  @MessagePattern(ContainerPatterns.execCreate)
  execCreate(@Payload() req: ExecCreateRequest) {
    return this.containers.execCreate(req);
  }

  @MessagePattern(ContainerPatterns.execPrepare)
  execPrepare(@Payload() req: ExecRefRequest & { tty?: boolean }) {
    return this.containers.execPrepare(req.execId, req.tty);
  }

  @MessagePattern(ContainerPatterns.execRun)
  execRun(@Payload() req: ExecRefRequest) {
    return this.containers.execRun(req.execId);
  }

  @MessagePattern(ContainerPatterns.execInspect)
  execInspect(@Payload() req: ExecRefRequest) {
    return this.containers.execInspect(req.execId);
  }

  @MessagePattern(ContainerPatterns.execResize)
  async execResize(@Payload() req: ExecResizeRequest) {
    await this.containers.execResize(req.execId, req.h, req.w);
    return ok;
  }

  @MessagePattern(ContainerPatterns.execWait)
  execWait(@Payload() req: ExecRefRequest) {
    return this.containers.execWait(req.execId);
  }

  /** Asked before `rmi` / `image prune`: which containers use these images (all when none given). */
  @MessagePattern(ContainerImageUsersPattern)
  imageUsers(@Payload() req: ContainerImageUsersRequest): ContainerImageUsersReply {
    const wanted = new Set(req?.imageIds ?? []);
    return {
      containers: this.registry
        .all()
        .filter((c) => wanted.size === 0 || wanted.has(c.imageId))
        .map((c) => ({ id: c.id, imageId: c.imageId, running: c.status === 'running' || c.status === 'paused' || c.status === 'restarting' })),
    };
  }

  @MessagePattern(SystemPatterns.summary('containers'))
  summary(): ContainersSummary {
    const all = this.registry.all();
    const n = (...s: string[]) => all.filter((c) => s.includes(c.status)).length;
    const running = n('running', 'restarting');
    const paused = n('paused');
    return { total: all.length, running, paused, stopped: all.length - running - paused };
  }
}
