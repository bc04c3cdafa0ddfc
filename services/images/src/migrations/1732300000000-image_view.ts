import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The read model the images service answers from (filled by its projections as the domain grows). */
export class ImagesView1732300000000 implements MigrationInterface {
  name = 'ImagesView1732300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS images.image_view (
      id text PRIMARY KEY,
      repo_tags jsonb NOT NULL DEFAULT '[]',
      size bigint NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS images.image_view`);
  }
}
