import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  RECORDING_ID,
  checkRecordingSignature,
  parseRecordingId,
  type UrlSigning,
} from '@eufy-relay/contracts';
import { sendThroughNginx } from './accel';
import { HttpError } from './errors';
import { serveObject, type ObjectServing } from './object-media';
import { hlsPlaylist, type FragmentIndexes } from './hls';
import type { LiveRecordings } from './live';
import { ErrorSchema, type ApiRoutes } from './routes';

export type MediaKind = 'video' | 'thumbnail';

/** What the recordings index says about a recording; null: the index does not know it. */
export type RecordingState = 'recording' | 'completed' | 'failed' | 'missing';

export interface MediaFile {
  state: RecordingState | null;
  /** Absolute path of the requested file inside RECORDINGS_DIR (it may not exist yet). */
  path: string;
  /** STORAGE_BACKEND=s3: the files are in the bucket (and no longer in any spool). */
  stored?: boolean;
}

/**
 * The one question the file routes ask the recordings index. It is only ever called with an id
 * that matched the recording pattern, so the path it builds cannot leave RECORDINGS_DIR.
 */
export type MediaLookup = (id: string, kind: MediaKind) => Promise<MediaFile>;

/** How long a receiver should wait before asking again for a recording whose first bytes are not written. */
export const RETRY_AFTER_SECONDS = 2;
const ONE_YEAR_SECONDS = 365 * 24 * 3600;

const CONTENT_TYPES: Record<MediaKind, string> = { video: 'video/mp4', thumbnail: 'image/jpeg' };

/**
 * How much of a file one read takes (send hands it to fs.createReadStream, whose default is 64 KiB).
 * Each read is a trip through libuv's thread pool and one socket write: a player's 1 MiB range
 * costs 2 of each rather than 16. The stream still honours backpressure: a slow client holds about
 * two chunks in memory (one read ahead, one in the socket's buffer).
 */
export const READ_CHUNK_BYTES = 512 * 1024;

export interface MediaOptions {
  lookup: MediaLookup;
  signing: UrlSigning | undefined;
  /** Followers of recordings in progress (a plain GET of one streams it live to its end). */
  live: LiveRecordings;
  /** Where each recording's fragments lie: the first one decides 202 or play; HLS lists them. */
  fragments: FragmentIndexes;
  /** ACCEL_REDIRECT=nginx: finished recordings' files are sent by nginx in front (accel.ts). */
  accelRedirect?: boolean;
  now?: () => number;
  /** STORAGE_BACKEND=s3: where stored recordings are served from. */
  objects?: ObjectServing;
}

/**
 * A completed (or failed) recording never changes again: cache it long and immutable, but never past
 * its signed URL's expiry, so a cache cannot keep serving a link that has run out. Behind a signed
 * URL it is `private`: a shared cache that ignores the query string would hand it to anyone asking
 * for the bare path. A recording still being written (or one the index does not know) must be
 * revalidated on every use.
 */
function cacheControl(state: RecordingState | null, signedUntil: number | null, now: number): string {
  if (state !== 'completed' && state !== 'failed') return 'no-cache';
  if (signedUntil === null) return `public, max-age=${ONE_YEAR_SECONDS}, immutable`;
  const maxAge = Math.max(0, Math.min(ONE_YEAR_SECONDS, signedUntil - Math.floor(now / 1000)));
  return `private, max-age=${maxAge}, immutable`;
}

