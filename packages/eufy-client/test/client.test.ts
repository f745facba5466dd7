import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { assertFfmpeg, startSimulator, type Simulator } from '@eufy-relay/eufy-sim';
import { waitFor } from '@eufy-relay/testing';
import {
  CommandFailedError,
  CommandTimeoutError,
  EufyClient,
  NotConnectedError,
  SchemaIncompatibleError,
  type Detection,
  type EufyClientOptions,
  type Livestream,
  type ReconcileReport,
} from '../src';
import { CAM_A, CAM_B, CAM_C, HOMEBASE, capturedLogger, testScenario } from './helpers';

// Real sockets against the simulator (apps/eufy-sim); no part of the protocol is mocked.

const open: { clients: EufyClient[]; sims: Simulator[] } = { clients: [], sims: [] };

async function sim(overrides: Parameters<typeof testScenario>[0] = {}): Promise<Simulator> {
  const { logger } = capturedLogger();
  const s = await startSimulator({ ...testScenario(overrides), logger });
  open.sims.push(s);
  return s;
}

function client(url: string, options: Partial<EufyClientOptions> = {}) {
  const log = capturedLogger();
  const c = new EufyClient({
    url,
    logger: log.logger,
    reconnect: { initialDelayMs: 50, maxDelayMs: 300 },
    commandTimeoutMs: 5000,
    ...options,
  });
  open.clients.push(c);
  return { client: c, logs: log.lines };
}

beforeAll(() => assertFfmpeg());

afterEach(async () => {
  await Promise.all(open.clients.splice(0).map((c) => c.close()));
  await Promise.all(open.sims.splice(0).map((s) => s.stop()));
});

describe('handshake', () => {
  it('connects, negotiates the highest common schema, listens and lists stations and devices', async () => {
    const server = await sim({ version: { maxSchemaVersion: 19 } });
    const { client: c } = client(server.url);
    const state = await c.start();
    expect(state.server).toMatchObject({ serverVersion: '1.9.1', minSchemaVersion: 0, maxSchemaVersion: 19 });
    expect(state.schemaVersion).toBe(19);
    expect(server.snapshot().clients).toEqual([{ schemaVersion: 19, listening: true }]);
    expect(state.driver).toMatchObject({ connected: true, pushConnected: true });
    expect([...state.stations.keys()].sort()).toEqual([HOMEBASE, CAM_C].sort());
    expect([...state.devices.keys()].sort()).toEqual([CAM_A, CAM_B, CAM_C].sort());
    expect(state.devices.get(CAM_A)).toMatchObject({
      properties: { name: 'Driveway', stationSerialNumber: HOMEBASE, battery: 76, state: 1 },
      commands: expect.arrayContaining(['start_livestream']),
    });
    expect(state.stations.get(HOMEBASE)).toMatchObject({ connected: true, properties: { name: 'HomeBase' } });
    expect(c.status).toBe('ready');
  });

  it('refuses a server whose schema range does not reach ours, with a clear error, and stops', async () => {
    const server = await sim({ version: { minSchemaVersion: 0, maxSchemaVersion: 12 } });
    const { client: c } = client(server.url);
    const fatal: Error[] = [];
    c.on('fatal', (err) => fatal.push(err));
    const started = c.start();
    await expect(started).rejects.toThrow(SchemaIncompatibleError);
    await expect(started).rejects.toThrow(/speaks API schema 0\.\.12, this client needs 13\.\.21/);
    expect(fatal).toHaveLength(1);
    expect(c.status).toBe('closed');
  });
});

describe('commands', () => {
  it('a command without a result times out, a failing one reports its error code: distinct errors', async () => {
    const server = await sim();
    const { client: c } = client(server.url);
    await c.start();

    // Through the HTTP control API, as a test of another package would.
    const res = await fetch(`${server.controlUrl}/commands/device.get_properties_metadata`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'hang' }),
    });
    expect(res.status).toBe(200);
    const timedOut = c.command('device.get_properties_metadata', { serialNumber: CAM_A }, { timeoutMs: 200 });
    await expect(timedOut).rejects.toThrow(CommandTimeoutError);
    await expect(timedOut).rejects.toThrow(
      /command device\.get_properties_metadata \(device\.get_properties_metadata\.\d+\) got no result within 200 ms/,
    );

    const failed = c.getDeviceProperties('T0000000000000000');
    await expect(failed).rejects.toThrow(CommandFailedError);
    await expect(failed).rejects.toMatchObject({
      errorCode: 'device_not_found',
      command: 'device.get_properties',
    });
    await expect(failed).rejects.toThrow(/command device\.get_properties \(.*\) failed: device_not_found/);

    await expect(c.command('device.fly')).rejects.toMatchObject({ errorCode: 'unknown_command' });
    // The connection is unharmed.
    expect(await c.getDeviceProperties(CAM_B)).toMatchObject({ name: 'Garden' });
  });

  it('fails fast with NotConnectedError while not connected', async () => {
    const { client: c } = client('ws://127.0.0.1:9');
    await expect(c.getDeviceProperties(CAM_A)).rejects.toThrow(NotConnectedError);
  });
});

