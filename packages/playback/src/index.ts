export * from './errors';
export * from './files';
export * from './hls';
export * from './live';
export * from './lookup';
