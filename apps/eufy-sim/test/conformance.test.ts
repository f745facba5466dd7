import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@eufy-relay/logger';
import { assertFfmpeg, startSimulator, type Simulator } from '../src';
import { RawClient, type Json } from './raw-client';

/**
 * What the simulator puts on the wire, against the real server's message shapes (the fixtures in
 * packages/eufy-client/fixtures, schema 21, server 1.9.1): same envelope, same names, same field
 * names in the same order, same JSON types, compact JSON. So the simulator cannot drift from the
 * server that the client is written against.
 */

const FIXTURES = join(__dirname, '..', '..', '..', 'packages', 'eufy-client', 'fixtures');
const HOMEBASE = 'T8010P2321000001';
const CAMERA = 'T8113P0223000002';
const STANDALONE = 'T8400P1022000003';

function fixture(name: string): { raw: string; json: Json } {
  const raw = readFileSync(join(FIXTURES, `${name}.json`), 'utf8').trim();
  return { raw, json: JSON.parse(raw) as Json };
}

/** The JSON type of every field, in order; arrays by their first element. */
function shape(value: unknown): unknown {
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length ? [shape(value[0])] : [];
  if (typeof value === 'object')
    return Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, shape(v)]));
  return typeof value;
}

/** The values that name things: message type, event source and name, result success, codes. */
function names(message: Json): unknown {
  return {
    type: message.type,
    success: message.success,
    errorCode: message.errorCode,
    source: message.event?.source,
    event: message.event?.event,
    command: message.event?.command,
    returnCodeName: message.event?.returnCodeName,
    videoCodec: message.event?.metadata?.videoCodec,
    audioCodec: message.event?.metadata?.audioCodec,
  };
}

function expectConforms(received: { raw: string }, fixtureName: string): void {
  const actual = JSON.parse(received.raw) as Json;
  const expected = fixture(fixtureName);
  expect(names(actual)).toEqual(names(expected.json));
  // Key order is part of the wire format (JSON.stringify of the server's objects): compare as text.
  expect(JSON.stringify(shape(actual))).toBe(JSON.stringify(shape(expected.json)));
  expect(received.raw).toBe(JSON.stringify(actual)); // compact, like the server
}

