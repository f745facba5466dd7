// Video serving throughput: wrk (2 threads, 50 connections, the same 1 MiB Range request each time)
// against nginx and against the api role serving the same recording file, reported as api / nginx in
// MB/s. The api runs as a user runs it (`node apps/api/dist/main.js`, NODE_ENV=production, API_TOKEN
// and URL_SIGNING_SECRET set, a private redis-server) and the recording is in the index the way the
// recorder leaves it (created, then finished), so every request pays what a real one does: the
// signature check, the index lookup, the stat and the read. nginx runs one worker process, as the api
// is one Node process. The two are measured in rounds, nginx then the api right after it, so both
// sides of a round run under about the same load (the machine may be shared): the figure is the
// median round's ratio, and the note gives that round's figures and every round's ratio. A second
// figure puts the same nginx in front of a second api with ACCEL_REDIRECT=nginx, configured by the
// repo's deploy/nginx template: the api checks each request, nginx sends the file (same rounds).
// Without nginx or wrk on PATH this reports "not measured" (apt-get install -y nginx-light wrk); so
// does an api that does not answer the Range request with 206.
const { execFile, spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { loadavg, tmpdir } = require('node:os');
const { join } = require('node:path');
const { promisify } = require('node:util');
const { recordingId, recordingUrl } = require('../packages/contracts/dist');
const { RecordingStore } = require('../packages/recordings/dist');
const { indexFinishedRecording } = require('../packages/recordings/dist/testing');
const { createRedis } = require('../packages/runtime/dist');
const { nginxConfig, nginxFront } = require('../packages/testing/dist');
const {
  childPids,
  cpuSeconds,
  figure,
  freePort,
  hasCommand,
  managed,
  startApi,
  startRedis,
  waitFor,
} = require('./lib');

const run$ = promisify(execFile);
const NAME = 'video serving: api / nginx throughput';
const FRONT_NAME = 'video serving: api behind nginx (ACCEL_REDIRECT=nginx) / nginx throughput';
const CONNECTIONS = 50;
const THREADS = 2;
const SECONDS = 8;
const ROUNDS = 3;
const RANGE = 'bytes=0-1048575';
const CAMERA = 'T8400P1022000001';
const STARTED_AT = Date.UTC(2026, 0, 30, 10, 15, 0);
const RECORDING_SECONDS = 20;

const load = () => loadavg()[0].toFixed(2);

const cpuOf = (pids) => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);

/** Requests/s and MB/s from wrk's summary, and the CPU time the server processes `pids` spent per request. */
async function wrk(url, pids) {
  const cpuBefore = cpuOf(pids);
  const { stdout } = await run$(
    'wrk',
    ['-t', String(THREADS), '-c', String(CONNECTIONS), '-d', `${SECONDS}s`, '-H', `Range: ${RANGE}`, url],
    { timeout: (SECONDS + 30) * 1000 },
  );
  const cpu = cpuOf(pids) - cpuBefore;
  const requests = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const total = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const [, amount, unit] = /Transfer\/sec:\s+([\d.]+)(\w+)/.exec(stdout) ?? [];
  const scale = { B: 1 / 2 ** 20, KB: 1 / 1024, MB: 1, GB: 1024 }[unit] ?? NaN;
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1];
  const socketErrors = /Socket errors: (.*)/.exec(stdout)?.[1] ?? null;
  return {
    requestsPerSecond: requests,
    mbPerSecond: +(Number(amount) * scale).toFixed(1),
    cpuMicrosecondsPerRequest: Math.round((cpu / total) * 1e6),
    non2xx: Number(errors ?? 0),
    socketErrors,
  };
}

/** Status and Content-Range of one Range request. */
async function probe(url) {
  try {
    const res = await fetch(url, { headers: { range: RANGE } });
    await res.arrayBuffer();
    return { status: res.status, contentRange: res.headers.get('content-range') };
  } catch (err) {
    return { status: `no answer (${err.cause?.code ?? err.message})`, contentRange: null };
  }
}

