import { SEED_WEBHOOK_EXAMPLES, systemErrorPayload, type WebhookPayload } from '@eufy-relay/contracts';
import { replayWebhook, verifyWebhookSignature } from '@eufy-relay/webhooks';
import { USER_AGENT } from '@eufy-relay/webhooks/sender';
import { waitFor } from '@eufy-relay/testing';
import { SECRET, gaps, lowBattery, startHarness, type Harness } from './harness';

const seed: Record<string, WebhookPayload> = {
  ...SEED_WEBHOOK_EXAMPLES,
  camera_online: {
    event: 'camera_online',
    device_sn: 'T8600P2323209876',
    timestamp: '2025-01-30T08:05:00Z',
    offline_seconds: 300,
  },
};

let h: Harness;
beforeAll(async () => {
  // Tripling steps: Redis wakes blocked workers on its own clock (up to ~0.1 s late), which a doubling
  // schedule this short would let blur the "each retry waits longer" check.
  h = await startHarness('delivery', {
    WEBHOOK_RETRY_SCHEDULE_SECONDS: '0.2,0.6,1.8',
    WEBHOOK_TIMEOUT_MS: '500',
    ERROR_FOLD_SECONDS: '0',
  });
});
afterAll(() => h.close());

const requestsFor = (id: string) => h.receiver.received.filter((r) => r.webhookId === id);
const systemErrorsAbout = (id: string) =>
  h.receiver
    .payloads('system_error')
    .map((p) => systemErrorPayload.parse(p))
    .filter((p) => p.context.webhook_id === id);
const settle = () => new Promise((r) => setTimeout(r, 600)); // longer than the longest first-retry delay

