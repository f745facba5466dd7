import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MediaToolError, extractThumbnail, probe, runTool } from '../src';
import { tempDir } from './helpers';

let dir: string;
let cleanup: () => Promise<void>;

/** A fragmented MP4 like the recorder's, made by ffmpeg directly (not in real time). */
async function makeMp4(name: string, seconds: number, options: { audio?: boolean; video?: boolean } = {}) {
  const file = join(dir, name);
  const args = ['-hide_banner', '-loglevel', 'error'];
  if (options.video !== false)
    args.push('-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=15:duration=${seconds}`);
  if (options.audio)
    args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=16000:duration=${seconds}`);
  if (options.video !== false) args.push('-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-bf', '0', '-g', '15');
  if (options.audio) args.push('-c:a', 'aac');
  args.push('-movflags', '+frag_keyframe+empty_moov+default_base_moof', '-y', file);
  await runTool('ffmpeg', args);
  return file;
}

beforeAll(async () => {
  ({ dir, remove: cleanup } = await tempDir('probe'));
});
afterAll(() => cleanup());

describe('probe', () => {
  it('reads duration, codec, size, audio and file size of a fragmented MP4', async () => {
    const file = await makeMp4('av.mp4', 3, { audio: true });
    const info = await probe(file);
    expect(info).toMatchObject({
      videoCodec: 'h264',
      videoCodecTag: 'avc1',
      width: 320,
      height: 240,
      hasAudio: true,
      audioCodec: 'aac',
      sizeBytes: (await readFile(file)).length,
    });
    expect(info.durationSeconds).toBeCloseTo(3, 0);
  });

  it('says which file it cannot read and why', async () => {
    await expect(probe(join(dir, 'nope.mp4'))).rejects.toThrow(/^cannot read .*nope\.mp4: ENOENT/);
    await expect(probe(dir)).rejects.toThrow(`cannot read ${dir}: not a file`);
    const text = join(dir, 'notes.mp4');
    await writeFile(text, 'this is not a video\n');
    const failure = probe(text);
    await expect(failure).rejects.toThrow(MediaToolError);
    await expect(failure).rejects.toThrow(
      /cannot read .*notes\.mp4 as media: ffprobe failed \(exit code 1\): .*Invalid data/,
    );
  });
});

describe('extractThumbnail', () => {
  it('writes a JPEG of a frame from the first seconds, scaled when asked', async () => {
    const video = await makeMp4('thumb-source.mp4', 3);
    const jpg = join(dir, 'thumb.jpg');
    await extractThumbnail(video, jpg);
    expect(await probe(jpg)).toMatchObject({ videoCodec: 'mjpeg', width: 320, height: 240 });
    await extractThumbnail(video, jpg, { width: 160 });
    expect(await probe(jpg)).toMatchObject({ videoCodec: 'mjpeg', width: 160, height: 120 });
    const jpeg = await readFile(jpg);
    expect(jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8])); // JPEG start of image
    // Nothing half-written is left behind.
    expect((await readdir(dir)).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('takes the first frame of a video shorter than the requested position', async () => {
    const video = await makeMp4('short.mp4', 0.4);
    const jpg = join(dir, 'short.jpg');
    await extractThumbnail(video, jpg, { atSeconds: 2 });
    expect(await probe(jpg)).toMatchObject({ videoCodec: 'mjpeg', width: 320 });
  });

  it('fails clearly on a file without video and on an unreadable file', async () => {
    const audioOnly = await makeMp4('audio-only.mp4', 1, { video: false, audio: true });
    await expect(extractThumbnail(audioOnly, join(dir, 'a.jpg'))).rejects.toThrow(
      /cannot make a thumbnail of .*audio-only\.mp4: /,
    );
    await expect(extractThumbnail(join(dir, 'gone.mp4'), join(dir, 'b.jpg'))).rejects.toThrow(
      /cannot read .*gone\.mp4: ENOENT/,
    );
    expect((await readdir(dir)).filter((f) => f.endsWith('.jpg') && /^[ab]\./.test(f))).toEqual([]);
  });
});
