import type { MigrationInterface, QueryRunner } from 'typeorm';

/** image_view grows the columns inspect/list/resolve read; image_tag indexes every tag (unique). */
export class ImageTables1732500000000 implements MigrationInterface {
  name = 'ImageTables1732500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE images.image_view
      ADD COLUMN IF NOT EXISTS repo_digests jsonb NOT NULL DEFAULT '[]',
      ADD COLUMN IF NOT EXISTS config_json text NOT NULL DEFAULT '{}',
      ADD COLUMN IF NOT EXISTS config_media_type text NOT NULL DEFAULT '',
      ADD COLUMN IF NOT EXISTS layers jsonb NOT NULL DEFAULT '[]',
      ADD COLUMN IF NOT EXISTS recorded_at timestamptz NOT NULL DEFAULT now(),
      ADD COLUMN IF NOT EXISTS last_tag_at timestamptz`);
    await q.query(`CREATE TABLE IF NOT EXISTS images.image_tag (
      repo_tag text PRIMARY KEY,
      image_id text NOT NULL
    )`);
    await q.query(`CREATE INDEX IF NOT EXISTS image_tag_image_id ON images.image_tag (image_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS images.image_tag`);
  }
}
