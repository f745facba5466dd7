import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

// The built entry point, run the way a deployment runs it (`node apps/api/dist/main.js`).
const entry = path.resolve(__dirname, '../dist/main.js');

beforeAll(() => {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`pnpm build\` first`);
});

it('under NODE_ENV=production without API_TOKEN and URL_SIGNING_SECRET, exits 1 naming both, before listening', async () => {
  const child = spawn(process.execPath, [entry], {
    env: {
      PATH: process.env.PATH ?? '',
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      REDIS_PREFIX: `eufy-relay-test-api-process-${process.pid}`,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  // 'close', not 'exit': the last log lines may still be in the pipe when the process exits.
  const code = await new Promise((resolve) => child.on('close', resolve));
  expect(code).toBe(1);
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string } });
  const fatal = lines.find((l) => l.msg === 'failed to start');
  expect(fatal?.level).toBe(60);
  expect(fatal?.err?.message).toMatch(
    /^API_TOKEN is not set: under NODE_ENV=production the api does not start without it .*; URL_SIGNING_SECRET is not set: under NODE_ENV=production the api does not start without it \(video and thumbnail URLs are always signed in production\)$/,
  );
  expect(lines.some((l) => l.msg === 'api listening')).toBe(false);
});

it('loads Bull Board and prom-client at their first use, not at start', async () => {
  const token = 'process-test-token-0123456789';
  // PORT must be a real port: take one the kernel hands out and give it back.
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const child = spawn(
    process.execPath,
    ['-r', path.join(__dirname, 'fixtures', 'report-loaded-packages.cjs'), entry],
    {
      env: {
        PATH: process.env.PATH ?? '',
        REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
        REDIS_PREFIX: `eufy-relay-test-api-process-lazy-${process.pid}`,
        RECORDINGS_DIR: tmpdir(),
        NODE_ENV: 'production',
        API_TOKEN: token,
        URL_SIGNING_SECRET: 'process-test-url-secret-0123456789',
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const until = async (what: string, check: () => string | undefined) => {
    for (let waited = 0; waited < 15_000; waited += 20) {
      const found = check();
      if (found !== undefined) return found;
      if (child.exitCode !== null) throw new Error(`api exited: ${stdout}${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`timed out waiting for ${what}: ${stdout}${stderr}`);
  };
  const loadedPackages = async () => {
    const before = stderr.length;
    child.kill('SIGUSR2');
    const line = await until(
      'the loaded packages',
      () => /loaded-packages (.*)\n/.exec(stderr.slice(before))?.[1],
    );
    return JSON.parse(line) as string[];
  };
  try {
    const url = await until('api listening', () => /"url":"([^"]+)","auth"/.exec(stdout)?.[1]);
    const authorization = `Bearer ${token}`;
    expect((await fetch(`${url}/health`)).status).toBeLessThan(600);
    const idle = await loadedPackages();
    expect(idle).toEqual(expect.arrayContaining(['express', 'bullmq']));
    expect(idle.filter((p) => p.startsWith('@bull-board/') || p === 'prom-client')).toEqual([]);

    const metrics = await fetch(`${url}/metrics`, { headers: { authorization } });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^eufy_relay_redis_up 1$/m);
    const board = await fetch(`${url}/admin/queues/api/queues`, { headers: { authorization } });
    expect(board.status).toBe(200);
    expect(await loadedPackages()).toEqual(
      expect.arrayContaining(['@bull-board/api', '@bull-board/express', 'prom-client']),
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.on('close', resolve));
  }
});
