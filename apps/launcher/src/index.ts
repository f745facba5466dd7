import type { Config } from '@eufy-relay/config';
import { start as api } from '@eufy-relay/api';
import { start as ingest } from '@eufy-relay/ingest';
import { start as janitor } from '@eufy-relay/janitor';
import { start as notifier } from '@eufy-relay/notifier';
import { start as recorder } from '@eufy-relay/recorder';
import { startRoles, type RoleDeps, type RunningRole } from '@eufy-relay/runtime';

/** Every role of the product in one process, as chosen by ROLES (default: all five). */
export function start(config: Config, deps?: RoleDeps): Promise<RunningRole> {
  return startRoles(config.ROLES, { ingest, recorder, notifier, janitor, api }, config, deps);
}
