import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { ConfigError, scrubUrlCredentials } from '@eufy-relay/config';
import { codeOf, statusOf, type RecordingObjects, type S3Settings } from './objects';

/** What a role does with the bucket; the start-up check tries exactly these. */
export type BucketUse = 'read' | 'write' | 'delete';

/**
 * Tries the bucket the way the role will use it (list, then put/read/delete a small probe object)
 * and turns the first failure into one line naming the setting to fix. Thrown as a ConfigError, so
 * the role stops at start exactly like a bad value in the configuration.
 */
export async function checkBucket(
  objects: RecordingObjects,
  settings: S3Settings,
  uses: readonly BucketUse[],
  signal?: AbortSignal,
): Promise<void> {
  const probe = `${objects.prefix}.eufy-relay-check.${hostname()}.${process.pid}.${randomBytes(3).toString('hex')}`;
  const steps: { action: string; run: () => Promise<unknown> }[] = [
    {
      action: 's3:ListBucket',
      run: () =>
        objects.client.send(
          new ListObjectsV2Command({ Bucket: objects.bucket, Prefix: objects.prefix, MaxKeys: 1 }),
          { abortSignal: signal },
        ),
    },
  ];
  if (uses.includes('write'))
    steps.push({
      action: 's3:PutObject',
      run: () =>
        objects.client.send(new PutObjectCommand({ Bucket: objects.bucket, Key: probe, Body: 'ok' }), {
          abortSignal: signal,
        }),
    });
  if (uses.includes('read') && uses.includes('write'))
    steps.push({
      action: 's3:GetObject',
      run: () =>
        objects.client.send(new HeadObjectCommand({ Bucket: objects.bucket, Key: probe }), {
          abortSignal: signal,
        }),
    });
  if (uses.includes('write') || uses.includes('delete'))
    steps.push({
      action: 's3:DeleteObject',
      run: () =>
        objects.client.send(new DeleteObjectCommand({ Bucket: objects.bucket, Key: probe }), {
          abortSignal: signal,
        }),
    });
  for (const step of steps) {
    try {
      await step.run();
    } catch (err) {
      throw new ConfigError([explain(err, step.action, settings)]);
    }
  }
}

const show = (name: string, value: string | undefined) =>
  value === undefined ? `${name} (unset)` : `${name}=${JSON.stringify(scrubUrlCredentials(value))}`;

/** One line: the setting at fault, what the server (or the network) said, and what it means. */
export function explain(err: unknown, action: string, settings: S3Settings): string {
  const endpoint = show('S3_ENDPOINT', settings.S3_ENDPOINT ?? undefined);
  const bucket = show('S3_BUCKET', settings.S3_BUCKET);
  const key = show('S3_ACCESS_KEY_ID', settings.S3_ACCESS_KEY_ID);
  const code = codeOf(err) ?? 'Error';
  const status = statusOf(err);
  // The SDK wraps network errors ("AWS SDK error wrapper for Error: connect ECONNREFUSED …").
  const message = ((err as Error).message ?? String(err)).replace(
    /^AWS SDK error wrapper for \w*Error: /,
    '',
  );
  const netCode =
    (err as NodeJS.ErrnoException).code ??
    /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH)\b/.exec(message)?.[1];
  if (code === 'NoSuchBucket' || (status === 404 && action === 's3:ListBucket'))
    return `storage: ${bucket}: the bucket does not exist at ${endpoint}`;
  if (code === 'InvalidAccessKeyId')
    return `storage: ${key}: the server does not know this access key (${endpoint})`;
  if (code === 'SignatureDoesNotMatch')
    return `storage: S3_SECRET_ACCESS_KEY=<redacted>: not the secret of ${key} (the server rejected the signature)`;
  if (code === 'CredentialsProviderError' || /Could not load credentials/i.test(message))
    return 'storage: S3_ACCESS_KEY_ID (unset): the AWS SDK found no credentials either; set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY';
  if (code === 'AccessDenied' || status === 403)
    return `storage: ${key}: no permission for ${action} on ${bucket} under S3_PREFIX=${JSON.stringify(settings.S3_PREFIX)}`;
  if (
    code === 'PermanentRedirect' ||
    code === 'AuthorizationHeaderMalformed' ||
    code === 'IllegalLocationConstraintException'
  )
    return `storage: S3_REGION=${JSON.stringify(settings.S3_REGION)}: the bucket is in another region (${code})`;
  if (
    netCode !== undefined ||
    code === 'TimeoutError' ||
    code === 'RequestTimeout' ||
    /socket hang up|timed out|exceeded the configured/i.test(message)
  )
    return `storage: ${endpoint}: cannot reach the S3 endpoint (${message.split('\n')[0]})`;
  if (status !== undefined && status >= 300 && status < 400)
    return `storage: ${endpoint}: the endpoint redirects (${status}); check it and S3_FORCE_PATH_STYLE`;
  return `storage: ${endpoint} ${bucket}: ${action} failed (${code}${status ? ` ${status}` : ''}: ${message.split('\n')[0]})`;
}
