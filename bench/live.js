// Live playback: a recording in progress followed over HTTP as a player follows it.
// - Live edge: ffmpeg records as the recorder runs it (startRecording: Annex-B H.264 on stdin, fMP4
//   with ≤ 1 s fragments), fed a 1280x720 15 fps ~2 Mb/s stream at real time; one client follows the
//   .mp4 URL of the api (`node apps/api/dist/main.js`, a private redis-server). Each frame's latency
//   is the time from its write into ffmpeg to the moment the fragment holding it has fully reached
//   the client: p50 / p99 over the frames of the first half (one follower), and again over the second
//   half, while the crowd below follows too (its clients run in this process, on the same cores).
// - Followers: half-way, FOLLOWERS more clients follow the same recording; the api's CPU (share of one core
//   over the run) and RSS growth are reported, and one more client that never reads is dropped after
//   LIVE_CLIENT_TIMEOUT_SECONDS (checked on /metrics).
const { execFile } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const http = require('node:http');
const { connect } = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { promisify } = require('node:util');
const { recordingId, recordingUrl } = require('../packages/contracts/dist');
const { AnnexBParser, startRecording, moofDurationSeconds, parseMoov } = require('../packages/media/dist');
const { RecordingStore } = require('../packages/recordings/dist');
const { createRedis } = require('../packages/runtime/dist');
const { cpuSeconds, figure, percentile, rssBytes, sleep, startApi, startRedis, waitFor } = require('./lib');

const run$ = promisify(execFile);
const CAMERA = 'T8400P1022000001';
const FPS = 15;
const SECONDS = 30;
const FOLLOWERS = 200;
const CLIENT_TIMEOUT_SECONDS = 10;
const PREFIX = 'bench-live';

/** A camera-like H.264 stream (Annex-B, no B-frames, a keyframe every 2 s) as access units. */
async function cameraStream(dir) {
  const file = join(dir, 'camera.h264');
  await run$('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=${FPS}`, '-frames:v', String(SECONDS * FPS)],
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '2M', '-pix_fmt', 'yuv420p', '-bf', '0'],
    ...['-g', String(2 * FPS), '-f', 'h264', file],
  ]);
  const parser = new AnnexBParser('h264');
  return [...parser.push(readFileSync(file)), ...parser.flush()];
}

/**
 * Follows a URL and reports each complete fragment's arrival: calls onFragment(seconds of video in
 * it, arrival time). Box boundaries are read from the byte stream as it comes.
 */
