import type { EventEnvelope, ImageEvent, ImageRecord, StoredLayer } from '@berth/contracts';
import type { Projection } from '@berth/event-store';
import type { EntityManager } from 'typeorm';

export const IMAGE_VIEW_TABLE = 'images.image_view';
export const IMAGE_TAG_TABLE = 'images.image_tag';

/**
 * The read model for list/inspect/resolve and the tag index; updated in the append's transaction. A
 * tag moving between images is an ImageUntagged on the old one appended in the same transaction, so
 * the unique tag index never sees two owners.
 */
export const imageViewProjection: Projection = {
  name: 'image_view',
  tables: [IMAGE_VIEW_TABLE, IMAGE_TAG_TABLE],
  handles: ['ImagePulled', 'ImageLoaded', 'ImageImported', 'ImageTagged', 'ImageUntagged', 'ImageDigestRecorded', 'ImagePushed', 'ImageDeleted'],
  async apply(manager: EntityManager, envelope: EventEnvelope): Promise<void> {
    const event = { type: envelope.type, data: envelope.data } as ImageEvent;
    switch (event.type) {
      case 'ImagePulled':
        await upsert(manager, event.data, envelope.occurredAt, event.data.repoTag ? [event.data.repoTag] : [], [event.data.repoDigest]);
        return;
      case 'ImageLoaded':
        await upsert(manager, event.data, envelope.occurredAt, event.data.repoTags, []);
        return;
      case 'ImageImported':
        await upsert(manager, event.data, envelope.occurredAt, event.data.repoTag ? [event.data.repoTag] : [], []);
        return;
      case 'ImageTagged':
        await addTags(manager, event.data.id, [event.data.repoTag], envelope.occurredAt);
        return;
      case 'ImageUntagged':
        await manager.query(
          `UPDATE ${IMAGE_VIEW_TABLE} SET repo_tags = repo_tags - $2::text WHERE id = $1`,
          [event.data.id, event.data.repoTag],
        );
        await manager.query(`DELETE FROM ${IMAGE_TAG_TABLE} WHERE repo_tag = $1 AND image_id = $2`, [event.data.repoTag, event.data.id]);
        return;
      case 'ImageDigestRecorded':
      case 'ImagePushed':
        await manager.query(
          `UPDATE ${IMAGE_VIEW_TABLE} SET repo_digests = CASE WHEN repo_digests ? $2 THEN repo_digests ELSE repo_digests || to_jsonb($2::text) END WHERE id = $1`,
          [event.data.id, event.data.repoDigest],
        );
        return;
      case 'ImageDeleted':
        await manager.query(`DELETE FROM ${IMAGE_TAG_TABLE} WHERE image_id = $1`, [event.data.id]);
        await manager.query(`DELETE FROM ${IMAGE_VIEW_TABLE} WHERE id = $1`, [event.data.id]);
        return;
      default:
        return;
    }
  },
};

async function upsert(manager: EntityManager, record: ImageRecord, at: string, tags: string[], digests: string[]): Promise<void> {
  let created = at;
  try {
    const c = (JSON.parse(record.configJson) as { created?: string }).created;
    if (c && !Number.isNaN(Date.parse(c))) created = c;
  } catch {
    /* a config without a valid date keeps the recording time */
  }
  const size = record.layers.reduce((n, l) => n + l.unpackedSize, 0);
  await manager.query(
    `INSERT INTO ${IMAGE_VIEW_TABLE} (id, repo_tags, repo_digests, size, created_at, config_json, config_media_type, layers, recorded_at)
     VALUES ($1, '[]', '[]', $2, $3, $4, $5, $6, $7)
     ON CONFLICT (id) DO UPDATE SET layers = EXCLUDED.layers, size = EXCLUDED.size`,
    [record.id, size, created, record.configJson, record.configMediaType, JSON.stringify(record.layers), at],
  );
  for (const d of digests) {
    await manager.query(
      `UPDATE ${IMAGE_VIEW_TABLE} SET repo_digests = CASE WHEN repo_digests ? $2 THEN repo_digests ELSE repo_digests || to_jsonb($2::text) END WHERE id = $1`,
      [record.id, d],
    );
  }
  await addTags(manager, record.id, tags, at);
}

async function addTags(manager: EntityManager, id: string, tags: string[], at: string): Promise<void> {
  for (const t of tags) {
    await manager.query(
      `UPDATE ${IMAGE_VIEW_TABLE} SET repo_tags = CASE WHEN repo_tags ? $2 THEN repo_tags ELSE repo_tags || to_jsonb($2::text) END, last_tag_at = $3 WHERE id = $1`,
      [id, t, at],
    );
    await manager.query(
      `INSERT INTO ${IMAGE_TAG_TABLE} (repo_tag, image_id) VALUES ($1, $2) ON CONFLICT (repo_tag) DO UPDATE SET image_id = EXCLUDED.image_id`,
      [t, id],
    );
  }
}

export interface ImageRow {
  id: string;
  repo_tags: string[];
  repo_digests: string[];
  size: string;
  created_at: Date;
  config_json: string;
  config_media_type: string;
  layers: StoredLayer[];
  recorded_at: Date;
  last_tag_at: Date | null;
}
