import { WebhookReceiver } from '@eufy-relay/webhooks/testing';
import { expectNothingLostOrDuplicated, ofEvent, deliveries, waitForEvent } from './deliveries';
import { CAMERA, SECOND_CAMERA, Stack, WEBHOOK_SECRET, ffprobe, keepMoving, needs, sleep } from './harness';

// Outages around the roles: the bridge dropping its sockets, the webhook receiver down, Redis
// restarted. After each: no webhook lost, none duplicated, every recording playable.

let receiver: WebhookReceiver;
let stack: Stack;

beforeAll(async () => {
  receiver = await WebhookReceiver.start({ secret: WEBHOOK_SECRET });
  stack = await Stack.start({ webhookUrl: receiver.url });
}, 60_000);

afterAll(async () => {
  await stack?.close();
  await receiver?.close();
}, 60_000);

const plays = (url: string) => () =>
  ffprobe(url).then(
    () => true,
    () => false,
  );

const flowRoles = needs('ingest', 'recorder', 'notifier', 'api');

/** One whole recording on a camera: motion, its motion_detected, then its motion_stopped. */
async function recordOnce(sn: string): Promise<void> {
  const before = ofEvent(deliveries(receiver), 'motion_detected', sn).length;
  await keepMoving(
    stack,
    sn,
    700,
    () => ofEvent(deliveries(receiver), 'motion_detected', sn).length > before,
  );
  await waitForEvent(receiver, stack, 'motion_stopped', sn, { count: before + 1, timeoutMs: 30_000 });
}

(flowRoles.run ? test : test.skip)(
  `the simulator drops every socket mid-recording: the recording goes on and ends once, playable${flowRoles.why}`,
  async () => {
    await stack.control(`/devices/${CAMERA}/detection`, { kind: 'motion' });
    const detected = await waitForEvent(receiver, stack, 'motion_detected', CAMERA);
    await keepMoving(stack, CAMERA, 700, plays(detected.payload.video_url));

    await stack.control('/connections/drop');
    const since = performance.now();
    await keepMoving(stack, CAMERA, 700, () => performance.now() - since > 3000);

    const stopped = await waitForEvent(receiver, stack, 'motion_stopped', CAMERA, { timeoutMs: 30_000 });
    expect(stopped.payload.video_url).toBe(detected.payload.video_url);
    await expectNothingLostOrDuplicated(receiver);
  },
  60_000,
);

(flowRoles.run ? test : test.skip)(
  `the webhook receiver down for several retries: everything arrives once it is back${flowRoles.why}`,
  async () => {
    const before = deliveries(receiver).length;
    await receiver.down();
    await stack.control(`/devices/${SECOND_CAMERA}/detection`, { kind: 'motion' });
    await stack.control(`/devices/${SECOND_CAMERA}/battery`, { battery: 8 });
    // Long enough for the recording to end and for several retries (0.2, 0.4, 0.8, 1, 1 … s) to fail.
    await sleep(5000);
    expect(deliveries(receiver)).toHaveLength(before);
    await receiver.up();

    await waitForEvent(receiver, stack, 'motion_detected', SECOND_CAMERA);
    await waitForEvent(receiver, stack, 'motion_stopped', SECOND_CAMERA);
    await waitForEvent(receiver, stack, 'low_battery', SECOND_CAMERA);
    await expectNothingLostOrDuplicated(receiver);
  },
  60_000,
);

(flowRoles.run ? test : test.skip)(
  `Redis restarted (empty: no persistence) while idle: every role reconnects and a whole motion flow works again${flowRoles.why}`,
  async () => {
    const redis = stack.process('redis');
    await redis.stop();
    await sleep(1000);
    await redis.start();
    await recordOnce(CAMERA);
    await expectNothingLostOrDuplicated(receiver);
    for (const role of ['ingest', 'recorder', 'notifier', 'janitor', 'api'] as const) {
      expect({ role, running: stack.role(role).running }).toEqual({ role, running: true });
    }
  },
  60_000,
);
