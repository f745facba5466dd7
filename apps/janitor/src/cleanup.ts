import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseRecordingId } from '@eufy-relay/contracts';
import type { Logger } from '@eufy-relay/logger';
import { ProbeUnavailableError, type MediaInfo } from '@eufy-relay/media';
import {
  CorruptRecordingError,
  RecordingExistsError,
  RecordingNotFoundError,
  RecordingStatusConflictError,
  type DirectoryEntry,
  type DirectoryName,
  type DiskUsage,
  type RecordingFiles,
  type RecordingStatus,
  type RecordingStore,
} from '@eufy-relay/recordings';
import { DELETE_BATCH, type RecordingObjects } from '@eufy-relay/storage';
import type { SystemErrorReporter } from './report';
import type { CleanupResult } from './result';

export interface CleanupSettings {
  retentionMs: number;
  /** Cameras with their own retention (`retention_days` under `cameras:`), in ms. */
  retentionMsByCamera: ReadonlyMap<string, number>;
  minFreeBytes: number;
  orphanGraceMs: number;
}

export interface CleanupDeps {
  store: RecordingStore;
  files: RecordingFiles;
  diskUsage: () => Promise<DiskUsage>;
  probe: (file: string, signal?: AbortSignal) => Promise<MediaInfo | null>;
  reporter: SystemErrorReporter;
  logger: Logger;
  settings: CleanupSettings;
  /**
   * STORAGE_BACKEND=s3: finished recordings are objects. Retention deletes them in DeleteObjects
   * batches, repair compares the index with the bucket's listing, and disk pressure (the spool only
   * holds recordings in progress or not yet uploaded) never deletes a recording early.
   */
  bucket?: RecordingObjects;
}

export interface CleanupRunInfo {
  jobId: string;
  instance: string;
  trigger: 'scheduled' | 'manual' | 'disk_full';
  signal?: AbortSignal;
}

/** Finished recordings: the only ones with a file that may be deleted early. */
const FINISHED: RecordingStatus[] = ['completed', 'failed'];
/** Everything but a recording in progress. */
const DELETABLE: RecordingStatus[] = ['completed', 'failed', 'missing'];
const PAGE = 500;
/** Unreadable index entries listed in a run's result (all are counted in its system_error). */
const UNREADABLE_LISTED = 100;

/**
 * One pass over the directory: what is on disk, by recording id. Names only: a file is stat-ed when
 * its size or age decides something (a temp file, an unindexed video, an orphan thumbnail), so the
 * cost of a run is what it finds to do, not one stat per recording kept.
 */
interface DirectoryScan {
  videos: Map<string, DirectoryName>;
  thumbnails: Map<string, DirectoryName>;
}

interface DiskPressurePlan {
  freeBefore: number;
  need: number;
  /** Oldest finished recordings first, just enough of them to cover `need` (by their file sizes). */
  victims: { id: string; bytes: number }[];
  coversNeed: boolean;
}

/**
 * One cleanup run, in this order:
 * 1. repair from the files: stale temp files removed (never those of a recording in progress),
 *    unindexed readable videos indexed, `missing` entries whose file is back restored;
 * 2. retention: entries (and their files) older than RETENTION_DAYS, never one in progress — read
 *    from the index oldest first up to the cutoff, so the cost is what expires — unless they are
 *    more than half of all recordings (the safety valve: then nothing is deleted in this run);
 * 3. the deletions for other reasons than age are planned (unreadable orphans past the grace period,
 *    disk pressure) and the safety valve refuses them all if with those by age they exceed half of
 *    all recordings; otherwise they run, disk pressure stopping as soon as enough is free;
 * 4. index entries whose video is gone are marked `missing` (reversible, so not a deletion).
 * An index entry that cannot be read is skipped and reported at the end; the run goes on.
 */
export async function runCleanup(deps: CleanupDeps, run: CleanupRunInfo): Promise<CleanupResult> {
  return new CleanupRun(deps, run).execute();
}

class CleanupRun {
  private readonly startedAt = Date.now();
  private bytesFreed = 0;
  private readonly unreadableEntries = new Map<string, string>();
  /** Keys of deleted recordings, sent to the bucket in DeleteObjects batches. */
  private readonly objectsToDelete: string[] = [];
  /** The thumbnails the scan saw: deleting a recording skips the stat of one it did not see. */
  private thumbnailsOnDisk: ReadonlyMap<string, DirectoryName> | null = null;
  private readonly deleted = { retention: 0, disk_pressure: 0 };
  private readonly repairs = {
    indexed: 0,
    restored: 0,
    marked_missing: 0,
    unreadable_removed: 0,
    unreadable_pending: 0,
    orphan_thumbnails_removed: 0,
    temp_files_removed: 0,
  };

