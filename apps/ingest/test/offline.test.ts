import { waitFor } from '@eufy-relay/testing';
import {
  CAM_A,
  CAM_B,
  HOMEBASE,
  MARKER,
  sleep,
  SOLO_BATTERY,
  SOLO_MAINS,
  waitForSome,
  World,
} from './helpers';

// OFFLINE_DEBOUNCE_SECONDS is 0.6 here (helpers.ts).
const DEBOUNCE_MS = 600;

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

function alerts<E extends 'camera_offline' | 'camera_online'>(event: E) {
  return world!.webhookJobs(event);
}

/** Waits past the debounce of anything that went offline before now, then until the writes are done. */
async function pastDebounce(): Promise<void> {
  await sleep(DEBOUNCE_MS * 2);
  await world!.barrier();
}

describe('camera_offline and camera_online', () => {
  it('offline for longer than the debounce: one camera_offline; back online: camera_online closes it', async () => {
    world = await World.create();
    await world.startIngestAndSync();
    const wentOffline = Date.now();
    world.simulator.setDeviceState(CAM_A, 0);
    const [offline] = await waitForSome(() => alerts('camera_offline'), 'camera_offline');
    expect(Date.now() - wentOffline).toBeGreaterThanOrEqual(DEBOUNCE_MS);
    expect(offline!.payload).toEqual({
      event: 'camera_offline',
      device_sn: CAM_A,
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      reason: 'disconnected',
    });
    const startedMs = Number(offline!.id.split('.')[2]);
    expect(offline!.id).toBe(`camera_offline.${CAM_A}.${startedMs}`);
    expect(Math.abs(startedMs - wentOffline)).toBeLessThan(1000);
    expect(await world.registry.getDevice(CAM_A)).toMatchObject({ online: false, state: 0 });

    await pastDebounce();
    expect(await alerts('camera_offline')).toHaveLength(1);

    await sleep(1100); // so that offline_seconds is at least 1
    const cameBack = Date.now();
    world.simulator.setDeviceState(CAM_A, 1);
    const [online] = await waitForSome(() => alerts('camera_online'), 'camera_online');
    expect(online!.id).toBe(`camera_online.${CAM_A}.${startedMs}`);
    expect(online!.payload).toEqual({
      event: 'camera_online',
      device_sn: CAM_A,
      timestamp: expect.any(String),
      offline_seconds: Math.round((cameBack - startedMs) / 1000),
    });
    expect(await world.redis.exists(`${world.config.REDIS_PREFIX}:outage:${CAM_A}`)).toBe(0);
    expect(await world.registry.getDevice(CAM_A)).toMatchObject({ online: true, state: 1 });
  });

  it('offline then online inside the debounce: nothing, and its check is gone', async () => {
    world = await World.create();
    await world.startIngestAndSync();
    world.simulator.setDeviceState(CAM_A, 0);
    await world.barrier();
    expect(await world.alerts.getDelayedCount()).toBe(1);
    world.simulator.setDeviceState(CAM_A, 1);
    await world.barrier();
    expect(await world.alerts.getDelayedCount()).toBe(0);
    await pastDebounce();
    expect(await world.webhookJobs()).toEqual([]);
    expect(await world.redis.exists(`${world.config.REDIS_PREFIX}:outage:${CAM_A}`)).toBe(0);
  });

  it('two outages give two alerts; more offline signals within one outage give one', async () => {
    world = await World.create();
    await world.startIngestAndSync();
    const sim = world.simulator;
    for (let outage = 1; outage <= 2; outage++) {
      sim.setDeviceState(CAM_B, 0);
      sim.setDeviceState(CAM_B, 3); // the reason changes: still the same outage
      await world.barrier();
      await world.dropAndReconnect(); // a replay of the whole state: still the same outage
      await waitFor(`alert ${outage}`, async () => (await alerts('camera_offline')).length === outage);
      await pastDebounce();
      sim.setDeviceState(CAM_B, 1);
      await waitFor(`online ${outage}`, async () => (await alerts('camera_online')).length === outage);
    }
    const offline = await alerts('camera_offline');
    expect(offline.map((a) => [a.payload.device_sn, a.payload.reason])).toEqual([
      [CAM_B, 'offline_low_battery'],
      [CAM_B, 'offline_low_battery'],
    ]);
    expect(new Set(offline.map((a) => a.id)).size).toBe(2);
    expect(await alerts('camera_online')).toHaveLength(2);
  });

  it('a HomeBase losing its link alerts for its cameras; a standalone battery camera doing so is normal', async () => {
    world = await World.create();
    await world.startIngestAndSync();
    const sim = world.simulator;
    // Only the P2P link: the cameras' own state stays 1, as until the next cloud refresh.
    sim.setStationConnected(HOMEBASE, false, { devices: false });
    sim.setStationConnected(SOLO_BATTERY, false, { devices: false });
    sim.setStationConnected(SOLO_MAINS, false, { devices: false });
    await waitFor('station alerts', async () => (await alerts('camera_offline')).length >= 4);
    await pastDebounce();
    const offline = await alerts('camera_offline');
    // MARKER is on the HomeBase too.
    expect(offline.map((a) => a.payload.device_sn).sort()).toEqual([CAM_A, CAM_B, MARKER, SOLO_MAINS].sort());
    expect(offline.every((a) => a.payload.reason === 'station_disconnected')).toBe(true);
    expect(await world.registry.getDevice(SOLO_BATTERY)).toMatchObject({ online: true });
    expect((await world.registry.listStations()).find((s) => s.serial === HOMEBASE)).toMatchObject({
      connected: false,
    });

    sim.setStationConnected(HOMEBASE, true, { devices: false });
    await waitFor(
      'cameras back with their station',
      async () => (await alerts('camera_online')).length === 3,
    );
    await world.barrier();
    expect((await alerts('camera_online')).map((a) => a.payload.device_sn).sort()).toEqual(
      [CAM_A, CAM_B, MARKER].sort(),
    );
  });

  it('a restart of ingest inside the debounce window still yields exactly one alert', async () => {
    world = await World.create({ env: { OFFLINE_DEBOUNCE_SECONDS: '1.5' } });
    await world.startIngestAndSync();
    const wentOffline = Date.now();
    world.simulator.setDeviceState(CAM_A, 0);
    await world.barrier();
    await world.stopIngest();
    expect(Date.now() - wentOffline).toBeLessThan(1500);
    expect(await world.webhookJobs()).toEqual([]);

    await world.startIngestAndSync();
    await waitFor('camera_offline after restart', async () => (await alerts('camera_offline')).length > 0);
    const [offline] = await alerts('camera_offline');
    // The outage kept its start across the restart.
    expect(Math.abs(Number(offline!.id.split('.')[2]) - wentOffline)).toBeLessThan(1000);

    // Restarting again once alerted, the camera still offline: nothing more.
    await world.stopIngest();
    await world.startIngestAndSync();
    await sleep(1500 * 1.5);
    await world.barrier();
    expect(await alerts('camera_offline')).toHaveLength(1);

    // The camera comes back while ingest is down: the next start closes the outage.
    await world.stopIngest();
    world.simulator.setDeviceState(CAM_A, 1);
    await world.startIngestAndSync();
    await waitFor('camera_online after restart', async () => (await alerts('camera_online')).length === 1);
    expect(await alerts('camera_offline')).toHaveLength(1);
  });
});
