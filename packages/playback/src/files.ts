import { statSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { Request, Response } from 'express';
import type { Fmp4Layout } from '@eufy-relay/media/fmp4';
import { HttpError } from './errors';
import { hlsPlaylist, type FragmentIndexes } from './hls';
import type { LiveRecordings } from './live';

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

export const CONTENT_TYPES: Record<MediaKind, string> = { video: 'video/mp4', thumbnail: 'image/jpeg' };
export const HLS_CONTENT_TYPE = 'application/vnd.apple.mpegurl';

/**
 * How much of a file one read takes (send hands it to fs.createReadStream, whose default is 64 KiB).
 * Each read is a trip through libuv's thread pool and one socket write: a player's 1 MiB range
 * costs 2 of each rather than 16. The stream still honours backpressure: a slow client holds about
 * two chunks in memory (one read ahead, one in the socket's buffer).
 */
export const READ_CHUNK_BYTES = 512 * 1024;

/** How soon the page a browser gets for a recording without video yet loads the URL again. */
export const BROWSER_REFRESH_SECONDS = 1;

/** One request for a recording's file, after its access was checked by whoever serves it. */
export interface MediaRequest {
  id: string;
  now: number;
  /** When the public signed URL expires (unix seconds); null when URLs are not signed. */
  signedUntil: number | null;
  /** Appended to the video URI in an HLS playlist: the public URL's signature (`?expires=…&sig=…`) or ''. */
  uriQuery: string;
}

/**
 * A completed (or failed) recording never changes again: cache it long and immutable, but never past
 * its signed URL's expiry, so a cache cannot keep serving a link that has run out. Behind a signed
 * URL it is `private`: a shared cache that ignores the query string would hand it to anyone asking
 * for the bare path. A recording still being written (or one the index does not know) must be
 * revalidated on every use.
 */
export function cacheControl(state: RecordingState | null, signedUntil: number | null, now: number): string {
  if (state !== 'completed' && state !== 'failed') return 'no-cache';
  if (signedUntil === null) return `public, max-age=${ONE_YEAR_SECONDS}, immutable`;
  const maxAge = Math.max(0, Math.min(ONE_YEAR_SECONDS, signedUntil - Math.floor(now / 1000)));
  return `private, max-age=${maxAge}, immutable`;
}

/**
 * The file at `path` if there is one. Synchronous on purpose: every request for a file stats it
 * (a remembered finished recording's file too, to see at once that it is gone), and a stat whose
 * directory entry the kernel has cached takes a microsecond or two, where a trip through libuv's
 * thread pool (queue, wake a worker, come back through the event loop) cost the api a sixth of its
 * time per request under load (CPU profile of the serving benchmark, ACCEL_REDIRECT=nginx). nginx
 * stats and opens its files in its event loop the same way.
 */
function fileStats(path: string): Stats | null {
  const s = statSync(path, { throwIfNoEntry: false });
  return s?.isFile() ? s : null;
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
  current(id: string, now: number): MediaFile | null {
    const known = this.entries.get(id);
    if (!known) return null;
    if (known.until > now) {
      const stats = fileStats(known.file.path);
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

/**
 * A recording whose file has no playable video yet: 202 while it is being recorded, else a 404 that
 * says why. A browser opening the link (a person who clicked it in a chat a moment after the
 * webhook) gets a small page that loads the URL again by itself until the video plays.
 */
export function unavailable(
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

/**
 * Whether a request for a recording in progress asks for the whole video from its start (no Range,
 * or the open `bytes=0-` a media element sends first): that one is followed live to the end. A
 * closed range (a seek, Safari's `bytes=0-1` probe, an HLS fragment) gets what exists.
 */
function followsLive(req: Request): boolean {
  const range = req.headers.range;
  return range === undefined || /^bytes=0-\s*$/.test(range.trim());
}

export interface LocalMediaOptions {
  lookup: MediaLookup;
  /** Followers of recordings in progress (a plain GET of one streams it live to its end). */
  live: LiveRecordings;
  /** Where each recording's fragments lie: the first one decides 202 or play; HLS lists them. */
  fragments: FragmentIndexes;
  /** Sends a finished recording's file some other way (ACCEL_REDIRECT=nginx); unset: send it here. */
  sendFinished?: (res: Response, file: string) => void;
}

/**
 * Where the file of a recording comes from when this host's disk has none (the bucket, the spool of
 * the recorder writing it): true when it answered the request, false to answer as on a local disk
 * (202 while recording, else 404).
 */
export type Elsewhere = (file: MediaFile, kind: MediaKind, req: Request, res: Response) => Promise<boolean>;

/**
 * A recording's files as this host's disk holds them (RECORDINGS_DIR): Range, ETag, Last-Modified and
 * 304/416 from send; a recording in progress followed live; 202 before its first fragment; the HLS
 * playlist over the same file. The api serves its shared disk with it, a recorder its spool.
 */
export class LocalMedia {
  private readonly finished: Record<MediaKind, FinishedStates> = {
    video: new FinishedStates(),
    thumbnail: new FinishedStates(),
  };

  constructor(readonly options: LocalMediaOptions) {}

  /** GET/HEAD of `{id}.mp4` or `{id}.jpg`; `elsewhere` is asked when the file is not on this disk. */
  async serveFile(
    kind: MediaKind,
    request: MediaRequest,
    req: Request,
    res: Response,
    elsewhere?: Elsewhere,
  ): Promise<void> {
    const { id, now } = request;
    let file = this.finished[kind].current(id, now);
    if (!file) {
      file = await this.options.lookup(id, kind);
      if (file.stored && elsewhere && (await elsewhere(file, kind, req, res))) return;
      const stats = fileStats(file.path);
      if (stats === null || stats.size === 0) {
        if (elsewhere && (await elsewhere(file, kind, req, res))) return;
        return unavailable(id, kind, file.state, req, res);
      }
      if (kind === 'video' && file.state === 'recording') {
        // The header alone (ftyp + moov) is a complete, empty video to a player: wait for a fragment.
        const layout = await this.options.fragments.layout(file.path);
        if (!layout?.fragments.length) return unavailable(id, kind, file.state, req, res);
        if (followsLive(req)) return this.options.live.stream(id, file.path, res);
      }
      this.finished[kind].remember(id, file, stats, now);
    }
    res.setHeader('Cache-Control', cacheControl(file.state, request.signedUntil, now));
    res.setHeader('X-Recording-Status', file.state ?? 'unknown');
    res.type(CONTENT_TYPES[kind]);
    if (this.options.sendFinished && (file.state === 'completed' || file.state === 'failed'))
      return this.options.sendFinished(res, file.path);
    await sendFile(file.path, res);
  }

  /**
   * GET `{id}.m3u8`. `elsewhere` gives the layout of a recording whose file is not on this disk
   * (undefined: none there either), or answers the request itself (true).
   */
  async servePlaylist(
    request: MediaRequest,
    req: Request,
    res: Response,
    elsewhere?: (file: MediaFile) => Promise<Readonly<Fmp4Layout> | null | true>,
  ): Promise<void> {
    const file = await this.options.lookup(request.id, 'video');
    let layout = file.stored ? null : await this.options.fragments.layout(file.path);
    if (layout === null && elsewhere) {
      const there = await elsewhere(file);
      if (there === true) return;
      layout = there;
    }
    if (!layout?.fragments.length) return unavailable(request.id, 'video', file.state, req, res);
    res.setHeader('Cache-Control', cacheControl(file.state, request.signedUntil, request.now));
    res.setHeader('X-Recording-Status', file.state ?? 'unknown');
    res.type(HLS_CONTENT_TYPE);
    // The fragments are fetched with the playlist's own signature: one signature covers both.
    const uri = `${request.id}.mp4${request.uriQuery}`;
    res.send(hlsPlaylist(layout, { uri, finished: file.state !== 'recording' }));
  }
}

/**
 * send stats the file again and serves exactly the bytes that exist at that moment, so a file still
 * growing is served up to its current size, and ranges are checked against that size.
 */
function sendFile(file: string, res: Response): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // Relative to its directory: send refuses paths with a dot-directory anywhere (RECORDINGS_DIR
    // may well sit under one), but checks only the part below `root`.
    const options = {
      root: path.dirname(file),
      cacheControl: false,
      lastModified: true,
      acceptRanges: true,
      highWaterMark: READ_CHUNK_BYTES,
    };
    res.sendFile(path.basename(file), options, (err) => {
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      if (!err || code === 'ECONNABORTED' || code === 'ECONNRESET') resolve();
      else reject(err);
    });
  });
}
