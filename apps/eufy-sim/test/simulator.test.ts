import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@eufy-relay/logger';
import { waitFor } from '@eufy-relay/testing';
import {
  assertFfmpeg,
  loadScenarioFile,
  parseScenario,
  ScenarioError,
  startSimulator,
  type Simulator,
  type SimulatorOptions,
} from '../src';
import { RawClient, type Json } from './raw-client';

const HOMEBASE = 'T8010P2321000001';
const CAM_A = 'T8113P0223000002';
const CAM_B = 'T8113P0223000004';
const APP_DIR = join(__dirname, '..');
const SMALL = { width: 320, height: 240, fps: 15, bitrateKbps: 300 };

const running: Simulator[] = [];
const sockets: RawClient[] = [];

async function sim(overrides: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const s = await startSimulator({
    logger: createLogger({ level: 'silent' }),
    server: { host: '127.0.0.1', port: 0, controlPort: 0 },
    timings: { motionResetSeconds: 0.3, livestreamIdleStopSeconds: 0.5, livestreamAckDelayMs: 10 },
    stations: [{ serialNumber: HOMEBASE }],
    devices: [
      { serialNumber: CAM_A, name: 'Driveway', station: HOMEBASE, battery: 80, video: SMALL },
      { serialNumber: CAM_B, name: 'Garden', station: HOMEBASE, video: SMALL },
    ],
    ...overrides,
  });
  running.push(s);
  return s;
}

async function listeningClient(s: Simulator): Promise<RawClient> {
  const c = await RawClient.connect(s.url);
  sockets.push(c);
  await c.command('set_api_schema', { schemaVersion: 21 });
  await c.command('start_listening');
  return c;
}

