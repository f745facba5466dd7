import { z } from 'zod';

const count = z.number().int().nonnegative();
const bytes = z.number().int().nonnegative();
const diskUsage = z.object({ total: bytes, used: bytes, free: bytes });

/**
 * What one cleanup run did: the return value of its BullMQ job, what POST /cleanup answers with,
 * and an entry of the run history. snake_case because it is served as JSON.
 */
export const cleanupResultSchema = z.object({
  job_id: z.string(),
  /** The janitor process that ran it (host:pid:random). */
  instance: z.string(),
  trigger: z.enum(['scheduled', 'manual', 'disk_full']),
  started_at: z.iso.datetime(),
  finished_at: z.iso.datetime(),
  /** Recordings deleted (video, thumbnail and index entry), by reason. */
  deleted: z.object({ retention: count, disk_pressure: count }),
  /** Everything removed from disk: recordings, unreadable orphans, stale temp files. */
  bytes_freed: bytes,
  repairs: z.object({
    /** Files without index entry that ffprobe could read, now indexed. */
    indexed: count,
    /** `missing` entries whose file was back. */
    restored: count,
    /** Entries whose video file is gone, now `missing`. */
    marked_missing: count,
    /** Files without index entry that ffprobe cannot read, removed after ORPHAN_GRACE_SECONDS. */
    unreadable_removed: count,
    /** Such files still inside the grace period, or that could not be probed this time. */
    unreadable_pending: count,
    /** Thumbnails with neither index entry nor video, removed after the grace period. */
    orphan_thumbnails_removed: count,
    /** Temp files of writers that died, removed after the grace period. */
    temp_files_removed: count,
  }),
  disk: z.object({ before: diskUsage, after: diskUsage, min_free_bytes: bytes }),
  /**
   * Index entries that could not be read (a member that is not a recording id, a hash that does not
   * decode): skipped, reported as a system_error, and the run went on with the rest. At most 100.
   */
  unreadable_entries: z.array(z.object({ id: z.string(), problem: z.string() })).default([]),
  /** Set when the safety valve stopped deletions other than by age (they were not done). */
  refused: z.object({ reason: z.string(), would_delete: count, of_total: count }).nullable(),
});
export type CleanupResult = z.infer<typeof cleanupResultSchema>;
