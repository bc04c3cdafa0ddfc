import type { MigrationInterface, QueryRunner } from 'typeorm';

/** network_view gets the whole network (IPAM, options, labels); endpoint_view holds the leases. */
export class NetworkEndpoints1732400000000 implements MigrationInterface {
  name = 'NetworkEndpoints1732400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE network.network_view
      ADD COLUMN IF NOT EXISTS bridge text NOT NULL DEFAULT '',
      ADD COLUMN IF NOT EXISTS ipam jsonb NOT NULL DEFAULT '[]',
      ADD COLUMN IF NOT EXISTS options jsonb NOT NULL DEFAULT '{}',
      ADD COLUMN IF NOT EXISTS labels jsonb NOT NULL DEFAULT '{}',
      ADD COLUMN IF NOT EXISTS internal boolean NOT NULL DEFAULT false,
      ADD COLUMN IF NOT EXISTS attachable boolean NOT NULL DEFAULT false,
      ADD COLUMN IF NOT EXISTS enable_ipv6 boolean NOT NULL DEFAULT false,
      ADD COLUMN IF NOT EXISTS predefined boolean NOT NULL DEFAULT false`);
    await q.query(`CREATE TABLE IF NOT EXISTS network.endpoint_view (
      endpoint_id text PRIMARY KEY,
      network_id text NOT NULL,
      container_id text NOT NULL,
      container_name text NOT NULL,
      endpoint jsonb NOT NULL,
      created_at timestamptz NOT NULL,
      UNIQUE (network_id, container_id)
    )`);
    await q.query(`CREATE INDEX IF NOT EXISTS endpoint_view_container ON network.endpoint_view (container_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS network.endpoint_view`);
  }
}
