import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '@eufy-relay/config';
import {
  addJob,
  motionSignalJob,
  openQueue,
  recordingSessionJob,
  type MotionStoppedPayload,
  type WebhookPayload,
} from '@eufy-relay/contracts';
import { EufyClient } from '@eufy-relay/eufy-client';
import { startSimulator, type Simulator, type SimulatorOptions } from '@eufy-relay/eufy-sim';
import { createLogger, type Logger } from '@eufy-relay/logger';
import { probe, type MediaInfo } from '@eufy-relay/media';
import { RecordingFiles, RecordingStore, type Recording } from '@eufy-relay/recordings';
import { createRedis, redisReady, type RunningRole } from '@eufy-relay/runtime';
import { openWebhookQueue } from '@eufy-relay/webhooks';
import { waitFor } from '@eufy-relay/testing';
import { start } from '../src';

/** A small picture keeps a shared machine's CPU for the recorder, not for the simulated camera. */
export const VIDEO = { width: 320, height: 240, fps: 15, bitrateKbps: 300 };

export const camera = (serialNumber: string, station?: string, audio = false) => ({
  serialNumber,
  ...(station ? { station } : {}),
  video: { ...VIDEO, audio },
});

/** A camera of its own that the harness streams once before the test. */
const WARM_UP = 'T8113P0299999999';

/**
 * In loop mode the simulator encodes its video (and audio) loop on the first livestream; a real
 * camera has no such cost, so it is paid here, before the recorder's first livestream.
 */
async function warmUp(sim: Simulator, logger: Logger): Promise<void> {
  const client = new EufyClient({ url: sim.url, logger });
  try {
    await client.start();
    const stream = await client.startLivestream(WARM_UP);
    let video = false;
    let audio = false;
    for (let chunk = await stream.read(); chunk && !(video && audio); chunk = await stream.read()) {
      if (chunk.kind === 'video') video = true;
      else audio = true;
    }
    await stream.stop();
  } finally {
    await client.close();
  }
}

export interface HarnessOptions {
  /** Devices and stations of the simulated bridge. */
  scenario: Pick<SimulatorOptions, 'devices' | 'stations' | 'rtsp'>;
  /** Settings over the test defaults below. */
  env?: Record<string, string>;
  /** A CONFIG_FILE for the test (e.g. a `cameras:` map), written into the test's directory. */
  configYaml?: string | ((sim: Simulator) => string);
  /** Recorder roles started in this process (0: the test starts its own, e.g. as child processes). */
  recorders?: number;
  logger?: Logger;
}

export interface QueuedWebhook {
  webhookId: string;
  payload: WebhookPayload;
  /** When the producer put it on the queue (ms). */
  queuedAt: number;
}

/**
 * One recorder test setup: the eufy-security-ws simulator (looped H.264), real Redis under a
 * prefix of its own, a temp RECORDINGS_DIR, and recorder roles. Webhooks are read from the
 * webhooks queue (no notifier runs): what a notifier would deliver, with its webhook ids.
 */
