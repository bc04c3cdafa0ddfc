import { Global, Inject, Logger, Module, OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { BerthConfig } from '@berth/config';
import { DataSource } from 'typeorm';
import { GATEWAY_CONFIG } from '../config';
import { GATEWAY_MIGRATIONS } from '../migrations';

export const GATEWAY_SCHEMA = 'gateway';

/** The gateway's schema on the shared Postgres; migrations run before anything serves. */
export async function openGatewayDataSource(postgresUrl: string): Promise<DataSource> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: postgresUrl,
    schema: GATEWAY_SCHEMA,
    migrations: GATEWAY_MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    applicationName: 'berth-gateway',
    extra: { max: 10, idleTimeoutMillis: 0 }, // idle connections stay open (see createDataSource)
  });
  await dataSource.initialize();
  // Gateways starting together take turns; the lock holder's session is separate from the migrator's.
  const lock = dataSource.createQueryRunner();
  try {
    await lock.query(`SELECT pg_advisory_lock(hashtext('berth.gateway.migrations'))`);
    // The migrations table lives in the schema, so the schema must exist before TypeORM looks for it.
    await dataSource.query(`CREATE SCHEMA IF NOT EXISTS ${GATEWAY_SCHEMA}`);
    await dataSource.runMigrations();
  } catch (e) {
    await lock.release();
    await dataSource.destroy();
    throw e;
  }
  await lock.query(`SELECT pg_advisory_unlock(hashtext('berth.gateway.migrations'))`);
  await lock.release();
  return dataSource;
}

const dataSourceProvider: Provider = {
  provide: DataSource,
  inject: [GATEWAY_CONFIG],
  useFactory: (config: BerthConfig) => openGatewayDataSource(config.postgresUrl),
};

@Global()
@Module({ providers: [dataSourceProvider], exports: [DataSource] })
export class DatabaseModule implements OnApplicationShutdown {
  private readonly logger = new Logger('database');
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy().catch((e: Error) => this.logger.warn(e.message));
  }
}
