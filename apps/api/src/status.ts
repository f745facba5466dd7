import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { Queue } from 'bullmq';
import { JOB_STATES, type JobState } from '@eufy-relay/contracts';
import type { Redis } from 'ioredis';
import type { HeartbeatReading, HeartbeatStore } from '@eufy-relay/devices';
import { diskUsage } from '@eufy-relay/recordings';
import { readRedisMemory, type RedisMemory } from '@eufy-relay/runtime';

/** Reads that feed /health, /metrics and /storage: each one bounded, each failure told, never thrown. */

/** A check that has not answered by then counts as failed (a hung Redis must not hang /health). */
export const CHECK_TIMEOUT_MS = 2000;

export function withTimeout<T>(promise: Promise<T>, what: string, ms = CHECK_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Duck-typed: errors from another realm (node:fs under a test VM) are not `instanceof Error`.
const message = (err: unknown) =>
  typeof err === 'object' && err !== null && 'message' in err ? String(err.message) : String(err);

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

async function outcome<T>(what: string, read: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await withTimeout(read(), what) };
  } catch (err) {
    return { ok: false, error: message(err) };
  }
}

export function pingRedis(redis: Redis): Promise<Outcome<{ latency_ms: number; memory: RedisMemory }>> {
  return outcome('redis', async () => {
    const t0 = performance.now();
    await redis.ping();
    const latency_ms = Math.round((performance.now() - t0) * 100) / 100;
    return { latency_ms, memory: await readRedisMemory(redis) };
  });
}

export { JOB_STATES, type JobState };
export type QueueCounts = Record<string, Record<JobState, number>>;

export function readQueueCounts(byName: Record<string, Queue>, redis: Redis): Promise<Outcome<QueueCounts>> {
  const queues = Object.values(byName);
  return outcome('queue counts', async () => {
    // BullMQ waits for the connection instead of failing: do not wait out the timeout for nothing.
    if (redis.status !== 'ready') throw new Error(`Redis connection is ${redis.status}`);
    const counts = await Promise.all(queues.map((q) => q.getJobCounts(...JOB_STATES)));
    return Object.fromEntries(
      queues.map((q, i) => [
        q.name,
        Object.fromEntries(JOB_STATES.map((s) => [s, counts[i]?.[s] ?? 0])) as Record<JobState, number>,
      ]),
    );
  });
}

/**
 * Ingest writes its heartbeat with a TTL; when ingest dies the key expires. Its presence is the
 * liveness signal, so the reader does not impose a second staleness bound of its own.
 */
export function readHeartbeat(store: HeartbeatStore): Promise<Outcome<HeartbeatReading>> {
  return outcome('ingest heartbeat', () => store.read(Number.POSITIVE_INFINITY));
}

export interface DiskUsage {
  path: string;
  total_bytes: number;
  free_bytes: number;
  used_bytes: number;
  writable: boolean;
}

export function readDisk(dir: string): Promise<Outcome<DiskUsage>> {
  return outcome('disk', async () => {
    const absolute = path.resolve(dir);
    const usage = await diskUsage(absolute);
    const writable = await access(absolute, constants.W_OK).then(
      () => true,
      () => false,
    );
    return {
      path: absolute,
      total_bytes: usage.total,
      free_bytes: usage.free,
      used_bytes: usage.used,
      writable,
    };
  });
}
