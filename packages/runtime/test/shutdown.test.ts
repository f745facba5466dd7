import { Queue, Worker } from 'bullmq';

import { createLogger, logCapture } from '@eufy-relay/logger';
import { testConfig, waitFor } from '@eufy-relay/testing';
import {
  ShutdownStack,
  closeWorker,
  createRedis,
  redisKey,
  redisReady,
  startRoles,
  type RunningRole,
} from '../src';

const prefix = `eufy-relay-test-runtime-${process.pid}`;
const config = testConfig(prefix);
const connection = { url: config.REDIS_URL, maxRetriesPerRequest: null };

function capturedLogger() {
  const { lines, destination } = logCapture();
  return { lines, logger: createLogger({ destination, level: 'debug' }) };
}

describe('ShutdownStack', () => {
  it('closes in reverse order of opening, and keeps going past a failing step', async () => {
    const { lines, logger } = capturedLogger();
    const order: string[] = [];
    const stack = new ShutdownStack(logger);
    stack.add('redis', () => order.push('redis'));
    stack.add('queue', async () => {
      order.push('queue');
      throw new Error('boom');
    });
    stack.add('worker', () => order.push('worker'));
    expect(await stack.closeAll(1000)).toBe(false);
    expect(order).toEqual(['worker', 'queue', 'redis']);
    expect(lines.find((l) => l.msg === 'shutdown step failed')).toMatchObject({ step: 'queue' });
    // A second call does not run the steps again.
    expect(await stack.closeAll(1000)).toBe(false);
    expect(order).toHaveLength(3);
  });

  it('bounds a hanging step and still runs the ones after it', async () => {
    const { lines, logger } = capturedLogger();
    const order: string[] = [];
    const stack = new ShutdownStack(logger);
    stack.add('child-process', () => order.push('child-process'));
    stack.add('hangs', () => new Promise(() => undefined));
    const t0 = Date.now();
    expect(await stack.closeAll(200)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(order).toEqual(['child-process']);
    expect(lines.find((l) => l.msg === 'shutdown step did not finish in time')).toMatchObject({
      step: 'hangs',
    });
  });
});

describe('graceful shutdown of a real BullMQ worker', () => {
  const queueName = 'shutdown-test';
  let queue: Queue;
  beforeAll(() => {
    queue = new Queue(queueName, { connection, prefix });
  });
  afterAll(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
  });

  it('lets a running job finish, then closes the worker so it takes no more jobs', async () => {
    const { logger } = capturedLogger();
    const done: string[] = [];
    const worker = new Worker(
      queueName,
      async (job) => {
        await new Promise((r) => setTimeout(r, 150));
        done.push(job.id!);
      },
      { connection, prefix },
    );
    const stack = new ShutdownStack(logger);
    stack.add('worker', closeWorker(worker, 5000));
    await queue.add('j', {}, { jobId: 'first' });
    await waitFor('the condition', async () => (await queue.getActiveCount()) === 1);
    expect(await stack.closeAll(5000)).toBe(true);
    expect(done).toEqual(['first']);
    expect(worker.isRunning()).toBe(false);
    await queue.add('j', {}, { jobId: 'after-close' });
    await new Promise((r) => setTimeout(r, 200));
    expect(await queue.getJobState('after-close')).toBe('waiting');
    expect(await queue.getJobState('first')).toBe('completed');
  });

  it('aborts a job that outlives the grace period through its AbortSignal', async () => {
    const { logger } = capturedLogger();
    let aborted = false;
    const worker = new Worker(
      queueName,
      (_job, _token, signal) =>
        new Promise<void>((_resolve, reject) => {
          signal?.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted by shutdown'));
          });
        }),
      { connection, prefix },
    );
    const stack = new ShutdownStack(logger);
    stack.add('worker', closeWorker(worker, 100));
    await queue.add('j', {}, { jobId: 'long' });
    await waitFor('the condition', async () => (await queue.getActiveCount()) === 1);
    const t0 = Date.now();
    expect(await stack.closeAll(5000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(aborted).toBe(true);
    expect(worker.isRunning()).toBe(false);
  });
});

describe('startRoles', () => {
  it('starts the named roles in canonical order and stops them in reverse', async () => {
    const events: string[] = [];
    const fake = (name: string) => async (): Promise<RunningRole> => {
      events.push(`start ${name}`);
      return { name, stop: async () => void events.push(`stop ${name}`) };
    };
    const starters = {
      ingest: fake('ingest'),
      recorder: fake('recorder'),
      notifier: fake('notifier'),
      janitor: fake('janitor'),
      api: fake('api'),
    };
    const running = await startRoles(['api', 'janitor'], starters, config);
    expect(running.name).toBe('janitor,api');
    await running.stop();
    expect(events).toEqual(['start janitor', 'start api', 'stop api', 'stop janitor']);
  });

  it('stops what it started when a later role fails to start', async () => {
    const events: string[] = [];
    const ok = (name: string) => async (): Promise<RunningRole> => ({
      name,
      stop: async () => void events.push(`stop ${name}`),
    });
    const starters = {
      ingest: ok('ingest'),
      recorder: async (): Promise<RunningRole> => {
        throw new Error('no ffmpeg');
      },
      notifier: ok('notifier'),
      janitor: ok('janitor'),
      api: ok('api'),
    };
    await expect(startRoles(['ingest', 'recorder', 'api'], starters, config)).rejects.toThrow('no ffmpeg');
    expect(events).toEqual(['stop ingest']);
  });
});

describe('redis helpers', () => {
  it('builds prefixed keys and a producer connection that fails fast while Redis is away', async () => {
    expect(redisKey(config, 'devices', 'T1')).toBe(`${prefix}:devices:T1`);
    const dead = createRedis({ REDIS_URL: 'redis://127.0.0.1:1' }, 'producer');
    dead.on('error', () => undefined);
    const t0 = Date.now();
    await expect(dead.set('k', 'v')).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(2000);
    dead.disconnect();
  });

  it('redisReady waits until a producer connection takes commands, and fails if it is closed first', async () => {
    const producer = createRedis(config, 'producer');
    await redisReady(producer);
    expect(await producer.ping()).toBe('PONG');
    await redisReady(producer); // already ready: resolves at once
    await producer.quit();

    const dead = createRedis({ REDIS_URL: 'redis://127.0.0.1:1' }, 'producer');
    dead.on('error', () => undefined);
    const waiting = redisReady(dead);
    dead.disconnect();
    await expect(waiting).rejects.toThrow(/closed before it became ready/);
  });
});
