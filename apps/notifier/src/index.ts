import type { Config } from '@eufy-relay/config';
import { startPlaceholderRole, type RoleDeps, type RunningRole } from '@eufy-relay/runtime';

export function start(config: Config, deps?: RoleDeps): Promise<RunningRole> {
  return startPlaceholderRole('notifier', config, deps);
}
