import { DomainError, ErrorCode, ExecutorJob, ExecutorJobPayloads, ExecutorJobResults } from '@berth/contracts';
import { RequestOptions, RpcClient } from './rpc-client';
import { serviceOfPattern, toSerializedError } from './rpc-protocol';
import { ExecutorEnqueueOptions, ExecutorHandlers, ExecutorRunOptions, ExecutorRunner } from './executor-queue';

export type InProcessHandler<D = unknown> = (data: D) => unknown;

/** JSON round trip, so a test sees what the wire would carry (Dates become strings, undefined drops). */
const overTheWire = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

/**
 * The request/reply driver for unit tests: same `request` contract as RedisRpcClient (errors, TIMEOUT,
 * NOT_IMPLEMENTED), dispatched to functions registered per pattern, and every call recorded.
 */
export class InProcessRpc implements RpcClient {
  readonly calls: Array<{ readonly pattern: string; readonly data: unknown }> = [];
  private readonly handlers = new Map<string, InProcessHandler>();
  private readonly defaultTimeoutMs: number;

  constructor(options: { defaultTimeoutMs?: number } = {}) {
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 5000;
  }

  /** `D` is the request type the handler expects; the test vouches for what it sends. */
  register<D = unknown>(pattern: string, handler: InProcessHandler<D>): this {
    this.handlers.set(pattern, handler as InProcessHandler);
    return this;
  }

  async request<T = unknown>(pattern: string, data?: unknown, options: RequestOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    const service = serviceOfPattern(pattern);
    this.calls.push({ pattern, data });
    const handler = this.handlers.get(pattern);
    if (!handler) throw new DomainError(ErrorCode.NotImplemented, `${service} has no handler for ${pattern}`);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DomainError(ErrorCode.Timeout, `${service} did not answer ${pattern} within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      const response = await Promise.race([Promise.resolve().then(() => handler(overTheWire(data))), timedOut]);
      return overTheWire(response) as T;
    } catch (err) {
      if (err instanceof DomainError && err.code === ErrorCode.Timeout) throw err;
      const wire = toSerializedError(err);
      throw new DomainError(wire.code, wire.message);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {}
}

/** The executor driver for unit tests: runs handlers directly, with the queue's error contract. */
export class InProcessExecutor implements ExecutorRunner {
  readonly jobs: Array<{ readonly job: ExecutorJob; readonly payload: unknown; readonly jobId?: string }> = [];

  constructor(private readonly handlers: Partial<ExecutorHandlers>) {}

  async run<J extends ExecutorJob>(
    job: J,
    payload: ExecutorJobPayloads[J],
    options: ExecutorRunOptions = {},
  ): Promise<ExecutorJobResults[J]> {
    this.jobs.push({ job, payload, jobId: options.jobId });
    const handler = this.handlers[job] as ((p: ExecutorJobPayloads[J]) => Promise<ExecutorJobResults[J]>) | undefined;
    if (!handler) throw new DomainError(ErrorCode.NotImplemented, `executor has no handler for ${job}`);
    try {
      return overTheWire(await handler(overTheWire(payload)));
    } catch (err) {
      throw DomainError.from(err);
    }
  }

  async enqueue<J extends ExecutorJob>(
    job: J,
    payload: ExecutorJobPayloads[J],
    options: ExecutorEnqueueOptions = {},
  ): Promise<string> {
    const jobId = options.jobId ?? `in-process-${this.jobs.length + 1}`;
    // Fire and forget, like the queue; a failure is the test's to observe through `jobs`.
    void this.run(job, payload, { jobId }).catch(() => undefined);
    return jobId;
  }

  async close(): Promise<void> {}
}
