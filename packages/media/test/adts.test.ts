import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adtsFrameLength } from '../src';
import { encodeAdtsFrames, tempDir } from './helpers';

describe('adtsFrameLength', () => {
  it('reads the frame length of the eufy-security-ws audio fixture (19)', () => {
    const event = JSON.parse(
      readFileSync(join(__dirname, 'fixtures/19_event.device.livestream_audio_data.json'), 'utf8'),
    );
    const payload = Buffer.from(event.event.buffer.data as number[]);
    expect(adtsFrameLength(payload)).toBe(payload.length);
  });

  it('reads every frame of real ADTS AAC made by ffmpeg', async () => {
    const tmp = await tempDir('adts');
    try {
      // encodeAdtsFrames splits the file with adtsFrameLength: the frames must tile it exactly.
      const frames = await encodeAdtsFrames(tmp.dir, 1);
      expect(frames.length).toBeGreaterThan(10);
      for (const frame of frames) expect(adtsFrameLength(frame)).toBe(frame.length);
    } finally {
      await tmp.remove();
    }
  });

  it('refuses what is not an ADTS header: raw AAC, video, truncated headers, impossible lengths', () => {
    expect(adtsFrameLength(Buffer.from([0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c, 0x00, 0x00]))).toBeUndefined();
    expect(adtsFrameLength(Buffer.from([0, 0, 0, 1, 0x67, 0x64, 0x00, 0x28]))).toBeUndefined();
    expect(adtsFrameLength(Buffer.from([0xff, 0xf1, 0x60, 0x40]))).toBeUndefined();
    // Layer bits set (MPEG audio layer III, i.e. MP3), and a length shorter than the header itself.
    expect(adtsFrameLength(Buffer.from([0xff, 0xfb, 0x60, 0x40, 0x01, 0xff, 0xfc]))).toBeUndefined();
    expect(adtsFrameLength(Buffer.from([0xff, 0xf1, 0x60, 0x40, 0x00, 0x9f, 0xfc]))).toBeUndefined();
  });
});
