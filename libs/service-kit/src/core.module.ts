import type { BerthConfig } from '@berth/config';
import { EventStore } from '@berth/event-store';
import { ExecutorQueueClient, GenerationFeed, RpcClient } from '@berth/messaging';
import { Controller, type DynamicModule, Global, Module } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { DataSource } from 'typeorm';
import type { PingReply } from '@berth/contracts';

export const BERTH_CONFIG = Symbol('BERTH_CONFIG');

export interface CoreParts {
  readonly service: string;
  readonly config: BerthConfig;
  readonly dataSource: DataSource;
  readonly store: EventStore;
  readonly executor: ExecutorQueueClient;
  /** Request/reply to other domain services (the one client of this process; adapters inject it). */
  readonly rpc: RpcClient;
  /** This process's generation token, pushed to the gateway's read caches (bump() on every change). */
  readonly generations: GenerationFeed;
}

/** `<service>.ping`: liveness over the same transport the gateway uses. */
function systemController(service: string) {
  const startedAt = new Date().toISOString();
  @Controller()
  class SystemController {
    @MessagePattern(`${service}.ping`)
    ping(): PingReply {
      return { service, pid: process.pid, startedAt };
    }
  }
  return SystemController;
}

/**
 * Global providers every domain service's use cases inject: the config, its DataSource, its EventStore,
 * and the executor queue client (the one adapter through which a service reaches the executor).
 */
@Global()
@Module({})
export class CoreModule {
  static forRoot(parts: CoreParts): DynamicModule {
    return {
      module: CoreModule,
      controllers: [systemController(parts.service)],
      providers: [
        { provide: BERTH_CONFIG, useValue: parts.config },
        { provide: DataSource, useValue: parts.dataSource },
        { provide: EventStore, useValue: parts.store },
        { provide: ExecutorQueueClient, useValue: parts.executor },
        { provide: RpcClient, useValue: parts.rpc },
        { provide: GenerationFeed, useValue: parts.generations },
      ],
      exports: [BERTH_CONFIG, DataSource, EventStore, ExecutorQueueClient, RpcClient, GenerationFeed],
    };
  }
}
