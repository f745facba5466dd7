// The functions passed to page.evaluate run in the browser.
/// <reference lib="dom" />
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '@eufy-relay/config';
import { RecordingObjects, createS3Client } from '@eufy-relay/storage/s3';
import { s3TestSettings, startS3TestServer, type S3TestServer } from '@eufy-relay/storage/testing';
import { WebhookReceiver } from '@eufy-relay/webhooks/testing';
import { openVideo, playToEnd, playerState, useBrowser, type PlayerState } from './browser';
import { waitForEvent } from './deliveries';
import {
  API_TOKEN,
  CAMERA,
  Stack,
  WEBHOOK_SECRET,
  ffprobe,
  freePort,
  keepMoving,
  sleep,
  waitFor,
} from './harness';

// STORAGE_BACKEND=s3 with no shared disk: recorder, api and janitor each with a RECORDINGS_DIR of
// its own, as on three hosts, against a real S3-compatible server (fauxqs). The link in
// motion_detected plays live in Chromium while the camera records (the api proxies the recorder's
// spool), Range and HLS work, and once the recording is finished it is one object in the bucket of
// the file's size, the spool is empty, and the same link plays the whole recording from the bucket.

const BUCKET = 'e2e-hosts';

let s3: S3TestServer;
let receiver: WebhookReceiver;
let stack: Stack;
let dirs: Record<'recorder' | 'api' | 'janitor', string>;

beforeAll(async () => {
  s3 = await startS3TestServer({ buckets: [BUCKET] });
  receiver = await WebhookReceiver.start({ secret: WEBHOOK_SECRET });
  const spoolPort = String(await freePort());
  const base = path.join(tmpdir(), `eufy-relay-e2e-hosts-${process.pid}`);
  dirs = { recorder: `${base}-recorder`, api: `${base}-api`, janitor: `${base}-janitor` };
  stack = await Stack.start({
    webhookUrl: receiver.url,
    env: {
      ...s3TestSettings({ endpoint: s3.endpoint, bucket: BUCKET }),
      MAX_RECORDING_SECONDS: '60',
      URL_SIGNING_SECRET: 'e2e-url-signing-secret-0123456789',
      SPOOL_SECRET: 'e2e-spool-secret-0123456789',
      SPOOL_HOST: '127.0.0.1',
      SPOOL_PORT: spoolPort,
      HEARTBEAT_INTERVAL_SECONDS: '1',
      LIVE_CHECK_INTERVAL_SECONDS: '0.2',
    },
    roleEnv: {
      recorder: { RECORDINGS_DIR: dirs.recorder },
      api: { RECORDINGS_DIR: dirs.api },
      janitor: { RECORDINGS_DIR: dirs.janitor },
    },
  });
}, 60_000);

afterAll(async () => {
  await stack?.close();
  await receiver?.close();
  await s3?.stop();
  for (const dir of Object.values(dirs ?? {})) rmSync(dir, { recursive: true, force: true });
}, 60_000);

const chromium = useBrowser();

/** The recording files in a RECORDINGS_DIR (a directory not made yet holds none). */
function recordingFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => /\.(mp4|jpg)$/.test(name) || name.endsWith('.part'));
  } catch {
    return [];
  }
}

