import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { waitFor } from '@eufy-relay/testing';
import {
  CAM_A,
  CAM_B,
  freePort,
  type MotionSignal,
  sleep,
  SOLO_BATTERY,
  SOLO_MAINS,
  waitForSome,
  World,
} from './helpers';

// A private redis-server on its own port, stopped and started again by the test (no persistence:
// it comes back empty, so everything in it afterwards was written after the outage).

const CAMERAS = [CAM_A, CAM_B, SOLO_BATTERY, SOLO_MAINS];

async function startRedis(port: number, extraArgs: string[] = []): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs],
    {
      stdio: 'ignore',
    },
  );
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 20 });
  probe.on('error', () => undefined);
  await waitFor(`redis-server on ${port}`, () =>
    probe.ping().then(
      (r) => r === 'PONG',
      () => false,
    ),
  );
  probe.disconnect();
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

let world: World | undefined;
let server: ChildProcess | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
  if (server) await stopRedis(server);
  server = undefined;
});

/** Fires `count` motion events round-robin across CAMERAS (each begins and clears), over `spreadMs`. */
async function fireMotion(w: World, count: number, spreadMs: number): Promise<void> {
  const started = Date.now();
  for (let i = 0; i < count; i++) {
    const camera = CAMERAS[i % CAMERAS.length]!;
    w.simulator.triggerDetection(camera, 'motion');
    w.simulator.endDetection(camera, 'motion');
    // The WebSocket to the bridge stays up the whole time.
    expect(w.simulator.snapshot().clients).toHaveLength(1);
    await sleep(Math.max(0, started + ((i + 1) * spreadMs) / count - Date.now()));
  }
}

function perCamera(signals: MotionSignal[]): Map<string, MotionSignal[]> {
  const by = new Map<string, MotionSignal[]>();
  for (const s of signals) by.set(s.device_sn, [...(by.get(s.device_sn) ?? []), s]);
  return by;
}

