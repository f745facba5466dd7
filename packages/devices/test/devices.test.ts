import { createRedis } from '@eufy-relay/runtime';
import { testConfig } from '@eufy-relay/testing';
import { DeviceRegistry, HeartbeatStore } from '../src';

const config = testConfig(`eufy-relay-test-devices-${process.pid}`);
const redis = createRedis(config, 'worker');

afterAll(async () => {
  const keys = await redis.keys(`${config.REDIS_PREFIX}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

describe('DeviceRegistry', () => {
  const registry = new DeviceRegistry(redis, config);

  it('keeps fields of different writers apart and returns typed values', async () => {
    await registry.updateDevice(
      'T8113P0223000002',
      { name: 'Driveway', model: 'T8113', type: 8, is_camera: true, battery: 76, online: true },
      1000,
    );
    await registry.updateDevice(
      'T8113P0223000002',
      { recording_id: 'T8113P0223000002_20250130_143022', snoozed_until: null },
      2000,
    );
    await registry.updateDevice('T8113P0223000002', { battery: 18 }, 3000);
    expect(await registry.getDevice('T8113P0223000002')).toEqual({
      serial: 'T8113P0223000002',
      name: 'Driveway',
      model: 'T8113',
      type: 8,
      station_serial: null,
      is_camera: true,
      online: true,
      state: null,
      battery: 18,
      charging: null,
      last_motion_at: null,
      last_seen_at: null,
      recording_id: 'T8113P0223000002_20250130_143022',
      snoozed_until: null,
      video_source: null,
      video_source_reason: null,
      prebuffer: null,
      updated_at: 3000,
    });
    expect(await redis.hget(`${config.REDIS_PREFIX}:device:T8113P0223000002`, 'battery')).toBe('18');
  });

  it('lists devices sorted, survives a garbled field, and removes', async () => {
    await registry.updateDevice('T8400P1022000003', { name: 'Hall' });
    await redis.hset(`${config.REDIS_PREFIX}:device:T8400P1022000003`, 'battery', '{not json');
    const list = await registry.listDevices();
    expect(list.map((d) => d.serial)).toEqual(['T8113P0223000002', 'T8400P1022000003']);
    expect(list[1]).toMatchObject({ name: 'Hall', battery: null });
    await registry.removeDevice('T8400P1022000003');
    expect(await registry.getDevice('T8400P1022000003')).toBeNull();
    expect((await registry.listDevices()).map((d) => d.serial)).toEqual(['T8113P0223000002']);
  });

  it('tracks stations', async () => {
    await registry.updateStation('T8010P2321000001', { name: 'HomeBase', connected: false }, 5);
    expect(await registry.listStations()).toEqual([
      { serial: 'T8010P2321000001', name: 'HomeBase', model: null, connected: false, updated_at: 5 },
    ]);
  });
});

describe('HeartbeatStore', () => {
  const store = new HeartbeatStore(redis, config);

  it("reads a fresh heartbeat, calls an old one stale, and lets a dead writer's expire", async () => {
    expect(await store.read(1000)).toEqual({ heartbeat: null, stale: true, age_ms: null });
    const heartbeat = {
      connected: true,
      server_version: '1.9.1',
      schema_version: 21,
      driver_connected: true,
      push_connected: false,
      problems: ['push_disconnected' as const],
      last_event_at: 900,
      updated_at: 1000,
    };
    await store.write(heartbeat, 200);
    expect(await store.read(5000, 1500)).toEqual({ heartbeat, stale: false, age_ms: 500 });
    expect((await store.read(5000, 7000)).stale).toBe(true);
    await new Promise((r) => setTimeout(r, 250));
    expect((await store.read(5000)).heartbeat).toBeNull();
  });
});
