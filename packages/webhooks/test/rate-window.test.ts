import type { WebhookPayload } from '@eufy-relay/contracts';

import { createRedis, deletePrefixKeys, redisReady } from '@eufy-relay/runtime';
import { testConfig } from '@eufy-relay/testing';
import { ReceiverRateWindow } from '../src';
import { WebhookSender } from '../src/sender';
import { WebhookReceiver, busiestSecond } from '../src/testing';

const prefix = `eufy-relay-test-webhooks-window-${process.pid}`;
const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const LIMIT = 5;
const config = testConfig(prefix, {
  WEBHOOK_RATE_LIMIT_PER_SECOND: String(LIMIT),
  WEBHOOK_TIMEOUT_MS: '500',
});
const redis = createRedis(config, 'producer');
const payload: WebhookPayload = {
  event: 'low_battery',
  device_sn: 'T8113P0223000002',
  battery_level: 15,
  timestamp: '2025-01-30T08:00:00Z',
};

let receiver: WebhookReceiver;
let sender: WebhookSender;
beforeAll(async () => {
  await redisReady(redis);
  receiver = await WebhookReceiver.start({ secret });
  sender = new WebhookSender({ url: receiver.url, secret, timeoutMs: 500, connections: 20 });
});
afterAll(async () => {
  await sender.close();
  await receiver.close();
  await deletePrefixKeys(redis, prefix);
  await redis.quit();
});
beforeEach(async () => {
  receiver.received.length = 0;
  receiver.reply = () => ({ status: 200 });
  await deletePrefixKeys(redis, prefix);
});

describe('busiestSecond', () => {
  it('counts windows correctly', () => {
    expect(busiestSecond([0, 999, 1000, 1500, 1999.5])).toBe(3);
    expect(busiestSecond([])).toBe(0);
  });
});

describe('ReceiverRateWindow', () => {
  it('never lets the receiver see more than the limit in a second, across processes, however latency varies', async () => {
    // Two notifiers' worth of windows on one Redis, and replies that take 0–250 ms: spacing starts
    // alone would let arrivals bunch up; the window must not.
    const windows = [new ReceiverRateWindow(redis, config), new ReceiverRateWindow(redis, config)];
    const delays = [0, 250, 10, 180, 40, 0, 220, 90, 5, 150];
    let n = 0;
    receiver.reply = () => ({ status: 200, delayMs: delays[n++ % delays.length] });
    const ids = Array.from({ length: 16 }, (_, i) => `low_battery.window${i}`);
    const results = await Promise.all(
      ids.map((id, i) => windows[i % 2]!.run(() => sender.send(id, payload))),
    );
    expect(results.every((r) => r.outcome === 'response' && r.statusCode === 200)).toBe(true);
    expect(new Set(receiver.received.map((r) => r.webhookId))).toEqual(new Set(ids));
    expect(busiestSecond(receiver.received.map((r) => r.at))).toBeLessThanOrEqual(LIMIT);
    // All 16 went out in one go, so the limit was what held them: the first LIMIT arrive together.
    expect(busiestSecond(receiver.received.map((r) => r.at))).toBe(LIMIT);
  }, 20_000);

  it('frees a place when its request ends with an error, too', async () => {
    const window = new ReceiverRateWindow(redis, config);
    await expect(
      window.run(async () => {
        throw new Error('connection refused');
      }),
    ).rejects.toThrow('connection refused');
    const key = `${prefix}:webhooks:receiver-window`;
    const [, ended] = await redis.zrange(key, 0, 0, 'WITHSCORES');
    const now = Number((await redis.time())[0]) * 1000;
    // Scored by when it ended (now), not by its provisional end at the timeout.
    expect(Number(ended)).toBeLessThanOrEqual(now + 1000);
    expect(await redis.zcard(key)).toBe(1);
  });

  it('a place left by a process that died mid-request lasts until that request’s timeout, then frees', async () => {
    const window = new ReceiverRateWindow(redis, config);
    const dying = createRedis(config, 'producer');
    await redisReady(dying);
    // LIMIT requests whose process "dies" in flight: their places are never released.
    let inFlight = 0;
    let allInFlight!: () => void;
    const died = new Promise<void>((resolve) => (allInFlight = resolve));
    await Promise.all(
      Array.from({ length: LIMIT }, () =>
        new ReceiverRateWindow(dying, config).run(async () => {
          if (++inFlight < LIMIT) return died;
          dying.disconnect();
          allInFlight();
        }),
      ),
    );
    const started = Date.now();
    const ran = await window.run(async () => 'sent');
    expect(ran).toBe('sent');
    // Held for the timeout (500 ms) plus the one-second window, not forever.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  }, 10_000);

  it('stops waiting for a place when its signal aborts (a notifier shutting down)', async () => {
    const window = new ReceiverRateWindow(redis, config);
    await Promise.all(Array.from({ length: LIMIT }, () => window.run(async () => undefined)));
    const controller = new AbortController();
    const waiting = window.run(async () => 'sent', controller.signal);
    setTimeout(() => controller.abort(), 50);
    await expect(waiting).rejects.toThrow(/abort/i);
  });
});
