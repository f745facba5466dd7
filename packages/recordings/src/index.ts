export * from './record';
export * from './store';
export * from './files';
