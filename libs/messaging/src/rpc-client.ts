import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Logger } from '@nestjs/common';
import { ClientProxy, ReadPacket, WritePacket } from '@nestjs/microservices';
import Redis from 'ioredis';
import { DomainError, ErrorCode, traceEnd, traceStart } from '@berth/contracts';
import { closeRedis, openRedis } from './redis-connection';
import {
  RpcReplyMessage,
  RpcRequestMessage,
  parseReply,
  rpcReplyChannel,
  rpcRequestKey,
  serviceOfPattern,
} from './rpc-protocol';

export interface RequestOptions {
  /** How long to wait for the reply; the request is also dropped by the server after this. */
  readonly timeoutMs?: number;
}

/**
 * What callers of a domain service depend on (and the DI token): RedisRpcClient in processes,
 * InProcessRpc in unit tests.
 */
export abstract class RpcClient {
  /**
   * Resolves with the handler's reply. Rejects with the remote DomainError (code preserved), with
   * DomainError(TIMEOUT) when no reply arrives in time, or DomainError(UNAVAILABLE) when the request
   * cannot be sent.
   */
  abstract request<T = unknown>(pattern: string, data?: unknown, options?: RequestOptions): Promise<T>;
  abstract close(): Promise<void>;
}

export interface RedisRpcClientOptions {
  readonly redisUrl: string;
  readonly namespace: string;
  /** Names this client's reply channel; unique per process by default. */
  readonly clientId?: string;
  /** default 5000 */
  readonly defaultTimeoutMs?: number;
}

export type RpcConnectionStatus = 'connected' | 'disconnected' | 'reconnecting';

type RedisEvents = {
  error: (err: Error) => void;
  ready: () => void;
  reconnecting: () => void;
};

/** A request list nobody consumes expires this long after the last push, instead of growing forever. */
const IDLE_REQUEST_LIST_TTL_MS = 10 * 60_000;

/**
 * The client half of the Redis request/reply transport (see rpc-protocol.ts). Usable as a Nest
 * ClientProxy (`send`, `emit`) and, more conveniently, through `request()`. One subscriber connection
 * receives every reply for this client; replies are matched to callers by request id.
 */
export class RedisRpcClient extends ClientProxy<RedisEvents, RpcConnectionStatus> implements RpcClient {
  readonly clientId: string;
  readonly replyChannel: string;
  private readonly logger = new Logger(RedisRpcClient.name);
  private readonly defaultTimeoutMs: number;
  private readonly pending = new Map<string, (reply: RpcReplyMessage) => void>();
  private readonly listeners: Array<[keyof RedisEvents, (...args: any[]) => void]> = [];
  /** channels besides the reply channel read on the reply connection (subscribeAlongReplies) */
  private readonly alongReplies = new Map<string, { onMessage: (raw: string) => void; onReset: () => void }>();
  private pub?: Redis;
  private sub?: Redis;
  private connecting?: Promise<void>;

  constructor(private readonly options: RedisRpcClientOptions) {
    super();
    this.clientId = options.clientId ?? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
    this.replyChannel = rpcReplyChannel(options.namespace, this.clientId);
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 5000;
  }

  /** Idempotent. Resolves once the reply channel is subscribed, so no reply can be missed. */
  connect(): Promise<void> {
    this.connecting ??= this.open().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    const pub = openRedis(this.options.redisUrl, this.logger, { connectionName: `berth-rpc-client-${this.clientId}` });
    const sub = openRedis(this.options.redisUrl, this.logger, { connectionName: `berth-rpc-replies-${this.clientId}` });
    for (const [event, callback] of this.listeners) {
      pub.on(event, callback);
      sub.on(event, callback);
    }
    sub.on('message', (channel: string, raw: string) => {
      if (channel === this.replyChannel) this.onReply(raw);
      else this.alongReplies.get(channel)?.onMessage(raw);
    });
    // Whatever was published while the connection was down is lost (it resubscribes on reconnect).
    sub.on('close', () => {
      for (const { onReset } of this.alongReplies.values()) onReset();
    });
    sub.on('reconnecting', () => this._status$.next('reconnecting'));
    sub.on('ready', () => this._status$.next('connected'));
    try {
      await sub.subscribe(this.replyChannel, ...this.alongReplies.keys());
    } catch (err) {
      pub.disconnect();
      sub.disconnect();
      throw err;
    }
    this.pub = pub;
    this.sub = sub;
    this._status$.next('connected');
  }

  /** Rejects every request still waiting with UNAVAILABLE, then closes both connections. */
  async close(): Promise<void> {
    const connecting = this.connecting;
    this.connecting = undefined;
    await connecting?.catch(() => undefined);
    const closed = new DomainError(ErrorCode.Unavailable, 'RPC client closed before the reply arrived');
    for (const [id, settle] of this.pending) settle({ id, err: closed.toJSON(), isDisposed: true });
    this.pending.clear();
    const { pub, sub } = this;
    this.pub = this.sub = undefined;
    await Promise.all([closeRedis(sub), closeRedis(pub)]);
    this._status$.next('disconnected');
  }

