export * from './system';
export * from './volumes';
