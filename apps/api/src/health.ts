import { z } from 'zod';
import { BRIDGE_PROBLEMS } from '@eufy-relay/devices';
import { redisMemoryProblem } from '@eufy-relay/runtime';
import { StorageHealth } from '@eufy-relay/storage';
import { hasTokenAccess } from './auth';
import type { ApiContext } from './context';
import { ApiRoutes, named } from './routes';
import { JOB_STATES, pingRedis, readDisk, readHeartbeat, readQueueCounts } from './status';

const check = <T extends z.ZodRawShape>(shape: T) =>
  z.object({ ok: z.boolean(), error: z.string().optional(), ...shape });

/**
 * What can make the product unhealthy, by name: the open answer of /health gives only these, so a
 * stranger learns that something is wrong but nothing about paths, hosts or load.
 */
export const HEALTH_PROBLEMS = [
  'redis_unreachable',
  /** used_memory at REDIS_MEMORY_WARN_RATIO of maxmemory or more: writes stop when it is full. */
  'redis_memory_high',
  'ingest_no_heartbeat',
  'eufy_ws_not_connected',
  ...BRIDGE_PROBLEMS.map((p) => `eufy_ws_${p}` as const),
  'disk_unavailable',
  'disk_not_writable',
  'disk_low',
  'storage_uploads_failing',
] as const;
export type HealthProblem = (typeof HEALTH_PROBLEMS)[number];

const healthStatus = z.enum(['ok', 'unhealthy']);
const problemNames = z.array(z.enum(HEALTH_PROBLEMS));

export const healthSummary = named(
  'HealthSummary',
  z.object({ status: healthStatus, problems: problemNames }),
  'What anyone may see: the status and the names of the problems',
);

export const healthBody = named(
  'Health',
  z.object({
    status: healthStatus,
    problems: problemNames,
    /** One line per problem, in the order of `problems`, saying what is wrong. */
    details: z.array(z.string()),
    uptime_seconds: z.number(),
    checks: z.object({
      redis: check({
        latency_ms: z.number().nullable(),
        used_memory_bytes: z.number().nullable(),
        /** 0: no maxmemory set. */
        maxmemory_bytes: z.number().nullable(),
      }),
      eufy_ws: check({
        connected: z.boolean().nullable(),
        ingest_heartbeat_age_ms: z.number().nullable(),
        server_version: z.string().nullable(),
        schema_version: z.number().nullable(),
        problems: z.array(z.enum(BRIDGE_PROBLEMS)),
      }),
      queues: check({
        depths: z.record(z.string(), z.record(z.enum(JOB_STATES), z.number().int())),
      }),
      disk: check({
        path: z.string(),
        total_bytes: z.number().nullable(),
        free_bytes: z.number().nullable(),
        min_free_bytes: z.number(),
      }),
      storage: check({
        backend: z.enum(['local', 's3']),
        failing_since: z.iso.datetime().nullable().describe('with s3: uploads have been failing since then'),
      }).describe('with s3: the latest upload attempt of any recorder'),
    }),
  }),
  'With the token: Redis, the eufy-security-ws connection (through the ingest heartbeat), queue depths and disk',
);
export type HealthBody = z.infer<typeof healthBody>;