  constructor(
    private readonly deps: CleanupDeps,
    private readonly run: CleanupRunInfo,
  ) {}

  async execute(): Promise<CleanupResult> {
    const { store, settings } = this.deps;
    const diskBefore = await this.deps.diskUsage();
    const indexed = await this.indexStatuses();
    const scan = await this.scanDirectory(indexed);
    this.thumbnailsOnDisk = scan.thumbnails;
    const bucket = this.deps.bucket;
    const unreadable = bucket ? [] : await this.repairFromFiles(scan, indexed);
    const orphans = bucket ? await this.repairFromBucket(bucket, indexed) : [];
    const skipped = unreadable.length + orphans.length;
    // Every deletion is weighed against the recordings there were when the run began, age included:
    // a clock that jumped forward or a tiny RETENTION_DAYS must not empty the archive in one run.
    const total = (await store.count()) + skipped;
    const expiring = await store.count({ status: DELETABLE, to: this.retentionCutoff() });
    let refused: CleanupResult['refused'] = null;
    let pressure: DiskPressurePlan | null = null;
    if (tooMany(expiring, total)) {
      refused = {
        reason:
          `${expiring} of ${total} recordings are older than RETENTION_DAYS: more than half at once ` +
          'looks like a clock that jumped forward or a retention set too short',
        would_delete: expiring,
        of_total: total,
      };
    } else {
      await this.expire();
      // With a bucket the local directory is only a spool: disk pressure never deletes a recording.
      pressure = bucket ? null : await this.planDiskPressure(total / 2 - skipped - this.deleted.retention);
      refused = safetyValve(total, this.deleted.retention, skipped, pressure);
    }
    if (refused) {
      await this.reportRefusal(refused, skipped, pressure);
    } else {
      for (const entry of unreadable) await this.removeUnreadable(entry);
      if (orphans.length > 0) await this.removeOrphanObjects(bucket!, orphans);
      if (pressure) await this.relieveDiskPressure(pressure);
    }
    if (!bucket) await this.markMissing(scan, indexed);
    await this.removeOrphanThumbnails(scan, indexed);
    await this.reportUnreadableEntries();

    const result: CleanupResult = {
      job_id: this.run.jobId,
      instance: this.run.instance,
      trigger: this.run.trigger,
      started_at: new Date(this.startedAt).toISOString(),
      finished_at: new Date().toISOString(),
      deleted: { ...this.deleted },
      bytes_freed: this.bytesFreed,
      repairs: { ...this.repairs },
      disk: { before: diskBefore, after: await this.deps.diskUsage(), min_free_bytes: settings.minFreeBytes },
      unreadable_entries: [...this.unreadableEntries]
        .slice(0, UNREADABLE_LISTED)
        .map(([id, problem]) => ({ id, problem })),
      refused,
    };
    this.deps.logger.info({ result }, 'cleanup run finished');
    return result;
  }

  /** id → status of every index entry (ids only: the entries themselves are not read). */
  private async indexStatuses(): Promise<Map<string, RecordingStatus>> {
    const statuses = new Map<string, RecordingStatus>();
    for (const status of ['recording', 'completed', 'failed', 'missing'] as const) {
      for await (const ref of this.deps.store.refs({ status, order: 'asc', limit: 1000 })) {
        statuses.set(ref.id, status);
      }
    }
    return statuses;
  }

  /**
   * Reads the directory once; stale temp files are removed on the way. A recording in progress keeps
   * its temp files however old (a segment closed early waits for the finish to be stitched).
   */
  private async scanDirectory(indexed: Map<string, RecordingStatus>): Promise<DirectoryScan> {
    const scan: DirectoryScan = { videos: new Map(), thumbnails: new Map() };
    for await (const named of this.deps.files.names()) {
      this.checkAborted();
      const { file } = named;
      if (file.kind === 'video') scan.videos.set(file.id, named);
      else if (file.kind === 'thumbnail') scan.thumbnails.set(file.id, named);
      else if (file.kind === 'temp' && indexed.get(file.id) !== 'recording') {
        const entry = await this.deps.files.stat(named);
        if (!entry || !this.pastGrace(entry)) continue;
        this.bytesFreed += await this.deps.files.remove(this.pathOf(entry));
        this.repairs.temp_files_removed += 1;
      }
    }
    return scan;
  }

