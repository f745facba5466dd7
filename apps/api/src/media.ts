import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  RECORDING_ID,
  checkRecordingSignature,
  parseRecordingId,
  type UrlSigning,
} from '@eufy-relay/contracts';
import {
  CONTENT_TYPES,
  HLS_CONTENT_TYPE,
  HttpError,
  LocalMedia,
  cacheControl,
  type MediaFile,
  type MediaKind,
  type MediaRequest,
  type RecordingState,
} from '@eufy-relay/playback';
import { serveObject, type ObjectServing } from './object-media';
import { ErrorSchema, type ApiRoutes } from './routes';
import type { SpoolProxy } from './spool-proxy';

export interface MediaOptions {
  /** This host's RECORDINGS_DIR: the shared disk (STORAGE_BACKEND=local), or a spool it shares. */
  local: LocalMedia;
  signing: UrlSigning | undefined;
  /** STORAGE_BACKEND=s3: where stored recordings are served from. */
  objects?: ObjectServing;
  /** STORAGE_BACKEND=s3: the spools of the recorders, for recordings not yet in the bucket. */
  spools?: SpoolProxy;
  now?: () => number;
}

const signatureQuery = z.object({
  expires: z.string().optional().describe('unix seconds; required when URL_SIGNING_SECRET is set'),
  sig: z
    .string()
    .optional()
    .describe('signature of the id and expires; required when URL_SIGNING_SECRET is set'),
});
type SignatureQuery = z.infer<typeof signatureQuery>;

/**
 * The `:id` of a recording route, or a 400. The pattern admits letters, digits and "_" only (and a
 * real date): no dot, slash, NUL or percent can reach a path built from it.
 */
export function recordingIdOf(req: Request): string {
  const id = String(req.params.id);
  if (!parseRecordingId(id)) {
    throw new HttpError(400, 'invalid_recording_id', 'not a recording id ({device_sn}_{YYYYMMDD_HHMMSS})');
  }
  return id;
}

/** A 403 unless the request carries a valid signature for `id` (when URL signing is on). */
function checkSignature(id: string, query: SignatureQuery, options: MediaOptions, now: number): void {
  if (!options.signing) return;
  const verdict = checkRecordingSignature(id, query, options.signing.secret, now);
  if (verdict === 'valid') return;
  const message = {
    missing: 'this URL needs its expires and sig parameters',
    invalid: 'the URL signature is wrong',
    expired: 'this URL has expired',
  }[verdict];
  throw new HttpError(403, `signature_${verdict}`, message);
}

/** The request after its signature check: what the local disk, the bucket or a spool serve. */
function mediaRequest(req: Request, query: SignatureQuery, options: MediaOptions): MediaRequest {
  const id = recordingIdOf(req);
  const now = options.now?.() ?? Date.now();
  checkSignature(id, query, options, now);
  return {
    id,
    now,
    signedUntil: options.signing ? Number(query.expires) : null,
    uriQuery: options.signing
      ? `?${new URLSearchParams({ expires: query.expires ?? '', sig: query.sig ?? '' }).toString()}`
      : '',
  };
}

/**
 * A finished recording not yet in the bucket, or one in progress: with STORAGE_BACKEND=s3 its file
 * is in the spool of the recorder that writes (or wrote) it.
 */
function inSpool(file: MediaFile): boolean {
  return !file.stored && file.state !== null && file.state !== 'missing';
}

/** GET/HEAD /recordings/{id}.mp4 and .jpg: from this disk, else the bucket or the recorder's spool. */
function serveMedia(kind: MediaKind, options: MediaOptions) {
  return async (query: SignatureQuery, req: Request, res: Response): Promise<void> => {
    const request = mediaRequest(req, query, options);
    await options.local.serveFile(kind, request, req, res, async (file) => {
      if (file.stored && options.objects) {
        const cache = cacheControl(file.state, request.signedUntil, request.now);
        const { id, signedUntil, now } = request;
        await serveObject(
          options.objects,
          { id, kind, state: file.state, signedUntil, cacheControl: cache, now },
          req,
          res,
        );
        return true;
      }
      if (options.spools && inSpool(file))
        return options.spools.proxy(
          request,
          `${kind === 'video' ? 'mp4' : 'jpg'}`,
          file.state as RecordingState,
          req,
          res,
        );
      return false;
    });
  };
}

/** GET /recordings/{id}.m3u8: the HLS playlist over the same file (EVENT while recording, then VOD). */
function servePlaylist(options: MediaOptions) {
  return async (query: SignatureQuery, req: Request, res: Response): Promise<void> => {
    const request = mediaRequest(req, query, options);
    await options.local.servePlaylist(request, req, res, async (file) => {
      if (file.stored && options.objects) return options.objects.layouts.load(request.id);
      if (
        options.spools &&
        inSpool(file) &&
        (await options.spools.proxy(request, 'm3u8', file.state as RecordingState, req, res))
      )
        return true;
      return null;
    });
  };
}

