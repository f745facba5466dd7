import { assertFfmpeg } from '@eufy-relay/eufy-sim';
import { camera, startHarness, until, type Harness } from './harness';

const QUICK = 'T8113P0223000901';
const DISABLED = 'T8113P0223000902';
const PLAIN = 'T8113P0223000903';

describe('settings per camera (cameras: in the config)', () => {
  let h: Harness;

  beforeAll(async () => {
    assertFfmpeg();
    h = await startHarness('cameras', {
      scenario: { devices: [camera(QUICK), camera(DISABLED), camera(PLAIN)] },
      env: { MOTION_TIMEOUT_SECONDS: '4' },
      configYaml: [
        'cameras:',
        `  ${QUICK}:`,
        '    motion_timeout_seconds: 1',
        `  ${DISABLED}:`,
        '    enabled: false',
      ].join('\n'),
    });
  });
  afterAll(() => h?.close());

  it("one camera's motion timeout and another's enabled: false change only those cameras", async () => {
    const motionAt = Date.now();
    await Promise.all([h.motion(QUICK), h.motion(DISABLED), h.motion(PLAIN)]);
    const [quick, plain] = await Promise.all([h.waitForRecording(QUICK), h.waitForRecording(PLAIN)]);
    const [quickDone, plainDone] = await Promise.all([h.waitForFinish(quick.id), h.waitForFinish(plain.id)]);

    // The override: 1 s after its only motion; the camera without one keeps the global 4 s.
    expect(quickDone.stop_reason).toBe('motion_timeout');
    expect(plainDone.stop_reason).toBe('motion_timeout');
    expect(quickDone.ended_at! - motionAt).toBeLessThan(2500);
    expect(plainDone.ended_at! - motionAt).toBeGreaterThanOrEqual(3500);

    // The disabled camera recorded nothing and announced nothing.
    await until(async () => (await h.webhooks('motion_stopped')).length >= 2, 10_000, 'both motion_stopped');
    expect(await h.recordings(DISABLED)).toEqual([]);
    const devices = (await h.webhooks()).map((w) => ('device_sn' in w.payload ? w.payload.device_sn : null));
    expect(devices).not.toContain(DISABLED);
    expect(devices.filter((sn) => sn === QUICK)).toHaveLength(2);
  });
});
