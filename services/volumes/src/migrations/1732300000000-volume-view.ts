import type { MigrationInterface, QueryRunner } from 'typeorm';

export class VolumeView1732300000000 implements MigrationInterface {
  name = 'VolumeView1732300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS volumes.volume_view (
      name text PRIMARY KEY,
      driver text NOT NULL,
      mountpoint text NOT NULL,
      labels jsonb NOT NULL DEFAULT '{}',
      options jsonb NOT NULL DEFAULT '{}',
      anonymous boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS volumes.volume_view`);
  }
}
