import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import {
  BRIDGE_PROBLEMS,
  type BridgeHeartbeat,
  type BridgeProblem,
  type HeartbeatStore,
} from '@eufy-relay/devices';
import type { ClientState, ConnectionStatus, EufyEvent } from '@eufy-relay/eufy-client';
import type { Logger } from '@eufy-relay/logger';

/** A problem of the bridge, as the system_error's error_type (its name) and error_message say it. */
export class BridgeProblemError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

interface ProblemSpec {
  /** The system_error `operation`. */
  operation: string;
  /** The system_error `error_type`, unless the client gave an error of its own. */
  errorType: string;
  /** Needs a person now (captcha, code, an incompatible server); the others may heal on their own. */
  immediate: boolean;
  message: (detail: string, url: string) => string;
}

const SPECS: Record<BridgeProblem, ProblemSpec> = {
  unreachable: {
    operation: 'eufy_ws_connect',
    errorType: 'EufyWsUnreachable',
    immediate: false,
    message: (detail, url) => `eufy-security-ws at ${url} is unreachable: ${detail}`,
  },
  schema_incompatible: {
    operation: 'eufy_ws_schema',
    errorType: 'SchemaIncompatibleError',
    immediate: true,
    message: (detail) => detail,
  },
  captcha_required: {
    operation: 'eufy_login',
    errorType: 'CaptchaRequired',
    immediate: true,
    message: () =>
      'Eufy asks for a captcha: until it is answered in eufy-security-ws (driver.set_captcha) no camera events arrive',
  },
  verify_code_required: {
    operation: 'eufy_login',
    errorType: 'VerifyCodeRequired',
    immediate: true,
    message: () =>
      'Eufy asks for a verification code (2FA): until it is entered in eufy-security-ws (driver.set_verify_code) no camera events arrive',
  },
  cloud_disconnected: {
    operation: 'eufy_cloud_session',
    errorType: 'CloudDisconnected',
    immediate: false,
    message: (detail) =>
      `eufy-security-ws lost its Eufy cloud session (${detail}): camera state and events stop updating`,
  },
  push_disconnected: {
    operation: 'eufy_push_channel',
    errorType: 'PushDisconnected',
    immediate: false,
    message: () => "eufy-security-ws lost Eufy's push channel: motion and ring events stop arriving",
  },
};

/** While a login problem stands, the lost cloud session and push channel are its consequences. */
const LOGIN_PROBLEMS: readonly BridgeProblem[] = ['captcha_required', 'verify_code_required'];
const DRIVER_PROBLEMS: readonly BridgeProblem[] = [
  ...LOGIN_PROBLEMS,
  'cloud_disconnected',
  'push_disconnected',
];

export interface BridgeMonitorOptions {
  config: Pick<Config, 'EUFY_WS_URL' | 'BRIDGE_ALERT_AFTER_SECONDS' | 'HEARTBEAT_INTERVAL_SECONDS'>;
  store: HeartbeatStore;
  /** The connection the heartbeat is written on; while it is down the heartbeat waits for it. */
  redis: Redis;
  /** Sends a system_error (through ingest's ordered buffer, so an outage of Redis loses none). */
  report: (operation: string, error: Error, context: Record<string, unknown>) => void;
  logger: Logger;
}

interface OpenProblem {
  since: number;
  detail: string;
  timer?: NodeJS.Timeout;
}

/**
 * Ingest's view of eufy-security-ws: the heartbeat /health reads, and a system_error for each bridge
 * problem — at once for those that need a person, after BRIDGE_ALERT_AFTER_SECONDS for those that
 * may heal on their own. A camera being offline is not a bridge problem (that is camera_offline).
 */
export class BridgeMonitor {
  private connected = false;
  private serverVersion: string | null = null;
  private schemaVersion: number | null = null;
  private driverConnected: boolean | null = null;
  private pushConnected: boolean | null = null;
  private lastEventAt: number | null = null;
  private readonly problems = new Map<BridgeProblem, OpenProblem>();
  private interval: NodeJS.Timeout | undefined;
  private readonly onRedisReady = () => this.write();

  constructor(private readonly options: BridgeMonitorOptions) {}

  start(): void {
    this.interval = setInterval(() => this.write(), this.options.config.HEARTBEAT_INTERVAL_SECONDS * 1000);
    this.options.redis.on('ready', this.onRedisReady);
    this.write();
  }

  stop(): void {
    clearInterval(this.interval);
    this.options.redis.off('ready', this.onRedisReady);
    for (const problem of this.problems.values()) clearTimeout(problem.timer);
  }

