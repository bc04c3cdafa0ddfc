import type { ImageContainerConfig, ImageView, StoredLayer } from '@berth/contracts';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { IMAGE_TAG_TABLE, IMAGE_VIEW_TABLE, type ImageRow } from './projections/image-view.projection';

interface ParsedConfig {
  created?: string;
  author?: string;
  comment?: string;
  architecture?: string;
  variant?: string;
  os?: string;
  config?: ImageContainerConfig;
  rootfs?: { diff_ids?: string[] };
  history?: ImageView['history'];
  parent?: string;
}

export function toImageView(row: ImageRow): ImageView {
  let c: ParsedConfig = {};
  try {
    c = JSON.parse(row.config_json) as ParsedConfig;
  } catch {
    /* keep the defaults */
  }
  const layers: StoredLayer[] = row.layers ?? [];
  return {
    id: row.id,
    repoTags: row.repo_tags ?? [],
    repoDigests: row.repo_digests ?? [],
    parent: c.parent ?? '',
    comment: c.comment ?? '',
    created: c.created ?? row.created_at.toISOString(),
    author: c.author ?? '',
    architecture: c.architecture ?? '',
    ...(c.variant ? { variant: c.variant } : {}),
    os: c.os ?? '',
    config: c.config ?? {},
    diffIds: c.rootfs?.diff_ids ?? layers.map((l) => l.diffId),
    chainIds: layers.map((l) => l.chainId),
    size: Number(row.size),
    labels: (c.config?.Labels as Record<string, string> | null | undefined) ?? {},
    history: c.history ?? [],
    layerSizes: layers.map((l) => l.unpackedSize),
    recordedAt: (row.last_tag_at ?? row.recorded_at).toISOString(),
  };
}

/** Reads of the image_view projection and the tag index. */
@Injectable()
export class ImageRepository {
  constructor(private readonly dataSource: DataSource) {}

  async row(id: string, manager: EntityManager = this.dataSource.manager): Promise<ImageRow | null> {
    const rows: ImageRow[] = await manager.query(`SELECT * FROM ${IMAGE_VIEW_TABLE} WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  async rows(): Promise<ImageRow[]> {
    return this.dataSource.query(`SELECT * FROM ${IMAGE_VIEW_TABLE} ORDER BY created_at DESC, id`);
  }

  /** Image ids whose id (hex) starts with `prefix`. */
  async idsByPrefix(prefix: string): Promise<string[]> {
    const rows: { id: string }[] = await this.dataSource.query(`SELECT id FROM ${IMAGE_VIEW_TABLE} WHERE id LIKE $1 LIMIT 2`, [`sha256:${prefix}%`]);
    return rows.map((r) => r.id);
  }

  async ownerOfTag(repoTag: string, manager: EntityManager = this.dataSource.manager): Promise<string | null> {
    const rows: { image_id: string }[] = await manager.query(`SELECT image_id FROM ${IMAGE_TAG_TABLE} WHERE repo_tag = $1`, [repoTag]);
    return rows[0]?.image_id ?? null;
  }

  async byDigest(repoDigest: string): Promise<string | null> {
    const rows: { id: string }[] = await this.dataSource.query(`SELECT id FROM ${IMAGE_VIEW_TABLE} WHERE repo_digests ? $1 LIMIT 1`, [repoDigest]);
    return rows[0]?.id ?? null;
  }

  /** Every chainID and blob any image still references (for layer GC). */
  async referenced(manager: EntityManager = this.dataSource.manager): Promise<{ chainIds: Set<string>; blobs: Set<string> }> {
    const rows: { id: string; layers: StoredLayer[] }[] = await manager.query(`SELECT id, layers FROM ${IMAGE_VIEW_TABLE}`);
    const chainIds = new Set<string>();
    const blobs = new Set<string>();
    for (const r of rows) {
      blobs.add(r.id);
      for (const l of r.layers ?? []) {
        chainIds.add(l.chainId);
        blobs.add(l.digest);
      }
    }
    return { chainIds, blobs };
  }

  /** Uncompressed size of a layer known from any image (a cached layer's job result has none). */
  async knownLayerSizes(): Promise<Map<string, number>> {
    const rows: { layers: StoredLayer[] }[] = await this.dataSource.query(`SELECT layers FROM ${IMAGE_VIEW_TABLE}`);
    const out = new Map<string, number>();
    for (const r of rows) for (const l of r.layers ?? []) if (l.unpackedSize) out.set(l.chainId, l.unpackedSize);
    return out;
  }

  async count(): Promise<number> {
    const rows: { n: string }[] = await this.dataSource.query(`SELECT count(*) AS n FROM ${IMAGE_VIEW_TABLE}`);
    return Number(rows[0]?.n ?? 0);
  }
}
