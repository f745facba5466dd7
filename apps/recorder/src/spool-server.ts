import { watch, type FSWatcher } from 'node:fs';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import express, { type Express, type Request } from 'express';
import type { Config } from '@eufy-relay/config';
import { SPOOL_CREDENTIAL_HEADER, checkSpoolCredential, parseRecordingId } from '@eufy-relay/contracts';
import type { Logger } from '@eufy-relay/logger';
import {
  FragmentIndexes,
  HttpError,
  LiveRecordings,
  LocalMedia,
  READ_CHUNK_BYTES,
  errorHandler,
  indexLookup,
  notFound,
  type MediaKind,
  type MediaRequest,
} from '@eufy-relay/playback';
import { classifyFileName, type RecordingFiles, type RecordingStore } from '@eufy-relay/recordings';
import type { SpoolOwners } from '@eufy-relay/storage';

/** A claim on the spool's recordings lives this many refresh intervals: a dead recorder drops out. */
const CLAIM_INTERVALS = 3;

export interface SpoolAppOptions {
  local: LocalMedia;
  /** SPOOL_SECRET; unset, requests are not checked (the server then listens on loopback only). */
  secret: string | undefined;
  logger: Logger;
  now?: () => number;
}

/**
 * The recorder's internal spool endpoint (STORAGE_BACKEND=s3): `GET /spool/{id}.mp4|.jpg|.m3u8`
 * answers from this recorder's RECORDINGS_DIR exactly as the api answers from a shared disk (the same
 * LocalMedia: Range, live following, HLS, 202 before the first fragment), for the api to proxy. Every
 * request carries the api's credential (an HMAC of the id and an expiry with SPOOL_SECRET), checked
 * before anything is looked up: a wrong or expired one gets the same 403 whether or not the
 * recording exists. The public URL's `expires` and `sig` come along (the api has checked them): they
 * decide the cache lifetime and the URIs of the HLS playlist.
 */
export function spoolApp(options: SpoolAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  const authorized = (req: Request): MediaRequest => {
    const id = String(req.params.id);
    if (!parseRecordingId(id))
      throw new HttpError(400, 'invalid_recording_id', 'not a recording id ({device_sn}_{YYYYMMDD_HHMMSS})');
    const now = options.now?.() ?? Date.now();
    if (options.secret) {
      const header = req.headers[SPOOL_CREDENTIAL_HEADER];
      const verdict = checkSpoolCredential(
        id,
        typeof header === 'string' ? header : undefined,
        options.secret,
        now,
      );
      if (verdict !== 'valid')
        throw new HttpError(403, `spool_credential_${verdict}`, 'this endpoint answers the api only');
    }
    const { expires, sig } = req.query;
    const signed = typeof expires === 'string' && typeof sig === 'string';
    return {
      id,
      now,
      signedUntil: signed ? Number(expires) : null,
      uriQuery: signed ? `?${new URLSearchParams({ expires, sig }).toString()}` : '',
    };
  };
  for (const [kind, ext] of [
    ['video', 'mp4'],
    ['thumbnail', 'jpg'],
  ] as [MediaKind, string][]) {
    app.get(`/spool/:id.${ext}`, async (req, res) => {
      await options.local.serveFile(kind, authorized(req), req, res);
    });
  }
  app.get('/spool/:id.m3u8', async (req, res) => {
    await options.local.servePlaylist(authorized(req), req, res);
  });
  app.use(notFound);
  app.use(errorHandler(options.logger));
  return app;
}

export interface SpoolServerDeps {
  config: Pick<
    Config,
    | 'SPOOL_SECRET'
    | 'SPOOL_PORT'
    | 'SPOOL_HOST'
    | 'SPOOL_URL'
    | 'HEARTBEAT_INTERVAL_SECONDS'
    | 'LIVE_CHECK_INTERVAL_SECONDS'
    | 'LIVE_CLIENT_TIMEOUT_SECONDS'
  >;
  store: RecordingStore;
  files: RecordingFiles;
  owners: SpoolOwners;
  logger: Logger;
}

export interface RunningSpoolServer {
  /** The address registered in Redis for the api, e.g. http://recorder-1:8091. */
  readonly url: string;
  /** Live followers being served right now (the api's proxied plain GETs of recordings in progress). */
  readonly followers: number;
  close(): Promise<void>;
}

