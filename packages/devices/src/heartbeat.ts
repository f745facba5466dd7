import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import { redisKey } from '@eufy-relay/runtime';

/**
 * Problems of the bridge, told apart so a person knows where to look: the bridge itself
 * (unreachable, schema), the Eufy account (captcha / verification code / cloud login), or the push
 * channel that carries motion. A single offline camera is not a bridge problem: it is in the registry.
 */
export const BRIDGE_PROBLEMS = [
  'unreachable',
  'schema_incompatible',
  'captcha_required',
  'verify_code_required',
  'cloud_disconnected',
  'push_disconnected',
] as const;
export type BridgeProblem = (typeof BRIDGE_PROBLEMS)[number];

/** Ingest's view of its eufy-security-ws connection, rewritten on every change and periodically. */
export interface BridgeHeartbeat {
  /** WebSocket to eufy-security-ws is open and listening. */
  connected: boolean;
  server_version: string | null;
  schema_version: number | null;
  /** Driver (Eufy cloud) session connected, push channel connected; null while unknown. */
  driver_connected: boolean | null;
  push_connected: boolean | null;
  problems: BridgeProblem[];
  last_event_at: number | null;
  /** When ingest last wrote this; a reader treats an old heartbeat as ingest being down. */
  updated_at: number;
}

export interface HeartbeatReading {
  heartbeat: BridgeHeartbeat | null;
  /** No heartbeat, or none within the staleness bound: ingest is not running or cannot reach Redis. */
  stale: boolean;
  age_ms: number | null;
}

/** `{prefix}:heartbeat:ingest`, a JSON string with a TTL so a dead ingest's heartbeat disappears. */
export class HeartbeatStore {
  constructor(
    private readonly redis: Redis,
    private readonly config: Pick<Config, 'REDIS_PREFIX'>,
  ) {}

  private get key() {
    return redisKey(this.config, 'heartbeat', 'ingest');
  }

  async write(heartbeat: BridgeHeartbeat, ttlMs: number): Promise<void> {
    await this.redis.set(this.key, JSON.stringify(heartbeat), 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async read(staleAfterMs: number, now = Date.now()): Promise<HeartbeatReading> {
    const raw = await this.redis.get(this.key);
    if (!raw) return { heartbeat: null, stale: true, age_ms: null };
    const heartbeat = JSON.parse(raw) as BridgeHeartbeat;
    const age = now - heartbeat.updated_at;
    return { heartbeat, stale: age > staleAfterMs, age_ms: age };
  }
}
