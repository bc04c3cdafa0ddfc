import { Logger } from '@nestjs/common';
import { Job, Queue, QueueEvents, UnrecoverableError, Worker } from 'bullmq';
import {
  DomainError,
  ErrorCode,
  ExecutorJob,
  ExecutorJobPayloads,
  ExecutorJobResults,
  executorQueueName,
  traceEnd,
  traceStart,
} from '@berth/contracts';
import { closeRedis, openRedis, redisOptionsFromUrl, settlesWithin, unblockByName } from './redis-connection';
import { RedisRpcClient } from './rpc-client';
import { parseRequest, rpcRequestKey, toSerializedError, type RpcReplyMessage } from './rpc-protocol';

export interface ExecutorRunOptions {
  /** How long to wait for the result (default: the client's defaultTimeoutMs). */
  readonly timeoutMs?: number;
  /** Idempotency key: while a job with this id is kept, adding it again returns the same job. */
  readonly jobId?: string;
}

export interface ExecutorEnqueueOptions {
  readonly jobId?: string;
  readonly delayMs?: number;
}

/**
 * How a domain service reaches the executor (and the DI token): ExecutorQueueClient in processes,
 * InProcessExecutor in unit tests.
 */
export abstract class ExecutorRunner {
  /**
   * Runs a job on the node's executor and resolves with its typed result. Rejects with
   * DomainError(TIMEOUT) when it does not finish in time, or with the executor's DomainError (code
   * preserved; INTERNAL for anything else) when it fails.
   */
  abstract run<J extends ExecutorJob>(
    job: J,
    payload: ExecutorJobPayloads[J],
    options?: ExecutorRunOptions,
  ): Promise<ExecutorJobResults[J]>;
  /** Adds a job without waiting for it; resolves with the job id. */
  abstract enqueue<J extends ExecutorJob>(
    job: J,
    payload: ExecutorJobPayloads[J],
    options?: ExecutorEnqueueOptions,
  ): Promise<string>;
  abstract close(): Promise<void>;
}

export interface ExecutorQueueOptions {
  readonly redisUrl: string;
  /** BullMQ prefix, so every queue key lives under `<namespace>:`. */
  readonly namespace: string;
  readonly nodeId: string;
  /** default 30000 */
  readonly defaultTimeoutMs?: number;
}

/**
 * BullMQ keeps only the failure message, so the executor writes the code in front of it
 * (`NOT_FOUND: no such volume`) and the client reads it back.
 */
export function encodeJobFailure(err: DomainError): string {
  return `${err.code}: ${err.message}`;
}

export function decodeJobFailure(reason: string): DomainError {
  const match = /^([A-Z_]+): ([\s\S]*)$/.exec(reason);
  if (match && (Object.values(ErrorCode) as string[]).includes(match[1])) {
    return new DomainError(match[1] as ErrorCode, match[2]);
  }
  return new DomainError(ErrorCode.Internal, reason);
}

/**
 * Jobs that answer quickly and report nothing but their result go over the direct request/reply path
 * (the RPC transport's Redis list + reply channel: one LPUSH, one BRPOP, one PUBLISH), not BullMQ
 * (add script, marker, moveToActive, moveToFinished, the events stream and QueueEvents: about four
 * times the latency, paid several times by every `docker run`). Durability is what the list gives: a
 * request pushed while the executor is down waits in the list and runs when it is back (unless its
 * caller stopped waiting); one in flight when the executor dies times out at the caller, who may retry
 * (handlers are idempotent), as it would after BullMQ's stall check. Image jobs (progress, idempotency
 * keys) and anything enqueued stay on BullMQ.
 */
export function isDirectExecutorJob(job: string): boolean {
  return job === 'ping' || /^(container|exec|network|volume)\./.test(job);
}

