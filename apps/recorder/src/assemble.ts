import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@eufy-relay/logger';
import { fileUrl, probe, runTool, trimToCompleteFragments, type MediaInfo } from '@eufy-relay/media';
import type { RecordingFiles } from '@eufy-relay/recordings';
import type { SegmentRecord, SessionRecords } from './session-records';

export interface ConcatPart {
  /** Absolute path of the segment. */
  path: string;
  /**
   * Seconds from this part's start to the next part's start in the recording (wall clock), or
   * undefined to butt the next part against this one's end. A longer span keeps a gap (the last
   * frame stays on screen); a shorter one cuts this part where the next begins.
   */
  spanSeconds?: number;
  /** The part's own length, to know whether it must be cut. */
  durationSeconds: number;
}

/**
 * ffmpeg's concat demuxer list: `duration` places the next part at its wall-clock start, so the
 * stitched file keeps the recording's real timeline (gaps included); `outpoint` cuts a part that
 * overlaps the next (two owners wrote at once for a moment).
 */
export function concatList(parts: readonly ConcatPart[]): string {
  const lines = ['ffconcat version 1.0'];
  parts.forEach((part, i) => {
    lines.push(`file '${fileUrl(part.path).replaceAll("'", "'\\''")}'`);
    if (i === parts.length - 1 || part.spanSeconds === undefined) return;
    const span = part.spanSeconds.toFixed(6);
    lines.push(`duration ${span}`);
    if (part.durationSeconds > part.spanSeconds) lines.push(`outpoint ${span}`);
  });
  return `${lines.join('\n')}\n`;
}

/**
 * Stream copy of the parts listed on stdin into one fragmented MP4, like the recording itself. The
 * list goes through a pipe, not a file: stitching must not depend on a temp directory with space.
 */
export function concatArgs(output: string, codec: string | null): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    'error',
    '-protocol_whitelist',
    'file,pipe',
    '-f',
    'concat',
    '-safe',
    '0',
    '-i',
    'pipe:0',
    '-map',
    '0',
    '-c',
    'copy',
    ...(codec === 'hevc' ? ['-tag:v', 'hvc1'] : []),
    '-movflags',
    '+frag_keyframe+empty_moov+default_base_moof',
    '-f',
    'mp4',
    '-y',
    fileUrl(output),
  ];
}

interface Usable {
  segment: SegmentRecord;
  path: string;
  info: MediaInfo;
}

interface AssembleDeps {
  files: RecordingFiles;
  sessions: SessionRecords;
  logger: Logger;
}

/**
 * The session's segments with their paths. A name read back from Redis that is not one of the
 * recording's own video names is left out (and its file untouched): a forged or corrupted entry must
 * not make the recorder rename or delete anything else in RECORDINGS_DIR.
 */
async function locateSegments(
  id: string,
  { files, sessions, logger }: AssembleDeps,
): Promise<{ segment: SegmentRecord; path: string }[]> {
  // A file name registered twice (a segment that got no frame, then the next one in its place)
  // is one segment: the later record.
  const byFile = new Map((await sessions.segments(id)).map((s) => [s.file, s]));
  return [...byFile.values()]
    .sort((a, b) => a.n - b.n)
    .flatMap((segment) => {
      const file = files.ownVideoPath(id, segment.file);
      if (file) return [{ segment, path: file }];
      logger.warn(
        { recording_id: id, file: segment.file },
        "a segment name in Redis is not this recording's: ignored",
      );
      return [];
    });
}

async function usableSegments(
  located: { segment: SegmentRecord; path: string }[],
  logger: Logger,
): Promise<Usable[]> {
  const usable: Usable[] = [];
  for (const { segment, path: file } of located) {
    try {
      // A segment whose writer stopped mid-fragment (a full disk) plays up to its last whole one.
      const cut = await trimToCompleteFragments(file);
      if (cut > 0)
        logger.warn({ file: segment.file, bytes: cut }, 'cut an incomplete fragment off a segment');
      const info = await probe(file);
      if (info.videoCodec && info.durationSeconds > 0) usable.push({ segment, path: file, info });
    } catch (err) {
      logger.warn({ err, file: segment.file }, 'a recording segment is unreadable: left out');
    }
  }
  return usable;
}

/** The recording as assembled: what the file holds, and how long it had no video between segments. */
export type AssembledVideo = MediaInfo & { gapSeconds: number };

/**
 * Time without video between consecutive segments: from where one ends (its first frame plus its
 * length) to the next one's first frame, e.g. while no recorder ran the recording after a crash.
 */
