// The bucket itself through the AWS SDK: what openStorage uses for STORAGE_BACKEND=s3, and what tests
// and benchmarks use to look into a bucket. Not in the package's main entry, so a role on the local
// disk never loads the SDK.
export * from './objects';
export * from './check';
