import { startSimulator } from '@eufy-relay/eufy-sim';
import { waitFor } from '@eufy-relay/testing';
import {
  CAM_A,
  CAM_B,
  HOMEBASE,
  MARKER,
  scenario,
  sleep,
  SOLO_BATTERY,
  SOLO_MAINS,
  waitForSome,
  World,
} from './helpers';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

describe('motion signals', () => {
  it('motion on a simulated camera yields exactly one recorder job with the right payload', async () => {
    world = await World.create();
    await world.startIngestAndSync();
    const sim = world.simulator;

    const before = Date.now();
    sim.triggerDetection(CAM_A, 'motion');
    const [on] = await waitForSome(() => world!.motionSignals(CAM_A), 'motion job');
    const after = Date.now();
    expect(on).toEqual({
      id: expect.stringMatching(new RegExp(`^motion\\.${CAM_A}\\.motion\\.on\\.\\d+$`)),
      name: 'motion-signal',
      device_sn: CAM_A,
      kind: 'motion',
      state: true,
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      source_event: 'motion detected',
    });
    const at = Date.parse(on!.at);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(after);

    // More motion while the flag is on only extends it on the bridge: no second job.
    sim.triggerDetection(CAM_A, 'motion');
    await world.barrier();
    expect(await world.motionSignals(CAM_A)).toHaveLength(1);
    expect(await world.registry.getDevice(CAM_A)).toMatchObject({ last_motion_at: at });

    sim.endDetection(CAM_A, 'motion');
    await world.barrier();
    const signals = await world.motionSignals(CAM_A);
    expect(signals.map((s) => [s.kind, s.state, s.source_event])).toEqual([
      ['motion', true, 'motion detected'],
      ['motion', false, 'motion detected'],
    ]);
    // Nothing for any other camera.
    const others = (await world.motionSignals()).filter(
      (s) => s.device_sn !== CAM_A && s.device_sn !== MARKER,
    );
    expect(others).toEqual([]);
  });

  it('a person detection gives person and motion signals; kinds outside MOTION_TRIGGERS give none', async () => {
    world = await World.create({ env: { MOTION_TRIGGERS: 'motion,person,ring' } });
    await world.startIngestAndSync();
    const sim = world.simulator;

    sim.triggerDetection(CAM_B, 'sound');
    sim.triggerDetection(CAM_B, 'person');
    sim.triggerDetection(SOLO_MAINS, 'ring');
    await world.barrier();
    expect((await world.motionSignals(CAM_B)).map((s) => [s.kind, s.state, s.source_event])).toEqual([
      ['person', true, 'person detected'],
      ['motion', true, 'motion detected'],
    ]);
    expect((await world.motionSignals(SOLO_MAINS)).map((s) => [s.kind, s.state, s.source_event])).toEqual([
      ['ring', true, 'rings'],
    ]);
  });

  it('a replay after a reconnect makes no second job; an edge missed while disconnected is caught up', async () => {
    world = await World.create();
    await world.startIngestAndSync();
    let sim = world.simulator;

    sim.triggerDetection(CAM_A, 'motion');
    await world.barrier();
    expect(await world.motionSignals(CAM_A)).toHaveLength(1);

    // The connection drops while the flag is on: after reconnecting, ingest reads the flag again.
    await world.dropAndReconnect();
    await world.barrier();
    expect(await world.motionSignals(CAM_A)).toHaveLength(1);

    // The bridge restarts (its flags start cleared): the clearing that ingest never saw is written.
    const port = sim.port;
    await sim.stop({ graceful: false });
    sim = await startSimulator(scenario({ server: { host: '127.0.0.1', port, controlPort: 0 } }));
    try {
      await waitFor('ingest reconnected to the new bridge', () => sim.snapshot().clients.length === 1);
      await waitFor('caught-up clearing', async () => (await world!.motionSignals(CAM_A)).length === 2);
      expect((await world.motionSignals(CAM_A))[1]).toMatchObject({
        kind: 'motion',
        state: false,
        source_event: 'motion flag read after (re)connecting',
      });
      await sleep(100);
      expect(await world.motionSignals(CAM_A)).toHaveLength(2);
    } finally {
      await sim.stop({ graceful: false });
    }
  });
});

describe('bad input', () => {
  it('a detection whose serial breaks the job contract is reported once, and later events still flow', async () => {
    const odd = 'CAM_WITH_UNDERSCORE';
    world = await World.create({
      sim: { devices: [...scenario().devices!, { serialNumber: odd, name: 'Odd' }] },
    });
    await world.startIngestAndSync();
    world.simulator.sendMalformed('bad_fields');
    world.simulator.sendMalformed('json');
    world.simulator.triggerDetection(odd, 'motion');
    world.simulator.triggerDetection(CAM_A, 'motion');
    await world.barrier();

    const errors = await world.webhookJobs('system_error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.payload).toMatchObject({
      operation: 'ingest_write',
      error_type: 'InvalidJobPayloadError',
      retry_count: 0,
      context: { write: `motion ${odd} motion on` },
    });
    expect(errors[0]!.payload.error_message).toMatch(/^invalid motion\/motion-signal payload: device_sn: /);
    expect(await world.motionSignals(odd)).toEqual([]);
    expect(await world.motionSignals(CAM_A)).toHaveLength(1);
    expect(await world.registry.getDevice(odd)).toMatchObject({ name: 'Odd', is_camera: true });
  });
});

describe('device registry', () => {
  it('holds every device from the listen state and follows property changes and events', async () => {
    world = await World.create();
    const started = Date.now();
    await world.startIngestAndSync();
    const devices = await world.registry.listDevices();
    expect(devices.map((d) => d.serial)).toEqual([CAM_A, CAM_B, MARKER, SOLO_BATTERY, SOLO_MAINS].sort());
    expect(devices.find((d) => d.serial === CAM_A)).toMatchObject({
      name: 'Driveway',
      model: 'T8113',
      type: 8,
      station_serial: HOMEBASE,
      is_camera: true,
      online: true,
      state: 1,
      battery: 76,
      last_motion_at: null,
      recording_id: null,
    });
    expect(devices.find((d) => d.serial === SOLO_MAINS)).toMatchObject({
      name: 'Hall',
      model: 'T8410',
      type: 30,
      station_serial: SOLO_MAINS,
      battery: null,
      charging: null,
    });
    expect((await world.registry.listStations()).map((s) => [s.serial, s.connected])).toEqual(
      [
        [HOMEBASE, true],
        [SOLO_BATTERY, true],
        [SOLO_MAINS, true],
      ].sort(),
    );

    world.simulator.setBattery(CAM_A, 64);
    await world.barrier();
    const cam = await world.registry.getDevice(CAM_A);
    expect(cam).toMatchObject({ battery: 64 });
    expect(cam!.last_seen_at).toBeGreaterThanOrEqual(started);

    // It survives a restart of ingest, and a restart writes it again from the bridge.
    await world.stopIngest();
    expect(await world.registry.getDevice(CAM_A)).toMatchObject({ battery: 64, name: 'Driveway' });
    world.simulator.setBattery(CAM_A, 63);
    await world.startIngestAndSync();
    expect(await world.registry.getDevice(CAM_A)).toMatchObject({ battery: 63 });
  });
});
