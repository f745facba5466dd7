// Soak: 20 simulated cameras with random motion through every role as its own process (ingest,
// recorder, notifier, janitor, api) against a private redis-server, for SOAK_SECONDS (default 1800).
// Reported: RSS and open descriptors of each role and Redis memory (overall and per role's
// connections) at the start and the end (goal: growth < 10 %), ffmpeg processes left (goal 0),
// webhooks lost or doubled (goal 0), recordings not playable (goal 0). Both snapshots are taken at
// rest (no motion, no recording in progress, 10 s idle) and after a full garbage collection in each
// role (bench/memory-probe.js): the footprint a role settles to between events. RSS is also sampled
// every 30 s without a forced GC (the working size during motion), and heap used after the GC is
// reported beside RSS: a leak is reachable heap that keeps growing.
const { mkdtempSync, readdirSync, readFileSync, rmSync } = require('node:fs');
const { setMaxListeners } = require('node:events');
const { loadavg, tmpdir } = require('node:os');
const { join } = require('node:path');
const { MARK, SETTLE_MS } = require('./memory-probe');
const { ROLE_NAMES: ROLES } = require('@eufy-relay/config');
const { createRedis, redisReady } = require('../packages/runtime/dist');
const { decodeErrors } = require('../packages/testing/dist');
const { WebhookReceiver } = require('../packages/webhooks/dist/testing');
const {
  figure,
  freePort,
  rssBytes,
  sleep,
  startRedis,
  startRole,
  startSimulator,
  waitFor,
} = require('./lib');

const CAMERAS = 20;
const VIDEO = { width: 320, height: 240, fps: 10, bitrateKbps: 150 };
/** Mean quiet time of a camera between bursts of motion, and a burst's length (seconds). */
const QUIET_MEAN_S = 60;
const BURST_S = [3, 25];
const SECRET = `whsec_${Buffer.from('eufy-relay bench soak').toString('base64')}`;
const TOKEN = 'soak-api-token-0123456789';
const GROWTH_TARGET = '< 10';
/** Quiet time after the last recording finished (and its webhooks went out) before a snapshot. */
const IDLE_BEFORE_SNAPSHOT_MS = 10_000;

const serial = (i) => `T8113P${String(i).padStart(10, '0')}`;

/** The simulator with CAMERAS standalone cameras; `detect(serial)` starts a motion on one. */
async function simulator(dir) {
  const sim = await startSimulator(dir, {
    media: { mode: 'loop', loopSeconds: 4 },
    timings: { motionResetSeconds: 2 },
    devices: Array.from({ length: CAMERAS }, (_, i) => ({
      serialNumber: serial(i),
      name: `Soak ${i}`,
      video: VIDEO,
    })),
  });
  const detect = (sn) =>
    fetch(`${sim.controlUrl}/devices/${sn}/detection`, { method: 'POST', body: '{"kind":"motion"}' })
      .then((r) => r.arrayBuffer())
      .catch(() => undefined);
  return { ...sim, detect };
}

/** Random motion per camera until `stop` aborts: quiet (exponential), then a burst of detections every 2 s. */
async function moveCamera(sim, sn, stop) {
  const pause = (ms) => sleep(ms, undefined, { signal: stop }).catch(() => undefined);
  while (!stop.aborted) {
    await pause(-Math.log(1 - Math.random()) * QUIET_MEAN_S * 1000);
    const burstEnd = Date.now() + (BURST_S[0] + Math.random() * (BURST_S[1] - BURST_S[0])) * 1000;
    while (!stop.aborted && Date.now() < burstEnd) {
      await sim.detect(sn);
      await pause(2000);
    }
  }
}

const fdCount = (pid) => readdirSync(`/proc/${pid}/fd`).length;