test('a recording on one host plays live from another, then from the bucket, and leaves no spool behind', async () => {
  const tab = await chromium.context.newPage();
  await stack.control(`/devices/${CAMERA}/detection`, { kind: 'motion' });
  const detected = await waitForEvent(receiver, stack, 'motion_detected', CAMERA);
  const url = detected.payload.video_url;
  const id = path.basename(new URL(url).pathname, '.mp4');
  const moving = keepMoving(stack, CAMERA, 700, () => performance.now() - detected.at > 12_000);
  const page = await openVideo(chromium.context, url, tab).catch((err: Error) => {
    throw new Error(`${err.message}\n${stack.tails(40)}`);
  });

  // Live, while the camera records: the player advances, and the file is only in the recorder's spool.
  const samples: PlayerState[] = [];
  let lastMotion = 0;
  void moving.then((at) => (lastMotion = at));
  let rangeChecked = false;
  let playlistChecked = false;
  while (lastMotion === 0) {
    samples.push(await playerState(page));
    if (!rangeChecked) {
      const part = await fetch(url, { headers: { Range: 'bytes=0-99' } });
      expect(part.status).toBe(206);
      expect(part.headers.get('x-recording-status')).toBe('recording');
      const bytes = Buffer.from(await part.arrayBuffer());
      expect(bytes.length).toBe(100);
      expect(bytes.toString('latin1', 4, 8)).toBe('ftyp');
      rangeChecked = true;
    }
    if (!playlistChecked) {
      const playlist = await (await fetch(url.replace('.mp4?', '.m3u8?'))).text();
      expect(playlist).toContain('#EXT-X-PLAYLIST-TYPE:EVENT');
      expect(playlist).not.toContain('#EXT-X-ENDLIST');
      expect(playlist).toMatch(/#EXT-X-BYTERANGE:\d+@\d+/);
      playlistChecked = true;
    }
    await sleep(250);
  }
  expect(recordingFiles(dirs.recorder)).toContain(`${id}.mp4`);
  expect(recordingFiles(dirs.api)).toEqual([]);
  expect(recordingFiles(dirs.janitor)).toEqual([]);
  expect(samples.every((s) => s.error === null && !s.ended)).toBe(true);
  expect(Math.max(...samples.map((s) => s.currentTime))).toBeGreaterThanOrEqual(4);

  // The same player ends by itself with the recording.
  const stopped = await waitForEvent(receiver, stack, 'motion_stopped', CAMERA, { timeoutMs: 30_000 });
  expect(stopped.payload.video_status).toBe('completed');
  await page.waitForFunction(() => document.querySelector('video')!.ended, undefined, { timeout: 30_000 });
  expect((await playerState(page)).error).toBeNull();
  await page.close();

  // Uploaded: one object of the file's size, and the spool is empty.
  const config = loadConfig({ env: s3TestSettings({ endpoint: s3.endpoint, bucket: BUCKET }) });
  const client = createS3Client(config);
  try {
    const objects = new RecordingObjects(client, config);
    const stored = await waitFor(
      'the object in the bucket and the spool empty',
      async () => {
        const head = await objects.head(objects.key(id, 'video'));
        return head && recordingFiles(dirs.recorder).length === 0 ? head : null;
      },
      30_000,
      () => stack.tails(),
    );
    const view = (await (
      await stack.api(`/recordings/${id}`, { headers: { Authorization: `Bearer ${API_TOKEN}` } })
    ).json()) as { bytes: number };
    expect(stored.bytes).toBe(view.bytes);
    const whole = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(whole.length).toBe(stored.bytes);
    expect(await objects.head(objects.key(id, 'thumbnail'))).not.toBeNull();
  } finally {
    client.destroy();
  }
  expect(recordingFiles(dirs.api)).toEqual([]);

  // From the bucket now: Range, the finished playlist, and the whole recording in Chromium.
  const tail = await fetch(url, { headers: { Range: 'bytes=-1000' } });
  expect(tail.status).toBe(206);
  expect((await tail.arrayBuffer()).byteLength).toBe(1000);
  const playlist = await (await fetch(url.replace('.mp4?', '.m3u8?'))).text();
  expect(playlist).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
  expect(playlist).toContain('#EXT-X-ENDLIST');
  const after = await openVideo(chromium.context, url);
  const state = await playToEnd(after, 4);
  const seconds = Number((await ffprobe(url)).format.duration);
  expect(state.error).toBeNull();
  expect(Math.abs(state.currentTime - seconds)).toBeLessThan(1);
  await after.close();
}, 120_000);
