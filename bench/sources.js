// Video sources (`node bench/run.js sources`), in one run against the simulator (its GStreamer RTSP
// server and its P2P livestreams) and a private redis-server, the recorder as its own process
// (apps/recorder/dist/main.js) with motion put on its queue:
// - CPU per recorded stream, RTSP (ffmpeg pulls the camera, no frame through Node) against P2P (the
//   bridge's JSON frames parsed in Node and piped to ffmpeg): the recorder and its ffmpeg children,
//   SOURCES_STREAMS cameras at once (default 4) over SOURCES_WINDOW_SECONDS (default 30);
// - the memory of a 5 s pre-motion buffer of a 2 Mb/s camera over SOURCES_PREBUFFER_SECONDS (default
//   600): what the buffer holds (its published bytes and seconds, at most) and the recorder's RSS.
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { loadConfig } = require('../packages/config/dist');
const { addJob, motionSignalJob, openQueue } = require('../packages/contracts/dist');
const { DeviceRegistry } = require('../packages/devices/dist');
const { RecordingStore } = require('../packages/recordings/dist');
const { createRedis, redisReady } = require('../packages/runtime/dist');
const {
  childPids,
  cpuSeconds,
  figure,
  freePort,
  rssBytes,
  sleep,
  startRedis,
  startRole,
  startSimulator,
  waitFor,
} = require('./lib');

const STREAMS = Number(process.env.SOURCES_STREAMS || 4);
const WINDOW_S = Number(process.env.SOURCES_WINDOW_SECONDS || 30);
const PREBUFFER_S = Number(process.env.SOURCES_PREBUFFER_SECONDS || 600);
const VIDEO = { width: 640, height: 480, fps: 15, bitrateKbps: 1000 };
const PREBUFFER_VIDEO = { width: 1280, height: 720, fps: 15, bitrateKbps: 2000 };
const PREBUFFER_CAM = 'T8113P0300000000';
const MOTION_TIMEOUT_S = 2;

const camera = (kind, i) => `T8113P${kind === 'rtsp' ? '01' : '02'}${String(i).padStart(8, '0')}`;
const cameras = (kind) => Array.from({ length: STREAMS }, (_, i) => camera(kind, i));

function writeFiles(dir) {
  const scenario = {
    media: { mode: 'loop', loopSeconds: 4 },
    timings: { motionResetSeconds: 2 },
    // Each RTSP client gets this much video (from its start), then the stream ends.
    rtsp: { seconds: Math.ceil(Math.max(WINDOW_S + 30, PREBUFFER_S + 30)) },
    devices: [
      ...cameras('rtsp').map((serialNumber) => ({ serialNumber, video: VIDEO, rtsp: {} })),
      ...cameras('p2p').map((serialNumber) => ({ serialNumber, video: VIDEO })),
      { serialNumber: PREBUFFER_CAM, video: PREBUFFER_VIDEO, rtsp: {} },
    ],
  };
  const config = (name, lines) => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, ['cameras:', ...lines].join('\n'));
    return file;
  };
  return {
    scenario,
    recording: config('recording', [
      ...cameras('rtsp').flatMap((sn) => [`  ${sn}:`, '    source: rtsp']),
      ...cameras('p2p').flatMap((sn) => [`  ${sn}:`, '    source: p2p']),
    ]),
    prebuffer: config('prebuffer', [`  ${PREBUFFER_CAM}:`, '    source: rtsp', '    prebuffer_seconds: 5']),
  };
}

async function recorder(env, configFile) {
  const proc = startRole('recorder', { ...env, CONFIG_FILE: configFile });
  await waitFor(
    'the recorder to log ready',
    () => {
      if (proc.child.exitCode !== null) throw new Error(`the recorder exited: ${proc.output().slice(-2000)}`);
      return /"msg":"ready"/.test(proc.output());
    },
    30_000,
  );
  return proc;
}