const PROBE_ARGS = ['--expose-gc', '-r', join(__dirname, 'memory-probe.js')];
/** A role's memory right after a full GC: its probe answers SIGUSR2 with one line on stderr. */
async function memoryAfterGc(role) {
  const before = role.output().split(MARK).length;
  role.child.kill('SIGUSR2');
  const line = await waitFor(
    `the memory probe of ${role.name}`,
    () => {
      const answer = role.output().split(MARK)[before];
      return answer?.includes('\n') ? answer : null;
    },
    SETTLE_MS + 10_000,
    50,
  );
  return JSON.parse(line.slice(0, line.indexOf('\n')));
}

/** Redis memory: used_memory, and per role the memory of its named connections (CLIENT LIST tot-mem). */
async function redisMemory(redis, prefix) {
  const info = await redis.info('memory');
  const used = Number(/used_memory:(\d+)/.exec(info)[1]);
  const perRole = Object.fromEntries(ROLES.map((r) => [r, 0]));
  for (const line of (await redis.client('LIST')).split('\n')) {
    const name = /\bname=(\S*)/.exec(line)?.[1] ?? '';
    const mem = Number(/\btot-mem=(\d+)/.exec(line)?.[1] ?? 0);
    const owner = ROLES.find((r) => name.startsWith(`${prefix}:${r}`));
    if (owner) perRole[owner] += mem;
  }
  return { used, perRole };
}

async function snapshot(roles, redis, prefix) {
  const memory = await redisMemory(redis, prefix);
  const perRole = await Promise.all(
    roles.map(async (r) => [r.name, { ...(await memoryAfterGc(r)), fds: fdCount(r.child.pid) }]),
  );
  return { at: Date.now(), roles: Object.fromEntries(perRole), redis: memory };
}

function ffmpegWriting(dir) {
  let count = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0]?.endsWith('ffmpeg') && args.some((a) => a.includes(dir))) count++;
    } catch {
      // exited while we looked
    }
  }
  return count;
}

/** The samples at each fifth of the run (the first and the last included). */
const fifths = (samples) =>
  samples.length === 0
    ? []
    : [0, 1, 2, 3, 4, 5].map((k) => samples[Math.round(((samples.length - 1) * k) / 5)]);
/** The heap spaces whose size changed by 1 MB or more: `new_space 1 → 16 MB, …`. */
const spaceGrowth = (start, end) =>
  Object.keys(end)
    .filter((name) => Math.abs(end[name] - (start[name] ?? 0)) >= 1e6)
    .map((name) => `${name} ${mb(start[name] ?? 0)} → ${mb(end[name])} MB`)
    .join(', ') || 'no space changed by 1 MB';
const growth = (start, end) => (start > 0 ? +(((end - start) / start) * 100).toFixed(1) : null);
const mb = (bytes) => +(bytes / 1e6).toFixed(1);

