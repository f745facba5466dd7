#!/usr/bin/env node
// `pnpm demo`: the whole product on this machine, with simulated cameras and a local webhook inbox.
// Uses Redis at REDIS_URL, or starts a private redis-server under ./data/demo/redis; checks ffmpeg;
// starts the simulator, the inbox and every role (one process, the ROLES launcher); prints the URLs;
// Ctrl-C stops everything it started. Run `pnpm build` first (`pnpm demo` does).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = path.resolve(process.env.DEMO_DATA_DIR ?? path.join(root, 'data', 'demo'));
const children = [];
let stopping = false;

const say = (line) => process.stdout.write(`[demo] ${line}\n`);

function fail(message) {
  process.stderr.write(`[demo] ${message}\n`);
  void stopAll(1);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A port the user asked for, else the usual one if free, else any free one. */
async function pickPort(wanted, usual) {
  if (wanted) return Number(wanted);
  const free = await new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(usual, '0.0.0.0', () => server.close(() => resolve(true)));
  });
  return free ? usual : freePort();
}

/** PING over RESP; true when a Redis answers at this URL. */
function redisAnswers(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port || 6379), hostname || '127.0.0.1');
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(/^(\+PONG|-NOAUTH)/.test(String(d))));
  });
}

function start(name, command, args, env = {}) {
  // Own process group: a terminal's Ctrl-C reaches only this script, which then stops the children in
  // order (roles before the simulator and Redis they use) instead of all of them at once.
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const prefix = (line) => `${name.padEnd(8)} | ${line}\n`;
  const pipe = (stream, out) => {
    let rest = '';
    stream.on('data', (d) => {
      const lines = (rest + d).split('\n');
      rest = lines.pop();
      for (const line of lines) if (line) out.write(prefix(line));
    });
  };
  pipe(child.stdout, process.stdout);
  pipe(child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    if (!stopping) fail(`${name} exited (${signal ?? `code ${code}`}); stopping the demo`);
  });
  children.push({ name, child });
  return child;
}