  /**
   * Videos without index entry are indexed when ffprobe reads them; the unreadable ones past the
   * grace period are returned (their removal is a deletion the safety valve weighs). `missing`
   * entries whose video is on disk again are restored.
   */
  private async repairFromFiles(
    scan: DirectoryScan,
    indexed: Map<string, RecordingStatus>,
  ): Promise<DirectoryEntry[]> {
    const { store, files, probe, logger } = this.deps;
    const unreadable: DirectoryEntry[] = [];
    for (const [id, named] of scan.videos) {
      this.checkAborted();
      const status = indexed.get(id);
      if (status !== 'missing' && status !== undefined) continue;
      const entry = await files.stat(named);
      if (!entry) continue;
      if (status === 'missing') {
        if (await this.entry(id, () => ignoringRaces(() => store.markFound(id, entry.bytes))))
          this.repairs.restored += 1;
        continue;
      }
      // Unindexed at the start of the run; a recorder may have created the entry since (it always
      // writes the index before the file), so look again before probing.
      if (await this.entry(id, () => store.get(id), true)) continue;
      let video: MediaInfo | null;
      try {
        video = await probe(files.videoPath(id), this.run.signal);
      } catch (err) {
        if (!(err instanceof ProbeUnavailableError)) throw err;
        logger.warn({ err, id }, 'could not probe a file missing from the index; keeping it');
        this.repairs.unreadable_pending += 1;
        continue;
      }
      if (!video) {
        if (this.pastGrace(entry)) unreadable.push(entry);
        else this.repairs.unreadable_pending += 1;
        continue;
      }
      if (await this.reindex(id, entry, video)) indexed.set(id, 'completed');
    }
    return unreadable;
  }

  private async reindex(
    id: string,
    entry: Pick<DirectoryEntry, 'bytes'>,
    video: MediaInfo,
  ): Promise<boolean> {
    const { deviceSn, startedAt } = parseRecordingId(id)!;
    const started = startedAt.getTime();
    try {
      await this.deps.store.create({
        device_sn: deviceSn,
        started_at: started,
        source: 'repair',
        status: 'completed',
        video_status: 'completed',
        ended_at: started + Math.round(video.durationSeconds * 1000),
        duration_seconds: Math.round(video.durationSeconds),
        bytes: entry.bytes,
        codec: video.videoCodec,
        width: video.width,
        height: video.height,
        has_audio: video.hasAudio,
        stop_reason: 'reindexed',
      });
    } catch (err) {
      if (err instanceof RecordingExistsError) return false;
      throw err;
    }
    this.repairs.indexed += 1;
    this.deps.logger.info({ id, bytes: entry.bytes }, 'indexed a recording file that had no index entry');
    return true;
  }

  private retentionCutoff(): number {
    return this.startedAt - this.deps.settings.retentionMs;
  }

  /**
   * Deletes every finished or missing recording that started before its camera's retention cutoff:
   * the global one, or the camera's own (walked on that camera's index alone), a page at a time.
   */
  private async expire(): Promise<void> {
    const { retentionMs, retentionMsByCamera } = this.deps.settings;
    await this.expireBefore(
      this.startedAt - retentionMs,
      // Without cameras of their own retention, no id needs parsing to know it is not one of theirs.
      retentionMsByCamera.size === 0
        ? () => false
        : (id) => retentionMsByCamera.has(parseRecordingId(id)?.deviceSn ?? ''),
    );
    for (const [sn, ms] of retentionMsByCamera) await this.expireBefore(this.startedAt - ms, () => false, sn);
  }

