import type { Request, Response } from 'express';
import type { Config } from '@eufy-relay/config';
import type { FragmentLayouts, ObjectReadRefused, RecordingObjects } from '@eufy-relay/storage';
import { CONTENT_TYPES, HttpError, type MediaKind, type RecordingState } from '@eufy-relay/playback';

/** S3 refuses presigned URLs that live longer than a week (SigV4). */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export interface ObjectServing {
  objects: RecordingObjects;
  mode: Config['S3_PLAYBACK'];
  /** Lifetime of a presigned URL when the api's own URLs are not signed (URL_TTL_SECONDS). */
  unsignedTtlSeconds: number;
  /** Fragment layout of a stored video (written by its upload), for the HLS playlist. */
  layouts: FragmentLayouts;
}

export interface ObjectRequest {
  id: string;
  kind: MediaKind;
  state: RecordingState | null;
  /** When the api's signed URL expires (unix seconds); null when URLs are not signed. */
  signedUntil: number | null;
  cacheControl: string;
  now: number;
}

/**
 * A stored recording's file from the bucket, after the api's own checks (signature, index):
 * - `redirect`: 302 to a presigned GET that expires when the api's signed URL does (never later),
 *   so a leaked Location is worth no more than the URL it came from;
 * - `proxy` (default): the object streamed through, with the client's Range and validators
 *   forwarded, so 206/304/416 are the bucket's answers for the very bytes it holds.
 */
export async function serveObject(
  serving: ObjectServing,
  request: ObjectRequest,
  req: Request,
  res: Response,
): Promise<void> {
  const { objects } = serving;
  const key = objects.key(request.id, request.kind);
  res.setHeader('X-Recording-Status', request.state ?? 'unknown');
  if (serving.mode === 'redirect') {
    const lifetime =
      request.signedUntil !== null
        ? request.signedUntil - Math.floor(request.now / 1000)
        : serving.unsignedTtlSeconds;
    const url = await objects.presign(
      key,
      Math.min(MAX_PRESIGN_SECONDS, lifetime),
      CONTENT_TYPES[request.kind],
    );
    // The Location stops working before a cache would notice: never keep the redirect itself.
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(302, url);
    return;
  }

  const aborted = new AbortController();
  res.once('close', () => aborted.abort());
  const since = req.headers['if-modified-since'];
  const read = await objects.read(
    key,
    {
      range: typeof req.headers.range === 'string' ? req.headers.range : undefined,
      ifNoneMatch: req.headers['if-none-match'],
      ifModifiedSince: since && !Number.isNaN(Date.parse(since)) ? new Date(since) : undefined,
    },
    aborted.signal,
  );
  if (read.refused) return refuse(read, request, res);
  res.setHeader('Cache-Control', request.cacheControl);
  res.status(read.status);
  res.setHeader('Content-Type', CONTENT_TYPES[request.kind]);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Length', String(read.bytes));
  if (read.contentRange) res.setHeader('Content-Range', read.contentRange);
  if (read.etag) res.setHeader('ETag', read.etag);
  if (read.lastModified) res.setHeader('Last-Modified', read.lastModified.toUTCString());
  if (req.method === 'HEAD') {
    read.body.destroy();
    res.end();
    return;
  }
  await new Promise<void>((resolve) => {
    read.body.once('error', () => {
      res.destroy();
      resolve();
    });
    res.once('close', () => {
      read.body.destroy();
      resolve();
    });
    read.body.pipe(res);
  });
}

/** What the bucket refused to send: not modified, not there, or a range outside the object. */
function refuse(read: ObjectReadRefused, request: ObjectRequest, res: Response): void {
  if (read.status === 404)
    throw new HttpError(
      404,
      'recording_missing',
      `recording ${request.id} is indexed but its ${request.kind} is not in the bucket`,
    );
  res.setHeader('Cache-Control', request.cacheControl);
  if (read.status === 304) {
    res.status(304).end();
    return;
  }
  if (read.contentRange) res.setHeader('Content-Range', read.contentRange);
  throw new HttpError(416, 'range_not_satisfiable', 'the range lies outside the file');
}
