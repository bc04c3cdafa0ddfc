import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `gateway.docker_events`: the Docker-vocabulary projection of every service's events, the durable
 * history behind `GET /events`. Ordered by (time_nano, event_id); `recorded_at` bounds the dedupe window
 * between a history read and the live feed.
 */
export class CreateDockerEvents1732400000000 implements MigrationInterface {
  readonly name = 'CreateDockerEvents1732400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SCHEMA IF NOT EXISTS gateway`);
    await q.query(`
      CREATE TABLE gateway.docker_events (
        event_id     uuid PRIMARY KEY,
        time_nano    bigint NOT NULL,
        type         text NOT NULL,
        action       text NOT NULL,
        actor_id     text NOT NULL,
        attributes   jsonb NOT NULL DEFAULT '{}'::jsonb,
        scope        text NOT NULL DEFAULT 'local',
        service      text NOT NULL,
        position     bigint NOT NULL,
        recorded_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX docker_events_time ON gateway.docker_events (time_nano, event_id)`);
    await q.query(`CREATE INDEX docker_events_type_time ON gateway.docker_events (type, time_nano)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS gateway.docker_events`);
  }
}
