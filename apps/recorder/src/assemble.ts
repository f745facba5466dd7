import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '@eufy-relay/logger';
import { fileUrl, probe, runTool, type MediaInfo } from '@eufy-relay/media';
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
    lines.push(`file '${part.path.replaceAll("'", "'\\''")}'`);
    if (i === parts.length - 1 || part.spanSeconds === undefined) return;
    const span = part.spanSeconds.toFixed(6);
    lines.push(`duration ${span}`);
    if (part.durationSeconds > part.spanSeconds) lines.push(`outpoint ${span}`);
  });
  return `${lines.join('\n')}\n`;
}

/** Stream copy of the listed parts into one fragmented MP4, like the recording itself. */
export function concatArgs(listFile: string, output: string, codec: string | null): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-loglevel',
    'error',
    '-f',
    'concat',
    '-safe',
    '0',
    '-i',
    fileUrl(listFile),
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

/**
 * Makes `{id}.mp4` the whole recording and returns what it holds, or null when no segment has video.
 * One segment written in place is already it; several are stitched by stream copy on their wall-clock
 * timeline. Safe to run again after a crash at any step: the merged file is announced (`merge`)
 * before it replaces `{id}.mp4`, so a second run never stitches a stitched file again.
 */
export async function assembleVideo(
  id: string,
  deps: { files: RecordingFiles; sessions: SessionRecords; logger: Logger },
): Promise<MediaInfo | null> {
  const { files, sessions, logger } = deps;
  const target = files.videoPath(id);
  // A file name registered twice (a segment that got no frame, then the next one in its place)
  // is one segment: the later record.
  const byFile = new Map((await sessions.segments(id)).map((s) => [s.file, s]));
  const segments = [...byFile.values()].sort((a, b) => a.n - b.n);
  const temps = segments.map((s) => path.join(files.dir, s.file)).filter((p) => p !== target);
  const announced = await sessions.merge(id);
  if (announced) {
    // A previous run stitched the file; it may have been interrupted before or after the rename.
    await rename(path.join(files.dir, announced), target).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await removeAll(temps);
    return probe(target);
  }

  const usable: Usable[] = [];
  for (const segment of segments) {
    const file = path.join(files.dir, segment.file);
    try {
      const info = await probe(file);
      if (info.videoCodec && info.durationSeconds > 0) usable.push({ segment, path: file, info });
    } catch (err) {
      logger.warn({ err, file: segment.file }, 'a recording segment is unreadable: left out');
    }
  }
  if (usable.length === 0) {
    await removeAll(temps);
    return null;
  }
  if (usable.length === 1) {
    const only = usable[0]!;
    if (only.path !== target) await rename(only.path, target);
    await removeAll(temps.filter((p) => p !== only.path));
    return only.path === target ? only.info : probe(target);
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
  const workDir = await mkdtemp(path.join(tmpdir(), 'eufy-relay-concat-'));
  try {
    const list = path.join(workDir, 'parts.ffconcat');
    await writeFile(list, concatList(parts));
    await runTool('ffmpeg', concatArgs(list, merged, usable[0]!.info.videoCodec), { timeoutMs: 300_000 });
  } catch (err) {
    await rm(merged, { force: true });
    throw err;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  await sessions.setMerge(id, path.basename(merged));
  await rename(merged, target);
  await removeAll(temps);
  logger.info({ recording_id: id, segments: usable.length }, 'recording stitched from its segments');
  return probe(target);
}

async function removeAll(paths: readonly string[]): Promise<void> {
  await Promise.all(paths.map((p) => rm(p, { force: true })));
}
