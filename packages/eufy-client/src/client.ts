import { EventEmitter } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import WebSocket from 'ws';
import type { z } from 'zod';
import { createLogger, type Logger } from '@eufy-relay/logger';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { decodeMessage } from './buffer-json';
import {
  CommandFailedError,
  CommandTimeoutError,
  EufyClientError,
  NotConnectedError,
  SchemaIncompatibleError,
  UnexpectedResultError,
} from './errors';
import { Livestream, type LivestreamEnd } from './livestream';
import {
  classifyMessage,
  commandsResult,
  connectedResult,
  DETECTION_EVENTS,
  livestreamingResult,
  propertiesResult,
  startListeningResult,
  type DetectionKind,
  type DriverState,
  type EufyEvent,
  type ResultMessage,
  type VersionMessage,
} from './protocol';

export interface EufyClientOptions {
  /** eufy-security-ws address, e.g. ws://127.0.0.1:3000 (EUFY_WS_URL). */
  url: string;
  logger?: Logger;
  /** API schema range this client speaks; the highest both sides support is used. Default 13..21. */
  minSchemaVersion?: number;
  maxSchemaVersion?: number;
  /** Bound on one command's result. Default 10 000. */
  commandTimeoutMs?: number;
  /** Bound on opening the socket and receiving the server's version message. Default 10 000. */
  connectTimeoutMs?: number;
  /** Reconnect delays (exponential with jitter, capped). */
  reconnect?: Partial<BackoffOptions>;
  /**
   * A WebSocket ping goes out this often; a socket that answered nothing (no pong, no message) since
   * the previous ping is declared dead, so a half-open connection is found within twice this. Default
   * 10 000 (found within 20 s).
   */
  heartbeatIntervalMs?: number;
  /** Larger frames are logged, counted and skipped; the connection stays up. Default 16 MiB. */
  maxMessageBytes?: number;
  /**
   * `start_listening` and fetch every station's and device's properties (default true). Needed for
   * events, state and reconciliation, and to see P2P acknowledgements (`command result`) of livestreams.
   */
  listen?: boolean;
  /** Livestream: wait this long for `livestream started` (default 15 000, as Home Assistant). */
  livestreamStartTimeoutMs?: number;
  /** Livestream: after stop, wait this long for the server's `livestream stopped`. Default 2 000. */
  livestreamStopTimeoutMs?: number;
  /** Livestream: a reader this many chunks behind ends the stream with `overflow`. Default 900. */
  livestreamMaxQueuedChunks?: number;
}

export interface DeviceState {
  serialNumber: string;
  /** As `device.get_properties` returned them, kept current by `property changed` events. */
  properties: Record<string, unknown>;
  /** From `device.get_commands`; a device is a camera iff this includes `start_livestream`. */
  commands: string[];
}

export interface StationState {
  serialNumber: string;
  properties: Record<string, unknown>;
  /** The server's P2P link to the station (`station.is_connected`, `connected`/`disconnected` events). */
  connected: boolean;
}

export interface ClientState {
  server: VersionMessage;
  schemaVersion: number;
  driver: DriverState;
  stations: Map<string, StationState>;
  devices: Map<string, DeviceState>;
}

/** A property that changed: live (`property` event) or while the client was away (`reconciled`). */
export interface PropertyChange {
  source: 'device' | 'station';
  serialNumber: string;
  /** A property name; for stations also `connected` (the P2P link). */
  name: string;
  value: unknown;
  /** What the client knew before; undefined if it did not know the property. */
  previous: unknown;
}

/** What changed between the last state before a connection loss and the state after reconnecting. */
export interface ReconcileReport {
  /** How long the client was without a listening connection. */
  awayMs: number;
  changes: PropertyChange[];
  addedDevices: string[];
  removedDevices: string[];
  addedStations: string[];
  removedStations: string[];
}