  private async expireBefore(
    cutoff: number,
    skip: (id: string) => boolean,
    deviceSn?: string,
  ): Promise<void> {
    const expired = this.deps.store.refs({
      status: DELETABLE,
      to: cutoff,
      order: 'asc',
      limit: PAGE,
      ...(deviceSn ? { device_sn: deviceSn } : {}),
    });
    // The files of one page are removed while the next page's index entries are deleted (Redis and
    // the file system work at once); each recording's entry still goes before its files.
    let removingFiles: Promise<unknown> = Promise.resolve();
    for await (const page of pages(expired, PAGE)) {
      this.checkAborted();
      const ids = page.map((ref) => ref.id).filter((id) => !skip(id));
      const deleted = await this.deleteIndexEntries(ids);
      this.deleted.retention += deleted.size;
      await removingFiles;
      removingFiles = this.removeFiles(deleted);
      // Handled now and thrown at the next await: a rejection must not wait unobserved meanwhile.
      removingFiles.catch(() => {});
      if (this.objectsToDelete.length >= DELETE_BATCH) await this.deleteObjects();
    }
    await removingFiles;
    await this.deleteObjects();
  }

  /**
   * The bucket's listing (page by page) against the index: a stored entry without its video object
   * becomes `missing`, a `missing` one whose object is back is restored, and a video object without
   * an entry is indexed when ffprobe reads it (through a presigned URL), else returned as an orphan
   * whose deletion the safety valve weighs.
   */
  private async repairFromBucket(
    bucket: RecordingObjects,
    indexed: Map<string, RecordingStatus>,
  ): Promise<{ id: string; bytes: number }[]> {
    const { store, logger } = this.deps;
    const videos = new Map<string, { bytes: number; lastModified: number }>();
    for await (const object of bucket.list(this.run.signal)) {
      const named = bucket.parseKey(object.key);
      if (named?.kind === 'video') videos.set(named.id, object);
    }
    const orphans: { id: string; bytes: number }[] = [];
    for (const [id, object] of videos) {
      this.checkAborted();
      const status = indexed.get(id);
      if (status === 'missing') {
        if (await ignoringRaces(() => store.markFound(id, object.bytes))) this.repairs.restored += 1;
        continue;
      }
      if (status !== undefined || (await store.get(id))) continue;
      if (this.startedAt - object.lastModified < this.deps.settings.orphanGraceMs) {
        this.repairs.unreadable_pending += 1;
        continue;
      }
      const video = await this.probeObject(bucket, id);
      if (video === undefined) this.repairs.unreadable_pending += 1;
      else if (video === null) orphans.push({ id, bytes: object.bytes });
      else if (await this.reindex(id, { bytes: object.bytes }, video)) {
        await ignoringRaces(() => store.update(id, { stored_at: this.startedAt }));
        indexed.set(id, 'completed');
      }
    }
    for await (const ref of store.refs({ status: FINISHED, order: 'asc', limit: 1000 })) {
      this.checkAborted();
      if (videos.has(ref.id)) continue;
      const recording = await store.get(ref.id);
      // Not stored yet: its only copy is in a recorder's spool, waiting for its upload.
      if (!recording || recording.stored_at === null || recording.video_status === 'no_video') continue;
      if (await bucket.head(bucket.key(ref.id, 'video'), this.run.signal)) continue;
      if (!(await ignoringRaces(() => store.markMissing(ref.id)))) continue;
      this.repairs.marked_missing += 1;
      logger.warn({ id: ref.id }, 'recording object is gone from the bucket: marked missing');
    }
    return orphans;
  }

  /**
   * ffprobe's verdict on a stray object, read from a temporary copy in this janitor's directory
   * (rare: only objects nobody indexed); undefined when the object or ffprobe could not be read.
   */
  private async probeObject(bucket: RecordingObjects, id: string): Promise<MediaInfo | null | undefined> {
    const { files, probe, logger } = this.deps;
    const copy = files.tempPath(id, 'video');
    try {
      const read = await bucket.read(bucket.key(id, 'video'), {}, this.run.signal);
      if (read.refused) return undefined;
      await pipeline(read.body, createWriteStream(copy), { signal: this.run.signal });
      return await probe(copy, this.run.signal);
    } catch (err) {
      if (this.run.signal?.aborted) throw err;
      logger.warn({ err, id }, 'could not read or probe an object missing from the index; keeping it');
      return undefined;
    } finally {
      await files.remove(copy);
    }
  }

  private async removeOrphanObjects(bucket: RecordingObjects, orphans: { id: string; bytes: number }[]) {
    for (const orphan of orphans) {
      // Indexed by someone since the listing: no longer an orphan.
      if (await this.deps.store.get(orphan.id)) continue;
      this.objectsToDelete.push(bucket.key(orphan.id, 'video'), bucket.key(orphan.id, 'thumbnail'));
      this.bytesFreed += orphan.bytes;
      this.repairs.unreadable_removed += 1;
      this.deps.logger.warn(
        { id: orphan.id, bytes: orphan.bytes },
        'removing an unreadable object that had no index entry',
      );
    }
    await this.deleteObjects();
  }

