import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertFfmpeg, startSimulator, type Simulator } from '@eufy-relay/eufy-sim';
import { decodeVideo } from '@eufy-relay/testing';
import { EufyClient } from '../src';
import { CAM_A, capturedLogger, testScenario } from './helpers';

const STREAM_SECONDS = 20;
const FPS = 15;

function ffprobe(file: string): { codec: string; duration: number; frames: number } {
  const probe = decodeVideo(file);
  if (probe.status !== 0 || probe.codec === undefined)
    throw new Error(`ffprobe failed (${probe.errors}): install ffmpeg (apt-get install ffmpeg)`);
  return { codec: probe.codec, duration: probe.duration, frames: probe.frames };
}

describe('a 20 s livestream piped into ffmpeg', () => {
  let sim: Simulator;
  let client: EufyClient;
  const dir = mkdtempSync(join(tmpdir(), 'eufy-client-ffmpeg-'));

  beforeAll(() => assertFfmpeg());
  afterAll(async () => {
    await client?.close();
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives a file ffprobe reads as H.264 lasting 20 s (±1 s)', async () => {
    const { logger } = capturedLogger();
    sim = await startSimulator({ ...testScenario(), logger });
    client = new EufyClient({ url: sim.url, logger });
    await client.start();

    const file = join(dir, 'stream.mp4');
    // Stream copy: the Annex-B access units go into MP4 unchanged; the raw demuxer needs the rate.
    const ffmpeg = spawn(
      process.env.FFMPEG_PATH ?? 'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-f',
        'h264',
        '-framerate',
        String(FPS),
        '-i',
        'pipe:0',
        '-c',
        'copy',
        '-movflags',
        '+frag_keyframe+empty_moov',
        '-y',
        file,
      ],
      { stdio: ['pipe', 'ignore', 'pipe'] },
    );
    let stderr = '';
    ffmpeg.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(ffmpeg, 'close');

    const stream = await client.startLivestream(CAM_A);
    let firstAt: number | undefined;
    let frames = 0;
    for (let chunk = await stream.read(); chunk; chunk = await stream.read()) {
      if (chunk.kind !== 'video') continue;
      firstAt ??= chunk.receivedAt;
      if (chunk.receivedAt - firstAt >= STREAM_SECONDS * 1000) break;
      frames++;
      if (!ffmpeg.stdin.write(chunk.buffer)) await once(ffmpeg.stdin, 'drain');
    }
    await stream.stop();
    expect(stream.endReason?.reason).toBe('stopped');
    ffmpeg.stdin.end();
    const [code] = await exited;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });

    const probed = ffprobe(file);
    expect(probed.codec).toBe('h264');
    expect(probed.frames).toBe(frames);
    expect(Math.abs(probed.duration - STREAM_SECONDS)).toBeLessThanOrEqual(1);
  }, 60_000);
});