export interface Detection {
  kind: DetectionKind;
  serialNumber: string;
  /** true: the detection began; false: the server cleared it (~10 s later, EVENT_DURATION_SECONDS). */
  state: boolean;
  /** Person detections: the recognised name, "Unknown" or "". */
  person?: string;
}

export type ConnectionState = 'connecting' | 'ready' | 'disconnected' | 'reconnecting' | 'closed';

export interface ConnectionStatus {
  state: ConnectionState;
  /** Connection attempts since the last ready connection (1 = first try). */
  attempt: number;
  /** For `reconnecting`: the wait before the next attempt. */
  delayMs?: number;
  /** For `disconnected`: why. */
  reason?: string;
}

export interface ClientStats {
  messages: number;
  unknownEvents: number;
  malformedMessages: number;
  oversizeMessages: number;
  /** Results for commands that had already timed out. */
  lateResults: number;
  reconnects: number;
}

/** The events an EufyClient emits (typed: `client.on('detection', (d) => …)`). */
export interface EufyClientEvents {
  /** Every connection state change. */
  connection: [status: ConnectionStatus];
  /** Connected, negotiated, listening and state fetched; `reconnected` is false the first time. */
  ready: [state: ClientState, info: { reconnected: boolean }];
  /** Every known server event except livestream media data (that goes to the Livestream). */
  event: [event: EufyEvent];
  /** Device detections (motion, person, pet, vehicle, stranger, ring, …), began or cleared. */
  detection: [detection: Detection];
  /** A `property changed` event, with the previous value the client knew. */
  property: [change: PropertyChange];
  /** After each reconnect: what changed while away. */
  reconciled: [report: ReconcileReport];
  /** The client gave up for good (schema incompatible); it will not reconnect. */
  fatal: [error: Error];
}

interface PendingCommand {
  command: string;
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

interface StreamEntry {
  stream: Livestream;
  /** Set while stop is waiting for the server's `livestream stopped`. */
  stopped?: () => void;
  /** Resolves when the serial's slot is free again. */
  released: Promise<void>;
  release: () => void;
}

const DEFAULTS = {
  minSchemaVersion: 13,
  maxSchemaVersion: 21,
  commandTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  heartbeatIntervalMs: 10_000,
  maxMessageBytes: 16 * 1024 * 1024,
  listen: true,
  livestreamStartTimeoutMs: 15_000,
  livestreamStopTimeoutMs: 2_000,
  livestreamMaxQueuedChunks: 900,
};

/** Frames above maxMessageBytes are skipped; only frames this much larger make ws drop the socket. */
const WS_MAX_PAYLOAD_FACTOR = 4;

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // a rejection nobody awaited is not a crash
  return { promise, resolve, reject };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A client of eufy-security-ws. `start()` connects and keeps connected: it reconnects with backoff
 * on its own, re-negotiates and re-listens, and reports what changed while it was away. Listeners
 * are attached to the client (not to a socket), so they survive reconnects unchanged.
 */
export class EufyClient extends EventEmitter<EufyClientEvents> {
  private readonly opts: typeof DEFAULTS & { url: string; reconnect: BackoffOptions };
  private readonly logger: Logger;
  private ws: WebSocket | undefined;
  private ready = false;
  private closing = false;
  private running: Promise<void> | undefined;
  private readonly firstReady = deferred<ClientState>();
  private readonly pending = new Map<string, PendingCommand>();
  private versionWaiter = deferred<VersionMessage>();
  private socketClosed = deferred<string>();
  private heartbeat: NodeJS.Timeout | undefined;
  private alive = true;
  private wakeFromBackoff: (() => void) | undefined;
  private nextMessageId = 1;
  private currentState: ClientState | undefined;
  private lostAt: number | undefined;
  private connectionState: ConnectionState = 'closed';
  private readonly streams = new Map<string, StreamEntry>();
  private readonly counters: ClientStats = {
    messages: 0,
    unknownEvents: 0,
    malformedMessages: 0,
    oversizeMessages: 0,
    lateResults: 0,
    reconnects: 0,
  };

