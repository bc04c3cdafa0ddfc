export * from './rpc-client';
export * from './rpc-server';
