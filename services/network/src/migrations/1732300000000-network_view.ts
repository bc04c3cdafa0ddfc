import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The read model the network service answers from (filled by its projections as the domain grows). */
export class NetworkView1732300000000 implements MigrationInterface {
  name = 'NetworkView1732300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE IF NOT EXISTS network.network_view (
      id text PRIMARY KEY,
      name text NOT NULL UNIQUE,
      driver text NOT NULL,
      created_at timestamptz NOT NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS network.network_view`);
  }
}
