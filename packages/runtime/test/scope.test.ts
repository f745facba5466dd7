import { createServer } from 'node:net';
import { Queue } from 'bullmq';

import { createLogger, logCapture } from '@eufy-relay/logger';
import { testConfig, waitFor } from '@eufy-relay/testing';
import { createRedis, deletePrefixKeys, redisReady, startRole } from '../src';

const prefix = `eufy-relay-test-scope-${process.pid}`;
const config = testConfig(prefix, { SHUTDOWN_TIMEOUT_SECONDS: '5' });

function capturedLogger() {
  const { lines, destination } = logCapture();
  return { lines, logger: createLogger({ destination, level: 'debug' }) };
}

/** The connection names CLIENT LIST shows under this test's prefix. */
async function clientNames(): Promise<string[]> {
  const admin = createRedis(config, 'worker');
  try {
    const list = (await admin.client('LIST')) as string;
    return list
      .split('\n')
      .map((line) => /name=(\S*)/.exec(line)?.[1] ?? '')
      .filter((name) => name.startsWith(`${prefix}:`))
      .sort();
  } finally {
    await admin.quit();
  }
}

/** A port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('startRole', () => {
  afterAll(async () => {
    const admin = createRedis(config, 'worker');
    await deletePrefixKeys(admin, prefix);
    await admin.quit();
  });

  it('names the connections it opens, closes them and its queues on stop, says the role stopped', async () => {
    const { lines, logger } = capturedLogger();
    let queue: Queue | undefined;
    const role = await startRole('probe', config, { logger }, async (scope) => {
      const producer = scope.redis('producer');
      await Promise.all([redisReady(producer), redisReady(scope.redis('worker', 'probe-worker'))]);
      queue = scope.queue(new Queue('probe', { connection: producer, prefix }));
      await queue.add('before', {});
      return scope.running({ url: 'http://probe' });
    });
    expect(role.name).toBe('probe');
    expect(role.url).toBe('http://probe');
    expect(await clientNames()).toEqual([`${prefix}:probe`, `${prefix}:probe-worker`]);

    await role.stop();
    await expect(queue!.add('after', {})).rejects.toThrow();
    await waitFor('the condition', async () => (await clientNames()).length === 0);
    expect(lines.some((l) => l.msg === 'shutdown step did not finish in time')).toBe(false);
    expect(lines.filter((l) => l.msg === 'role probe stopped')).toEqual([
      expect.objectContaining({ role: 'probe', level: 30 }),
    ]);
  });

  it('closes what a failed start had opened and passes the error on', async () => {
    const { lines, logger } = capturedLogger();
    const closed: string[] = [];
    const failure = startRole('broken', config, { logger }, async (scope) => {
      const redis = scope.redis('worker');
      await redisReady(redis);
      scope.shutdown.add('something else', () => closed.push('something else'));
      throw new Error('start failed on purpose');
    });
    await expect(failure).rejects.toThrow('start failed on purpose');
    expect(closed).toEqual(['something else']);
    await waitFor('the condition', async () => (await clientNames()).length === 0);
    // Not started, so not "stopped": the caller reports the failure.
    expect(lines.some((l) => l.msg === 'role broken stopped')).toBe(false);
  });

  it('stops at once when Redis was never reachable, without waiting out the bound', async () => {
    const { lines, logger } = capturedLogger();
    const unreachable = { ...config, REDIS_URL: `redis://127.0.0.1:${await closedPort()}` };
    const role = await startRole('lonely', unreachable, { logger }, async (scope) => {
      scope.redis('worker');
      scope.redis('producer', 'lonely-producer');
      return scope.running();
    });
    // Let both connections fail once: their errors are logged at debug, not thrown or printed.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    await role.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(lines.some((l) => l.msg === 'shutdown step did not finish in time')).toBe(false);
    expect(lines.filter((l) => l.msg === 'redis connection error').map((l) => l.connection)).toEqual(
      expect.arrayContaining(['lonely', 'lonely-producer']),
    );
  });
});
