import type { DomainService } from '@berth/contracts';
import type { MigrationClass, Projection } from '@berth/event-store';
import type { Type } from '@nestjs/common';

/** What a domain service declares; `runDomainService` does the rest (config, db, relay, transport). */
export interface DomainServiceDefinition {
  readonly service: DomainService;
  /** The service's feature module: controllers (transport entry points) and use cases. */
  readonly module: Type<unknown>;
  /** Projection-table migrations, run after the event store's own. */
  readonly migrations: readonly MigrationClass[];
  /** Inline projections: applied in the appending transaction, rebuilt by `berth projections rebuild`. */
  readonly projections: readonly Projection[];
  /** RPC patterns that wait for something to happen (see RedisRpcServerOptions.longPolls). */
  readonly longPolls?: readonly string[];
}
