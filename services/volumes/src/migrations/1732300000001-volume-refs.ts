import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Mount references: which containers use which volumes (projection of VolumeMounted/VolumeUnmounted). */
export class VolumeRefs1732300000001 implements MigrationInterface {
  name = 'VolumeRefs1732300000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS volumes.volume_refs (
      name text NOT NULL,
      container_id text NOT NULL,
      destination text NOT NULL DEFAULT '',
      readonly boolean NOT NULL DEFAULT false,
      mounted_at timestamptz NOT NULL,
      PRIMARY KEY (name, container_id)
    )`);
    await q.query(`CREATE INDEX IF NOT EXISTS volume_refs_container ON volumes.volume_refs (container_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS volumes.volume_refs`);
  }
}