function gapMs(usable: readonly Usable[]): number {
  let gap = 0;
  for (let i = 1; i < usable.length; i++) {
    const before = usable[i - 1]!;
    const after = usable[i]!;
    if (before.segment.first_frame_at === null || after.segment.first_frame_at === null) continue;
    const end = before.segment.first_frame_at + before.info.durationSeconds * 1000;
    gap += Math.max(0, after.segment.first_frame_at - end);
  }
  return gap;
}

/**
 * Makes `{id}.mp4` the whole recording and returns what it holds, or null when no segment has video.
 * One segment written in place is already it; several are stitched by stream copy on their wall-clock
 * timeline. Safe to run again after a crash at any step: the merged file is announced (`merge`)
 * before it replaces `{id}.mp4`, so a second run never stitches a stitched file again.
 */
export async function assembleVideo(id: string, deps: AssembleDeps): Promise<AssembledVideo | null> {
  const { files, sessions, logger } = deps;
  const target = files.videoPath(id);
  const located = await locateSegments(id, deps);
  const temps = located.map((s) => s.path).filter((p) => p !== target);
  const announcedName = await sessions.merge(id);
  const announced = announcedName === null ? null : files.ownVideoPath(id, announcedName);
  if (announcedName !== null && announced === null)
    logger.warn(
      { recording_id: id, file: announcedName },
      "the merge name in Redis is not this recording's: ignored",
    );
  if (announced) {
    // A previous run stitched the file; it may have been interrupted before or after the rename.
    await rename(announced, target).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await removeAll(temps);
    return { ...(await probe(target)), gapSeconds: (await sessions.gap(id)) / 1000 };
  }

  const usable = await usableSegments(located, logger);
  if (usable.length === 0) {
    await removeAll(temps);
    return null;
  }
  if (usable.length === 1) {
    const only = usable[0]!;
    if (only.path !== target) await rename(only.path, target);
    await removeAll(temps.filter((p) => p !== only.path));
    return { ...(only.path === target ? only.info : await probe(target)), gapSeconds: 0 };
  }

  const parts: ConcatPart[] = usable.map((u, i) => {
    const next = usable[i + 1];
    const from = u.segment.first_frame_at;
    const to = next?.segment.first_frame_at;
    return {
      path: u.path,
      durationSeconds: u.info.durationSeconds,
      spanSeconds: from !== null && to !== null && to !== undefined ? (to - from) / 1000 : undefined,
    };
  });
  const merged = files.tempPath(id, 'video');
  try {
    await runTool('ffmpeg', concatArgs(merged, usable[0]!.info.videoCodec), {
      timeoutMs: 300_000,
      stdin: concatList(parts),
    });
  } catch (err) {
    await rm(merged, { force: true });
    throw err;
  }
  const gap = gapMs(usable);
  await sessions.setGap(id, gap);
  await sessions.setMerge(id, path.basename(merged));
  await rename(merged, target);
  await removeAll(temps);
  logger.info(
    { recording_id: id, segments: usable.length, gap_ms: gap },
    'recording stitched from its segments',
  );
  return { ...(await probe(target)), gapSeconds: gap / 1000 };
}

/** What the last resort kept of a recording whose segments could not be stitched. */
export interface KeptVideo {
  info: MediaInfo;
  /** Seconds of video kept as `{id}.mp4`, and recorded in all its readable segments. */
  keptSeconds: number;
  recordedSeconds: number;
}

/**
 * The last resort when stitching fails for good (a full disk, a broken ffmpeg): writes nothing new.
 * `{id}.mp4` stays as it is when it holds video (what its URL has served all along), else the
 * longest other segment is renamed onto it (a rename needs no space). The other segments stay where
 * they are until the janitor's grace period for temp files ends.
 */
export async function keepRecordedVideo(id: string, deps: AssembleDeps): Promise<KeptVideo | null> {
  const target = deps.files.videoPath(id);
  const usable = await usableSegments(await locateSegments(id, deps), deps.logger);
  if (usable.length === 0) return null;
  const kept =
    usable.find((u) => u.path === target) ??
    usable.reduce((a, b) => (b.info.durationSeconds > a.info.durationSeconds ? b : a));
  if (kept.path !== target) await rename(kept.path, target);
  return {
    info: kept.info,
    keptSeconds: kept.info.durationSeconds,
    recordedSeconds: usable.reduce((sum, u) => sum + u.info.durationSeconds, 0),
  };
}

async function removeAll(paths: readonly string[]): Promise<void> {
  await Promise.all(paths.map((p) => rm(p, { force: true })));
}
