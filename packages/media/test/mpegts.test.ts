import { MpegTsMuxer, probe, startRecording, type VideoCodec } from '../src';
import {
  accessUnitsOf,
  decodeFully,
  encodeStream,
  itEncoding,
  sleep,
  tempDir,
  videoPackets,
} from './helpers';

describe('MpegTsMuxer: access units with their own timestamps into ffmpeg', () => {
  let temp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    temp = await tempDir('mpegts');
  });
  afterAll(() => temp.remove());

  for (const codec of ['h264', 'h265'] as VideoCodec[]) {
    itEncoding(codec)(
      `${codec}: a burst of buffered frames keeps their spacing, then live frames follow on the same timeline`,
      async () => {
        const units = accessUnitsOf(codec, await encodeStream(temp.dir, { codec, frames: 45, gop: 15 }));
        const output = `${temp.dir}/${codec}.mp4`;
        const recording = await startRecording({ output, codec, input: 'mpegts' });
        const muxer = new MpegTsMuxer(codec);
        // 30 frames "buffered" 100 ms apart, written at once; then 15 live ones as they come.
        const base = Date.now() - 3000;
        for (let i = 0; i < 30; i++) recording.video.write(muxer.unit(units[i]!, base + i * 100));
        for (let i = 30; i < 45; i++) {
          await sleep(50);
          recording.video.write(muxer.unit(units[i]!, Date.now()));
        }
        const exit = await recording.ffmpeg.stop();
        expect(exit).toMatchObject({ ok: true });

        const packets = await videoPackets(output);
        expect(packets).toHaveLength(45);
        expect(packets[0]).toEqual({ ptsSeconds: 0, keyframe: true });
        for (let i = 1; i < 30; i++) expect(packets[i]!.ptsSeconds).toBeCloseTo(i * 0.1, 2);
        // The live part starts about when it was written: ~3 s after the first buffered frame.
        expect(packets[30]!.ptsSeconds).toBeGreaterThan(2.9);
        expect(packets[30]!.ptsSeconds).toBeLessThan(3.5);
        const info = await probe(output);
        expect(info.videoCodec).toBe(codec === 'h264' ? 'h264' : 'hevc');
        await decodeFully(output);
      },
    );
  }
});
