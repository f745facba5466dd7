import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROLE_NAMES } from '@eufy-relay/config';
import { createRedis, deletePrefixKeys } from '@eufy-relay/runtime';
import { freePort } from '@eufy-relay/testing';

// These tests run the built entry points the way a user does (`node apps/<role>/dist/main.js`);
// the README's test command builds first.
const root = path.resolve(__dirname, '../../..');
/** Every role's own entry point, and the launcher that runs them together. */
const APPS = [...ROLE_NAMES, 'launcher'];
const entry = (app: string) => path.join(root, 'apps', app, 'dist', 'main.js');
const recordingsDir = mkdtempSync(path.join(tmpdir(), 'eufy-relay-launcher-'));
const baseEnv = {
  PATH: process.env.PATH ?? '',
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  REDIS_PREFIX: `eufy-relay-test-launcher-${process.pid}`,
  RECORDINGS_DIR: recordingsDir,
  NODE_ENV: 'test',
};

// Started roles leave state behind (the janitor's job scheduler, its queue): remove it all.
afterAll(async () => {
  rmSync(recordingsDir, { recursive: true, force: true });
  const redis = createRedis(baseEnv, 'worker');
  await deletePrefixKeys(redis, baseEnv.REDIS_PREFIX);
  await redis.quit();
});

interface Exit {
  code: number | null;
  ms: number;
  stdout: string;
  stderr: string;
}

function run(app: string, env: Record<string, string>): Promise<Exit> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [entry(app)], {
    env: { ...baseEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) =>
    child.on('close', (code) => resolve({ code, ms: Date.now() - t0, stdout, stderr })),
  );
}

beforeAll(() => {
  for (const app of APPS) {
    if (!existsSync(entry(app))) throw new Error(`${entry(app)} is missing: run \`pnpm build\` first`);
  }
});

describe.each(APPS)('%s with a bad setting', (app) => {
  it('exits non-zero within a second, naming the key, before connecting anywhere', async () => {
    const exit = await run(app, { MOTION_TIMEOUT_SECONDS: 'abc', REDIS_URL: 'redis://127.0.0.1:1' });
    expect(exit.code).toBe(1);
    // The issue asks for "within a second" (measured ~0.3 s here, 2.8 s once at load 10); the bound
    // is looser so a loaded CI machine cannot make it flaky, yet it still fails a process that hangs
    // or connects first.
    expect(exit.ms).toBeLessThan(5000);
    expect(exit.stderr.trim()).toBe(
      'config: MOTION_TIMEOUT_SECONDS="abc": expected a positive number (seconds)',
    );
    expect(exit.stdout).toBe('');
  });
});

describe('launcher', () => {
  it('with ROLES=api,janitor starts exactly those two and stops both on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [entry('launcher')], {
      env: { ...baseEnv, ROLES: 'api,janitor', LOG_LEVEL: 'info', HOST: '127.0.0.1', PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Record<string, unknown>[] = [];
    let buffered = '';
    child.stdout.on('data', (d) => {
      buffered += d;
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const p of parts.filter(Boolean)) lines.push(JSON.parse(p));
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // 'close', not 'exit': only then has all of the child's output been read.
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));

    const deadline = Date.now() + 10_000;
    while (!lines.some((l) => l.role === 'launcher' && l.msg === 'ready')) {
      if (Date.now() > deadline) throw new Error(`launcher not ready: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // Roles start one after the other in the canonical order, each logging as it starts.
    const startedRoles = [...new Set(lines.map((l) => l.role).filter((r) => r !== 'launcher'))];
    expect(startedRoles).toEqual(['janitor', 'api']);
    expect(lines.find((l) => l.msg === 'api listening')).toMatchObject({ url: `http://127.0.0.1:${port}` });

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const stopped = lines.filter((l) => /^role \w+ stopped$/.test(String(l.msg))).map((l) => l.role);
    expect(stopped).toEqual(['api', 'janitor']);
    expect(lines.at(-1)).toMatchObject({ role: 'launcher', msg: 'stopped', why: 'SIGTERM' });
    expect(stderr).toBe('');
  });
});
