import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from '@eufy-relay/logger';

/**
 * One write to Redis. It must be idempotent: after a connection loss it runs again from the start, and
 * Redis may already hold part or all of what it wrote.
 */
export interface OutboxWrite {
  /** What it writes, for the logs (`motion T8113P0223000002 motion on`). */
  label: string;
  run(): Promise<void>;
}

export interface OutboxOptions {
  /** The producer connection the writes use (no offline queue: commands fail at once while it is down). */
  redis: Redis;
  /** INGEST_BUFFER_MAX_EVENTS: events held while Redis is away; beyond it the oldest are dropped. */
  maxPending: number;
  /** Retries of a write that failed while Redis was up (RETRY_ATTEMPTS, RETRY_BASE_DELAY_MS doubling). */
  retries: number;
  baseDelayMs: number;
  /** False for an error a retry cannot fix (a payload that breaks its contract): it fails at once. */
  retryIf: (err: unknown) => boolean;
  /** A write that failed for good with Redis up; the outbox carries on with the next. */
  onFailed: (write: OutboxWrite, err: unknown, retryCount: number) => Promise<void>;
  /** Called once the backlog is written after writes were dropped, with how many were. */
  onDropped: (count: number) => void;
  logger: Logger;
}

/** The messages ioredis and BullMQ fail with when the connection is not there (or went mid-command). */
const CONNECTION_LOST =
  /Connection is closed|Stream isn't writeable|enableOfflineQueue|max retries per request|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket closed/i;

export function isConnectionLoss(err: unknown): boolean {
  return CONNECTION_LOST.test(
    err instanceof Error ? `${err.message} ${(err as { code?: string }).code ?? ''}` : '',
  );
}

/**
 * Ingest's ordered, bounded buffer of writes to Redis. Writes run one at a time in the order events
 * arrived, so the jobs of one camera reach Redis in the order the camera produced them. While Redis
 * is unreachable the writes wait here (the WebSocket stays up and events keep coming) and the one
 * that failed is tried again when the connection is ready; nothing is lost unless more than
 * `maxPending` pile up, in which case the oldest go, are counted and reported once the backlog is
 * written.
 */
export class Outbox {
  /** One entry per event: the writes it needs, in order. */
  private readonly pending: OutboxWrite[][] = [];
  private draining: Promise<void> | undefined;
  private dropped = 0;
  /** Between a write failing for want of Redis and the next write going through. */
  private holding = false;
  private readonly abort = new AbortController();

  constructor(private readonly options: OutboxOptions) {}

  /**
   * Buffers the writes of one event (one entry however many writes it needs: a full state sync is one
   * entry too). An empty list is ignored.
   */
  push(writes: OutboxWrite | OutboxWrite[]): void {
    const entry = Array.isArray(writes) ? writes : [writes];
    if (entry.length === 0) return;
    if (this.abort.signal.aborted) {
      this.options.logger.error({ write: entry[0]!.label }, 'ingest is stopping: event not written to Redis');
      return;
    }
    if (this.pending.length >= this.options.maxPending) {
      const lost = this.pending.shift()!;
      if (this.dropped++ === 0)
        this.options.logger.error(
          { maxPending: this.options.maxPending, first: lost[0]!.label },
          'Redis unreachable and the event buffer is full: dropping the oldest events',
        );
    }
    this.pending.push(entry);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  /**
   * Waits up to `timeoutMs` for every buffered write to reach Redis, then stops; writes still waiting
   * are logged as lost. Further pushes are refused.
   */
  async close(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.draining,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.abort.abort();
    await this.draining;
    const lost = this.pending.length + this.dropped;
    if (lost > 0) this.options.logger.error({ lost }, 'ingest stopped with events that never reached Redis');
    this.pending.length = 0;
  }

  private async drain(): Promise<void> {
    while (!this.abort.signal.aborted) {
      const entry = this.pending.shift();
      if (entry) {
        // A write that fails for want of Redis is retried where it stopped, not from the entry's start.
        for (const write of entry) if (!(await this.writeOne(write))) return;
        continue;
      }
      if (this.dropped === 0) return;
      const count = this.dropped;
      this.dropped = 0;
      this.options.onDropped(count);
    }
  }

  /** False when the outbox was closed before the write could be made. */
  private async writeOne(write: OutboxWrite): Promise<boolean> {
    const { redis, retries, baseDelayMs, retryIf, onFailed, logger } = this.options;
    for (let retry = 0; ;) {
      if (redis.status !== 'ready') this.hold(write);
      if (!(await this.redisReady())) return false;
      if (this.holding) {
        this.holding = false;
        logger.info({ held: this.pending.length + 1 }, 'Redis is back: writing the held events in order');
      }
      try {
        await write.run();
        return true;
      } catch (err) {
        if (redis.status !== 'ready' || isConnectionLoss(err)) {
          this.hold(write, err);
          // Already reconnected (the command died with the old socket): a short pause, then again.
          if (redis.status === 'ready') await this.pause(Math.min(baseDelayMs, 1000));
          continue;
        }
        if (retry >= retries || !retryIf(err)) {
          await onFailed(write, err, retry);
          return true;
        }
        logger.warn({ write: write.label, err, retry: retry + 1, of: retries }, 'write failed: retrying');
        await this.pause(baseDelayMs * 2 ** retry);
        retry++;
      }
    }
  }

  private hold(write: OutboxWrite, err?: unknown): void {
    if (!this.holding)
      this.options.logger.warn(
        { write: write.label, err },
        'Redis unreachable: holding events until it is back',
      );
    this.holding = true;
  }

  private pause(ms: number): Promise<void> {
    return sleep(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }

  /** Resolves true once the connection takes commands, false if the outbox is closed first. */
  private redisReady(): Promise<boolean> {
    const { redis } = this.options;
    if (redis.status === 'ready') return Promise.resolve(true);
    if (this.abort.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ready: boolean) => {
        redis.off('ready', onReady);
        this.abort.signal.removeEventListener('abort', onAbort);
        resolve(ready);
      };
      const onReady = () => done(true);
      const onAbort = () => done(false);
      redis.on('ready', onReady);
      this.abort.signal.addEventListener('abort', onAbort);
    });
  }
}

/** What the system_error after an overflow carries: how many events never reached Redis. */
export class EventsDroppedError extends Error {
  override name = 'EventsDroppedError';
  constructor(
    readonly dropped: number,
    maxPending: number,
  ) {
    super(
      `Redis was unreachable and ingest's buffer of ${maxPending} events (INGEST_BUFFER_MAX_EVENTS) overflowed: ` +
        `the ${dropped} oldest events were dropped; device state, outages and battery are written again from the bridge`,
    );
  }
}