describe('events', () => {
  it('types detections (begin and auto-clear), property changes with previous values and station events', async () => {
    const server = await sim();
    const { client: c } = client(server.url);
    await c.start();
    const detections: Detection[] = [];
    const properties: { name: string; value: unknown; previous: unknown }[] = [];
    const stationEvents: string[] = [];
    c.on('detection', (d) => detections.push(d));
    c.on('property', ({ name, value, previous }) => properties.push({ name, value, previous }));
    c.on('event', (e) => {
      if (e.source === 'station') stationEvents.push(e.event);
    });

    server.triggerDetection(CAM_A, 'person', 'Alice');
    await waitFor('person + motion, begin and clear', () => detections.length === 4);
    expect(detections).toEqual([
      { kind: 'person', serialNumber: CAM_A, state: true, person: 'Alice' },
      { kind: 'motion', serialNumber: CAM_A, state: true },
      { kind: 'person', serialNumber: CAM_A, state: false, person: '' },
      { kind: 'motion', serialNumber: CAM_A, state: false },
    ]);

    server.setBattery(CAM_B, 15);
    server.setStationConnected(HOMEBASE, false);
    await waitFor('station connection error', () => stationEvents.includes('connection error'));
    await waitFor('camera offline', () => c.state?.devices.get(CAM_A)?.properties.state === 0);
    expect(properties).toEqual(
      expect.arrayContaining([
        { name: 'battery', value: 15, previous: 54 },
        { name: 'state', value: 0, previous: 1 },
      ]),
    );
    expect(stationEvents).toEqual(['disconnected', 'connection error']);
    expect(c.state?.stations.get(HOMEBASE)?.connected).toBe(false);
    expect(c.state?.devices.get(CAM_B)?.properties.battery).toBe(15);
  });

  it('passes on verify-code and captcha requests, and the driver reconnects once they are answered', async () => {
    const server = await sim();
    const { client: c } = client(server.url);
    await c.start();
    const driverEvents: string[] = [];
    let captchaId = '';
    c.on('event', (e) => {
      if (e.source !== 'driver') return;
      driverEvents.push(e.event);
      if (e.event === 'captcha request') captchaId = e.captchaId;
    });
    server.requestVerifyCode();
    await waitFor('verify code', () => driverEvents.includes('verify code'));
    expect(c.state?.driver.connected).toBe(false);
    await c.setVerifyCode('123456');
    await waitFor('driver connected', () => c.state?.driver.connected);

    server.requestCaptcha();
    await waitFor('captcha request', () => captchaId);
    await c.setCaptcha(captchaId, 'ABCD');
    await waitFor('second connected', () => driverEvents.filter((e) => e === 'connected').length === 2);
    expect(driverEvents).toEqual([
      'disconnected',
      'verify code',
      'connected',
      'push connected',
      'disconnected',
      'captcha request',
      'connected',
      'push connected',
    ]);
  });

  it('logs and skips malformed JSON, an unknown event, bad fields and an oversize frame; the connection stays up', async () => {
    const server = await sim();
    const { client: c, logs } = client(server.url, { maxMessageBytes: 64 * 1024 });
    await c.start();
    const detections: Detection[] = [];
    c.on('detection', (d) => detections.push(d));

    for (const kind of ['json', 'unknown_event', 'bad_fields'] as const) server.sendMalformed(kind);
    server.sendMalformed('oversize', 200 * 1024);
    server.triggerDetection(CAM_A, 'motion');
    await waitFor('a detection after the bad frames', () => detections.length > 0);

    expect(c.stats).toMatchObject({
      malformedMessages: 2,
      unknownEvents: 1,
      oversizeMessages: 1,
      reconnects: 0,
    });
    const messages = logs().map((l) => l.msg);
    expect(messages.filter((m) => m === 'skipped a malformed message from eufy-security-ws')).toHaveLength(2);
    expect(messages).toContain('skipped an unknown eufy-security-ws event');
    expect(messages).toContain('skipped an oversize message from eufy-security-ws');
    expect(logs().find((l) => l.msg === 'skipped an unknown eufy-security-ws event')).toMatchObject({
      event: 'hologram detected',
    });
    expect(c.status).toBe('ready');
    expect(server.clientCount).toBe(1);
    expect(await c.isStationConnected(HOMEBASE)).toBe(true);
  });
});

