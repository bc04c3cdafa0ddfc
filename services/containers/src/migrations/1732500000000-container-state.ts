import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The folded container state and its stream version, loaded into memory at boot. */
export class ContainerState1732500000000 implements MigrationInterface {
  name = 'ContainerState1732500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE containers.container_view ADD COLUMN IF NOT EXISTS state jsonb NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE containers.container_view ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE containers.container_view DROP COLUMN IF EXISTS state, DROP COLUMN IF EXISTS version`);
  }
}