/** One nginx worker: the file served straight from disk on `port`, and the api's front on `frontPort`. */
async function startNginx(dir, root, accelApiPort) {
  const port = await freePort();
  const frontPort = await freePort();
  const conf = join(dir, 'nginx.conf');
  // The front is the repo's deploy/nginx template with the values docker-compose gives it, on loopback.
  const front = nginxFront({
    NGINX_PORT: `127.0.0.1:${frontPort}`,
    API_UPSTREAM: `127.0.0.1:${accelApiPort}`,
    RECORDINGS_DIR: root,
  });
  const direct = `server {
    listen 127.0.0.1:${port};
    sendfile on;
    location /recordings/ { alias ${root}/; }
  }`;
  writeFileSync(conf, nginxConfig(dir, [direct, front]));
  const nginx = managed(
    spawn('nginx', ['-c', conf, '-e', `${dir}/error.log`], { stdio: ['ignore', 'pipe', 'pipe'] }),
    'nginx',
  );
  return { port, frontPort, nginx };
}

/** What the recorder leaves in the index for a finished recording: created at motion start, then finished. */
async function indexRecording(redisUrl, prefix, id, bytes) {
  const redis = createRedis({ REDIS_URL: redisUrl }, 'worker', 'bench-serving');
  try {
    const store = new RecordingStore(redis, { REDIS_PREFIX: prefix, RETENTION_DAYS: 90 });
    await indexFinishedRecording(store, id, {
      seconds: RECORDING_SECONDS,
      fields: { bytes, codec: 'h264', width: 1920, height: 1080, has_audio: false },
    });
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

const notMeasured = (note, details) =>
  figure({ name: NAME, value: null, unit: '%', target: '>= 60', note: `not measured: ${note}`, details });

const summary = (r) =>
  `${r.requestsPerSecond} req/s, ${r.mbPerSecond} MB/s, ${r.cpuMicrosecondsPerRequest} µs CPU per request`;

async function run() {
  const missing = ['nginx', 'wrk'].filter((c) => !hasCommand(c));
  if (missing.length > 0) {
    return [notMeasured(`${missing.join(' and ')} not installed (apt-get install -y nginx-light wrk)`)];
  }
  const dir = mkdtempSync(join(tmpdir(), 'eufy-relay-bench-serving-'));
  chmodSync(dir, 0o755); // nginx workers run as another user
  const root = join(dir, 'recordings');
  mkdirSync(root);
  chmodSync(root, 0o755);
  const id = recordingId(CAMERA, STARTED_AT);
  const file = join(root, `${id}.mp4`);
  const signing = { secret: randomBytes(32).toString('base64url'), ttlSeconds: 7 * 24 * 3600 };
  const prefix = `eufy-relay-bench-serving-${process.pid}`;
  const stopping = [];
  try {
    // 20 s of 1080p at ~2 Mb/s, fragmented as the recorder writes it: a short motion recording.
    await run$('ffmpeg', [
      '-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=15`, '-t', String(RECORDING_SECONDS),
      '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '2M',
      '-movflags', '+frag_keyframe+empty_moov+default_base_moof', file,
    ]); // prettier-ignore
    chmodSync(file, 0o644);
    const bytes = statSync(file).size;

    const redis = await startRedis();
    stopping.push(() => redis.stop());
    await indexRecording(redis.url, prefix, id, bytes);
    const served = { redisUrl: redis.url, prefix, recordingsDir: root, signing };
    const { api, port: apiPort } = await startApi({ ...served, env: { ACCEL_REDIRECT: 'off' } });
    stopping.push(() => api.stop());
    const accel = await startApi({ ...served, env: { ACCEL_REDIRECT: 'nginx' } });
    stopping.push(() => accel.api.stop());
    const { port: nginxPort, frontPort, nginx } = await startNginx(dir, root, accel.port);
    stopping.push(() => nginx.stop());

    // The same path and query on both: the signed URL a webhook carries (nginx ignores the query).
    const signed = new URL(recordingUrl(`http://127.0.0.1:${apiPort}`, id, { signing }));
    const apiUrl = signed.href;
    const nginxUrl = `http://127.0.0.1:${nginxPort}${signed.pathname}${signed.search}`;
    const frontUrl = `http://127.0.0.1:${frontPort}${signed.pathname}${signed.search}`;
    await waitFor('nginx to answer 206', async () => (await probe(nginxUrl)).status === 206, 10_000);
    const nginxProbe = await probe(nginxUrl);
    for (const [what, url, server] of [
      ['the api', apiUrl, api],
      ['nginx in front of the api (ACCEL_REDIRECT=nginx)', frontUrl, accel.api],
    ]) {
      const answer = await probe(url);
      if (answer.status !== 206 || answer.contentRange !== nginxProbe.contentRange) {
        const exited =
          server.child.exitCode !== null ? `; the api exited: ${server.output().slice(-500)}` : '';
        return [
          notMeasured(
            `GET ${RANGE} of /recordings/${id}.mp4 (signed) on ${what} got ${answer.status} ` +
              `(Content-Range ${answer.contentRange}) where nginx got 206 (${nginxProbe.contentRange})${exited}`,
          ),
        ];
      }
    }

    const [nginxWorker] = childPids(nginx.child.pid);
    const loadBefore = load();
    const rounds = [];
    const ratio = (a, b) => +((a.mbPerSecond / b.mbPerSecond) * 100).toFixed(1);
    for (let i = 0; i < ROUNDS; i++) {
      const nginxRound = await wrk(nginxUrl, [nginxWorker]);
      const apiRound = await wrk(apiUrl, [api.child.pid]);
      const frontRound = await wrk(frontUrl, [nginxWorker, accel.api.child.pid]);
      rounds.push({
        api: apiRound,
        nginx: nginxRound,
        front: frontRound,
        percent: ratio(apiRound, nginxRound),
        frontPercent: ratio(frontRound, nginxRound),
      });
    }
    const loadAfter = load();
    const medianBy = (key) => [...rounds].sort((x, y) => x[key] - y[key])[Math.floor(ROUNDS / 2)];
    const median = medianBy('percent');
    const frontMedian = medianBy('frontPercent');
    const errors = rounds.some((r) => [r.api, r.nginx, r.front].some((s) => s.non2xx > 0 || s.socketErrors))
      ? `; errors: ${JSON.stringify(rounds)}`
      : '';
    const method =
      `wrk -t${THREADS} -c${CONNECTIONS} -d${SECONDS}s, Range ${RANGE} of the same ${(bytes / 2 ** 20).toFixed(1)} MiB ` +
      `fragmented 1080p file under the same signed URL, median of ${ROUNDS} rounds (nginx, the api, nginx in front of the api)`;
    return [
      figure({
        name: NAME,
        value: median.percent,
        unit: '%',
        target: '>= 60',
        // From CPU profiles of the api under this load and trial variants (issue 11's investigation).
        why:
          `nginx hands the file to the kernel with sendfile (${median.nginx.cpuMicrosecondsPerRequest} µs of CPU per 1 MiB request); ` +
          'Node 20 has no sendfile, so the api reads each range through the thread pool into buffers and ' +
          'copies them to the socket: reading the file is about half of its CPU per request, socket writes ' +
          'about a quarter, the rest the Range/ETag handling and GC. The same api sending 1 MiB from memory ' +
          'reached only ~1500 req/s. For nginx-like throughput put nginx in front (ACCEL_REDIRECT=nginx, the next figure).',
        note:
          `${method}: ` +
          `api (one Node process, NODE_ENV=production, signed URLs, index in a private Redis): ${summary(median.api)}; ` +
          `nginx (1 worker, sendfile): ${summary(median.nginx)}; api / nginx per round ` +
          `${rounds.map((r) => `${r.percent} %`).join(', ')}; load average ${loadBefore} before, ${loadAfter} after${errors}`,
        details: { rounds },
      }),
      figure({
        name: FRONT_NAME,
        value: frontMedian.frontPercent,
        unit: '%',
        target: '>= 90',
        why:
          'each request is two: nginx asks the api (signature, index state, file present), which answers ' +
          'X-Accel-Redirect, then nginx sends the file; the api part is the per-request cost that remains.',
        note:
          `${method}: nginx (1 worker) in front of an api with ACCEL_REDIRECT=nginx, configured by ` +
          `deploy/nginx/templates/default.conf.template: ${summary(frontMedian.front)} (CPU of nginx and the api ` +
          `together); nginx alone in that round: ${summary(frontMedian.nginx)}; front / nginx per round ` +
          `${rounds.map((r) => `${r.frontPercent} %`).join(', ')}; load average ${loadBefore} before, ${loadAfter} after${errors}`,
      }),
    ];
  } finally {
    for (const stop of stopping.reverse()) await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { run };
