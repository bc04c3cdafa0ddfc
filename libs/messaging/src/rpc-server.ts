import { randomBytes } from 'node:crypto';
import { Catch, Logger, RpcExceptionFilter, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  BaseRpcContext,
  CustomTransportStrategy,
  MicroserviceOptions,
  Server,
} from '@nestjs/microservices';
import type { INestMicroservice } from '@nestjs/common';
import type { NestMicroserviceOptions } from '@nestjs/common/interfaces/microservices/nest-microservice-options.interface';
import Redis from 'ioredis';
import { Observable, lastValueFrom, throwError } from 'rxjs';
import { ErrorCode, SerializedError } from '@berth/contracts';
import { Sleeper, closeRedis, openRedis, settlesWithin, unblockByName } from './redis-connection';
import { RpcReplyMessage, RpcRequestMessage, parseRequest, rpcReplyChannel, rpcRequestKey, toSerializedError } from './rpc-protocol';
import type { RpcConnectionStatus } from './rpc-client';

export interface RedisRpcServerOptions {
  readonly redisUrl: string;
  readonly namespace: string;
  /** Takes requests for patterns `<service>.*` from list `<ns>:rpc:<service>`. */
  readonly service: string;
  /**
   * Requests handled at once by this instance (default 64). At the limit it stops popping, so the
   * backlog stays in the list for other instances.
   */
  readonly maxInFlight?: number;
  /**
   * Patterns whose handlers wait for something to happen (`containers.wait`): they do not count
   * against maxInFlight, only against maxLongPolls (default 10000). A detached `docker run` leaves a
   * wait behind for as long as its container runs (the CLI asks before it starts the container); as
   * ordinary requests, 64 of them stopped the service from taking any other request.
   */
  readonly longPolls?: readonly string[];
  readonly maxLongPolls?: number;
  /** How long close() waits for running handlers (default 10000). */
  readonly drainTimeoutMs?: number;
}

/** Context handed to handlers (`@Ctx() ctx: RedisRpcContext`). */
export class RedisRpcContext extends BaseRpcContext<[pattern: string, service: string]> {
  getPattern(): string {
    return this.args[0];
  }
  getService(): string {
    return this.args[1];
  }
}

type RedisEvents = {
  error: (err: Error) => void;
  ready: () => void;
  reconnecting: () => void;
};

const BLOCK_SECONDS = 5;

/**
 * The server half of the Redis request/reply transport (see rpc-protocol.ts), used as `strategy` in
 * NestFactory.createMicroservice. Handlers are ordinary `@MessagePattern('<service>.<action>')`.
 *
 * One connection blocks in BRPOP and dispatches each request without awaiting it, so slow handlers do
 * not hold up others; a second connection publishes replies. BRPOP rather than BLMOVE: a request lost
 * with a crashed instance times out at the caller, and callers may retry because handlers are
 * idempotent, so a processing list would buy nothing but recovery code.
 *
 * Nest's default exception filter replaces any non-RpcException with "Internal server error", which
 * would lose a DomainError's code: register DomainErrorRpcFilter globally (createRpcMicroservice does).
 */
export class RedisRpcServer extends Server<RedisEvents, RpcConnectionStatus> implements CustomTransportStrategy {
  static readonly TRANSPORT = Symbol.for('berth.redis-rpc');

  protected override readonly logger: Logger;
  private readonly key: string;
  private readonly replyPrefix: string;
  private readonly maxInFlight: number;
  private readonly drainTimeoutMs: number;
  private readonly connectionName: string;
  private readonly inFlight = new Set<Promise<void>>();
  /** long polls under way (see RedisRpcServerOptions.longPolls) */
  private readonly polling = new Set<Promise<void>>();
  private readonly longPolls: ReadonlySet<string>;
  private readonly maxLongPolls: number;
  private readonly listeners: Array<[keyof RedisEvents, (...args: any[]) => void]> = [];
  private readonly backoff = new Sleeper();
  private slotWaiters: Array<() => void> = [];
  private blocking?: Redis;
  private pub?: Redis;
  private loop?: Promise<void>;
  private closing?: Promise<void>;