function follow(url, onFragment) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`follow: HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      let pending = Buffer.alloc(0);
      let track;
      let moof;
      res.on('data', (chunk) => {
        pending = Buffer.concat([pending, chunk]);
        for (;;) {
          if (pending.length < 8) break;
          const size = pending.readUInt32BE(0);
          if (pending.length < size) break;
          const type = pending.toString('latin1', 4, 8);
          const payload = pending.subarray(8, size);
          if (type === 'moov') track = parseMoov(payload).find((t) => t.handler === 'vide');
          else if (type === 'moof') moof = Buffer.from(payload);
          else if (type === 'mdat' && moof && track) {
            onFragment(moofDurationSeconds(moof, track), performance.now());
            moof = undefined;
          }
          pending = pending.subarray(size);
        }
      });
      res.on('end', resolve);
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function followers(url, token) {
  const text = await (
    await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
  ).text();
  return Number(/^eufy_relay_live_followers (\d+)$/m.exec(text)?.[1] ?? NaN);
}

/** What the recorder leaves in the index at motion start: a recording in progress. */
async function indexRecording(redisUrl, startedAt) {
  const client = createRedis({ REDIS_URL: redisUrl }, 'worker', 'bench-live');
  try {
    await new RecordingStore(client, { REDIS_PREFIX: PREFIX }).create({
      device_sn: CAMERA,
      started_at: startedAt,
    });
  } finally {
    await client.quit().catch(() => client.disconnect());
  }
}

async function finishRecording(redisUrl, id, startedAt) {
  const client = createRedis({ REDIS_URL: redisUrl }, 'worker', 'bench-live');
  try {
    await new RecordingStore(client, { REDIS_PREFIX: PREFIX }).finish(id, {
      status: 'completed',
      video_status: 'completed',
      ended_at: Date.now(),
      duration_seconds: Math.round((Date.now() - startedAt) / 1000),
      stop_reason: 'motion_timeout',
    });
  } finally {
    await client.quit().catch(() => client.disconnect());
  }
}

async function run() {
  const dir = mkdtempSync(join(tmpdir(), 'eufy-relay-bench-live-'));
  const redis = await startRedis();
  const signing = { secret: randomBytes(24).toString('hex'), ttlSeconds: 3600 };
  let api;
  let recording;
  try {
    const units = await cameraStream(dir);
    const started = await startApi({
      redisUrl: redis.url,
      prefix: PREFIX,
      recordingsDir: dir,
      signing,
      env: { LIVE_CLIENT_TIMEOUT_SECONDS: String(CLIENT_TIMEOUT_SECONDS), MIN_FREE_DISK_BYTES: '0' },
    });
    api = started.api;
    const startedAt = Date.now() - (Date.now() % 1000);
    const id = recordingId(CAMERA, startedAt);
    await indexRecording(redis.url, startedAt);
    recording = await startRecording({ output: join(dir, `${id}.mp4`), codec: 'h264' });
    const videoUrl = recordingUrl(started.url, id, { signing });

    // Frames go in at real time; writtenAt[i] is when frame i entered ffmpeg.
    const writtenAt = [];
    const feeding = (async () => {
      const t0 = performance.now();
      for (let i = 0; i < units.length; i++) {
        const due = t0 + (i * 1000) / FPS;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        writtenAt.push(performance.now());
        recording.video.write(units[i].data, { keyframe: units[i].keyframe });
      }
    })();

    // The measured follower, from as soon as the first fragment exists.
    await waitFor(
      'the first fragment',
      async () => (await fetch(videoUrl, { headers: { range: 'bytes=0-1' } })).status === 206,
      20_000,
      50,
    );
    // Frames that arrived before the crowd joined, and while it followed too.
    const alone = [];
    const withCrowd = [];
    let crowdJoined = false;
    let framesArrived = 0;
    let videoSeconds = 0;
    const edge = follow(videoUrl, (seconds, at) => {
      videoSeconds += seconds;
      const upTo = Math.min(writtenAt.length, Math.round(videoSeconds * FPS));
      const into = crowdJoined ? withCrowd : alone;
      for (; framesArrived < upTo; framesArrived++) into.push(at - writtenAt[framesArrived]);
    });

    // The crowd, half-way: FOLLOWERS more clients, and one that never reads.
    await sleep((SECONDS * 1000) / 2);
    crowdJoined = true;
    const cpuBefore = cpuSeconds(api.child.pid);
    const rssBefore = rssBytes(api.child.pid);
    const crowdStarted = performance.now();
    let rssPeak = rssBefore;
    // A follower the api drops (it read nothing for CLIENT_TIMEOUT_SECONDS) is counted, not fatal.
    const crowd = Array.from({ length: FOLLOWERS }, () =>
      follow(videoUrl, () => {}).then(
        () => 'completed',
        () => 'dropped',
      ),
    );
    const stalled = connect(Number(new URL(started.url).port), '127.0.0.1');
    stalled.pause();
    stalled.write(`GET ${new URL(videoUrl).pathname}${new URL(videoUrl).search} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const watchRss = setInterval(() => (rssPeak = Math.max(rssPeak, rssBytes(api.child.pid))), 200);
    await waitFor(
      'every follower',
      async () => (await followers(started.url, started.token)) >= FOLLOWERS + 2,
      30_000,
      200,
    );
    await feeding;
    const cpu = cpuSeconds(api.child.pid) - cpuBefore;
    const wall = (performance.now() - crowdStarted) / 1000;
    clearInterval(watchRss);
    await recording.ffmpeg.stop();
    await finishRecording(redis.url, id, startedAt);
    const [, ...outcomes] = await Promise.all([edge, ...crowd]);
    const completed = outcomes.filter((o) => o === 'completed').length;
    // Everyone who read got to the end; the one that never read was dropped well before.
    const left = await followers(started.url, started.token);
    stalled.destroy();

    const seconds = (ms) => (ms / 1000).toFixed(3);
    const p99 = percentile(alone, 99);
    const crowdP99 = percentile(withCrowd, 99);
    return [
      figure({
        name: 'live edge: frame into ffmpeg → its bytes at a following client, p99',
        value: +seconds(p99),
        unit: 's',
        target: '< 1.5',
        note:
          `p50 ${seconds(percentile(alone, 50))} s, max ${seconds(Math.max(...alone))} s over ${alone.length} frames ` +
          `(1280x720 ${FPS} fps ~2 Mb/s, 1 s fragments, the first ${SECONDS / 2} s); with ${FOLLOWERS} more ` +
          `followers on the same machine: p50 ${seconds(percentile(withCrowd, 50))} s, p99 ${seconds(crowdP99)} s ` +
          `over ${withCrowd.length} frames`,
        why: 'a frame waits in ffmpeg until its fragment is complete (up to 1 s plus one frame), then for the file watch to wake the follower',
      }),
      figure({
        name: `live followers: api CPU with ${FOLLOWERS + 1} clients following one recording`,
        value: +((cpu / wall) * 100).toFixed(1),
        unit: '% of a core',
        note: `over ${wall.toFixed(1)} s at ~2 Mb/s each (${((FOLLOWERS * 2) / 8).toFixed(0)} MB/s out); RSS ${(rssBefore / 2 ** 20).toFixed(1)} → peak ${(rssPeak / 2 ** 20).toFixed(1)} MiB; ${completed} of ${FOLLOWERS} followers got the whole recording; a client that never read was dropped after ${CLIENT_TIMEOUT_SECONDS} s without progress (followers left at the end: ${left})`,
      }),
    ];
  } finally {
    await recording?.ffmpeg.stop();
    await api?.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { run };
