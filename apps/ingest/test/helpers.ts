import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import {
  QUEUES,
  type JobData,
  type WebhookEvent,
  type WebhookPayload,
  type motionSignalJob,
} from '@eufy-relay/contracts';
import { DeviceRegistry, HeartbeatStore, type BridgeHeartbeat } from '@eufy-relay/devices';
import { startSimulator, type Simulator, type SimulatorOptions } from '@eufy-relay/eufy-sim';
import { createLogger } from '@eufy-relay/logger';
import { createRedis, type RunningRole } from '@eufy-relay/runtime';
import { freePort, testConfig, waitFor } from '@eufy-relay/testing';
import { start } from '../src';

// Real Redis, the real simulator over real sockets, ingest started in-process as the launcher does.

export const HOMEBASE = 'T8010P2321000001';
/** Battery camera on the HomeBase. */
export const CAM_A = 'T8113P0223000002';
/** Mains camera on the HomeBase. */
export const CAM_B = 'T8113P0223000003';
/** Standalone battery camera ("energy-saving": its own station, P2P closes after every stream). */
export const SOLO_BATTERY = 'T8400P1022000004';
/** Standalone mains indoor camera. */
export const SOLO_MAINS = 'T8410P1022000005';
/** A camera no test touches except to prove, by the order of writes, that earlier writes are done. */
export const MARKER = 'T8113P0223000009';

export type MotionSignal = JobData<typeof motionSignalJob>;

const SILENT = createLogger({ level: 'silent' });

export function scenario(overrides: Partial<SimulatorOptions> = {}): SimulatorOptions {
  return {
    logger: SILENT,
    server: { host: '127.0.0.1', port: 0, controlPort: 0 },
    // Long enough that a flag clears only when a test ends it.
    timings: { motionResetSeconds: 60, livestreamIdleStopSeconds: 1, livestreamAckDelayMs: 10 },
    stations: [{ serialNumber: HOMEBASE }],
    devices: [
      { serialNumber: CAM_A, name: 'Driveway', station: HOMEBASE, battery: 76 },
      { serialNumber: CAM_B, name: 'Garden', station: HOMEBASE },
      { serialNumber: SOLO_BATTERY, name: 'Porch', model: 'T8400', battery: 88 },
      { serialNumber: SOLO_MAINS, name: 'Hall', model: 'T8410' },
      { serialNumber: MARKER, name: 'Marker', station: HOMEBASE },
    ],
    ...overrides,
  };
}

/** Waits until `list` returns a non-empty array, and returns it. */
export function waitForSome<T>(list: () => Promise<T[]>, what: string, timeoutMs?: number): Promise<T[]> {
  return waitFor(
    what,
    async () => {
      const items = await list();
      return items.length > 0 && items;
    },
    { timeoutMs: timeoutMs },
  );
}

export { freePort };

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let instances = 0;

/**
 * One test's world: its own REDIS_PREFIX, a simulator, readers of the queues ingest writes, and
 * ingest itself (started on demand so tests can restart it). `close()` removes every key it wrote.
 */
export class World {
  readonly config: Config;
  readonly redis: Redis;
  readonly motion: Queue;
  readonly webhooks: Queue;
  readonly alerts: Queue;
  readonly registry: DeviceRegistry;
  readonly heartbeats: HeartbeatStore;
  private running: RunningRole | undefined;

  private constructor(
    readonly sim: Simulator | undefined,
    env: Record<string, string>,
  ) {
    this.config = testConfig(`eufy-relay-test-ingest-${process.pid}-${++instances}`, {
      EUFY_WS_URL: sim?.url ?? 'ws://127.0.0.1:9',
      LOG_LEVEL: 'silent',
      OFFLINE_DEBOUNCE_SECONDS: '0.6',
      BATTERY_ALERT_COOLDOWN_SECONDS: '60',
      HEARTBEAT_INTERVAL_SECONDS: '0.3',
      BRIDGE_ALERT_AFTER_SECONDS: '0.4',
      ERROR_FOLD_SECONDS: '0',
      RETRY_BASE_DELAY_MS: '50',
      SHUTDOWN_TIMEOUT_SECONDS: '5',
      ...env,
    });
    this.redis = createRedis(this.config, 'worker');
    // A test may stop its Redis on purpose: the readers just wait for it.
    this.redis.on('error', () => undefined);
    const connection = { connection: this.redis, prefix: this.config.REDIS_PREFIX };
    this.motion = new Queue(QUEUES.motion, connection);
    this.webhooks = new Queue(QUEUES.webhooks, connection);
    this.alerts = new Queue(QUEUES.alerts, connection);
    for (const queue of [this.motion, this.webhooks, this.alerts]) queue.on('error', () => undefined);
    this.registry = new DeviceRegistry(this.redis, this.config);
    this.heartbeats = new HeartbeatStore(this.redis, this.config);
  }