  /** One DeleteObjects request per DELETE_BATCH keys; a key S3 refuses is reported, not retried here. */
  private async deleteObjects(): Promise<void> {
    const bucket = this.deps.bucket;
    const keys = this.objectsToDelete.splice(0);
    if (!bucket || keys.length === 0) return;
    const refused = await bucket.deleteMany(keys, this.run.signal);
    for (const r of refused)
      this.deps.logger.error({ key: r.key, error: r.error }, 'the bucket refused to delete an object');
  }

  /**
   * Finished entries whose video is not on disk: those the run began with (an entry finished since
   * has its file, or is looked at by the next run), checked again now, not only against the scan.
   */
  private async markMissing(scan: DirectoryScan, indexed: Map<string, RecordingStatus>): Promise<void> {
    const { store, files, logger } = this.deps;
    for (const [id, status] of indexed) {
      if (!FINISHED.includes(status) || scan.videos.has(id)) continue;
      this.checkAborted();
      const recording = await this.entry(id, () => store.get(id));
      // no_video: the stream never delivered a frame, so there never was a file.
      if (!recording || recording.video_status === 'no_video') continue;
      if ((await files.size(id, 'video')) !== null) continue;
      if (!(await ignoringRaces(() => store.markMissing(id)))) continue;
      this.repairs.marked_missing += 1;
      logger.warn({ id }, 'recording file is gone: marked missing');
    }
  }

  /**
   * Below MIN_FREE_DISK_BYTES: the oldest finished recordings whose files add up to what is
   * missing. The walk stops once it exceeds `budget` recordings: the safety valve refuses then anyway.
   */
  private async planDiskPressure(budget: number): Promise<DiskPressurePlan | null> {
    const { files, settings } = this.deps;
    const usage = await this.deps.diskUsage();
    if (usage.free >= settings.minFreeBytes) return null;
    const plan: DiskPressurePlan = {
      freeBefore: usage.free,
      need: settings.minFreeBytes - usage.free,
      victims: [],
      coversNeed: false,
    };
    let covered = 0;
    for await (const ref of this.deps.store.refs({ status: FINISHED, order: 'asc', limit: PAGE })) {
      const video = await this.entry(ref.id, () => files.size(ref.id, 'video'));
      if (video === null) continue;
      const bytes = video + ((await files.size(ref.id, 'thumbnail')) ?? 0);
      plan.victims.push({ id: ref.id, bytes });
      covered += bytes;
      if (covered >= plan.need || plan.victims.length > budget) break;
    }
    plan.coversNeed = covered >= plan.need;
    return plan;
  }

  /** Deletes the planned recordings oldest first, measuring the disk before each: stops when enough is free. */
  private async relieveDiskPressure(plan: DiskPressurePlan): Promise<void> {
    const { minFreeBytes } = this.deps.settings;
    const freedBefore = this.bytesFreed;
    const deleted: string[] = [];
    for (const victim of plan.victims) {
      this.checkAborted();
      if ((await this.deps.diskUsage()).free >= minFreeBytes) break;
      if ((await this.deleteRecordings([victim.id])).size === 1) deleted.push(victim.id);
    }
    this.deleted.disk_pressure = deleted.length;
    if (deleted.length === 0) return;
    const freeAfter = (await this.deps.diskUsage()).free;
    const freed = this.bytesFreed - freedBefore;
    await this.deps.reporter.report({
      id: `janitor-disk-pressure-${this.run.jobId}`,
      operation: 'disk_pressure_cleanup',
      error_type: 'DiskPressure',
      error_message:
        `free space ${plan.freeBefore} bytes was under MIN_FREE_DISK_BYTES ${minFreeBytes}: ` +
        `deleted ${deleted.length} recordings before their retention, freeing ${freed} bytes early` +
        (freeAfter < minFreeBytes ? `; still only ${freeAfter} bytes free` : ''),
      context: {
        recordings_deleted: deleted.length,
        bytes_freed: freed,
        free_bytes_before: plan.freeBefore,
        free_bytes_after: freeAfter,
        min_free_bytes: minFreeBytes,
        oldest_deleted: deleted[0],
        newest_deleted: deleted.at(-1),
      },
    });
  }

