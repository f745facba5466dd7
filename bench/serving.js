// Video serving throughput: wrk (50 connections, a 1 MiB Range request each time) against nginx and
// against the api role serving the same recording file, reported as api / nginx. nginx runs one
// worker process, as the api is one Node process. Without nginx or wrk on PATH this reports "not
// measured" (apt-get install -y nginx-light wrk); so does an api that does not answer the Range
// request with 206.
const { execFile, spawn } = require('node:child_process');
const { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { promisify } = require('node:util');
const { recordingId } = require('../packages/contracts/dist');
const { ROOT, figure, freePort, hasCommand, managed, startRedis, waitFor } = require('./lib');

const run$ = promisify(execFile);
const CONNECTIONS = 50;
const SECONDS = 8;
const RANGE = 'bytes=0-1048575';

/** Requests/s and MB/s from wrk's summary. */
async function wrk(url) {
  const { stdout } = await run$(
    'wrk',
    ['-t', '2', '-c', String(CONNECTIONS), '-d', `${SECONDS}s`, '-H', `Range: ${RANGE}`, url],
    { timeout: (SECONDS + 30) * 1000 },
  );
  const requests = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const [, amount, unit] = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(stdout) ?? [];
  const scale = { B: 1 / 2 ** 20, KB: 1 / 1024, MB: 1, GB: 1024 }[unit] ?? NaN;
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1];
  return {
    requestsPerSecond: requests,
    mbPerSecond: +(Number(amount) * scale).toFixed(1),
    non2xx: Number(errors ?? 0),
  };
}

async function status(url) {
  try {
    const res = await fetch(url, { headers: { range: RANGE } });
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    return `no answer (${err.cause?.code ?? err.message})`;
  }
}

async function startNginx(dir, root) {
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  for (const sub of ['client', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, sub));
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path ${dir}/client;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location /recordings/ { alias ${root}/; }
  }
}
`,
  );
  const nginx = managed(
    spawn('nginx', ['-c', conf, '-e', `${dir}/error.log`], { stdio: ['ignore', 'pipe', 'pipe'] }),
    'nginx',
  );
  return { port, nginx };
}

async function run() {
  const missing = ['nginx', 'wrk'].filter((c) => !hasCommand(c));
  if (missing.length > 0) {
    return [
      figure({
        name: 'video serving: api / nginx throughput',
        value: null,
        unit: '%',
        target: '>= 60',
        note: `not measured: ${missing.join(' and ')} not installed (apt-get install -y nginx-light wrk)`,
      }),
    ];
  }
  const dir = mkdtempSync(join(tmpdir(), 'eufy-relay-bench-serving-'));
  chmodSync(dir, 0o755); // nginx workers run as another user
  const root = join(dir, 'recordings');
  mkdirSync(root);
  chmodSync(root, 0o755);
  const id = recordingId('T8400P1022000001', Date.UTC(2026, 0, 30, 10, 15, 0));
  const file = join(root, `${id}.mp4`);
  const stopping = [];
  try {
    // 20 s of 1080p at ~2 Mb/s: about the size of a short motion recording.
    await run$('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=15', '-t', '20',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '2M', '-movflags', '+faststart', file,
    ]); // prettier-ignore
    chmodSync(file, 0o644);
    const { port, nginx } = await startNginx(dir, root);
    stopping.push(() => nginx.stop());
    const nginxUrl = `http://127.0.0.1:${port}/recordings/${id}.mp4`;
    await waitFor('nginx to answer 206', async () => (await status(nginxUrl)) === 206, 10_000);
    const nginxResult = await wrk(nginxUrl);

    const redis = await startRedis();
    stopping.push(() => redis.stop());
    const apiPort = await freePort();
    const api = managed(
      spawn(process.execPath, [join(ROOT, 'apps/api/dist/main.js')], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          REDIS_URL: redis.url,
          REDIS_PREFIX: `eufy-relay-bench-serving-${process.pid}`,
          RECORDINGS_DIR: root,
          PORT: String(apiPort),
          HOST: '127.0.0.1',
          PUBLIC_BASE_URL: `http://127.0.0.1:${apiPort}`,
          LOG_LEVEL: 'info', // the ready line is at info
          NODE_ENV: 'production',
        },
      }),
      'api',
    );
    stopping.push(() => api.stop());
    await waitFor(
      'the api to start',
      () => /"msg":"ready"/.test(api.output()) || api.child.exitCode !== null,
      15_000,
    );
    const apiUrl = `http://127.0.0.1:${apiPort}/recordings/${id}.mp4`;
    const apiStatus = await status(apiUrl);
    const nginxNote = `nginx (1 worker): ${nginxResult.requestsPerSecond} req/s, ${nginxResult.mbPerSecond} MB/s`;
    if (apiStatus !== 206) {
      return [
        figure({
          name: 'video serving: api / nginx throughput',
          value: null,
          unit: '%',
          target: '>= 60',
          note: `not measured: GET ${RANGE} of /recordings/${id}.mp4 on the api got ${apiStatus} rather than 206 (the api role on this commit does not serve recordings). ${nginxNote}`,
          details: { nginx: nginxResult },
        }),
      ];
    }
    const apiResult = await wrk(apiUrl);
    return [
      figure({
        name: 'video serving: api / nginx throughput',
        value: +((apiResult.mbPerSecond / nginxResult.mbPerSecond) * 100).toFixed(1),
        unit: '%',
        target: '>= 60',
        note: `wrk ${CONNECTIONS} connections, ${SECONDS} s, Range ${RANGE} of a 20 s 1080p file; api: ${apiResult.requestsPerSecond} req/s, ${apiResult.mbPerSecond} MB/s; ${nginxNote}`,
        details: { api: apiResult, nginx: nginxResult },
      }),
    ];
  } finally {
    for (const stop of stopping.reverse()) await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { run };