describe('simulator conformance with the eufy-security-ws fixtures', () => {
  let sim: Simulator;
  let client: RawClient;

  beforeAll(async () => {
    assertFfmpeg();
    sim = await startSimulator({
      logger: createLogger({ level: 'silent' }),
      server: { host: '127.0.0.1', port: 0, controlPort: 0 },
      timings: { motionResetSeconds: 5, livestreamAckDelayMs: 10 },
      stations: [{ serialNumber: HOMEBASE }],
      devices: [
        {
          serialNumber: CAMERA,
          name: 'Driveway',
          station: HOMEBASE,
          battery: 76,
          video: { width: 320, height: 240, fps: 15, bitrateKbps: 300, audio: true },
        },
        { serialNumber: STANDALONE, name: 'Hallway', video: { width: 320, height: 240 } },
      ],
    });
    client = await RawClient.connect(sim.url);
  });

  afterAll(async () => {
    client?.close();
    await sim?.stop();
  });

  it('version, set_api_schema and start_listening', async () => {
    expectConforms(await client.waitFor((m) => m.type === 'version', 'version'), '01_version');
    const request = fixture('02_set_api_schema.request').json;
    expectConforms(
      await client.command('set_api_schema', request, request.messageId),
      '03_set_api_schema.result',
    );
    expectConforms(
      await client.command('set_api_schema', { schemaVersion: 99 }),
      '22_set_api_schema.result_error',
    );
    await client.command('set_api_schema', request);
    const listening = await client.command(
      'start_listening',
      {},
      fixture('04_start_listening.request').json.messageId,
    );
    expectConforms(listening, '05_start_listening.result');
    expect(listening.result.state.devices).toEqual([CAMERA, STANDALONE]);
    expect(listening.result.state.stations).toEqual([HOMEBASE, STANDALONE]);
  });

  it('device.get_properties: the fixture properties the simulator has, with the same types', async () => {
    const actual = await client.command('device.get_properties', { serialNumber: CAMERA });
    const expected = fixture('06_device.get_properties.result').json;
    expect(names(actual)).toEqual(names(expected));
    expect(Object.keys(actual.result)).toEqual(Object.keys(expected.result));
    const mine = actual.result.properties as Json;
    const theirs = expected.result.properties as Json;
    // What ingest and recorder read must be there.
    for (const key of ['name', 'model', 'serialNumber', 'stationSerialNumber', 'type', 'battery', 'state'])
      expect(mine).toHaveProperty(key);
    const shared = Object.keys(mine).filter((k) => k in theirs);
    expect(shared.length).toBeGreaterThan(20);
    for (const key of shared) expect([key, shape(mine[key])]).toEqual([key, shape(theirs[key])]);
  });

  it('detection and property events', async () => {
    sim.triggerDetection(CAMERA, 'motion');
    expectConforms(
      await client.waitFor((m) => m.event?.name === 'motionDetected', 'motionDetected'),
      '08_event.device.property_changed.motionDetected',
    );
    expectConforms(
      await client.waitFor((m) => m.event?.event === 'motion detected', 'motion detected'),
      '07_event.device.motion_detected',
    );
    // The property change comes first, then the event, as on the server.
    const order = client.events().map((e) => e.event.event);
    expect(order.indexOf('property changed')).toBeLessThan(order.indexOf('motion detected'));

    sim.setBattery(CAMERA, 18);
    expectConforms(
      await client.waitFor((m) => m.event?.name === 'battery', 'battery'),
      '09_event.device.property_changed.battery',
    );
    sim.setDeviceState(CAMERA, 0);
    expectConforms(
      await client.waitFor((m) => m.event?.name === 'state', 'state'),
      '10_event.device.property_changed.state_offline',
    );
    sim.setDeviceState(CAMERA, 1);
  });

  it('station connection events', async () => {
    sim.setStationConnected(HOMEBASE, false, { devices: false });
    expectConforms(
      await client.waitFor(
        (m) => m.event?.source === 'station' && m.event.event === 'disconnected',
        'disconnected',
      ),
      '11_event.station.disconnected',
    );
    expectConforms(
      await client.waitFor((m) => m.event?.event === 'connection error', 'connection error'),
      '12_event.station.connection_error',
    );
    sim.setStationConnected(HOMEBASE, true, { devices: false });
    await client.waitFor((m) => m.event?.source === 'station' && m.event.event === 'connected', 'connected');
  });

  it('a livestream: start result, P2P ack, started, video and audio data, stopped, stop error', async () => {
    const start = fixture('13_device.start_livestream.request').json;
    expectConforms(
      await client.command(start.command, { serialNumber: start.serialNumber }, start.messageId),
      '14_device.start_livestream.result',
    );
    expectConforms(
      await client.waitFor((m) => m.event?.event === 'command result' && m.event.returnCode === 0, 'ack'),
      '15_event.device.command_result.start_livestream',
    );
    expectConforms(
      await client.waitFor((m) => m.event?.event === 'livestream started', 'started'),
      '17_event.device.livestream_started',
    );
    const video = await client.waitFor((m) => m.event?.event === 'livestream video data', 'video');
    expectConforms(video, '18_event.device.livestream_video_data');
    expect(video.event.buffer.data.slice(0, 5)).toEqual([0, 0, 0, 1, 103]); // SPS first, like the fixture
    expectConforms(
      await client.waitFor((m) => m.event?.event === 'livestream audio data', 'audio'),
      '19_event.device.livestream_audio_data',
    );
    await client.command('device.stop_livestream', { serialNumber: CAMERA });
    expectConforms(
      await client.waitFor((m) => m.event?.event === 'livestream stopped', 'stopped'),
      '20_event.device.livestream_stopped',
    );
    expectConforms(
      await client.command('device.stop_livestream', { serialNumber: CAMERA }, 'device.stop_livestream.5'),
      '21_device.stop_livestream.result_error',
    );
  });

  it('a failed P2P acknowledgement', async () => {
    sim.failNextLivestream(CAMERA, 'ack');
    await client.command('device.start_livestream', { serialNumber: CAMERA });
    expectConforms(
      await client.waitFor(
        (m) => m.event?.event === 'command result' && m.event.returnCode !== 0,
        'failed ack',
      ),
      '16_event.device.command_result.start_livestream_timeout',
    );
  });

  it('driver connected and server shutdown', async () => {
    sim.requestVerifyCode();
    await client.waitFor((m) => m.event?.event === 'verify code', 'verify code');
    await client.command('driver.set_verify_code', { verifyCode: '123456' });
    expectConforms(
      await client.waitFor(
        (m) => m.event?.source === 'driver' && m.event.event === 'connected',
        'driver connected',
      ),
      '23_event.driver.connected',
    );
    await sim.stop();
    expectConforms(
      await client.waitFor((m) => m.event?.source === 'server', 'shutdown'),
      '24_event.server.shutdown',
    );
  });
});
