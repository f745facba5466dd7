/** The custom BullMQ backoff type every webhook job carries; the notifier's Worker implements it. */
export const WEBHOOK_BACKOFF = 'webhook-schedule';

/**
 * Each retry delay is stretched or shrunk by up to this fraction at random, so work that failed
 * together (a receiver outage) does not all come back in the same instant. ±10 % spreads a burst over
 * a fifth of the delay and keeps the steps of a doubling schedule well apart.
 */
export const RETRY_JITTER = 0.1;

/**
 * Milliseconds to wait before retry number `retry` (1 = the first retry) under
 * WEBHOOK_RETRY_SCHEDULE_SECONDS, with jitter; -1 (BullMQ's "do not retry") once the schedule is used up.
 */
export function webhookRetryDelayMs(
  scheduleSeconds: readonly number[],
  retry: number,
  random: () => number = Math.random,
): number {
  const seconds = scheduleSeconds[retry - 1];
  if (seconds === undefined || retry < 1) return -1;
  return withJitter(seconds * 1000, random);
}

/** `ms` give or take RETRY_JITTER, rounded to whole milliseconds. */
export function withJitter(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (1 - RETRY_JITTER + 2 * RETRY_JITTER * random()));
}

/**
 * A `Retry-After` header in milliseconds from `now`: delta-seconds or an HTTP date (RFC 9110 10.2.3).
 * Undefined when absent or unreadable.
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // HTTP dates end in GMT; anything else Date.parse would guess at ("1.5" is a date to V8).
  if (!text.endsWith('GMT')) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
