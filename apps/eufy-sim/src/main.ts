import { parseArgs } from 'node:util';
import { createLogger } from '@eufy-relay/logger';
import { assertFfmpeg } from './media';
import { loadScenarioFile, parseScenario, ScenarioError, type Scenario } from './scenario';
import { startSimulator } from './simulator';

const USAGE = `usage: node apps/eufy-sim/dist/main.js [scenario.yaml] [--host H] [--port N] [--control-port N]
                                    [--media live|loop] [--demo]`;

function scenarioFromArgs(): Scenario {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'control-port': { type: 'string' },
      media: { type: 'string' },
      demo: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length > 1) {
    console.log(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const base = positionals[0] ? loadScenarioFile(positionals[0]) : parseScenario({});
  // Command-line values win over the file; they go through the same validation.
  return parseScenario(
    {
      ...base,
      server: {
        host: values.host ?? base.server.host,
        port: values.port === undefined ? base.server.port : Number(values.port),
        controlPort:
          values['control-port'] === undefined ? base.server.controlPort : Number(values['control-port']),
      },
      media: { ...base.media, mode: values.media ?? base.media.mode },
      demo: values.demo ?? base.demo,
    },
    'command line',
  );
}

async function main(): Promise<void> {
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info', role: 'eufy-sim' });
  let scenario: Scenario;
  try {
    scenario = scenarioFromArgs();
    assertFfmpeg();
  } catch (err) {
    process.stderr.write(
      `${err instanceof ScenarioError || err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  }
  const simulator = await startSimulator({ ...scenario, logger });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'stopping');
    // Fire-and-forget: stop() never rejects; the process exits when it is done, so nobody waits for it here.
    void simulator.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

// Fire-and-forget: main() reports its own errors and exits: nothing awaits a main.
void main();
