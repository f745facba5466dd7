import { waitFor } from '@eufy-relay/testing';
import { CAM_A, MARKER, sleep, SOLO_BATTERY, World } from './helpers';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function lowBattery(serial = CAM_A) {
  return (await world!.webhookJobs('low_battery')).filter((j) => j.payload.device_sn === serial);
}

/** Sets the level on the simulated camera and waits until ingest has written what follows from it. */
async function battery(level: number, serial = CAM_A): Promise<void> {
  world!.simulator.setBattery(serial, level);
  await world!.barrier();
}

describe('low_battery', () => {
  it('15 %, then 14 % inside the cooldown: one alert; after the cooldown: another', async () => {
    world = await World.create({ env: { BATTERY_ALERT_COOLDOWN_SECONDS: '3' } });
    await world.startIngestAndSync();
    const cooldownStart = Date.now();
    await battery(15);
    await battery(14);
    const alerts = await lowBattery();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.payload).toEqual({
      event: 'low_battery',
      device_sn: CAM_A,
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      battery_level: 15,
    });
    expect(alerts[0]!.id).toMatch(new RegExp(`^low_battery\\.${CAM_A}\\.\\d+$`));
    // The second reading must land inside the cooldown for the test to mean anything: 3 s leaves
    // room for a loaded machine.
    expect(Date.now() - cooldownStart).toBeLessThan(3000);

    await sleep(3000 - (Date.now() - cooldownStart) + 50);
    await battery(13);
    expect((await lowBattery()).map((a) => a.payload.battery_level)).toEqual([15, 13]);
    expect(await lowBattery(SOLO_BATTERY)).toEqual([]);
  });

  it('re-arms when the charge rises BATTERY_REARM_PERCENT above the threshold, not when it wobbles', async () => {
    // BATTERY_LOW_PERCENT 20, BATTERY_REARM_PERCENT 5, cooldown a minute (helpers.ts).
    world = await World.create();
    await world.startIngestAndSync();
    for (const level of [20, 21, 19, 24, 18]) await battery(level);
    expect(await lowBattery()).toHaveLength(1);
    await battery(25); // re-armed
    await battery(19);
    await battery(17);
    expect((await lowBattery()).map((a) => a.payload.battery_level)).toEqual([20, 19]);
  });

  it('holds the cooldown across a restart and a replay of the state', async () => {
    world = await World.create();
    await world.startIngestAndSync();
    await battery(12);
    expect(await lowBattery()).toHaveLength(1);
    await world.dropAndReconnect();
    await world.barrier();
    await world.stopIngest();
    world.simulator.setBattery(CAM_A, 11);
    await world.startIngestAndSync();
    await battery(10);
    expect(await lowBattery()).toHaveLength(1);
    const ttl = await world.redis.pttl(`${world.config.REDIS_PREFIX}:battery-alert:${CAM_A}`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('a camera already low when ingest starts gets its alert', async () => {
    world = await World.create({
      sim: { devices: [{ serialNumber: CAM_A, battery: 9 }, { serialNumber: MARKER }] },
    });
    await world.startIngest();
    await waitFor('low_battery at start', async () => (await lowBattery()).length === 1);
    expect((await lowBattery())[0]!.payload).toMatchObject({ battery_level: 9 });
  });
});
