import { EventEmitter } from 'node:events';
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
import type { Livestream } from './livestream';
import { isLivestreamEvent, LivestreamRegistry } from './livestream-registry';
import {
  classifyMessage,
  commandsResult,
  connectedResult,
  livestreamingResult,
  propertiesResult,
  startListeningResult,
  type EufyEvent,
  type ResultMessage,
  type VersionMessage,
} from './protocol';
import {
  applyEvent,
  detectionOf,
  initialState,
  reconcile,
  type ClientState,
  type DeviceState,
  type Detection,
  type PropertyChange,
  type ReconcileReport,
  type StationState,
} from './state';

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
  private readonly livestreams: LivestreamRegistry;
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
    this.livestreams = new LivestreamRegistry(
      {
        command: (command, args) => this.command(command, args),
        isReady: () => this.ready,
        logger: this.logger,
      },
      {
        startTimeoutMs: this.opts.livestreamStartTimeoutMs,
        stopTimeoutMs: this.opts.livestreamStopTimeoutMs,
        maxQueuedChunks: this.opts.livestreamMaxQueuedChunks,
      },
    );
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
    this.livestreams.endAll({ reason: 'client_closed', message: 'the eufy client was closed' });
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
  startLivestream(serialNumber: string, options: { startTimeoutMs?: number } = {}): Promise<Livestream> {
    return this.livestreams.start(serialNumber, options);
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
    const state = initialState(version, schemaVersion);
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
    this.livestreams.endAll({
      reason: 'connection_lost',
      message: `connection to eufy-security-ws lost: ${reason}`,
    });
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
      this.livestreams.onEvent(event);
      if (event.event === 'livestream started' || event.event === 'livestream stopped')
        this.emit('event', event);
      return;
    }
    if (this.currentState) {
      const { change, fetch } = applyEvent(this.currentState, event);
      if (change) this.emit('property', change);
      // Fire-and-forget: refetch catches and logs its own errors; the event handler must not block on an RPC.
      if (fetch) void this.refetch(fetch.kind, fetch.serialNumber);
    }
    this.emit('event', event);
    const detection = detectionOf(event);
    if (detection) this.emit('detection', detection);
    if (event.source === 'device' && event.event === 'command result')
      this.livestreams.onCommandResult(event);
    if (event.source === 'server' && event.event === 'shutdown')
      this.logger.warn('eufy-security-ws is shutting down: will reconnect');
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
