import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from '@eufy-relay/testing';
import { CAM_A, sleep, waitForSome, World } from './helpers';

// The built entry point, run the way a user runs it (the README's test command builds first), so a
// crash is a real SIGKILL of the process.
const entry = path.resolve(__dirname, '../dist/main.js');

let world: World | undefined;
const children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`pnpm build\` first`);
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
  await world?.close();
  world = undefined;
});

function runIngest(w: World): ChildProcess {
  const c = w.config;
  const child = spawn(process.execPath, [entry], {
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: c.REDIS_URL,
      REDIS_PREFIX: c.REDIS_PREFIX,
      EUFY_WS_URL: c.EUFY_WS_URL,
      OFFLINE_DEBOUNCE_SECONDS: String(c.OFFLINE_DEBOUNCE_SECONDS),
      HEARTBEAT_INTERVAL_SECONDS: String(c.HEARTBEAT_INTERVAL_SECONDS),
      LOG_LEVEL: 'warn',
      NODE_ENV: 'test',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  return child;
}

describe('ingest as a process', () => {
  it('killed (SIGKILL) inside the debounce window: the next process still sends exactly one alert', async () => {
    world = await World.create({ env: { OFFLINE_DEBOUNCE_SECONDS: '2' } });
    const first = runIngest(world);
    await world.barrier();

    const wentOffline = Date.now();
    world.simulator.setDeviceState(CAM_A, 0);
    await waitFor('offline check scheduled', async () => (await world!.alerts.getDelayedCount()) === 1);
    first.kill('SIGKILL');
    await once(first, 'exit');
    expect(Date.now() - wentOffline).toBeLessThan(2000);

    const second = runIngest(world);
    const [alert] = await waitForSome(
      () => world!.webhookJobs('camera_offline'),
      'camera_offline from the second process',
    );
    expect(alert!.payload).toMatchObject({ device_sn: CAM_A, reason: 'disconnected' });
    await sleep(2000);
    await world.barrier();
    expect(await world.webhookJobs('camera_offline')).toHaveLength(1);

    let stderr = '';
    second.stderr!.on('data', (d) => (stderr += d));
    second.kill('SIGTERM');
    const [code] = (await once(second, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(stderr).toBe('');
  });
});
