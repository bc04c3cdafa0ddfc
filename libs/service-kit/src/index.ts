export * from './definition';
export * from './core.module';
export * from './run';
export * from './command';
