import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { redisKey } from '@eufy-relay/runtime';

/**
 * Which recorder's spool holds a recording's files (STORAGE_BACKEND=s3), so that the api can play a
 * recording in progress or awaiting its upload from another host (docs/design.md, "Live playback
 * without a shared disk"): `{prefix}:spool:{id}` = the internal URL of the recorder whose
 * RECORDINGS_DIR has `{id}.mp4`. A recorder writes it as soon as the file appears and rewrites it
 * every interval with a lifetime of a few intervals: the one that dies drops out by itself, and one
 * that restarts on the same host claims its spool again. No entry is ever deleted by hand: once the
 * recording is stored the api serves the bucket and no longer asks.
 */
export class SpoolOwners {
  constructor(
    private readonly redis: Redis,
    private readonly config: Pick<Config, 'REDIS_PREFIX'>,
  ) {}

  private key(id: string): string {
    return redisKey(this.config, 'spool', id);
  }

  /** Registers `url` as the holder of these recordings' files for `ttlMs`. */
  async claim(ids: Iterable<string>, url: string, ttlMs: number): Promise<void> {
    const batch = this.redis.pipeline();
    let n = 0;
    for (const id of ids) {
      batch.set(this.key(id), url, 'PX', Math.ceil(ttlMs));
      n++;
    }
    if (n === 0) return;
    const results = (await batch.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  /** The internal URL of the recorder holding the recording's files; null when none claims it. */
  owner(id: string): Promise<string | null> {
    return this.redis.get(this.key(id));
  }
}