  private async reportRefusal(
    refused: NonNullable<CleanupResult['refused']>,
    unreadable: number,
    pressure: DiskPressurePlan | null,
  ): Promise<void> {
    this.deps.logger.error({ refused }, 'safety valve: deletions refused');
    await this.deps.reporter.report({
      id: `janitor-safety-valve-${this.run.jobId}`,
      operation: 'cleanup',
      error_type: 'SafetyValve',
      error_message:
        `refused to delete: ${refused.reason}. Nothing more was deleted in this run; ` +
        'check RECORDINGS_DIR, the clock and the disk, or free space by hand',
      context: {
        would_delete: refused.would_delete,
        of_total: refused.of_total,
        deleted_by_age: this.deleted.retention,
        unreadable_files: unreadable,
        disk_pressure_recordings: pressure?.victims.length ?? 0,
        free_bytes: pressure?.freeBefore ?? null,
        bytes_needed: pressure?.need ?? 0,
        min_free_bytes: this.deps.settings.minFreeBytes,
      },
    });
  }

  private async removeUnreadable(entry: DirectoryEntry): Promise<void> {
    if (entry.file.kind !== 'video') return;
    // Indexed by someone since the scan: no longer an orphan.
    const { id } = entry.file;
    if (await this.entry(id, () => this.deps.store.get(id), true)) return;
    this.bytesFreed += await this.deps.files.removeRecording(entry.file.id);
    this.repairs.unreadable_removed += 1;
    this.deps.logger.warn(
      { file: entry.name, bytes: entry.bytes },
      'removed an unreadable file that had no index entry',
    );
  }

  private async removeOrphanThumbnails(
    scan: DirectoryScan,
    indexed: Map<string, RecordingStatus>,
  ): Promise<void> {
    for (const [id, named] of scan.thumbnails) {
      if (indexed.has(id) || scan.videos.has(id)) continue;
      const entry = await this.deps.files.stat(named);
      if (!entry || !this.pastGrace(entry)) continue;
      if (await this.entry(id, () => this.deps.store.get(id), true)) continue;
      this.bytesFreed += await this.deps.files.remove(this.pathOf(entry));
      this.repairs.orphan_thumbnails_removed += 1;
    }
  }

  /**
   * Recordings deleted, index entry first (each only if not in progress), then the files of those
   * deleted, a few at a time: a crash in between leaves an orphan file, which repair handles.
   * Returns the ids deleted with the bytes their entries held.
   */
  private async deleteRecordings(candidates: string[]): Promise<Map<string, number>> {
    const deleted = await this.deleteIndexEntries(candidates);
    await this.removeFiles(deleted);
    return deleted;
  }

  /**
   * The index entries of many recordings in one script run, each only if not in progress; returns
   * the ids deleted with the bytes their entries held.
   */
  private async deleteIndexEntries(candidates: string[]): Promise<Map<string, number>> {
    const outcomes = await this.deps.store.deleteMany(candidates, { expectStatus: DELETABLE });
    const deleted = new Map<string, number>();
    for (const [i, outcome] of outcomes.entries()) {
      const id = candidates[i]!;
      // An entry that cannot be read is skipped and reported (entry), not fatal to the run; a member
      // that is not a recording id (deleteMany refused it) is recorded as unreadable by entry() itself.
      const bytes = await this.entry(id, () =>
        ignoringRaces(async () => {
          if (outcome.status === 'rejected') throw outcome.reason;
          return outcome.value;
        }),
      );
      if (bytes === null) continue;
      deleted.set(id, bytes);
      if (this.deps.bucket) {
        this.objectsToDelete.push(this.deps.bucket.key(id, 'video'), this.deps.bucket.key(id, 'thumbnail'));
      }
    }
    return deleted;
  }

  /**
   * The files of recordings whose index entries are gone. A video is unlinked without a stat when
   * its entry held its size; a `missing` one (0 bytes) is stat-ed, in case its file came back.
   */
  private async removeFiles(deleted: ReadonlyMap<string, number>): Promise<void> {
    const thumbnails = this.thumbnailsOnDisk;
    this.bytesFreed += await this.deps.files.removeRecordings([...deleted.keys()], (id) => {
      const bytes = deleted.get(id)!;
      return { thumbnail: !thumbnails || thumbnails.has(id), ...(bytes > 0 ? { videoBytes: bytes } : {}) };
    });
  }

