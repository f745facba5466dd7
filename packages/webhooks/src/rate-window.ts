import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { redisKey } from '@eufy-relay/runtime';

/** The receiver's limit is per second: a request counts against it for this long after it ended. */
const WINDOW_MS = 1000;

/** How long a waiting sender sleeps at most before asking again (requests in flight may end sooner). */
const MAX_POLL_MS = 25;

// KEYS[1] sorted set: one member per request, scored by when it ended (or by when it will have ended
// at the latest, while in flight). ARGV: member, limit, window (ms), the request's timeout (ms).
// Returns 0 when the request may go (and counts it), else how many ms to wait before asking again.
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - window))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], window + tonumber(ARGV[4]) + 1000)
  return 0
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(first[2]) + window - now + 1)
`;

// KEYS[1] as above; ARGV[1] the member. Scores it by the time it really ended (XX: never re-adds one
// that already expired).
const RELEASE = `
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
return 1
`;

/**
 * Keeps the webhook receiver's view at `limit` requests or fewer in any one-second span, across every
 * notifier process, whatever the latency. A receiver sees a request at some moment between its start
 * and its end, so a request may start only while fewer than `limit` others are in flight or ended
 * within the last second: then no one-second span at the receiver can hold more than `limit`.
 * Spacing starts alone cannot promise that: varying latency bunches arrivals up. The price is the
 * receiver's latency: each request holds its place for one second plus its own duration.
 *
 * State is one sorted set in Redis, `{REDIS_PREFIX}:webhooks:receiver-window`, timed by Redis's clock.
 * A request whose process died in flight holds its place until its timeout has passed.
 */
export class ReceiverRateWindow {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    private readonly config: Pick<
      Config,
      'REDIS_PREFIX' | 'WEBHOOK_RATE_LIMIT_PER_SECOND' | 'WEBHOOK_TIMEOUT_MS'
    >,
  ) {
    this.key = redisKey(config, 'webhooks', 'receiver-window');
  }

  /** Waits for a place, then runs `request` in it; the place is freed (timed from now) when it ends. */
  async run<T>(request: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const member = randomUUID();
    for (;;) {
      const waitMs = Number(
        await this.redis.eval(
          ACQUIRE,
          1,
          this.key,
          member,
          this.config.WEBHOOK_RATE_LIMIT_PER_SECOND,
          WINDOW_MS,
          this.config.WEBHOOK_TIMEOUT_MS,
        ),
      );
      if (waitMs === 0) break;
      await sleep(Math.min(waitMs, MAX_POLL_MS), undefined, { signal });
    }
    try {
      return await request();
    } finally {
      // Failing here would fail a request that is done; unreleased, its place lasts until its timeout.
      await this.redis.eval(RELEASE, 1, this.key, member).catch(() => undefined);
    }
  }
}