  request<T = unknown>(pattern: string, data?: unknown, options: RequestOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.call(pattern, data, options.timeoutMs ?? this.defaultTimeoutMs, (err, response) =>
        err ? reject(err) : resolve(response as T),
      );
    });
  }

  /**
   * Delivers `channel`'s messages from the connection replies arrive on, so they interleave with the
   * replies in the order Redis ran the PUBLISHes (see RedisRpcServer.publishBeforeReplies). `onReset`
   * runs whenever that connection closed: messages may be missing until it is back and resubscribed.
   * Resolves once subscribed; connects if needed.
   */
  async subscribeAlongReplies(channel: string, onMessage: (raw: string) => void, onReset: () => void): Promise<void> {
    if (channel === this.replyChannel) throw new Error('the reply channel is not available to subscribeAlongReplies');
    this.alongReplies.set(channel, { onMessage, onReset });
    await this.connect();
    const sub = this.sub;
    if (!sub) throw new Error('client closed');
    await sub.subscribe(channel);
  }

  override on<K extends keyof RedisEvents>(event: K, callback: RedisEvents[K]): void {
    this.listeners.push([event, callback]);
    this.pub?.on(event, callback);
    this.sub?.on(event, callback);
  }

  /** The command connection (requests are pushed on it). */
  unwrap<T>(): T {
    if (!this.pub) throw new Error('Not initialized. Please call the "connect" method first.');
    return this.pub as T;
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    return this.call(this.normalizePattern(packet.pattern), packet.data, this.defaultTimeoutMs, (err, response) =>
      callback(err ? { err, isDisposed: true } : { response, isDisposed: true }),
    );
  }

  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    const pattern = this.normalizePattern(packet.pattern);
    await this.push(serviceOfPattern(pattern), JSON.stringify({ pattern, data: packet.data }), IDLE_REQUEST_LIST_TTL_MS);
    return undefined as T;
  }

  /** ClientProxy.send() hands errors to subscribers through this: make them DomainErrors too. */
  protected override serializeError(err: unknown): DomainError {
    return DomainError.from(err);
  }

  /**
   * Sends one request and calls `settle` exactly once: with the reply, the remote error, a TIMEOUT, or
   * UNAVAILABLE. The timer starts before anything else, so a caller never waits past its timeout even
   * when Redis itself is unreachable. Returns a function that abandons the request.
   */
  private call(
    pattern: string,
    data: unknown,
    timeoutMs: number,
    settle: (err: DomainError | undefined, response?: unknown) => void,
  ): () => void {
    const service = serviceOfPattern(pattern);
    const id = randomUUID();
    let done = false;
    const t0 = traceStart();
    const finish = (err: DomainError | undefined, response?: unknown) => {
      if (done) return;
      done = true;
      traceEnd(`rpc ${pattern}`, t0);
      clearTimeout(timer);
      this.pending.delete(id);
      settle(err, response);
    };
    const timer = setTimeout(
      () => finish(new DomainError(ErrorCode.Timeout, `${service} did not answer ${pattern} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    let raw: string;
    try {
      const message: RpcRequestMessage = { id, pattern, data, replyTo: this.replyChannel, deadline: Date.now() + timeoutMs };
      raw = JSON.stringify(message);
    } catch (err) {
      finish(new DomainError(ErrorCode.InvalidArgument, `cannot serialize ${pattern} request: ${(err as Error).message}`));
      return () => undefined;
    }
    this.pending.set(id, (reply) =>
      finish(reply.err !== undefined ? DomainError.from(reply.err) : undefined, reply.response),
    );
    this.push(service, raw, Math.max(IDLE_REQUEST_LIST_TTL_MS, 2 * timeoutMs)).catch((err: Error) =>
      finish(new DomainError(ErrorCode.Unavailable, `could not send ${pattern} to ${service}: ${err.message}`)),
    );
    return () => {
      done = true;
      clearTimeout(timer);
      this.pending.delete(id);
    };
  }

  private async push(service: string, raw: string, ttlMs: number): Promise<void> {
    await this.connect();
    const pub = this.pub;
    if (!pub) throw new Error('client closed');
    const key = rpcRequestKey(this.options.namespace, service);
    // A pipeline, not MULTI: half the commands; a lost PEXPIRE only leaves the list to the next push's.
    const results = await pub.pipeline().lpush(key, raw).pexpire(key, ttlMs).exec();
    const failed = results?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  private onReply(raw: string): void {
    const reply = parseReply(raw);
    if (!reply) {
      this.logger.warn(`ignoring malformed reply on ${this.replyChannel}`);
      return;
    }
    // No entry: the caller already timed out or gave up; the late reply is dropped on purpose.
    this.pending.get(reply.id)?.(reply);
  }
}
