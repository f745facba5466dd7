import { runTool } from '@eufy-relay/media';
import { waitFor } from '@eufy-relay/testing';
import { DeviceRegistry, type PrebufferStatus } from '@eufy-relay/devices';
import { VIDEO, decodeErrors, startHarness, type Harness } from './harness';

/** RTSP the bridge reports, a 5 s pre-buffer. */
const RTSP_CAM = 'T8113P0223000071';
/** RTSP, a pre-buffer longer than PREBUFFER_MAX_BYTES lets it hold. */
const CAPPED = 'T8113P0223000072';
const PREBUFFER_MAX_BYTES = 300_000;
const HOMEBASE = 'T8010P2321000073';
/** P2P only, on the HomeBase, a 5 s pre-buffer: it holds the station's slot. */
const P2P_CAM = 'T8113P0223000074';
/** On the same HomeBase, no pre-buffer: its recording borrows the slot. */
const NEIGHBOUR = 'T8113P0223000075';
/** RTSP refused under the buffer: source auto, it goes on over P2P. */
const FALLBACK = 'T8113P0223000077';
/** A battery camera asking for a pre-buffer: refused. */
const BATTERY_CAM = 'T8113P0223000076';

describe('the pre-motion buffer', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness('prebuffer', {
      scenario: {
        rtsp: { seconds: 120 },
        stations: [{ serialNumber: HOMEBASE }],
        devices: [
          { serialNumber: RTSP_CAM, video: VIDEO, rtsp: {} },
          { serialNumber: CAPPED, video: VIDEO, rtsp: {} },
          { serialNumber: P2P_CAM, station: HOMEBASE, video: VIDEO },
          { serialNumber: NEIGHBOUR, station: HOMEBASE, video: VIDEO },
          { serialNumber: BATTERY_CAM, video: VIDEO, battery: 80 },
          { serialNumber: FALLBACK, video: VIDEO, rtsp: {} },
        ],
      },
      env: { MOTION_TIMEOUT_SECONDS: '2', PREBUFFER_MAX_BYTES: String(PREBUFFER_MAX_BYTES) },
      configYaml: [
        'cameras:',
        ...[
          [RTSP_CAM, 5],
          [CAPPED, 60],
          [P2P_CAM, 5],
          [BATTERY_CAM, 5],
          [FALLBACK, 5],
        ].flatMap(([sn, seconds]) => [`  ${sn}:`, `    prebuffer_seconds: ${seconds}`]),
      ].join('\n'),
    });
  });
  afterAll(() => h?.close());

  /** What the recorder published on the camera (GET /devices, /metrics). */
  async function published(sn: string): Promise<PrebufferStatus | undefined> {
    return (await new DeviceRegistry(h.redis, h.config).getDevice(sn))?.prebuffer ?? undefined;
  }

  /** Once the camera's buffer holds 5 s: motion for `movingMs`, then the recording as it began and ended. */
  async function recordFromFullBuffer(sn: string, movingMs: number) {
    await waitFor(`a full pre-buffer of ${sn}`, async () => ((await published(sn))?.seconds ?? 0) >= 5, {
      timeoutMs: 20_000,
    });
    const stop = h.keepMoving(sn, 500);
    const recording = await h.waitForRecording(sn);
    await new Promise((r) => setTimeout(r, movingMs));
    stop();
    return { recording, done: await h.waitForFinish(recording.id) };
  }

  it('RTSP, 5 s: the file starts on a keyframe at least 4.5 s before the motion and plays; id, URL and start stay the motion’s', async () => {
    const { recording, done } = await recordFromFullBuffer(RTSP_CAM, 2000);

    expect(done).toMatchObject({ status: 'completed', video_status: 'completed', video_source: 'rtsp' });
    expect(done.id).toBe(recording.id);
    expect(done.started_at).toBe(recording.started_at);
    expect(done.preroll_seconds).toBeGreaterThanOrEqual(4.5);
    // The first frame is the pre-roll's: video_started_at lies before the motion by it.
    expect(done.started_at - done.video_started_at!).toBeCloseTo(done.preroll_seconds! * 1000, -1);
    // Its frames keep their spacing: the file is as long as the wall clock from its first frame.
    await h.expectWallClock(done);
    const file = h.files.videoPath(recording.id);
    expect(decodeErrors(file)).toBe('');
    const first = JSON.parse(
      await runTool('ffprobe', [
        '-v',
        'error',
        '-select_streams',
        'v:0',
        '-read_intervals',
        '%+#1',
        '-show_entries',
        'frame=key_frame,pict_type,pts_time',
        '-of',
        'json',
        file,
      ]),
    ) as { frames: { key_frame: number; pict_type: string }[] };
    expect(first.frames[0]).toMatchObject({ key_frame: 1, pict_type: 'I' });
    // Real frames, not a few stretched ones: the camera's 15 fps all through the pre-roll.
    const packets = JSON.parse(
      await runTool('ffprobe', [
        '-v',
        'error',
        '-select_streams',
        'v:0',
        '-show_entries',
        'packet=pts_time',
        '-of',
        'json',
        file,
      ]),
    ) as { packets: { pts_time: string }[] };
    const before = packets.packets.filter((p) => Number(p.pts_time) < done.preroll_seconds!).length;
    expect(before).toBeGreaterThanOrEqual(4.5 * VIDEO.fps * 0.95);
    const info = await h.probe(recording.id);
    // Pre-roll, then the recording from the motion to its end.
    expect(info.durationSeconds).toBeGreaterThanOrEqual(4.5 + (done.ended_at! - done.started_at) / 1000 - 1);
    console.log(
      `pre-roll ${done.preroll_seconds} s; file ${info.durationSeconds.toFixed(2)} s for ` +
        `${((done.ended_at! - done.started_at) / 1000).toFixed(2)} s of recording after the motion`,
    );
  });

  it('memory stays under PREBUFFER_MAX_BYTES: a 60 s buffer holds only what fits', async () => {
    const seen: PrebufferStatus[] = [];
    await waitFor(
      'the capped buffer to have been full for a while',
      async () => {
        const now = await published(CAPPED);
        if (now && seen.at(-1)?.at !== now.at) seen.push(now);
        return seen.filter((p) => p.bytes > PREBUFFER_MAX_BYTES * 0.6).length >= 4;
      },
      { timeoutMs: 40_000, intervalMs: 500 },
    );
    for (const p of seen) expect(p.bytes).toBeLessThanOrEqual(PREBUFFER_MAX_BYTES);
    expect(seen.at(-1)).toMatchObject({ source: 'rtsp', state: 'streaming' });
    expect(seen.at(-1)!.seconds).toBeLessThan(60);
    console.log(
      `capped buffer: ${seen.at(-1)!.bytes} bytes, ${seen.at(-1)!.seconds.toFixed(1)} s held (cap ${PREBUFFER_MAX_BYTES})`,
    );
  });

  it('P2P, 5 s: pre-roll from the livestream; a neighbour on the station borrows the slot, the buffer resumes after', async () => {
    const { recording, done } = await recordFromFullBuffer(P2P_CAM, 1000);
    expect(done).toMatchObject({ status: 'completed', video_source: 'p2p' });
    expect(done.preroll_seconds).toBeGreaterThanOrEqual(4.5);
    expect(decodeErrors(h.files.videoPath(recording.id))).toBe('');
    await h.expectWallClock(done);

    const states: string[] = [];
    const watch = setInterval(() => {
      void published(P2P_CAM).then((p) => p && states.at(-1) !== p.state && states.push(p.state));
    }, 100);
    try {
      const moving = h.keepMoving(NEIGHBOUR, 500);
      const borrowed = await h.waitForRecording(NEIGHBOUR);
      await h.recordingWhen(borrowed.id, (r) => r.video_started_at !== null, 'the neighbour’s video');
      moving();
      const neighbour = await h.waitForFinish(borrowed.id);
      expect(neighbour).toMatchObject({ status: 'completed', video_source: 'p2p', slot_blocked_by: null });
      await waitFor(
        'the buffer streaming again',
        async () => (await published(P2P_CAM))?.state === 'streaming',
        {
          timeoutMs: 20_000,
        },
      );
      expect(states).toContain('paused');
      console.log(
        `neighbour's video ${neighbour.video_started_at! - neighbour.started_at} ms after its motion; ` +
          `buffer states ${states.join(' → ')}`,
      );
    } finally {
      clearInterval(watch);
    }
  });

  it('a battery camera gets no pre-buffer: refused with a clear reason', async () => {
    const refused = await waitFor('the refusal', async () => {
      const p = await published(BATTERY_CAM);
      return p?.state === 'refused' ? p : undefined;
    });
    expect(refused).toMatchObject({ bytes: 0, reason: expect.stringContaining('runs on a battery') });
  });

  it('source auto: RTSP refused twice in a row, the buffer goes on over P2P', async () => {
    await waitFor('the RTSP buffer', async () => (await published(FALLBACK))?.state === 'streaming', {
      timeoutMs: 20_000,
    });
    await h.sim.setRtspMode(FALLBACK, 'refuse');
    expect(await h.sim.dropRtsp(FALLBACK)).toBe(1);
    const p2p = await waitFor(
      'the buffer over P2P',
      async () => {
        const now = await published(FALLBACK);
        return now?.source === 'p2p' && now.state === 'streaming' && now.seconds > 0 ? now : undefined;
      },
      { timeoutMs: 20_000 },
    );
    expect(p2p.bytes).toBeGreaterThan(0);
  });
});