async function run() {
  const seconds = Number(process.env.SOAK_SECONDS ?? 1800);
  if (!(seconds >= 60)) throw new Error(`SOAK_SECONDS must be at least 60, not ${process.env.SOAK_SECONDS}`);
  const warmupMs = Math.min(120_000, seconds * 100);
  const dir = mkdtempSync(join(tmpdir(), 'eufy-relay-bench-soak-'));
  const recordingsDir = join(dir, 'recordings');
  const redisServer = await startRedis();
  const receiver = await WebhookReceiver.start({ secret: SECRET });
  const sim = await simulator(dir);
  const prefix = `eufy-relay-bench-soak-${process.pid}`;
  const port = await freePort();
  const env = {
    REDIS_URL: redisServer.url,
    REDIS_PREFIX: prefix,
    EUFY_WS_URL: sim.url,
    WORKATO_WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: SECRET,
    RECORDINGS_DIR: recordingsDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    API_TOKEN: TOKEN,
    MOTION_TIMEOUT_SECONDS: '10',
    MAX_RECORDING_SECONDS: '120',
    SNOOZE_SECONDS: '30',
    RECORDER_CONCURRENCY: String(CAMERAS),
    CLEANUP_INTERVAL_SECONDS: '60',
    LOG_LEVEL: 'warn',
  };
  const roles = ROLES.map((name) => startRole(name, env, { stdout: 'ignore', nodeArgs: PROBE_ARGS }));
  /** RSS of each role every 30 s from the start snapshot on, as it is (no forced GC). */
  const rssCurve = Object.fromEntries(ROLES.map((r) => [r, []]));
  let sampler;
  const redis = createRedis({ REDIS_URL: redisServer.url }, 'producer', 'bench-soak');
  const store = `${prefix}:recordings`;
  /**
   * Random motion on every camera until `ms` have passed, then until every recording has finished:
   * the snapshots are taken at rest, so what differs between them is what stayed behind, not how
   * many recordings happened to be in progress.
   */
  const motion = new AbortController(); // the whole run's: aborted on the way out, error or not
  const motionFor = async (ms) => {
    const phase = new AbortController();
    const signal = AbortSignal.any([motion.signal, phase.signal]);
    // Every camera's pauses listen on it.
    setMaxListeners(CAMERAS * 2, signal);
    const movers = Array.from({ length: CAMERAS }, (_, i) => moveCamera(sim, serial(i), signal));
    await sleep(ms, undefined, { signal: motion.signal }).catch(() => undefined);
    phase.abort();
    await Promise.all(movers);
    // Motion has stopped: every recording ends within the timeout, then its webhook goes out.
    await waitFor(
      'every recording to finish',
      async () => (await redis.zcard(`${store}:by-status:recording`)) === 0,
      120_000,
      500,
    );
    // Idle, so that the snapshot's GC sees a low allocation rate (V8 measures it over 5 s).
    await sleep(IDLE_BEFORE_SNAPSHOT_MS, undefined, { signal: motion.signal }).catch(() => undefined);
  };
  const load0 = loadavg()[0];
  try {
    await redisReady(redis);
    await sleep(5000);
    const dead = roles.find((r) => r.child.exitCode !== null);
    if (dead) throw new Error(`${dead.name} exited: ${dead.output().slice(-2000)}`);
    await motionFor(warmupMs);
    const start = await snapshot(roles, redis, prefix);
    console.error(
      `[soak] start snapshot at rest after ${warmupMs / 1000} s of warm-up; running ${seconds} s`,
    );
    const sample = () => roles.forEach((r) => rssCurve[r.name].push(rssBytes(r.child.pid)));
    sample();
    sampler = setInterval(sample, 30_000);
    await motionFor(Math.max(0, seconds * 1000 - warmupMs));
    clearInterval(sampler);
    const end = await snapshot(roles, redis, prefix);
    const ids = await redis.zrange(`${store}:by-start`, 0, -1);
    const expected = ids.flatMap((id) => [`motion_detected.${id}`, `motion_stopped.${id}`]);
    await waitFor(
      'the webhooks of every recording',
      () => {
        const got = new Set(receiver.received.map((r) => r.webhookId));
        return expected.every((id) => got.has(id));
      },
      120_000,
      500,
    ).catch(() => undefined);
    await sleep(3000); // anything late or repeated
    const ffmpegWhileUp = ffmpegWriting(recordingsDir);
    await Promise.all(roles.map((r) => r.stop(30_000)));
    const ffmpegAfterStop = ffmpegWriting(recordingsDir);

    const received = new Map();
    for (const r of receiver.received) received.set(r.webhookId, (received.get(r.webhookId) ?? 0) + 1);
    const lost = expected.filter((id) => !received.has(id));
    const doubled = [...received].filter(([, n]) => n > 1).map(([id]) => id);
    const statuses = {};
    const noVideoReasons = {};
    const notPlayable = [];
    for (const id of ids) {
      const [status, reason] = await redis.hmget(`${store}:item:${id}`, 'video_status', 'failure_reason');
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 'no_video') noVideoReasons[reason] = (noVideoReasons[reason] ?? 0) + 1;
      if (status === 'completed' || status === 'failed') {
        if (decodeErrors(join(recordingsDir, `${id}.mp4`)) !== '') notPlayable.push(id);
      }
    }
    const systemErrors = receiver.received.filter((r) => /"event":"system_error"/.test(r.body.toString()));

    const figures = [];
    for (const r of ROLES) {
      const s = start.roles[r];
      const e = end.roles[r];
      figures.push(
        figure({
          name: `${r}: RSS growth`,
          value: growth(s.rss, e.rss),
          unit: '%',
          target: GROWTH_TARGET,
          note:
            `${mb(s.rss)} MB → ${mb(e.rss)} MB, idle after a full GC; without one (every 30 s), at each fifth of the run: ` +
            `${fifths(rssCurve[r]).map(mb).join(', ')} MB`,
        }),
        figure({
          name: `${r}: heap used after a full GC, growth`,
          value: growth(s.heapUsed, e.heapUsed),
          unit: '%',
          note:
            `${mb(s.heapUsed)} MB → ${mb(e.heapUsed)} MB (what stays reachable); ` +
            `heap total ${mb(s.heapTotal)} → ${mb(e.heapTotal)} MB (${spaceGrowth(s.spaces, e.spaces)}); ` +
            `external ${mb(s.external)} → ${mb(e.external)} MB`,
        }),
        figure({
          name: `${r}: open descriptors growth`,
          value: growth(s.fds, e.fds),
          unit: '%',
          target: GROWTH_TARGET,
          note: `${s.fds} → ${e.fds}`,
        }),
      );
    }
    figures.push(
      figure({
        name: 'Redis used_memory growth',
        value: growth(start.redis.used, end.redis.used),
        unit: '%',
        target: GROWTH_TARGET,
        why:
          'the index keeps one entry per recording and the delivery log one per webhook (both bounded ' +
          'by retention and WEBHOOK_LOG_MAX_WEBHOOKS, far above a soak): growth is data, not a leak',
        details: {
          redis_connections_bytes_start: start.redis.perRole,
          redis_connections_bytes_end: end.redis.perRole,
        },
        note:
          `${mb(start.redis.used)} MB → ${mb(end.redis.used)} MB; grows with the index (one entry per recording, ` +
          `${ids.length} at the end) and the webhook delivery log, which the product keeps by design`,
      }),
      figure({
        name: 'ffmpeg processes left',
        value: ffmpegWhileUp + ffmpegAfterStop,
        unit: 'processes',
        target: '<= 0',
        note: 'after every recording finished (roles still up), plus after the roles stopped',
      }),
      figure({
        name: 'webhooks lost',
        value: lost.length,
        unit: 'webhooks',
        target: '<= 0',
        note: `of ${expected.length} expected (motion_detected + motion_stopped of every recording)${lost.length ? `; e.g. ${lost.slice(0, 3).join(', ')}` : ''}`,
      }),
      figure({
        name: 'webhooks doubled',
        value: doubled.length,
        unit: 'webhooks',
        target: '<= 0',
        note: `${receiver.received.length} deliveries, ${received.size} distinct webhook ids`,
      }),
      figure({
        name: 'recordings not playable',
        value: notPlayable.length,
        unit: 'recordings',
        target: '<= 0',
        note:
          `${ids.length} recordings over ${seconds} s from ${CAMERAS} cameras (video_status ${JSON.stringify(statuses)}` +
          `${Object.keys(noVideoReasons).length ? `; no_video because ${JSON.stringify(noVideoReasons)}` : ''}); ` +
          `${systemErrors.length} system_error webhooks; load average ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}` +
          `${notPlayable.length ? `; e.g. ${notPlayable.slice(0, 3).join(', ')}` : ''}`,
      }),
    );
    return figures;
  } finally {
    clearInterval(sampler);
    motion.abort();
    await Promise.all(roles.map((r) => r.stop(30_000)));
    await sim.proc.stop();
    await receiver.close();
    await redis.quit().catch(() => redis.disconnect());
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { run };
