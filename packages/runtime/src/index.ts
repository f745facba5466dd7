export * from './redis';
export * from './shutdown';
export * from './worker';
export * from './role';
export * from './scope';
export * from './scripts';