async function waitFor(what, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (stopping) return;
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not come up within ${timeoutMs / 1000} s`);
}

/**
 * The simulator's cameras. Porch serves RTSP through GStreamer's RTSP server; where that is not
 * installed, the demo runs without Porch (and says so) rather than not at all.
 */
function scenarioFile() {
  const file = path.join(root, 'tools', 'demo-scenario.yaml');
  const python = process.env.EUFY_SIM_PYTHON || '/usr/bin/python3';
  const check = "import gi; gi.require_version('GstRtspServer', '1.0')";
  if (spawnSync(python, ['-c', check]).status === 0) return file;
  say(
    "GStreamer's RTSP server is not installed: the demo runs without Porch, the RTSP camera with a pre-motion buffer " +
      '(install gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad to see it)',
  );
  const scenario = parse(readFileSync(file, 'utf8'));
  scenario.devices = scenario.devices.filter((device) => !device.rtsp);
  const withoutRtsp = path.join(dataDir, 'demo-scenario.yaml');
  writeFileSync(withoutRtsp, stringify(scenario));
  return withoutRtsp;
}

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  say('stopping…');
  // The roles first (they finish recordings and hand queued webhooks back), then what they use.
  for (const { name, child } of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      say(`${name} did not stop in 30 s: killing it`);
      child.kill('SIGKILL');
    }, 30_000);
    await exited;
    clearTimeout(timer);
  }
  say('everything it started has stopped');
  process.exit(code);
}

async function main() {
  if (spawnSync('ffmpeg', ['-version']).error) {
    throw new Error(
      'ffmpeg is missing. Install it: `sudo apt-get install ffmpeg` (Debian/Ubuntu), `brew install ffmpeg` (macOS), then run `pnpm demo` again.',
    );
  }
  mkdirSync(path.join(dataDir, 'recordings'), { recursive: true });

  let redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  if (await redisAnswers(redisUrl)) {
    say(`using Redis at ${redisUrl.replace(/\/\/[^@]*@/, '//***@')}`);
  } else if (!spawnSync('redis-server', ['--version']).error) {
    const port = await freePort();
    mkdirSync(path.join(dataDir, 'redis'), { recursive: true });
    start('redis', 'redis-server', [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      path.join(dataDir, 'redis'),
      '--appendonly',
      'yes',
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
    ]);
    redisUrl = `redis://127.0.0.1:${port}`;
    await waitFor('the private redis-server', () => redisAnswers(redisUrl), 10_000);
    say(
      `no Redis answered at REDIS_URL: started a private one on port ${port} (data in ${path.join(dataDir, 'redis')})`,
    );
  } else {
    throw new Error(
      `no Redis answers at ${redisUrl} and redis-server is not installed: install Redis 7 (\`sudo apt-get install redis-server\`) or set REDIS_URL.`,
    );
  }

  const apiPort = await pickPort(process.env.PORT, 8080);
  const inboxPort = await pickPort(process.env.DEMO_INBOX_PORT, 8090);
  const simPort = await freePort();
  const simControlPort = await pickPort(process.env.DEMO_SIM_CONTROL_PORT, 3001);
  const apiToken = process.env.API_TOKEN || 'demo-token-change-me-0123';
  const webhookSecret = process.env.WEBHOOK_SECRET || 'whsec_ZGVtby13ZWJob29rLXNlY3JldC0xMjM0NTY=';
  const publicBaseUrl = `http://localhost:${apiPort}`;

  start(
    'eufy-sim',
    process.execPath,
    [
      'apps/eufy-sim/dist/main.js',
      scenarioFile(),
      '--port',
      String(simPort),
      '--control-port',
      String(simControlPort),
      '--demo',
    ],
    { LOG_LEVEL: 'warn' },
  );
  start('inbox', process.execPath, ['apps/webhook-inbox/dist/main.js', '--port', String(inboxPort)], {
    WEBHOOK_SECRET: webhookSecret,
  });
  await waitFor('the simulator', async () => (await fetch(`http://127.0.0.1:${simControlPort}/state`)).ok);

  start('relay', process.execPath, ['apps/launcher/dist/main.js'], {
    REDIS_URL: redisUrl,
    REDIS_PREFIX: process.env.REDIS_PREFIX || 'eufy-relay-demo',
    EUFY_WS_URL: `ws://127.0.0.1:${simPort}`,
    PUBLIC_BASE_URL: publicBaseUrl,
    PORT: String(apiPort),
    HOST: '0.0.0.0',
    RECORDINGS_DIR: path.join(dataDir, 'recordings'),
    WORKATO_WEBHOOK_URL: `http://127.0.0.1:${inboxPort}/hooks`,
    WEBHOOK_SECRET: webhookSecret,
    API_TOKEN: apiToken,
    MOTION_TIMEOUT_SECONDS: process.env.MOTION_TIMEOUT_SECONDS || '20',
    CONFIG_FILE: process.env.CONFIG_FILE || path.join(root, 'tools', 'demo-config.yaml'),
    NODE_ENV: 'development',
    LOG_LEVEL: process.env.LOG_LEVEL || 'info',
  });
  await waitFor(
    'the api',
    async () => (await fetch(`http://127.0.0.1:${apiPort}/health`)).status < 500,
    60_000,
  );

  // Something to look at right away; the simulator adds motion now and then on its own.
  await fetch(`http://127.0.0.1:${simControlPort}/devices/T8113P0223000002/detection`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'person' }),
  });

  say('');
  say(`eufy-relay demo is running. Open:`);
  say(`  the page        ${publicBaseUrl}/   (user: any, password: ${apiToken})`);
  say(`  webhook inbox   http://localhost:${inboxPort}/   (what Workato would receive)`);
  say(`  API docs        ${publicBaseUrl}/docs`);
  say(`  Bull Board      ${publicBaseUrl}/admin/queues   (user: any, password: ${apiToken})`);
  say(
    `  simulator       http://127.0.0.1:${simControlPort}/state   (POST /devices/T8113P0223000004/detection for motion)`,
  );
  say('  Porch (T8113P0223000006) is recorded over RTSP with a 5 s pre-motion buffer: its videos start');
  say(
    `  before the motion (POST /devices/T8113P0223000006/detection; GET ${publicBaseUrl}/devices shows the buffer)`,
  );
  say('Ctrl-C stops everything.');
}

process.on('SIGINT', () => void stopAll(0));
// Last resort if this script dies without stopping them (the children are in their own groups).
process.on('exit', () => {
  for (const { child } of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
process.on('SIGTERM', () => void stopAll(0));
main().catch((err) => fail(err.message));