/** CPU seconds of a process and of its live children (ffmpeg), by pid. */
function cpuByPid(pid) {
  const out = new Map([[pid, cpuSeconds(pid)]]);
  for (const child of childPids(pid)) {
    try {
      out.set(child, cpuSeconds(child));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/**
 * Keeps motion on `serials` until every one records video, then measures the recorder and its
 * ffmpeg children for WINDOW_S; the motion then stops and the recordings end.
 */
async function measureCpu(ctx, pid, serials) {
  const move = () => Promise.all(serials.map((sn) => ctx.motion(sn)));
  await move();
  const mover = setInterval(() => void move().catch(() => undefined), 1000);
  try {
    await waitFor(
      `video from ${serials.length} cameras`,
      async () => {
        const recordings = await Promise.all(
          serials.map(async (sn) => (await ctx.store.list({ device_sn: sn, limit: 1 })).items[0]),
        );
        return recordings.every((r) => r?.status === 'recording' && r.video_started_at !== null);
      },
      60_000,
      200,
    );
    await sleep(2000); // past the start-up (ffprobe of the first frame, thumbnails of earlier ones)
    const before = cpuByPid(pid);
    const started = process.hrtime.bigint();
    await sleep(WINDOW_S * 1000);
    const after = cpuByPid(pid);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    let used = 0;
    for (const [p, cpu] of after) if (before.has(p)) used += cpu - before.get(p);
    return { percentPerStream: (used / seconds / serials.length) * 100, processes: after.size };
  } finally {
    clearInterval(mover);
    // Every recording ends (motion timeout) before the next measurement starts.
    await sleep((MOTION_TIMEOUT_S + 3) * 1000);
  }
}

async function measurePrebuffer(ctx, pid) {
  const registry = new DeviceRegistry(ctx.redis, ctx.config);
  const held = async () => (await registry.getDevice(PREBUFFER_CAM))?.prebuffer ?? null;
  await waitFor('a full pre-buffer', async () => (await held())?.seconds >= 5, 60_000, 200);
  const rssStart = rssBytes(pid);
  let maxBytes = 0;
  let maxSeconds = 0;
  let samples = 0;
  const until = Date.now() + PREBUFFER_S * 1000;
  while (Date.now() < until) {
    const now = await held();
    if (now?.state === 'streaming') {
      maxBytes = Math.max(maxBytes, now.bytes);
      maxSeconds = Math.max(maxSeconds, now.seconds);
      samples += 1;
    }
    await sleep(1000);
  }
  return { maxBytes, maxSeconds, samples, rssStart, rssEnd: rssBytes(pid) };
}

async function run() {
  const dir = mkdtempSync(join(tmpdir(), 'eufy-relay-bench-sources-'));
  const redisServer = await startRedis();
  const files = writeFiles(dir);
  const sim = await startSimulator(dir, files.scenario);
  const port = await freePort();
  const env = {
    REDIS_URL: redisServer.url,
    REDIS_PREFIX: `eufy-relay-bench-sources-${process.pid}`,
    EUFY_WS_URL: sim.url,
    RECORDINGS_DIR: join(dir, 'recordings'),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    MOTION_TIMEOUT_SECONDS: String(MOTION_TIMEOUT_S),
    MAX_RECORDING_SECONDS: String(WINDOW_S + 120),
    LOG_LEVEL: 'info', // the recorder says it is ready at info
    NODE_ENV: 'development',
  };
  const config = loadConfig({ env });
  const redis = createRedis(config, 'worker', `${config.REDIS_PREFIX}:bench`);
  await redisReady(redis);
  const motions = openQueue(motionSignalJob, { connection: redis, prefix: config.REDIS_PREFIX });
  const ctx = {
    redis,
    config,
    store: new RecordingStore(redis, config),
    motion: (sn) =>
      addJob(motions, motionSignalJob, {
        device_sn: sn,
        kind: 'motion',
        state: true,
        at: new Date().toISOString(),
        source_event: 'motion detected',
      }),
  };
  const running = [];
  try {
    const recording = await recorder(env, files.recording);
    running.push(recording);
    const rtsp = await measureCpu(ctx, recording.child.pid, cameras('rtsp'));
    const p2p = await measureCpu(ctx, recording.child.pid, cameras('p2p'));
    await recording.stop(30_000);
    const buffering = await recorder(env, files.prebuffer);
    running.push(buffering);
    const prebuffer = await measurePrebuffer(ctx, buffering.child.pid);
    const mb = (bytes) => +(bytes / 2 ** 20).toFixed(2);
    const streams = `${STREAMS} cameras at once (${VIDEO.width}x${VIDEO.height} ${VIDEO.fps} fps ${VIDEO.bitrateKbps} kb/s), ${WINDOW_S} s`;
    return [
      figure({
        name: 'RTSP: CPU per recorded stream (recorder + ffmpeg)',
        value: +rtsp.percentPerStream.toFixed(2),
        unit: '% of a core',
        note: `${streams}; ffmpeg pulls RTSP straight into the file`,
      }),
      figure({
        name: 'P2P: CPU per recorded stream (recorder + ffmpeg)',
        value: +p2p.percentPerStream.toFixed(2),
        unit: '% of a core',
        note: `${streams}; the bridge's frames through Node into ffmpeg`,
      }),
      figure({
        name: 'RTSP / P2P CPU per stream',
        value: p2p.percentPerStream > 0 ? +(rtsp.percentPerStream / p2p.percentPerStream).toFixed(2) : null,
        unit: '×',
        target: '< 1',
        why: 'RTSP costs what its ffmpeg costs; P2P adds the JSON decoding and the pipe in Node',
      }),
      figure({
        name: 'pre-buffer 5 s at 2 Mb/s: memory held (at most)',
        value: mb(prebuffer.maxBytes),
        unit: 'MiB',
        target: `<= ${mb(16 * 2 ** 20)}`,
        note:
          `${prebuffer.samples} samples over ${PREBUFFER_S} s, ${prebuffer.maxSeconds.toFixed(1)} s of video at most ` +
          '(5 s and up to one GOP more: it is cut at keyframes); cap PREBUFFER_MAX_BYTES (default 16 MiB)',
      }),
      figure({
        name: 'pre-buffer 5 s at 2 Mb/s: recorder RSS growth',
        value: +(((prebuffer.rssEnd - prebuffer.rssStart) / prebuffer.rssStart) * 100).toFixed(1),
        unit: '%',
        target: '< 10',
        note: `VmRSS ${mb(prebuffer.rssStart)} → ${mb(prebuffer.rssEnd)} MiB over ${PREBUFFER_S} s of streaming`,
      }),
    ];
  } finally {
    for (const proc of running.reverse()) await proc.stop(30_000);
    await motions.close();
    await redis.quit();
    await sim.proc.stop();
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { run };
