import type { Config } from '@eufy-relay/config';
import { deliverWebhookJob, openQueue, systemErrorPayload } from '@eufy-relay/contracts';
import { createLogger, logCapture } from '@eufy-relay/logger';
import { createRedis, redisReady } from '@eufy-relay/runtime';
import { testConfig } from '@eufy-relay/testing';
import { openWebhookQueue } from '@eufy-relay/webhooks';
import { ErrorReporter, errorType, foldedCountsKey, readRecentErrors } from '../src';

const basePrefix = `eufy-relay-test-errors-${process.pid}`;
const redis = createRedis({ REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }, 'producer');
let counter = 0;

/** Each test gets its own prefix, queue and captured log lines. */
async function setup(env: Record<string, string> = {}) {
  const config: Config = testConfig(`${basePrefix}-${++counter}`, { RETRY_BASE_DELAY_MS: '20', ...env });
  const webhooks = openWebhookQueue(config, redis);
  const { lines, destination } = logCapture();
  const reporter = new ErrorReporter({ config, redis, webhooks, logger: createLogger({ destination }) });
  const systemErrors = async () =>
    (await webhooks.getJobs(['waiting'])).map((j) => systemErrorPayload.parse(j.data.payload));
  cleanups.push(async () => {
    await webhooks.obliterate({ force: true });
    await webhooks.close();
    const keys = await redis.keys(`${config.REDIS_PREFIX}:*`);
    if (keys.length) await redis.del(...keys);
  });
  return { config, webhooks, reporter, lines, systemErrors };
}
const cleanups: (() => Promise<void>)[] = [];

class ConnectionError extends Error {
  override readonly name = 'ConnectionError';
}

beforeAll(() => redisReady(redis));
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});
afterAll(() => redis.quit());

