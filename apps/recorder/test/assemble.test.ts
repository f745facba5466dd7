import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { recordingId } from '@eufy-relay/contracts';
import { createLogger } from '@eufy-relay/logger';
import { probe, runTool } from '@eufy-relay/media';
import { RecordingFiles } from '@eufy-relay/recordings';
import { createRedis } from '@eufy-relay/runtime';
import { testConfig } from '@eufy-relay/testing';
import { assembleVideo, concatList } from '../src/assemble';
import { SessionRecords } from '../src/session-records';
import { encodeStream } from '../../../packages/media/test/helpers';
import { decodeErrors } from './harness';

const config = testConfig(`eufy-relay-test-recorder-assemble-${process.pid}`);
const redis = createRedis(config, 'worker');
const sessions = new SessionRecords(redis, config);
const logger = createLogger({ level: 'silent' });
const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
let dir: string;
let files: RecordingFiles;
let recordings = 0;

/** A fragmented MP4 of `seconds` of H.264 test pattern at 15 fps, as a recording segment. */
async function segmentFile(file: string, seconds: number): Promise<void> {
  const stream = `${file}.h264`;
  await writeFile(stream, await encodeStream(dir, { codec: 'h264', frames: 15 * seconds, gop: 30 }));
  await runTool('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-framerate', '15', '-f', 'h264', '-i', stream, '-c', 'copy'],
    ...['-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4', file],
  ]);
  await rm(stream);
}

/** A recording whose segments (seconds long, first frame at offset ms) are on disk and in Redis. */
async function recordingWith(parts: { seconds: number; at: number; main?: boolean }[]): Promise<string> {
  const id = recordingId(`T8113P02230008${String(++recordings).padStart(2, '0')}`, T0);
  for (const part of parts) {
    const file = part.main ? files.videoPath(id) : files.tempPath(id, 'video');
    await segmentFile(file, part.seconds);
    const segment = await sessions.addSegment(id, path.basename(file));
    await sessions.updateSegment(id, {
      ...segment,
      first_frame_at: T0 + part.at,
      last_frame_at: T0 + part.at + part.seconds * 1000,
    });
  }
  return id;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'eufy-relay-assemble-'));
  files = new RecordingFiles(dir);
});
afterAll(async () => {
  const keys = await redis.keys(`${config.REDIS_PREFIX}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
});

describe('concatList', () => {
  it('places each part at its wall-clock start and cuts one that overlaps the next', () => {
    expect(
      concatList([
        { path: "/r/it's.mp4", durationSeconds: 2, spanSeconds: 5 },
        { path: '/r/b.mp4', durationSeconds: 3, spanSeconds: 1.5 },
        { path: '/r/c.mp4', durationSeconds: 2, spanSeconds: undefined },
        { path: '/r/d.mp4', durationSeconds: 2 },
      ]),
    ).toBe(
      [
        'ffconcat version 1.0',
        "file '/r/it'\\''s.mp4'",
        'duration 5.000000',
        "file '/r/b.mp4'",
        'duration 1.500000',
        'outpoint 1.500000',
        "file '/r/c.mp4'",
        "file '/r/d.mp4'",
        '',
      ].join('\n'),
    );
  });
});

describe('assembleVideo', () => {
  it.each([
    ['keeps a gap between them', 2, 5000, 7],
    ['cuts a segment where the next begins when two writers overlapped', 3, 1000, 3],
  ])('stitches segments on the wall-clock timeline: %s', async (_what, firstSeconds, secondAt, total) => {
    const id = await recordingWith([
      { seconds: firstSeconds, at: 0, main: true },
      { seconds: 2, at: secondAt },
    ]);
    const info = await assembleVideo(id, { files, sessions, logger });
    expect(info?.durationSeconds).toBeCloseTo(total, 0);
    expect(decodeErrors(files.videoPath(id))).toBe('');
    expect((await readdir(dir)).filter((f) => f.includes(id))).toEqual([`${id}.mp4`]);
    // Run again (a crash after the rename, a second recorder): the stitched file is not stitched twice.
    const again = await assembleVideo(id, { files, sessions, logger });
    expect(again?.durationSeconds).toBeCloseTo(info!.durationSeconds, 3);
  });

  it('makes a lone continuation segment the recording file, and says null when no segment has video', async () => {
    const id = await recordingWith([{ seconds: 2, at: 3000 }]);
    const info = await assembleVideo(id, { files, sessions, logger });
    expect(info?.durationSeconds).toBeCloseTo(2, 0);
    expect((await readdir(dir)).filter((f) => f.includes(id))).toEqual([`${id}.mp4`]);

    const empty = recordingId('T8113P0223000899', T0);
    await sessions.addSegment(empty, path.basename(files.videoPath(empty)));
    expect(await assembleVideo(empty, { files, sessions, logger })).toBeNull();
    expect(existsSync(files.videoPath(empty))).toBe(false);
  });

  it('leaves out an unreadable segment', async () => {
    const id = await recordingWith([{ seconds: 2, at: 0, main: true }]);
    const junk = files.tempPath(id, 'video');
    await writeFile(junk, 'the start of a file its writer never finished');
    await sessions.addSegment(id, path.basename(junk));
    const info = await assembleVideo(id, { files, sessions, logger });
    expect(info?.durationSeconds).toBeCloseTo(2, 0);
    expect(await probe(files.videoPath(id))).toMatchObject({ videoCodec: 'h264' });
    expect(existsSync(junk)).toBe(false);
  });
});
