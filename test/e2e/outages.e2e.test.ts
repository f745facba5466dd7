import { expectNothingLostOrDuplicated, ofEvent, deliveries, waitForEvent } from './deliveries';
import { CAMERA, ROLES, SECOND_CAMERA, keepMoving, playable, sleep, useStack } from './harness';

// Outages around the roles: the bridge dropping its sockets, the webhook receiver down, Redis
// restarted. After each: no webhook lost, none duplicated, every recording playable.

const e2e = useStack();

/** One whole recording on a camera: motion, its motion_detected, then its motion_stopped. */
async function recordOnce(sn: string): Promise<void> {
  const before = ofEvent(deliveries(e2e.receiver), 'motion_detected', sn).length;
  await keepMoving(
    e2e.stack,
    sn,
    700,
    () => ofEvent(deliveries(e2e.receiver), 'motion_detected', sn).length > before,
  );
  await waitForEvent(e2e.receiver, e2e.stack, 'motion_stopped', sn, { count: before + 1, timeoutMs: 30_000 });
}

test(`the simulator drops every socket mid-recording: the recording goes on and ends once, playable`, async () => {
  await e2e.stack.control(`/devices/${CAMERA}/detection`, { kind: 'motion' });
  const detected = await waitForEvent(e2e.receiver, e2e.stack, 'motion_detected', CAMERA);
  await keepMoving(e2e.stack, CAMERA, 700, playable(detected.payload.video_url));

  await e2e.stack.control('/connections/drop');
  const since = performance.now();
  await keepMoving(e2e.stack, CAMERA, 700, () => performance.now() - since > 3000);

  const stopped = await waitForEvent(e2e.receiver, e2e.stack, 'motion_stopped', CAMERA, {
    timeoutMs: 30_000,
  });
  expect(stopped.payload.video_url).toBe(detected.payload.video_url);
  await expectNothingLostOrDuplicated(e2e.receiver);
}, 60_000);

test(`the webhook e2e.receiver down for several retries: everything arrives once it is back`, async () => {
  const before = deliveries(e2e.receiver).length;
  await e2e.receiver.down();
  await e2e.stack.control(`/devices/${SECOND_CAMERA}/detection`, { kind: 'motion' });
  await e2e.stack.control(`/devices/${SECOND_CAMERA}/battery`, { battery: 8 });
  // Long enough for the recording to end and for several retries (0.2, 0.4, 0.8, 1, 1 … s) to fail.
  await sleep(5000);
  expect(deliveries(e2e.receiver)).toHaveLength(before);
  await e2e.receiver.up();

  await waitForEvent(e2e.receiver, e2e.stack, 'motion_detected', SECOND_CAMERA);
  await waitForEvent(e2e.receiver, e2e.stack, 'motion_stopped', SECOND_CAMERA);
  await waitForEvent(e2e.receiver, e2e.stack, 'low_battery', SECOND_CAMERA);
  await expectNothingLostOrDuplicated(e2e.receiver);
}, 60_000);

test(`Redis restarted (empty: no persistence) while idle: every role reconnects and a whole motion flow works again`, async () => {
  const redis = e2e.stack.process('redis');
  await redis.stop();
  await sleep(1000);
  await redis.start();
  await recordOnce(CAMERA);
  await expectNothingLostOrDuplicated(e2e.receiver);
  for (const role of ROLES) {
    expect({ role, running: e2e.stack.role(role).running }).toEqual({ role, running: true });
  }
}, 60_000);
