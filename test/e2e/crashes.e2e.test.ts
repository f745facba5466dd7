import { deliveries, expectNothingLostOrDuplicated, ofEvent, waitForEvent } from './deliveries';
import { CAMERA, SECOND_CAMERA, keepMoving, playable, useStack } from './harness';

// SIGKILL of a role mid-flow, then a restart: no webhook lost, none duplicated, every recording playable.

const e2e = useStack({
  // The recorder's own setting (not one of the original design's settings): a dead recorder's recordings are taken
  // over within about twice this. Shortened like every other timing.
  env: { RECORDING_TAKEOVER_SECONDS: '2' },
});

test(`SIGKILL of the recorder mid-recording: another recorder process takes it over and it ends with exactly one motion_stopped`, async () => {
  await e2e.stack.control(`/devices/${CAMERA}/detection`, { kind: 'motion' });
  const detected = await waitForEvent(e2e.receiver, e2e.stack, 'motion_detected', CAMERA);
  await keepMoving(e2e.stack, CAMERA, 700, playable(detected.payload.video_url));

  await e2e.stack.role('recorder').kill();
  await e2e.stack.role('recorder').start();
  const since = performance.now();
  await keepMoving(e2e.stack, CAMERA, 700, () => performance.now() - since > 3000);

  const stopped = await waitForEvent(e2e.receiver, e2e.stack, 'motion_stopped', CAMERA, {
    timeoutMs: 40_000,
  });
  expect(stopped.payload.video_url).toBe(detected.payload.video_url);
  await expectNothingLostOrDuplicated(e2e.receiver);
}, 60_000);

test(`SIGKILL of the notifier while webhooks are produced: the restarted notifier delivers every one once`, async () => {
  const before = deliveries(e2e.receiver).length;
  await e2e.stack.role('notifier').kill();
  // Work happens while no notifier runs: a whole recording and a low battery.
  await e2e.stack.control(`/devices/${SECOND_CAMERA}/detection`, { kind: 'motion' });
  await e2e.stack.control(`/devices/${SECOND_CAMERA}/battery`, { battery: 9 });
  await new Promise((r) => setTimeout(r, 3000));
  expect(deliveries(e2e.receiver)).toHaveLength(before);

  await e2e.stack.role('notifier').start();
  await waitForEvent(e2e.receiver, e2e.stack, 'motion_detected', SECOND_CAMERA);
  await waitForEvent(e2e.receiver, e2e.stack, 'low_battery', SECOND_CAMERA);
  await waitForEvent(e2e.receiver, e2e.stack, 'motion_stopped', SECOND_CAMERA);
  expect(ofEvent(deliveries(e2e.receiver), 'low_battery', SECOND_CAMERA)).toHaveLength(1);
  await expectNothingLostOrDuplicated(e2e.receiver);
}, 60_000);

test(`SIGKILL of ingest mid-recording: the recording still ends once, and motion after its restart records again`, async () => {
  const recordings = () => ofEvent(deliveries(e2e.receiver), 'motion_detected', CAMERA).length;
  const already = recordings();
  await e2e.stack.control(`/devices/${CAMERA}/detection`, { kind: 'motion' });
  const detected = await waitForEvent(e2e.receiver, e2e.stack, 'motion_detected', CAMERA, {
    count: already + 1,
  });

  await e2e.stack.role('ingest').kill();
  await waitForEvent(e2e.receiver, e2e.stack, 'motion_stopped', CAMERA, {
    match: (d) => d.payload.event === 'motion_stopped' && d.payload.video_url === detected.payload.video_url,
  });
  await e2e.stack.role('ingest').start();
  await keepMoving(e2e.stack, CAMERA, 700, () => recordings() > already + 1, 20_000);
  await waitForEvent(e2e.receiver, e2e.stack, 'motion_stopped', CAMERA, { count: already + 2 });
  await expectNothingLostOrDuplicated(e2e.receiver);
}, 60_000);