  /**
   * One index entry's step. An entry that cannot be read (its member is not a recording id, its
   * hash does not decode) is skipped and remembered for the report; the run goes on with the rest.
   * Resolves null then, or `unreadable` where the caller must treat the entry as present (so that
   * its file is never taken for an orphan).
   */
  private async entry<T, U = null>(
    id: string,
    step: () => Promise<T>,
    unreadable?: U,
  ): Promise<T | U | null> {
    if (!parseRecordingId(id)) {
      this.unreadableEntries.set(id, 'not a recording id ({device_sn}_{YYYYMMDD_HHMMSS})');
      return unreadable ?? null;
    }
    try {
      return await step();
    } catch (err) {
      if (!(err instanceof CorruptRecordingError)) throw err;
      this.unreadableEntries.set(id, err.message);
      return unreadable ?? null;
    }
  }

  private async reportUnreadableEntries(): Promise<void> {
    if (this.unreadableEntries.size === 0) return;
    const ids = [...this.unreadableEntries.keys()];
    this.deps.logger.error({ ids: ids.slice(0, UNREADABLE_LISTED) }, 'unreadable index entries skipped');
    await this.deps.reporter.report({
      id: `janitor-unreadable-entries-${this.run.jobId}`,
      operation: 'cleanup',
      error_type: 'UnreadableIndexEntry',
      error_message:
        `${ids.length} recordings index entries could not be read and were skipped (the rest of the ` +
        `run went on): ${[...this.unreadableEntries]
          .slice(0, 3)
          .map(([id, p]) => `${id}: ${p}`)
          .join('; ')}`,
      context: { count: ids.length, ids: ids.slice(0, UNREADABLE_LISTED) },
    });
  }

  private pastGrace(entry: DirectoryEntry): boolean {
    return this.startedAt - entry.mtimeMs >= this.deps.settings.orphanGraceMs;
  }

  private pathOf(entry: DirectoryName): string {
    return path.join(this.deps.files.dir, entry.name);
  }

  private checkAborted(): void {
    this.run.signal?.throwIfAborted();
  }
}

/**
 * The safety valve: the deletions of one run (by age, unreadable orphans, disk pressure) are held
 * to half of all recordings. Age goes first (when it alone is over half, the run deletes nothing);
 * the others are refused together when with it they exceed half, or when disk pressure cannot be
 * relieved by deleting recordings at all (something else fills the disk). A wrong clock, a broken
 * ffprobe or a mis-mounted disk must not wipe the archive.
 */
/**
 * Deletions a run may always make, whatever their share: on a small archive one or two recordings
 * past their retention are more than half of it, and that is normal, not a clock that jumped.
 */
const SAFETY_VALVE_FLOOR = 2;

/** Whether deleting `count` of `total` recordings in one run is too many to be anything but a fault. */
const tooMany = (count: number, total: number) => count > SAFETY_VALVE_FLOOR && count > total / 2;

function safetyValve(
  total: number,
  expired: number,
  unreadable: number,
  pressure: DiskPressurePlan | null,
): CleanupResult['refused'] {
  const wouldDelete = expired + unreadable + (pressure?.victims.length ?? 0);
  if (tooMany(wouldDelete, total)) {
    return {
      reason:
        `${wouldDelete} of ${total} recordings would be deleted in one run ` +
        `(by age ${expired}, disk pressure ${pressure?.victims.length ?? 0}, unreadable files ${unreadable})`,
      would_delete: wouldDelete,
      of_total: total,
    };
  }
  if (pressure && !pressure.coversNeed) {
    return {
      reason:
        `deleting all ${pressure.victims.length} finished recordings would not free the ` +
        `${pressure.need} bytes missing under MIN_FREE_DISK_BYTES: something else fills the disk`,
      would_delete: wouldDelete,
      of_total: total,
    };
  }
  return null;
}

/** The items of `items` in arrays of `size` (the last one may be shorter). */
async function* pages<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let page: T[] = [];
  for await (const item of items) {
    page.push(item);
    if (page.length === size) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

/** A write that lost a race (deleted or changed meanwhile) is skipped: resolves null then. */
async function ignoringRaces<T>(write: () => Promise<T>): Promise<T | null> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof RecordingStatusConflictError || err instanceof RecordingNotFoundError) return null;
    throw err;
  }
}
