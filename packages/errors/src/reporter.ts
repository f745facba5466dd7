import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isNativeError } from 'node:util/types';
import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { utcTimestamp, webhookId as webhookIdOf } from '@eufy-relay/contracts';
import type { Logger } from '@eufy-relay/logger';
import { RedisScript, redisKey } from '@eufy-relay/runtime';
import { enqueueWebhook, withJitter, type WebhookQueue } from '@eufy-relay/webhooks';
import { foldedCountsKey, recentErrorsKey, type RecordedError } from './recent';

/** Bounds on what one error puts in Redis and in a webhook. */
const MAX_MESSAGE = 1000;
const MAX_TRACEBACK = 8000;
const MAX_CAUSES = 3;
/** A fold state outlives its window so the next report can still say how many were folded before it. */
const FOLD_STATE_MIN_LIFETIME_MS = 24 * 3600 * 1000;

const REPORT = RedisScript.load(__dirname, 'report-error-3.lua');

export interface ErrorReporterOptions {
  config: Pick<
    Config,
    'REDIS_PREFIX' | 'ERROR_FOLD_SECONDS' | 'RECENT_ERRORS_MAX' | 'RETRY_ATTEMPTS' | 'RETRY_BASE_DELAY_MS'
  >;
  /** A producer connection (createRedis(config, 'producer')). */
  redis: Redis;
  /** The webhooks queue, opened with openWebhookQueue. */
  webhooks: WebhookQueue;
  logger: Logger;
}

export interface ReportOptions {
  /** Retries made after the first try (0: failed on the first and only try). */
  retryCount?: number;
  /** What the operation was working on (device_sn, recording id...): JSON values only. */
  context?: Record<string, unknown>;
}

export type ReportOutcome =
  /** Recorded in the recent-errors list and sent as a system_error webhook. */
  | { outcome: 'reported'; id: string; webhookId: string }
  /** The same operation and error type was reported less than ERROR_FOLD_SECONDS ago: counted there. */
  | { outcome: 'folded'; into: string; occurrences: number }
  /** Recorded in the list, but the system_error webhook could not be queued. */
  | { outcome: 'not_sent'; id: string; reason: string }
  /** Redis could not take it: the error is only in the log. */
  | { outcome: 'unrecorded'; reason: string };

export interface RetryOptions {
  context?: Record<string, unknown>;
  /** Defaults to RETRY_ATTEMPTS. */
  retries?: number;
  /** First retry delay, doubling each retry, with jitter. Defaults to RETRY_BASE_DELAY_MS. */
  baseDelayMs?: number;
  /** False for an error retrying cannot fix (bad input): it is reported at once. Default: retry all. */
  retryIf?: (err: unknown) => boolean;
  /** Shutdown: stops waiting between tries; an aborted operation is not reported. */
  signal?: AbortSignal;
}

export class ErrorReporter {
  constructor(private readonly options: ErrorReporterOptions) {}

