import type { Config } from '@eufy-relay/config';
import type { BucketUse } from './check';
import type { RecordingObjects } from './objects';

/** Where finished recordings live, as STORAGE_BACKEND says. */
export type Storage = { backend: 'local' } | { backend: 's3'; objects: RecordingObjects; close: () => void };

/**
 * Opens the configured storage and, for S3, checks the bucket the way the role uses it: a wrong
 * setting stops the role at start with one line (a ConfigError), never at the first upload.
 */
export async function openStorage(
  config: Config,
  uses: readonly BucketUse[],
  signal?: AbortSignal,
): Promise<Storage> {
  if (config.STORAGE_BACKEND === 'local') return { backend: 'local' };
  const { RecordingObjects, checkBucket, createS3Client } = await import('@eufy-relay/storage/s3');
  const client = createS3Client(config);
  const objects = new RecordingObjects(client, config);
  try {
    await checkBucket(objects, config, uses, signal);
  } catch (err) {
    client.destroy();
    throw err;
  }
  return { backend: 's3', objects, close: () => client.destroy() };
}
