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
  /**
   * Values never written, wherever they appear in a line (messages, error messages and stacks,
   * any string field): the configured secrets (`secretValues(config)`).
   */
  secrets?: readonly string[];
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
const REDACTED = '<redacted>';

type Mask = (text: string) => string;

/** Credentials embedded in URLs and the configured secret values, wherever they sit in a text. */
function maskOf(secrets: readonly string[]): Mask {
  const values = secrets.filter((v) => v !== '');
  return (text) => {
    let out = text.includes('://') ? scrubUrlCredentials(text) : text;
    for (const v of values) if (out.includes(v)) out = out.replaceAll(v, REDACTED);
    return out;
  };
}

/**
 * Any string field (an error message, a redis URL) may carry a secret. An Error is serialized first
 * (type, message and stack with their causes, own fields such as `code`) so its texts are masked
 * too: left as an Error, pino would write its message and stack untouched.
 */
function scrubStrings(value: unknown, mask: Mask, depth = 0): unknown {
  if (typeof value === 'string') return mask(value);
  if (depth >= MAX_SCRUB_DEPTH || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return scrubStrings({ ...pino.stdSerializers.err(value) }, mask, depth);
  if (Array.isArray(value)) return value.map((v) => scrubStrings(v, mask, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubStrings(v, mask, depth + 1);
  return out;
}

export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const pretty = options.pretty ?? (process.stdout.isTTY === true && process.env.NODE_ENV !== 'production');
  const mask = maskOf(options.secrets ?? []);
  const pinoOptions: LoggerOptions = {
    level: options.level ?? 'info',
    base: { pid: process.pid, ...(options.role ? { role: options.role } : {}) },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { log: (obj) => scrubStrings(obj, mask) as Record<string, unknown> },
    // Errors in a line are serialized and masked by the formatter above; this one covers the `err`
    // of a child logger's bindings, which do not pass through it.
    serializers: { err: (err: unknown) => scrubStrings(err, mask, 1) },
    hooks: {
      // Messages are strings too: a URL with credentials in the message text is scrubbed as well.
      logMethod(args, method) {
        // Without a message pino takes the error's own as the line's, past the formatter: give it
        // the masked one.
        const [first, second] = args as unknown[];
        const err = first instanceof Error ? first : (first as { err?: unknown } | null)?.err;
        if (err instanceof Error && typeof second !== 'string') args.splice(1, 0, err.message);
        const scrubbed = args.map((a) => (typeof a === 'string' ? mask(a) : a)) as typeof args;
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
