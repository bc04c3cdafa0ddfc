/**
 * @berth/messaging: how Berth processes talk.
 *
 * 1. Request/reply (gateway -> domain service): a custom @nestjs/microservices transport over Redis
 *    lists, so exactly one instance of a service takes each request (Nest's built-in Redis transport is
 *    pub/sub: every instance would answer) and every key carries the run's namespace. Wire format and
 *    diagram: rpc-protocol.ts.
 *      server: `createRpcMicroservice(AppModule, { redisUrl, namespace, service })`, or
 *              `NestFactory.createMicroservice(AppModule, { strategy: new RedisRpcServer(...) })` plus
 *              `app.useGlobalFilters(new DomainErrorRpcFilter())` (without it a DomainError's code is lost);
 *              handlers are ordinary `@MessagePattern('volumes.create')`.
 *      client: `new RedisRpcClient({ redisUrl, namespace })`, then `request<T>(pattern, data, { timeoutMs })`;
 *              inject it as the abstract `RpcClient`; unit tests use `InProcessRpc`.
 * 2. Durable jobs (domain service -> executor): BullMQ, one queue per node (`executorQueueName(nodeId)`),
 *    prefix = namespace. `ExecutorQueueClient.run(job, payload, { timeoutMs })` awaits a typed result;
 *    `createExecutorWorker({ handlers })` consumes. `ExecutorRunner` is the port; `InProcessExecutor` the
 *    test driver.
 * 3. Generation push (domain service -> gateway read caches): `GenerationFeed` publishes a service's
 *    state token through the RPC server's reply connection, `GenerationWatch` follows it on the client's
 *    reply connection, so a reply is never seen before the token of the changes it reports (generations.ts).
 * 4. Streams: `StreamConsumer` reads `<ns>:events` (or `<ns>:observations`) through a consumer group and
 *    acks after the handler resolves; `publishObservation` is the executor's writer.
 */
export * from './rpc-client';
export * from './rpc-server';
export * from './generations';
export type { RpcReplyMessage, RpcRequestMessage } from './rpc-protocol';
export {
  rpcReplyChannel,
  rpcRequestKey,
  serviceOfPattern,
  toSerializedError,
} from './rpc-protocol';
export * from './executor-queue';
export * from './stream-consumer';
export * from './in-process';
export { redisOptionsFromUrl } from './redis-connection';
export * from './line-stream';
export * from './recent-map';