async function control(s: Simulator, method: string, path: string, body?: unknown) {
  const res = await fetch(`${s.controlUrl}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

beforeAll(() => assertFfmpeg());

afterEach(async () => {
  for (const c of sockets.splice(0)) c.close();
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

describe('detections', () => {
  it('a trigger inside the window only extends it; the flag clears once, after the window', async () => {
    const s = await sim();
    const c = await listeningClient(s);
    const startedAt = Date.now();
    s.triggerDetection(CAM_A, 'motion');
    await new Promise((resolve) => setTimeout(resolve, 150));
    s.triggerDetection(CAM_A, 'motion'); // extends to 150 + 300 ms
    await c.waitFor((m) => m.event?.event === 'motion detected' && m.event.state === false, 'clear');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(440);
    expect(c.events('motion detected').map((e) => e.event.state)).toEqual([true, false]);
    expect(c.events('property changed').map((e) => [e.event.name, e.event.value])).toEqual([
      ['motionDetected', true],
      ['motionDetected', false],
    ]);
  });

  it('events reach only sockets that sent start_listening', async () => {
    const s = await sim();
    const listener = await listeningClient(s);
    const silent = await RawClient.connect(s.url);
    sockets.push(silent);
    s.triggerDetection(CAM_A, 'vehicle');
    await listener.waitFor((m) => m.event?.event === 'vehicle detected', 'vehicle');
    await listener.waitFor((m) => m.event?.event === 'motion detected', 'motion too');
    expect(silent.events()).toEqual([]);
  });

  it('demo mode makes detections on its own', async () => {
    const s = await sim({ demo: true, timings: { demoMotionEverySeconds: 0.1, motionResetSeconds: 0.2 } });
    const c = await listeningClient(s);
    await c.waitFor((m) => m.event?.event === 'motion detected', 'a demo detection');
  });
});

describe('detection load', () => {
  it('toggles each device in turn at the rate: every event a real edge, each first begin timed', async () => {
    const s = await sim({ timings: { motionResetSeconds: 60 } });
    const c = await listeningClient(s);
    const { status, body } = await control(s, 'POST', '/load/detections', { rate: 100, seconds: 0.2 });
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: 'load-1', kind: 'motion', total: 20, devices: 2 });
    const report = await waitForLoad(s, body.id);
    expect(report).toMatchObject({ sent: 20, begins: 10, ends: 10 });
    // 20 events at 100/s take 190 ms from the first to the last.
    expect(report.finishedAt - report.startedAt).toBeGreaterThanOrEqual(185);
    await waitFor('all 20 events', () => c.events('motion detected').length === 20, { timeoutMs: 5000 });
    for (const sn of [CAM_A, CAM_B]) {
      const states = c.events('motion detected').filter((e) => e.event.serialNumber === sn);
      expect(states.map((e) => e.event.state)).toEqual([
        true,
        false,
        true,
        false,
        true,
        false,
        true,
        false,
        true,
        false,
      ]);
    }
    expect(Object.keys(report.firstBeginAt).sort()).toEqual([CAM_A, CAM_B].sort());
    expect(report.firstBeginAt[CAM_A]).toBeGreaterThanOrEqual(report.startedAt);
    // B's first begin is the second event of twenty: after A's, well before the last (not a fixed
    // number of ms, which a loaded machine can stretch).
    expect(report.firstBeginAt[CAM_B]).toBeGreaterThanOrEqual(report.firstBeginAt[CAM_A]!);
    expect(report.firstBeginAt[CAM_B]).toBeLessThanOrEqual(report.finishedAt);
  });

  it('serves only the devices named, and refuses a bad body, an unknown device and an unknown load', async () => {
    const s = await sim({ timings: { motionResetSeconds: 60 } });
    const c = await listeningClient(s);
    const { body } = await control(s, 'POST', '/load/detections', {
      rate: 50,
      seconds: 0.1,
      kind: 'person',
      devices: [CAM_B],
    });
    const report = await waitForLoad(s, body.id);
    expect(report).toMatchObject({ sent: 5, begins: 3, ends: 2, devices: 1, kind: 'person' });
    await waitFor('five person events', () => c.events('person detected').length === 5, { timeoutMs: 5000 });
    expect(c.events('person detected').every((e) => e.event.serialNumber === CAM_B)).toBe(true);
    expect((await control(s, 'POST', '/load/detections', { rate: 0, seconds: 1 })).status).toBe(400);
    expect(await control(s, 'POST', '/load/detections', { rate: 1, seconds: 1, devices: ['NOPE'] })).toEqual({
      status: 404,
      body: { error: 'no device NOPE' },
    });
    expect((await control(s, 'GET', '/load/detections/load-9')).status).toBe(404);
  });
});

async function waitForLoad(s: Simulator, id: string): Promise<Json> {
  for (;;) {
    const { body } = await control(s, 'GET', `/load/detections/${id}`);
    if (body.finishedAt !== null) return body;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('protocol rules', () => {
  it('answers unknown commands, a missing command and bad serials with the server error codes', async () => {
    const s = await sim();
    const c = await listeningClient(s);
    expect((await c.command('device.teleport')).errorCode).toBe('unknown_command');
    expect((await c.command('device.get_properties', { serialNumber: 'NOPE' })).errorCode).toBe(
      'device_not_found',
    );
    expect((await c.command('station.is_connected', { serialNumber: 'NOPE' })).errorCode).toBe(
      'station_not_found',
    );
    c.sendRaw(JSON.stringify({ messageId: 'no-command' }));
    expect((await c.waitFor((m) => m.messageId === 'no-command', 'result')).errorCode).toBe('unknown_error');
  });

  it('closes the socket of a client that sends unparseable JSON, as the server does', async () => {
    const s = await sim();
    const c = await listeningClient(s);
    c.sendRaw('{"messageId": 1, "command": ');
    await c.waitForClose();
    expect(c.messages.filter((m) => m.type === 'result' && m.messageId === 1)).toEqual([]);
  });

  it('sends the pending verify-code request right after start_listening', async () => {
    const s = await sim();
    s.requestVerifyCode();
    const c = await listeningClient(s);
    const listening = c.messages.findIndex((m) => m.result?.state);
    expect(listening).toBeGreaterThan(0);
    expect(c.messages[listening]!.result.state.driver.connected).toBe(false);
    expect(c.messages[listening + 1]).toEqual({
      type: 'event',
      event: { source: 'driver', event: 'verify code' },
    });
    await c.command('driver.set_verify_code', { verifyCode: '000000' }); // wrong: asked again
    await c.waitFor(() => c.events('verify code').length === 2, 'second verify code');
    expect(s.snapshot().driver).toEqual({
      connected: false,
      pushConnected: true,
      pendingAuth: 'verify code',
    });
  });

  it('drops and restores the push channel apart from the cloud session', async () => {
    const s = await sim();
    const c = await listeningClient(s);
    expect(await control(s, 'POST', '/driver/push', { connected: false })).toEqual({
      status: 200,
      body: { pushConnected: false },
    });
    expect((await control(s, 'POST', '/driver/push', {})).status).toBe(400);
    await c.waitFor((m) => m.event?.event === 'push disconnected', 'push disconnected');
    expect((await c.command('driver.is_push_connected')).result).toEqual({ connected: false });
    expect((await c.command('driver.is_connected')).result).toEqual({ connected: true });
    const later = await listeningClient(s);
    const listening = later.messages.find((m) => m.result?.state);
    expect(listening!.result.state.driver).toMatchObject({ connected: true, pushConnected: false });
    s.setPushConnected(true);
    await c.waitFor((m) => m.event?.event === 'push connected', 'push connected');
    expect(s.snapshot().driver).toEqual({ connected: true, pushConnected: true, pendingAuth: null });
  });
});

describe('livestreams', () => {
  it('a second subscriber joins the running stream; each stop ends only its own subscription', async () => {
    const s = await sim();
    const first = await listeningClient(s);
    const second = await listeningClient(s);
    await first.command('device.start_livestream', { serialNumber: CAM_A });
    await first.waitFor((m) => m.event?.event === 'livestream video data', 'video on first');
    expect((await first.command('device.start_livestream', { serialNumber: CAM_A })).errorCode).toBe(
      'device_livestream_already_running',
    );
    await second.command('device.start_livestream', { serialNumber: CAM_A });
    await second.waitFor((m) => m.event?.event === 'livestream started', 'immediate started');
    await second.waitFor((m) => m.event?.event === 'livestream video data', 'video on second');
    expect((await second.command('device.is_livestreaming', { serialNumber: CAM_A })).result).toEqual({
      serialNumber: CAM_A,
      livestreaming: true,
    });

    await first.command('device.stop_livestream', { serialNumber: CAM_A });
    await first.waitFor((m) => m.event?.event === 'livestream stopped', 'first stopped');
    const before = second.events('livestream video data').length;
    await second.waitFor(
      () => second.events('livestream video data').length > before + 2,
      'second keeps going',
    );
    expect(second.events('livestream stopped')).toEqual([]);
    expect(s.snapshot().livestreams).toEqual([
      { station: HOMEBASE, device: CAM_A, subscribers: 1, started: true, stalled: false },
    ]);
  });

  it('starting another camera of the station ends the first with livestream stopped', async () => {
    const s = await sim();
    const c = await listeningClient(s);
    await c.command('device.start_livestream', { serialNumber: CAM_A });
    await c.waitFor((m) => m.event?.event === 'livestream video data', 'A video');
    await c.command('device.start_livestream', { serialNumber: CAM_B });
    await c.waitFor(
      (m) => m.event?.event === 'livestream stopped' && m.event.serialNumber === CAM_A,
      'A stopped',
    );
    await c.waitFor(
      (m) => m.event?.event === 'livestream video data' && m.event.serialNumber === CAM_B,
      'B video',
    );
  });

  it('an offline camera fails its start with a P2P ack error and no stream', async () => {
    const s = await sim();
    const c = await listeningClient(s);
    s.setDeviceState(CAM_A, 0);
    expect((await c.command('device.start_livestream', { serialNumber: CAM_A })).result).toEqual({
      async: true,
    });
    const ack = await c.waitFor((m) => m.event?.event === 'command result', 'ack');
    expect(ack.event).toMatchObject({ returnCode: -109, returnCodeName: 'ERROR_DEV_OFFLINE' });
    expect(s.snapshot().livestreams).toEqual([]);
  });

  it('loop mode replays one encoding to many concurrent streams, each from a keyframe', async () => {
    const cameras = Array.from({ length: 8 }, (_, i) => ({
      serialNumber: `T8400P10220001${String(i).padStart(2, '0')}`,
      name: `Cam ${i}`,
      video: SMALL,
    }));
    const s = await sim({ media: { mode: 'loop', loopSeconds: 2 }, stations: [], devices: cameras });
    const c = await listeningClient(s);
    for (const cam of cameras) await c.command('device.start_livestream', { serialNumber: cam.serialNumber });
    for (const cam of cameras)
      await c.waitFor(
        (m) => m.event?.event === 'livestream video data' && m.event.serialNumber === cam.serialNumber,
        `video of ${cam.serialNumber}`,
      );
    const firsts = cameras.map((cam) =>
      c.events('livestream video data').find((e) => e.event.serialNumber === cam.serialNumber)!,
    );
    // Every stream starts with SPS (0x67) and carries the same bytes: encoded once, replayed.
    for (const first of firsts) expect(first.event.buffer.data.slice(0, 5)).toEqual([0, 0, 0, 1, 0x67]);
    expect(new Set(firsts.map((f) => JSON.stringify(f.event.buffer))).size).toBe(1);
    expect(s.snapshot().livestreams).toHaveLength(cameras.length);
  });
});

describe('HTTP control API', () => {
  it('drives detections, state, battery, station connection and malformed frames', async () => {
    const s = await sim();
    const c = await listeningClient(s);
    expect(
      await control(s, 'POST', `/devices/${CAM_A}/detection`, { kind: 'person', person: 'Bob' }),
    ).toEqual({
      status: 200,
      body: { triggered: 'person' },
    });
    await c.waitFor((m) => m.event?.event === 'person detected' && m.event.person === 'Bob', 'person');
    await control(s, 'POST', `/devices/${CAM_A}/detection/end`, { kind: 'person' });
    await c.waitFor((m) => m.event?.event === 'person detected' && m.event.state === false, 'person end');
    await control(s, 'POST', `/devices/${CAM_A}/battery`, { battery: 9 });
    await control(s, 'POST', `/devices/${CAM_B}/offline`);
    await control(s, 'POST', `/stations/${HOMEBASE}/connection`, { connected: false, devices: false });
    await c.waitFor((m) => m.event?.event === 'connection error', 'station connection error');
    expect(
      c.events('property changed').map((e) => [e.event.serialNumber, e.event.name, e.event.value]),
    ).toEqual(
      expect.arrayContaining([
        [CAM_A, 'battery', 9],
        [CAM_B, 'state', 0],
      ]),
    );
    expect((await control(s, 'POST', '/malformed', { kind: 'json' })).body).toEqual({ sentTo: 1 });
    await control(s, 'POST', `/devices/${CAM_B}/online`); // a frame after the broken one
    await c.waitFor((m) => m.event?.name === 'state' && m.event.value === 1, 'online again');
    expect(c.frames.filter((f) => f.endsWith('"motion detected",'))).toHaveLength(1);
    const state = (await control(s, 'GET', '/state')).body;
    expect(state.stations[0]).toMatchObject({ serialNumber: HOMEBASE, connected: false });
    expect(state.devices.find((d: Json) => d.serialNumber === CAM_A)).toMatchObject({ battery: 9 });
  });

  it('answers bad input with 400, unknown serials and routes with 404, wrong methods with 405', async () => {
    const s = await sim();
    expect(await control(s, 'POST', `/devices/${CAM_A}/battery`, { battery: 101 })).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining('battery') },
    });
    expect(await control(s, 'POST', `/devices/${CAM_A}/detection`, { kind: 'ghost' })).toMatchObject({
      status: 400,
    });
    expect(await control(s, 'POST', '/devices/NOPE/detection', {})).toEqual({
      status: 404,
      body: { error: 'no device NOPE' },
    });
    expect((await control(s, 'POST', '/stations/NOPE/connection', { connected: true })).status).toBe(404);
    expect((await control(s, 'GET', '/nothing')).status).toBe(404);
    expect((await control(s, 'GET', '/connections/drop')).status).toBe(405);
  });

  it('makes the next livestream fail, cuts a running one and drops connections', async () => {
    const s = await sim();
    const c = await listeningClient(s);
    await control(s, 'POST', `/devices/${CAM_A}/livestream/fail-next`, { mode: 'ack' });
    await c.command('device.start_livestream', { serialNumber: CAM_A });
    await c.waitFor((m) => m.event?.returnCode === -133, 'failed ack');

    await c.command('device.start_livestream', { serialNumber: CAM_A });
    await c.waitFor((m) => m.event?.event === 'livestream video data', 'video');
    expect((await control(s, 'POST', `/devices/${CAM_A}/livestream/cut`, { mode: 'stop' })).body).toEqual({
      cut: true,
    });
    await c.waitFor((m) => m.event?.event === 'livestream stopped', 'cut');

    expect((await control(s, 'POST', '/connections/drop')).body).toEqual({ dropped: 1 });
    await c.waitForClose();
  });
});

describe('scenarios', () => {
  it('the shipped demo scenario is valid', () => {
    const scenario = loadScenarioFile(join(APP_DIR, 'scenarios', 'demo.yaml'));
    expect(scenario.devices.map((d) => d.serialNumber)).toHaveLength(3);
    expect(scenario.demo).toBe(true);
  });

  it('says which entry is wrong', () => {
    expect(() =>
      parseScenario({
        devices: [
          { serialNumber: 'X1', station: 'NOPE' },
          { serialNumber: 'X1', battery: 140 },
        ],
      }),
    ).toThrow(ScenarioError);
    expect(() => parseScenario({ devices: [{ serialNumber: 'X1', battery: 140 }] })).toThrow(
      /scenario: devices\.0\.battery: /,
    );
    expect(() =>
      parseScenario({ devices: [{ serialNumber: 'X1', station: 'NOPE' }, { serialNumber: 'X1' }] }),
    ).toThrow(/devices\.X1\.station: no station NOPE in stations\nscenario: serial number X1 appears twice/);
  });
});

describe('command line (dist)', () => {
  const main = join(APP_DIR, 'dist', 'main.js');

  it('runs a scenario file, serves clients and sends shutdown on SIGTERM', async () => {
    if (!existsSync(main)) throw new Error(`${main} is missing: run pnpm build first`);
    const child = spawn(
      process.execPath,
      [
        main,
        join(APP_DIR, 'scenarios', 'demo.yaml'),
        '--port',
        '0',
        '--control-port',
        '0',
        '--host',
        '127.0.0.1',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = once(child, 'exit');
    const deadline = Date.now() + 10_000;
    let url: string | undefined;
    while (!url && Date.now() < deadline) {
      url = /"url":"(ws:\/\/[^"]+)"/.exec(stdout)?.[1];
      if (!url) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(url).toBeDefined();
    const c = await RawClient.connect(url!);
    sockets.push(c);
    const listening = await c.command('start_listening');
    expect(listening.result.state.devices).toHaveLength(3);
    child.kill('SIGTERM');
    expect(await exited).toEqual([0, null]);
    expect(c.events().some((e) => e.event.source === 'server' && e.event.event === 'shutdown')).toBe(true);
  });

  it('refuses a bad scenario with one line per problem and exit code 1', async () => {
    if (!existsSync(main)) throw new Error(`${main} is missing: run pnpm build first`);
    const child = spawn(process.execPath, [main, '--port', 'abc'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    expect(await once(child, 'exit')).toEqual([1, null]);
    expect(stderr).toMatch(/command line: server\.port: /);
  });
});
