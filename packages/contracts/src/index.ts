export * from './time';
export * from './recording';
export * from './webhooks';
export * from './jobs';
export * from './webhook-ids';
export * from './examples';