  constructor(options: EufyClientOptions) {
    super();
    const { logger, reconnect, ...rest } = options;
    const given = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    this.opts = { ...DEFAULTS, ...given, url: options.url, reconnect: { ...DEFAULT_BACKOFF, ...reconnect } };
    this.logger = (logger ?? createLogger({ level: 'info' })).child({ component: 'eufy-client' });
  }

  /** Current connection state. */
  get status(): ConnectionState {
    return this.connectionState;
  }

  /** The state from the last ready connection (kept current by events); undefined before the first. */
  get state(): ClientState | undefined {
    return this.currentState;
  }

  get stats(): ClientStats {
    return { ...this.counters };
  }

  /**
   * Starts connecting (and reconnecting for as long as the client is open). Resolves with the state
   * once the first connection is ready; rejects with SchemaIncompatibleError if the server's schema
   * range does not fit ours, or if `close()` comes first. Connection failures are retried, not thrown:
   * bound the wait yourself if you need to.
   */
  start(): Promise<ClientState> {
    if (this.closing) return Promise.reject(new EufyClientError('client is closed'));
    this.running ??= this.run();
    return this.firstReady.promise;
  }

  /** Stops reconnecting, ends open livestreams (`client_closed`), fails pending commands, closes. */
  async close(): Promise<void> {
    if (this.closing) {
      await this.running;
      return;
    }
    this.closing = true;
    this.firstReady.reject(new EufyClientError('client closed before it was ready'));
    this.wakeFromBackoff?.();
    const ws = this.ws;
    if (ws) {
      ws.close(1000, 'client closing');
      const forced = setTimeout(() => ws.terminate(), 1000);
      await this.socketClosed.promise.catch(() => undefined);
      clearTimeout(forced);
    }
    await this.running;
    this.endStreams({ reason: 'client_closed', message: 'the eufy client was closed' });
    this.setStatus({ state: 'closed', attempt: 0 });
  }

  // ---------------------------------------------------------------- commands

  /**
   * Sends a command and resolves with its `result`. Rejects with CommandFailedError (the server's
   * errorCode), CommandTimeoutError (no result in time) or NotConnectedError (no connection, or it
   * closed before the result). `args` are merged into the message (`serialNumber`, `name`, …).
   */
  command<T = unknown>(
    command: string,
    args: Record<string, unknown> = {},
    options: { timeoutMs?: number } = {},
  ): Promise<T> {
    if (!this.ready)
      return Promise.reject(new NotConnectedError(command, 'not connected to eufy-security-ws'));
    return this.send<T>(command, args, options.timeoutMs);
  }

  async getDeviceProperties(serialNumber: string): Promise<Record<string, unknown>> {
    return this.typed(propertiesResult, 'device.get_properties', { serialNumber }).then((r) => r.properties);
  }

  async getDeviceCommands(serialNumber: string): Promise<string[]> {
    return this.typed(commandsResult, 'device.get_commands', { serialNumber }).then((r) => r.commands);
  }

  async getStationProperties(serialNumber: string): Promise<Record<string, unknown>> {
    return this.typed(propertiesResult, 'station.get_properties', { serialNumber }).then((r) => r.properties);
  }

  async isStationConnected(serialNumber: string): Promise<boolean> {
    return this.typed(connectedResult, 'station.is_connected', { serialNumber }).then((r) => r.connected);
  }

  async isLivestreaming(serialNumber: string): Promise<boolean> {
    return this.typed(livestreamingResult, 'device.is_livestreaming', { serialNumber }).then(
      (r) => r.livestreaming,
    );
  }

  /** Resolves when the server accepted it; the outcome arrives as `command result` / `property changed`. */
  async setDeviceProperty(serialNumber: string, name: string, value: unknown): Promise<void> {
    await this.command('device.set_property', { serialNumber, name, value });
  }

  /** Forces the server's cloud refresh (device `state`, `battery` then arrive as property changes). */
  async pollRefresh(): Promise<void> {
    await this.command('driver.poll_refresh');
  }

