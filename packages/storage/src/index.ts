export * from './objects';
export * from './check';
export * from './storage';