  /**
   * Records an operation that failed for good: one log line always; then, unless the same operation
   * and error type was reported less than ERROR_FOLD_SECONDS ago (then it only counts there), an
   * entry in the recent-errors list and a system_error webhook. Never throws: reporting an error must
   * not become a second failure for the caller.
   */
  async report(operation: string, error: unknown, options: ReportOptions = {}): Promise<ReportOutcome> {
    const { config, redis, logger } = this.options;
    const entry: RecordedError = {
      id: randomUUID(),
      operation,
      error_type: errorType(error),
      error_message: truncate(errorMessage(error), MAX_MESSAGE),
      retry_count: options.retryCount ?? 0,
      timestamp: utcTimestamp(),
      context: jsonContext(options.context ?? {}),
      traceback: traceback(error),
    };
    const logFields = {
      err: error,
      operation,
      error_type: entry.error_type,
      retry_count: entry.retry_count,
      context: entry.context,
    };
    const foldWindowMs = config.ERROR_FOLD_SECONDS * 1000;
    let result: [number, string, number];
    try {
      result = (await REPORT.run(
        redis,
        [
          redisKey(config, 'errors', 'fold', operation, entry.error_type),
          foldedCountsKey(config),
          recentErrorsKey(config),
        ],
        [
          Date.now(),
          foldWindowMs,
          Math.max(foldWindowMs, FOLD_STATE_MIN_LIFETIME_MS),
          entry.id,
          JSON.stringify(entry),
          config.RECENT_ERRORS_MAX,
        ],
      )) as [number, string, number];
    } catch (err) {
      logger.error(logFields, `${operation} failed`);
      logger.error({ err }, 'the error above could not be recorded in Redis');
      return { outcome: 'unrecorded', reason: (err as Error).message };
    }
    const [recorded, id, count] = result;
    if (recorded === 0) {
      logger.error({ ...logFields, folded_into: id }, `${operation} failed (folded into an earlier report)`);
      return { outcome: 'folded', into: id, occurrences: count + 1 };
    }
    logger.error({ ...logFields, error_id: id }, `${operation} failed`);
    const webhookId = webhookIdOf('system_error', { errorId: id });
    const { id: _entryId, ...systemError } = entry;
    try {
      await enqueueWebhook(
        this.options.webhooks,
        {
          event: 'system_error',
          ...systemError,
          context: count > 0 ? { ...entry.context, folded_since_last_report: count } : entry.context,
        },
        { webhookId },
      );
    } catch (err) {
      logger.error({ err, error_id: id }, 'the system_error webhook for the error above could not be queued');
      return { outcome: 'not_sent', id, reason: (err as Error).message };
    }
    return { outcome: 'reported', id, webhookId };
  }

  /**
   * Runs `operation` with retries (RETRY_ATTEMPTS after the first try, RETRY_BASE_DELAY_MS doubling,
   * with jitter); when every try failed, reports the last error with its retry count and throws it.
   */
  async runWithRetries<T>(
    operation: string,
    fn: (attempt: number) => Promise<T>,
    options: RetryOptions = {},
  ): Promise<T> {
    const retries = options.retries ?? this.options.config.RETRY_ATTEMPTS;
    const baseDelayMs = options.baseDelayMs ?? this.options.config.RETRY_BASE_DELAY_MS;
    for (let retry = 0; ; retry++) {
      try {
        return await fn(retry + 1);
      } catch (err) {
        if (options.signal?.aborted) throw err;
        const retryable = options.retryIf?.(err) ?? true;
        if (!retryable || retry >= retries) {
          await this.report(operation, err, { retryCount: retry, context: options.context });
          throw err;
        }
        this.options.logger.warn(
          { err, operation, retry: retry + 1, of: retries, context: options.context },
          `${operation} failed: retrying`,
        );
        await sleep(withJitter(baseDelayMs * 2 ** retry), undefined, { signal: options.signal });
      }
    }
  }
}

/** instanceof alone misses errors made in another realm (a vm context, a worker's structured clone). */
function isError(value: unknown): value is Error {
  return value instanceof Error || isNativeError(value);
}

/**
 * The error's class name, as the seed's error_type (ConnectionError); for a plain Error carrying a
 * system code (ECONNREFUSED), the code, which says more than "Error".
 */
export function errorType(error: unknown): string {
  if (!isError(error)) return typeof error === 'object' && error !== null ? 'NonErrorObject' : 'NonError';
  const code = (error as { code?: unknown }).code;
  if (error.name === 'Error' && typeof code === 'string' && code !== '') return code;
  return error.name || error.constructor.name || 'Error';
}

function errorMessage(error: unknown): string {
  if (isError(error)) return error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/** The stack, followed by those of up to MAX_CAUSES causes (`new Error(msg, { cause })`). */
function traceback(error: unknown): string | null {
  if (!isError(error) || !error.stack) return null;
  const parts = [error.stack];
  let cause: unknown = error.cause;
  for (let depth = 0; isError(cause) && depth < MAX_CAUSES; depth++, cause = cause.cause) {
    parts.push(`Caused by: ${cause.stack ?? `${cause.name}: ${cause.message}`}`);
  }
  return truncate(parts.join('\n'), MAX_TRACEBACK);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The context as it will be stored and sent: plain JSON, or a note saying why it could not be. */
function jsonContext(context: Record<string, unknown>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(context)) as Record<string, unknown>;
  } catch (err) {
    return { unserializable_context: (err as Error).message };
  }
}