export async function startHarness(name: string, options: HarnessOptions) {
  const dir = await mkdtemp(path.join(tmpdir(), `eufy-relay-recorder-${name}-`));
  const logger =
    options.logger ?? createLogger({ level: (process.env.TEST_LOG_LEVEL as 'info') ?? 'silent' });
  const sim: Simulator = await startSimulator({
    server: { host: '127.0.0.1', port: 0, controlPort: 0 },
    timings: { motionResetSeconds: 1, livestreamAckDelayMs: 50 },
    media: { mode: 'loop', loopSeconds: 4 },
    ...options.scenario,
    devices: [...(options.scenario.devices ?? []), camera(WARM_UP, undefined, true)],
    logger: logger.child({ component: 'eufy-sim' }),
  });
  await warmUp(sim, logger);
  const env: Record<string, string> = {
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: `eufy-relay-test-recorder-${name}-${process.pid}`,
    EUFY_WS_URL: sim.url,
    RECORDINGS_DIR: dir,
    PUBLIC_BASE_URL: 'https://relay.example.com',
    MOTION_TIMEOUT_SECONDS: '3',
    MAX_RECORDING_SECONDS: '60',
    SNOOZE_SECONDS: '5',
    RETRY_ATTEMPTS: '2',
    RETRY_BASE_DELAY_MS: '200',
    RECORDING_TAKEOVER_SECONDS: '2',
    LIVESTREAM_START_TIMEOUT_SECONDS: '5',
    SHUTDOWN_TIMEOUT_SECONDS: '10',
    ERROR_FOLD_SECONDS: '0',
    // With STORAGE_BACKEND=s3 every recorder serves its spool: several on one machine, a port each.
    SPOOL_PORT: '0',
    LOG_LEVEL: 'silent',
    ...options.env,
  };
  if (options.configYaml !== undefined) {
    env.CONFIG_FILE = path.join(dir, 'config.yaml');
    await writeFile(
      env.CONFIG_FILE,
      typeof options.configYaml === 'function' ? options.configYaml(sim) : options.configYaml,
    );
  }
  const config: Config = loadConfig({ env });
  const redis: Redis = createRedis(config, 'worker', `${config.REDIS_PREFIX}:test`);
  await redisReady(redis);
  const motionQueue = openQueue(motionSignalJob, { connection: redis, prefix: config.REDIS_PREFIX });
  const webhooks = openWebhookQueue(config, redis);
  const sessionsQueue = openQueue(recordingSessionJob, {
    connection: redis,
    prefix: config.REDIS_PREFIX,
  });
  const store = new RecordingStore(redis, config);
  const files = new RecordingFiles(config.RECORDINGS_DIR);
  const roles: RunningRole[] = [];
  const children = new Set<ChildProcess>();

  const harness = {
    config,
    env,
    dir,
    sim,
    redis,
    store,
    files,
    roles,
    logger,

    async startRecorder(): Promise<RunningRole> {
      const role = await start(config, { logger });
      roles.push(role);
      return role;
    },

    /** A recorder as its own process (`node apps/recorder/dist/main.js`), for SIGKILL. */
    spawnRecorder(extraEnv: Record<string, string> = {}): ChildProcess {
      const entry = path.resolve(__dirname, '../dist/main.js');
      if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`pnpm build\` first`);
      const child = spawn(process.execPath, [entry], {
        env: { PATH: process.env.PATH ?? '', ...env, LOG_LEVEL: 'info', ...extraEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      child.on('close', () => children.delete(child));
      return child;
    },

    /** ingest's motion signal for a camera, stamped now. */
    async motion(sn: string, kind: 'motion' | 'person' | 'sound' = 'motion', state = true): Promise<void> {
      await addJob(motionQueue, motionSignalJob, {
        device_sn: sn,
        kind,
        state,
        at: new Date().toISOString(),
        source_event: `${kind} detected`,
      });
    },

    /** Keeps sending motion for a camera every `everyMs` until the returned function is called. */
    keepMoving(sn: string, everyMs = 500): () => void {
      const timer = setInterval(() => void harness.motion(sn).catch(() => undefined), everyMs);
      // Fire-and-forget: the first signal at once; a failure shows in the test's own assertions on the recording.
      void harness.motion(sn);
      return () => clearInterval(timer);
    },

    async webhooks(event?: WebhookPayload['event']): Promise<QueuedWebhook[]> {
      const jobs = await webhooks.getJobs([
        'wait',
        'delayed',
        'active',
        'completed',
        'failed',
        'prioritized',
      ]);
      return jobs
        .map((j) => ({ webhookId: j.id!, payload: j.data.payload as WebhookPayload, queuedAt: j.timestamp }))
        .filter((w) => !event || w.payload.event === event)
        .sort((a, b) => a.queuedAt - b.queuedAt);
    },

    async motionStopped(recordingId: string): Promise<MotionStoppedPayload | undefined> {
      const found = (await harness.webhooks('motion_stopped')).find(
        (w) => w.webhookId === `motion_stopped.${recordingId}`,
      );
      return found?.payload as MotionStoppedPayload | undefined;
    },

    recordings(sn?: string): Promise<Recording[]> {
      return store.list({ ...(sn ? { device_sn: sn } : {}), order: 'asc', limit: 1000 }).then((p) => p.items);
    },

    async waitForRecording(sn: string, timeoutMs = 10_000): Promise<Recording> {
      return waitFor(`a recording of ${sn}`, async () => (await harness.recordings(sn)).at(-1), {
        timeoutMs: timeoutMs,
      });
    },

    /** Waits until the recording's index entry satisfies `check`, and returns it. */
    async recordingWhen(
      id: string,
      check: (recording: Recording) => unknown,
      what: string,
      timeoutMs = 15_000,
    ): Promise<Recording> {
      return waitFor(
        `${what} (${id})`,
        async () => {
          const r = await store.get(id);
          return r && check(r) ? r : undefined;
        },
        { timeoutMs: timeoutMs },
      );
    },

    waitForFinish(id: string, timeoutMs = 60_000): Promise<Recording> {
      return harness.recordingWhen(
        id,
        (r) => r.status !== 'recording',
        'the end of the recording',
        timeoutMs,
      );
    },

    probe(id: string): Promise<MediaInfo> {
      return probe(files.videoPath(id));
    },

    /**
     * The timing contract of a finished recording with video, asserted:
     * - the file is as long as the wall clock its video covers (first frame → stop), within 1 s;
     * - duration_seconds is the recording's wall clock (motion → stop), rounded to a second.
     * So the two differ by the livestream's start-up (video_started_at − started_at), which the
     * index keeps. Returns the figures, for the test's report line.
     */
    async expectWallClock(recording: Recording): Promise<string> {
      const info = await probe(files.videoPath(recording.id));
      const videoWall = (recording.ended_at! - recording.video_started_at!) / 1000;
      const wall = (recording.ended_at! - recording.started_at) / 1000;
      const startup = (recording.video_started_at! - recording.started_at) / 1000;
      expect(Math.abs(info.durationSeconds - videoWall)).toBeLessThan(1);
      expect(recording.duration_seconds).toBe(Math.round(wall));
      return (
        `file ${info.durationSeconds.toFixed(3)} s, video wall clock ${videoWall.toFixed(3)} s, ` +
        `recording wall clock ${wall.toFixed(3)} s (livestream start-up ${startup.toFixed(3)} s), ` +
        `duration_seconds ${recording.duration_seconds}`
      );
    },

    sessionJobCount(): Promise<number> {
      return sessionsQueue.getJobCountByTypes('wait', 'active', 'delayed', 'prioritized');
    },

    /** Stops one recorder role (as SIGTERM would). */
    async stopRecorder(role: RunningRole): Promise<void> {
      roles.splice(roles.indexOf(role), 1);
      await role.stop();
    },

    /** The session hash of a recording in progress (segments, streams, problem). */
    session(id: string): Promise<Record<string, string>> {
      return redis.hgetall(`${config.REDIS_PREFIX}:recorder:session:${id}`);
    },

    async stopRecorders(): Promise<void> {
      for (const role of roles.splice(0)) await role.stop();
    },

    async close(): Promise<void> {
      await harness.stopRecorders();
      for (const child of children) child.kill('SIGKILL');
      await Promise.all([...children].map((c) => new Promise((r) => c.once('close', r))));
      for (const queue of [motionQueue, webhooks, sessionsQueue]) {
        await queue.obliterate({ force: true });
        await queue.close();
      }
      const keys = await redis.keys(`${config.REDIS_PREFIX}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
      await sim.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  for (let i = 0; i < (options.recorders ?? 1); i++) await harness.startRecorder();
  return harness;
}

export type Harness = Awaited<ReturnType<typeof startHarness>>;

/** Why a file does not play end to end ('' when it does): @eufy-relay/testing's, for the tests here. */
export { decodeErrors } from '@eufy-relay/testing';

/** ffmpeg processes whose command line names `dir` (the recordings of one test): none may outlive a recorder. */
export async function ffmpegProcessesWriting(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0');
    if (path.basename(args[0] ?? '') === 'ffmpeg' && args.some((a) => a.includes(dir)))
      pids.push(Number(entry));
  }
  return pids;
}
