import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Config } from '@eufy-relay/config';
import { classifyFileName, type RecordingFileKind } from '@eufy-relay/recordings';
import { DELETE_BATCH, PART_BYTES } from './limits';

export type S3Settings = Pick<
  Config,
  | 'S3_ENDPOINT'
  | 'S3_REGION'
  | 'S3_BUCKET'
  | 'S3_PREFIX'
  | 'S3_ACCESS_KEY_ID'
  | 'S3_SECRET_ACCESS_KEY'
  | 'S3_FORCE_PATH_STYLE'
  | 'S3_TIMEOUT_MS'
>;

const CONTENT_TYPES: Record<RecordingFileKind, string> = { video: 'video/mp4', thumbnail: 'image/jpeg' };
const EXTENSIONS: Record<RecordingFileKind, string> = { video: 'mp4', thumbnail: 'jpg' };

export function createS3Client(settings: S3Settings): S3Client {
  return new S3Client({
    region: settings.S3_REGION,
    ...(settings.S3_ENDPOINT ? { endpoint: settings.S3_ENDPOINT } : {}),
    forcePathStyle: settings.S3_FORCE_PATH_STYLE,
    ...(settings.S3_ACCESS_KEY_ID && settings.S3_SECRET_ACCESS_KEY
      ? {
          credentials: {
            accessKeyId: settings.S3_ACCESS_KEY_ID,
            secretAccessKey: settings.S3_SECRET_ACCESS_KEY,
          },
        }
      : {}),
    // R2, B2 and MinIO reject or mangle the CRC checksums newer SDKs add by default; every body
    // we send carries Content-MD5 instead, which every S3-compatible server checks.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Without throwOnRequestTimeout the SDK only logs a request past its timeout and keeps waiting:
    // an S3 that stops answering would hold an upload for ever.
    requestHandler: {
      requestTimeout: settings.S3_TIMEOUT_MS,
      connectionTimeout: settings.S3_TIMEOUT_MS,
      socketTimeout: settings.S3_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
  });
}

/** A multipart upload in progress, kept between attempts so a retry (on any recorder) resumes it. */
export interface UploadProgress {
  upload_id: string;
  key: string;
  /** The file the parts came from: a different size or mtime means start over. */
  size: number;
  mtime_ms: number;
  /** Part number → MD5 (hex) of the part S3 acknowledged. */
  parts: Record<string, string>;
}

/** Where the progress of an upload is kept (Redis in the upload job). */
export interface UploadJournal {
  load(): Promise<UploadProgress | null>;
  save(progress: UploadProgress): Promise<void>;
  clear(): Promise<void>;
}

export interface StoredObject {
  key: string;
  bytes: number;
  etag: string;
}

/** The object does not hold what was uploaded (size or checksum differ): it is not marked stored. */
export class ObjectMismatchError extends Error {
  override readonly name = 'ObjectMismatchError';
}

export interface ObjectRead {
  refused: false;
  status: 200 | 206;
  body: Readable;
  bytes: number;
  contentRange: string | undefined;
  etag: string | undefined;
  lastModified: Date | undefined;
}

/** `404`, `304`, `416` from S3 as a status the api answers with; anything else is thrown. */
export interface ObjectReadRefused {
  refused: true;
  status: 304 | 404 | 416;
  contentRange?: string;
}

/**
 * The recordings in an S3-compatible bucket: `{S3_PREFIX}{id}.mp4` and `{S3_PREFIX}{id}.jpg`.
 * Every method takes an AbortSignal where a caller may give up (a stopping role, a closed client).
 */
export class RecordingObjects {
  readonly bucket: string;
  readonly prefix: string;

  constructor(
    readonly client: S3Client,
    settings: Pick<S3Settings, 'S3_BUCKET' | 'S3_PREFIX'>,
  ) {
    if (!settings.S3_BUCKET) throw new Error('S3_BUCKET is required for object storage');
    this.bucket = settings.S3_BUCKET;
    this.prefix = settings.S3_PREFIX;
  }

  key(id: string, kind: RecordingFileKind): string {
    return `${this.prefix}${id}.${EXTENSIONS[kind]}`;
  }

  /** The recording a key under the prefix names; null for anything else in the bucket. */
  parseKey(key: string): { id: string; kind: RecordingFileKind } | null {
    if (!key.startsWith(this.prefix)) return null;
    const file = classifyFileName(key.slice(this.prefix.length));
    return file.kind === 'video' || file.kind === 'thumbnail' ? { id: file.id, kind: file.kind } : null;
  }

  async head(key: string, signal?: AbortSignal): Promise<StoredObject | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), {
        abortSignal: signal,
      });
      return { key, bytes: out.ContentLength ?? 0, etag: unquote(out.ETag) };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  /** GetObject with the reader's Range and validators forwarded; S3 answers the range and the 304. */
  async read(
    key: string,
    request: { range?: string; ifNoneMatch?: string; ifModifiedSince?: Date },
    signal?: AbortSignal,
  ): Promise<ObjectRead | ObjectReadRefused> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: request.range,
          IfNoneMatch: request.ifNoneMatch,
          IfModifiedSince: request.ifModifiedSince,
        }),
        { abortSignal: signal },
      );
      return {
        refused: false,
        status: out.ContentRange ? 206 : 200,
        body: out.Body as Readable,
        bytes: out.ContentLength ?? 0,
        contentRange: out.ContentRange,
        etag: out.ETag,
        lastModified: out.LastModified,
      };
    } catch (err) {
      const status = statusOf(err);
      if (status === 304 || status === 404) return { refused: true, status };
      if (status === 416) {
        const size = await this.head(key, signal);
        return { refused: true, status, contentRange: size ? `bytes */${size.bytes}` : undefined };
      }
      throw err;
    }
  }

  /** A GET URL for the object that stops working at `expiresAt` (unix seconds). */
  presign(key: string, expiresInSeconds: number, responseContentType?: string): Promise<string> {
    return getSignedUrl(
      this.client,
      new GetObjectCommand({ Bucket: this.bucket, Key: key, ResponseContentType: responseContentType }),
      { expiresIn: Math.max(1, Math.floor(expiresInSeconds)) },
    );
  }

  /** Deletes keys in batches of DELETE_BATCH; returns the keys S3 refused, with why. */
  async deleteMany(keys: readonly string[], signal?: AbortSignal): Promise<{ key: string; error: string }[]> {
    const refused: { key: string; error: string }[] = [];
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const body = { Objects: batch.map((Key) => ({ Key })), Quiet: true };
      const out = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: body }), {
        abortSignal: signal,
      });
      for (const e of out.Errors ?? [])
        refused.push({ key: e.Key ?? '', error: `${e.Code ?? 'error'}: ${e.Message ?? ''}` });
    }
    return refused;
  }

  /** Every object under the prefix, one ListObjectsV2 page at a time. */
  async *list(
    signal?: AbortSignal,
    pageSize = 1000,
  ): AsyncGenerator<StoredObject & { lastModified: number }> {
    let token: string | undefined;
    do {
      const out = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix,
          ContinuationToken: token,
          MaxKeys: pageSize,
        }),
        { abortSignal: signal },
      );
      for (const o of out.Contents ?? []) {
        if (!o.Key) continue;
        yield {
          key: o.Key,
          bytes: o.Size ?? 0,
          etag: unquote(o.ETag),
          lastModified: o.LastModified?.getTime() ?? 0,
        };
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * Uploads a file as one object and checks it: size and MD5 (the ETag of a single PUT, the MD5 of
   * the part MD5s for multipart). Files of PART_BYTES or more go up in parts; `journal` keeps the
   * upload id and the acknowledged parts so another attempt, here or on another recorder, resumes
   * where this one stopped. A file that changed since the journal was written starts over, and its
   * old upload is aborted (S3 bills the parts of an upload until it is completed or aborted).
   */
  async uploadFile(
    file: string,
    key: string,
    kind: RecordingFileKind,
    journal: UploadJournal,
    signal?: AbortSignal,
  ): Promise<StoredObject> {
    const info = await stat(file);
    if (info.size < PART_BYTES) {
      await journal.clear();
      return this.putSmall(file, key, kind, info.size, signal);
    }
    let progress = await journal.load();
    if (
      progress &&
      (progress.key !== key || progress.size !== info.size || progress.mtime_ms !== info.mtimeMs)
    ) {
      await this.abort(progress);
      progress = null;
    }
    if (!progress) {
      const created = await this.client.send(
        new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: CONTENT_TYPES[kind] }),
        { abortSignal: signal },
      );
      progress = { upload_id: created.UploadId!, key, size: info.size, mtime_ms: info.mtimeMs, parts: {} };
      await journal.save(progress);
    }
    const count = Math.ceil(info.size / PART_BYTES);
    const handle = await open(file, 'r');
    try {
      const buffer = Buffer.allocUnsafe(PART_BYTES);
      for (let n = 1; n <= count; n += 1) {
        if (progress.parts[n]) continue;
        signal?.throwIfAborted();
        const start = (n - 1) * PART_BYTES;
        const length = Math.min(PART_BYTES, info.size - start);
        const { bytesRead } = await handle.read(buffer, 0, length, start);
        if (bytesRead !== length) throw new Error(`${file} shrank while it was uploaded`);
        const body = buffer.subarray(0, length);
        const md5 = createHash('md5').update(body).digest();
        try {
          const out = await this.client.send(
            new UploadPartCommand({
              Bucket: this.bucket,
              Key: key,
              UploadId: progress.upload_id,
              PartNumber: n,
              Body: body,
              ContentLength: length,
              ContentMD5: md5.toString('base64'),
            }),
            { abortSignal: signal },
          );
          checkEtag(unquote(out.ETag), md5.toString('hex'), `part ${n} of ${key}`);
        } catch (err) {
          if (codeOf(err) === 'NoSuchUpload') await journal.clear();
          throw err;
        }
        progress.parts[n] = md5.toString('hex');
        await journal.save(progress);
      }
    } finally {
      await handle.close();
    }
    const expected = multipartEtag(Object.keys(progress.parts).length === count ? progress : null, count);
    try {
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: progress.upload_id,
          MultipartUpload: {
            Parts: Array.from({ length: count }, (_v, i) => ({
              PartNumber: i + 1,
              ETag: `"${progress.parts[i + 1]}"`,
            })),
          },
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      // A previous attempt completed it and died before it could say so: the object tells.
      if (codeOf(err) !== 'NoSuchUpload') throw err;
      await journal.clear();
    }
    const stored = await this.verify(key, info.size, expected, signal);
    await journal.clear();
    return stored;
  }

  /** Aborts a multipart upload; one that is already gone counts as aborted. */
  async abort(progress: Pick<UploadProgress, 'key' | 'upload_id'>): Promise<void> {
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({
          Bucket: this.bucket,
          Key: progress.key,
          UploadId: progress.upload_id,
        }),
      );
    } catch (err) {
      if (codeOf(err) !== 'NoSuchUpload' && statusOf(err) !== 404) throw err;
    }
  }

  private async putSmall(
    file: string,
    key: string,
    kind: RecordingFileKind,
    size: number,
    signal?: AbortSignal,
  ): Promise<StoredObject> {
    const handle = await open(file, 'r');
    let body: Buffer;
    try {
      body = Buffer.alloc(size);
      const { bytesRead } = await handle.read(body, 0, size, 0);
      if (bytesRead !== size) throw new Error(`${file} shrank while it was uploaded`);
    } finally {
      await handle.close();
    }
    const md5 = createHash('md5').update(body).digest();
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentLength: size,
        ContentType: CONTENT_TYPES[kind],
        ContentMD5: md5.toString('base64'),
      }),
      { abortSignal: signal },
    );
    return this.verify(key, size, md5.toString('hex'), signal);
  }

  /** The object as S3 has it now must have the file's size and, where the ETag is an MD5, its checksum. */
  private async verify(key: string, size: number, etag: string, signal?: AbortSignal): Promise<StoredObject> {
    const stored = await this.head(key, signal);
    if (!stored) throw new ObjectMismatchError(`${key} is not in the bucket after its upload`);
    if (stored.bytes !== size)
      throw new ObjectMismatchError(`${key} holds ${stored.bytes} bytes in the bucket, the file ${size}`);
    checkEtag(stored.etag, etag, key);
    return stored;
  }
}

/** S3's multipart ETag: MD5 of the concatenated part MD5s, then `-{parts}`. */
function multipartEtag(progress: UploadProgress | null, count: number): string {
  if (!progress) throw new Error('not every part was uploaded');
  const digests = Array.from({ length: count }, (_v, i) => Buffer.from(progress.parts[i + 1]!, 'hex'));
  return `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${count}`;
}

/**
 * An ETag in MD5 form (what AWS, MinIO, R2 and fauxqs return without KMS encryption) must match.
 * A server whose ETags are not MD5s (SSE-KMS) cannot be checked this way; size alone is then checked.
 */
function checkEtag(actual: string, expected: string, what: string): void {
  if (!/^[0-9a-f]{32}(-\d+)?$/.test(actual)) return;
  if (actual !== expected)
    throw new ObjectMismatchError(`${what}: the bucket's checksum ${actual} is not the file's ${expected}`);
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replaceAll('"', '').toLowerCase();
}

export function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

export function codeOf(err: unknown): string | undefined {
  if (err instanceof S3ServiceException) return err.name;
  return (err as { name?: string; Code?: string })?.Code ?? (err as { name?: string })?.name;
}