describe('ErrorReporter.report', () => {
  it('records the error in the recent-errors list and queues one system_error in the seed shape', async () => {
    const { config, reporter, systemErrors } = await setup();
    const cause = new Error('socket hang up');
    const outcome = await reporter.report(
      'start_recording',
      new ConnectionError('WebSocket not connected', { cause }),
      { retryCount: 3, context: { device_sn: 'T8600P2323209876' } },
    );
    expect(outcome).toMatchObject({ outcome: 'reported' });

    const [recorded] = await readRecentErrors(redis, config);
    expect(recorded).toMatchObject({
      operation: 'start_recording',
      error_type: 'ConnectionError',
      error_message: 'WebSocket not connected',
      retry_count: 3,
      context: { device_sn: 'T8600P2323209876' },
      occurrences: 1,
    });
    expect(recorded!.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(recorded!.traceback).toMatch(/^ConnectionError: WebSocket not connected\n\s+at /);
    expect(recorded!.traceback).toContain('Caused by: Error: socket hang up');

    const webhooks = await systemErrors();
    expect(webhooks).toEqual([
      {
        event: 'system_error',
        operation: 'start_recording',
        error_type: 'ConnectionError',
        error_message: 'WebSocket not connected',
        retry_count: 3,
        timestamp: recorded!.timestamp,
        context: { device_sn: 'T8600P2323209876' },
        traceback: recorded!.traceback,
      },
    ]);
  });

  it('folds a storm: the same operation and error type once per window, with a count of the folded ones', async () => {
    const { config, reporter, systemErrors, lines } = await setup({ ERROR_FOLD_SECONDS: '0.5' });
    const outcomes = [];
    for (let i = 0; i < 5; i++) {
      outcomes.push(
        await reporter.report('upload', new ConnectionError(`refused #${i}`), { context: { i } }),
      );
    }
    await reporter.report('upload', new TypeError('bad chunk'));
    await reporter.report('ffmpeg', new ConnectionError('pipe closed'));

    expect(outcomes.map((o) => o.outcome)).toEqual(['reported', 'folded', 'folded', 'folded', 'folded']);
    expect(outcomes[4]).toMatchObject({ into: (outcomes[0] as { id: string }).id, occurrences: 5 });
    const recent = await readRecentErrors(redis, config);
    expect(recent.map((e) => [e.operation, e.error_type, e.occurrences])).toEqual([
      ['ffmpeg', 'ConnectionError', 1],
      ['upload', 'TypeError', 1],
      ['upload', 'ConnectionError', 5],
    ]);
    expect((await systemErrors()).map((p) => `${p.operation}/${p.error_type}`).sort()).toEqual([
      'ffmpeg/ConnectionError',
      'upload/ConnectionError',
      'upload/TypeError',
    ]);
    // Folded errors are still logged, each of them.
    expect(lines.filter((l) => String(l.msg).startsWith('upload failed'))).toHaveLength(6);

    // After the window the next one goes through and says how many were folded since the last report.
    await new Promise((r) => setTimeout(r, 550));
    expect(await reporter.report('upload', new ConnectionError('refused again'))).toMatchObject({
      outcome: 'reported',
    });
    const latest = (await systemErrors()).find((p) => p.error_message === 'refused again');
    expect(latest!.context).toEqual({ folded_since_last_report: 4 });
  });

  it('does not fold with ERROR_FOLD_SECONDS=0', async () => {
    const { reporter, systemErrors } = await setup({ ERROR_FOLD_SECONDS: '0' });
    for (let i = 0; i < 3; i++) await reporter.report('upload', new ConnectionError('refused'));
    expect(await systemErrors()).toHaveLength(3);
  });

  it('keeps RECENT_ERRORS_MAX entries, newest first', async () => {
    const { config, reporter } = await setup({ RECENT_ERRORS_MAX: '3' });
    const first = await reporter.report('operation_0', new Error('boom'));
    await reporter.report('operation_0', new Error('boom')); // folded into the first
    expect(await redis.hget(foldedCountsKey(config), (first as { id: string }).id)).toBe('1');
    for (let i = 1; i < 5; i++) await reporter.report(`operation_${i}`, new Error('boom'));
    // The dropped entry takes its folded count with it.
    expect(await redis.hexists(foldedCountsKey(config), (first as { id: string }).id)).toBe(0);
    expect((await readRecentErrors(redis, config)).map((e) => e.operation)).toEqual([
      'operation_4',
      'operation_3',
      'operation_2',
    ]);
    expect((await readRecentErrors(redis, config, 1)).map((e) => e.operation)).toEqual(['operation_4']);
  });

  it('never throws: without Redis the error is only logged, and the caller is told so', async () => {
    const { config, webhooks } = await setup();
    const dead = createRedis({ REDIS_URL: 'redis://127.0.0.1:1' }, 'producer');
    dead.on('error', () => undefined);
    const { lines, destination } = logCapture();
    const offline = new ErrorReporter({
      config,
      redis: dead,
      webhooks,
      logger: createLogger({ destination }),
    });
    const outcome = await offline.report('start_recording', new ConnectionError('WebSocket not connected'));
    dead.disconnect();
    expect(outcome).toMatchObject({ outcome: 'unrecorded' });
    expect(lines.map((l) => l.msg)).toEqual([
      'start_recording failed',
      'the error above could not be recorded in Redis',
    ]);
    expect(lines[0]).toMatchObject({ err: { message: 'WebSocket not connected' } });
  });
  it('keeps the list entry and says so when the system_error webhook cannot be queued', async () => {
    const { config } = await setup();
    const bare = openQueue(deliverWebhookJob, { connection: redis, prefix: config.REDIS_PREFIX });
    const reporter = new ErrorReporter({
      config,
      redis,
      webhooks: bare,
      logger: createLogger({ level: 'silent' }),
    });
    const outcome = await reporter.report('start_recording', new ConnectionError('WebSocket not connected'));
    await bare.close();
    expect(outcome).toMatchObject({
      outcome: 'not_sent',
      reason: expect.stringContaining('openWebhookQueue'),
    });
    expect((await readRecentErrors(redis, config)).map((e) => e.id)).toEqual([
      (outcome as { id: string }).id,
    ]);
  });
});

describe('ErrorReporter.runWithRetries', () => {
  it('returns the result when a retry succeeds, and reports nothing', async () => {
    const { config, reporter } = await setup();
    let calls = 0;
    const result = await reporter.runWithRetries('start_livestream', async (attempt) => {
      calls++;
      if (attempt < 3) throw new ConnectionError('busy');
      return 'streaming';
    });
    expect(result).toBe('streaming');
    expect(calls).toBe(3);
    expect(await readRecentErrors(redis, config)).toEqual([]);
  });

  it('after RETRY_ATTEMPTS retries with growing delays, reports the last error with its retry count and throws it', async () => {
    const { config, reporter, systemErrors } = await setup({
      RETRY_ATTEMPTS: '3',
      RETRY_BASE_DELAY_MS: '40',
    });
    const tries: number[] = [];
    await expect(
      reporter.runWithRetries(
        'start_livestream',
        async (attempt) => {
          tries.push(performance.now());
          throw new ConnectionError(`station busy (try ${attempt})`);
        },
        { context: { device_sn: 'T8600P2323209876' } },
      ),
    ).rejects.toThrow('station busy (try 4)');
    expect(tries).toHaveLength(4);
    const gaps = tries.slice(1).map((t, i) => t - tries[i]!);
    // 40, 80, 160 ms ± 10 %: each gap is longer than the one before.
    expect(gaps[0]).toBeGreaterThanOrEqual(35);
    expect(gaps[1]).toBeGreaterThan(gaps[0]!);
    expect(gaps[2]).toBeGreaterThan(gaps[1]!);
    expect(await readRecentErrors(redis, config)).toEqual([
      expect.objectContaining({
        operation: 'start_livestream',
        error_message: 'station busy (try 4)',
        retry_count: 3,
        context: { device_sn: 'T8600P2323209876' },
      }),
    ]);
    expect(await systemErrors()).toHaveLength(1);
  });

  it('does not retry an error retryIf rejects', async () => {
    const { config, reporter } = await setup();
    let calls = 0;
    await expect(
      reporter.runWithRetries(
        'parse_event',
        async () => {
          calls++;
          throw new TypeError('not an event');
        },
        { retryIf: (err) => !(err instanceof TypeError) },
      ),
    ).rejects.toThrow('not an event');
    expect(calls).toBe(1);
    expect((await readRecentErrors(redis, config))[0]).toMatchObject({
      error_type: 'TypeError',
      retry_count: 0,
    });
  });

  it('stops waiting and reports nothing when its signal aborts (shutdown)', async () => {
    const { config, reporter } = await setup({ RETRY_BASE_DELAY_MS: '5000' });
    const controller = new AbortController();
    const running = reporter.runWithRetries(
      'start_livestream',
      async () => {
        throw new ConnectionError('busy');
      },
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 30);
    const t0 = Date.now();
    await expect(running).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await readRecentErrors(redis, config)).toEqual([]);
  });
});

describe('errorType', () => {
  it('names the error class, or the system code of a plain Error', () => {
    expect(errorType(new ConnectionError('x'))).toBe('ConnectionError');
    expect(errorType(new TypeError('x'))).toBe('TypeError');
    expect(errorType(Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' }))).toBe(
      'ECONNREFUSED',
    );
    expect(errorType(new Error('x'))).toBe('Error');
    expect(errorType('just a string')).toBe('NonError');
    expect(errorType({ message: 'x' })).toBe('NonErrorObject');
  });
});
