import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '@eufy-relay/config';
import { recordingId } from '@eufy-relay/contracts';
import type { DiskUsage, RecordingFiles, RecordingStatus, RecordingStore } from '@eufy-relay/recordings';
import { testConfig } from '@eufy-relay/testing';

export const DAY = 86_400_000;

/** A janitor test's configuration: its prefix, its recordings directory, silent logs. */
export function janitorConfig(prefix: string, dir: string, env: Record<string, string> = {}): Config {
  return testConfig(prefix, { RECORDINGS_DIR: dir, LOG_LEVEL: 'silent', ...env });
}

export function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'eufy-relay-janitor-'));
}

export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

/** Sets a file's modification time `ageMs` into the past. */
export async function age(file: string, ageMs: number): Promise<void> {
  const when = new Date(Date.now() - ageMs);
  await utimes(file, when, when);
}

/**
 * An indexed recording with a dummy video (`bytes` long) and a 100-byte thumbnail. Finished ones get
 * their status through `finish`, the way a recorder ends a recording.
 */
export async function addRecording(
  store: RecordingStore,
  files: RecordingFiles,
  options: { sn: string; startedAt: number; bytes?: number; status?: RecordingStatus; withFile?: boolean },
): Promise<string> {
  const startedAt = Math.floor(options.startedAt / 1000) * 1000;
  const bytes = options.bytes ?? 1000;
  const id = recordingId(options.sn, startedAt);
  await store.create({ device_sn: options.sn, started_at: startedAt, bytes });
  const status = options.status ?? 'completed';
  if (status !== 'recording') {
    await store.finish(id, {
      status: status === 'failed' ? 'failed' : 'completed',
      video_status: status === 'failed' ? 'failed' : 'completed',
      ended_at: startedAt + 60_000,
      duration_seconds: 60,
      stop_reason: 'motion_timeout',
    });
  }
  if (status === 'missing') await store.markMissing(id);
  if (options.withFile ?? status !== 'missing') {
    await writeFile(files.videoPath(id), Buffer.alloc(bytes, 1));
    await writeFile(files.thumbnailPath(id), Buffer.alloc(100, 2));
  }
  return id;
}

/**
 * A small disk of `total` bytes holding exactly the files in `dir`: free space is what their real
 * sizes leave, so deleting a real file frees space the way it would on a full disk.
 */
export function smallDisk(dir: string, total: number) {
  const calls: DiskUsage[] = [];
  const measure = async (): Promise<DiskUsage> => {
    let used = 0;
    for (const name of await readdir(dir)) used += (await stat(path.join(dir, name))).size;
    const usage = { total, used, free: Math.max(total - used, 0) };
    calls.push(usage);
    return usage;
  };
  return { measure, calls };
}

const run = promisify(execFile);

/** A real fragmented MP4 (H.264 + AAC), as the recorder writes them. */
export async function makeMp4(file: string, seconds = 2): Promise<void> {
  await run('ffmpeg', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=320x240:rate=10',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440',
    '-t',
    String(seconds),
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-movflags',
    'frag_keyframe+empty_moov',
    '-y',
    file,
  ]);
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
