export * from './registry';
export * from './heartbeat';
