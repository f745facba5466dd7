import { loadConfig } from '@eufy-relay/config';
import { createRedis, deletePrefixKeys } from '@eufy-relay/runtime';
import { History, MAX_SAMPLES, historyDays, lastDays, runChain } from '../src';

const config = loadConfig({
  env: {
    REDIS_URL: process.env.REDIS_URL ?? '',
    REDIS_PREFIX: `eufy-relay-test-history-${process.pid}`,
    RETENTION_DAYS: '45',
  },
});
const redis = createRedis(config, 'worker');
const history = new History(redis, config);
const DAY = 86_400_000;
const now = Date.parse('2026-12-07T15:00:00Z');

afterAll(async () => {
  await deletePrefixKeys(redis, config.REDIS_PREFIX);
  await redis.quit();
});

it('keeps RETENTION_DAYS of history, at least the 30 days the dashboard shows', () => {
  expect(historyDays(config)).toBe(45);
  expect(historyDays({ ...config, RETENTION_DAYS: 7 })).toBe(30);
  expect(lastDays(3, now)).toEqual(['2026-12-05', '2026-12-06', '2026-12-07']);
});

describe('per-day counters', () => {
  it('adds to the UTC day of the instant and reads the last days oldest first, empty days included', async () => {
    await runChain(history.countDay(redis.multi(), 'demo', now, { a: 1, b: 2.5 }));
    await runChain(history.countDay(redis.multi(), 'demo', now + 1000, { a: 1, b: 0 }));
    await runChain(history.countDay(redis.multi(), 'demo', now - 2 * DAY, { a: 4 }));
    expect(await history.readDays('demo', 3, now)).toEqual([
      { day: '2026-12-05', counts: { a: 4 } },
      { day: '2026-12-06', counts: {} },
      { day: '2026-12-07', counts: { a: 2, b: 2.5 } },
    ]);
  });

  it('expires each day when it leaves the history', async () => {
    await runChain(history.countDay(redis.multi(), 'expiry', now, { a: 1 }));
    const expiresAt = await redis.pexpiretime(history.dayKey('expiry', '2026-12-07'));
    expect(expiresAt).toBe(Date.parse('2026-12-08T00:00:00Z') + 45 * DAY);
  });
});

describe('samples', () => {
  it('keeps only changes when asked, and starts a window with the value it had then', async () => {
    for (const [at, v] of [
      [1, '1'],
      [2, '1'],
      [3, '0'],
      [4, '0'],
      [5, '1'],
    ] as const)
      await runChain(
        history.appendSample(redis.multi(), 'online', now + at * 1000, v, { whenChanged: true }),
      );
    expect(await history.readSamples('online', now)).toEqual([
      { at: now + 1000, value: '1' },
      { at: now + 3000, value: '0' },
      { at: now + 5000, value: '1' },
    ]);
    // From between two changes: the one before the window comes first.
    expect((await history.readSamples('online', now + 4000)).map((s) => s.value)).toEqual(['0', '1']);
  });

  it('drops samples older than the history and never holds more than MAX_SAMPLES', async () => {
    await runChain(history.appendSample(redis.multi(), 'storage', now - 46 * DAY, 'old'));
    await runChain(history.appendSample(redis.multi(), 'storage', now - 44 * DAY, 'kept'));
    await runChain(history.appendSample(redis.multi(), 'storage', now, 'new'));
    expect((await history.readSamples('storage', 0)).map((s) => s.value)).toEqual(['kept', 'new']);
    expect(await redis.pttl(history.samplesKey('storage'))).toBeGreaterThan(44 * DAY);

    const chain = redis.pipeline();
    for (let i = 0; i < MAX_SAMPLES + 10; i++) history.appendSample(chain, 'busy', now + i, String(i));
    await runChain(chain);
    expect(await redis.zcard(history.samplesKey('busy'))).toBe(MAX_SAMPLES);
    const kept = await history.readSamples('busy', 0);
    expect(kept[0]!.value).toBe('10');
    expect(kept.at(-1)!.value).toBe(String(MAX_SAMPLES + 9));
  });
});
