import http from 'node:http';
import type { RequestListener } from 'node:http';
import { isIP } from 'node:net';
import type { Config } from '@eufy-relay/config';
import type { Logger } from '@eufy-relay/logger';

type ServerConfig = Pick<
  Config,
  | 'HTTP_HEADERS_TIMEOUT_SECONDS'
  | 'HTTP_REQUEST_TIMEOUT_SECONDS'
  | 'HTTP_IDLE_TIMEOUT_SECONDS'
  | 'HTTP_MAX_CONNECTIONS'
>;

/** Node checks the header and request deadlines on a timer (30 s by default); a few checks per deadline. */
const CHECKS_PER_DEADLINE = 4;
const MAX_CHECK_INTERVAL_MS = 30_000;
/** Connections refused at the cap are reported at most this often (a flood would flood the log). */
const DROP_REPORT_INTERVAL_MS = 60_000;

/**
 * The api's HTTP server, with the limits Node leaves off by default (design: the one Render instance
 * that serves the api also records, so a few hundred stuck clients must not take it down):
 * - headers and the whole request must arrive within their deadlines (408 and closed otherwise);
 *   the request deadline stops once the request is in, so a long response is never cut by it;
 * - a connection on which nothing moves for HTTP_IDLE_TIMEOUT_SECONDS is destroyed: a client that
 *   asks for a video and never reads stalls the writes, while one that keeps reading (a long
 *   download, a growing recording followed live) keeps it alive;
 * - at most HTTP_MAX_CONNECTIONS connections; further ones are closed as they arrive;
 * - an `error` listener for the server's whole life: an error after start (accept failing with
 *   EMFILE) is logged, the server goes on listening, and the process does not die of it.
 */
export function createServer(app: RequestListener, config: ServerConfig, logger: Logger): http.Server {
  const headersTimeout = config.HTTP_HEADERS_TIMEOUT_SECONDS * 1000;
  const requestTimeout = config.HTTP_REQUEST_TIMEOUT_SECONDS * 1000;
  const server = http.createServer(
    {
      headersTimeout,
      requestTimeout,
      connectionsCheckingInterval: Math.min(
        MAX_CHECK_INTERVAL_MS,
        Math.ceil(Math.min(headersTimeout, requestTimeout) / CHECKS_PER_DEADLINE),
      ),
    },
    app,
  );
  // No 'timeout' listener on purpose: without one, Node destroys the idle socket itself.
  server.setTimeout(config.HTTP_IDLE_TIMEOUT_SECONDS * 1000);
  server.maxConnections = config.HTTP_MAX_CONNECTIONS;

  let dropped = 0;
  let lastDropReport = 0;
  server.on('drop', () => {
    dropped++;
    const now = Date.now();
    if (now - lastDropReport < DROP_REPORT_INTERVAL_MS) return;
    logger.warn(
      { dropped, maxConnections: config.HTTP_MAX_CONNECTIONS },
      'connections refused: HTTP_MAX_CONNECTIONS reached',
    );
    lastDropReport = now;
    dropped = 0;
  });
  server.on('error', (err) => logger.error({ err }, 'http server error'));
  return server;
}

/**
 * Where the api listens, and why there: HOST when it is given; else on every interface when
 * API_TOKEN guards the token routes, and on loopback only when it does not (they would be open to
 * anyone reaching the port).
 */
export function listenHost(config: Pick<Config, 'HOST' | 'API_TOKEN'>): { host: string; why: string } {
  if (config.HOST !== undefined) return { host: config.HOST, why: 'HOST' };
  return config.API_TOKEN
    ? { host: '0.0.0.0', why: 'every interface: API_TOKEN is set and HOST is not' }
    : {
        host: '127.0.0.1',
        why: 'loopback only: API_TOKEN and HOST are unset (set either to listen on other interfaces)',
      };
}

/** A loopback address or name: only this machine reaches it. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
