import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, alive, ffprobe, freePort, sleep, waitFor } from './harness';

// `pnpm demo` is the README's first command: the script (after the build) must bring up a private
// Redis, the simulator, the inbox and the relay, deliver a signed motion_detected whose video plays,
// and on Ctrl-C stop everything it started.

interface InboxMessage {
  signature: string;
  payload: { event?: string; device_sn?: string; video_url?: string } | null;
}

/** Every live process below `pid` (its children, theirs, …). */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[1]));
    } catch {
      // exited while we looked
    }
  }
  const found: number[] = [];
  for (let frontier = [pid]; frontier.length > 0;) {
    const next = [...parents].filter(([, parent]) => frontier.includes(parent)).map(([child]) => child);
    found.push(...next);
    frontier = next;
  }
  return found;
}

function commandLine(pid: number): string {
  try {
    return `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()}`;
  } catch {
    return `${pid}: (gone)`;
  }
}

test('pnpm demo: a signed motion_detected reaches the inbox, its video plays, and Ctrl-C stops everything', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'eufy-relay-demo-'));
  const [apiPort, inboxPort, simControlPort, noRedisPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  // Own process group, as in a terminal: Ctrl-C goes to the group.
  const demo = spawn(process.execPath, ['tools/demo.mjs'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      DEMO_DATA_DIR: dataDir,
      PORT: String(apiPort),
      DEMO_INBOX_PORT: String(inboxPort),
      DEMO_SIM_CONTROL_PORT: String(simControlPort),
      // Nothing answers here, so the demo starts its own redis-server, as on a fresh laptop.
      REDIS_URL: `redis://127.0.0.1:${noRedisPort}`,
      MOTION_TIMEOUT_SECONDS: '5',
      LOG_LEVEL: 'warn',
    },
  });
  let output = '';
  demo.stdout.on('data', (d) => (output += d));
  demo.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
  try {
    await waitFor(
      'the demo to say it is running',
      () => output.includes('eufy-relay demo is running'),
      60_000,
      () => output,
    );
    expect(output).toContain(`started a private one on port`);
    expect(output).toContain(`http://localhost:${inboxPort}/`);
    // The page asks for the token: the demo says which, and it opens the page.
    const login = new RegExp(
      `the page +http://localhost:${apiPort}/ +\\(user: any, password: (\\S+)\\)`,
    ).exec(output);
    expect(login).not.toBeNull();
    const page = await fetch(`http://127.0.0.1:${apiPort}/`, {
      headers: { authorization: `Basic ${Buffer.from(`any:${login![1]}`).toString('base64')}` },
    });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<h1>eufy-relay</h1>');

    const detected = await waitFor(
      'a signed motion_detected in the inbox',
      async () => {
        const messages = (await (
          await fetch(`http://127.0.0.1:${inboxPort}/messages`)
        ).json()) as InboxMessage[];
        return messages.find((m) => m.payload?.event === 'motion_detected');
      },
      30_000,
    );
    expect(detected.signature).toBe('valid');
    const videoUrl = detected.payload!.video_url!;
    expect(videoUrl.startsWith(`http://localhost:${apiPort}/recordings/`)).toBe(true);
    const probe = await waitFor(
      'the video to play',
      async () => (await ffprobe(videoUrl).catch(() => sleep(300))) ?? null,
      30_000,
    );
    expect(probe.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('h264');

    const started = descendants(demo.pid!);
    // The simulator, the inbox, the relay and Redis at least (the relay's ffmpeg too, while it records).
    expect(started.length).toBeGreaterThanOrEqual(4);
    process.kill(-demo.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    expect(output).toContain('everything it started has stopped');
    // Named by their command lines, so a survivor says what it is.
    expect(started.filter(alive).map(commandLine)).toEqual([]);
  } finally {
    if (demo.exitCode === null) {
      // A failed run: the children are in groups of their own, so they go one by one.
      for (const pid of descendants(demo.pid!)) process.kill(pid, 'SIGKILL');
      process.kill(-demo.pid!, 'SIGKILL');
    }
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 120_000);
