import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `gateway.container_attributes`: what Docker's container events carry about a container (name, image,
 * labels), kept from ContainerCreated/ContainerRenamed so later events (after a gateway restart too)
 * still carry them.
 */
export class CreateContainerAttributes1732400000001 implements MigrationInterface {
  readonly name = 'CreateContainerAttributes1732400000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS gateway.container_attributes (
        container_id text PRIMARY KEY,
        name         text NOT NULL,
        image        text NOT NULL,
        labels       jsonb NOT NULL DEFAULT '{}'::jsonb
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS gateway.container_attributes`);
  }
}