  /** Answers a `verify code` event (2FA); the driver `connected` event follows on success. */
  async setVerifyCode(verifyCode: string): Promise<void> {
    await this.command('driver.set_verify_code', { verifyCode });
  }

  /** Answers a `captcha request` event. */
  async setCaptcha(captchaId: string, captcha: string): Promise<void> {
    await this.command('driver.set_captcha', { captchaId, captcha });
  }

  // ---------------------------------------------------------------- livestreams

  /**
   * Starts a device's P2P livestream on this connection and returns it once the server accepted the
   * command. Iterate it for chunks; it ends with a reason (see LivestreamEndReason), never by throwing.
   * Rejects with CommandFailedError (e.g. `device_not_found`), CommandTimeoutError or NotConnectedError
   * if the start command itself fails. `device_livestream_already_running` (this socket is already
   * subscribed) counts as started. One open stream per device per client; a second call for the same
   * device while one is open is an error, while one is stopping it waits for the stop to finish.
   * `startTimeoutMs` overrides the client's `livestreamStartTimeoutMs` for this start.
   */
  async startLivestream(
    serialNumber: string,
    options: { startTimeoutMs?: number } = {},
  ): Promise<Livestream> {
    const busy = this.streams.get(serialNumber);
    if (busy && !busy.stream.endReason)
      throw new EufyClientError(`a livestream of ${serialNumber} is already open on this client`);
    if (busy) await busy.released;
    if (this.streams.has(serialNumber))
      throw new EufyClientError(`a livestream of ${serialNumber} was started concurrently on this client`);

    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const stream = new Livestream(
      serialNumber,
      {
        startTimeoutMs: options.startTimeoutMs ?? this.opts.livestreamStartTimeoutMs,
        maxQueuedChunks: this.opts.livestreamMaxQueuedChunks,
      },
      () => this.stopLivestreamOnServer(entry),
    );
    const entry: StreamEntry = { stream, released, release };
    // Registered before the command goes out: events may arrive before its result.
    this.streams.set(serialNumber, entry);
    try {
      await this.command('device.start_livestream', { serialNumber });
    } catch (err) {
      if (err instanceof CommandFailedError && err.errorCode === 'device_livestream_already_running') {
        stream.markStarted();
        return stream;
      }
      stream.finish({ reason: 'start_failed', message: errorText(err) });
      this.releaseStream(entry);
      throw err;
    }
    return stream;
  }

  private async stopLivestreamOnServer(entry: StreamEntry): Promise<void> {
    const { serialNumber } = entry.stream;
    if (this.streams.get(serialNumber) !== entry) return;
    if (!this.ready) {
      this.releaseStream(entry);
      return;
    }
    const confirmed = new Promise<void>((resolve) => {
      entry.stopped = resolve;
    });
    try {
      await this.command('device.stop_livestream', { serialNumber });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        confirmed,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.opts.livestreamStopTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
    } catch (err) {
      // Already ended on the server (no data, another camera took the station), or the connection
      // went (the server ends a closed socket's streams itself): nothing left to stop.
      const alreadyEnded =
        (err instanceof CommandFailedError && err.errorCode === 'device_livestream_not_running') ||
        err instanceof NotConnectedError;
      if (!alreadyEnded) this.logger.warn({ serialNumber, err: errorText(err) }, 'stop_livestream failed');
    } finally {
      this.releaseStream(entry);
    }
  }

  private releaseStream(entry: StreamEntry): void {
    if (this.streams.get(entry.stream.serialNumber) === entry) this.streams.delete(entry.stream.serialNumber);
    entry.release();
  }

  private endStreams(end: LivestreamEnd): void {
    for (const entry of [...this.streams.values()]) {
      entry.stream.finish(end);
      this.releaseStream(entry);
    }
  }

  // ---------------------------------------------------------------- connection loop

  private setStatus(status: ConnectionStatus): void {
    this.connectionState = status.state;
    this.emit('connection', status);
  }

