export * from './errors';
export * from './backoff';
export * from './buffer-json';
export * from './protocol';
export * from './video';
export * from './livestream';
export * from './state';
export * from './client';
