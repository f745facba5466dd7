export * from './objects';
export * from './check';
export * from './upload';
export * from './storage';
export * from './spools';