  private async run(): Promise<void> {
    let attempt = 1;
    while (!this.closing) {
      this.setStatus({ state: 'connecting', attempt });
      try {
        const closed = await this.connectOnce();
        attempt = 1;
        const reason = await closed;
        if (!this.closing) {
          this.logger.warn({ reason }, 'connection to eufy-security-ws lost');
          this.setStatus({ state: 'disconnected', attempt, reason });
        }
      } catch (err) {
        if (err instanceof SchemaIncompatibleError) {
          this.logger.error({ err: err.message }, 'eufy-security-ws schema incompatible: giving up');
          this.closing = true;
          this.firstReady.reject(err);
          this.emit('fatal', err);
          this.setStatus({ state: 'closed', attempt });
          return;
        }
        if (this.closing) break;
        this.logger.warn({ attempt, err: errorText(err) }, 'connecting to eufy-security-ws failed');
        this.setStatus({ state: 'disconnected', attempt, reason: errorText(err) });
        attempt++;
      }
      if (this.closing) break;
      const delayMs = backoffDelay(attempt, this.opts.reconnect);
      this.setStatus({ state: 'reconnecting', attempt, delayMs });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        this.wakeFromBackoff = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeFromBackoff = undefined;
    }
  }

  /** One connection up to ready. Returns a promise of the close reason; throws if it never got ready. */
  private async connectOnce(): Promise<Promise<string>> {
    const ws = new WebSocket(this.opts.url, {
      handshakeTimeout: this.opts.connectTimeoutMs,
      maxPayload: this.opts.maxMessageBytes * WS_MAX_PAYLOAD_FACTOR,
      perMessageDeflate: false,
    });
    this.ws = ws;
    this.versionWaiter = deferred<VersionMessage>();
    this.socketClosed = deferred<string>();
    this.alive = true;
    ws.on('message', (data) => {
      if (ws === this.ws) this.onFrame(data as Buffer);
    });
    ws.on('pong', () => {
      this.alive = true;
    });
    ws.on('error', (err) => this.logger.debug({ err: err.message }, 'eufy-security-ws socket error'));
    ws.on('close', (code, reason) =>
      this.dropSocket(ws, `socket closed (${code}${reason.length ? `: ${reason.toString()}` : ''})`),
    );
    const closed = this.socketClosed.promise;
    try {
      await this.handshake();
    } catch (err) {
      this.dropSocket(ws, `handshake failed: ${errorText(err)}`);
      throw err;
    }
    return closed;
  }

  private async handshake(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const version = await Promise.race([
      this.versionWaiter.promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new EufyClientError(`no version message within ${this.opts.connectTimeoutMs} ms`)),
          this.opts.connectTimeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));

    const schemaVersion = Math.min(this.opts.maxSchemaVersion, version.maxSchemaVersion);
    if (schemaVersion < Math.max(this.opts.minSchemaVersion, version.minSchemaVersion))
      throw new SchemaIncompatibleError(version, this.opts);
    await this.send('set_api_schema', { schemaVersion });

    const reconnected = this.currentState !== undefined;
    const state: ClientState = {
      server: version,
      schemaVersion,
      driver: { version: version.driverVersion, connected: false, pushConnected: false },
      stations: new Map(),
      devices: new Map(),
    };
    if (this.opts.listen) await this.listen(state);
    const previous = this.currentState;
    this.currentState = state;
    this.ready = true;
    this.startHeartbeat();
    if (reconnected) this.counters.reconnects++;
    this.logger.info(
      {
        serverVersion: version.serverVersion,
        schemaVersion,
        stations: state.stations.size,
        devices: state.devices.size,
        reconnected,
      },
      'eufy-security-ws ready',
    );
    this.setStatus({ state: 'ready', attempt: 0 });
    this.firstReady.resolve(state);
    this.emit('ready', state, { reconnected });
    if (previous && this.opts.listen) this.emit('reconciled', reconcile(previous, state, this.lostAt));
  }

