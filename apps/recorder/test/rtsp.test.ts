import { DeviceRegistry } from '@eufy-relay/devices';
import { assertFfmpeg } from '@eufy-relay/eufy-sim';
import { probe } from '@eufy-relay/media';
import { waitFor } from '@eufy-relay/testing';
import { VIDEO, decodeErrors, startHarness, type Harness } from './harness';

const HOMEBASE = 'T8010P2321000091';
/** On the HomeBase, RTSP with credentials given in the config. */
const RTSP_CAM = 'T8113P0223000091';
/** On the same HomeBase, P2P only. */
const P2P_CAM = 'T8113P0223000092';
/** Standalone, RTSP the bridge reports (no config): refused, then dropped mid-recording. */
const FLAKY = 'T8113P0223000093';

describe('recording over RTSP', () => {
  let h: Harness;
  let registry: DeviceRegistry;

  beforeAll(async () => {
    assertFfmpeg();
    h = await startHarness('rtsp', {
      scenario: {
        rtsp: { seconds: 60 },
        stations: [{ serialNumber: HOMEBASE }],
        devices: [
          {
            serialNumber: RTSP_CAM,
            station: HOMEBASE,
            video: VIDEO,
            rtsp: { user: 'admin', password: 'pw-91' },
          },
          { serialNumber: P2P_CAM, station: HOMEBASE, video: VIDEO },
          { serialNumber: FLAKY, video: VIDEO, rtsp: {} },
        ],
      },
      env: { MOTION_TIMEOUT_SECONDS: '2', RTSP_TIMEOUT_SECONDS: '3' },
      configYaml: (sim) => {
        const reported = String(
          sim.snapshot().devices.find((d) => d.serialNumber === RTSP_CAM)!.rtspStreamUrl,
        );
        return `cameras:\n  ${RTSP_CAM}:\n    rtsp_url: ${reported.replace('rtsp://', 'rtsp://admin:pw-91@')}\n`;
      },
    });
    registry = new DeviceRegistry(h.redis, h.config);
  });
  afterAll(() => h?.close());

  it('an RTSP camera: first frame within 1 s of motion, no station slot (its station records another camera at once), the file plays', async () => {
    const motionAt = Date.now();
    const stopRtsp = h.keepMoving(RTSP_CAM, 500);
    const stopP2p = h.keepMoving(P2P_CAM, 500);
    const [rtsp, p2p] = await Promise.all([h.waitForRecording(RTSP_CAM), h.waitForRecording(P2P_CAM)]);
    const rtspStarted = await h.recordingWhen(
      rtsp.id,
      (r) => r.video_started_at !== null,
      'RTSP video',
      10_000,
    );
    const p2pStarted = await h.recordingWhen(p2p.id, (r) => r.video_started_at !== null, 'P2P video', 15_000);
    await new Promise((r) => setTimeout(r, 3000));
    stopRtsp();
    stopP2p();
    const [rtspDone, p2pDone] = await Promise.all([h.waitForFinish(rtsp.id), h.waitForFinish(p2p.id)]);

    expect(rtspDone).toMatchObject({
      status: 'completed',
      video_status: 'completed',
      video_source: 'rtsp',
      video_source_reason: 'rtsp_url in the config',
      codec: 'h264',
      width: VIDEO.width,
    });
    // Where the time goes: ffmpeg's own start (about 0.1 s on a quiet machine, 0.4 s at a load of
    // 20 on two cores), the RTSP handshake and the first frame (the simulator's stream starts on a
    // keyframe; ~0.1 s), seeing the file grow (polled every 20 ms). 0.83 s measured at a load of 20.
    const firstFrameMs = rtspStarted.video_started_at! - motionAt;
    expect(firstFrameMs).toBeLessThan(1000);
    // The other camera of the same HomeBase never waited for the station's slot.
    expect(p2pDone).toMatchObject({ status: 'completed', video_source: 'p2p', slot_blocked_by: null });
    expect(p2pStarted.video_started_at! - rtspStarted.video_started_at!).toBeLessThan(5000);
    expect(decodeErrors(h.files.videoPath(rtsp.id))).toBe('');
    const info = await probe(h.files.videoPath(rtsp.id));
    expect(
      Math.abs(info.durationSeconds - (rtspDone.ended_at! - rtspDone.video_started_at!) / 1000),
    ).toBeLessThan(1.5);
    expect(await registry.getDevice(RTSP_CAM)).toMatchObject({ video_source: 'rtsp' });
    expect(await registry.getDevice(P2P_CAM)).toMatchObject({
      video_source: 'p2p',
      video_source_reason: expect.stringContaining('no RTSP'),
    });
    console.log(
      `RTSP first frame ${firstFrameMs} ms after motion; file ${info.durationSeconds.toFixed(2)} s`,
    );
  });

  it('RTSP refused: the same recording continues over P2P, one file, one motion_stopped, the reason in the index', async () => {
    await h.sim.setRtspMode(FLAKY, 'refuse');
    const stop = h.keepMoving(FLAKY, 500);
    const recording = await h.waitForRecording(FLAKY);
    await h.recordingWhen(recording.id, (r) => r.video_started_at !== null, 'video over P2P', 15_000);
    await new Promise((r) => setTimeout(r, 1500));
    stop();
    const done = await h.waitForFinish(recording.id);
    await h.sim.setRtspMode(FLAKY, 'normal');

    expect(done).toMatchObject({ status: 'completed', video_status: 'completed', video_source: 'p2p' });
    expect(done.video_source_reason).toMatch(/^RTSP refused .*404.*continues over P2P$/);
    expect(decodeErrors(h.files.videoPath(recording.id))).toBe('');
    const stopped = (await h.webhooks('motion_stopped')).filter(
      (w) => w.webhookId === `motion_stopped.${recording.id}`,
    );
    expect(stopped).toHaveLength(1);
    expect(await registry.getDevice(FLAKY)).toMatchObject({
      video_source: 'p2p',
      video_source_reason: done.video_source_reason,
    });
  });

  it('RTSP dropping mid-recording: the same recording continues over P2P, one file covering the whole time', async () => {
    const stop = h.keepMoving(FLAKY, 500);
    const recording = await waitFor(
      'a new recording',
      async () => (await h.recordings(FLAKY)).find((r) => r.status === 'recording'),
      { timeoutMs: 10_000 },
    );
    await h.recordingWhen(
      recording.id,
      (r) => r.video_source === 'rtsp' && r.video_started_at !== null,
      'RTSP video',
    );
    await new Promise((r) => setTimeout(r, 2000));
    expect(await h.sim.dropRtsp(FLAKY)).toBe(1);
    await h.recordingWhen(recording.id, (r) => r.video_source === 'p2p', 'the fallback to P2P', 10_000);
    await new Promise((r) => setTimeout(r, 3000));
    stop();
    const done = await h.waitForFinish(recording.id);

    expect(done).toMatchObject({ status: 'completed', video_status: 'completed', video_source: 'p2p' });
    expect(done.video_source_reason).toMatch(/^RTSP stream ended.*continues over P2P$/);
    const info = await probe(h.files.videoPath(recording.id));
    const wall = (done.ended_at! - done.video_started_at!) / 1000;
    // Stitched on the wall clock: RTSP part, the gap while P2P started, the P2P part.
    expect(Math.abs(info.durationSeconds - wall)).toBeLessThan(1.5);
    expect(decodeErrors(h.files.videoPath(recording.id))).toBe('');
    const stopped = (await h.webhooks('motion_stopped')).filter(
      (w) => w.webhookId === `motion_stopped.${recording.id}`,
    );
    expect(stopped).toHaveLength(1);
  });
});
