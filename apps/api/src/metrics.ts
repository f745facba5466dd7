import { BRIDGE_PROBLEMS } from '@eufy-relay/devices';
import type { ApiContext } from './context';
import { onFirstUse } from './onFirstUse';
import type { ApiRoutes } from './routes';
import { registerScrapedMetrics } from './scrape-metrics';
import { JOB_STATES, pingRedis, readDisk, readHeartbeat, readQueueCounts, withTimeout } from './status';

/**
 * Prometheus metrics. The product's state lives in Redis, written by other processes, so the gauges
 * are refreshed from Redis at each scrape rather than counted in this process. A registry per api
 * instance (not prom-client's global one) so several instances can live in one process.
 * prom-client (with @opentelemetry/api) loads here, at the first scrape: an api nobody scrapes does
 * not carry it. The process metrics it samples on its own (GC, event-loop lag) start from then on.
 */
export async function createMetrics(ctx: ApiContext) {
  const { Counter, Gauge, Registry, collectDefaultMetrics } = await import('prom-client');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerScrapedMetrics(registry, ctx);
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] });

  const redisUp = gauge('eufy_relay_redis_up', '1 when Redis answered a PING during this scrape');
  const queueJobs = gauge(
    'eufy_relay_queue_jobs',
    'jobs per BullMQ queue and state (failed: kept failures)',
    ['queue', 'state'],
  );
  const bridgeConnected = gauge(
    'eufy_relay_eufy_ws_connected',
    '1 when ingest reports a live connection to eufy-security-ws (0 also when ingest is not running)',
  );
  const bridgeProblem = gauge('eufy_relay_eufy_ws_problem', '1 for each problem ingest currently reports', [
    'problem',
  ]);
  const heartbeatAge = gauge('eufy_relay_ingest_heartbeat_age_seconds', 'age of the ingest heartbeat');
  const recordings = gauge(
    'eufy_relay_recordings',
    'recordings in the index by status (recording: in progress now)',
    ['status'],
  );
  const recordingBytes = gauge('eufy_relay_recordings_bytes', 'bytes of the recordings in the index');
  const cameraBytes = gauge(
    'eufy_relay_recordings_camera_bytes',
    "bytes of each camera's recordings (with STORAGE_BACKEND=s3: its objects once stored)",
    ['device_sn'],
  );
  const cameraRecordings = gauge('eufy_relay_recordings_camera', 'recordings of each camera', ['device_sn']);
  const backend = gauge('eufy_relay_storage_backend', 'STORAGE_BACKEND in use (1)', ['backend']);
  backend.set({ backend: ctx.config.STORAGE_BACKEND }, 1);
  const diskFree = gauge('eufy_relay_disk_free_bytes', 'free bytes on the recordings disk');
  const diskTotal = gauge('eufy_relay_disk_total_bytes', 'size of the recordings disk');
  const liveFollowers = gauge(
    'eufy_relay_live_followers',
    'clients of this api following a recording in progress (its .mp4 streamed live)',
  );
  // A counter kept in Redis by every notifier: set from there at each scrape, so it survives api restarts.
  const deliveries = new Counter({
    name: 'eufy_relay_webhook_deliveries_total',
    help: 'webhook delivery attempts by every notifier, by outcome (delivered, failed, rate_limited, skipped)',
    labelNames: ['outcome'],
    registers: [registry],
  });

  async function refresh(): Promise<void> {
    const [redis, queues, heartbeat, disk, stats, totals] = await Promise.all([
      pingRedis(ctx.redis),
      readQueueCounts(ctx.queues, ctx.redis),
      readHeartbeat(ctx.heartbeat),
      readDisk(ctx.config.RECORDINGS_DIR),
      withTimeout(ctx.store.stats(), 'recordings index').catch(() => null),
      withTimeout(ctx.deliveryLog.totals(), 'delivery totals').catch(() => null),
    ]);
    redisUp.set(redis.ok ? 1 : 0);
    liveFollowers.set(ctx.live.followers);
    queueJobs.reset();
    if (queues.ok) {
      for (const [queue, counts] of Object.entries(queues.value)) {
        for (const state of JOB_STATES) queueJobs.set({ queue, state }, counts[state]);
      }
    }
    const beat = heartbeat.ok ? heartbeat.value.heartbeat : null;
    bridgeConnected.set(beat?.connected ? 1 : 0);
    for (const problem of BRIDGE_PROBLEMS)
      bridgeProblem.set({ problem }, beat?.problems.includes(problem) ? 1 : 0);
    heartbeatAge.reset();
    if (heartbeat.ok && heartbeat.value.age_ms !== null) heartbeatAge.set(heartbeat.value.age_ms / 1000);
    recordings.reset();
    recordingBytes.reset();
    if (stats) {
      for (const [status, count] of Object.entries(stats.by_status)) recordings.set({ status }, count);
      recordingBytes.set(stats.bytes);
    }
    cameraBytes.reset();
    cameraRecordings.reset();
    for (const c of stats?.cameras ?? []) {
      cameraBytes.set({ device_sn: c.device_sn }, c.bytes);
      cameraRecordings.set({ device_sn: c.device_sn }, c.count);
    }
    deliveries.reset();
    if (totals) for (const [outcome, count] of Object.entries(totals)) deliveries.inc({ outcome }, count);
    diskFree.reset();
    diskTotal.reset();
    if (disk.ok) {
      diskFree.set(disk.value.free_bytes);
      diskTotal.set(disk.value.total_bytes);
    }
  }

  return { registry, refresh };
}

export function metricsRoutes(routes: ApiRoutes, ctx: ApiContext): void {
  const metrics = onFirstUse(() => createMetrics(ctx));
  routes.raw(
    {
      method: 'get',
      path: '/metrics',
      tag: 'status',
      access: 'token',
      summary: 'Prometheus metrics',
      description:
        'Queue depths and failures, active recordings, webhook delivery attempts by outcome, ' +
        'eufy-security-ws connection, disk, and the process metrics of this api process.',
      responses: { 200: { description: 'Prometheus text format', contentType: 'text/plain' } },
    },
    async (_input, _req, res) => {
      const { registry, refresh } = await metrics();
      await refresh();
      res.setHeader('Content-Type', registry.contentType);
      res.setHeader('Cache-Control', 'no-store');
      res.send(await registry.metrics());
    },
  );
}
