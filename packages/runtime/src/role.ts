import {
  ConfigError,
  ROLE_NAMES,
  loadConfig,
  secretValues,
  type Config,
  type RoleName,
} from '@eufy-relay/config';
import { createLogger, endLogger, type Logger } from '@eufy-relay/logger';
import { releaseYoungGeneration } from './heap';

export interface RoleDeps {
  /** The parent logger; a role makes its own child. Defaults to a new logger at LOG_LEVEL. */
  logger?: Logger;
}

/** What a started role gives back: the one way to stop it. */
export interface RunningRole {
  readonly name: string;
  stop(): Promise<void>;
}

export type RoleStarter = (config: Config, deps?: RoleDeps) => Promise<RunningRole>;

export function roleLogger(name: string, config: Config, deps?: RoleDeps): Logger {
  return deps?.logger
    ? deps.logger.child({ role: name })
    : createLogger({ level: config.LOG_LEVEL, role: name, secrets: secretValues(config) });
}

/**
 * Reads the configuration or ends the process: one line per bad key on stderr, exit code 1, before
 * anything is connected or started.
 */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.lines.join('\n')}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/** How long the exit waits for the last log lines to be written. */
const LOG_FLUSH_TIMEOUT_MS = 2000;

/**
 * The whole of a role's main.ts: config, logger, start, then stop on SIGTERM/SIGINT within
 * SHUTDOWN_TIMEOUT_SECONDS. A second signal exits at once. An uncaught error is logged as fatal and
 * the role is stopped, never swallowed: the exit code says the process failed. Every exit waits for
 * the log lines before it to be written, so the last one ("stopped", or why it exits) is never lost.
 */
export async function runMain(name: string, start: RoleStarter): Promise<void> {
  const config = loadConfigOrExit();
  // Roles bind their own `role` (roleLogger); binding it here too would print the key twice.
  const baseLogger = createLogger({ level: config.LOG_LEVEL, secrets: secretValues(config) });
  const logger = baseLogger.child({ role: name });
  const startedAt = Date.now();
  let running: RunningRole | undefined;
  let stopping = false;
  let exiting: Promise<never> | undefined;

  const exit = (code: number) =>
    (exiting ??= endLogger(baseLogger, LOG_FLUSH_TIMEOUT_MS).then(() => process.exit(code)));

  const stopAndExit = async (code: number, why: string) => {
    if (stopping) {
      logger.warn({ why }, 'second stop request: exiting now');
      return exit(code || 1);
    }
    stopping = true;
    logger.info({ why }, 'stopping');
    const bound = config.SHUTDOWN_TIMEOUT_SECONDS * 1000;
    const force = setTimeout(() => {
      logger.error({ timeoutMs: bound }, 'shutdown took too long: exiting');
      // Fire-and-forget: exit ends the process: nothing comes after it to wait.
      void exit(code || 1);
    }, bound + 1000);
    force.unref();
    try {
      await running?.stop();
      logger.info({ why }, 'stopped');
    } catch (err) {
      logger.error({ err }, 'stop failed');
      code = code || 1;
    }
    return exit(code);
  };

  // Fire-and-forget: stopAndExit never rejects and ends the process; a signal handler cannot wait for it.
  process.on('SIGTERM', () => void stopAndExit(0, 'SIGTERM'));
  process.on('SIGINT', () => void stopAndExit(0, 'SIGINT'));
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception');
    // Fire-and-forget: stopAndExit never rejects and ends the process.
    void stopAndExit(1, 'uncaughtException');
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled promise rejection');
    // Fire-and-forget: stopAndExit never rejects and ends the process.
    void stopAndExit(1, 'unhandledRejection');
  });

  try {
    running = await start(config, { logger: baseLogger });
  } catch (err) {
    // A setting that proved wrong at start (the S3 bucket check): the same one line as a bad value.
    if (err instanceof ConfigError) process.stderr.write(`${err.lines.join('\n')}\n`);
    logger.fatal({ err }, 'failed to start');
    await stopAndExit(1, 'start failed');
    return;
  }
  logger.info({ startupMs: Date.now() - startedAt }, 'ready');
  releaseYoungGeneration();
}

/**
 * Starts the named roles in one process (ROLES) in the canonical order and returns one handle that
 * stops them in reverse. If one fails to start, those already started are stopped and the error thrown.
 */
export async function startRoles(
  roles: readonly RoleName[],
  starters: Record<RoleName, RoleStarter>,
  config: Config,
  deps?: RoleDeps,
): Promise<RunningRole> {
  const started: RunningRole[] = [];
  const stopAll = async () => {
    for (const role of [...started].reverse()) await role.stop();
  };
  try {
    for (const name of ROLE_NAMES.filter((r) => roles.includes(r)))
      started.push(await starters[name](config, deps));
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { name: started.map((r) => r.name).join(','), stop: stopAll };
}
