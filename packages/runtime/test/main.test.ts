import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';

// A role's main.js run the way the product runs it: runMain from the built package.
const fixture = path.resolve(__dirname, 'fixtures/main.js');
const built = path.resolve(__dirname, '../dist/index.js');

beforeAll(() => {
  if (!existsSync(built)) throw new Error(`${built} is missing: run \`pnpm build\` first`);
});

interface Run {
  code: number | null;
  lines: Record<string, unknown>[];
}

/** Starts the fixture, sends SIGTERM once it is ready (unless it fails first), reads all it wrote. */
async function run(env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, [fixture], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
    if (!child.killed && out.includes('"msg":"ready"')) child.kill('SIGTERM');
  });
  const [code] = (await once(child, 'close')) as [number | null];
  const lines = out
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { code, lines };
}

describe('runMain', () => {
  it('always writes its last line before the process exits', async () => {
    // Without waiting for the destination, most runs lost "stopped": it was still being written.
    for (let i = 0; i < 10; i++) {
      const { code, lines } = await run({});
      expect(code).toBe(0);
      expect(lines.at(-1)).toMatchObject({ msg: 'stopped', why: 'SIGTERM', role: 'fixture' });
    }
  });

  it('writes every line of a burst logged while stopping, then "stopped"', async () => {
    const { code, lines } = await run({ FIXTURE_LINES: '2000' });
    expect(code).toBe(0);
    expect(lines.filter((l) => l.msg === 'stopping line')).toHaveLength(2000);
    expect(lines.at(-1)).toMatchObject({ msg: 'stopped', why: 'SIGTERM' });
  });

  it('says why it exits when the role fails to start', async () => {
    for (let i = 0; i < 3; i++) {
      const { code, lines } = await run({ FIXTURE_FAIL: '1' });
      expect(code).toBe(1);
      expect(lines.find((l) => l.msg === 'failed to start')).toMatchObject({
        err: expect.objectContaining({ message: 'fixture start failed' }),
      });
      expect(lines.at(-1)).toMatchObject({ msg: 'stopped', why: 'start failed' });
    }
  });
});