describe('reconnect', () => {
  it('reconnects by itself after the server dies and restarts, keeps one listener per event and reports what changed', async () => {
    const first = await sim();
    const port = first.port;
    const { client: c } = client(first.url);
    const detections: Detection[] = [];
    const reports: ReconcileReport[] = [];
    const states: string[] = [];
    c.on('detection', (d) => detections.push(d));
    c.on('reconciled', (r) => reports.push(r));
    c.on('connection', (s) => states.push(s.state));
    await c.start();

    await first.stop({ graceful: false }); // a crash: no shutdown event
    await waitFor('client notices the loss', () => c.status !== 'ready');
    // While it is away: camera A went offline, camera B's battery dropped, camera C is gone.
    const scenario = testScenario();
    const second = await sim({
      server: { host: '127.0.0.1', port, controlPort: 0 },
      devices: scenario
        .devices!.filter((d) => d.serialNumber !== CAM_C)
        .map((d) =>
          d.serialNumber === CAM_A
            ? { ...d, state: 0 }
            : d.serialNumber === CAM_B
              ? { ...d, battery: 12 }
              : d,
        ),
    });

    await waitFor('reconciliation after reconnect', () => reports.length === 1, { timeoutMs: 15_000 });
    expect(reports[0]!.changes).toEqual(
      expect.arrayContaining([
        { source: 'device', serialNumber: CAM_A, name: 'state', value: 0, previous: 1 },
        { source: 'device', serialNumber: CAM_B, name: 'battery', value: 12, previous: 54 },
      ]),
    );
    expect(reports[0]!.removedDevices).toEqual([CAM_C]);
    expect(reports[0]!.awayMs).toBeGreaterThan(0);
    expect(c.stats.reconnects).toBe(1);
    expect(states).toContain('reconnecting');
    expect(states[states.length - 1]).toBe('ready');

    // One listener per event, and each event delivered once.
    expect(c.listenerCount('detection')).toBe(1);
    expect(c.listenerCount('reconciled')).toBe(1);
    second.triggerDetection(CAM_B, 'motion');
    second.endDetection(CAM_B, 'motion');
    await waitFor('motion end', () => detections.some((d) => !d.state));
    expect(detections).toEqual([
      { kind: 'motion', serialNumber: CAM_B, state: true },
      { kind: 'motion', serialNumber: CAM_B, state: false },
    ]);
  });

  it('reconnects after a dropped connection (no close frame, no shutdown event)', async () => {
    const server = await sim();
    const { client: c } = client(server.url);
    const readies: boolean[] = [];
    c.on('ready', (_s, { reconnected }) => readies.push(reconnected));
    await c.start();
    server.dropConnections();
    await waitFor('ready after the drop', () => readies.length === 2);
    expect(readies).toEqual([false, true]);
    expect(c.stats.reconnects).toBe(1);
  });
});

/**
 * A TCP relay in front of the simulator that can go silent: bytes stop flowing both ways while both
 * sockets stay open, which is what a half-open connection (NAT timeout, pulled cable) looks like.
 */
