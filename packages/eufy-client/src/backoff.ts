export interface BackoffOptions {
  /** Delay before the first reconnect attempt. */
  initialDelayMs: number;
  /** Cap of any delay, jitter included. */
  maxDelayMs: number;
  /** Growth per failed attempt. */
  multiplier: number;
  /** Spread as a fraction of the delay (0.2 → ±20 %), so many clients do not reconnect in lockstep. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitter: 0.2,
};

/** Delay before reconnect attempt `attempt` (1 = first retry after a loss). */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const exponential = options.initialDelayMs * options.multiplier ** Math.max(0, attempt - 1);
  const spread = 1 + options.jitter * (2 * random() - 1);
  return Math.round(Math.min(options.maxDelayMs, Math.min(exponential, options.maxDelayMs) * spread));
}
