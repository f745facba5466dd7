import { createRedis, redisKey, redisReady } from '@eufy-relay/runtime';
import { testConfig } from '@eufy-relay/testing';
import { DeliveryLog, HISTORY_MAX_AGE_SECONDS, MAX_ATTEMPTS_PER_WEBHOOK, type DeliveryAttempt } from '../src';

const prefix = `eufy-relay-test-webhooks-log-${process.pid}`;
const config = testConfig(prefix, { WEBHOOK_LOG_MAX_WEBHOOKS: '3' });
const redis = createRedis(config, 'producer');
const log = new DeliveryLog(redis, config);

const attempt = (n: number, at: number, extra: Partial<DeliveryAttempt> = {}): DeliveryAttempt => ({
  attempt: n,
  at: new Date(at).toISOString(),
  event: 'motion_detected',
  outcome: 'failed',
  status_code: 500,
  latency_ms: 12,
  error: 'HTTP 500: upstream down',
  ...extra,
});

beforeAll(() => redisReady(redis));

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

describe('DeliveryLog', () => {
  it('keeps every attempt of a webhook in order: time, status code, latency and error', async () => {
    const t0 = Date.parse('2025-01-30T14:30:22Z');
    await log.record('motion_detected.a', attempt(1, t0));
    await log.record(
      'motion_detected.a',
      attempt(2, t0 + 200, { outcome: 'delivered', status_code: 200, error: null }),
    );
    expect(await log.attempts('motion_detected.a')).toEqual([
      attempt(1, t0),
      attempt(2, t0 + 200, { outcome: 'delivered', status_code: 200, error: null }),
    ]);
    expect(await log.attempts('motion_detected.unknown')).toEqual([]);
  });

  it(`keeps the last ${MAX_ATTEMPTS_PER_WEBHOOK} attempts of one webhook`, async () => {
    const t0 = Date.parse('2025-01-30T15:00:00Z');
    for (let n = 1; n <= MAX_ATTEMPTS_PER_WEBHOOK + 5; n++)
      await log.record('motion_detected.b', attempt(n, t0 + n));
    const kept = await log.attempts('motion_detected.b');
    expect(kept).toHaveLength(MAX_ATTEMPTS_PER_WEBHOOK);
    expect(kept[0]!.attempt).toBe(6);
  });

  it('keeps WEBHOOK_LOG_MAX_WEBHOOKS webhooks, dropping the least recently attempted whole', async () => {
    const t0 = Date.parse('2025-01-30T16:00:00Z');
    for (const [i, id] of ['c', 'd', 'e'].entries())
      await log.record(`low_battery.${id}`, attempt(1, t0 + i));
    expect((await log.recent(10)).map((w) => w.webhook_id)).toEqual([
      'low_battery.e',
      'low_battery.d',
      'low_battery.c',
    ]);
    expect(await redis.exists(redisKey(config, 'delivery-log', 'motion_detected.a'))).toBe(0);
    expect(await redis.exists(redisKey(config, 'delivery-log', 'motion_detected.b'))).toBe(0);

    await log.record('low_battery.c', attempt(2, t0 + 10));
    const recent = await log.recent(2);
    expect(recent.map((w) => w.webhook_id)).toEqual(['low_battery.c', 'low_battery.e']);
    expect(recent[0]!.attempts.map((a) => a.attempt)).toEqual([1, 2]);
  });

  it('drops webhooks last attempted more than HISTORY_MAX_AGE_SECONDS before the newest attempt', async () => {
    const own = testConfig(`${prefix}-age`, { WEBHOOK_LOG_MAX_WEBHOOKS: '100' });
    const agedLog = new DeliveryLog(redis, own);
    const t0 = Date.parse('2025-03-01T00:00:00Z');
    await agedLog.record('low_battery.old', attempt(1, t0));
    await agedLog.record('low_battery.recent', attempt(1, t0 + 1000));
    await agedLog.record('low_battery.new', attempt(1, t0 + HISTORY_MAX_AGE_SECONDS * 1000 + 500));
    expect((await agedLog.recent(10)).map((w) => w.webhook_id)).toEqual([
      'low_battery.new',
      'low_battery.recent',
    ]);
    expect(await redis.exists(redisKey(own, 'delivery-log', 'low_battery.old'))).toBe(0);
    await redis.del(...(await redis.keys(`${prefix}-age:*`)));
  });

  it('counts every attempt by outcome, including those of webhooks the capped log has dropped', async () => {
    const own = testConfig(`${prefix}-totals`, { WEBHOOK_LOG_MAX_WEBHOOKS: '2' });
    const totalsLog = new DeliveryLog(redis, own);
    expect(await totalsLog.totals()).toEqual({ delivered: 0, failed: 0, rate_limited: 0, skipped: 0 });
    const t0 = Date.parse('2025-01-30T17:00:00Z');
    for (let i = 0; i < 5; i++) {
      await totalsLog.record(`motion_detected.t${i}`, attempt(1, t0 + i));
      await totalsLog.record(
        `motion_detected.t${i}`,
        attempt(2, t0 + i, { outcome: 'rate_limited', status_code: 429 }),
      );
      await totalsLog.record(
        `motion_detected.t${i}`,
        attempt(2, t0 + i, { outcome: 'delivered', status_code: 200 }),
      );
    }
    expect(await totalsLog.recent(10)).toHaveLength(2);
    expect(await totalsLog.totals()).toEqual({ delivered: 5, failed: 5, rate_limited: 5, skipped: 0 });
    await redis.del(...(await redis.keys(`${prefix}-totals:*`)));
  });
});
