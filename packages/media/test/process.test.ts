import { join } from 'node:path';
import { waitFor } from '@eufy-relay/testing';
import {
  FfmpegProcess,
  MediaToolNotFoundError,
  describeExit,
  runTool,
  startRecording,
  toolPath,
  type DroppedWrite,
  type FfmpegProcessOptions,
} from '../src';
import { encodeStream, killLeftoversAfterEach, tempDir } from './helpers';

/** An ffmpeg that reads raw bytes from stdin until it ends and throws them away. */
const SINK_ARGS = [
  '-hide_banner',
  '-loglevel',
  'error',
  '-f',
  'u8',
  '-ar',
  '8000',
  '-ac',
  '1',
  '-i',
  'pipe:0',
  '-f',
  'null',
  '-',
];
/** An ffmpeg that ignores stdin and runs until interrupted; it says "Stream mapping" once it handles SIGINT. */
const ENDLESS_ARGS = [
  '-hide_banner',
  '-nostdin',
  '-loglevel',
  'info',
  '-re',
  '-f',
  'lavfi',
  '-i',
  'testsrc=rate=5',
  '-f',
  'null',
  '-',
];

/** Short bounds, for the tests of the escalation itself. */
const quick = { endGraceMs: 300, interruptGraceMs: 300 };

const track = killLeftoversAfterEach();
const start = (options: FfmpegProcessOptions) => FfmpegProcess.start(options).then(track);

describe('finding ffmpeg', () => {
  it('takes FFMPEG_PATH / FFPROBE_PATH, else the name on PATH', () => {
    expect(toolPath('ffmpeg', { FFMPEG_PATH: '/opt/ffmpeg/bin/ffmpeg' })).toBe('/opt/ffmpeg/bin/ffmpeg');
    expect(toolPath('ffprobe', { FFPROBE_PATH: '' })).toBe('ffprobe');
  });

  it('says how to install it when it is missing', async () => {
    const starting = FfmpegProcess.start({ args: SINK_ARGS, ffmpegPath: '/nonexistent/ffmpeg' });
    await expect(starting).rejects.toThrow(MediaToolNotFoundError);
    await expect(starting).rejects.toThrow('ffmpeg not found: install it, e.g. apt-get install ffmpeg');
    await expect(runTool('ffprobe', ['-version'], { path: '/nonexistent/ffprobe' })).rejects.toThrow(
      'ffprobe not found: install it, e.g. apt-get install ffmpeg',
    );
  });
});

