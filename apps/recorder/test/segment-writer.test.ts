import path from 'node:path';
import { isKeyframe, type LivestreamChunk } from '@eufy-relay/eufy-client';
import { createLogger } from '@eufy-relay/logger';
import { probe } from '@eufy-relay/media';
// The media package's stream makers: test pattern from ffmpeg, as a camera would send it.
import {
  accessUnitsOf,
  encodeAdtsFrames,
  encodeStream,
  itEncoding,
  tempDir,
} from '../../../packages/media/test/helpers';
import { SegmentWriter, type FirstFrame } from '../src/segment-writer';

const FPS = 15;
const SECONDS = 3;
/** AAC-LC at 16 kHz: 1024 samples a frame. */
const AUDIO_FRAME_MS = 64;
const logger = createLogger({ level: 'silent' });
let dir: string;
let removeDir: () => Promise<void>;

const videoUnits = async (codec: 'h264' | 'h265') =>
  accessUnitsOf(codec, await encodeStream(dir, { codec, frames: FPS * SECONDS, fps: FPS, gop: 2 * FPS })).map(
    (u) => u.data,
  );

/** Plays the units (and audio) into the writer in real time, as a livestream would. */
async function play(writer: SegmentWriter, units: Buffer[], codec: 'H264' | 'H265', audio: Buffer[] = []) {
  const start = Date.now();
  let v = 0;
  let a = 0;
  while (v < units.length) {
    const now = Date.now() - start;
    while (v < units.length && v * (1000 / FPS) <= now) {
      const buffer = units[v++]!;
      const chunk: LivestreamChunk = {
        kind: 'video',
        buffer,
        codec,
        fps: FPS,
        width: 320,
        height: 240,
        keyframe: isKeyframe(buffer, codec),
        receivedAt: Date.now(),
      };
      writer.push(chunk);
    }
    while (a < audio.length && a * AUDIO_FRAME_MS <= now)
      writer.push({ kind: 'audio', buffer: audio[a++]!, codec: 'AAC_LC', receivedAt: Date.now() });
    await new Promise((r) => setTimeout(r, 10));
  }
}

function writer(name: string, expectedCodec: 'h264' | 'h265', expectAudio: boolean) {
  const first: FirstFrame[] = [];
  const w = new SegmentWriter({
    file: path.join(dir, `${name}.mp4`),
    expectedCodec,
    expectAudio,
    endGraceMs: 5000,
    interruptGraceMs: 2000,
    logger,
    onFirstFrame: (f) => first.push(f),
  });
  return { w, first };
}

beforeAll(async () => {
  ({ dir, remove: removeDir } = await tempDir('recorder-segment'));
});
afterAll(() => removeDir());

describe('SegmentWriter', () => {
  itEncoding('h265')(
    'H.265 when H.264 was expected: restarts ffmpeg before the first frame, tags the file hvc1, keeps wall-clock length',
    async () => {
      const units = await videoUnits('h265');
      const { w, first } = writer('hevc', 'h264', false);
      const t0 = Date.now();
      await play(w, units, 'H265');
      const wall = (Date.now() - t0) / 1000;
      const result = await w.close();
      expect(result).toMatchObject({ codec: 'h265', audio: false, framesWritten: units.length });
      expect(result.exit?.ok).toBe(true);
      expect(first).toEqual([
        expect.objectContaining({ codec: 'h265', width: 320, height: 240, audio: false }),
      ]);
      const info = await probe(result.file);
      expect(info).toMatchObject({ videoCodec: 'hevc', videoCodecTag: 'hvc1', hasAudio: false });
      expect(Math.abs(info.durationSeconds - wall)).toBeLessThan(1);
    },
  );

  it('muxes AAC when the camera is expected to send it and does', async () => {
    const [units, audio] = await Promise.all([videoUnits('h264'), encodeAdtsFrames(dir, SECONDS + 1)]);
    const { w } = writer('with-audio', 'h264', true);
    await play(w, units, 'H264', audio);
    const result = await w.close();
    expect(result).toMatchObject({ codec: 'h264', audio: true, audioDropped: 0 });
    const info = await probe(result.file);
    expect(info).toMatchObject({ videoCodec: 'h264', hasAudio: true, audioCodec: 'aac' });
    expect(info.durationSeconds).toBeGreaterThan(SECONDS - 1);
  });

  it('records video only when expected audio does not come, and counts audio it did not expect', async () => {
    const [units, audio] = await Promise.all([videoUnits('h264'), encodeAdtsFrames(dir, SECONDS + 1)]);
    const silent = writer('no-audio', 'h264', true);
    await play(silent.w, units, 'H264');
    const quiet = await silent.w.close();
    expect(quiet).toMatchObject({ audio: false, framesWritten: expect.any(Number) });
    expect(quiet.framesWritten).toBeGreaterThan(0);
    expect(await probe(quiet.file)).toMatchObject({ videoCodec: 'h264', hasAudio: false });

    const surprised = writer('surprise-audio', 'h264', false);
    await play(surprised.w, units, 'H264', audio);
    const result = await surprised.w.close();
    expect(result.audio).toBe(false);
    expect(result.audioDropped).toBeGreaterThan(0);
    expect(await probe(result.file)).toMatchObject({ hasAudio: false });
  });

  it('a segment that never got a frame leaves no file', async () => {
    const { w } = writer('empty', 'h264', false);
    const result = await w.close();
    expect(result).toMatchObject({ framesWritten: 0, firstFrameAt: null });
    await expect(probe(result.file)).rejects.toThrow(/cannot read/);
  });
});
