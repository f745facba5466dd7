/**
 * Sizes the bucket code and its callers share, in a module without the AWS SDK.
 */

/**
 * Parts of a multipart upload. S3 wants at least 5 MiB (all but the last); 8 MiB keeps a 15-minute
 * recording to a few dozen requests while one part in memory stays small.
 */
export const PART_BYTES = 8 * 1024 * 1024;
/** DeleteObjects takes at most this many keys per request. */
export const DELETE_BATCH = 1000;
