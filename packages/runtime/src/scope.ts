import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '@eufy-relay/config';
import type { Logger } from '@eufy-relay/logger';
import { createRedis, type RedisUse } from './redis';
import { roleLogger, type RoleDeps, type RunningRole } from './role';
import { ShutdownStack } from './shutdown';

/** Closes a connection politely when it is up; one that is not (Redis away) is dropped, never waited on. */
function closeRedis(redis: Redis): Promise<unknown> | void {
  if (redis.status !== 'ready') return redis.disconnect();
  return redis.quit().catch(() => redis.disconnect());
}

/**
 * What every role's start() needs before its own work: its logger, a shutdown stack, Redis
 * connections that close with the role, and the one way to stop it (the stack closed within
 * SHUTDOWN_TIMEOUT_SECONDS, then "role <name> stopped").
 */
export class RoleScope {
  readonly logger: Logger;
  readonly shutdown: ShutdownStack;
  /** SHUTDOWN_TIMEOUT_SECONDS in milliseconds: the bound of the whole stop. */
  readonly shutdownMs: number;

  constructor(
    readonly name: string,
    private readonly config: Config,
    deps?: RoleDeps,
  ) {
    this.logger = roleLogger(name, config, deps);
    this.shutdown = new ShutdownStack(this.logger);
    this.shutdownMs = config.SHUTDOWN_TIMEOUT_SECONDS * 1000;
  }

  /**
   * A Redis connection named `{REDIS_PREFIX}:{connection}` (CLIENT LIST shows who is who), closed
   * with the role. Its errors are logged at debug: the role's own checks and /health report an
   * unreachable Redis, and without a listener ioredis would print each retry to stderr.
   */
  redis(use: RedisUse, connection: string = this.name): Redis {
    const redis = createRedis(this.config, use, `${this.config.REDIS_PREFIX}:${connection}`);
    redis.on('error', (err) => this.logger.debug({ err, connection }, 'redis connection error'));
    this.shutdown.add(`redis ${connection}`, () => closeRedis(redis));
    return redis;
  }

  /**
   * A queue the role opened, closed with it. Its errors are the connection's (already reported) and
   * are logged at debug.
   */
  queue<Q extends Queue>(queue: Q): Q {
    queue.on('error', (err) => this.logger.debug({ err, queue: queue.name }, 'queue error'));
    this.shutdown.add(`queue ${queue.name}`, () => queue.close());
    return queue;
  }

  /** Closes everything the role opened, in reverse order, within the bound; resolves when done. */
  async stop(): Promise<void> {
    await this.shutdown.closeAll(this.shutdownMs);
    this.logger.info(`role ${this.name} stopped`);
  }

  /** The started role's handle: its name, what the role adds (e.g. a URL) and stop(). */
  running<T extends object>(extra?: T): RunningRole & T {
    return { ...(extra as T), name: this.name, stop: () => this.stop() };
  }
}

/**
 * Runs a role's start-up inside a fresh scope. If it throws, what it had opened so far is closed
 * (within the same bound) before the error goes on to the caller: a failed start leaves nothing
 * behind.
 */
export async function startRole<T extends RunningRole>(
  name: string,
  config: Config,
  deps: RoleDeps | undefined,
  body: (scope: RoleScope) => Promise<T>,
): Promise<T> {
  const scope = new RoleScope(name, config, deps);
  try {
    return await body(scope);
  } catch (err) {
    await scope.shutdown.closeAll(scope.shutdownMs);
    throw err;
  }
}
