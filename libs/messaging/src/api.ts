/**
 * Messaging's public shape.
 *
 * 1. Request/reply (gateway -> domain service) is a custom @nestjs/microservices transport over Redis
 *    lists, so exactly one instance of a service takes each request (Nest's built-in Redis transport is
 *    pub/sub: every instance would answer) and every key carries the run's namespace:
 *      request:  LPUSH <ns>:rpc:<service>   {id, pattern, data, replyTo, deadline}
 *      reply:    PUBLISH <ns>:rpc:reply:<clientId> {id, response | err, isDisposed}
 *    Pattern `<service>.<action>` routes to list `<ns>:rpc:<service>`.
 *    Server: `new RedisRpcServer({ redisUrl, namespace, service })` passed as `strategy` to
 *    NestFactory.createMicroservice; handlers are ordinary `@MessagePattern('volumes.create')`.
 *    Client: `RedisRpcClient` (a ClientProxy) plus `rpc.request<T>(pattern, data, {timeoutMs})`, a
 *    Promise that rejects with DomainError(TIMEOUT, 'volumes did not answer volumes.create within 5000 ms')
 *    on timeout and with the remote DomainError (code preserved) when the handler throws.
 * 2. Durable jobs: BullMQ, one queue per executor node (`executorQueueName(nodeId)`), prefix = namespace.
 *    `ExecutorQueueClient.run(job, payload, {timeoutMs})` adds a job and awaits its typed result.
 *    `createExecutorWorker(handlers)` consumes it.
 * 3. Event stream consumer: `StreamConsumer` reads `<ns>:events` with a consumer group (XREADGROUP),
 *    hands each EventEnvelope to a handler, XACKs after the handler resolves, and re-reads its own
 *    pending entries on start (so a crash mid-handler redelivers; handlers dedupe by eventId).
 * 4. An in-process driver for unit tests (`InProcessRpc`), same `request` signature.
 */
export {};
