import { WEBHOOK_EXAMPLES, webhookId, webhookPayload, type WebhookEvent, type WebhookExamples } from '../src';

// Type-level proofs, checked by `pnpm typecheck` (tsc over src and test): each `@ts-expect-error`
// fails the type check if the line below it stops being an error.

// An example map that lacks an event does not type-check: a new event needs its example.
const { camera_online: _left, ...withoutCameraOnline } = WEBHOOK_EXAMPLES;
// @ts-expect-error camera_online has no example
const incomplete: WebhookExamples = withoutCameraOnline;

// An example must be that event's payload, not another's.
const mismatched: WebhookExamples = {
  ...WEBHOOK_EXAMPLES,
  // @ts-expect-error a camera_online example without offline_seconds
  camera_online: { event: 'camera_online', device_sn: 'T8600P2323209876', timestamp: '2025-01-30T08:12:30Z' },
};

// A webhook id takes the key of its own event only.
// @ts-expect-error motion_detected is keyed by the recording id, not a device serial
webhookId('motion_detected', { deviceSn: 'T8600P2323209876', at: 1 });

describe('webhook examples', () => {
  it('has one example per event, each accepted by its schema unchanged', () => {
    const events = webhookPayload.options.map((o) => o.shape.event.value).sort();
    expect(Object.keys(WEBHOOK_EXAMPLES).sort()).toEqual(events);
    for (const [event, example] of Object.entries(WEBHOOK_EXAMPLES)) {
      expect({ event, parsed: webhookPayload.parse(example) }).toEqual({ event, parsed: example });
    }
    expect([incomplete, mismatched]).toHaveLength(2);
  });
});

describe('webhookId', () => {
  it.each<[WebhookEvent, Parameters<typeof webhookId>[1], string]>([
    [
      'motion_detected',
      { recordingId: 'T8600P2323209876_20250130_143022' },
      'motion_detected.T8600P2323209876_20250130_143022',
    ],
    [
      'motion_stopped',
      { recordingId: 'T8600P2323209876_20250130_143022' },
      'motion_stopped.T8600P2323209876_20250130_143022',
    ],
    [
      'low_battery',
      { deviceSn: 'T8600P2323209876', at: 1738232100000 },
      'low_battery.T8600P2323209876.1738232100000',
    ],
    [
      'camera_offline',
      { deviceSn: 'T8600P2323209876', outageStartedAt: 1738224000000 },
      'camera_offline.T8600P2323209876.1738224000000',
    ],
    [
      'camera_online',
      { deviceSn: 'T8600P2323209876', outageStartedAt: 1738224000000 },
      'camera_online.T8600P2323209876.1738224000000',
    ],
    [
      'system_error',
      { errorId: '6f1c2d3e-1111-4222-8333-944455556666' },
      'system_error.6f1c2d3e-1111-4222-8333-944455556666',
    ],
  ])('builds the %s id from its key', (event, key, id) => {
    expect(webhookId(event, key as never)).toBe(id);
  });

  it('refuses a key that would make an id BullMQ cannot take', () => {
    expect(() => webhookId('system_error', { errorId: 'a:b' })).toThrow(/must match/);
  });
});
