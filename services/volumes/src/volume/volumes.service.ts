import {
  type Actor,
  type CreateVolumeRequest,
  ExecutorJob,
  type MountVolumesRequest,
  type ReleaseVolumesReply,
  type ReleaseVolumesRequest,
  notFound,
  type PruneVolumesReply,
  type PruneVolumesRequest,
  type RemoveVolumeRequest,
  type VolumeEvent,
  type VolumeView,
} from '@berth/contracts';
import type { BerthConfig } from '@berth/config';
import { EventStore } from '@berth/event-store';
import { ExecutorQueueClient } from '@berth/messaging';
import { BERTH_CONFIG, handleCommand, type Decider } from '@berth/service-kit';
import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type VolumeCommand, decide, evolve, initialVolumeState, type VolumeState, volumeStreamId } from './volume.decider';
import { matchVolume } from './volume-filters';
import { VolumeRepository } from './volume.repository';

const decider: Decider<VolumeCommand, VolumeState, VolumeEvent> = { initialState: initialVolumeState, decide, evolve };
const EXECUTOR_TIMEOUT_MS = 30_000;

/** Volume use cases. Mount references (which containers use a volume) are recorded by `mount`/`release`. */
@Injectable()
export class VolumesService {
  constructor(
    private readonly store: EventStore,
    private readonly executor: ExecutorQueueClient,
    private readonly volumes: VolumeRepository,
    @Inject(BERTH_CONFIG) private readonly config: BerthConfig,
  ) {}

  private mountpoint(name: string) {
    return join(this.config['data-root'], 'volumes', name, '_data');
  }

  async create(req: CreateVolumeRequest, actor: Actor | null = null): Promise<VolumeView> {
    const anonymous = req.anonymous ?? !req.name;
    const name = req.name || randomBytes(32).toString('hex');
    const command: VolumeCommand = {
      type: 'CreateVolume',
      name,
      driver: req.driver || 'local',
      mountpoint: this.mountpoint(name),
      labels: req.labels ?? {},
      options: req.driverOpts ?? {},
      anonymous,
    };
    // Validate before touching the disk: decide() on the current state throws Docker's errors.
    const current = (await this.store.readStream(volumeStreamId(name))).reduce(
      (s, e) => evolve(s, { type: e.type, data: e.data, schemaVersion: e.schemaVersion } as VolumeEvent),
      initialVolumeState,
    );
    const planned = decide(command, current);
    if (planned.length > 0) {
      // The directory first (mkdir is idempotent): a volume never exists in the model without one.
      await this.executor.run(ExecutorJob.CreateVolumeDir, { name }, { timeoutMs: EXECUTOR_TIMEOUT_MS });
      await handleCommand(this.store, volumeStreamId(name), decider, command, actor);
    }
    const view = await this.volumes.get(name);
    if (!view) throw notFound(`get ${name}: no such volume`);
    return view;
  }

  async inspect(name: string): Promise<VolumeView> {
    const view = await this.volumes.get(name);
    if (!view) throw notFound(`get ${name}: no such volume`);
    return view;
  }

  async list(filters: Record<string, string[]> = {}): Promise<VolumeView[]> {
    const inUse = new Set((await this.volumes.references()).keys());
    return (await this.volumes.list()).filter((v) => matchVolume(v, filters, inUse));
  }

  async remove(req: RemoveVolumeRequest, actor: Actor | null = null): Promise<{ bytes: number }> {
    // The decider also checks the references folded from the volume's own stream.
    const inUseBy = await this.volumes.referencesOf(req.name);
    const { events } = await handleCommand(
      this.store,
      volumeStreamId(req.name),
      decider,
      { type: 'RemoveVolume', name: req.name, inUseBy, force: !!req.force },
      actor,
    );
    if (events.length === 0) return { bytes: 0 };
    const result = await this.executor.run(ExecutorJob.RemoveVolumeDir, { name: req.name }, { timeoutMs: EXECUTOR_TIMEOUT_MS });
    return { bytes: result.bytes };
  }

  /** Docker 1.42+: only anonymous volumes unless `all`. */
  async prune(req: PruneVolumesRequest, actor: Actor | null = null): Promise<PruneVolumesReply> {
    const filters = { ...(req.filters ?? {}) };
    const all = req.all || (filters.all ?? []).some((v) => /^(1|true)$/i.test(v));
    delete filters.all;
    const inUse = await this.volumes.references();
    const candidates = (await this.list(filters)).filter((v) => (all || v.anonymous) && !inUse.has(v.name));
    const deleted: string[] = [];
    let bytes = 0;
    for (const v of candidates) {
      try {
        bytes += (await this.remove({ name: v.name, force: true }, actor)).bytes;
        deleted.push(v.name);
      } catch {
        // mounted meanwhile: skipped, as Docker skips volumes in use
      }
    }
    return { volumesDeleted: deleted, spaceReclaimed: bytes };
  }

  /** Records that a container mounts volumes; an empty volume gets the image's content (copy-up). */
  async mount(req: MountVolumesRequest, actor: Actor | null = null): Promise<{ ok: true }> {
    for (const v of req.volumes) {
      const { events } = await handleCommand(
        this.store,
        volumeStreamId(v.name),
        decider,
        { type: 'MountVolume', name: v.name, containerId: req.containerId, destination: v.destination, readonly: v.readonly },
        actor,
      );
      if (events.length > 0 && v.copyFrom) {
        await this.executor.run(
          ExecutorJob.PopulateVolumeDir,
          { name: v.name, layerDirs: [...v.copyFrom.layerDirs], path: v.copyFrom.path },
          { timeoutMs: EXECUTOR_TIMEOUT_MS },
        );
      }
    }
    return { ok: true };
  }

  /** A container is gone: its references go, and with `removeAnonymous` its anonymous volumes no one else uses. */
  async release(req: ReleaseVolumesRequest, actor: Actor | null = null): Promise<ReleaseVolumesReply> {
    const released: string[] = [];
    const removed: string[] = [];
    for (const name of await this.volumes.mountedBy(req.containerId)) {
      const { state } = await handleCommand(
        this.store,
        volumeStreamId(name),
        decider,
        { type: 'UnmountVolume', name, containerId: req.containerId },
        actor,
      );
      released.push(name);
      if (req.removeAnonymous && state.status === 'present' && state.anonymous) {
        try {
          await this.remove({ name, force: true }, actor);
          removed.push(name);
        } catch {
          // still used by another container: kept, like Docker
        }
      }
    }
    return { released, removed };
  }

  async count(): Promise<number> {
    return this.volumes.count();
  }
}
