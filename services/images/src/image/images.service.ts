import type { BerthConfig } from '@berth/config';
import {
  type Actor,
  conflict,
  DomainError,
  ErrorCode,
  ExecutorJob,
  type HistoryEntryView,
  type ImageEvent,
  type ImageRecord,
  type ImageView,
  type ImportImageReply,
  type ImportImageRequest,
  invalid,
  type LayerProgress,
  type LoadImagesReply,
  type LoadImagesRequest,
  type LoginReply,
  type LoginRequest,
  notFound,
  type PruneImagesReply,
  type PruneImagesRequest,
  type PullImageReply,
  type PullImageRequest,
  type PushImageReply,
  type PushImageRequest,
  type RemoveImageReply,
  type RemoveImageRequest,
  type ResolvedImageView,
  type SaveImagesReply,
  type SaveImagesRequest,
  type StoredLayer,
  type TagImageRequest,
} from '@berth/contracts';
import { ConcurrencyError, EventStore } from '@berth/event-store';
import { ExecutorQueueClient } from '@berth/messaging';
import {
  credentialsFromAuthConfig,
  decodeRegistryAuthHeader,
  familiarName,
  type ImageConfig,
  type ImageReference,
  isValidTag,
  MediaType,
  parsePlatform,
  parseReference,
  parseReferenceWithDefaultTag,
  RegistryClient,
  type RegistryPolicy,
  sha256,
  withTag,
} from '@berth/oci';
import { BERTH_CONFIG } from '@berth/service-kit';
import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { EntityManager } from 'typeorm';
import { decide, evolve, type ImageCommand, imageStreamId, initialImageState, type ImageState } from './image.decider';
import { applyChanges, buildManifest, chainIds, matchesLabels, matchesReference, progressBar, shortId } from './image-format';
import { ImageRepository, toImageView } from './image.repository';
import { ProgressChannel, type ProgressWriter } from './progress';

const LONG_JOB_MS = 60 * 60_000;
const SHORT_JOB_MS = 120_000;

const tagOf = (ref: ImageReference) => `${ref.familiarName}:${ref.tag}`;
const noSuchImage = (name: string) => notFound(`No such image: ${name}`);

/** Image use cases: registry conversations here, disk work through executor jobs, facts as events. */
@Injectable()
export class ImagesService {
  private readonly policy: RegistryPolicy;

  constructor(
    private readonly store: EventStore,
    private readonly executor: ExecutorQueueClient,
    private readonly images: ImageRepository,
    private readonly progress: ProgressChannel,
    @Inject(BERTH_CONFIG) private readonly config: BerthConfig,
  ) {
    this.policy = { insecureRegistries: config['insecure-registries'], mirrors: config['registry-mirrors'] };
  }

  // ------------------------------------------------------------------------------------------------
  // Commands on streams