/** Where the endpoint listens: SPOOL_HOST, else every interface when requests are signed, else loopback. */
function listenHost(config: SpoolServerDeps['config']): string {
  return config.SPOOL_HOST ?? (config.SPOOL_SECRET ? '0.0.0.0' : '127.0.0.1');
}

/**
 * This host's address on its network: the first IPv4 address that is not loopback. An address works
 * wherever the api runs (another compose container, a Render private service's instance, a pod),
 * where a host name often resolves only on the host itself; SPOOL_URL says otherwise.
 */
function hostAddress(): string {
  for (const addresses of Object.values(networkInterfaces()))
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return hostname();
}

function advertised(config: SpoolServerDeps['config'], host: string, port: number): string {
  if (config.SPOOL_URL) return config.SPOOL_URL;
  const name =
    host === '0.0.0.0' || host === '::'
      ? hostAddress()
      : host.startsWith('127.') || host === 'localhost'
        ? '127.0.0.1'
        : host;
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
}

/**
 * Starts the spool endpoint and keeps this recorder's claim on every recording in its spool
 * (SpoolOwners): at once when a `{id}.mp4` or `{id}.jpg` appears (a directory watch), and on every
 * HEARTBEAT_INTERVAL_SECONDS from a listing (what the watch missed, and the claims' renewal).
 */
export async function startSpoolServer(deps: SpoolServerDeps): Promise<RunningSpoolServer> {
  const { config, logger, owners, files } = deps;
  const lookup = indexLookup(deps.store, files);
  const live = new LiveRecordings({
    lookup,
    checkIntervalMs: config.LIVE_CHECK_INTERVAL_SECONDS * 1000,
    clientTimeoutMs: config.LIVE_CLIENT_TIMEOUT_SECONDS * 1000,
    chunkBytes: READ_CHUNK_BYTES,
    logger,
  });
  const local = new LocalMedia({ lookup, live, fragments: new FragmentIndexes() });
  const server = http.createServer(spoolApp({ local, secret: config.SPOOL_SECRET, logger }));
  server.on('error', (err) => logger.error({ err }, 'spool endpoint error'));
  const host = listenHost(config);
  server.listen(config.SPOOL_PORT, host);
  await once(server, 'listening');
  const url = advertised(config, host, (server.address() as AddressInfo).port);

  const intervalMs = config.HEARTBEAT_INTERVAL_SECONDS * 1000;
  const ttlMs = CLAIM_INTERVALS * intervalMs;
  const claim = (ids: Iterable<string>) =>
    owners.claim(ids, url, ttlMs).catch((err: unknown) => {
      // Redis away: the next interval claims again; meanwhile the api answers 503 for these.
      logger.warn({ err }, 'could not register the recordings of this spool');
    });
  const claimAll = async () => {
    const ids = new Set<string>();
    for (const name of await readdir(files.dir).catch(() => [] as string[])) {
      const file = classifyFileName(name);
      if (file.kind === 'video' || file.kind === 'thumbnail') ids.add(file.id);
    }
    await claim(ids);
  };
  await claimAll();
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(files.dir, { persistent: false }, (_event, name) => {
      const file = classifyFileName(String(name ?? ''));
      if (file.kind === 'video' || file.kind === 'thumbnail') void claim([file.id]);
    });
    watcher.on('error', (err) => {
      logger.debug({ err }, 'spool watch failed: recordings are registered on the interval only');
      watcher?.close();
    });
  } catch (err) {
    logger.debug({ err }, 'cannot watch the spool: recordings are registered on the interval only');
  }
  let claiming: Promise<void> | undefined;
  const timer = setInterval(() => {
    claiming ??= claimAll().finally(() => (claiming = undefined));
  }, intervalMs);
  timer.unref();
  logger.info(
    { url, listen: host, signed: config.SPOOL_SECRET !== undefined },
    'spool endpoint listening (the api plays recordings not yet in the bucket through it)',
  );
  if (!config.SPOOL_SECRET && host !== '127.0.0.1')
    logger.warn({ host }, 'SPOOL_SECRET is unset: the spool endpoint answers anyone who reaches it');
  return {
    url,
    get followers() {
      return live.followers;
    },
    async close() {
      clearInterval(timer);
      watcher?.close();
      await claiming;
      live.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
