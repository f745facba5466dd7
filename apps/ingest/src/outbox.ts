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

/** Events written at the same time at most: enough to keep Redis busy with one connection. */
const MAX_IN_FLIGHT = 64;
/** Buffered events looked at for one whose device is free; the rest wait their turn (a long outage). */
const MAX_LOOKAHEAD = 1024;

/** One buffered event: its writes, in order, and the device whose order it keeps (none: everything's). */
interface Entry {
  writes: OutboxWrite[];
  lane: string | undefined;
}

/**
 * Ingest's ordered, bounded buffer of writes to Redis. The events of one device are written one at a
 * time in the order they arrived, so the jobs of a camera reach Redis in the order the camera produced
 * them; different devices' events are written side by side (one at a time for all of them would make
 * a Redis round trip per event the ceiling of the whole bridge). An event without a device (a full
 * state sync, a station's devices, a system_error) waits for everything before it and holds back
 * everything after it. While Redis is unreachable the writes wait here (the WebSocket stays up and
 * events keep coming) and those that failed are tried again when the connection is ready; nothing is
 * lost unless more than `maxPending` pile up, in which case the oldest go, are counted and reported
 * once the backlog is written.
 */
export class Outbox {
  /** Events not started yet, oldest first. */
  private readonly pending: Entry[] = [];
  /** Devices with an event being written now; `null` while an event without a device is. */
  private readonly busy = new Set<string | null>();
  private idle: Promise<void> | undefined;
  private becameIdle: (() => void) | undefined;
  private dropped = 0;
  /** Between a write failing for want of Redis and the next write going through. */
  private holding = false;
  private readyWait: Promise<boolean> | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly options: OutboxOptions) {}

  /**
   * Buffers the writes of one event (one entry however many writes it needs: a full state sync is one
   * entry too), in order with the other events of `lane` (a device serial), or, without a lane, with
   * every other event. An empty list is ignored.
   */
  push(writes: OutboxWrite | OutboxWrite[], lane?: string): void {
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
          { maxPending: this.options.maxPending, first: lost.writes[0]!.label },
          'Redis unreachable and the event buffer is full: dropping the oldest events',
        );
    }
    this.pending.push({ writes: entry, lane });
    this.idle ??= new Promise<void>((resolve) => (this.becameIdle = resolve));
    this.pump();
  }

  /**
   * Waits up to `timeoutMs` for every buffered write to reach Redis, then stops; writes still waiting
   * are logged as lost. Further pushes are refused.
   */
  async close(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.idle,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    this.abort.abort();
    await this.idle;
    const lost = this.pending.length + this.dropped;
    if (lost > 0) this.options.logger.error({ lost }, 'ingest stopped with events that never reached Redis');
    this.pending.length = 0;
  }

  /** Starts every event whose turn it is; settles the outbox when nothing is left. */
  private pump(): void {
    // While an event without a device is written nothing else may start; its end pumps again.
    if (this.abort.signal.aborted || this.busy.has(null)) return this.settleIfDone();
    const skipped = new Set<string>();
    for (let i = 0; i < this.pending.length && i < MAX_LOOKAHEAD && this.busy.size < MAX_IN_FLIGHT;) {
      const entry = this.pending[i]!;
      if (entry.lane === undefined) {
        // Everything before it first; nothing after it until it is written.
        if (this.busy.size === 0 && i === 0) this.start(this.pending.shift()!, null);
        break;
      }
      // A device's later event waits behind its earlier one (in flight, or passed over above).
      if (this.busy.has(entry.lane) || skipped.has(entry.lane)) {
        skipped.add(entry.lane);
        i++;
        continue;
      }
      this.start(this.pending.splice(i, 1)[0]!, entry.lane);
    }
    if (this.busy.size === 0 && this.pending.length === 0 && this.dropped > 0) {
      const count = this.dropped;
      this.dropped = 0;
      // Its handler pushes the resync, which keeps the outbox busy.
      this.options.onDropped(count);
    }
    this.settleIfDone();
  }

  private start(entry: Entry, lane: string | null): void {
    this.busy.add(lane);
    // Fire-and-forget: The lane's pump: it catches every error of an entry itself and frees the lane in finally.
    void (async () => {
      // A write that fails for want of Redis is retried where it stopped, not from the entry's start.
      for (const write of entry.writes) if (!(await this.writeOne(write))) break;
      this.busy.delete(lane);
      this.pump();
    })();
  }

  private settleIfDone(): void {
    const done = this.busy.size === 0 && (this.pending.length === 0 || this.abort.signal.aborted);
    if (!done || !this.becameIdle) return;
    this.becameIdle();
    this.becameIdle = undefined;
    this.idle = undefined;
  }

  /** False when the outbox was closed before the write could be made. */
  private async writeOne(write: OutboxWrite): Promise<boolean> {
    const { redis, retries, baseDelayMs, retryIf, onFailed, logger } = this.options;
    for (let retry = 0; ;) {
      if (redis.status !== 'ready') this.hold(write);
      if (!(await this.redisReady())) return false;
      if (this.holding) {
        this.holding = false;
        logger.info(
          { held: this.pending.length + this.busy.size },
          "Redis is back: writing the held events, each device's in order",
        );
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
    // One wait shared by every write in flight: one listener on the connection, not one per write.
    return (this.readyWait ??= new Promise<boolean>((resolve) => {
      const done = (ready: boolean) => {
        redis.off('ready', onReady);
        this.abort.signal.removeEventListener('abort', onAbort);
        this.readyWait = undefined;
        resolve(ready);
      };
      const onReady = () => done(true);
      const onAbort = () => done(false);
      redis.on('ready', onReady);
      this.abort.signal.addEventListener('abort', onAbort);
    }));
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
