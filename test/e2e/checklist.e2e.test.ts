import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseRecordingId, recordingId } from '@eufy-relay/contracts';
import {
  deliveries,
  expectNothingLostOrDuplicated,
  expectPlayable,
  ofEvent,
  waitForEvent,
} from './deliveries';
import {
  API_TOKEN,
  CAMERA,
  SECOND_CAMERA,
  TIMINGS,
  ffprobe,
  keepMoving,
  playable,
  sleep,
  useStack,
  waitFor,
} from './harness';

// The seed's manual testing checklist, automated against every role running as its own process.

const MOTION_TIMEOUT_MS = Number(TIMINGS.MOTION_TIMEOUT_SECONDS) * 1000;
const MAX_RECORDING_S = Number(TIMINGS.MAX_RECORDING_SECONDS);
const SNOOZE_MS = Number(TIMINGS.SNOOZE_SECONDS) * 1000;
const OFFLINE_DEBOUNCE_MS = Number(TIMINGS.OFFLINE_DEBOUNCE_SECONDS) * 1000;
const BATTERY_COOLDOWN_MS = Number(TIMINGS.BATTERY_ALERT_COOLDOWN_SECONDS) * 1000;
// A timer on a busy machine may fire this much before its nominal time as seen from here, no more.
const EARLY_MS = 250;
const auth = { authorization: `Bearer ${API_TOKEN}` };

const e2e = useStack();

