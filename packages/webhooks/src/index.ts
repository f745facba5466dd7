export * from './signing';
export * from './retry';
export * from './queue';
export * from './delivery-log';
export * from './rate-window';
