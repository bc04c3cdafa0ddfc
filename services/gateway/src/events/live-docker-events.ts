import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { BerthConfig } from '@berth/config';
import { Client, type Notification } from 'pg';
import { GATEWAY_CONFIG } from '../config';
import { DOCKER_EVENTS_CHANNEL, DockerEventsRepository, type StoredDockerEvent } from './docker-events.repository';

export type LiveListener = (event: StoredDockerEvent) => void;

/**
 * Fans newly recorded Docker events out to `/events` streams. Every gateway instance LISTENs on the
 * table's NOTIFY channel, so a client sees every event whichever instance projected it.
 */
@Injectable()
export class LiveDockerEvents implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('live-events');
  private readonly listeners = new Set<LiveListener>();
  private readonly typeListeners = new Set<(type: string) => void>();
  private client?: Client;
  private closed = false;
  private reconnectTimer?: NodeJS.Timeout;
  /** Notifications are resolved one at a time so listeners see commit order. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: BerthConfig,
    private readonly repository: DockerEventsRepository,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.listeners.clear();
    this.typeListeners.clear();
    await this.client?.end().catch(() => undefined);
    await this.chain;
  }

  /** Only the Docker type (container, image, network, volume) of each new event; no row is read for these. */
  subscribeTypes(listener: (type: string) => void): () => void {
    this.typeListeners.add(listener);
    return () => this.typeListeners.delete(listener);
  }

  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.config.postgresUrl, application_name: 'berth-gateway-listen' });
    client.on('notification', (message: Notification) => this.onNotification(message));
    client.on('error', (e: Error) => this.onLost(client, e));
    client.on('end', () => this.onLost(client));
    await client.connect();
    await client.query(`LISTEN ${DOCKER_EVENTS_CHANNEL}`);
    this.client = client;
  }

  private onLost(client: Client, error?: Error): void {
    if (this.closed || this.client !== client) return;
    this.client = undefined;
    this.logger.warn(`event notifications lost${error ? `: ${error.message}` : ''}; reconnecting`);
    client.end().catch(() => undefined);
    const retry = () => {
      this.reconnectTimer = setTimeout(() => {
        if (this.closed) return;
        this.connect().catch((e: Error) => {
          this.logger.warn(`reconnect failed: ${e.message}`);
          retry();
        });
      }, 1_000);
    };
    retry();
  }

  private onNotification(message: Notification): void {
    if (message.channel !== DOCKER_EVENTS_CHANNEL || !message.payload) return;
    // "<type>:<event id>": type listeners need no read of the row.
    const colon = message.payload.indexOf(':');
    const eventId = colon < 0 ? message.payload : message.payload.slice(colon + 1);
    if (colon > 0) {
      const type = message.payload.slice(0, colon);
      for (const listener of [...this.typeListeners]) listener(type);
    }
    if (!eventId || this.listeners.size === 0) return;
    this.chain = this.chain
      .then(async () => {
        const event = await this.repository.findById(eventId);
        if (!event) return;
        for (const listener of [...this.listeners]) listener(event);
      })
      .catch((e: Error) => this.logger.warn(`cannot deliver event ${eventId}: ${e.message}`));
  }
}
