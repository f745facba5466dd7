import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import type { Agent, Dispatcher } from 'undici';
import { SPOOL_CREDENTIAL_HEADER, spoolCredential } from '@eufy-relay/contracts';
import type { Logger } from '@eufy-relay/logger';
import { HttpError, RETRY_AFTER_SECONDS, type MediaRequest, type RecordingState } from '@eufy-relay/playback';
import type { SpoolOwners } from '@eufy-relay/storage';

export interface SpoolProxyOptions {
  owners: SpoolOwners;
  /** SPOOL_SECRET; unset (never in production), requests go unsigned. */
  secret: string | undefined;
  /** Bound on connecting to the recorder and on its response headers (SPOOL_TIMEOUT_MS). */
  timeoutMs: number;
  /** A body on which nothing arrives this long is cut (HTTP_IDLE_TIMEOUT_SECONDS, as for clients). */
  idleTimeoutMs: number;
  logger: Logger;
}

/** Request headers a player's request carries to the recorder: what decides which bytes it gets. */
const FORWARDED_REQUEST = ['range', 'if-range', 'if-none-match', 'if-modified-since', 'accept'];
/** Response headers of the recorder the client gets: everything but the hop-by-hop ones. */
const FORWARDED_RESPONSE = [
  'content-type',
  'content-length',
  'content-range',
  'accept-ranges',
  'etag',
  'last-modified',
  'cache-control',
  'retry-after',
  'content-security-policy',
  'x-recording-status',
];

export type SpoolExtension = 'mp4' | 'jpg' | 'm3u8';

/**
 * STORAGE_BACKEND=s3 without a shared disk: a recording in progress, or finished and waiting for its
 * upload, is read from the spool of the recorder that holds it (docs/design.md, "Live playback
 * without a shared disk"). The recorder serves it with the very code the api uses for its own disk
 * (Range, live following, HLS, 202); this forwards the request, signed with SPOOL_SECRET, and streams
 * the answer back as it comes, with backpressure both ways: a client that stops reading stops the
 * read from the recorder, a client that leaves cancels it. A recorder that does not answer within
 * SPOOL_TIMEOUT_MS gives a 503 the client can retry, never a request left hanging.
 */
export class SpoolProxy {
  /** undici and its connection pool, loaded at the first proxied request: an idle api stays small. */
  private client: Promise<{ agent: Agent; request: typeof import('undici').request }> | undefined;

  constructor(private readonly options: SpoolProxyOptions) {}

  private connect() {
    this.client ??= import('undici').then(({ Agent, request }) => ({
      agent: new Agent({
        keepAliveTimeout: 4_000,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.idleTimeoutMs,
        connect: { timeout: this.options.timeoutMs },
      }),
      request,
    }));
    return this.client;
  }

  /**
   * Answers the request from the owning recorder's spool; false when no recorder claims the
   * recording and it is still being recorded (its first bytes are not written yet: the caller's
   * 202, as on a local disk).
   */
  async proxy(
    media: MediaRequest,
    ext: SpoolExtension,
    state: RecordingState,
    req: Request,
    res: Response,
  ): Promise<boolean> {
    const { id } = media;
    const owner = await this.options.owners.owner(id);
    if (!owner) {
      if (state === 'recording') return false;
      throw unreachable(id, 'no recorder holds it');
    }
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    if (this.options.secret) headers[SPOOL_CREDENTIAL_HEADER] = spoolCredential(id, this.options.secret);
    // The public URL's own signature goes along: the recorder's HLS playlist names it in its URIs.
    const url = `${owner}/spool/${id}.${ext}${media.uriQuery}`;
    const aborted = new AbortController();
    const onClose = () => aborted.abort();
    res.once('close', onClose);
    let upstream: Dispatcher.ResponseData;
    try {
      const { agent, request } = await this.connect();
      upstream = await request(url, {
        method: req.method === 'HEAD' ? 'HEAD' : 'GET',
        headers,
        dispatcher: agent,
        signal: aborted.signal,
      });
    } catch (err) {
      res.off('close', onClose);
      if (aborted.signal.aborted) return true; // the client left first: nobody to answer
      this.options.logger.warn(
        { err, recording_id: id, spool: owner },
        'the recorder holding a recording does not answer: 503',
      );
      throw unreachable(id, 'the recorder holding it does not answer');
    }
    res.status(upstream.statusCode);
    for (const name of FORWARDED_RESPONSE) {
      const value = upstream.headers[name];
      if (value !== undefined) res.setHeader(name, value);
    }
    // A live recording is an open-ended chunked body: the player must get the headers now.
    res.flushHeaders();
    try {
      await pipeline(upstream.body, res);
    } catch (err) {
      // The client left (the upstream read is aborted with it) or the recorder went away mid-body:
      // the response is already under way, so all that is left is to cut it.
      if (!aborted.signal.aborted)
        this.options.logger.info({ err, recording_id: id }, 'a video read from a recorder spool broke off');
      res.destroy();
    } finally {
      res.off('close', onClose);
    }
    return true;
  }

  async close(): Promise<void> {
    if (this.client) await (await this.client).agent.close();
  }
}

function unreachable(id: string, why: string): HttpError {
  return new HttpError(
    503,
    'recording_unreachable',
    `recording ${id} is not in the bucket yet and ${why}; try again shortly`,
    { headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) } },
  );
}
