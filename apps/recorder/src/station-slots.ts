import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import type { Logger } from '@eufy-relay/logger';
import { RedisScript, redisKey } from '@eufy-relay/runtime';

const CLAIM = RedisScript.load(__dirname, 'station-slot-claim-1.lua');
const RELEASE = RedisScript.load(__dirname, 'station-slot-release-1.lua');

/**
 * A station (HomeBase) streams one of its cameras at a time over P2P; starting another camera's
 * livestream ends the running one. So a recording holds its station's slot while it streams:
 * `{prefix}:recorder:station:{station_sn}` = the recording id, with a lease its session renews, so a
 * slot whose recorder died frees itself. Releases are published on `{prefix}:recorder:station-free`
 * so a waiting recording starts at once; waiters also look again every quarter lease (an expiry
 * publishes nothing).
 */
export class StationSlots {
  private readonly channel: string;
  private readonly wantedChannel: string;
  private readonly freed = new EventEmitter();
  private readonly wanted = new EventEmitter();
  private subscribed: Promise<unknown> | undefined;

  constructor(
    private readonly redis: Redis,
    /** A connection for SUBSCRIBE only (a subscribed connection takes no other commands). */
    private readonly subscriber: Redis,
    private readonly config: Pick<Config, 'REDIS_PREFIX'>,
    readonly leaseMs: number,
    private readonly logger: Logger,
  ) {
    this.channel = redisKey(config, 'recorder', 'station-free');
    this.wantedChannel = redisKey(config, 'recorder', 'station-wanted');
    this.freed.setMaxListeners(0);
    this.wanted.setMaxListeners(0);
    subscriber.on('message', (channel: string, station: string) => {
      if (channel === this.channel) this.freed.emit(station);
      else if (channel === this.wantedChannel) this.wanted.emit(station);
    });
  }

  private subscribe(): Promise<unknown> {
    this.subscribed ??= this.subscriber.subscribe(this.channel, this.wantedChannel).catch((err: unknown) => {
      this.subscribed = undefined;
      this.logger.warn({ err }, 'cannot subscribe to station releases: waiting recordings poll');
    });
    return this.subscribed;
  }

  /**
   * A recording needs the station's slot, which a pre-motion buffer holds (prebuffer.ts): asks it,
   * in whichever recorder it runs, to lend it (published on `{prefix}:recorder:station-wanted`).
   */
  async want(station: string): Promise<void> {
    await this.redis.publish(this.wantedChannel, station);
  }

  /** Calls `listener` each time a recording asks for the station's slot; returns the unsubscribe. */
  onWanted(station: string, listener: () => void): () => void {
    // Fire-and-forget: subscribe() logs its own failure (then nobody asks, and the lease still bounds a holder).
    void this.subscribe();
    this.wanted.on(station, listener);
    return () => this.wanted.off(station, listener);
  }

  /** After lending the slot: waits until someone took it (or a lease passed), so the borrower goes first. */
  async waitTaken(station: string, signal: AbortSignal): Promise<void> {
    const until = Date.now() + this.leaseMs;
    while (!signal.aborted && Date.now() < until && (await this.holder(station)) === null)
      await sleep(Math.min(100, this.leaseMs / 10), undefined, { signal }).catch(() => undefined);
  }

  private key(station: string): string {
    return redisKey(this.config, 'recorder', 'station', station);
  }

  /** Takes or renews the slot; null when it is this recording's now, else the recording holding it. */
  async claim(station: string, recordingId: string): Promise<string | null> {
    const holder = (await CLAIM.run(this.redis, [this.key(station)], [recordingId, this.leaseMs])) as string;
    return holder === '' ? null : holder;
  }

  async release(station: string, recordingId: string): Promise<void> {
    await RELEASE.run(this.redis, [this.key(station)], [recordingId, this.channel, station]);
  }

  /** The recording holding the station's slot, if any. */
  holder(station: string): Promise<string | null> {
    return this.redis.get(this.key(station));
  }

  /**
   * Waits until the slot is this recording's. `onBlocked` hears each holder it waits for. Resolves
   * false if `signal` aborts first.
   */
  async acquire(
    station: string,
    recordingId: string,
    signal: AbortSignal,
    onBlocked: (holder: string) => Promise<void> | void,
  ): Promise<boolean> {
    await this.subscribe();
    let blockedBy: string | null = null;
    while (!signal.aborted) {
      const holder = await this.claim(station, recordingId);
      if (holder === null) return true;
      if (holder !== blockedBy) {
        blockedBy = holder;
        await onBlocked(holder);
      }
      await this.freedOrTimeout(station, this.leaseMs / 4, signal);
    }
    return false;
  }

  private freedOrTimeout(station: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.freed.off(station, done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.freed.on(station, done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
