import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { WebhookReceiver } from '@eufy-relay/webhooks/testing';
import { ROLES, Stack, WEBHOOK_SECRET, alive } from './harness';

// The harness itself: every part starts as its own process and gets ready, a role survives SIGKILL
// and a restart, and closing leaves no process and no temp directory behind.

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

test('starts Redis, the simulator and every role as separate processes, restarts a killed role, and cleans up', async () => {
  const receiver = await WebhookReceiver.start({ secret: WEBHOOK_SECRET });
  let stack: Stack | undefined;
  let pids: number[] = [];
  try {
    stack = await Stack.start({ webhookUrl: receiver.url });
    const names = [...stack.processes.keys()];
    expect(names.sort()).toEqual(['eufy-sim', 'redis', ...ROLES].sort());
    pids = [...stack.processes.values()].map((p) => p.pid!);
    expect(new Set(pids).size).toBe(pids.length);
    expect(pids).not.toContain(process.pid);
    expect(await accepts(stack.redisPort)).toBe(true);
    expect(await accepts(stack.simPort)).toBe(true);

    // Each role loaded its settings and connected to the private Redis: its log says ready.
    for (const role of ROLES)
      expect(
        stack
          .role(role)
          .logs()
          .some((l) => l.msg === 'ready'),
      ).toBe(true);

    const janitor = stack.role('janitor');
    const killedPid = janitor.pid!;
    await janitor.kill();
    expect(alive(killedPid)).toBe(false);
    expect(janitor.lines.at(-1)).toContain('signal=SIGKILL');
    await janitor.start();
    expect(janitor.pid).not.toBe(killedPid);
    pids.push(janitor.pid!);
  } finally {
    await stack?.close();
    await receiver.close();
  }
  expect(pids.filter(alive)).toEqual([]);
  expect(existsSync(stack!.dir)).toBe(false);
  expect(await accepts(stack!.redisPort)).toBe(false);
}, 60_000);
