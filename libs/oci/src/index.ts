export * from './reference';
export * from './manifest';
export * from './auth';
export * from './content-store';
export * from './registry-client';
export * from './fs-ops';
export * from './layer-unpack';