  private async listen(state: ClientState): Promise<void> {
    const listening = startListeningResult.parse(await this.send('start_listening'));
    state.driver = listening.state.driver;
    await Promise.all([
      ...listening.state.stations.map(async (sn) => state.stations.set(sn, await this.fetchStation(sn))),
      ...listening.state.devices.map(async (sn) => state.devices.set(sn, await this.fetchDevice(sn))),
    ]);
  }

  private async fetchStation(serialNumber: string): Promise<StationState> {
    const [properties, connected] = await Promise.all([
      this.typed(propertiesResult, 'station.get_properties', { serialNumber }, true),
      this.typed(connectedResult, 'station.is_connected', { serialNumber }, true),
    ]);
    return { serialNumber, properties: properties.properties, connected: connected.connected };
  }

  private async fetchDevice(serialNumber: string): Promise<DeviceState> {
    const [properties, commands] = await Promise.all([
      this.typed(propertiesResult, 'device.get_properties', { serialNumber }, true),
      this.typed(commandsResult, 'device.get_commands', { serialNumber }, true),
    ]);
    return { serialNumber, properties: properties.properties, commands: commands.commands };
  }

  private async typed<S extends z.ZodType>(
    schema: S,
    command: string,
    args: Record<string, unknown>,
    duringHandshake = false,
  ): Promise<z.output<S>> {
    const result = duringHandshake ? await this.send(command, args) : await this.command(command, args);
    const parsed = schema.safeParse(result);
    if (!parsed.success) throw new UnexpectedResultError(command, parsed.error.message);
    return parsed.data;
  }

