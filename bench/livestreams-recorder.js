// The recorder-like process of the livestream benchmark (forked by livestreams.js, driven over IPC):
// one EufyClient, and per camera a livestream whose frames go through the @eufy-relay/media
// KeyframeGate into an ffmpeg stream copy writing a fragmented MP4, as the recorder will do.
// Messages in: { grow: n } (start streams up to n), { window: 'start' | 'end' }, { stop: true }.
const { join } = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { EufyClient } = require('../packages/eufy-client/dist');
const { KeyframeGate, codecFromMetadata, startRecording } = require('../packages/media/dist');
const { createLogger } = require('../packages/logger/dist');

const [url, outDir, serialsJson] = process.argv.slice(2);
const serials = JSON.parse(serialsJson);
const FRAME_MS = 1000 / 15;

const client = new EufyClient({
  url,
  logger: createLogger({ level: 'warn' }),
  livestreamStartTimeoutMs: 60_000,
});
const streams = [];
const loopDelay = monitorEventLoopDelay({ resolution: 10 });

/** Frames of a 15 fps stream arrive on a schedule: lag is how late the latest one came. */
function newWindowStats() {
  return { frames: 0, bytes: 0, firstLag: null, lastLag: 0, maxLag: 0 };
}

async function record(serial, index) {
  const live = await client.startLivestream(serial);
  const stream = {
    serial,
    window: newWindowStats(),
    firstFrameAt: null,
    framesSinceFirst: 0,
    ended: null,
    ffmpegDrops: 0,
    gate: null,
    recording: null,
  };
  streams.push(stream);
  live.ended.then((end) => (stream.ended = end.reason));
  const pump = (async () => {
    for await (const chunk of live) {
      if (chunk.kind !== 'video') continue;
      if (!stream.recording) {
        const codec = codecFromMetadata(chunk.codec);
        stream.gate = new KeyframeGate(codec);
        stream.recording = await startRecording({
          output: join(outDir, `${serial}.mp4`),
          codec,
          audio: false,
          onDrop: () => (stream.ffmpegDrops += 1),
        });
      }
      const now = Date.now();
      if (stream.firstFrameAt === null) stream.firstFrameAt = chunk.receivedAt;
      const lag = now - (stream.firstFrameAt + stream.framesSinceFirst * FRAME_MS);
      stream.framesSinceFirst += 1;
      const w = stream.window;
      w.frames += 1;
      w.bytes += chunk.buffer.length;
      w.firstLag ??= lag;
      w.lastLag = lag;
      w.maxLag = Math.max(w.maxLag, lag);
      for (const unit of stream.gate.push(chunk.buffer)) {
        stream.recording.video.write(unit.data, { keyframe: unit.keyframe });
      }
    }
  })();
  stream.stop = async () => {
    await live.stop();
    await pump;
    if (stream.recording) {
      for (const unit of stream.gate.end())
        stream.recording.video.write(unit.data, { keyframe: unit.keyframe });
      await stream.recording.ffmpeg.stop();
    }
  };
  // Wait for the first frame, so the stream (and its ffmpeg) runs before the next is added.
  const started = Date.now();
  while (stream.firstFrameAt === null && !stream.ended && Date.now() - started < 60_000) {
    await new Promise((r) => setTimeout(r, 10));
  }
  if (stream.firstFrameAt === null) throw new Error(`stream ${index} (${serial}) delivered no frame`);
}

function windowReport() {
  const perStream = streams.map((s) => s.window);
  return {
    streams: streams.length,
    frames: perStream.reduce((n, w) => n + w.frames, 0),
    bytes: perStream.reduce((n, w) => n + w.bytes, 0),
    // How much later the last frame of the window came than the first, against the schedule.
    lagGrowthMs: perStream.map((w) => (w.firstLag === null ? null : Math.round(w.lastLag - w.firstLag))),
    maxLagMs: perStream.map((w) => Math.round(w.maxLag)),
    ffmpegDrops: streams.reduce((n, s) => n + s.ffmpegDrops, 0),
    ended: streams.filter((s) => s.ended).map((s) => `${s.serial}: ${s.ended}`),
    eventLoopDelayP99Ms: +(loopDelay.percentile(99) / 1e6).toFixed(1),
  };
}

process.on('message', async (msg) => {
  try {
    if (msg.grow) {
      while (streams.length < msg.grow) await record(serials[streams.length], streams.length);
      process.send({ grown: streams.length });
    } else if (msg.window === 'start') {
      for (const s of streams) s.window = newWindowStats();
      loopDelay.reset();
      process.send({ windowStarted: true });
    } else if (msg.window === 'end') {
      process.send({ report: windowReport() });
    } else if (msg.stop) {
      await Promise.all(streams.map((s) => s.stop()));
      await client.close();
      process.send({ stopped: true });
      process.disconnect();
    }
  } catch (err) {
    process.send({ error: String(err?.stack ?? err) });
  }
});

client.start().then(
  () => {
    loopDelay.enable();
    process.send({ ready: true });
  },
  (err) => {
    process.send({ error: String(err?.stack ?? err) });
    process.exit(1);
  },
);