  constructor(private readonly options: RedisRpcServerOptions) {
    super();
    this.transportId = RedisRpcServer.TRANSPORT;
    this.logger = new Logger(`RedisRpcServer(${options.service})`);
    this.key = rpcRequestKey(options.namespace, options.service);
    this.replyPrefix = rpcReplyChannel(options.namespace, '');
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 64);
    this.drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
    this.longPolls = new Set(options.longPolls ?? []);
    this.maxLongPolls = Math.max(1, options.maxLongPolls ?? 10_000);
    this.connectionName = `berth-rpc-${options.service}-${process.pid}-${randomBytes(4).toString('hex')}`;
    this.initializeSerializer({});
    this.initializeDeserializer({});
  }

  listen(callback: (err?: unknown, ...optionalParams: unknown[]) => void): void {
    this.start().then(
      () => callback(),
      (err: unknown) => callback(err),
    );
  }

  private async start(): Promise<void> {
    const blocking = openRedis(this.options.redisUrl, this.logger, { connectionName: this.connectionName });
    const pub = openRedis(this.options.redisUrl, this.logger, { connectionName: `${this.connectionName}-pub` });
    for (const [event, callback] of this.listeners) {
      blocking.on(event, callback);
      pub.on(event, callback);
    }
    blocking.on('reconnecting', () => this._status$.next('reconnecting'));
    blocking.on('ready', () => this._status$.next('connected'));
    try {
      await Promise.all([blocking.ping(), pub.ping()]);
    } catch (err) {
      blocking.disconnect();
      pub.disconnect();
      throw err;
    }
    if (this.closing) {
      // close() ran while we were connecting: nothing may keep running after it resolved.
      blocking.disconnect();
      pub.disconnect();
      return;
    }
    this.blocking = blocking;
    this.pub = pub;
    this._status$.next('connected');
    this.loop = this.run(blocking);
  }

  /** Stops taking requests, lets running handlers reply (up to drainTimeoutMs), then disconnects. */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    this.wakeSlotWaiters();
    this.backoff.interrupt();
    const { blocking, pub, loop } = this;
    if (loop && pub) {
      await unblockByName(pub, this.connectionName).catch(() => 0);
      const exited = await settlesWithin(loop, 1000);
      // Unblocking can race a BRPOP that was not sent yet; the socket must go either way.
      if (!exited) blocking?.disconnect();
      await loop;
    }
    if (!(await settlesWithin(Promise.allSettled([...this.inFlight]), this.drainTimeoutMs))) {
      this.logger.warn(`closing with ${this.inFlight.size} handler(s) still running after ${this.drainTimeoutMs} ms`);
    }
    await Promise.all([closeRedis(blocking), closeRedis(pub)]);
    this.blocking = this.pub = undefined;
    this._status$.next('disconnected');
  }

  on<K extends keyof RedisEvents>(event: K, callback: RedisEvents[K]): void {
    this.listeners.push([event, callback]);
    this.blocking?.on(event, callback);
    this.pub?.on(event, callback);
  }

  /**
   * PUBLISH on the connection replies go out on, without waiting: Redis runs it before every reply this
   * server publishes after the call, so a client subscribed to `channel` on its reply connection
   * (RedisRpcClient.subscribeAlongReplies) sees the message before those replies. false while there is
   * no connection yet (before listen) or any more (after close).
   */
  publishBeforeReplies(channel: string, message: string): boolean {
    const pub = this.pub;
    if (!pub) return false;
    pub.publish(channel, message).catch((err: Error) => this.logger.warn(`could not publish on ${channel}: ${err.message}`));
    return true;
  }

  /** [blocking connection, reply connection] */
  unwrap<T>(): T {
    if (!this.blocking || !this.pub) throw new Error('Not initialized. Please call the "listen"/"startAllMicroservices" method first.');
    return [this.blocking, this.pub] as T;
  }

  private async run(blocking: Redis): Promise<void> {
    let failures = 0;
    while (!this.closing) {
      if (this.inFlight.size >= this.maxInFlight) {
        await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
        continue;
      }
      let popped: [string, string] | null;
      try {
        popped = await blocking.brpop(this.key, BLOCK_SECONDS);
        failures = 0;
      } catch (err) {
        if (this.closing) break;
        failures++;
        this.logger.warn(`BRPOP ${this.key} failed (${failures}x): ${(err as Error).message}`);
        await this.backoff.sleep(Math.min(100 * 2 ** failures, 5000));
        continue;
      }
      if (!popped) continue;
      const message = parseRequest(popped[1]);
      const long = message !== null && this.longPolls.has(message.pattern) && this.polling.size < this.maxLongPolls;
      this.track(this.handle(popped[1], message), long ? this.polling : this.inFlight);
    }
  }

  private track(work: Promise<void>, set: Set<Promise<void>>): void {
    set.add(work);
    void work.finally(() => {
      set.delete(work);
      this.wakeSlotWaiters();
    });
  }

  private wakeSlotWaiters(): void {
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Never rejects: whatever arrives on the list, the loop keeps going. */
  private async handle(raw: string, message: RpcRequestMessage | null): Promise<void> {
    try {
      if (!message) {
        this.logger.warn(`dropping malformed message on ${this.key}: ${raw.slice(0, 200)}`);
        return;
      }
      if (message.deadline !== undefined && message.deadline < Date.now()) {
        this.logger.debug(`dropping ${message.pattern} (${message.id}): its caller stopped waiting`);
        return;
      }
      const context = new RedisRpcContext([message.pattern, this.options.service]);
      if (message.id === undefined || message.replyTo === undefined) {
        await this.handleEvent(message.pattern, { pattern: message.pattern, data: message.data }, context);
        return;
      }
      await this.handleRequest(message as Required<RpcRequestMessage>, context);
    } catch (err) {
      this.logger.error(`unexpected failure handling a message on ${this.key}: ${(err as Error).stack ?? String(err)}`);
    }
  }

  private async handleRequest(message: Required<RpcRequestMessage>, context: RedisRpcContext): Promise<void> {
    const { id, pattern, replyTo } = message;
    if (!replyTo.startsWith(this.replyPrefix)) {
      this.logger.warn(`dropping ${pattern} (${id}): reply channel ${replyTo} is outside ${this.replyPrefix}*`);
      return;
    }
    // Our patterns are plain strings: the map first (Nest's lookup JSON.parses every pattern and
    // builds an exception for each one that is not JSON).
    const handler = this.messageHandlers.get(pattern) ?? this.getHandlerByPattern(pattern);
    if (!handler) {
      const err = { code: ErrorCode.NotImplemented, message: `${this.options.service} has no handler for ${pattern}` };
      await this.reply(replyTo, { id, err, isDisposed: true });
      return;
    }
    await new Promise<void>((resolve) => {
      this.onProcessingStartHook(this.transportId!, context, async () => {
        let reply: RpcReplyMessage;
        try {
          const result$ = this.transformToObservable(await handler(message.data, context));
          // A handler may return an Observable; a request has one answer, so the last value wins.
          const response: unknown = await lastValueFrom(result$, { defaultValue: undefined });
          reply = { id, response, isDisposed: true };
        } catch (err) {
          reply = { id, err: toSerializedError(err), isDisposed: true };
        }
        this.onProcessingEndHook?.(this.transportId!, context);
        await this.reply(replyTo, reply);
        resolve();
      });
    });
  }

  private async reply(channel: string, reply: RpcReplyMessage): Promise<void> {
    let raw: string;
    try {
      raw = JSON.stringify(reply);
    } catch (err) {
      const failure: SerializedError = { code: ErrorCode.Internal, message: `reply could not be serialized: ${(err as Error).message}` };
      raw = JSON.stringify({ id: reply.id, err: failure, isDisposed: true });
    }
    try {
      const receivers = await this.pub?.publish(channel, raw);
      if (receivers === 0) this.logger.debug(`nobody listens on ${channel} any more (reply ${reply.id})`);
    } catch (err) {
      this.logger.warn(`could not publish reply ${reply.id}: ${(err as Error).message}`);
    }
  }
}

/**
 * Turns whatever a handler throws into the wire error: DomainError keeps its code, anything else is
 * INTERNAL with its message (logged here with its stack, since only the message travels).
 */
@Catch()
export class DomainErrorRpcFilter implements RpcExceptionFilter<unknown> {
  private readonly logger = new Logger('RpcExceptions');

  catch(exception: unknown): Observable<never> {
    const err = toSerializedError(exception);
    if (err.code === ErrorCode.Internal) {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    }
    return throwError(() => err);
  }
}

/**
 * NestFactory.createMicroservice with the Redis transport and DomainErrorRpcFilter applied. Call
 * `listen()` on the result.
 */
export async function createRpcMicroservice(
  module: Type<unknown>,
  options: RedisRpcServerOptions,
  appOptions: NestMicroserviceOptions = {},
): Promise<INestMicroservice> {
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(module, {
    ...appOptions,
    strategy: new RedisRpcServer(options),
  });
  app.useGlobalFilters(new DomainErrorRpcFilter());
  return app;
}
