import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { createLogger, type Logger } from '@eufy-relay/logger';
import { startControlServer } from './control';
import { ALSO_MOTION, DETECTIONS, type DetectionKind } from './detections';
import { DetectionLoad, type DetectionLoadOptions, type DetectionLoadReport } from './load';
import { AUDIO_FRAME_MS, MediaFactory, type FrameSource } from './media';
import { livestreamMessages, pace, sendMedia, type PacedStream } from './pacing';
import { RtspServer, type RtspMode } from './rtsp';
import {
  CAMERA_COMMANDS,
  cameraProperties,
  homeBaseProperties,
  standaloneStationProperties,
} from './templates';
import { parseScenario, type Scenario, type ScenarioDevice, type ScenarioInput } from './scenario';

/** What `sendMalformed` puts on the wire to every connected client. */
export type MalformedKind = 'json' | 'unknown_event' | 'bad_fields' | 'oversize';

export type CommandBehaviour = { mode: 'hang' } | { mode: 'fail'; errorCode: string };

export interface SimulatorOptions extends ScenarioInput {
  logger?: Logger;
}

type JsonObject = Record<string, unknown>;

/** What GET /state and `snapshot()` show. */
export interface SimulatorSnapshot {
  url: string;
  clients: { schemaVersion: number; listening: boolean }[];
  driver: { connected: boolean; pushConnected: boolean; pendingAuth: string | null };
  stations: JsonObject[];
  devices: JsonObject[];
  livestreams: { station: string; device: string; subscribers: number; started: boolean; stalled: boolean }[];
}

interface SimClient {
  ws: WebSocket;
  schemaVersion: number;
  listening: boolean;
}

interface SimDevice {
  serialNumber: string;
  stationSerialNumber: string;
  config: ScenarioDevice;
  properties: JsonObject;
  detectionTimers: Map<DetectionKind, NodeJS.Timeout>;
  /** How the next livestream start of this device fails, if it should. */
  failNextStart?: 'ack' | 'timeout';
}

interface SimStation {
  serialNumber: string;
  properties: JsonObject;
  connected: boolean;
}

/** The one P2P livestream a station is running, and the sockets subscribed to it. */
interface StationStream extends PacedStream {
  device: SimDevice;
  subscribers: Set<SimClient>;
  video?: FrameSource;
  audio?: FrameSource;
}

/** Only our command names with P2P custom data get a `command result` (schema ≥ 13). */
const P2P_COMMAND_NAMES: Record<string, string> = {
  start_livestream: 'deviceStartLivestream',
  stop_livestream: 'deviceStopLivestream',
};
/** How long stop() waits for clients to answer the close handshake before cutting them off. */
const GRACEFUL_CLOSE_MS = 1000;
/** A 1×1 PNG: the captcha image the simulator asks to be solved. */
const CAPTCHA_IMAGE =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

class CommandError extends Error {
  constructor(readonly errorCode: string) {
    super(errorCode);
  }
}

/**
 * A running simulator of eufy-security-ws. Every control method is also reachable over the HTTP
 * control API (see control.ts); tests may call either.
 */
export class Simulator {
  readonly scenario: Scenario;
  private readonly logger: Logger;
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private control: Server | undefined;
  private readonly clients = new Set<SimClient>();
  private readonly devices = new Map<string, SimDevice>();
  private readonly stations = new Map<string, SimStation>();
  private readonly streams = new Map<string, StationStream>();
  private readonly media: MediaFactory;
  private readonly commandBehaviours = new Map<string, CommandBehaviour>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly loads = new Map<string, DetectionLoad>();
  private driverConnected = true;
  /** Eufy's push channel (motion and ring notifications), apart from the cloud session. */
  private pushConnected = true;
  private pendingAuth: { kind: 'verify code' } | { kind: 'captcha request'; captchaId: string } | undefined;
  private demoTimer: NodeJS.Timeout | undefined;
  private rtsp: RtspServer | undefined;
  private stopped = false;

