import { join } from 'node:path';
import { extractThumbnail, probe, type MediaInfo, type VideoCodec } from '../src';
import {
  FPS,
  accessUnitsOf,
  decodeFully,
  encodeStream,
  feedLive,
  itEncoding,
  liveRecordings,
  sleep,
  tempDir,
  videoPackets,
  wallClockSeconds,
} from './helpers';

const startLive = liveRecordings();

// Acceptance of the recording path: ~6 s of real video at 15 fps, paused for 2 s in the middle, into
// the recording ffmpeg; the file must be as long as the wall clock and readable while it grows.
describe.each([
  ['h264', 'h264', 'avc1'],
  ['h265', 'hevc', 'hvc1'],
] as const)('a live %s recording', (codec: VideoCodec, probedCodec, tag) => {
  let dir: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ dir, remove: cleanup } = await tempDir(`record-${codec}`));
  });
  afterAll(() => cleanup());

  itEncoding(codec)(
    'lasts as long as the wall clock, pause included, and is readable while written',
    async () => {
      const units = accessUnitsOf(codec, await encodeStream(dir, { codec, frames: 90, fps: FPS, gop: 15 }));
      const file = join(dir, `live-${codec}.mp4`);
      const { ffmpeg, video, gate } = await startLive({ output: file, codec });

      const thumbnail = join(dir, `live-${codec}.jpg`);
      let whileWriting: MediaInfo | undefined;
      const probeDuringPause = (async () => {
        await sleep(4000); // inside the pause, 3 s to 5 s in
        whileWriting = await probe(file);
        await extractThumbnail(file, thumbnail);
      })();
      const feed = await feedLive(video, gate, units, { fps: FPS, pauses: new Map([[45, 2000]]) });
      await probeDuringPause;
      const exit = await ffmpeg.stop();

      expect(exit).toMatchObject({ ok: true, reason: 'eof', code: 0 });
      expect(exit.inputs[0]).toMatchObject({ writes: 90, dropped: 0 });
      expect(whileWriting).toMatchObject({ videoCodec: probedCodec, width: 320, height: 240 });
      expect(whileWriting!.durationSeconds).toBeGreaterThan(1);
      expect(await probe(thumbnail)).toMatchObject({ videoCodec: 'mjpeg', width: 320, height: 240 });

      const info = await probe(file);
      const wall = wallClockSeconds(feed, FPS);
      console.log(`${codec}: file ${info.durationSeconds.toFixed(3)} s, wall clock ${wall.toFixed(3)} s`);
      expect(info).toMatchObject({
        videoCodec: probedCodec,
        videoCodecTag: tag,
        width: 320,
        height: 240,
        hasAudio: false,
      });
      expect(Math.abs(info.durationSeconds - wall)).toBeLessThan(1);
      expect(wall).toBeGreaterThan(7.5);

      const packets = await videoPackets(file);
      expect(packets).toHaveLength(90);
      expect(packets[0]!.keyframe).toBe(true);
      // The pause is kept as one gap, not cut out. It falls up to two frames early: an access unit is
      // known to be complete only when the next one begins, in the gate and again in ffmpeg's parser.
      const gaps = packets.slice(1).map((p, i) => p.ptsSeconds - packets[i]!.ptsSeconds);
      expect([42, 43]).toContain(gaps.findIndex((gap) => gap > 1.5));
      expect(gaps.filter((gap) => gap > 1.5)).toHaveLength(1);
      await decodeFully(file);
    },
    // Encoding the h265 input and decoding the file take most of it on a busy machine (30 s was not enough).
    90_000,
  );
});
