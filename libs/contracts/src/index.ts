export * from './errors';
export * from './events';
export * from './names';
export * from './volumes';
export * from './network';
export * from './system';
export * from './executor';
export * from './images';