export async function readHealth(ctx: ApiContext): Promise<HealthBody> {
  const [redis, heartbeat, queues, disk, uploads] = await Promise.all([
    pingRedis(ctx.redis),
    readHeartbeat(ctx.heartbeat),
    readQueueCounts(ctx.queues, ctx.redis),
    readDisk(ctx.config.RECORDINGS_DIR),
    ctx.objects ? new StorageHealth(ctx.redis, ctx.config).read().catch(() => null) : null,
  ]);
  const problems: HealthProblem[] = [];
  const details: string[] = [];
  const problem = (name: HealthProblem, detail: string) => {
    problems.push(name);
    details.push(detail);
  };
  if (!redis.ok) problem('redis_unreachable', `redis: ${redis.error}`);
  const memoryProblem = redis.ok ? redisMemoryProblem(redis.value.memory) : null;
  if (memoryProblem) problem('redis_memory_high', `redis: ${memoryProblem}`);

  const beat = heartbeat.ok ? heartbeat.value.heartbeat : null;
  if (heartbeat.ok && !beat) {
    problem(
      'ingest_no_heartbeat',
      'ingest: no heartbeat in Redis (ingest is not running or cannot reach Redis)',
    );
  } else if (beat) {
    if (!beat.connected) problem('eufy_ws_not_connected', 'eufy-security-ws: ingest is not connected to it');
    for (const p of beat.problems) problem(`eufy_ws_${p}`, `eufy-security-ws: ${p}`);
  }

  const min = ctx.config.MIN_FREE_DISK_BYTES;
  if (!disk.ok) problem('disk_unavailable', `disk: ${ctx.config.RECORDINGS_DIR}: ${disk.error}`);
  else if (!disk.value.writable) problem('disk_not_writable', `disk: ${disk.value.path} is not writable`);
  else if (disk.value.free_bytes < min) {
    problem('disk_low', `disk: ${disk.value.free_bytes} bytes free, under MIN_FREE_DISK_BYTES (${min})`);
  }
  // Nothing is lost while uploads fail (the spools keep the files), but a person must know.
  if (uploads && !uploads.ok)
    problem(
      'storage_uploads_failing',
      `storage: uploads to S3 failing since ${new Date(uploads.since ?? Date.now()).toISOString()}: ${uploads.error ?? 'unknown error'}`,
    );
  const bridgeOk = beat !== null && beat.connected && beat.problems.length === 0;

  return {
    status: problems.length === 0 ? 'ok' : 'unhealthy',
    problems,
    details,
    uptime_seconds: Math.round((Date.now() - ctx.startedAt) / 1000),
    checks: {
      redis: redis.ok
        ? {
            ok: memoryProblem === null,
            latency_ms: redis.value.latency_ms,
            used_memory_bytes: redis.value.memory.used_bytes,
            maxmemory_bytes: redis.value.memory.max_bytes,
          }
        : { ok: false, error: redis.error, latency_ms: null, used_memory_bytes: null, maxmemory_bytes: null },
      eufy_ws: {
        ok: bridgeOk,
        ...(heartbeat.ok ? {} : { error: heartbeat.error }),
        connected: beat?.connected ?? null,
        ingest_heartbeat_age_ms: heartbeat.ok ? heartbeat.value.age_ms : null,
        server_version: beat?.server_version ?? null,
        schema_version: beat?.schema_version ?? null,
        problems: beat?.problems ?? [],
      },
      queues: queues.ok ? { ok: true, depths: queues.value } : { ok: false, error: queues.error, depths: {} },
      disk: disk.ok
        ? {
            ok: disk.value.writable && disk.value.free_bytes >= min,
            path: disk.value.path,
            total_bytes: disk.value.total_bytes,
            free_bytes: disk.value.free_bytes,
            min_free_bytes: min,
          }
        : {
            ok: false,
            error: disk.error,
            path: ctx.config.RECORDINGS_DIR,
            total_bytes: null,
            free_bytes: null,
            min_free_bytes: min,
          },
      storage: {
        ok: uploads?.ok ?? true,
        ...(uploads?.error ? { error: uploads.error } : {}),
        backend: ctx.config.STORAGE_BACKEND,
        failing_since: uploads && !uploads.ok && uploads.since ? new Date(uploads.since).toISOString() : null,
      },
    },
  };
}

export function healthRoutes(routes: ApiRoutes, ctx: ApiContext): void {
  routes.json(
    {
      method: 'get',
      path: '/health',
      tag: 'status',
      access: 'open',
      summary: 'Health of the product as the api sees it',
      description:
        '200 when Redis answers under 80 % of its maxmemory, ingest is connected to eufy-security-ws ' +
        'without problems and the ' +
        'recordings disk is writable with at least MIN_FREE_DISK_BYTES free; 503 otherwise, with ' +
        'the name of each problem in `problems`. Anyone gets the status and the problem names ' +
        '(HealthSummary); a request carrying API_TOKEN (or any request while it is unset) gets ' +
        'the checks behind them (Health): what each problem is, queue depths, disk, versions.',
      responses: {
        200: { description: 'healthy', schema: z.union([healthSummary, healthBody]) },
        503: { description: 'unhealthy; `problems` names why', schema: z.union([healthSummary, healthBody]) },
      },
    },
    async (_input, req, res) => {
      const health = await readHealth(ctx);
      res.setHeader('Cache-Control', 'no-store');
      if (health.status !== 'ok') res.status(503);
      if (hasTokenAccess(req, ctx.config.API_TOKEN)) return health;
      return { status: health.status, problems: health.problems };
    },
  );

  routes.json(
    {
      method: 'get',
      path: '/health/live',
      tag: 'status',
      access: 'open',
      summary: 'Liveness: the api process answers HTTP',
      description:
        'Always 200 while the process serves requests. For platform probes that restart the ' +
        'process: a camera bridge problem shows in /health but is not fixed by restarting the api.',
      responses: {
        200: {
          description: 'the process is serving',
          schema: z.object({ status: z.literal('ok'), uptime_seconds: z.number() }),
        },
      },
    },
    async () => ({ status: 'ok', uptime_seconds: Math.round((Date.now() - ctx.startedAt) / 1000) }),
  );
}
