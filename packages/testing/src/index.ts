import { loadConfig, type Config } from '@eufy-relay/config';

export interface WaitForOptions {
  /** Give up after this long. Default 20 000: a guard against a hang, never a speed target. */
  timeoutMs?: number;
  /** Pause between checks. Default 25. */
  intervalMs?: number;
  /** Retry a check that throws (until the timeout), instead of failing at once. */
  retryErrors?: boolean;
  /** What else to say when it times out (state that helps a reader see why). */
  context?: () => string;
}

/** What a check gives once it holds: its value without the falsy parts. */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

/**
 * Polls `check` until it returns a truthy value, and returns that value. Times out with "timed out
 * after N ms waiting for {what}" (and the last error when `retryErrors` kept one).
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as Truthy<T>;
    } catch (err) {
      if (!options.retryErrors) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      const context = options.context?.() ?? '';
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${cause}${context ? `\n${context}` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 25));
  }
}

/**
 * The configuration of one test: the test Redis (REDIS_URL, else the default) under `prefix`, a
 * REDIS_PREFIX of the test file's own so test files never meet in Redis, then `env`.
 */
export function testConfig(prefix: string, env: Record<string, string> = {}): Config {
  return loadConfig({ env: { REDIS_URL: process.env.REDIS_URL ?? '', REDIS_PREFIX: prefix, ...env } });
}

export * from './nginx';
export * from './ports';
export * from './media';