/** The direct path's RPC service name for a node (no '.', which separates service from action). */
export function directExecutorService(nodeId: string): string {
  return `executor-direct-${nodeId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

const jobDefaults = {
  // A failed job is not retried by the queue: the caller is waiting on this one attempt and decides.
  attempts: 1,
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 24 * 3600, count: 5000 },
};

/** The producer side of the node's executor queue (`executor-<nodeId>`). */
export class ExecutorQueueClient implements ExecutorRunner {
  readonly queueName: string;
  private readonly logger: Logger;
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly defaultTimeoutMs: number;
  private readonly direct: RedisRpcClient;
  private readonly directService: string;

  constructor(private readonly options: ExecutorQueueOptions) {
    this.queueName = executorQueueName(options.nodeId);
    this.logger = new Logger(`ExecutorQueue(${options.nodeId})`);
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000;
    const connection = redisOptionsFromUrl(options.redisUrl);
    this.queue = new Queue(this.queueName, { connection, prefix: options.namespace, defaultJobOptions: jobDefaults });
    // QueueEvents blocks on XREAD, so BullMQ requires it not to give up on a command.
    this.events = new QueueEvents(this.queueName, {
      connection: { ...connection, maxRetriesPerRequest: null },
      prefix: options.namespace,
    });
    // Without listeners an 'error' event would throw and take the process down.
    this.queue.on('error', (err) => this.logger.warn(`queue: ${err.message}`));
    this.events.on('error', (err) => this.logger.warn(`queue events: ${err.message}`));
    this.directService = directExecutorService(options.nodeId);
    this.direct = new RedisRpcClient({ redisUrl: options.redisUrl, namespace: options.namespace, defaultTimeoutMs: this.defaultTimeoutMs });
    // Subscribed before the first job, so the first `docker run` does not pay for it.
    this.direct.connect().catch((err: Error) => this.logger.warn(`direct executor replies: ${err.message}`));
  }

  async run<J extends ExecutorJob>(
    job: J,
    payload: ExecutorJobPayloads[J],
    options: ExecutorRunOptions = {},
  ): Promise<ExecutorJobResults[J]> {
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    if (options.jobId === undefined && isDirectExecutorJob(job)) {
      return this.direct.request<ExecutorJobResults[J]>(`${this.directService}.${job}`, payload, { timeoutMs }).catch((err: unknown) => {
        if (err instanceof DomainError && err.code === ErrorCode.Timeout) {
          throw new DomainError(ErrorCode.Timeout, `executor ${this.options.nodeId} did not finish ${job} within ${timeoutMs} ms`);
        }
        throw err;
      });
    }
    let added: Job | undefined;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new DomainError(ErrorCode.Timeout, `executor ${this.options.nodeId} did not finish ${job} within ${timeoutMs} ms`));
        void this.abandon(added);
      }, timeoutMs);
    });
    const finished = (async () => {
      await this.events.waitUntilReady();
      added = await this.queue.add(job, payload, { jobId: options.jobId });
      // The ttl only unhooks BullMQ's listeners if the job never ends; our own timer answers first.
      return (await added.waitUntilFinished(this.events, timeoutMs + 1000)) as ExecutorJobResults[J];
    })();
    try {
      return await Promise.race([finished, timedOut]);
    } catch (err) {
      if (err instanceof DomainError) throw err;
      throw decodeJobFailure(err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
      finished.catch(() => undefined);
    }
  }

  async enqueue<J extends ExecutorJob>(
    job: J,
    payload: ExecutorJobPayloads[J],
    options: ExecutorEnqueueOptions = {},
  ): Promise<string> {
    const added = await this.queue.add(job, payload, { jobId: options.jobId, delay: options.delayMs });
    return added.id ?? '';
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.events.close(), this.queue.close(), this.direct.close()]);
  }

  /**
   * A job nobody waits for any more should not run later by surprise: remove it if no worker took it
   * yet. One already running finishes (handlers are idempotent, so a retry by the caller is safe).
   */
  private async abandon(job: Job | undefined): Promise<void> {
    if (!job) return;
    try {
      const state = await job.getState();
      if (state === 'waiting' || state === 'delayed' || state === 'prioritized') await job.remove();
    } catch (err) {
      this.logger.debug(`could not remove timed-out job ${job.id}: ${(err as Error).message}`);
    }
  }
}

/** One handler per job, total over ExecutorJob: adding a job to contracts fails to compile until handled. */
export type ExecutorHandlers = {
  [J in ExecutorJob]: (payload: ExecutorJobPayloads[J], job: Job) => Promise<ExecutorJobResults[J]>;
};

export interface ExecutorWorkerOptions {
  readonly redisUrl: string;
  readonly namespace: string;
  readonly nodeId: string;
  readonly handlers: ExecutorHandlers;
  /** Jobs run at once (default 8). */
  readonly concurrency?: number;
  /** default true; false to call worker.run() yourself */
  readonly autorun?: boolean;
}

/**
 * The consumer side, run by the executor. A job whose worker died is picked up again by BullMQ's
 * stalled-job check once the lock expires, so a restarting executor resumes its work.
 */
export function createExecutorWorker(options: ExecutorWorkerOptions): Worker {
  const logger = new Logger(`ExecutorWorker(${options.nodeId})`);
  const handlers = options.handlers as Record<string, (payload: unknown, job: Job) => Promise<unknown>>;
  const worker = new Worker(
    executorQueueName(options.nodeId),
    async (job: Job) => {
      const handler = Object.prototype.hasOwnProperty.call(handlers, job.name) ? handlers[job.name] : undefined;
      if (!handler) {
        const err = new DomainError(ErrorCode.NotImplemented, `executor ${options.nodeId} has no handler for ${job.name}`);
        throw new UnrecoverableError(encodeJobFailure(err));
      }
      const data: unknown = job.data;
      // Credentials must not outlive their use in Redis (completed jobs are kept for an hour): the
      // handler gets them from memory, the stored copy loses them. A retry after a crash runs anonymous.
      if (containsSecret(data)) await job.updateData(redactSecrets(data)).catch(() => undefined);
      try {
        return await handler(data, job);
      } catch (err) {
        const domain = DomainError.from(err);
        // A deliberate DomainError will not change on a retry; an unexpected failure might.
        const failure =
          err instanceof DomainError ? new UnrecoverableError(encodeJobFailure(domain)) : new Error(encodeJobFailure(domain));
        if (err instanceof Error) failure.stack = err.stack;
        if (!(err instanceof DomainError)) logger.error(`${job.name} (${job.id}) failed: ${(err as Error)?.stack ?? String(err)}`);
        throw failure;
      }
    },
    {
      connection: { ...redisOptionsFromUrl(options.redisUrl), maxRetriesPerRequest: null },
      prefix: options.namespace,
      concurrency: options.concurrency ?? 8,
      autorun: options.autorun ?? true,
    },
  );
  worker.on('error', (err) => logger.warn(`worker: ${err.message}`));
  // The direct request/reply path (isDirectExecutorJob) runs the same handlers; it stops with the worker.
  if (options.autorun ?? true) {
    const direct = new DirectExecutorServer(options, handlers, logger);
    direct.start();
    const close = worker.close.bind(worker);
    worker.close = async (force?: boolean) => {
      await direct.close();
      return close(force);
    };
  }
  return worker;
}

const SECRET_KEYS = new Set(['registryAuth']);

export function containsSecret(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  return Object.entries(value).some(([k, v]) => (SECRET_KEYS.has(k) && v) || containsSecret(v));
}

/** A copy without credential fields (at any depth). */
export function redactSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map(redactSecrets) as T;
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).filter(([k]) => !SECRET_KEYS.has(k)).map(([k, v]) => [k, redactSecrets(v)]),
  ) as T;
}

/** What a handler on the direct path gets for its `job` argument (no progress, no BullMQ record). */
const directJob = (id: string, name: string, data: unknown) =>
  ({ id, name, data, updateProgress: async () => undefined, log: async () => 0 }) as unknown as Job;

/**
 * The executor's end of the direct path: BRPOP on the node's request list, each request handled
 * without waiting for the previous one (at most `maxInFlight` at once), the result or the DomainError
 * PUBLISHed on the caller's reply channel.
 */
class DirectExecutorServer {
  private readonly key: string;
  private readonly service: string;
  private readonly connectionName: string;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxInFlight = 64;
  private slotWaiters: (() => void)[] = [];
  private blocking?: ReturnType<typeof openRedis>;
  private pub?: ReturnType<typeof openRedis>;
  private loop?: Promise<void>;
  private closing = false;

  constructor(
    private readonly options: ExecutorWorkerOptions,
    private readonly handlers: Record<string, (payload: unknown, job: Job) => Promise<unknown>>,
    private readonly logger: Logger,
  ) {
    this.service = directExecutorService(options.nodeId);
    this.key = rpcRequestKey(options.namespace, this.service);
    this.connectionName = `berth-executor-direct-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
  }

  start(): void {
    this.blocking = openRedis(this.options.redisUrl, this.logger, { connectionName: this.connectionName, maxRetriesPerRequest: null });
    this.pub = openRedis(this.options.redisUrl, this.logger, { connectionName: `${this.connectionName}-pub` });
    this.loop = this.run(this.blocking);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const wake of this.slotWaiters.splice(0)) wake();
    if (this.pub) await unblockByName(this.pub, this.connectionName).catch(() => 0);
    if (this.loop && !(await settlesWithin(this.loop, 1000))) this.blocking?.disconnect();
    await this.loop;
    await settlesWithin(Promise.allSettled([...this.inFlight]), 10_000);
    await Promise.all([closeRedis(this.blocking), closeRedis(this.pub)]);
  }

  private async run(blocking: NonNullable<DirectExecutorServer['blocking']>): Promise<void> {
    while (!this.closing) {
      if (this.inFlight.size >= this.maxInFlight) {
        await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
        continue;
      }
      let popped: [string, string] | null;
      try {
        popped = await blocking.brpop(this.key, 5);
      } catch (err) {
        if (this.closing) break;
        this.logger.warn(`BRPOP ${this.key}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (!popped) continue;
      const work = this.handle(popped[1]);
      this.inFlight.add(work);
      void work.finally(() => {
        this.inFlight.delete(work);
        for (const wake of this.slotWaiters.splice(0)) wake();
      });
    }
  }

  private async handle(raw: string): Promise<void> {
    const message = parseRequest(raw);
    if (!message || message.id === undefined || message.replyTo === undefined) {
      this.logger.warn(`dropping malformed request on ${this.key}: ${raw.slice(0, 200)}`);
      return;
    }
    if (message.deadline !== undefined && message.deadline < Date.now()) return; // nobody waits any more
    const name = message.pattern.slice(this.service.length + 1);
    const handler = Object.prototype.hasOwnProperty.call(this.handlers, name) ? this.handlers[name] : undefined;
    let reply: RpcReplyMessage;
    if (!handler) {
      const err = new DomainError(ErrorCode.NotImplemented, `executor ${this.options.nodeId} has no handler for ${name}`);
      reply = { id: message.id, err: toSerializedError(err), isDisposed: true };
    } else {
      const t0 = traceStart();
      try {
        reply = { id: message.id, response: await handler(message.data, directJob(message.id, name, message.data)), isDisposed: true };
        traceEnd(`executor ${name}`, t0);
      } catch (err) {
        if (!(err instanceof DomainError)) this.logger.error(`${name} (direct ${message.id}) failed: ${(err as Error)?.stack ?? String(err)}`);
        reply = { id: message.id, err: toSerializedError(DomainError.from(err)), isDisposed: true };
      }
    }
    try {
      await this.pub?.publish(message.replyTo, JSON.stringify(reply));
    } catch (err) {
      this.logger.warn(`could not reply to ${name} (${message.id}): ${(err as Error).message}`);
    }
  }
}