  constructor(options: SimulatorOptions) {
    const { logger, ...scenario } = options;
    this.scenario = parseScenario(scenario);
    this.logger = (logger ?? createLogger({ level: 'info' })).child({ component: 'eufy-sim' });
    this.media = new MediaFactory({ ...this.scenario.media, logger: this.logger });
    for (const station of this.scenario.stations)
      this.stations.set(station.serialNumber, {
        serialNumber: station.serialNumber,
        connected: true,
        properties: homeBaseProperties(station),
      });
    for (const device of this.scenario.devices) this.addDevice(device);
    this.http = createServer((_req, res) => {
      res
        .writeHead(426, { 'content-type': 'text/plain' })
        .end('eufy-security-ws simulator: use a WebSocket\n');
    });
    this.wss = new WebSocketServer({ server: this.http, perMessageDeflate: false });
    this.wss.on('connection', (ws) => this.onConnection(ws));
  }

  private addDevice(config: ScenarioDevice): void {
    const standalone = config.station === undefined || config.station === config.serialNumber;
    const stationSerialNumber = standalone ? config.serialNumber : config.station!;
    if (standalone)
      this.stations.set(config.serialNumber, {
        serialNumber: config.serialNumber,
        connected: true,
        properties: standaloneStationProperties(config),
      });
    this.devices.set(config.serialNumber, {
      serialNumber: config.serialNumber,
      stationSerialNumber,
      config,
      detectionTimers: new Map(),
      properties: cameraProperties(config, stationSerialNumber, standalone),
    });
  }

