import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The read model the containers service answers from (filled by its projections as the domain grows). */
export class ContainersView1732300000000 implements MigrationInterface {
  name = 'ContainersView1732300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS containers.container_view (
      id text PRIMARY KEY,
      name text NOT NULL UNIQUE,
      image text NOT NULL,
      status text NOT NULL,
      created_at timestamptz NOT NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS containers.container_view`);
  }
}
