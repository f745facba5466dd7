// Idle RSS of each role and time from start to ready: `node apps/<role>/dist/main.js` against a
// private redis-server; "ready" is runMain's `ready` log line (the role's start() resolved), and for
// the api also the first answer of GET /health. RSS is VmRSS from /proc after a few idle seconds.
const { spawn } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { figure, freePort, managed, rssBytes, sleep, startRedis, startRole, waitFor } = require('./lib');

const { ROLE_NAMES: ROLES } = require('@eufy-relay/config');
const IDLE_MS = 3000;

/** The status GET /health answers, or null while nothing answers. */
async function healthStatus(port) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    await res.arrayBuffer();
    return res.status;
  } catch {
    return null;
  }
}

async function measureRole(role, redisUrl) {
  const dir = mkdtempSync(join(tmpdir(), `eufy-relay-bench-${role}-`));
  const port = await freePort();
  const env = {
    ...process.env,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: `eufy-relay-bench-roles-${process.pid}`,
    RECORDINGS_DIR: dir,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    // A receiver nobody listens on: idle roles send nothing.
    WORKATO_WEBHOOK_URL: `http://127.0.0.1:${await freePort()}/hook`,
    WEBHOOK_SECRET: 'bench-secret-0123456789',
    API_TOKEN: 'bench-token-0123456789',
    URL_SIGNING_SECRET: 'bench-url-secret-0123456789',
    EUFY_WS_URL: `ws://127.0.0.1:${await freePort()}`,
    LOG_LEVEL: 'info',
    NODE_ENV: 'production',
  };
  const started = process.hrtime.bigint();
  const proc = startRole(role, env);
  try {
    await waitFor(
      `${role} to log ready`,
      () => /"msg":"ready"/.test(proc.output()) || proc.child.exitCode !== null,
      15_000,
      5,
    );
    if (proc.child.exitCode !== null) throw new Error(`${role} exited: ${proc.output().slice(-500)}`);
    const readyMs = Number(process.hrtime.bigint() - started) / 1e6;
    // The api alone is not healthy (no ingest reports in), so the first answer of any status counts:
    // polling until a 200 that never comes would measure 3 s of requests, not an idle process.
    let health = null;
    if (role === 'api') {
      const status = await waitFor('api /health', () => healthStatus(port), 3000, 5).catch(() => null);
      if (status !== null) health = { status, ms: Number(process.hrtime.bigint() - started) / 1e6 };
    }
    await sleep(IDLE_MS);
    return { role, readyMs, health, rss: rssBytes(proc.child.pid) };
  } finally {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** VmRSS of a Node process that loads nothing: the floor under every role. */
async function bareNodeRss() {
  const proc = managed(
    spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }),
    'node',
  );
  try {
    await sleep(IDLE_MS);
    return rssBytes(proc.child.pid);
  } finally {
    await proc.stop();
  }
}

async function run() {
  const redis = await startRedis();
  const figures = [
    figure({
      name: 'baseline: idle RSS of a bare node process',
      value: +((await bareNodeRss()) / 2 ** 20).toFixed(1),
      unit: 'MB',
      note: 'node -e "setInterval(() => {}, 1000)": what every role carries before its own code',
    }),
  ];
  try {
    for (const role of ROLES) {
      let m;
      try {
        m = await measureRole(role, redis.url);
      } catch (err) {
        figures.push(
          figure({ name: `${role}: start`, value: null, unit: '', note: `failed: ${err.message}` }),
        );
        continue;
      }
      figures.push(
        figure({
          name: `${role}: idle RSS`,
          value: +(m.rss / 2 ** 20).toFixed(1),
          unit: 'MB',
          target: '< 80',
          // From require.cache and heap snapshots of each role (issue 11's investigation).
          why:
            'the code it loads: every role carries ~30 MB above a bare node for bullmq, ioredis, zod (with ' +
            'its locales) and its own modules; the api adds express and its route table (Bull Board, ' +
            'prom-client and the OpenAPI document load at their first use).',
          note:
            `VmRSS ${IDLE_MS / 1000} s after ready${role === 'api' ? ' (and one GET /health)' : ''}.` +
            (role === 'ingest' ? ' No eufy-security-ws listens: ingest keeps retrying the connection.' : ''),
        }),
      );
      figures.push(
        figure({
          name: `${role}: start to ${m.health ? 'answering GET /health' : 'ready'}`,
          value: +((m.health ? m.health.ms : m.readyMs) / 1000).toFixed(3),
          unit: 's',
          target: '< 1.5',
          note:
            (role === 'api' && !m.health
              ? 'GET /health did not answer, so this is the ready log line. '
              : '') +
            `From spawn of node to the role's ready log line` +
            (m.health
              ? ` and then the first answer of /health (${m.health.status}: no ingest runs here).`
              : '.'),
        }),
      );
    }
  } finally {
    await redis.stop();
  }
  return figures;
}

module.exports = { run };
