import { UnrecoverableError, Worker } from 'bullmq';

import { InvalidJobPayloadError, QUEUES, deliverWebhookJob, openQueue } from '@eufy-relay/contracts';
import { createRedis, redisReady } from '@eufy-relay/runtime';
import { testConfig } from '@eufy-relay/testing';
import { WEBHOOK_BACKOFF, enqueueWebhook, openWebhookQueue, replayWebhook } from '../src';

const prefix = `eufy-relay-test-webhooks-queue-${process.pid}`;
const config = testConfig(prefix, { WEBHOOK_RETRY_SCHEDULE_SECONDS: '0.2,0.4' });
const redis = createRedis(config, 'producer');
const queue = openWebhookQueue(config, redis);
const lowBattery = (level: number) => ({
  event: 'low_battery' as const,
  device_sn: 'T8600P2323209876',
  timestamp: '2025-01-30T10:15:00Z',
  battery_level: level,
});

beforeAll(() => redisReady(redis));

afterAll(async () => {
  await queue.obliterate({ force: true });
  await queue.close();
  await redis.quit();
});

describe('enqueueWebhook', () => {
  it('queues the payload under its webhook id with the retry schedule and retention', async () => {
    const job = await enqueueWebhook(queue, lowBattery(15), { webhookId: 'low_battery.T8600P2323209876.1' });
    expect(job.id).toBe('low_battery.T8600P2323209876.1');
    expect(job.data).toMatchObject({ webhook_id: job.id, payload: lowBattery(15) });
    expect(job.opts).toMatchObject({
      attempts: 3,
      backoff: { type: WEBHOOK_BACKOFF },
      removeOnFail: false,
      removeOnComplete: { count: 1000 },
    });
  });

  it('does nothing when the same webhook id is queued again', async () => {
    await enqueueWebhook(queue, lowBattery(10), { webhookId: 'low_battery.again' });
    await enqueueWebhook(queue, lowBattery(11), { webhookId: 'low_battery.again' });
    expect((await queue.getJob('low_battery.again'))!.data.payload).toMatchObject({ battery_level: 10 });
    const ids = (await queue.getJobs(['waiting']))
      .map((j) => j.id)
      .filter((id) => id === 'low_battery.again');
    expect(ids).toHaveLength(1);
  });

  it('rejects a payload that breaks the contract before anything reaches Redis', async () => {
    const before = await queue.count();
    await expect(
      enqueueWebhook(queue, { ...lowBattery(15), battery_level: 150 }, { webhookId: 'low_battery.bad' }),
    ).rejects.toThrow(InvalidJobPayloadError);
    await expect(enqueueWebhook(queue, lowBattery(15), { webhookId: 'has:colon' })).rejects.toThrow(/job id/);
    expect(await queue.count()).toBe(before);
  });

  it('refuses a webhooks queue opened without the retry schedule', async () => {
    const bare = openQueue(deliverWebhookJob, { connection: redis, prefix });
    await expect(enqueueWebhook(bare, lowBattery(15), { webhookId: 'low_battery.bare' })).rejects.toThrow(
      /openWebhookQueue/,
    );
    await bare.close();
  });
});

describe('replayWebhook', () => {
  it('re-queues a dead webhook with its id, payload and a fresh retry schedule', async () => {
    const replayPrefix = `${prefix}-replay`;
    const replayConfig = { ...config, REDIS_PREFIX: replayPrefix };
    const replayQueue = openWebhookQueue(replayConfig, redis);
    const workerRedis = createRedis(config, 'worker');
    let fail = true;
    const worker = new Worker(
      QUEUES.webhooks,
      async () => {
        if (fail) throw new UnrecoverableError('receiver said no');
        return 'sent';
      },
      { connection: workerRedis, prefix: replayPrefix, autorun: false },
    );
    try {
      await enqueueWebhook(replayQueue, lowBattery(5), { webhookId: 'low_battery.dead' });
      expect(await replayWebhook(replayQueue, 'low_battery.dead')).toEqual({
        outcome: 'pending',
        state: 'waiting',
      });
      expect(await replayWebhook(replayQueue, 'low_battery.unknown')).toEqual({ outcome: 'not_found' });
      await expect(replayWebhook(replayQueue, 'bad:id')).rejects.toThrow(/invalid webhook id/);

      const failed = new Promise((resolve) => worker.once('failed', resolve));
      // Fire-and-forget: run() resolves only when the worker closes (below); the test waits for its 'failed' event instead.
      void worker.run();
      await failed;
      const dead = await replayQueue.getJob('low_battery.dead');
      expect(await dead!.getState()).toBe('failed');
      expect(dead!.attemptsMade).toBe(1);

      fail = false;
      const completed = new Promise((resolve) => worker.once('completed', resolve));
      expect(await replayWebhook(replayQueue, 'low_battery.dead')).toEqual({ outcome: 'requeued' });
      await completed;
      const delivered = await replayQueue.getJob('low_battery.dead');
      expect(delivered!.data.payload).toEqual(lowBattery(5));
      expect(delivered!.attemptsMade).toBe(1); // the replay's own first attempt, not the dead one's second
      expect(await replayWebhook(replayQueue, 'low_battery.dead')).toEqual({ outcome: 'already_delivered' });
    } finally {
      await worker.close();
      await replayQueue.obliterate({ force: true });
      await replayQueue.close();
      await workerRedis.quit();
    }
  });
});
