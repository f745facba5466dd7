import type { Config } from '@eufy-relay/config';
import { createRedis } from './redis';
import { roleLogger, type RoleDeps, type RunningRole } from './role';
import { ShutdownStack } from './shutdown';

/**
 * The stand-in for a role whose issue has not landed: it connects to Redis, says plainly that it
 * does nothing yet, and stops cleanly. It never pretends to do the role's work.
 */
export async function startPlaceholderRole(
  name: string,
  config: Config,
  deps?: RoleDeps,
): Promise<RunningRole> {
  const logger = roleLogger(name, config, deps);
  const shutdown = new ShutdownStack(logger);
  const redis = createRedis(config, 'worker', `${config.REDIS_PREFIX}:${name}`);
  shutdown.add('redis', () => redis.quit());
  try {
    await redis.ping();
  } catch (err) {
    await shutdown.closeAll(1000);
    throw err;
  }
  logger.warn(`role ${name} is not implemented yet: connected to Redis and idle`);
  return {
    name,
    stop: async () => {
      await shutdown.closeAll(config.SHUTDOWN_TIMEOUT_SECONDS * 1000);
      logger.info(`role ${name} stopped`);
    },
  };
}
