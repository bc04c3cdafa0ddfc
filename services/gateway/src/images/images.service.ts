import { Inject, Injectable } from '@nestjs/common';
import type { BerthConfig } from '@berth/config';
import {
  ContainerImageUsersPattern,
  type ContainerImageUsersReply,
  type HistoryEntryView,
  ImagePatterns,
  type ImageView,
  type ImportImageReply,
  type LoadImagesReply,
  type LoginReply,
  type LoginRequest,
  type PruneImagesReply,
  type PullImageReply,
  type PushImageReply,
  type RemoveImageReply,
  type SaveImagesReply,
} from '@berth/contracts';
import { RpcClient } from '@berth/messaging';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { GATEWAY_CONFIG } from '../config';
import type { Filters } from '../http/query-params';
import { ImageResolveCache } from './image-resolve.cache';
import { toHistory, toImageInspect, toImageSummary, type ImageSummary } from './image.mapper';

const LONG_MS = 60 * 60_000;

/** Image use cases at the API edge: translate, call the images service, translate back. */
@Injectable()
export class ImagesService {
  constructor(
    private readonly rpc: RpcClient,
    @Inject(GATEWAY_CONFIG) readonly config: BerthConfig,
    private readonly resolved: ImageResolveCache,
  ) {}

  pull(q: { fromImage: string; tag?: string; platform?: string; registryAuth: string }, progressKey: string): Promise<PullImageReply> {
    return this.resolved.mutating(() => this.rpc.request<PullImageReply>(ImagePatterns.pull, { ...q, progressKey }, { timeoutMs: LONG_MS }));
  }

  async list(all: boolean, filters: Filters, apiVersion: string): Promise<ImageSummary[]> {
    const views = await this.rpc.request<ImageView[]>(ImagePatterns.list, { all, filters });
    return views.map((v) => toImageSummary(v, apiVersion));
  }

  async inspect(name: string, apiVersion: string): Promise<Record<string, unknown>> {
    const v = await this.rpc.request<ImageView>(ImagePatterns.inspect, { name });
    const dirs = [...v.chainIds].reverse().map((c) => join(this.config['data-root'], 'layers', c.replace(/^sha256:/, '')));
    return toImageInspect(v, dirs, apiVersion);
  }

  async history(name: string): Promise<Array<Record<string, unknown>>> {
    return toHistory(await this.rpc.request<HistoryEntryView[]>(ImagePatterns.history, { name }));
  }

  async tag(source: string, repo: string, tag: string | undefined): Promise<void> {
    await this.resolved.mutating(() => this.rpc.request(ImagePatterns.tag, { source, repo, ...(tag ? { tag } : {}) }));
  }

  /**
   * Containers using images, from the containers service. Fails closed: if it cannot answer, nothing is
   * deleted (an image in use must never lose its layers).
   */
  private async users(imageIds: string[]): Promise<ContainerImageUsersReply['containers']> {
    const r = await this.rpc.request<ContainerImageUsersReply>(ContainerImageUsersPattern, { imageIds }, { timeoutMs: 5000 });
    return r?.containers ?? [];
  }

  async remove(name: string, force: boolean, noprune: boolean): Promise<RemoveImageReply> {
    const v = await this.rpc.request<ImageView>(ImagePatterns.inspect, { name });
    const usedBy = (await this.users([v.id])).filter((c) => c.imageId === v.id);
    return this.resolved.mutating(() => this.rpc.request<RemoveImageReply>(ImagePatterns.remove, { name, force, noprune, usedBy }, { timeoutMs: 120_000 }));
  }

  async prune(filters: Filters): Promise<{ ImagesDeleted: RemoveImageReply | null; SpaceReclaimed: number }> {
    const usedImageIds = [...new Set((await this.users([])).map((c) => c.imageId))];
    const r = await this.resolved.mutating(() => this.rpc.request<PruneImagesReply>(ImagePatterns.prune, { filters, usedImageIds }, { timeoutMs: 600_000 }));
    return { ImagesDeleted: r.imagesDeleted.length ? r.imagesDeleted : null, SpaceReclaimed: r.spaceReclaimed };
  }

  push(name: string, tag: string | undefined, registryAuth: string, progressKey: string): Promise<PushImageReply> {
    return this.rpc.request<PushImageReply>(ImagePatterns.push, { name, ...(tag ? { tag } : {}), registryAuth, progressKey }, { timeoutMs: LONG_MS });
  }

  save(names: string[]): Promise<SaveImagesReply> {
    return this.rpc.request<SaveImagesReply>(ImagePatterns.save, { names }, { timeoutMs: LONG_MS });
  }

  /** Request bodies (tar archives) go to `<data-root>/tmp` for the executor to read. */
  async spool(body: Readable, what: string): Promise<string> {
    const dir = join(this.config['data-root'], 'tmp');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, `${what}-${randomUUID()}.tar`);
    try {
      await pipeline(body, createWriteStream(path, { mode: 0o600 }));
    } catch (e) {
      await rm(path, { force: true });
      throw e;
    }
    return path;
  }

  load(path: string, quiet: boolean, progressKey: string): Promise<LoadImagesReply> {
    return this.resolved.mutating(() => this.rpc.request<LoadImagesReply>(ImagePatterns.load, { path, quiet, progressKey }, { timeoutMs: LONG_MS }));
  }

  import(req: { path: string; repo?: string; tag?: string; message?: string; changes: string[]; platform?: string }, progressKey: string): Promise<ImportImageReply> {
    return this.resolved.mutating(() => this.rpc.request<ImportImageReply>(ImagePatterns.import, { ...req, progressKey }, { timeoutMs: LONG_MS }));
  }

  login(body: LoginRequest): Promise<LoginReply> {
    return this.rpc.request<LoginReply>(ImagePatterns.login, body, { timeoutMs: 60_000 });
  }

  search(term: string, limit: number | undefined): Promise<unknown[]> {
    return this.rpc.request<unknown[]>(ImagePatterns.search, { term, limit }, { timeoutMs: 15_000 });
  }
}