describe('Redis outage', () => {
  it('stopped for 5 s while 100 motion events fire across cameras: all reach Redis after, in order per camera', async () => {
    const port = await freePort();
    server = await startRedis(port);
    world = await World.create({ env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
    await world.startIngestAndSync();

    await stopRedis(server);
    const stoppedAt = Date.now();
    await fireMotion(world, 100, 4000);
    await sleep(Math.max(0, stoppedAt + 5000 - Date.now()));
    server = await startRedis(port);

    const signals = await waitFor(
      'all 200 motion signals',
      async () => {
        const all = (await world!.motionSignals()).filter((s) => CAMERAS.includes(s.device_sn));
        return all.length >= 200 && all;
      },
      { timeoutMs: 20_000 },
    );
    await world.barrier();
    expect((await world.motionSignals()).filter((s) => CAMERAS.includes(s.device_sn))).toHaveLength(200);
    const firstAt = Math.min(...signals.map((s) => Date.parse(s.at)));
    expect(firstAt).toBeGreaterThanOrEqual(stoppedAt);

    for (const camera of CAMERAS) {
      const mine = perCamera(signals).get(camera)!;
      // 25 motion events: began, cleared, began, cleared… in the order the camera produced them.
      expect(mine.map((s) => s.state)).toEqual(Array.from({ length: 50 }, (_, i) => i % 2 === 0));
      const times = mine.map((s) => Date.parse(s.at));
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
    // Every camera's device record was there before the outage and is again (state re-written).
    expect((await world.registry.listDevices()).length).toBeGreaterThan(0);
  });

  it('Redis full (maxmemory, noeviction): 40 motion events are held, none dropped, all written in order once memory is freed', async () => {
    const port = await freePort();
    server = await startRedis(port, ['--maxmemory-policy', 'noeviction']);
    world = await World.create({ env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
    await world.startIngestAndSync();
    const ours = async () => (await world!.motionSignals()).filter((s) => CAMERAS.includes(s.device_sn));
    const before = (await ours()).length;

    const filler = new Redis({ port, host: '127.0.0.1' });
    try {
      // maxmemory a megabyte under what Redis holds: every write is refused with OOM, as at a full
      // Redis (filling it up instead lands within a few bytes of the limit, where some writes pass).
      const used = Number(/used_memory:(\d+)/.exec(await filler.info('memory'))![1]);
      await filler.config('SET', 'maxmemory', String(used - 1_000_000));
      await expect(filler.set('probe', 'x')).rejects.toThrow(/OOM command not allowed/);
      await fireMotion(world, 40, 2000);
      await sleep(1000);
      // Nothing got through while Redis was full…
      expect((await ours()).length).toBe(before);
      await filler.config('SET', 'maxmemory', '0');
    } finally {
      filler.disconnect();
    }

    // …and nothing was lost: every begin and clear, in each camera's order.
    const signals = await waitFor(
      'all 80 motion signals',
      async () => {
        const all = (await ours()).slice(before);
        return all.length >= 80 && all;
      },
      { timeoutMs: 20_000 },
    );
    for (const camera of CAMERAS) {
      const mine = perCamera(signals).get(camera)!;
      expect(mine.map((s) => s.state)).toEqual(Array.from({ length: 20 }, (_, i) => i % 2 === 0));
    }
    expect(await world.webhookJobs('system_error')).toEqual([]);
  });

  it('Redis nearly full (80 % of maxmemory): a system_error says so while writes still go through', async () => {
    const port = await freePort();
    server = await startRedis(port, ['--maxmemory-policy', 'noeviction']);
    world = await World.create({ env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
    await world.startIngestAndSync();
    const admin = new Redis({ port, host: '127.0.0.1' });
    try {
      const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
      await admin.config('SET', 'maxmemory', String(Math.round(used / 0.9)));
      const [job] = await waitForSome(
        () => world!.webhookJobs('system_error'),
        'redis_memory system_error',
        10_000,
      );
      expect(job!.payload).toMatchObject({
        operation: 'redis_memory',
        error_type: 'RedisMemoryHigh',
        context: { maxmemory_bytes: Math.round(used / 0.9) },
      });
      expect(job!.payload.error_message).toMatch(/^Redis memory at \d+ % of maxmemory/);
    } finally {
      admin.disconnect();
    }
  });

  it('a buffer overflow drops the oldest events, says so with the count, and writes the state again', async () => {
    const port = await freePort();
    server = await startRedis(port);
    world = await World.create({
      env: { REDIS_URL: `redis://127.0.0.1:${port}`, INGEST_BUFFER_MAX_EVENTS: '30' },
    });
    await world.startIngestAndSync();

    await stopRedis(server);
    await fireMotion(world, 40, 400);
    world.simulator.setBattery(CAM_A, 9);
    server = await startRedis(port);

    const [job] = await waitForSome(
      () => world!.webhookJobs('system_error'),
      'overflow system_error',
      20_000,
    );
    const error = job!.payload;
    expect(error).toMatchObject({ operation: 'ingest_buffer', error_type: 'EventsDroppedError' });
    const dropped = Number(error.context.dropped);
    expect(error.error_message).toContain(`the ${dropped} oldest events were dropped`);
    await world.barrier();

    const signals = (await world.motionSignals()).filter((s) => CAMERAS.includes(s.device_sn));
    // 80 signals and a few last_seen writes went into a buffer of 30: the newest survived, and so did
    // each camera's oldest, already taken for writing when Redis went (one per camera). After such a
    // survivor a camera's next survivor may repeat its state, which is no new signal.
    const inFlight = CAMERAS.length;
    expect(dropped).toBeGreaterThanOrEqual(80 - 30 - inFlight);
    expect(signals.length).toBeLessThanOrEqual(30 + inFlight);
    expect(signals.length + dropped).toBeGreaterThanOrEqual(80 - inFlight);
    const last = signals.at(-1)!;
    expect([last.device_sn, last.state]).toEqual([CAMERAS[39 % CAMERAS.length], false]);
    // The state was written again from the bridge: the registry and the low battery are there.
    expect(await world.registry.getDevice(SOLO_MAINS)).toMatchObject({ name: 'Hall', online: true });
    await waitFor(
      'low_battery after resync',
      async () => (await world!.webhookJobs('low_battery')).length === 1,
    );
  });
});
