export * from './rpc-client';
export * from './rpc-server';
export * from './executor-queue';
export * from './stream-consumer';
export * from './in-process';
