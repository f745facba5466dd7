import { Writable } from 'node:stream';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { SECRET_SETTINGS, scrubUrlCredentials } from '@eufy-relay/config';

export type { Logger } from 'pino';

export interface CreateLoggerOptions {
  level?: string;
  /** Names the process part that logs; every line carries it. */
  role?: string;
  /** Human-readable output; defaults to "stdout is a terminal and not production". */
  pretty?: boolean;
  /** Where lines go (tests capture them); defaults to stdout. */
  destination?: DestinationStream;
}

/** Field names whose values are never logged, wherever they appear (one level deep or at the top). */
const SECRET_KEYS = [...SECRET_SETTINGS, 'authorization', 'password', 'secret', 'token', 'apiToken'];
const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`]).concat([
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers["webhook-signature"]',
]);

const MAX_SCRUB_DEPTH = 4;

/** Credentials embedded in URLs can sit in any string field (an error message, a redis URL). */
function scrubStrings(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.includes('://') ? scrubUrlCredentials(value) : value;
  if (depth >= MAX_SCRUB_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrubStrings(v, depth + 1));
  if (value instanceof Error) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubStrings(v, depth + 1);
  return out;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const pretty = options.pretty ?? (process.stdout.isTTY === true && process.env.NODE_ENV !== 'production');
  const pinoOptions: LoggerOptions = {
    level: options.level ?? 'info',
    base: { pid: process.pid, ...(options.role ? { role: options.role } : {}) },
    redact: { paths: REDACT_PATHS, censor: '<redacted>' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { log: (obj) => scrubStrings(obj) as Record<string, unknown> },
    serializers: { err: pino.stdSerializers.err },
    hooks: {
      // Messages are strings too: a URL with credentials in the message text is scrubbed as well.
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? scrubStrings(a) : a)) as typeof args;
        method.apply(this, scrubbed);
      },
    },
  };
  if (options.destination) return pino(pinoOptions, options.destination);
  if (pretty) {
    // pino-pretty as an in-process stream (no worker thread) so lines are never lost at exit.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pinoPretty = require('pino-pretty') as (opts: object) => DestinationStream;
    return pino(
      pinoOptions,
      pinoPretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }),
    );
  }
  return pino(pinoOptions);
}

/** A child logger for one job: its queue, name and id on every line. */
export function jobLogger(
  parent: Logger,
  job: { queueName: string; name: string; id?: string | undefined },
): Logger {
  return parent.child({ queue: job.queueName, job: job.name, jobId: job.id });
}

/** A destination that keeps every line as parsed JSON, for tests asserting what was logged. */
export function logCapture(): { lines: Record<string, unknown>[]; destination: DestinationStream } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, destination };
}

interface EndableDestination {
  end(): void;
  once(event: 'close' | 'error', listener: () => void): unknown;
  destroyed?: boolean;
}

function endable(stream: unknown): stream is EndableDestination {
  const s = stream as Partial<EndableDestination> | undefined;
  return typeof s?.end === 'function' && typeof s.once === 'function';
}

/**
 * Resolves once every line logged so far has been written (or after `timeoutMs`): what a process
 * waits for right before process.exit. pino's default stdout destination writes asynchronously and
 * its `logger.flush(cb)` calls back at once (minLength 0) even while a write is still in flight, so
 * the last lines before an exit could be lost; ending the destination waits for that write. Call it
 * last: the destination takes no lines once it has closed. Streams passed as `destination` (tests)
 * are left alone.
 */
export function endLogger(logger: Logger, timeoutMs: number): Promise<void> {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
  if (!endable(stream) || stream instanceof Writable || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    stream.once('close', done);
    stream.once('error', done);
    stream.end();
  });
}