  /** Binds the WebSocket and control ports. */
  async listen(): Promise<void> {
    const { host, port, controlPort } = this.scenario.server;
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    this.control = await startControlServer(this, host, controlPort);
    await this.startRtsp();
    if (this.scenario.demo) this.scheduleDemo();
    this.logger.info({ url: this.url, controlUrl: this.controlUrl }, 'eufy-security-ws simulator listening');
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /** ws://host:port of the simulated eufy-security-ws. */
  get url(): string {
    return `ws://${this.scenario.server.host}:${this.port}`;
  }

  /** http://host:port of the control API. */
  get controlUrl(): string {
    return `http://${this.scenario.server.host}:${(this.control!.address() as AddressInfo).port}`;
  }

  /** Connected WebSocket clients. */
  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * Stops everything. Graceful (default): every client gets the server `shutdown` event, then a close,
   * as eufy-security-ws does on SIGTERM. Not graceful: sockets are destroyed (a crash).
   */
  async stop(options: { graceful?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.demoTimer);
    for (const timer of this.timers) clearTimeout(timer);
    for (const load of this.loads.values()) load.stop();
    for (const device of this.devices.values())
      for (const t of device.detectionTimers.values()) clearTimeout(t);
    for (const stream of this.streams.values()) this.endStream(stream, false);
    for (const client of this.clients) {
      if (options.graceful === false) client.ws.terminate();
      else {
        this.sendEvent(client, { source: 'server', event: 'shutdown' });
        client.ws.close(1001, 'server shutdown');
      }
    }
    const closeServer = (server: Server | undefined) =>
      new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    // A client that does not answer the close handshake (half-open) would hold the server 30 s.
    const deadline = Date.now() + GRACEFUL_CLOSE_MS;
    while (this.clients.size && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    for (const client of this.clients) client.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await Promise.all([closeServer(this.http), closeServer(this.control), this.rtsp?.stop()]);
    this.logger.info('eufy-security-ws simulator stopped');
  }

  /** Cameras with `rtsp` in the scenario get a mount on a real RTSP server and report its URL. */
  private async startRtsp(): Promise<void> {
    const cameras = [...this.devices.values()].filter((d) => d.config.rtsp);
    if (cameras.length === 0) return;
    const rtsp = new RtspServer({
      host: this.scenario.server.host,
      ...this.scenario.rtsp,
      logger: this.logger,
    });
    this.rtsp = rtsp;
    await rtsp.start();
    await Promise.all(cameras.map((d) => rtsp.mount(d.serialNumber, d.config.video, d.config.rtsp!)));
    for (const device of cameras) {
      this.setDeviceProperty(device, 'rtspStream', true);
      this.setDeviceProperty(device, 'rtspStreamUrl', rtsp.url(device.serialNumber));
    }
  }

  // ------------------------------------------------------------------ control (also over HTTP)

  /** The camera's RTSP stream: serve it (`normal`), refuse it (404, as RTSP switched off) or stall it. */
  async setRtspMode(serialNumber: string, mode: RtspMode): Promise<void> {
    await this.rtspOf(serialNumber).setMode(serialNumber, mode);
  }

  /** Closes the camera's RTSP connections now (a camera rebooting, a network drop). */
  dropRtsp(serialNumber: string): Promise<number> {
    return this.rtspOf(serialNumber).drop(serialNumber);
  }

  private rtspOf(serialNumber: string): RtspServer {
    const device = this.device(serialNumber);
    if (!device.config.rtsp || !this.rtsp) throw new CommandError('device_rtsp_property_not_enabled');
    return this.rtsp;
  }

  /** A snapshot for the control API's GET /state. */
  snapshot(): SimulatorSnapshot {
    return {
      url: this.url,
      clients: [...this.clients].map((c) => ({ schemaVersion: c.schemaVersion, listening: c.listening })),
      driver: {
        connected: this.driverConnected,
        pushConnected: this.pushConnected,
        pendingAuth: this.pendingAuth?.kind ?? null,
      },
      stations: [...this.stations.values()].map((s) => ({ ...s.properties, connected: s.connected })),
      devices: [...this.devices.values()].map((d) => ({ ...d.properties })),
      livestreams: [...this.streams.entries()].map(([station, s]) => ({
        station,
        device: s.device.serialNumber,
        subscribers: s.subscribers.size,
        started: s.started,
        stalled: s.stalled,
      })),
    };
  }

  hasDevice(serialNumber: string): boolean {
    return this.devices.has(serialNumber);
  }

  hasStation(serialNumber: string): boolean {
    return this.stations.has(serialNumber);
  }

  /**
   * A detection begins (or, if it is already on, is extended: no new event, as the real bridge). It
   * clears on its own after `timings.motionResetSeconds`, or now with `endDetection`.
   */
  triggerDetection(serialNumber: string, kind: DetectionKind, person = 'Unknown'): void {
    const device = this.device(serialNumber);
    if (kind === 'person') this.setDeviceProperty(device, 'personName', person);
    this.setDetection(device, kind, true, person);
    if (ALSO_MOTION.has(kind)) this.setDetection(device, 'motion', true);
  }

  /**
   * Starts a steady stream of detection events (see load.ts) over `devices` (default: every device)
   * and returns its first report; `detectionLoad(id)` reports on it later. Loads run side by side.
   */
  startDetectionLoad(
    options: Omit<DetectionLoadOptions, 'kind' | 'devices'> & { kind?: DetectionKind; devices?: string[] },
  ): DetectionLoadReport {
    const devices = options.devices ?? [...this.devices.keys()];
    for (const serialNumber of devices) this.device(serialNumber);
    const kind = options.kind ?? 'motion';
    const load = new DetectionLoad(`load-${this.loads.size + 1}`, { ...options, kind, devices }, (sn) => {
      const on = this.device(sn).properties[DETECTIONS[kind].property] === true;
      if (on) this.endDetection(sn, kind);
      else this.triggerDetection(sn, kind);
      return !on;
    });
    this.loads.set(load.id, load);
    load.start();
    return load.report();
  }

  detectionLoad(id: string): DetectionLoadReport | undefined {
    return this.loads.get(id)?.report();
  }

  endDetection(serialNumber: string, kind: DetectionKind): void {
    const device = this.device(serialNumber);
    this.setDetection(device, kind, false);
    if (ALSO_MOTION.has(kind)) this.setDetection(device, 'motion', false);
  }

  /** Device `state` (0 offline, 1 online, …) as the cloud refresh would report it. */
  setDeviceState(serialNumber: string, state: number): void {
    const device = this.device(serialNumber);
    this.setDeviceProperty(device, 'state', state);
    if (state !== 1) this.stopStationStreamOf(device);
  }

  setBattery(serialNumber: string, battery: number): void {
    this.setDeviceProperty(this.device(serialNumber), 'battery', battery);
  }

  /**
   * The server's P2P link to a station: offline sends `disconnected` and `connection error` (and ends
   * its livestream); online sends `connected`. With `devices` (default) the station's cameras also
   * change `state` to 0 / 1, as the next cloud refresh would show.
   */
  setStationConnected(serialNumber: string, connected: boolean, options: { devices?: boolean } = {}): void {
    const station = this.stations.get(serialNumber);
    if (!station) throw new CommandError('station_not_found');
    if (station.connected !== connected) {
      station.connected = connected;
      this.broadcast({ source: 'station', event: connected ? 'connected' : 'disconnected', serialNumber });
      if (!connected) {
        const stream = this.streams.get(serialNumber);
        if (stream) this.endStream(stream, true);
        // The bridge's first reconnect attempt then times out.
        this.broadcast({ source: 'station', event: 'connection error', serialNumber });
      }
    }
    if (options.devices !== false)
      for (const device of this.devices.values())
        if (device.stationSerialNumber === serialNumber)
          this.setDeviceState(device.serialNumber, connected ? 1 : 0);
  }

  /** Destroys every client socket at once (a network drop; no shutdown event, no close frame). */
  dropConnections(): number {
    const count = this.clients.size;
    for (const client of this.clients) client.ws.terminate();
    return count;
  }

  /** Sends something broken to every connected client; returns how many got it. */
  sendMalformed(kind: MalformedKind, bytes = 2 * 1024 * 1024): number {
    const serialNumber = this.devices.keys().next().value ?? 'T0000000000000000';
    const text = {
      json: '{"type":"event","event":{"source":"device","event":"motion detected",',
      unknown_event: JSON.stringify({
        type: 'event',
        event: { source: 'device', event: 'hologram detected', serialNumber, state: true },
      }),
      bad_fields: JSON.stringify({
        type: 'event',
        event: { source: 'device', event: 'motion detected', serialNumber, state: 'yes' },
      }),
      oversize: JSON.stringify({
        type: 'event',
        event: {
          source: 'device',
          event: 'property changed',
          serialNumber,
          name: 'note',
          value: 'x'.repeat(bytes),
        },
      }),
    }[kind];
    for (const client of this.clients) client.ws.send(text);
    return this.clients.size;
  }

  /**
   * Ends a device's running livestream: `stop` sends `livestream stopped` now; `stall` stops the data
   * so that the bridge's idle rule ends it after `timings.livestreamIdleStopSeconds`.
   */
  cutLivestream(serialNumber: string, mode: 'stop' | 'stall' = 'stop'): boolean {
    const device = this.device(serialNumber);
    const stream = this.streams.get(device.stationSerialNumber);
    if (!stream || stream.device !== device) return false;
    if (mode === 'stop') this.endStream(stream, true);
    else stream.stalled = true;
    return true;
  }

  /** The next start of this device's livestream fails: `ack` = P2P ack -133; `timeout` = ack 0, no stream. */
  failNextLivestream(serialNumber: string, mode: 'ack' | 'timeout'): void {
    this.device(serialNumber).failNextStart = mode;
  }

  /** Makes a command hang (never answered) or fail with an error code; `undefined` restores it. */
  setCommandBehaviour(command: string, behaviour: CommandBehaviour | undefined): void {
    if (behaviour) this.commandBehaviours.set(command, behaviour);
    else this.commandBehaviours.delete(command);
  }

  /** Eufy's push channel drops or comes back: `push disconnected` / `push connected` to listeners. */
  setPushConnected(connected: boolean): void {
    if (this.pushConnected === connected) return;
    this.pushConnected = connected;
    this.broadcast({ source: 'driver', event: connected ? 'push connected' : 'push disconnected' });
  }

  /** The cloud asks for a 2FA code: the driver disconnects and `verify code` goes out (now and on listen). */
  requestVerifyCode(): void {
    this.requireAuth({ kind: 'verify code' });
  }

  /** The cloud asks for a captcha: `captcha request` with an id and an image. */
  requestCaptcha(): void {
    this.requireAuth({ kind: 'captcha request', captchaId: randomUUID() });
  }

  // ------------------------------------------------------------------ sockets and commands

  private onConnection(ws: WebSocket): void {
    // Without set_api_schema the server assumes its minimum schema.
    const client: SimClient = { ws, schemaVersion: this.scenario.version.minSchemaVersion, listening: false };
    this.clients.add(client);
    ws.on('close', () => this.onClose(client));
    ws.on('error', (err) => this.logger.debug({ err: err.message }, 'client socket error'));
    // Fire-and-forget: onMessage answers a bad message with an error result itself; the socket does not wait for it.
    ws.on('message', (data) => void this.onMessage(client, data.toString()));
    this.send(client, { type: 'version', ...this.scenario.version });
  }

  private onClose(client: SimClient): void {
    this.clients.delete(client);
    for (const stream of [...this.streams.values()]) {
      stream.subscribers.delete(client);
      if (stream.subscribers.size === 0) this.endStream(stream, false);
    }
  }

  private async onMessage(client: SimClient, text: string): Promise<void> {
    let message: JsonObject;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      message = parsed as JsonObject;
    } catch {
      // As eufy-security-ws: a message it cannot parse closes the socket, without a result.
      this.logger.warn('client sent unparseable JSON: closing its socket');
      client.ws.close(1003, 'invalid JSON');
      return;
    }
    const messageId = message.messageId as string | number | undefined;
    const command = typeof message.command === 'string' ? message.command : undefined;
    try {
      if (!command) throw new CommandError('unknown_error');
      const behaviour = this.commandBehaviours.get(command);
      if (behaviour?.mode === 'hang') return;
      if (behaviour?.mode === 'fail') throw new CommandError(behaviour.errorCode);
      const result = await this.runCommand(client, command, message);
      this.send(client, { type: 'result', success: true, messageId, result });
      if (command === 'start_listening') this.replayPendingAuth(client);
    } catch (err) {
      const errorCode = err instanceof CommandError ? err.errorCode : 'unknown_error';
      if (!(err instanceof CommandError)) this.logger.error({ err, command }, 'command crashed');
      this.send(client, { type: 'result', success: false, messageId, errorCode });
    }
  }

  private async runCommand(client: SimClient, command: string, message: JsonObject): Promise<JsonObject> {
    const serialNumber = message.serialNumber as string;
    switch (command) {
      case 'set_api_schema': {
        const version = message.schemaVersion;
        if (
          typeof version !== 'number' ||
          version < this.scenario.version.minSchemaVersion ||
          version > this.scenario.version.maxSchemaVersion
        )
          throw new CommandError('schema_incompatible');
        client.schemaVersion = version;
        return {};
      }
      case 'start_listening':
        client.listening = true;
        return {
          state: {
            driver: {
              version: this.scenario.version.driverVersion,
              connected: this.driverConnected,
              pushConnected: this.driverConnected && this.pushConnected,
              mqttConnected: false,
            },
            stations: [...this.stations.keys()],
            devices: [...this.devices.keys()],
          },
        };
      case 'driver.connect':
      case 'driver.poll_refresh':
        return {};
      case 'driver.is_connected':
        return { connected: this.driverConnected };
      case 'driver.is_push_connected':
        return { connected: this.driverConnected && this.pushConnected };
      case 'driver.set_verify_code':
        this.answerAuth('verify code', message.verifyCode === this.scenario.auth.verifyCode);
        return {};
      case 'driver.set_captcha':
        this.answerAuth('captcha request', message.captcha === this.scenario.auth.captcha);
        return {};
      case 'station.get_properties':
        return { serialNumber, properties: { ...this.station(serialNumber).properties } };
      case 'station.is_connected':
        return { serialNumber, connected: this.station(serialNumber).connected };
      case 'device.get_properties':
        return { serialNumber, properties: { ...this.device(serialNumber).properties } };
      case 'device.get_commands':
        this.device(serialNumber);
        return { serialNumber, commands: CAMERA_COMMANDS };
      case 'device.set_property': {
        const device = this.device(serialNumber);
        if (typeof message.name !== 'string' || !(message.name in device.properties))
          throw new CommandError('device_invalid_property');
        this.setDeviceProperty(device, message.name, message.value);
        return { async: true };
      }
      case 'device.is_livestreaming': {
        const device = this.device(serialNumber);
        return {
          serialNumber,
          livestreaming: this.streams.get(device.stationSerialNumber)?.device === device,
        };
      }
      case 'device.start_livestream':
        this.startLivestream(client, this.device(serialNumber));
        return { async: true };
      case 'device.stop_livestream':
        this.stopLivestream(client, this.device(serialNumber));
        return { async: true };
      default:
        throw new CommandError('unknown_command');
    }
  }

  private device(serialNumber: string): SimDevice {
    const device = this.devices.get(serialNumber);
    if (!device) throw new CommandError('device_not_found');
    return device;
  }

  private station(serialNumber: string): SimStation {
    const station = this.stations.get(serialNumber);
    if (!station) throw new CommandError('station_not_found');
    return station;
  }

  // ------------------------------------------------------------------ events

  private send(client: SimClient, message: JsonObject): void {
    if (client.ws.readyState === WebSocket.OPEN) client.ws.send(JSON.stringify(message));
  }

  private sendEvent(client: SimClient, event: JsonObject): void {
    this.send(client, { type: 'event', event });
  }

  /** Ordinary events go only to clients that sent start_listening. */
  private broadcast(event: JsonObject): void {
    for (const client of this.clients) if (client.listening) this.sendEvent(client, event);
  }

  private setDeviceProperty(device: SimDevice, name: string, value: unknown): void {
    if (device.properties[name] === value) return; // events fire only on change
    device.properties[name] = value;
    this.broadcast({
      source: 'device',
      event: 'property changed',
      serialNumber: device.serialNumber,
      name,
      value,
    });
  }

  private setDetection(device: SimDevice, kind: DetectionKind, on: boolean, person?: string): void {
    const { event, property } = DETECTIONS[kind];
    clearTimeout(device.detectionTimers.get(kind));
    device.detectionTimers.delete(kind);
    if (on) {
      const timer = setTimeout(
        () => this.setDetection(device, kind, false),
        this.scenario.timings.motionResetSeconds * 1000,
      );
      device.detectionTimers.set(kind, timer);
    }
    if (device.properties[property] === on) return; // already on: only the timer was extended
    this.setDeviceProperty(device, property, on);
    this.broadcast({
      source: 'device',
      event,
      serialNumber: device.serialNumber,
      state: on,
      ...(kind === 'person' ? { person: on ? (person ?? 'Unknown') : '' } : {}),
    });
  }

  private commandResult(
    device: SimDevice,
    command: string,
    returnCode: number,
    returnCodeName: string,
  ): void {
    this.broadcast({
      source: 'device',
      event: 'command result',
      serialNumber: device.serialNumber,
      command,
      returnCode,
      returnCodeName,
      customData: { command: { name: P2P_COMMAND_NAMES[command], value: 0 } },
    });
  }

  private requireAuth(auth: NonNullable<Simulator['pendingAuth']>): void {
    this.pendingAuth = auth;
    if (this.driverConnected) {
      this.driverConnected = false;
      this.broadcast({ source: 'driver', event: 'disconnected' });
    }
    for (const client of this.clients) if (client.listening) this.replayPendingAuth(client);
  }

  private replayPendingAuth(client: SimClient): void {
    const auth = this.pendingAuth;
    if (!auth) return;
    if (auth.kind === 'verify code') this.sendEvent(client, { source: 'driver', event: 'verify code' });
    else
      this.sendEvent(client, {
        source: 'driver',
        event: 'captcha request',
        captchaId: auth.captchaId,
        captcha: CAPTCHA_IMAGE,
      });
  }

  private answerAuth(kind: 'verify code' | 'captcha request', correct: boolean): void {
    if (this.pendingAuth?.kind !== kind) return;
    if (!correct) {
      if (kind === 'captcha request') this.pendingAuth = { kind, captchaId: randomUUID() };
      for (const client of this.clients) if (client.listening) this.replayPendingAuth(client);
      return;
    }
    this.pendingAuth = undefined;
    this.driverConnected = true;
    this.broadcast({ source: 'driver', event: 'connected' });
    this.broadcast({ source: 'driver', event: 'push connected' });
  }

  private scheduleDemo(): void {
    const meanMs = this.scenario.timings.demoMotionEverySeconds * 1000;
    this.demoTimer = setTimeout(
      () => {
        const online = [...this.devices.values()].filter((d) => d.properties.state === 1);
        const device = online[Math.floor(Math.random() * online.length)];
        if (device) {
          const kind: DetectionKind = Math.random() < 0.3 ? 'person' : 'motion';
          this.logger.info({ serialNumber: device.serialNumber, kind }, 'demo detection');
          this.triggerDetection(device.serialNumber, kind);
        }
        this.scheduleDemo();
      },
      meanMs * (0.5 + Math.random()),
    );
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  // ------------------------------------------------------------------ livestreams

  private startLivestream(client: SimClient, device: SimDevice): void {
    const stationSerial = device.stationSerialNumber;
    const current = this.streams.get(stationSerial);
    if (current?.device === device) {
      if (current.subscribers.has(client)) throw new CommandError('device_livestream_already_running');
      current.subscribers.add(client);
      // Joins the running stream mid-GOP; no cached keyframe, as the real server.
      if (current.started)
        this.sendEvent(client, {
          source: 'device',
          event: 'livestream started',
          serialNumber: device.serialNumber,
        });
      return;
    }
    const ackDelay = this.scenario.timings.livestreamAckDelayMs;
    const station = this.stations.get(stationSerial);
    const failure = device.failNextStart;
    device.failNextStart = undefined;
    if (failure === 'ack' || device.properties.state !== 1 || !station?.connected) {
      const [code, name] = failure === 'ack' ? [-133, 'ERROR_COMMAND_TIMEOUT'] : [-109, 'ERROR_DEV_OFFLINE'];
      this.later(ackDelay, () => this.commandResult(device, 'start_livestream', code, name));
      return;
    }
    // One P2P livestream per station: a new camera ends the station's current stream.
    if (current) this.endStream(current, true);
    this.later(ackDelay, () => this.commandResult(device, 'start_livestream', 0, 'ERROR_PPCS_SUCCESSFUL'));
    if (failure === 'timeout') return; // acknowledged, but no video ever comes
    const stream: StationStream = {
      device,
      subscribers: new Set([client]),
      started: false,
      stalled: false,
      lastDataAt: Date.now(),
      timers: new Map(),
      ended: false,
    };
    this.streams.set(stationSerial, stream);
    // Fire-and-forget: The stream runs until stopped and ends itself on any error (runStream catches); the start command answers now.
    void this.runStream(stream);
  }

  private stopLivestream(client: SimClient, device: SimDevice): void {
    const stream = this.streams.get(device.stationSerialNumber);
    if (!stream || stream.device !== device || !stream.subscribers.has(client))
      throw new CommandError('device_livestream_not_running');
    this.later(this.scenario.timings.livestreamAckDelayMs, () =>
      this.commandResult(device, 'stop_livestream', 0, 'ERROR_PPCS_SUCCESSFUL'),
    );
    stream.subscribers.delete(client);
    this.sendEvent(client, {
      source: 'device',
      event: 'livestream stopped',
      serialNumber: device.serialNumber,
    });
    if (stream.subscribers.size === 0) this.endStream(stream, false);
  }

  private stopStationStreamOf(device: SimDevice): void {
    const stream = this.streams.get(device.stationSerialNumber);
    if (stream?.device === device) this.endStream(stream, true);
  }

  /** Ends a station's stream; `notify` sends `livestream stopped` to its subscribers. */
  private endStream(stream: StationStream, notify: boolean): void {
    if (stream.ended) return;
    stream.ended = true;
    const station = stream.device.stationSerialNumber;
    if (this.streams.get(station) === stream) this.streams.delete(station);
    for (const timer of stream.timers.values()) clearTimeout(timer);
    stream.video?.close();
    stream.audio?.close();
    if (notify)
      for (const client of stream.subscribers)
        this.sendEvent(client, {
          source: 'device',
          event: 'livestream stopped',
          serialNumber: stream.device.serialNumber,
        });
  }

  private async runStream(stream: StationStream): Promise<void> {
    const { device } = stream;
    const profile = device.config.video;
    try {
      const [video, audio] = await Promise.all([
        this.media.video(profile, String(device.properties.name)),
        profile.audio ? this.media.audio() : undefined,
      ]);
      stream.video = video;
      stream.audio = audio;
      if (stream.ended) {
        video.close();
        audio?.close();
        return;
      }
    } catch (err) {
      this.logger.error({ err, serialNumber: device.serialNumber }, 'could not produce video');
      this.endStream(stream, true);
      return;
    }
    const message = livestreamMessages(device.serialNumber, profile);
    stream.lastDataAt = Date.now(); // the idle rule counts from the first chance to send
    const idleMs = this.scenario.timings.livestreamIdleStopSeconds * 1000;
    const onIdle = () => {
      this.logger.info({ serialNumber: device.serialNumber, idleMs }, 'no livestream data: stopping it');
      this.endStream(stream, true);
    };
    pace(stream, {
      name: 'video',
      periodMs: 1000 / profile.fps,
      idleMs,
      onIdle,
      take: () => stream.video?.take(),
      send: (frame) => {
        if (!stream.started) {
          stream.started = true;
          for (const client of stream.subscribers)
            this.sendEvent(client, {
              source: 'device',
              event: 'livestream started',
              serialNumber: device.serialNumber,
            });
        }
        sendMedia(stream.subscribers, message.video(frame));
      },
    });
    if (stream.audio)
      pace(stream, {
        name: 'audio',
        periodMs: AUDIO_FRAME_MS,
        idleMs,
        onIdle,
        take: () => (stream.started ? stream.audio?.take() : undefined),
        send: (frame) => sendMedia(stream.subscribers, message.audio(frame)),
      });
  }
}

/** Starts a simulator (WebSocket + control API) and resolves once both listen. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const simulator = new Simulator(options);
  await simulator.listen();
  return simulator;
}
