import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { sessionKey } from './camera-state';

/** One ffmpeg output of a recording (a recording is stitched from several after a takeover). */
export interface SegmentRecord {
  n: number;
  /** File name in RECORDINGS_DIR: `{id}.mp4` for the first, a temp name for later ones. */
  file: string;
  created_at: number;
  /** Wall clock of its first frame (where it sits in the recording); null until it has one. */
  first_frame_at: number | null;
  last_frame_at: number | null;
}

/**
 * What a recording's session keeps in Redis so that any recorder can continue or finish it:
 * `{prefix}:recorder:session:{id}` (hash)
 *   phase, stop_reason, ended_at   set when the stop is decided (camera-state.ts)
 *   segments, segment:{n}          how many segments; each as JSON (SegmentRecord)
 *   streams                        livestreams opened so far (every one after the first is a restart)
 *   problem                        the latest thing that went wrong, in words (the webhook's reason)
 *   merge                          the merged file written and about to replace `{id}.mp4`
 *   gap_ms                         milliseconds between its segments without video (set with merge)
 * Only the session's owner (the holder of its BullMQ job lock) writes it; it is deleted when the
 * recording is finished.
 */
export class SessionRecords {
  constructor(
    private readonly redis: Redis,
    private readonly config: Pick<Config, 'REDIS_PREFIX'>,
  ) {}

  private key(id: string): string {
    return sessionKey(this.config, id);
  }

  async addSegment(id: string, file: string, now = Date.now()): Promise<SegmentRecord> {
    const n = await this.redis.hincrby(this.key(id), 'segments', 1);
    const segment: SegmentRecord = { n, file, created_at: now, first_frame_at: null, last_frame_at: null };
    await this.redis.hset(this.key(id), `segment:${n}`, JSON.stringify(segment));
    return segment;
  }

  async updateSegment(id: string, segment: SegmentRecord): Promise<void> {
    await this.redis.hset(this.key(id), `segment:${segment.n}`, JSON.stringify(segment));
  }

  /** Every segment, oldest first. */
  async segments(id: string): Promise<SegmentRecord[]> {
    const hash = await this.redis.hgetall(this.key(id));
    return Object.entries(hash)
      .filter(([field]) => field.startsWith('segment:'))
      .map(([, json]) => JSON.parse(json) as SegmentRecord)
      .sort((a, b) => a.n - b.n);
  }

  /** Counts one more livestream opened for the recording; returns how many so far. */
  countStream(id: string): Promise<number> {
    return this.redis.hincrby(this.key(id), 'streams', 1);
  }

  async setProblem(id: string, problem: string): Promise<void> {
    await this.redis.hset(this.key(id), 'problem', problem);
  }

  problem(id: string): Promise<string | null> {
    return this.redis.hget(this.key(id), 'problem');
  }

  async setMerge(id: string, file: string | null): Promise<void> {
    if (file === null) await this.redis.hdel(this.key(id), 'merge');
    else await this.redis.hset(this.key(id), 'merge', file);
  }

  async setGap(id: string, ms: number): Promise<void> {
    await this.redis.hset(this.key(id), 'gap_ms', String(Math.round(ms)));
  }

  async gap(id: string): Promise<number> {
    return Number((await this.redis.hget(this.key(id), 'gap_ms')) ?? 0);
  }

  merge(id: string): Promise<string | null> {
    return this.redis.hget(this.key(id), 'merge');
  }

  async remove(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }
}
