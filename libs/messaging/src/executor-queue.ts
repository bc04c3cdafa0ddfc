import { Logger } from '@nestjs/common';
import { Job, Queue, QueueEvents, UnrecoverableError, Worker } from 'bullmq';
import {
  DomainError,
  ErrorCode,
  ExecutorJob,
  ExecutorJobPayloads,
  ExecutorJobResults,
  executorQueueName,
} from '@berth/contracts';
import { redisOptionsFromUrl } from './redis-connection';

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
  }

  async run<J extends ExecutorJob>(
    job: J,
    payload: ExecutorJobPayloads[J],
    options: ExecutorRunOptions = {},
  ): Promise<ExecutorJobResults[J]> {
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
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
    await Promise.allSettled([this.events.close(), this.queue.close()]);
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
      try {
        return await handler(job.data, job);
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
  return worker;
}
