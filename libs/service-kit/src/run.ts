import { type BerthConfig, loadConfig } from '@berth/config';
import { createDataSource, EventStore, OutboxRelay, rebuildProjections, runMigrations } from '@berth/event-store';
import { DomainErrorRpcFilter, ExecutorQueueClient, GenerationFeed, RedisRpcClient, RedisRpcServer } from '@berth/messaging';
import { type INestMicroservice, type LogLevel, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import Redis from 'ioredis';
import { CoreModule } from './core.module';
import type { DomainServiceDefinition } from './definition';

const LEVELS: Record<BerthConfig['log-level'], LogLevel[]> = {
  debug: ['debug', 'verbose', 'log', 'warn', 'error', 'fatal'],
  info: ['log', 'warn', 'error', 'fatal'],
  warn: ['warn', 'error', 'fatal'],
  error: ['error', 'fatal'],
  fatal: ['fatal'],
};

export interface RunningService {
  readonly app: INestMicroservice;
  readonly store: EventStore;
  readonly relay: OutboxRelay;
  close(): Promise<void>;
}

function dataSourceFor(def: DomainServiceDefinition, config: BerthConfig) {
  return createDataSource({
    url: config.postgresUrl,
    schema: def.service,
    migrations: [...def.migrations],
    applicationName: `berth-${def.service}`,
  });
}

/**
 * Boots a domain service: migrations, event store with its inline projections, the outbox relay, the
 * executor queue client, and the Redis request/reply transport. `config` defaults to loadConfig(); tests
 * pass their own.
 */
export async function runDomainService(
  def: DomainServiceDefinition,
  config: BerthConfig = loadConfig(),
): Promise<RunningService> {
  const dataSource = dataSourceFor(def, config);
  await runMigrations(dataSource);
  const store = new EventStore({ dataSource, service: def.service, projections: def.projections });
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null, connectionName: `berth-${def.service}-relay` });
  const relay = new OutboxRelay({ store, redis, namespace: config.namespace });
  const executor = new ExecutorQueueClient({
    redisUrl: config.redisUrl,
    namespace: config.namespace,
    nodeId: config.nodeId,
  });

  const rpc = new RedisRpcClient({
    redisUrl: config.redisUrl,
    namespace: config.namespace,
    clientId: `${def.service}-${config.nodeId}-${process.pid}`,
    defaultTimeoutMs: config['rpc-timeout-ms'],
  });
  await rpc.connect();
  const server = new RedisRpcServer({ redisUrl: config.redisUrl, namespace: config.namespace, service: def.service, longPolls: def.longPolls });
  // Published through the server's reply connection: ordered before the replies that follow a change.
  const generations = new GenerationFeed({ namespace: config.namespace, service: def.service, publisher: server });

  @Module({ imports: [CoreModule.forRoot({ service: def.service, config, dataSource, store, executor, rpc, generations }), def.module] })
  class RootModule {}

  const app = await NestFactory.createMicroservice(RootModule, {
    strategy: server,
    logger: LEVELS[config['log-level']],
  });
  app.useGlobalFilters(new DomainErrorRpcFilter());
  await app.listen();
  generations.start();
  relay.start();

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      generations.stop();
      await app.close();
      await relay.stop();
      await executor.close();
      await rpc.close();
      redis.disconnect();
      await dataSource.destroy();
    })());
  return { app, store, relay, close };
}

/** The process entry: run until SIGTERM/SIGINT, then close cleanly. */
export function main(def: DomainServiceDefinition): void {
  runDomainService(def).then(
    (running) => {
      const stop = (signal: string) => {
        console.log(`berth-${def.service}: ${signal}, shutting down`);
        running.close().then(
          () => process.exit(0),
          (e) => {
            console.error(e);
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      console.log(`berth-${def.service}: ready (pid ${process.pid})`);
    },
    (e: unknown) => {
      console.error(`berth-${def.service}: failed to start: ${e instanceof Error ? e.stack : String(e)}`);
      process.exit(1);
    },
  );
}

/** `berth migrate`: run this service's migrations and exit. */
export async function migrate(def: DomainServiceDefinition, config: BerthConfig = loadConfig()): Promise<string[]> {
  const dataSource = dataSourceFor(def, config);
  try {
    return await runMigrations(dataSource);
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
  }
}

/** `berth projections rebuild`: truncate and replay this service's projections. */
export async function rebuild(def: DomainServiceDefinition, config: BerthConfig = loadConfig()) {
  const dataSource = dataSourceFor(def, config);
  try {
    await runMigrations(dataSource);
    const store = new EventStore({ dataSource, service: def.service, projections: def.projections });
    return await rebuildProjections(store);
  } finally {
    if (dataSource.isInitialized) await dataSource.destroy();
  }
}

/** Entry for `dist/migrate.js` and `dist/rebuild.js` scripts. */
export function runScript(name: string, fn: () => Promise<unknown>): void {
  fn().then(
    (result) => {
      console.log(`${name}: ${JSON.stringify(result)}`);
      process.exit(0);
    },
    (e: unknown) => {
      console.error(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
