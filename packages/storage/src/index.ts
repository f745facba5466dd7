// The AWS SDK (tens of MB of RSS) is loaded only when a bucket is used: openStorage requires it for
// STORAGE_BACKEND=s3, and '@eufy-relay/storage/s3' gives tests and benchmarks the client itself.
export type * from './objects';
export type { BucketUse } from './check';
export * from './limits';
export * from './upload';
export * from './storage';
export * from './spools';