async function get(route: string): Promise<{ status: number; type: string; body: string }> {
  const res = await e2e.stack.api(route, { headers: auth });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

test(`motion starts a recording whose URL plays while it is written; motion_detected arrives signed; ${TIMINGS.MOTION_TIMEOUT_SECONDS} s without motion stop it with motion_stopped and its duration`, async () => {
  const t0 = Date.now();
  await e2e.stack.control(`/devices/${CAMERA}/detection`, { kind: 'person', person: 'Alice' });
  const detected = await waitForEvent(e2e.receiver, e2e.stack, 'motion_detected', CAMERA);
  const url = new URL(detected.payload.video_url);
  expect(url.origin).toBe(e2e.stack.apiUrl);
  const id = path.basename(url.pathname, '.mp4');
  // The id is the UTC start: the second of the detection, or the next one.
  expect([recordingId(CAMERA, t0), recordingId(CAMERA, t0 + 1000)]).toContain(id);

  // More motion keeps it going; meanwhile the URL plays while ffmpeg is still writing the file.
  await keepMoving(e2e.stack, CAMERA, 700, playable(detected.payload.video_url));
  const movingSince = performance.now();
  const lastMotion = await keepMoving(e2e.stack, CAMERA, 700, () => performance.now() - movingSince > 1500);
  expect(ofEvent(deliveries(e2e.receiver), 'motion_stopped', CAMERA)).toEqual([]);

  const stopped = await waitForEvent(e2e.receiver, e2e.stack, 'motion_stopped', CAMERA);
  expect(stopped.payload).toMatchObject({
    video_url: detected.payload.video_url,
    video_status: 'completed',
  });
  expect(stopped.at - lastMotion).toBeGreaterThanOrEqual(MOTION_TIMEOUT_MS - EARLY_MS);
  // Wall-clock length: the motion (≥ 1.5 s) plus the timeout, and under the cap.
  expect(stopped.payload.duration_seconds).toBeGreaterThanOrEqual(3);
  expect(stopped.payload.duration_seconds).toBeLessThan(MAX_RECORDING_S);

  const probe = await ffprobe(detected.payload.video_url);
  expect(probe.streams.find((s) => s.codec_type === 'video')).toMatchObject({
    codec_name: 'h264',
    width: 320,
    height: 240,
  });
  expect(Number(probe.format.duration)).toBeGreaterThan(2);
  expect(existsSync(path.join(e2e.stack.recordingsDir, `${id}.mp4`))).toBe(true);
  await expectNothingLostOrDuplicated(e2e.receiver);
}, 60_000);

test(`the ${TIMINGS.MAX_RECORDING_SECONDS} s cap stops a recording under continuous motion, then motion is ignored for ${TIMINGS.SNOOZE_SECONDS} s`, async () => {
  const capped = () => ofEvent(deliveries(e2e.receiver), 'motion_stopped', SECOND_CAMERA)[0];
  await keepMoving(e2e.stack, SECOND_CAMERA, 500, () => capped() !== undefined, 30_000);
  const detected = await waitForEvent(e2e.receiver, e2e.stack, 'motion_detected', SECOND_CAMERA);
  const stopped = capped()!;
  expect(stopped.payload).toMatchObject({
    video_url: detected.payload.video_url,
    video_status: 'completed',
  });
  expect(stopped.payload.duration_seconds).toBeGreaterThanOrEqual(MAX_RECORDING_S - 1);
  expect(stopped.payload.duration_seconds).toBeLessThanOrEqual(MAX_RECORDING_S + 1);
  await expectPlayable(detected.payload.video_url);

  // The snooze runs from the cap, which is earlier than motion_stopped's arrival by the finish and
  // the delivery (seconds on a loaded machine): go by the end the relay reports (GET /devices).
  const stoppedWallMs = Date.now() - (performance.now() - stopped.at);
  const snoozedUntil = await waitFor('the snooze in GET /devices', async () => {
    const { devices } = JSON.parse((await get('/devices')).body) as {
      devices: { serial: string; snoozed_until: string | null }[];
    };
    const until = devices.find((d) => d.serial === SECOND_CAMERA)?.snoozed_until;
    return until ? Date.parse(until) : null;
  });
  expect(snoozedUntil).toBeLessThanOrEqual(stoppedWallMs + SNOOZE_MS + 50);
  // …and it is the snooze after the capped recording's end (its id's second plus its duration).
  const startedAt = parseRecordingId(
    path.basename(new URL(detected.payload.video_url).pathname, '.mp4'),
  )!.startedAt.getTime();
  const endedAt = startedAt + stopped.payload.duration_seconds * 1000;
  expect(Math.abs(snoozedUntil - (endedAt + SNOOZE_MS))).toBeLessThan(2000);

  // Snoozed: motion for most of the snooze starts nothing and sends nothing.
  await keepMoving(e2e.stack, SECOND_CAMERA, 500, () => Date.now() > snoozedUntil - 1000);
  await sleep(500);
  expect(ofEvent(deliveries(e2e.receiver), 'motion_detected', SECOND_CAMERA)).toHaveLength(1);

  // After the snooze, motion records again.
  await waitFor('the snooze to end', () => Date.now() > snoozedUntil + 300);
  await e2e.stack.control(`/devices/${SECOND_CAMERA}/detection`, { kind: 'motion' });
  const again = await waitForEvent(e2e.receiver, e2e.stack, 'motion_detected', SECOND_CAMERA, { count: 2 });
  expect(again.payload.video_url).not.toBe(detected.payload.video_url);
  await waitForEvent(e2e.receiver, e2e.stack, 'motion_stopped', SECOND_CAMERA, { count: 2 });
  await expectNothingLostOrDuplicated(e2e.receiver);
}, 60_000);

test(`low battery sends one low_battery per camera per ${TIMINGS.BATTERY_ALERT_COOLDOWN_SECONDS} s`, async () => {
  await e2e.stack.control(`/devices/${CAMERA}/battery`, { battery: 15 });
  const first = await waitForEvent(e2e.receiver, e2e.stack, 'low_battery', CAMERA);
  expect(first.payload.battery_level).toBe(15);

  // Lower still, within the cooldown: no second alert.
  await e2e.stack.control(`/devices/${CAMERA}/battery`, { battery: 12 });
  await waitFor('the cooldown to pass', () => performance.now() - first.at > BATTERY_COOLDOWN_MS + 300);
  expect(ofEvent(deliveries(e2e.receiver), 'low_battery', CAMERA)).toHaveLength(1);

  await e2e.stack.control(`/devices/${CAMERA}/battery`, { battery: 10 });
  const second = await waitForEvent(e2e.receiver, e2e.stack, 'low_battery', CAMERA, { count: 2 });
  expect(second.payload.battery_level).toBe(10);
  // The other camera (80 %) never alerted.
  expect(ofEvent(deliveries(e2e.receiver), 'low_battery', SECOND_CAMERA)).toEqual([]);
}, 30_000);

test(`camera_offline is sent after ${TIMINGS.OFFLINE_DEBOUNCE_SECONDS} s offline, not for a shorter blip, and camera_online closes it`, async () => {
  // A blip shorter than the debounce is no outage.
  await e2e.stack.control(`/devices/${CAMERA}/offline`);
  await sleep(OFFLINE_DEBOUNCE_MS / 4);
  await e2e.stack.control(`/devices/${CAMERA}/online`);

  const wentOffline = performance.now();
  await e2e.stack.control(`/devices/${SECOND_CAMERA}/offline`);
  const offline = await waitForEvent(e2e.receiver, e2e.stack, 'camera_offline', SECOND_CAMERA);
  expect(offline.at - wentOffline).toBeGreaterThanOrEqual(OFFLINE_DEBOUNCE_MS - EARLY_MS);
  expect(offline.payload.reason).toEqual(expect.any(String));

  await e2e.stack.control(`/devices/${SECOND_CAMERA}/online`);
  const online = await waitForEvent(e2e.receiver, e2e.stack, 'camera_online', SECOND_CAMERA);
  expect(online.payload.offline_seconds).toBeGreaterThanOrEqual(1);

  await sleep(OFFLINE_DEBOUNCE_MS);
  expect(ofEvent(deliveries(e2e.receiver), 'camera_offline', CAMERA)).toEqual([]);
  expect(ofEvent(deliveries(e2e.receiver), 'camera_online', CAMERA)).toEqual([]);
}, 30_000);

/** A small fragmented MP4, as the recorder writes them. */
function writeVideo(file: string): void {
  execFileSync('ffmpeg', [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=10', '-t', '1'],
    ...['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-movflags', 'frag_keyframe+empty_moov', file],
  ]);
}

test(`storage cleanup removes recordings older than the retention and keeps newer ones (POST /cleanup with API_TOKEN)`, async () => {
  const oldId = `${CAMERA}_20250101_000000`;
  const recentId = recordingId(CAMERA, Date.now() - 24 * 3600_000);
  writeVideo(path.join(e2e.stack.recordingsDir, `${oldId}.mp4`));
  writeVideo(path.join(e2e.stack.recordingsDir, `${recentId}.mp4`));

  expect((await e2e.stack.api('/cleanup', { method: 'POST' })).status).toBe(401);
  const res = await e2e.stack.api('/cleanup', { method: 'POST', headers: auth });
  expect(res.status).toBe(200);

  await waitFor(
    'the old recording to be deleted',
    () => !existsSync(path.join(e2e.stack.recordingsDir, `${oldId}.mp4`)),
  );
  expect(existsSync(path.join(e2e.stack.recordingsDir, `${recentId}.mp4`))).toBe(true);
  const listed = await waitFor('the recent recording to be indexed', async () => {
    const body = await (await e2e.stack.api(`/recordings?camera=${CAMERA}`, { headers: auth })).text();
    return body.includes(recentId) ? body : undefined;
  });
  expect(listed).not.toContain(oldId);
  await expectPlayable(`${e2e.stack.apiUrl}/recordings/${recentId}.mp4`);
}, 30_000);

test(`every endpoint answers: /health, /recordings, /storage, /devices, /errors, /docs, /metrics`, async () => {
  const health = await waitFor('/health to report ok', async () => {
    const r = await get('/health');
    return r.status === 200 ? r : undefined;
  });
  expect(JSON.parse(health.body)).toMatchObject({ status: 'ok' });

  for (const route of ['/recordings', '/storage', '/errors']) {
    const r = await get(route);
    expect({ route, status: r.status, type: r.type }).toEqual({
      route,
      status: 200,
      type: expect.stringContaining('application/json'),
    });
  }
  const devices = await get('/devices');
  expect(devices.status).toBe(200);
  expect(devices.type).toContain('application/json');

  const docs = await get('/docs');
  expect(docs.status).toBe(200);
  expect(docs.type).toContain('text/html');

  const metrics = await get('/metrics');
  expect(metrics.status).toBe(200);
  expect(metrics.body).toMatch(/^# TYPE /m);
}, 30_000);

test(`/devices lists the cameras ingest found on the bridge, with their battery`, async () => {
  const devices = await waitFor('/devices to list both cameras', async () => {
    const r = await get('/devices');
    return r.status === 200 && r.body.includes(CAMERA) && r.body.includes(SECOND_CAMERA) ? r : undefined;
  });
  expect(devices.body).toContain('"battery');
}, 30_000);
