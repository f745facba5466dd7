import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { RedisScript, redisKey } from '@eufy-relay/runtime';

/** The receiver's limit is per second: a request counts against it for this long after it ended. */
const WINDOW_MS = 1000;

/** How long a waiting sender sleeps at most before asking again (requests in flight may end sooner). */
const MAX_POLL_MS = 25;

const ACQUIRE = RedisScript.load(__dirname, 'rate-window-acquire-1.lua');
const RELEASE = RedisScript.load(__dirname, 'rate-window-release-1.lua');

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
        await ACQUIRE.run(
          this.redis,
          [this.key],
          [member, this.config.WEBHOOK_RATE_LIMIT_PER_SECOND, WINDOW_MS, this.config.WEBHOOK_TIMEOUT_MS],
        ),
      );
      if (waitMs === 0) break;
      await sleep(Math.min(waitMs, MAX_POLL_MS), undefined, { signal });
    }
    try {
      return await request();
    } finally {
      // Failing here would fail a request that is done; unreleased, its place lasts until its timeout.
      await RELEASE.run(this.redis, [this.key], [member]).catch(() => undefined);
    }
  }
}