export const recordingIdParam = {
  id: {
    description: 'recording id {device_sn}_{YYYYMMDD_HHMMSS} (UTC start)',
    schema: z.string().regex(RECORDING_ID),
  },
};

/** STORAGE_BACKEND=s3: a recording not yet in the bucket whose recorder does not answer. */
const UNREACHABLE = {
  description:
    'STORAGE_BACKEND=s3: the recording is not in the bucket yet and the recorder whose spool holds it cannot be reached',
  headers: { 'Retry-After': 'seconds to wait' },
  schema: ErrorSchema,
};

export function mediaRoutes(routes: ApiRoutes, options: MediaOptions): void {
  for (const [kind, ext] of [
    ['video', 'mp4'],
    ['thumbnail', 'jpg'],
  ] as const) {
    const serve = serveMedia(kind, options);
    routes.raw(
      {
        method: 'get',
        path: `/recordings/:id.${ext}`,
        tag: 'recordings',
        access: 'open',
        summary:
          kind === 'video' ? 'The video of a recording (fragmented MP4)' : 'The thumbnail of a recording',
        description:
          kind === 'video'
            ? 'Supports Range requests (206, 416), ETag / Last-Modified revalidation (304). A recording ' +
              'in progress is streamed live: a GET without Range (or with `bytes=0-`) sends what is ' +
              'written, then every new byte until the recording ends (200, chunked, ' +
              '`Cache-Control: no-store`); a closed Range gets what exists so far. Until its first ' +
              'media fragment exists it answers 202 with Retry-After. A finished recording is ' +
              'cacheable and immutable. With URL_SIGNING_SECRET set, `expires` and `sig` are ' +
              'required; one signature covers the video, its HLS playlist and the thumbnail.'
            : 'Supports Range requests (206, 416), ETag / Last-Modified revalidation (304); cacheable ' +
              'and immutable once the recording has finished. A recording in progress whose ' +
              'thumbnail does not exist yet answers 202 with Retry-After. With URL_SIGNING_SECRET ' +
              'set, `expires` and `sig` are required (the video URL’s signature).',
        params: recordingIdParam,
        // Not strict: a player may add its own parameters; the signature is checked by the handler.
        query: signatureQuery,
        responses: {
          200: {
            description:
              kind === 'video'
                ? 'the whole file; for a recording in progress, a live stream to its end'
                : 'the whole file',
            contentType: CONTENT_TYPES[kind],
          },
          202: {
            description:
              kind === 'video'
                ? 'recording has started but has no playable fragment yet'
                : 'recording has started but has no thumbnail yet',
            headers: { 'Retry-After': 'seconds to wait' },
            contentType: 'application/json',
          },
          206: { description: 'the requested range', contentType: CONTENT_TYPES[kind] },
          304: { description: 'not modified (If-None-Match / If-Modified-Since)' },
          400: { description: 'not a recording name', schema: ErrorSchema },
          403: { description: 'signature missing, wrong or expired', schema: ErrorSchema },
          404: { description: 'no such recording, or it has no such file', schema: ErrorSchema },
          416: {
            description: 'range outside the file',
            headers: { 'Content-Range': 'bytes */{size}' },
            schema: ErrorSchema,
          },
          503: UNREACHABLE,
        },
      },
      (input, req, res) => serve(input.query, req, res),
    );
  }
  const playlist = servePlaylist(options);
  routes.raw(
    {
      method: 'get',
      path: '/recordings/:id.m3u8',
      tag: 'recordings',
      access: 'open',
      summary: 'An HLS playlist of a recording (for Safari and iOS)',
      description:
        'HLS version 7 over the same fragmented MP4 as the .mp4 URL, by byte ranges (EXT-X-MAP for the ' +
        'init section, EXT-X-BYTERANGE per fragment of at most about a second): an EVENT playlist ' +
        'that grows while recording, ending with EXT-X-ENDLIST once finished. Same access rules and ' +
        'signature as the video; the fragments are fetched from the .mp4 URL with that signature.',
      params: recordingIdParam,
      query: signatureQuery,
      responses: {
        200: { description: 'the playlist', contentType: HLS_CONTENT_TYPE },
        202: {
          description: 'recording has started but has no playable fragment yet',
          headers: { 'Retry-After': 'seconds to wait' },
          contentType: 'application/json',
        },
        400: { description: 'not a recording name', schema: ErrorSchema },
        403: { description: 'signature missing, wrong or expired', schema: ErrorSchema },
        404: { description: 'no such recording, or it has no video', schema: ErrorSchema },
        503: UNREACHABLE,
      },
    },
    (input, req, res) => playlist(input.query, req, res),
  );
}
