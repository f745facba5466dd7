// Shared pieces of the benchmarks: /proc readings, a private Redis, free ports, child processes
// and the shape of one reported figure. Everything listens on 127.0.0.1 and is bounded in time.
const { spawn, spawnSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { readFileSync, readdirSync, writeFileSync } = require('node:fs');
const { createServer } = require('node:net');
const { join } = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');

const ROOT = join(__dirname, '..');
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** Fields of /proc/<pid>/stat after the command name (which may contain spaces). */
function statFields(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(') ') + 2).split(' ');
}

/** CPU seconds (user + system) a process used so far, its reaped children excluded. */
function cpuSeconds(pid) {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Pids of the live children of `pid`. */
function childPids(pid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (Number(statFields(name)[1]) === pid) out.push(Number(name));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** VmRSS of a process in bytes. */
function rssBytes(pid) {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** A TCP port nothing listens on right now (127.0.0.1). */
async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => server.listen(0, '127.0.0.1', resolve).on('error', reject));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Polls `check` every `everyMs` until it returns a truthy value or `timeoutMs` passes. */
async function waitFor(what, check, timeoutMs, everyMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Collects a child's output and stops it (SIGTERM, then SIGKILL after `graceMs`). */
function managed(child, name) {
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    name,
    exited,
    output: () => output,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** A private redis-server on a free port without persistence; `stop()` ends it. */
async function startRedis() {
  const port = await freePort();
  const proc = managed(
    spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
    'redis-server',
  );
  await waitFor('redis-server to accept connections', () => /Ready to accept/.test(proc.output()), 10_000);
  return { url: `redis://127.0.0.1:${port}`, port, pid: proc.child.pid, stop: () => proc.stop() };
}

/** A role as a user runs it, `node apps/<name>/dist/main.js` with `env`; `stdout: 'ignore'` keeps only stderr. */
function startRole(name, env, { stdout = 'pipe', nodeArgs = [] } = {}) {
  return managed(
    spawn(process.execPath, [...nodeArgs, join(ROOT, `apps/${name}/dist/main.js`)], {
      stdio: ['ignore', stdout, 'pipe'],
      env: { ...process.env, ...env },
    }),
    name,
  );
}

/**
 * The simulator (apps/eufy-sim) as its own process with `scenario` (written to dir/scenario.json) on
 * free ports; resolves once it listens, with its WebSocket and control URLs.
 */
async function startSimulator(dir, scenario) {
  const file = join(dir, 'scenario.json'); // YAML is a superset of JSON
  writeFileSync(file, JSON.stringify(scenario));
  const proc = managed(
    spawn(
      process.execPath,
      [join(ROOT, 'apps/eufy-sim/dist/main.js'), file, '--port', '0', '--control-port', '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LOG_LEVEL: 'info' },
      },
    ),
    'eufy-sim',
  );
  const [, url, controlUrl] = await waitFor(
    'the simulator to listen',
    () => {
      if (proc.child.exitCode !== null)
        throw new Error(`the simulator exited: ${proc.output().slice(-2000)}`);
      return /"url":"(ws:[^"]+)","controlUrl":"(http:[^"]+)"/.exec(proc.output());
    },
    // Its RTSP server (GStreamer through python) can take a while to come up on a busy machine.
    120_000,
    100,
  );
  return { proc, url, controlUrl, pid: proc.child.pid };
}

/**
 * The api role in production mode (`NODE_ENV=production`, a random API_TOKEN, URL signing with
 * `signing`) on a free port, serving `recordingsDir` from the index under `prefix`; `env` adds or
 * overrides settings. Resolves once /health/live answers, or the process exited (the caller's first
 * request then says so).
 */
async function startApi({ redisUrl, prefix, recordingsDir, signing, env = {} }) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const token = randomBytes(24).toString('hex'); // production refuses to start without one
  const api = startRole('api', {
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    RECORDINGS_DIR: recordingsDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: url,
    API_TOKEN: token,
    URL_SIGNING_SECRET: signing.secret,
    URL_TTL_SECONDS: String(signing.ttlSeconds),
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    ...env,
  });
  await waitFor(
    'the api to answer /health/live',
    () =>
      api.child.exitCode !== null ||
      fetch(`${url}/health/live`).then(
        (r) => r.ok,
        () => false,
      ),
    20_000,
    100,
  );
  return { api, port, url, token };
}

/** Whether an executable is on PATH. */
function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/**
 * One reported figure. `target` is a comparison such as `>= 150` or `< 80`; `met` says whether the
 * value meets it and `missBy` by how much (relative) it misses. `value: null` means not measured,
 * and `note` says why. `why` explains a miss and leads the note when the target is missed.
 */
function figure({ name, value, unit, target, note, why, details }) {
  const result = { name, value, unit, target: target ?? null, met: null, missBy: null, note: note ?? null };
  if (details) result.details = details;
  if (value === null || value === undefined || !target) return result;
  const [, op, limitText] = /^(<=|>=|<|>|±)\s*([\d.]+)/.exec(target) ?? [];
  const limit = Number(limitText);
  const checks = {
    '<': () => value < limit,
    '<=': () => value <= limit,
    '>': () => value > limit,
    '>=': () => value >= limit,
    '±': () => Math.abs(value) <= limit,
  };
  if (!checks[op]) return result;
  result.met = checks[op]();
  if (!result.met) {
    // A tolerance misses by the points beyond it; a bound by the gap relative to the bound.
    result.missBy =
      op === '±'
        ? `${(Math.abs(value) - limit).toFixed(2)} ${unit} beyond`
        : `${((Math.abs(value - limit) / limit) * 100).toFixed(1)} %`;
    // What was found out about the miss, with the measurement's own note.
    if (why) result.note = `MISSED — why: ${why}${result.note ? ` ${result.note}` : ''}`;
  }
  return result;
}

/** Percentile (0–100) of numbers, nearest rank. */
function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

module.exports = {
  ROOT,
  childPids,
  cpuSeconds,
  figure,
  freePort,
  hasCommand,
  managed,
  percentile,
  rssBytes,
  sleep,
  startApi,
  startRedis,
  startRole,
  startSimulator,
  waitFor,
};
