// Uploads (STORAGE_BACKEND=s3): a 15-minute recording at a camera's 1 Mbit/s (a real H.264 fMP4 made
// by ffmpeg, constant bitrate with filler) moved from a spool into a real S3-compatible server
// (fauxqs in its own process on loopback, as the tests use) by the recorder's upload job
// (uploadRecording: multipart in 8 MiB parts with MD5s, the object's size and checksum checked, the
// index marked stored, the spool copy removed). Figures: this process's CPU time for it, scaled to a
// recorded hour, and its wall time: what stands between motion_stopped (the finish queues the
// upload) and the object being complete. Uses a private redis-server.
const { execFileSync } = require('node:child_process');
const { mkdtemp, rm, stat } = require('node:fs/promises');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { loadConfig } = require('../packages/config/dist');
const { recordingId } = require('../packages/contracts/dist');
const { createLogger } = require('../packages/logger/dist');
const { RecordingFiles, RecordingStore } = require('../packages/recordings/dist');
const { createRedis } = require('../packages/runtime/dist');
const { StorageHealth, uploadRecording } = require('../packages/storage/dist');
const { RecordingObjects, createS3Client } = require('../packages/storage/dist/s3');
const { s3TestSettings, startS3TestServer } = require('../packages/storage/dist/testing');
const { figure, startRedis } = require('./lib');

const MINUTES = 15;
const BITRATE = '1M';
const BUCKET = 'bench-uploads';

function makeRecording(file) {
  execFileSync('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=15:duration=${MINUTES * 60}`],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '30'],
    ...[
      '-b:v',
      BITRATE,
      '-minrate',
      BITRATE,
      '-maxrate',
      BITRATE,
      '-bufsize',
      '2M',
      '-x264-params',
      'nal-hrd=cbr',
    ],
    ...['-movflags', '+frag_keyframe+empty_moov+default_base_moof'],
    file,
  ]);
}

async function run() {
  const redisServer = await startRedis();
  const s3 = await startS3TestServer({ buckets: [BUCKET] });
  const dir = await mkdtemp(join(tmpdir(), 'eufy-relay-bench-uploads-'));
  const config = loadConfig({
    env: {
      REDIS_URL: redisServer.url,
      REDIS_PREFIX: `eufy-relay-bench-uploads-${process.pid}`,
      RECORDINGS_DIR: dir,
      ...s3TestSettings({
        endpoint: s3.endpoint,
        bucket: BUCKET,
        accessKeyId: 'bench',
        secretAccessKey: 'bench',
      }),
    },
  });
  const redis = createRedis(config, 'worker', 'bench-uploads');
  const client = createS3Client(config);
  try {
    const store = new RecordingStore(redis, config);
    const files = new RecordingFiles(dir);
    const startedAt = Math.floor((Date.now() - MINUTES * 60_000) / 1000) * 1000;
    const sn = 'T8400P1022000001';
    const id = recordingId(sn, startedAt);
    makeRecording(files.videoPath(id));
    const bytes = (await stat(files.videoPath(id))).size;
    await store.create({ device_sn: sn, started_at: startedAt });
    await store.finish(id, {
      status: 'completed',
      video_status: 'completed',
      ended_at: startedAt + MINUTES * 60_000,
      duration_seconds: MINUTES * 60,
      stop_reason: 'max_duration',
      bytes,
    });
    const objects = new RecordingObjects(client, config);
    const deps = {
      config,
      redis,
      store,
      files,
      objects,
      health: new StorageHealth(redis, config),
      logger: createLogger({ level: 'silent' }),
    };
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    const summary = await uploadRecording(deps, id);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const parts = Math.ceil(bytes / (8 * 1024 * 1024));
    const perHour = cpuSeconds * (60 / MINUTES);
    const detail = `a ${MINUTES}-minute recording, ${(bytes / 1e6).toFixed(1)} MB at ${BITRATE}bit/s, ${parts} parts of 8 MiB, to fauxqs on loopback`;
    return [
      figure({
        name: 'uploads: CPU per recorded hour (upload job)',
        value: +perHour.toFixed(2),
        unit: 's',
        note: `${cpuSeconds.toFixed(2)} s of this process's CPU (user + system) for ${detail}, times ${60 / MINUTES}; the S3 server's CPU is not counted`,
        details: { cpuSeconds, bytes, parts, outcome: summary.outcome },
      }),
      figure({
        name: `uploads: motion_stopped → object complete, ${MINUTES}-minute recording`,
        value: +seconds.toFixed(2),
        unit: 's',
        note: `wall time of the upload job for ${detail} (read, MD5 per part, upload, complete, HEAD check, index, spool removal); the job is queued by the finish that sends motion_stopped`,
        details: { seconds, bytes, outcome: summary.outcome },
      }),
    ];
  } finally {
    client.destroy();
    await redis.quit().catch(() => redis.disconnect());
    await s3.stop();
    await redisServer.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

module.exports = { run };