async function fileStats(path: string): Promise<Stats | null> {
  try {
    const s = await stat(path);
    return s.isFile() ? s : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** How long a finished recording's index state is reused without asking the index again. */
const FINISHED_STATE_TTL_MS = 5000;
const FINISHED_STATES_MAX = 1000;

interface Remembered {
  file: MediaFile;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  until: number;
}

/**
 * The index state of finished (completed, failed) recordings, so that serving one does not ask Redis
 * on every request: a player sends many Range requests for one view. A finished recording's state
 * changes only when its file goes away or comes back (missing, deleted, found again), so an entry is
 * used only while the file on disk is the very one it was remembered with (device, inode, size,
 * mtime), and for FINISHED_STATE_TTL_MS at most: that bounds how long a change the file does not show
 * goes unseen (the janitor deletes the index entry a moment before the file). A recording in progress,
 * a missing or unknown one, or one without its file is asked on every request, as before.
 */
class FinishedStates {
  private readonly entries = new Map<string, Remembered>();

  /** The remembered file of `id` if it is still the one on disk. */
  async current(id: string, now: number): Promise<MediaFile | null> {
    const known = this.entries.get(id);
    if (!known) return null;
    if (known.until > now) {
      const stats = await fileStats(known.file.path);
      if (
        stats &&
        stats.dev === known.dev &&
        stats.ino === known.ino &&
        stats.size === known.size &&
        stats.mtimeMs === known.mtimeMs
      )
        return known.file;
    }
    this.entries.delete(id);
    return null;
  }

  remember(id: string, file: MediaFile, stats: Stats, now: number): void {
    if (file.state !== 'completed' && file.state !== 'failed') return;
    // Oldest first (insertion order): past the bound the oldest entry makes room.
    if (this.entries.size >= FINISHED_STATES_MAX) this.entries.delete(this.entries.keys().next().value!);
    const { dev, ino, size, mtimeMs } = stats;
    this.entries.set(id, { file, dev, ino, size, mtimeMs, until: now + FINISHED_STATE_TTL_MS });
  }
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

/** How soon the page a browser gets for a recording without video yet loads the URL again. */
export const BROWSER_REFRESH_SECONDS = 1;

/**
 * A recording whose file has no playable video yet: 202 while it is being recorded, else a 404 that
 * says why. A browser opening the link (a person who clicked it in a chat a moment after the
 * webhook) gets a small page that loads the URL again by itself until the video plays.
 */
function unavailable(
  id: string,
  kind: MediaKind,
  state: RecordingState | null,
  req: Request,
  res: Response,
): void {
  if (state === 'recording') {
    // The URL went out at motion start; the receiver is early, not wrong.
    res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    res.setHeader('Cache-Control', 'no-store');
    res.status(202);
    if (req.accepts(['json', 'html']) === 'html') {
      res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
      res
        .type('html')
        .send(
          `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="${BROWSER_REFRESH_SECONDS}">` +
            '<title>Recording</title><p>The recording has started; its video appears here in a moment.</p>',
        );
      return;
    }
    res.json({ id, status: 'recording', retry_after_seconds: RETRY_AFTER_SECONDS });
    return;
  }
  const reason =
    state === null
      ? ['recording_not_found', `no recording ${id}`]
      : state === 'missing'
        ? ['recording_missing', `recording ${id} is indexed but its files are gone`]
        : ['file_not_found', `recording ${id} (${state}) has no ${kind}`];
  throw new HttpError(404, reason[0]!, reason[1]!);
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

/**
 * Whether a request for a recording in progress asks for the whole video from its start (no Range,
 * or the open `bytes=0-` a media element sends first): that one is followed live to the end. A
 * closed range (a seek, Safari's `bytes=0-1` probe, an HLS fragment) gets what exists.
 */
function followsLive(req: Request): boolean {
  const range = req.headers.range;
  return range === undefined || /^bytes=0-\s*$/.test(range.trim());
}

/** GET/HEAD /recordings/{id}.mp4 and .jpg: Range, ETag, Last-Modified and 304/416 come from send. */
function serveMedia(kind: MediaKind, options: MediaOptions) {
  const finished = new FinishedStates();
  return async (query: SignatureQuery, req: Request, res: Response): Promise<void> => {
    const id = recordingIdOf(req);
    const now = options.now?.() ?? Date.now();
    checkSignature(id, query, options, now);
    let file = await finished.current(id, now);
    if (!file) {
      file = await options.lookup(id, kind);
      if (file.stored && options.objects) {
        const signedUntil = options.signing ? Number(query.expires) : null;
        const cache = cacheControl(file.state, signedUntil, now);
        const request = { id, kind, state: file.state, signedUntil, cacheControl: cache, now };
        return serveObject(options.objects, request, req, res);
      }
      const stats = await fileStats(file.path);
      if (stats === null || stats.size === 0) return unavailable(id, kind, file.state, req, res);
      if (kind === 'video' && file.state === 'recording') {
        // The header alone (ftyp + moov) is a complete, empty video to a player: wait for a fragment.
        const layout = await options.fragments.layout(file.path);
        if (!layout?.fragments.length) return unavailable(id, kind, file.state, req, res);
        if (followsLive(req)) return options.live.stream(id, file.path, res);
      }
      finished.remember(id, file, stats, now);
    }
    const signedUntil = options.signing ? Number(query.expires) : null;
    res.setHeader('Cache-Control', cacheControl(file.state, signedUntil, now));
    res.setHeader('X-Recording-Status', file.state ?? 'unknown');
    res.type(CONTENT_TYPES[kind]);
    if (options.accelRedirect && (file.state === 'completed' || file.state === 'failed'))
      return sendThroughNginx(res, file.path);
    // send stats the file again and serves exactly the bytes that exist at that moment, so a file
    // still growing is served up to its current size, and ranges are checked against that size.
    await new Promise<void>((resolve, reject) => {
      // Relative to its directory: send refuses paths with a dot-directory anywhere (RECORDINGS_DIR
      // may well sit under one), but checks only the part below `root`.
      const options = {
        root: path.dirname(file.path),
        cacheControl: false,
        lastModified: true,
        acceptRanges: true,
        highWaterMark: READ_CHUNK_BYTES,
      };
      res.sendFile(path.basename(file.path), options, (err) => {
        const code = (err as NodeJS.ErrnoException | undefined)?.code;
        if (!err || code === 'ECONNABORTED' || code === 'ECONNRESET') resolve();
        else reject(err);
      });
    });
  };
}

export const HLS_CONTENT_TYPE = 'application/vnd.apple.mpegurl';

/** GET /recordings/{id}.m3u8: the HLS playlist over the same file (EVENT while recording, then VOD). */
function servePlaylist(options: MediaOptions) {
  return async (query: SignatureQuery, req: Request, res: Response): Promise<void> => {
    const id = recordingIdOf(req);
    const now = options.now?.() ?? Date.now();
    checkSignature(id, query, options, now);
    const file = await options.lookup(id, 'video');
    const layout =
      file.stored && options.objects
        ? await options.objects.layouts.load(id)
        : await options.fragments.layout(file.path);
    if (!layout?.fragments.length) return unavailable(id, 'video', file.state, req, res);
    const done = file.state !== 'recording';
    // The fragments are fetched with the playlist's own signature: one signature covers both.
    const signature = options.signing
      ? `?${new URLSearchParams({ expires: query.expires ?? '', sig: query.sig ?? '' }).toString()}`
      : '';
    const signedUntil = options.signing ? Number(query.expires) : null;
    res.setHeader('Cache-Control', cacheControl(file.state, signedUntil, now));
    res.setHeader('X-Recording-Status', file.state ?? 'unknown');
    res.type(HLS_CONTENT_TYPE);
    res.send(hlsPlaylist(layout, { uri: `${id}.mp4${signature}`, finished: done }));
  };
}

export const recordingIdParam = {
  id: {
    description: 'recording id {device_sn}_{YYYYMMDD_HHMMSS} (UTC start)',
    schema: z.string().regex(RECORDING_ID),
  },
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
      },
    },
    (input, req, res) => playlist(input.query, req, res),
  );
}
