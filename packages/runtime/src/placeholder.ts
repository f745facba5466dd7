import type { Config } from '@eufy-relay/config';
import type { RoleDeps, RunningRole } from './role';
import { startRole } from './scope';

/**
 * The stand-in for a role whose issue has not landed: it connects to Redis, says plainly that it
 * does nothing yet, and stops cleanly. It never pretends to do the role's work.
 */
export function startPlaceholderRole(name: string, config: Config, deps?: RoleDeps): Promise<RunningRole> {
  return startRole(name, config, deps, async (scope) => {
    await scope.redis('worker').ping();
    scope.logger.warn(`role ${name} is not implemented yet: connected to Redis and idle`);
    return scope.running();
  });
}