  /**
   * Decides and appends on several image streams in one transaction: a tag that lands on an image is
   * first untagged from the image that held it, so the tag index never has two owners.
   */
  private async apply(steps: Array<{ id: string; command: ImageCommand }>, actor: Actor | null): Promise<ImageEvent[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.store.transaction(async (manager) => {
          const out: ImageEvent[] = [];
          for (const step of steps) out.push(...(await this.applyOne(manager, step.id, step.command, actor)));
          return out;
        });
      } catch (e) {
        if (e instanceof ConcurrencyError && attempt < 5) continue;
        throw e;
      }
    }
  }

  private async applyOne(manager: EntityManager, id: string, command: ImageCommand, actor: Actor | null): Promise<ImageEvent[]> {
    const out: ImageEvent[] = [];
    const tags =
      command.type === 'RecordPulled' || command.type === 'RecordImported'
        ? command.repoTag
          ? [command.repoTag]
          : []
        : command.type === 'RecordLoaded'
          ? command.repoTags
          : command.type === 'Tag'
            ? [command.repoTag]
            : [];
    for (const t of tags) {
      const owner = await this.images.ownerOfTag(t, manager);
      if (owner && owner !== id) out.push(...(await this.appendDecided(manager, owner, { type: 'Untag', repoTag: t }, actor)));
    }
    out.push(...(await this.appendDecided(manager, id, command, actor)));
    return out;
  }

  private async appendDecided(manager: EntityManager, id: string, command: ImageCommand, actor: Actor | null): Promise<ImageEvent[]> {
    const streamId = imageStreamId(id);
    const history = await this.store.readStream(streamId, { manager });
    const state = history.reduce(
      (s: ImageState, e) => evolve(s, { type: e.type, data: e.data, schemaVersion: e.schemaVersion } as ImageEvent),
      initialImageState,
    );
    const events = decide(command, state);
    if (events.length) await this.store.append(streamId, history.length, events, { actor, manager });
    return events;
  }

  // ------------------------------------------------------------------------------------------------
  // Lookups

  /** Docker's GetImage: a reference (tag or digest), a full id, or a unique id prefix. */
  async lookup(name: string): Promise<ImageView> {
    const view = await this.find(name);
    if (!view) throw noSuchImage(name);
    return view;
  }

  private async find(name: string): Promise<ImageView | null> {
    const idHex = /^(?:sha256:)?([a-f0-9]{1,64})$/.exec(name);
    if (idHex && (name.startsWith('sha256:') || idHex[1].length === 64)) {
      return this.byPrefix(idHex[1]);
    }
    let ref: ImageReference | undefined;
    try {
      ref = parseReference(name);
    } catch {
      ref = undefined;
    }
    if (ref) {
      let id: string | null = null;
      if (ref.digest) id = await this.images.byDigest(`${ref.familiarName}@${ref.digest}`);
      else id = await this.images.ownerOfTag(`${ref.familiarName}:${ref.tag ?? 'latest'}`);
      if (id) {
        const row = await this.images.row(id);
        if (row) return toImageView(row);
      }
    }
    if (idHex && idHex[1].length >= 1) return this.byPrefix(idHex[1]);
    return null;
  }

  private async byPrefix(prefix: string): Promise<ImageView | null> {
    const ids = await this.images.idsByPrefix(prefix);
    if (ids.length > 1) throw notFound(`No such image: ${prefix} (ambiguous id prefix)`);
    if (!ids.length) return null;
    const row = await this.images.row(ids[0]);
    return row ? toImageView(row) : null;
  }

  private layerDir(chainId: string): string {
    return join(this.config['data-root'], 'layers', chainId.replace(/^sha256:/, ''));
  }

  async resolve(reference: string): Promise<ResolvedImageView> {
    const view = await this.lookup(reference);
    return {
      id: view.id,
      config: view.config,
      layerDirs: [...view.chainIds].reverse().map((c) => this.layerDir(c)),
      repoTags: view.repoTags,
      os: view.os,
      architecture: view.architecture,
    };
  }

  async inspect(name: string): Promise<ImageView> {
    return this.lookup(name);
  }

  async list(all: boolean, filters: Record<string, string[]>): Promise<ImageView[]> {
    for (const key of Object.keys(filters)) {
      if (!['dangling', 'label', 'reference', 'before', 'since', 'until'].includes(key)) throw invalid(`invalid filter '${key}'`);
    }
    const views = (await this.images.rows()).map(toImageView);
    const time = async (names: string[] | undefined) => {
      if (!names?.length) return undefined;
      return Date.parse((await this.lookup(names[names.length - 1])).created);
    };
    const before = await time(filters.before);
    const since = await time(filters.since);
    const until = filters.until?.length ? parseUntil(filters.until[filters.until.length - 1]) : undefined;
    void all;
    return views.filter((v) => {
      if (filters.dangling?.length) {
        const want = /^(1|true)$/i.test(filters.dangling[filters.dangling.length - 1]);
        if (want !== (v.repoTags.length === 0)) return false;
      }
      if (filters.label?.length && !matchesLabels(v, filters.label)) return false;
      if (filters.reference?.length && !filters.reference.some((p) => matchesReference(v, p))) return false;
      const created = Date.parse(v.created);
      if (before !== undefined && !(created < before)) return false;
      if (since !== undefined && !(created > since)) return false;
      if (until !== undefined && !(created <= until)) return false;
      return true;
    });
  }

  async history(name: string): Promise<HistoryEntryView[]> {
    const v = await this.lookup(name);
    const entries: ImageView['history'] = v.history.length
      ? v.history
      : v.diffIds.map(() => ({ created: v.created, created_by: '', empty_layer: false }));
    const out: HistoryEntryView[] = [];
    let layer = 0;
    for (const h of entries) {
      const size = h.empty_layer ? 0 : (v.layerSizes[layer++] ?? 0);
      out.push({
        id: '<missing>',
        created: Math.floor(Date.parse(h.created ?? v.created) / 1000) || 0,
        createdBy: h.created_by ?? '',
        tags: [],
        size,
        comment: h.comment ?? '',
      });
    }
    out.reverse();
    if (out.length) out[0] = { ...out[0], id: v.id, tags: v.repoTags };
    return out;
  }

  // ------------------------------------------------------------------------------------------------
  // Pull

  private pullReference(fromImage: string, tag?: string): ImageReference {
    let ref = parseReference(fromImage);
    if (tag) {
      if (tag.startsWith('sha256:')) ref = parseReference(`${ref.name}@${tag}`);
      else {
        if (!isValidTag(tag)) throw invalid('invalid reference format');
        ref = withTag(ref, tag);
      }
    }
    if (!ref.tag && !ref.digest) ref = parseReferenceWithDefaultTag(ref.name);
    return ref;
  }

  async pull(req: PullImageRequest, actor: Actor | null = null): Promise<PullImageReply> {
    const ref = this.pullReference(req.fromImage, req.tag);
    const platform = req.platform ? parsePlatform(req.platform) : undefined;
    const out = this.progress.writer(req.progressKey);
    const client = new RegistryClient({ ...this.policy, userAgent: 'berth/0.1' });
    try {
      const repo = client.repository(ref, decodeRegistryAuthHeader(req.registryAuth ?? ''));
      const resolved = await repo.resolveImage(ref.digest ?? ref.tag!, platform);
      out.send({ status: `Pulling from ${ref.path.startsWith('library/') && ref.domain === 'docker.io' ? ref.path : ref.path}`, id: ref.digest ?? ref.tag });
      const m = resolved.manifest.manifest;
      const configBytes = await repo.fetchBlobBytes(m.config);
      const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
      const diffIds = config.rootfs?.diff_ids ?? [];
      if (!Array.isArray(diffIds) || diffIds.length !== m.layers.length) {
        throw invalid(`invalid image config ${m.config.digest}: rootfs.diff_ids does not match the manifest layers`);
      }
      const chains = chainIds(diffIds);
      const id = m.config.digest;
      const repoTag = ref.tag && !ref.digest ? tagOf(ref) : undefined;
      const repoDigest = `${ref.familiarName}@${resolved.repoDigest}`;
      const before = await this.images.row(id);
      const upToDate = !!before && (!repoTag || before.repo_tags.includes(repoTag)) && before.repo_digests.includes(repoDigest);

      for (const l of m.layers) out.send({ status: 'Pulling fs layer', progressDetail: {}, id: shortId(l.digest) });
      const jobId = `pull-${randomUUID()}`;
      const sizes = new Map(m.layers.map((l) => [l.digest, l.size]));
      const result = await this.progress.withJobProgress(
        jobId,
        (updates) => this.relayPull(out, updates, sizes),
        () =>
          this.executor.run(
            ExecutorJob.ImagePullLayers,
            {
              registry: { domain: ref.domain, path: ref.path, registryAuth: req.registryAuth ?? '' },
              layers: m.layers.map((l, i) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType, diffId: diffIds[i], chainId: chains[i] })),
              blobs: [
                ...(resolved.index ? [{ digest: resolved.index.descriptor.digest, data: resolved.index.bytes.toString('base64') }] : []),
                { digest: resolved.manifest.descriptor.digest, data: resolved.manifest.bytes.toString('base64') },
                { digest: id, data: configBytes.toString('base64') },
              ],
            },
            { timeoutMs: LONG_JOB_MS, jobId },
          ),
      );
      const known = result.layers.some((l) => !l.unpackedSize) ? await this.images.knownLayerSizes() : new Map<string, number>();
      const layers: StoredLayer[] = m.layers.map((l, i) => ({
        digest: l.digest,
        size: l.size,
        mediaType: l.mediaType,
        diffId: diffIds[i],
        chainId: chains[i],
        unpackedSize: result.layers[i]?.unpackedSize || known.get(chains[i]) || 0,
      }));
      const record: ImageRecord = { id, configJson: configBytes.toString('utf8'), configMediaType: m.config.mediaType, layers };
      await this.apply([{ id, command: { type: 'RecordPulled', record, reference: ref.familiar, repoDigest, ...(repoTag ? { repoTag } : {}) } }], actor);
      const status = upToDate ? `Image is up to date for ${ref.familiar}` : `Downloaded newer image for ${ref.familiar}`;
      out.send({ status: `Digest: ${resolved.repoDigest}` });
      out.send({ status: `Status: ${status}` });
      return { id, reference: ref.familiar, digest: resolved.repoDigest, status };
    } finally {
      await out.flush();
      await client.close();
    }
  }

  private relayPull(out: ProgressWriter, updates: LayerProgress[], sizes: Map<string, number>): void {
    for (const u of updates) {
      const id = shortId(u.digest);
      if (!sizes.has(u.digest)) continue; // manifests and config are not shown
      switch (u.phase) {
        case 'cached':
          out.send({ status: 'Already exists', progressDetail: {}, id });
          break;
        case 'waiting':
          out.send({ status: 'Waiting', progressDetail: {}, id });
          break;
        case 'download': {
          const current = u.current ?? 0;
          const total = u.total ?? sizes.get(u.digest) ?? 0;
          out.send({ status: 'Downloading', progressDetail: { current, total }, progress: progressBar(current, total), id });
          break;
        }
        case 'verified':
          out.send({ status: 'Verifying Checksum', progressDetail: {}, id });
          out.send({ status: 'Download complete', progressDetail: {}, id });
          break;
        case 'extract':
          out.send({ status: 'Extracting', progressDetail: { current: u.current ?? 0, total: u.total ?? 0 }, id });
          break;
        case 'complete':
          out.send({ status: 'Pull complete', progressDetail: {}, id });
          break;
        default:
          break;
      }
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Tag, remove, prune

  private targetReference(repo: string, tag?: string): ImageReference {
    let ref = parseReference(repo);
    if (ref.digest) throw invalid('refusing to create a tag with a digest reference');
    if (tag) {
      if (!isValidTag(tag)) throw invalid(`invalid tag format`);
      ref = withTag(ref, tag);
    }
    if (!ref.tag) ref = parseReferenceWithDefaultTag(ref.name);
    return ref;
  }

  async tag(req: TagImageRequest, actor: Actor | null = null): Promise<void> {
    const target = this.targetReference(req.repo, req.tag);
    const source = await this.lookup(req.source);
    await this.apply([{ id: source.id, command: { type: 'Tag', repoTag: tagOf(target) } }], actor);
  }

  async remove(req: RemoveImageRequest, actor: Actor | null = null): Promise<RemoveImageReply> {
    const image = await this.lookup(req.name);
    const users = req.usedBy ?? [];
    const byId = /^(?:sha256:)?[a-f0-9]{1,64}$/.test(req.name) && !image.repoTags.includes(`${req.name}:latest`);
    const out: RemoveImageReply = [];
    if (!byId) {
      const ref = parseReferenceWithDefaultTag(req.name);
      const repoTag = ref.digest ? undefined : tagOf(ref);
      const repoDigest = ref.digest ? `${ref.familiarName}@${ref.digest}` : undefined;
      const remaining = image.repoTags.filter((t) => t !== repoTag).length;
      if (repoTag && remaining > 0) {
        // Only a tag goes; the image stays.
        await this.apply([{ id: image.id, command: { type: 'Untag', repoTag } }], actor);
        return [{ Untagged: repoTag }];
      }
      if (users.length && !req.force) {
        throw conflict(
          `conflict: unable to remove repository reference "${req.name}" (must force) - container ${shortId(users[0].id)} is using its referenced image ${shortId(image.id)}`,
        );
      }
      if (repoTag) out.push({ Untagged: repoTag });
      if (repoDigest) out.push({ Untagged: repoDigest });
    } else {
      const running = users.find((u) => u.running);
      if (running) {
        throw conflict(`conflict: unable to delete ${shortId(image.id)} (cannot be forced) - image is being used by running container ${shortId(running.id)}`);
      }
      if (users.length && !req.force) {
        throw conflict(`conflict: unable to delete ${shortId(image.id)} (must be forced) - image is being used by stopped container ${shortId(users[0].id)}`);
      }
      if (image.repoTags.length > 1 && !req.force) {
        throw conflict(`conflict: unable to delete ${shortId(image.id)} (must be forced) - image is referenced in multiple repositories`);
      }
      for (const t of image.repoTags) out.push({ Untagged: t });
    }
    if (users.length && req.force) {
      // Docker keeps an image a container uses: forced removal only drops its names.
      const steps = image.repoTags.map((t) => ({ id: image.id, command: { type: 'Untag', repoTag: t } as ImageCommand }));
      await this.apply(steps, actor);
      return image.repoTags.map((t) => ({ Untagged: t }));
    }
    for (const d of image.repoDigests) if (!out.some((o) => 'Untagged' in o && o.Untagged === d)) out.push({ Untagged: d });
    const steps: Array<{ id: string; command: ImageCommand }> = image.repoTags.map((t) => ({ id: image.id, command: { type: 'Untag', repoTag: t } }));
    steps.push({ id: image.id, command: { type: 'Delete' } });
    await this.apply(steps, actor);
    out.push({ Deleted: image.id });
    if (!req.noprune) {
      const freed = await this.collectGarbage(image);
      for (const c of freed.chainIds) out.push({ Deleted: c });
    }
    return out;
  }

  /** Removes the layers and blobs of a deleted image that no remaining image references. */
  private async collectGarbage(image: ImageView): Promise<{ chainIds: string[]; bytes: number }> {
    const { chainIds: keepChains, blobs: keepBlobs } = await this.images.referenced();
    const row = image;
    const chains = row.chainIds.filter((c) => !keepChains.has(c));
    const record = await this.store.readStream(imageStreamId(image.id));
    const layers = record
      .map((e) => (e.data as { layers?: StoredLayer[] }).layers)
      .filter((l): l is StoredLayer[] => Array.isArray(l))
      .at(-1) ?? [];
    const blobs = [...layers.map((l) => l.digest), image.id].filter((d) => !keepBlobs.has(d));
    if (!chains.length && !blobs.length) return { chainIds: [], bytes: 0 };
    const r = await this.executor.run(ExecutorJob.ImageRemoveLayers, { chainIds: chains, blobs }, { timeoutMs: SHORT_JOB_MS });
    return { chainIds: chains, bytes: r.bytes };
  }

  async prune(req: PruneImagesRequest, actor: Actor | null = null): Promise<PruneImagesReply> {
    const filters = { ...(req.filters ?? {}) };
    const all = req.all || (filters.dangling ?? []).some((v) => /^(0|false)$/i.test(v));
    delete filters.dangling;
    const used = new Set(req.usedImageIds ?? []);
    const until = filters.until?.length ? parseUntil(filters.until[filters.until.length - 1]) : undefined;
    const candidates = (await this.images.rows())
      .map(toImageView)
      .filter((v) => (all || v.repoTags.length === 0) && !used.has(v.id))
      .filter((v) => !filters.label?.length || matchesLabels(v, filters.label))
      .filter((v) => until === undefined || Date.parse(v.created) <= until);
    const deleted: RemoveImageReply = [];
    let bytes = 0;
    for (const v of candidates) {
      const steps: Array<{ id: string; command: ImageCommand }> = v.repoTags.map((t) => ({ id: v.id, command: { type: 'Untag', repoTag: t } }));
      steps.push({ id: v.id, command: { type: 'Delete' } });
      await this.apply(steps, actor);
      for (const t of v.repoTags) deleted.push({ Untagged: t });
      deleted.push({ Deleted: v.id });
      const freed = await this.collectGarbage(v);
      bytes += freed.bytes;
      for (const c of freed.chainIds) deleted.push({ Deleted: c });
    }
    return { imagesDeleted: deleted, spaceReclaimed: bytes };
  }

  // ------------------------------------------------------------------------------------------------
  // Push

  private async record(id: string): Promise<ImageRecord> {
    const row = await this.images.row(id);
    if (!row) throw noSuchImage(id);
    return { id: row.id, configJson: row.config_json, configMediaType: row.config_media_type, layers: row.layers };
  }

  async push(req: PushImageRequest, actor: Actor | null = null): Promise<PushImageReply> {
    const base = parseReference(req.name);
    const tags = req.tag
      ? [req.tag]
      : base.tag
        ? [base.tag]
        : (await this.images.rows())
            .flatMap((r) => r.repo_tags)
            .filter((t) => t.slice(0, t.lastIndexOf(':')) === base.familiarName)
            .map((t) => t.slice(t.lastIndexOf(':') + 1));
    if (!tags.length) throw noSuchImage(`${base.familiarName}`);
    const out = this.progress.writer(req.progressKey);
    let last: PushImageReply | undefined;
    try {
      out.send({ status: `The push refers to repository [${base.name}]` });
      for (const tag of tags) {
        const ref = withTag(base, tag);
        const view = await this.find(ref.familiar);
        if (!view) throw noSuchImage(ref.familiar);
        const rec = await this.record(view.id);
        const manifest = buildManifest(rec);
        const mountFrom = [...new Set([...view.repoTags, ...view.repoDigests].map((n) => {
          try {
            const r = parseReference(n.replace(/:[^:/@]+$/, '').replace(/@.*$/, ''));
            return r.domain === ref.domain && r.path !== ref.path ? r.path : undefined;
          } catch {
            return undefined;
          }
        }).filter((p): p is string => !!p))];
        const sizes = new Map(rec.layers.map((l) => [l.digest, l.size]));
        for (const l of [...rec.layers].reverse()) out.send({ status: 'Preparing', progressDetail: {}, id: shortId(l.digest) });
        const jobId = `push-${randomUUID()}`;
        const r = await this.progress.withJobProgress(
          jobId,
          (updates) => this.relayPush(out, updates, sizes, mountFrom),
          () =>
            this.executor.run(
              ExecutorJob.ImagePushBlobs,
              {
                registry: { domain: ref.domain, path: ref.path, registryAuth: req.registryAuth ?? '' },
                blobs: [...rec.layers.map((l) => ({ digest: l.digest, size: l.size })), { digest: rec.id, size: Buffer.byteLength(rec.configJson) }],
                mountFrom,
                manifest: { reference: tag, data: manifest.bytes.toString('base64'), mediaType: manifest.mediaType },
              },
              { timeoutMs: LONG_JOB_MS, jobId },
            ),
        );
        out.send({ status: `${tag}: digest: ${r.digest} size: ${manifest.bytes.length}` });
        out.send({ progressDetail: {}, aux: { Tag: tag, Digest: r.digest, Size: manifest.bytes.length } });
        await this.apply([{ id: rec.id, command: { type: 'RecordPushed', reference: ref.familiar, repoDigest: `${ref.familiarName}@${r.digest}`, size: manifest.bytes.length } }], actor);
        last = { tag, digest: r.digest, size: manifest.bytes.length };
      }
      return last!;
    } finally {
      await out.flush();
    }
  }

  private relayPush(out: ProgressWriter, updates: LayerProgress[], sizes: Map<string, number>, mountFrom: string[]): void {
    for (const u of updates) {
      if (!sizes.has(u.digest)) continue;
      const id = shortId(u.digest);
      switch (u.phase) {
        case 'waiting':
          out.send({ status: 'Waiting', progressDetail: {}, id });
          break;
        case 'upload': {
          const current = u.current ?? 0;
          const total = u.total ?? sizes.get(u.digest) ?? 0;
          out.send({ status: 'Pushing', progressDetail: { current, total }, progress: progressBar(current, total), id });
          break;
        }
        case 'exists':
          out.send({ status: 'Layer already exists', progressDetail: {}, id });
          break;
        case 'mounted':
          out.send({ status: `Mounted from ${mountFrom[0] ?? ''}`, progressDetail: {}, id });
          break;
        case 'pushed':
          out.send({ status: 'Pushed', progressDetail: {}, id });
          break;
        default:
          break;
      }
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Save, load, import

  async save(req: SaveImagesRequest, actor: Actor | null = null): Promise<SaveImagesReply> {
    if (!req.names.length) throw invalid('no images specified');
    const entries = new Map<string, { id: string; repoTags: string[]; canonicalTags: string[] }>();
    for (const name of req.names) {
      const view = await this.lookup(name);
      const e = entries.get(view.id) ?? { id: view.id, repoTags: [], canonicalTags: [] };
      let tag: string | undefined;
      if (!/^(?:sha256:)?[a-f0-9]{6,64}$/.test(name)) {
        try {
          const ref = parseReference(name);
          if (!ref.digest) {
            const full = ref.tag ? ref : parseReferenceWithDefaultTag(name);
            tag = tagOf(full);
            if (!e.repoTags.includes(tag)) {
              e.repoTags.push(tag);
              e.canonicalTags.push(`${full.name}:${full.tag}`);
            }
          }
        } catch {
          /* an id */
        }
      }
      entries.set(view.id, e);
    }
    const images = [];
    for (const e of entries.values()) {
      const rec = await this.record(e.id);
      const m = buildManifest(rec);
      images.push({ ...e, configJson: rec.configJson, layers: rec.layers, manifestJson: m.bytes.toString('utf8'), manifestMediaType: m.mediaType });
    }
    const path = req.path ?? join(this.config['data-root'], 'tmp', `save-${randomUUID()}.tar`);
    const r = await this.executor.run(ExecutorJob.ImageExport, { path, images }, { timeoutMs: LONG_JOB_MS });
    for (const e of entries.values()) await this.apply([{ id: e.id, command: { type: 'RecordSaved', names: req.names } }], actor);
    return { path: r.path };
  }

  async load(req: LoadImagesRequest, actor: Actor | null = null): Promise<LoadImagesReply> {
    const r = await this.executor.run(ExecutorJob.ImageImportLayers, { mode: 'load', path: req.path }, { timeoutMs: LONG_JOB_MS });
    const loaded: string[] = [];
    const out = this.progress.writer(req.progressKey);
    try {
      for (const img of r.images) {
        const id = sha256(img.configJson);
        const repoTags = img.repoTags.map((t) => {
          const ref = parseReferenceWithDefaultTag(t);
          return tagOf(ref);
        });
        await this.apply([{ id, command: { type: 'RecordLoaded', record: { id, configJson: img.configJson, configMediaType: img.configMediaType, layers: img.layers }, repoTags } }], actor);
        if (repoTags.length) for (const t of repoTags) loaded.push(`Loaded image: ${t}`);
        else loaded.push(`Loaded image ID: ${id}`);
      }
      for (const l of loaded) out.send({ stream: `${l}\n` });
    } finally {
      await out.flush();
    }
    return { loaded };
  }

  async import(req: ImportImageRequest, actor: Actor | null = null): Promise<ImportImageReply> {
    if (!req.path) throw invalid('import from a URL is not supported by Berth; use fromSrc=-');
    let repoTag: string | undefined;
    if (req.repo) repoTag = tagOf(this.targetReference(req.repo, req.tag));
    const platform = req.platform ? parsePlatform(req.platform) : { os: 'linux', architecture: 'amd64' };
    const baseConfig = applyChanges({}, req.changes ?? []);
    const r = await this.executor.run(ExecutorJob.ImageImportLayers, { mode: 'rootfs', path: req.path }, { timeoutMs: LONG_JOB_MS });
    const layer = r.layer;
    if (!layer) throw new DomainError(ErrorCode.Internal, 'the executor returned no layer for the import');
    const created = new Date().toISOString();
    const config = {
      architecture: platform.architecture,
      ...(platform.variant ? { variant: platform.variant } : {}),
      os: platform.os,
      created,
      config: baseConfig,
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created, created_by: '', comment: req.message || 'Imported from -' }],
      ...(req.message ? { comment: req.message } : {}),
    };
    const configJson = JSON.stringify(config);
    const id = sha256(configJson);
    await this.executor.run(ExecutorJob.ImagePutBlobs, { blobs: [{ digest: id, data: Buffer.from(configJson).toString('base64') }] }, { timeoutMs: SHORT_JOB_MS });
    const mediaType = layer.mediaType === MediaType.DockerLayerGzip ? MediaType.DockerConfig : MediaType.OciConfig;
    await this.apply(
      [{ id, command: { type: 'RecordImported', record: { id, configJson, configMediaType: mediaType, layers: [layer] }, source: req.url ?? '-', ...(repoTag ? { repoTag } : {}) } }],
      actor,
    );
    const out = this.progress.writer(req.progressKey);
    out.send({ status: id });
    await out.flush();
    return { id };
  }

  // ------------------------------------------------------------------------------------------------
  // Registry account

  async login(req: LoginRequest): Promise<LoginReply> {
    const client = new RegistryClient({ ...this.policy, userAgent: 'berth/0.1' });
    try {
      const creds = credentialsFromAuthConfig(req);
      const r = await client.checkLogin(req.serveraddress, creds);
      return { status: r.status, ...(r.identityToken ? { identityToken: r.identityToken } : {}) };
    } finally {
      await client.close();
    }
  }

  async search(term: string, limit: number | undefined): Promise<unknown[]> {
    const url = `https://index.docker.io/v1/search?q=${encodeURIComponent(term)}&n=${limit ?? 25}`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) throw new Error(`status ${res.status}`);
      const body = (await res.json()) as { results?: unknown[] };
      return body.results ?? [];
    } catch (e) {
      const cause = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
      throw new DomainError(ErrorCode.Unavailable, `Error searching for "${term}": no registry index is reachable (${url}): ${cause}`);
    }
  }

  async count(): Promise<number> {
    return this.images.count();
  }

  familiar(ref: ImageReference): string {
    return familiarName(ref.domain, ref.path);
  }
}

/** `until`/`since` filter values: unix seconds (with fraction), RFC 3339, or a Go duration like 10m. */
function parseUntil(value: string): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const d = /^(\d+)(s|m|h)$/.exec(value);
  if (d) return Date.now() - Number(d[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[d[2] as 's' | 'm' | 'h'];
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw invalid(`invalid filter 'until=${value}'`);
  return t;
}
