export * from './image-builder';
export * from './registry';