async function silenceableRelay(
  target: number,
): Promise<{ url: string; silence: () => void; server: Server }> {
  const pairs: Socket[][] = [];
  const server = createServer((inbound) => {
    const outbound = connect(target, '127.0.0.1');
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    const end = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', end).on('close', end);
    outbound.on('error', end).on('close', end);
    pairs.push([inbound, outbound]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    silence: () => {
      for (const [inbound, outbound] of pairs.splice(0)) {
        inbound!.unpipe(outbound!);
        outbound!.unpipe(inbound!);
        inbound!.pause();
        outbound!.pause();
      }
    },
  };
}

describe('half-open connection', () => {
  it('finds a connection that went silent by ping/pong within two heartbeat intervals and reconnects', async () => {
    const server = await sim();
    const relay = await silenceableRelay(server.port);
    try {
      const { client: c, logs } = client(relay.url, { heartbeatIntervalMs: 200 });
      const readies: boolean[] = [];
      c.on('ready', (_s, { reconnected }) => readies.push(reconnected));
      await c.start();
      relay.silence();
      const silencedAt = Date.now();
      await waitFor('ready again through a fresh connection', () => readies.length === 2);
      expect(Date.now() - silencedAt).toBeLessThan(10_000); // two 200 ms intervals, generous for a busy machine
      expect(logs().map((l) => l.msg)).toContain(
        'eufy-security-ws did not answer a ping: dropping the half-open connection',
      );
    } finally {
      relay.server.close();
    }
  });
});

describe('livestream', () => {
  /** Reads up to the first video chunk without ending the stream. */
  async function firstVideo(stream: Livestream) {
    for (let chunk = await stream.read(); chunk; chunk = await stream.read())
      if (chunk.kind === 'video') return chunk;
    return undefined;
  }

  it('gives H.264 access units with metadata, starting on a keyframe, and audio chunks', async () => {
    const server = await sim();
    const { client: c } = client(server.url);
    await c.start();
    const stream = await c.startLivestream(CAM_C);
    const chunks = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      if (chunks.filter((x) => x.kind === 'audio').length >= 3 && chunks.length >= 10) break; // break → stop()
    }
    expect(await stream.ended).toMatchObject({ reason: 'stopped' });
    const video = chunks.filter((x) => x.kind === 'video');
    expect(video[0]).toMatchObject({ codec: 'H264', fps: 15, width: 320, height: 240, keyframe: true });
    expect(video[0]!.buffer.subarray(0, 5)).toEqual(Buffer.from([0, 0, 0, 1, 0x67])); // SPS first
    expect(video.slice(1).every((v) => !v.keyframe)).toBe(true);
    expect(chunks.find((x) => x.kind === 'audio')).toMatchObject({ codec: 'AAC_LC' });
    await waitFor('server-side stop', () => server.snapshot().livestreams.length === 0);
  });

  it('one stream per station: starting camera B ends camera A on the same HomeBase; a standalone camera streams alongside', async () => {
    const server = await sim();
    const { client: c } = client(server.url);
    await c.start();
    const a = await c.startLivestream(CAM_A);
    expect(await firstVideo(a)).toBeDefined();
    const b = await c.startLivestream(CAM_B);
    const standalone = await c.startLivestream(CAM_C);
    expect(await a.ended).toMatchObject({ reason: 'server_stopped' });
    expect(await firstVideo(b)).toMatchObject({ kind: 'video' });
    expect(await firstVideo(standalone)).toMatchObject({ kind: 'video' });
    expect(b.endReason).toBeUndefined();
    await Promise.all([b.stop(), standalone.stop()]);
  });

  it('ends with start_failed on a failed P2P ack and start_timeout when "livestream started" never comes', async () => {
    const server = await sim();
    const { client: c, logs } = client(server.url);
    await c.start();
    server.failNextLivestream(CAM_A, 'ack');
    const failed = await c.startLivestream(CAM_A);
    expect(await failed.ended).toMatchObject({
      reason: 'start_failed',
      returnCode: -133,
      returnCodeName: 'ERROR_COMMAND_TIMEOUT',
    });
    server.failNextLivestream(CAM_A, 'timeout');
    const silent = await c.startLivestream(CAM_A, { startTimeoutMs: 400 });
    const end = await silent.ended;
    expect(end).toMatchObject({ reason: 'start_timeout' });
    expect(end.message).toMatch(/no "livestream started" for T8113P0223000002 within 400 ms/);
    // Its clean-up stop meets device_livestream_not_running, which is ignored, not logged as a failure.
    const next = await c.startLivestream(CAM_A);
    expect(await firstVideo(next)).toBeDefined();
    await next.stop();
    expect(logs().filter((l) => l.msg === 'stop_livestream failed')).toEqual([]);
  });

  it('ends with server_stopped when the bridge stops a stream without data, and connection_lost on a drop', async () => {
    const server = await sim();
    const { client: c } = client(server.url);
    await c.start();
    const stalled = await c.startLivestream(CAM_A);
    expect(await firstVideo(stalled)).toBeDefined();
    expect(server.cutLivestream(CAM_A, 'stall')).toBe(true);
    expect(await stalled.ended).toMatchObject({ reason: 'server_stopped' });

    const dropped = await c.startLivestream(CAM_C);
    expect(await firstVideo(dropped)).toBeDefined();
    server.dropConnections();
    expect(await dropped.ended).toMatchObject({ reason: 'connection_lost' });
  });

  it('treats device_livestream_already_running as subscribed', async () => {
    const server = await sim();
    const { client: c } = client(server.url);
    await c.start();
    await c.command('device.start_livestream', { serialNumber: CAM_C }); // subscribed behind the API's back
    const stream = await c.startLivestream(CAM_C);
    expect(stream.started).toBe(true);
    expect(await firstVideo(stream)).toMatchObject({ kind: 'video' });
    await stream.stop();
    expect(await c.isLivestreaming(CAM_C)).toBe(false);
  });
});