  heartbeat(now = Date.now()): BridgeHeartbeat {
    return {
      connected: this.connected,
      server_version: this.serverVersion,
      schema_version: this.schemaVersion,
      driver_connected: this.driverConnected,
      push_connected: this.pushConnected,
      problems: BRIDGE_PROBLEMS.filter((p) => this.problems.has(p)),
      last_event_at: this.lastEventAt,
      updated_at: now,
    };
  }

  onConnection(status: ConnectionStatus): void {
    if (status.state !== 'disconnected' && status.state !== 'closed') return;
    this.connected = false;
    // Without the socket nothing is known about the driver; the next ready tells again.
    this.driverConnected = null;
    this.pushConnected = null;
    for (const problem of DRIVER_PROBLEMS) this.clear(problem);
    if (status.state === 'disconnected')
      this.raise('unreachable', status.reason ?? 'connection lost', { attempt: status.attempt });
    this.write();
  }

  onReady(state: ClientState): void {
    this.connected = true;
    this.serverVersion = state.server.serverVersion;
    this.schemaVersion = state.schemaVersion;
    this.clear('unreachable');
    this.setDriver(state.driver.connected, 'not connected after start_listening');
    this.setPush(state.driver.pushConnected);
    this.write();
  }

  onFatal(error: Error): void {
    this.connected = false;
    this.clear('unreachable');
    this.raise('schema_incompatible', error.message, {}, error);
    this.write();
  }

  onEvent(event: EufyEvent, at: number): void {
    this.lastEventAt = at;
    if (event.source !== 'driver') return;
    switch (event.event) {
      case 'connected':
        this.setDriver(true, '');
        for (const problem of LOGIN_PROBLEMS) this.clear(problem);
        break;
      case 'disconnected':
        this.setDriver(false, 'driver disconnected');
        break;
      case 'connection error':
        this.setDriver(false, `driver connection error ${JSON.stringify(event.error ?? null)}`);
        break;
      case 'push connected':
      case 'push disconnected':
        this.setPush(event.event === 'push connected');
        break;
      case 'verify code':
        this.raise('verify_code_required', 'verify code', {});
        break;
      case 'captcha request':
        this.raise('captcha_required', 'captcha request', { captcha_id: event.captchaId });
        break;
      default:
        return;
    }
    this.write();
  }

  private setDriver(connected: boolean, detail: string): void {
    this.driverConnected = connected;
    if (connected) this.clear('cloud_disconnected');
    else this.raise('cloud_disconnected', detail, {});
  }

  private setPush(connected: boolean): void {
    this.pushConnected = connected;
    if (connected) this.clear('push_disconnected');
    else this.raise('push_disconnected', 'push disconnected', {});
  }

  /** Opens a problem (once: raising an open one again changes nothing) and schedules its report. */
  private raise(
    problem: BridgeProblem,
    detail: string,
    context: Record<string, unknown>,
    error?: Error,
  ): void {
    if (this.problems.has(problem)) return;
    const spec = SPECS[problem];
    const open: OpenProblem = { since: Date.now(), detail };
    this.problems.set(problem, open);
    this.options.logger.warn({ problem, detail }, 'eufy-security-ws problem');
    const send = () => {
      if (this.problems.get(problem) !== open) return;
      if (!LOGIN_PROBLEMS.includes(problem) && LOGIN_PROBLEMS.some((p) => this.problems.has(p))) return;
      const url = this.options.config.EUFY_WS_URL;
      this.options.report(
        spec.operation,
        error ?? new BridgeProblemError(spec.errorType, spec.message(open.detail, url)),
        { problem, since: new Date(open.since).toISOString(), eufy_ws_url: url, ...context },
      );
    };
    if (spec.immediate) send();
    else open.timer = setTimeout(send, this.options.config.BRIDGE_ALERT_AFTER_SECONDS * 1000);
  }

  private clear(problem: BridgeProblem): void {
    const open = this.problems.get(problem);
    if (!open) return;
    clearTimeout(open.timer);
    this.problems.delete(problem);
    this.options.logger.info(
      { problem, lastedMs: Date.now() - open.since },
      'eufy-security-ws problem resolved',
    );
  }

  /** Best effort: a heartbeat that cannot be written now is written when Redis is back. */
  private write(): void {
    const { redis, store, config, logger } = this.options;
    if (redis.status !== 'ready') return;
    store
      .write(this.heartbeat(), config.HEARTBEAT_INTERVAL_SECONDS * 3000)
      .catch((err: unknown) => logger.debug({ err }, 'heartbeat not written'));
  }
}
