import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLogger } from '@eufy-relay/logger';
import { assertFfmpeg, startSimulator, type Simulator } from '../src';

const OPEN = 'T8113P0223000021';
const LOCKED = 'T8113P0223000022';
const P2P_ONLY = 'T8113P0223000023';
const SMALL = { width: 320, height: 240, fps: 15, bitrateKbps: 300 };

/** ffmpeg as the recorder runs it: RTSP over TCP, stream copy; resolves with its exit and stderr. */
function pull(url: string, file: string, seconds: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-rtsp_transport',
      'tcp',
      '-timeout',
      '3000000',
      '-i',
      url,
      '-t',
      String(seconds),
      '-c',
      'copy',
      '-y',
      file,
    ]);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** What ffprobe says of the copied file: codec, width and duration of its video. */
function probe(file: string): { videoCodec: string; width: number; durationSeconds: number } {
  const run = spawnSync(
    'ffprobe',
    [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=codec_name,width:format=duration',
      '-of',
      'json',
      file,
    ],
    { encoding: 'utf8' },
  );
  const json = JSON.parse(run.stdout) as {
    streams: { codec_name: string; width: number }[];
    format: { duration: string };
  };
  return {
    videoCodec: json.streams[0]!.codec_name,
    width: json.streams[0]!.width,
    durationSeconds: Number(json.format.duration),
  };
}

const withCredentials = (url: string, user: string, password: string) =>
  url.replace('rtsp://', `rtsp://${user}:${password}@`);

describe('the simulator serves RTSP through a real RTSP server', () => {
  let sim: Simulator;
  let dir: string;

  beforeAll(async () => {
    assertFfmpeg();
    dir = await mkdtemp(path.join(tmpdir(), 'eufy-sim-rtsp-test-'));
    sim = await startSimulator({
      logger: createLogger({ level: 'silent' }),
      server: { host: '127.0.0.1', port: 0, controlPort: 0 },
      rtsp: { seconds: 20 },
      devices: [
        { serialNumber: OPEN, video: SMALL, rtsp: {} },
        { serialNumber: LOCKED, video: SMALL, rtsp: { user: 'admin', password: 'secret-pw' } },
        { serialNumber: P2P_ONLY, video: SMALL },
      ],
    });
  });
  afterAll(async () => {
    await sim?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const device = (sn: string) => sim.snapshot().devices.find((d) => d.serialNumber === sn)!;

  it('reports rtspStream and rtspStreamUrl (no credentials) as eufy-security-ws does', () => {
    expect(device(OPEN)).toMatchObject({
      rtspStream: true,
      rtspStreamUrl: expect.stringMatching(`^rtsp://127\\.0\\.0\\.1:\\d+/${OPEN}$`),
    });
    expect(device(LOCKED).rtspStreamUrl).not.toContain('@');
    expect(device(P2P_ONLY)).toMatchObject({ rtspStream: false, rtspStreamUrl: '' });
  });

  it('streams H.264 that ffmpeg copies; digest auth refuses a wrong password', async () => {
    const open = path.join(dir, 'open.mp4');
    expect((await pull(String(device(OPEN).rtspStreamUrl), open, 2)).code).toBe(0);
    const info = probe(open);
    expect(info.videoCodec).toBe('h264');
    expect(info.width).toBe(320);
    expect(info.durationSeconds).toBeGreaterThan(1.8);

    const url = String(device(LOCKED).rtspStreamUrl);
    expect(await pull(url, path.join(dir, 'anonymous.mp4'), 1)).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('401'),
    });
    expect(await pull(withCredentials(url, 'admin', 'wrong'), path.join(dir, 'wrong.mp4'), 1)).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('401'),
    });
    expect(
      (await pull(withCredentials(url, 'admin', 'secret-pw'), path.join(dir, 'locked.mp4'), 1)).code,
    ).toBe(0);
  });

  it('refuses, stalls and drops a stream on command (control API)', async () => {
    const url = String(device(OPEN).rtspStreamUrl);
    const control = (route: string, body?: unknown) =>
      fetch(`${sim.controlUrl}/devices/${OPEN}${route}`, {
        method: 'POST',
        body: JSON.stringify(body ?? {}),
      });

    expect((await control('/rtsp', { mode: 'refuse' })).status).toBe(200);
    expect(await pull(url, path.join(dir, 'refused.mp4'), 1)).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('404'),
    });
    expect((await control('/rtsp', { mode: 'normal' })).status).toBe(200);

    // Dropped a second into a 6 s pull: ffmpeg ends early with what it had.
    const dropped = path.join(dir, 'dropped.mp4');
    const running = pull(url, dropped, 6);
    await new Promise((r) => setTimeout(r, 1500));
    const reply = (await (await control('/rtsp/drop')).json()) as { dropped: number };
    expect(reply.dropped).toBe(1);
    await running;
    expect(probe(dropped).durationSeconds).toBeLessThan(4);

    // Stalled: the connection stays, the video stops; ffmpeg's own timeout ends it.
    expect((await control('/rtsp', { mode: 'stall' })).status).toBe(200);
    const started = Date.now();
    await pull(url, path.join(dir, 'stalled.mp4'), 6);
    expect(Date.now() - started).toBeGreaterThan(2500);
    await control('/rtsp', { mode: 'normal' });
    expect((await fetch(`${sim.controlUrl}/devices/${P2P_ONLY}/rtsp/drop`, { method: 'POST' })).status).toBe(
      500,
    );
  });
});