  private send<T = unknown>(
    command: string,
    args: Record<string, unknown> = {},
    timeoutMs?: number,
  ): Promise<T> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN)
      return Promise.reject(new NotConnectedError(command, 'not connected to eufy-security-ws'));
    const messageId = `${command}.${this.nextMessageId++}`;
    const bound = timeoutMs ?? this.opts.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(messageId);
        reject(new CommandTimeoutError(command, messageId, bound));
      }, bound);
      this.pending.set(messageId, { command, resolve: resolve as (r: unknown) => void, reject, timer });
      ws.send(JSON.stringify({ ...args, messageId, command }), (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pending.delete(messageId);
        reject(new NotConnectedError(command, `send failed: ${err.message}`));
      });
    });
  }

  private startHeartbeat(): void {
    clearInterval(this.heartbeat);
    const ws = this.ws;
    this.heartbeat = setInterval(() => {
      if (!ws || ws !== this.ws) return;
      if (!this.alive) {
        this.logger.warn(
          { silentForMs: this.opts.heartbeatIntervalMs },
          'eufy-security-ws did not answer a ping: dropping the half-open connection',
        );
        this.dropSocket(ws, 'no pong: half-open connection');
        ws.terminate();
        return;
      }
      this.alive = false;
      ws.ping();
    }, this.opts.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  /** Cleans up after a socket (idempotent): pending commands, livestreams, heartbeat, waiters. */
  private dropSocket(ws: WebSocket, reason: string): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    if (this.ready) this.lostAt = Date.now();
    this.ready = false;
    clearInterval(this.heartbeat);
    ws.removeAllListeners('message');
    for (const [messageId, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new NotConnectedError(pending.command, `connection closed (${messageId}): ${reason}`));
    }
    this.pending.clear();
    this.versionWaiter.reject(new EufyClientError(`connection closed before the version message: ${reason}`));
    this.endStreams({ reason: 'connection_lost', message: `connection to eufy-security-ws lost: ${reason}` });
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
    this.socketClosed.resolve(reason);
  }

  // ---------------------------------------------------------------- incoming

  private onFrame(data: Buffer): void {
    this.counters.messages++;
    this.alive = true;
    if (data.length > this.opts.maxMessageBytes) {
      this.counters.oversizeMessages++;
      this.logger.warn(
        {
          bytes: data.length,
          maxMessageBytes: this.opts.maxMessageBytes,
          count: this.counters.oversizeMessages,
        },
        'skipped an oversize message from eufy-security-ws',
      );
      return;
    }
    let decoded: unknown;
    try {
      decoded = decodeMessage(data);
    } catch (err) {
      this.countMalformed(`not JSON: ${errorText(err)}`, data);
      return;
    }
    const message = classifyMessage(decoded);
    switch (message.kind) {
      case 'version':
        this.versionWaiter.resolve(message.message);
        return;
      case 'result':
        this.onResult(message.message);
        return;
      case 'event':
        this.onEvent(message.event);
        return;
      case 'unknown event':
        this.counters.unknownEvents++;
        this.logger.info(
          { source: message.source, event: message.event, count: this.counters.unknownEvents },
          'skipped an unknown eufy-security-ws event',
        );
        return;
      case 'malformed':
        this.countMalformed(message.problem, data);
    }
  }

  private countMalformed(problem: string, data: Buffer): void {
    this.counters.malformedMessages++;
    this.logger.warn(
      { problem, start: data.toString('utf8', 0, 120), count: this.counters.malformedMessages },
      'skipped a malformed message from eufy-security-ws',
    );
  }

  private onResult(message: ResultMessage): void {
    const pending = this.pending.get(message.messageId);
    if (!pending) {
      this.counters.lateResults++;
      this.logger.debug({ messageId: message.messageId }, 'result for no pending command (timed out?)');
      return;
    }
    this.pending.delete(message.messageId);
    clearTimeout(pending.timer);
    if (message.success) pending.resolve(message.result);
    else pending.reject(new CommandFailedError(pending.command, message.messageId, message.errorCode));
  }

  private onEvent(event: EufyEvent): void {
    if (isLivestreamEvent(event)) {
      this.onLivestreamEvent(event);
      return;
    }
    this.applyToState(event);
    this.emit('event', event);
    if (event.source === 'device' && event.event in DETECTION_EVENTS) {
      const { serialNumber, state, person } = event as Extract<
        EufyEvent,
        { state: boolean; person?: string }
      >;
      const kind = DETECTION_EVENTS[event.event as keyof typeof DETECTION_EVENTS];
      this.emit('detection', { kind, serialNumber, state, ...(person === undefined ? {} : { person }) });
    }
    if (
      event.source === 'device' &&
      event.event === 'command result' &&
      event.command === 'start_livestream'
    ) {
      const stream = this.streams.get(event.serialNumber)?.stream;
      if (stream && !stream.started && event.returnCode !== 0) {
        stream.finish({
          reason: 'start_failed',
          message: `P2P start of ${event.serialNumber} failed: ${event.returnCodeName} (${event.returnCode})`,
          returnCode: event.returnCode,
          returnCodeName: event.returnCodeName,
        });
        // Fire-and-forget: stopLivestreamOnServer catches and logs its own errors; the event handler must not block on an RPC.
        void this.stopLivestreamOnServer(this.streams.get(event.serialNumber)!);
      }
    }
    if (event.source === 'server' && event.event === 'shutdown')
      this.logger.warn('eufy-security-ws is shutting down: will reconnect');
  }

  private onLivestreamEvent(event: LivestreamEvent): void {
    const entry = this.streams.get(event.serialNumber);
    if (event.event === 'livestream video data') entry?.stream.pushVideo(event.buffer, event.metadata);
    else if (event.event === 'livestream audio data') entry?.stream.pushAudio(event.buffer, event.metadata);
    else if (event.event === 'livestream started') {
      entry?.stream.markStarted();
      this.emit('event', event);
    } else if (event.event === 'livestream stopped') {
      if (entry) {
        entry.stream.finish({
          reason: 'server_stopped',
          message: `eufy-security-ws stopped the livestream of ${event.serialNumber}`,
        });
        if (entry.stopped) entry.stopped();
        else this.releaseStream(entry);
      }
      this.emit('event', event);
    }
  }

  private applyToState(event: EufyEvent): void {
    const state = this.currentState;
    if (!state) return;
    if (event.event === 'property changed') {
      const holder =
        event.source === 'device'
          ? state.devices.get(event.serialNumber)
          : state.stations.get(event.serialNumber);
      const previous = holder?.properties[event.name];
      if (holder) holder.properties[event.name] = event.value;
      this.emit('property', {
        source: event.source,
        serialNumber: event.serialNumber,
        name: event.name,
        value: event.value,
        previous,
      });
      return;
    }
    switch (event.source) {
      case 'station': {
        const station = 'serialNumber' in event ? state.stations.get(event.serialNumber) : undefined;
        if (station && event.event === 'connected') station.connected = true;
        if (station && (event.event === 'disconnected' || event.event === 'connection error'))
          station.connected = false;
        // Fire-and-forget: refetch catches and logs its own errors; the event handler must not block on an RPC.
        if (event.event === 'station added') void this.refetch('station', event.station);
        if (event.event === 'station removed') state.stations.delete(event.station);
        return;
      }
      case 'device':
        // Fire-and-forget: refetch catches and logs its own errors; the event handler must not block on an RPC.
        if (event.event === 'device added') void this.refetch('device', event.device);
        if (event.event === 'device removed') state.devices.delete(event.device);
        return;
      case 'driver':
        if (event.event === 'connected' || event.event === 'disconnected')
          state.driver.connected = event.event === 'connected';
        if (event.event === 'push connected' || event.event === 'push disconnected')
          state.driver.pushConnected = event.event === 'push connected';
        if (event.event === 'mqtt connected' || event.event === 'mqtt disconnected')
          state.driver.mqttConnected = event.event === 'mqtt connected';
        return;
    }
  }

  private async refetch(kind: 'device' | 'station', serialNumber: string): Promise<void> {
    try {
      if (kind === 'device')
        this.currentState?.devices.set(serialNumber, await this.fetchDevice(serialNumber));
      else this.currentState?.stations.set(serialNumber, await this.fetchStation(serialNumber));
    } catch (err) {
      this.logger.warn(
        { kind, serialNumber, err: errorText(err) },
        'could not fetch an added device/station',
      );
    }
  }
}