describe('notifier delivery', () => {
  it('delivers every event type as signed JSON that the receiver verifies; a tampered body fails', async () => {
    for (const [event, payload] of Object.entries(seed)) await h.enqueue(payload, `${event}.signed`);
    await h.receiver.waitFor(() => Object.keys(seed).every((e) => requestsFor(`${e}.signed`).length === 1));

    for (const [event, payload] of Object.entries(seed)) {
      const [request] = requestsFor(`${event}.signed`);
      expect(JSON.parse(request!.body)).toEqual(payload);
      expect(request!.signature).toBe('valid');
      expect(request!.headers).toMatchObject({
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'x-workato-dedup': `${event}.signed`,
      });
      const tampered = request!.body.replace('T8600P2323209876', 'T8600P2323209877');
      expect(verifyWebhookSignature(SECRET, request!.headers, tampered)).toBe('invalid');
      expect(verifyWebhookSignature('whsec_c29tZW9uZSBlbHNl', request!.headers, request!.body)).toBe(
        'invalid',
      );
    }
    await waitFor(
      'the condition',
      async () => (await h.deliveryLog.attempts('low_battery.signed')).length === 1,
    );
    expect(await h.deliveryLog.attempts('low_battery.signed')).toEqual([
      expect.objectContaining({
        attempt: 1,
        outcome: 'delivered',
        status_code: 200,
        event: 'low_battery',
        error: null,
      }),
    ]);
  });

  it('retries a 500 with growing delays and delivers on the third try under the same webhook-id', async () => {
    h.receiver.reply = (req, earlier) =>
      req.webhookId === 'low_battery.flaky' && earlier < 2
        ? { status: 500, body: 'try later' }
        : { status: 200 };
    await h.enqueue(lowBattery(14), 'low_battery.flaky');
    await h.receiver.waitFor(() => requestsFor('low_battery.flaky').length === 3);
    await settle();

    const requests = requestsFor('low_battery.flaky');
    expect(requests).toHaveLength(3);
    expect(requests.every((r) => r.signature === 'valid' && r.body === requests[0]!.body)).toBe(true);
    const [first, second] = gaps(requests.map((r) => r.at));
    // Schedule 0.2 s then 0.6 s, ±10 % jitter.
    expect(first).toBeGreaterThanOrEqual(180);
    expect(second).toBeGreaterThanOrEqual(540);
    expect(second).toBeGreaterThan(first!);

    const job = await h.queue.getJob('low_battery.flaky');
    expect(await job!.getState()).toBe('completed');
    const log = await h.deliveryLog.attempts('low_battery.flaky');
    expect(log.map((a) => [a.attempt, a.outcome, a.status_code])).toEqual([
      [1, 'failed', 500],
      [2, 'failed', 500],
      [3, 'delivered', 200],
    ]);
    expect(log[0]!.error).toBe('HTTP 500: try later');
    expect(log.every((a) => typeof a.latency_ms === 'number')).toBe(true);
    expect(systemErrorsAbout('low_battery.flaky')).toEqual([]);
  });

  it('does not retry a 400: the webhook is dead at once and one system_error says so', async () => {
    h.receiver.reply = (req) =>
      req.webhookId === 'low_battery.rejected'
        ? { status: 400, body: '{"error":"bad field"}' }
        : { status: 200 };
    await h.enqueue(lowBattery(13), 'low_battery.rejected');
    await h.receiver.waitFor(() => systemErrorsAbout('low_battery.rejected').length === 1);
    await settle();

    expect(requestsFor('low_battery.rejected')).toHaveLength(1);
    const job = await h.queue.getJob('low_battery.rejected');
    expect(await job!.getState()).toBe('failed');
    expect(job!.attemptsMade).toBe(1);
    const [report] = systemErrorsAbout('low_battery.rejected');
    expect(report).toMatchObject({
      operation: 'deliver_webhook',
      error_type: 'WebhookRejected',
      retry_count: 0,
      context: { webhook_id: 'low_battery.rejected', event: 'low_battery', attempts: 1, status_code: 400 },
    });
    expect(report!.error_message).toContain('HTTP 400: {"error":"bad field"}');
  });

  it('replays a dead webhook with its original id and body', async () => {
    h.receiver.reply = () => ({ status: 200 });
    expect(await replayWebhook(h.queue, 'low_battery.rejected')).toEqual({ outcome: 'requeued' });
    await h.receiver.waitFor(() => requestsFor('low_battery.rejected').length === 2);
    const [dead, replayed] = requestsFor('low_battery.rejected');
    expect(replayed!.body).toBe(dead!.body);
    expect(replayed!.signature).toBe('valid');
    await waitFor(
      'the condition',
      async () => (await (await h.queue.getJob('low_battery.rejected'))!.getState()) === 'completed',
    );
  });

  it('fails a 410 at once and raises a system_error saying the receiver is gone', async () => {
    h.receiver.reply = (req) => (req.webhookId === 'low_battery.gone' ? { status: 410 } : { status: 200 });
    await h.enqueue(lowBattery(12), 'low_battery.gone');
    await h.receiver.waitFor(() => systemErrorsAbout('low_battery.gone').length === 1);
    await settle();
    expect(requestsFor('low_battery.gone')).toHaveLength(1);
    const [report] = systemErrorsAbout('low_battery.gone');
    expect(report).toMatchObject({
      error_type: 'WebhookReceiverGone',
      retry_count: 0,
      context: { status_code: 410 },
    });
    expect(report!.error_message).toMatch(/receiver is gone \(HTTP 410 Gone/);
  });

  it('honours Retry-After on a 429 and holds back the whole queue meanwhile', async () => {
    h.receiver.reply = (req, earlier) =>
      req.webhookId === 'low_battery.throttled' && earlier === 0
        ? { status: 429, headers: { 'retry-after': '2' } }
        : { status: 200 };
    await h.enqueue(lowBattery(11), 'low_battery.throttled');
    // The delivery log shows the 429 once the queue is held back.
    await waitFor(
      'the condition',
      async () => (await h.deliveryLog.attempts('low_battery.throttled')).length === 1,
    );
    await h.enqueue(lowBattery(10), 'low_battery.queued_behind');
    await h.receiver.waitFor(
      () =>
        requestsFor('low_battery.throttled').length === 2 &&
        requestsFor('low_battery.queued_behind').length === 1,
    );
    const throttledAt = requestsFor('low_battery.throttled')[0]!.at;
    expect(requestsFor('low_battery.throttled')[1]!.at - throttledAt).toBeGreaterThanOrEqual(2000);
    expect(requestsFor('low_battery.queued_behind')[0]!.at - throttledAt).toBeGreaterThanOrEqual(2000);

    // A 429 is the receiver pacing us, not a failed attempt: the retry budget is untouched, so the
    // delivery is still attempt 1 and BullMQ counts one attempt in all.
    await waitFor(
      'the condition',
      async () => (await (await h.queue.getJob('low_battery.throttled'))!.getState()) === 'completed',
    );
    const job = await h.queue.getJob('low_battery.throttled');
    expect(job!.attemptsMade).toBe(1);
    const log = await h.deliveryLog.attempts('low_battery.throttled');
    expect(log.map((a) => [a.attempt, a.outcome, a.status_code])).toEqual([
      [1, 'rate_limited', 429],
      [1, 'delivered', 200],
    ]);
  });

  it('retries a timed-out attempt; the duplicate the receiver sees carries the same webhook-id', async () => {
    h.receiver.reply = (req, earlier) =>
      req.webhookId === 'low_battery.slow' && earlier === 0
        ? { status: 200, delayMs: 1500 }
        : { status: 200 };
    await h.enqueue(lowBattery(9), 'low_battery.slow');
    await h.receiver.waitFor(() => requestsFor('low_battery.slow').length === 2);
    const [late, retried] = requestsFor('low_battery.slow');
    expect(retried!.body).toBe(late!.body);
    expect(retried!.headers['x-workato-dedup']).toBe('low_battery.slow');
    const log = await h.deliveryLog.attempts('low_battery.slow');
    expect(log[0]).toMatchObject({
      outcome: 'failed',
      status_code: null,
      error: 'no response within WEBHOOK_TIMEOUT_MS=500',
    });
  });

  it('after the last scheduled retry keeps the webhook failed (inspectable, replayable) and reports it once', async () => {
    h.receiver.reply = (req) =>
      req.webhookId === 'low_battery.dead' ? { status: 503, body: 'maintenance' } : { status: 200 };
    await h.enqueue(lowBattery(8), 'low_battery.dead');
    await h.receiver.waitFor(() => systemErrorsAbout('low_battery.dead').length === 1);
    await settle();

    expect(requestsFor('low_battery.dead')).toHaveLength(4); // the first try and the 3 scheduled retries
    const job = await h.queue.getJob('low_battery.dead');
    expect(await job!.getState()).toBe('failed');
    expect(job!.failedReason).toBe('HTTP 503: maintenance');
    const reports = systemErrorsAbout('low_battery.dead');
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({
      error_type: 'WebhookDeliveryFailed',
      retry_count: 3,
      context: { attempts: 4, status_code: 503 },
    });
    expect(reports[0]!.traceback).toContain('Caused by: WebhookAttemptFailed: HTTP 503: maintenance');
  });

  it('never reports a system_error that could not be delivered (no loops)', async () => {
    h.receiver.reply = (req) =>
      req.webhookId === 'system_error.undeliverable' ? { status: 400 } : { status: 200 };
    const before = h.receiver.payloads('system_error').length;
    await h.enqueue(seed.system_error!, 'system_error.undeliverable');
    await waitFor(
      'the condition',
      async () => (await (await h.queue.getJob('system_error.undeliverable'))!.getState()) === 'failed',
    );
    await settle();
    expect(h.receiver.payloads('system_error')).toHaveLength(before + 1); // only the undeliverable one itself
  });
});