  static async create(
    options: { sim?: Partial<SimulatorOptions> | false; env?: Record<string, string> } = {},
  ): Promise<World> {
    const sim = options.sim === false ? undefined : await startSimulator(scenario(options.sim ?? {}));
    return new World(sim, options.env ?? {});
  }

  get simulator(): Simulator {
    if (!this.sim) throw new Error('this world has no simulator');
    return this.sim;
  }

  async startIngest(): Promise<void> {
    this.running = await start(this.config, { logger: SILENT });
  }

  async stopIngest(): Promise<void> {
    await this.running?.stop();
    this.running = undefined;
  }

  /** Starts ingest and waits until it has connected and written every device. */
  async startIngestAndSync(): Promise<void> {
    await this.startIngest();
    await this.barrier();
  }

  /**
   * Writes reach Redis in the order ingest saw the events, so once a motion signal of MARKER (fired
   * now) is in Redis, every write from an earlier event is too. Leaves MARKER's flag cleared.
   */
  async barrier(): Promise<void> {
    await waitFor('ingest connected', () => this.heartbeat().then((h) => h?.connected));
    const before = (await this.motionSignals(MARKER)).length;
    this.simulator.triggerDetection(MARKER, 'motion');
    this.simulator.endDetection(MARKER, 'motion');
    await waitFor('marker signals', async () => (await this.motionSignals(MARKER)).length >= before + 2);
  }

  /** Drops ingest's connection to the bridge and waits until ingest is connected (and synced) again. */
  async dropAndReconnect(): Promise<void> {
    const sim = this.simulator;
    sim.dropConnections();
    await waitFor('connection dropped', () => sim.snapshot().clients.length === 0);
    await waitFor('listening again', () => sim.snapshot().clients.some((c) => c.listening));
    const listening = Date.now();
    // Written when ingest is ready again (in between, the heartbeat says not connected).
    await waitFor('ingest ready again', async () => {
      const h = await this.heartbeat();
      return h !== null && h.connected && h.updated_at >= listening;
    });
  }

  async heartbeat(): Promise<BridgeHeartbeat | null> {
    return (await this.heartbeats.read(Number.POSITIVE_INFINITY)).heartbeat;
  }

  /** Motion jobs in the order they reached Redis: no recorder runs here, so all of them wait. */
  async motionJobs(): Promise<Job[]> {
    return this.motion.getJobs(['wait'], 0, -1, true);
  }

  async motionSignals(serial?: string): Promise<({ id: string; name: string } & MotionSignal)[]> {
    return (await this.motionJobs())
      .map((j) => ({ id: j.id!, name: j.name, ...(j.data as MotionSignal) }))
      .filter((d) => serial === undefined || d.device_sn === serial);
  }

  /** Webhook jobs queued for the notifier (none runs here), optionally of one event type. */
  async webhookJobs<E extends WebhookEvent = WebhookEvent>(
    event?: E,
  ): Promise<{ id: string; payload: Extract<WebhookPayload, { event: E }> }[]> {
    const jobs = await this.webhooks.getJobs([
      'wait',
      'active',
      'completed',
      'failed',
      'delayed',
      'prioritized',
    ]);
    return jobs
      .map((j) => ({ id: j.id!, payload: (j.data as { payload: WebhookPayload }).payload, at: j.timestamp }))
      .sort((a, b) => a.at - b.at)
      .filter((j) => event === undefined || j.payload.event === event)
      .map(({ id, payload }) => ({ id, payload: payload as Extract<WebhookPayload, { event: E }> }));
  }

  async close(): Promise<void> {
    await this.stopIngest();
    await this.sim?.stop({ graceful: false });
    for (const queue of [this.motion, this.webhooks, this.alerts]) {
      await queue.obliterate({ force: true });
      await queue.close();
    }
    const keys = await this.redis.keys(`${this.config.REDIS_PREFIX}:*`);
    if (keys.length) await this.redis.del(...keys);
    await this.redis.quit();
  }
}