type LivestreamEvent = Extract<EufyEvent, { source: 'device'; event: `livestream ${string}` }>;

function isLivestreamEvent(event: EufyEvent): event is LivestreamEvent {
  return event.source === 'device' && event.event.startsWith('livestream ');
}

function diffProperties(
  source: 'device' | 'station',
  serialNumber: string,
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): PropertyChange[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names]
    .filter((name) => !isDeepStrictEqual(before[name], after[name]))
    .map((name) => ({ source, serialNumber, name, value: after[name], previous: before[name] }));
}

/** Compares the state before a loss with the state after reconnecting. */
export function reconcile(before: ClientState, after: ClientState, lostAt?: number): ReconcileReport {
  const changes: PropertyChange[] = [];
  for (const [sn, device] of after.devices) {
    const old = before.devices.get(sn);
    if (old) changes.push(...diffProperties('device', sn, old.properties, device.properties));
  }
  for (const [sn, station] of after.stations) {
    const old = before.stations.get(sn);
    if (!old) continue;
    changes.push(...diffProperties('station', sn, old.properties, station.properties));
    if (old.connected !== station.connected)
      changes.push({
        source: 'station',
        serialNumber: sn,
        name: 'connected',
        value: station.connected,
        previous: old.connected,
      });
  }
  const added = (a: Map<string, unknown>, b: Map<string, unknown>) => [...b.keys()].filter((k) => !a.has(k));
  return {
    awayMs: lostAt === undefined ? 0 : Date.now() - lostAt,
    changes,
    addedDevices: added(before.devices, after.devices),
    removedDevices: added(after.devices, before.devices),
    addedStations: added(before.stations, after.stations),
    removedStations: added(after.stations, before.stations),
  };
}
