import type { SystemErrorPayload } from '@eufy-relay/contracts';
import { EufyClient } from '@eufy-relay/eufy-client';
import { startSimulator } from '@eufy-relay/eufy-sim';
import { createLogger } from '@eufy-relay/logger';
import { waitFor } from '@eufy-relay/testing';
import { CAM_A, freePort, scenario, sleep, waitForSome, World } from './helpers';

// BRIDGE_ALERT_AFTER_SECONDS is 0.4 and HEARTBEAT_INTERVAL_SECONDS 0.3 here (helpers.ts).

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function systemErrors(operation?: string): Promise<SystemErrorPayload[]> {
  return (await world!.webhookJobs('system_error'))
    .map((j) => j.payload)
    .filter((p) => operation === undefined || p.operation === operation);
}

async function problems(): Promise<string[] | undefined> {
  return (await world!.heartbeat())?.problems;
}

/** Answers the bridge's login request the way a person would, from another connection. */
async function answer(url: string, how: (client: EufyClient) => Promise<void>): Promise<void> {
  const client = new EufyClient({ url, listen: false, logger: createLogger({ level: 'silent' }) });
  try {
    await client.start();
    await how(client);
  } finally {
    await client.close();
  }
}

describe('heartbeat', () => {
  it('says connected, versions and the last event, and expires when ingest stops', async () => {
    world = await World.create();
    await world.startIngestAndSync();
    const beat = await world.heartbeat();
    expect(beat).toMatchObject({
      connected: true,
      server_version: '1.9.1',
      schema_version: 21,
      driver_connected: true,
      push_connected: true,
      problems: [],
    });
    const before = Date.now();
    world.simulator.setBattery(CAM_A, 50);
    await waitFor('last_event_at', async () => ((await world!.heartbeat())?.last_event_at ?? 0) >= before);
    const ttl = await world.redis.pttl(`${world.config.REDIS_PREFIX}:heartbeat:ingest`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(900);
    await world.stopIngest();
    await waitFor('heartbeat expired', async () => (await world!.heartbeat()) === null, { timeoutMs: 3000 });
  });
});

describe('bridge problems', () => {
  it('push disconnected: in the heartbeat at once, a system_error only if it lasts', async () => {
    world = await World.create();
    await world.startIngestAndSync();
    const sim = world.simulator;

    // A blip shorter than BRIDGE_ALERT_AFTER_SECONDS.
    sim.setPushConnected(false);
    await waitFor('problem shown', async () => (await problems())?.includes('push_disconnected'));
    sim.setPushConnected(true);
    await waitFor('problem cleared', async () => (await problems())?.length === 0);
    await sleep(800);
    await world.barrier();
    expect(await systemErrors()).toEqual([]);

    sim.setPushConnected(false);
    const [error] = await waitForSome(() => systemErrors(), 'system_error');
    expect(error).toMatchObject({
      event: 'system_error',
      operation: 'eufy_push_channel',
      error_type: 'PushDisconnected',
      error_message: "eufy-security-ws lost Eufy's push channel: motion and ring events stop arriving",
      retry_count: 0,
      context: { problem: 'push_disconnected', eufy_ws_url: world.config.EUFY_WS_URL },
    });
    expect(await world.heartbeat()).toMatchObject({ connected: true, push_connected: false });
    sim.setPushConnected(true);
    await waitFor('problem cleared', async () => (await problems())?.length === 0);
    expect(await systemErrors()).toHaveLength(1);
  });

  it.each([
    ['captcha', 'captcha_required', 'CaptchaRequired'],
    ['verify code', 'verify_code_required', 'VerifyCodeRequired'],
  ] as const)(
    'a %s request: system_error eufy_login at once, cleared when answered',
    async (kind, problem, type) => {
      world = await World.create();
      await world.startIngestAndSync();
      const sim = world.simulator;
      if (kind === 'captcha') sim.requestCaptcha();
      else sim.requestVerifyCode();

      const [error] = await waitForSome(() => systemErrors('eufy_login'), 'eufy_login system_error');
      expect(error).toMatchObject({ error_type: type, context: { problem } });
      expect(error!.error_message).toMatch(
        kind === 'captcha' ? /driver\.set_captcha/ : /driver\.set_verify_code/,
      );
      await waitFor('cloud session shown lost', async () =>
        (await problems())?.includes('cloud_disconnected'),
      );
      expect(await problems()).toContain(problem);
      // The lost cloud session is the login's consequence: not a second system_error.
      await sleep(800);
      expect((await systemErrors()).map((e) => e.operation)).toEqual(['eufy_login']);

      await answer(sim.url, (client) =>
        kind === 'captcha'
          ? client.setCaptcha(String(error!.context.captcha_id), 'ABCD')
          : client.setVerifyCode('123456'),
      );
      await waitFor('problems cleared', async () => (await problems())?.length === 0);
      expect(await world.heartbeat()).toMatchObject({ driver_connected: true, push_connected: true });
    },
  );

  it('an incompatible schema: system_error eufy_ws_schema and the problem in the heartbeat', async () => {
    world = await World.create({ sim: { version: { minSchemaVersion: 0, maxSchemaVersion: 12 } } });
    await world.startIngest();
    const [error] = await waitForSome(() => systemErrors('eufy_ws_schema'), 'schema system_error');
    expect(error).toMatchObject({ error_type: 'SchemaIncompatibleError' });
    expect(error!.error_message).toMatch(/speaks API schema 0\.\.12, this client needs 13\.\.21: upgrade/);
    await waitFor('problem shown', async () => (await problems())?.includes('schema_incompatible'));
    expect(await world.heartbeat()).toMatchObject({ connected: false, problems: ['schema_incompatible'] });
  });

  it('eufy-security-ws unreachable: a problem at once, a system_error after the bound, cleared when it is up', async () => {
    const port = await freePort();
    world = await World.create({ sim: false, env: { EUFY_WS_URL: `ws://127.0.0.1:${port}` } });
    await world.startIngest();
    await waitFor('unreachable shown', async () => (await problems())?.includes('unreachable'));
    expect(await world.heartbeat()).toMatchObject({ connected: false, server_version: null });
    const [error] = await waitForSome(() => systemErrors('eufy_ws_connect'), 'unreachable system_error');
    expect(error).toMatchObject({
      error_type: 'EufyWsUnreachable',
      context: { problem: 'unreachable', eufy_ws_url: `ws://127.0.0.1:${port}` },
    });
    expect(error!.error_message).toMatch(
      new RegExp(`^eufy-security-ws at ws://127\\.0\\.0\\.1:${port} is unreachable: `),
    );

    const sim = await startSimulator(scenario({ server: { host: '127.0.0.1', port, controlPort: 0 } }));
    try {
      await waitFor('connected once it is up', async () => (await world!.heartbeat())?.connected, {
        timeoutMs: 15_000,
      });
      expect(await problems()).toEqual([]);
      // The heartbeat says connected as soon as the socket is up; the devices follow from the sync.
      await waitFor('devices registered', async () => (await world!.registry.listDevices()).length > 0);
    } finally {
      await world.stopIngest();
      await sim.stop();
    }
  });
});
