import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
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