describe('stopping ffmpeg', () => {
  it('ends cleanly when its input ends', async () => {
    const ffmpeg = await start({ args: SINK_ARGS });
    expect(ffmpeg.inputs[0]!.write(Buffer.alloc(16_000, 0x80))).toBe(true);
    const exit = await ffmpeg.stop();
    expect(exit).toMatchObject({ code: 0, signal: null, reason: 'eof', ok: true, killed: false });
    expect(exit.inputs[0]).toMatchObject({ writes: 1, bytes: 16_000, dropped: 0 });
    expect(ffmpeg.running).toBe(false);
    // Calling stop again gives the same result, and later writes are refused.
    expect(await ffmpeg.stop()).toBe(exit);
    expect(ffmpeg.inputs[0]!.write(Buffer.alloc(10))).toBe(false);
  });

  it('interrupts an ffmpeg that does not end with its input (SIGINT, which lets it finish the file)', async () => {
    const ffmpeg = await start({ args: ENDLESS_ARGS, ...quick });
    await waitFor('ffmpeg running', () => ffmpeg.stderr().some((line) => line.startsWith('Stream mapping')));
    const exit = await ffmpeg.stop();
    expect(exit).toMatchObject({ reason: 'sigint', code: 255, ok: true, killed: false });
  });

  it('kills a hung ffmpeg within the bounds', async () => {
    const ffmpeg = await start({ args: SINK_ARGS, ...quick });
    process.kill(ffmpeg.pid!, 'SIGSTOP'); // hung: reads nothing, ignores SIGINT
    const started = Date.now();
    const exit = await ffmpeg.stop();
    const elapsed = Date.now() - started;
    console.log(`hung ffmpeg killed after ${elapsed} ms (bounds 300 + 300 ms)`);
    expect(exit).toMatchObject({ reason: 'sigkill', signal: 'SIGKILL', killed: true, ok: false });
    expect(elapsed).toBeGreaterThanOrEqual(600);
    expect(elapsed).toBeLessThan(5000); // hang guard only
  });

  it('stops when its AbortSignal fires', async () => {
    const controller = new AbortController();
    const ffmpeg = await start({ args: SINK_ARGS, signal: controller.signal });
    controller.abort();
    const exit = await ffmpeg.exited;
    expect(exit).toMatchObject({ reason: 'eof', ok: true });
    await expect(FfmpegProcess.start({ args: SINK_ARGS, signal: controller.signal })).rejects.toThrow();
  });

  it('reports an ffmpeg that fails on its own with its last words', async () => {
    const tmp = await tempDir('process-fail');
    try {
      const output = join(tmp.dir, 'missing-dir', 'out.mp4');
      const recording = await startRecording({ output, codec: 'h264' });
      track(recording.ffmpeg);
      // ffmpeg opens its output once it has read a whole frame (known when the next one starts).
      recording.video.write(await encodeStream(tmp.dir, { codec: 'h264', frames: 2 }));
      const exit = await recording.ffmpeg.exited;
      expect(exit).toMatchObject({ reason: 'exited', ok: false, code: 1 });
      expect(exit.stderr.join('\n')).toContain('No such file or directory');
      expect(describeExit(exit)).toMatch(
        /^ffmpeg exited with code 1 \(exited\): .*No such file or directory/,
      );
      await waitFor('the pipe to close', () => !recording.video.write(Buffer.alloc(10)));
    } finally {
      await tmp.remove();
    }
  });
});

describe('writing to ffmpeg', () => {
  it('queues at most maxQueuedBytes, drops beyond, and resumes on a keyframe once ffmpeg reads again', async () => {
    const drops: DroppedWrite[] = [];
    const maxQueuedBytes = 256 * 1024;
    const ffmpeg = await start({
      args: SINK_ARGS,
      maxQueuedBytes,
      onDrop: (drop) => drops.push(drop),
    });
    const input = ffmpeg.inputs[0]!;
    process.kill(ffmpeg.pid!, 'SIGSTOP'); // ffmpeg stops reading: the pipe fills up
    const frame = Buffer.alloc(32 * 1024, 0x80);
    let maxQueued = 0;
    for (let i = 0; i < 200; i += 1) {
      input.write(frame, { keyframe: i % 10 === 0 });
      maxQueued = Math.max(maxQueued, input.queuedBytes);
    }
    expect(maxQueued).toBeLessThanOrEqual(maxQueuedBytes);
    expect(input.stats.dropped).toBeGreaterThan(0);
    expect(drops[0]).toEqual({ input: 0, reason: 'overflow', bytes: frame.length });
    expect(drops.some((d) => d.reason === 'resync')).toBe(true);
    expect(input.stats.writes + input.stats.dropped).toBe(200);

    process.kill(ffmpeg.pid!, 'SIGCONT');
    await input.whenWritable();
    await waitFor('queue drained', () => input.queuedBytes === 0);
    // After a drop, units that depend on what was lost stay out until the next keyframe.
    expect(input.write(frame, { keyframe: false })).toBe(false);
    expect(input.write(frame, { keyframe: true })).toBe(true);
    expect(input.write(frame, { keyframe: false })).toBe(true);
    const exit = await ffmpeg.stop();
    expect(exit.ok).toBe(true);
    expect(exit.inputs[0]!.bytes).toBe(exit.inputs[0]!.writes * frame.length);
  });
});
