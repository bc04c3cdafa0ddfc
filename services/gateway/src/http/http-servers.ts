import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';

export type DockerServer = HttpServer | HttpsServer;

export interface ListeningServer {
  /** `unix:///run/berth/docker.sock`, `tcp://0.0.0.0:2376` */
  readonly host: string;
  readonly server: DockerServer;
}

/**
 * The raw node servers the gateway listens on. Hijacked streams (attach, exec start with Upgrade)
 * arrive on their `upgrade` event and never reach Nest, so that later work registers here.
 */
export class HttpServers {
  private readonly listening: ListeningServer[] = [];
  private readonly upgradeHandlers: ((...args: Parameters<UpgradeListener>) => void)[] = [];

  add(entry: ListeningServer): void {
    this.listening.push(entry);
    for (const handler of this.upgradeHandlers) entry.server.on('upgrade', handler);
  }

  all(): readonly ListeningServer[] {
    return this.listening;
  }

  /** Registers a listener for `upgrade` on every server, present and future. */
  onUpgrade(handler: UpgradeListener): void {
    this.upgradeHandlers.push(handler);
    for (const { server } of this.listening) server.on('upgrade', handler);
  }
}

export type UpgradeListener = (req: import('node:http').IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => void;
