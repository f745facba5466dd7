// The functions passed to page.evaluate / waitForFunction run in the browser.
/// <reference lib="dom" />
import type { Page } from '@eufy-relay/testing/chromium';
import { openVideo as open, playToEnd, playerState, useBrowser, type PlayerState } from './browser';
import { waitForEvent } from './deliveries';
import { CAMERA, SECOND_CAMERA, TIMINGS, ffprobe, keepMoving, sleep, useStack } from './harness';

// What a person gets from the link in motion_detected: opened in a real Chromium a second after the
// webhook, it plays live while the camera still records, and ends on its own when the recording does.

const MOTION_TIMEOUT_MS = Number(TIMINGS.MOTION_TIMEOUT_SECONDS) * 1000;
// A timer on a busy machine may fire this much before its nominal time as seen from here, no more.
const EARLY_MS = 250;

const e2e = useStack({ env: { MAX_RECORDING_SECONDS: '60' } });

const chromium = useBrowser();
const openVideo = (url: string, tab?: Page) => open(chromium.context, url, tab);

test('the motion_detected URL plays live while recording and ends on its own with the recording', async () => {
  // The person's browser is already open when the webhook's message arrives.
  const tab = await chromium.context.newPage();
  await e2e.stack.control(`/devices/${CAMERA}/detection`, { kind: 'motion' });
  const detected = await waitForEvent(e2e.receiver, e2e.stack, 'motion_detected', CAMERA);
  const url = detected.payload.video_url;
  // Motion goes on for 11 s after the webhook; the link is opened 1 s after it.
  const moving = keepMoving(e2e.stack, CAMERA, 700, () => performance.now() - detected.at > 11_000);
  await sleep(Math.max(0, detected.at + 1000 - performance.now()));
  const page = await openVideo(url, tab);

  const samples: (PlayerState & { at: number })[] = [];
  const sample = async () => samples.push({ ...(await playerState(page)), at: performance.now() });
  let lastMotion = 0;
  void moving.then((at) => (lastMotion = at));
  while (lastMotion === 0) {
    await sample();
    await sleep(250);
  }
  // Before motion ended: the player kept going, at least 6 s into the video, and never ended.
  const beforeEnd = samples.filter((s) => s.at <= lastMotion);
  const reached = Math.max(...beforeEnd.map((s) => s.currentTime));
  if (reached < 6) {
    // What the player did, from the webhook on: [ms, currentTime, paused, buffered duration].
    const trace = samples.map((s) => [Math.round(s.at - detected.at), s.currentTime, s.paused, s.duration]);
    console.warn(`player samples: ${JSON.stringify(trace)}`);
  }
  expect(beforeEnd.some((s) => s.ended)).toBe(false);
  expect(beforeEnd.every((s) => s.error === null)).toBe(true);
  expect(reached).toBeGreaterThanOrEqual(6);
  const times = beforeEnd.map((s) => s.currentTime);
  expect(times.slice(-4).every((t, i, all) => i === 0 || t > all[i - 1]!)).toBe(true);

  // Then the same element ends by itself once the recording has finished (not before it could).
  const stopped = await waitForEvent(e2e.receiver, e2e.stack, 'motion_stopped', CAMERA);
  const deadline = performance.now() + 30_000;
  while (!samples.at(-1)!.ended && performance.now() < deadline) {
    await sample();
    await sleep(250);
  }
  const end = samples.find((s) => s.ended);
  expect(end).toBeDefined();
  expect(end!.at).toBeGreaterThanOrEqual(lastMotion + MOTION_TIMEOUT_MS - EARLY_MS);
  expect(samples.filter((s) => s.at < lastMotion + MOTION_TIMEOUT_MS - EARLY_MS).some((s) => s.ended)).toBe(
    false,
  );
  const file = Number((await ffprobe(url)).format.duration);
  expect(Math.abs(end!.currentTime - file)).toBeLessThan(1);
  expect(stopped.payload.video_url).toBe(url);
  await page.close();
}, 90_000);

test('opened after motion_stopped, the same URL plays the whole recording to its end', async () => {
  const stopped = await waitForEvent(e2e.receiver, e2e.stack, 'motion_stopped', CAMERA);
  const url = stopped.payload.video_url;
  const page = await openVideo(url);
  // Played faster than real time: the whole file still passes through the player.
  const state = await playToEnd(page, 4);
  const file = Number((await ffprobe(url)).format.duration);
  expect(state.error).toBeNull();
  expect(Math.abs(state.duration - file)).toBeLessThan(1);
  expect(Math.abs(state.currentTime - file)).toBeLessThan(1);
  await page.close();
}, 60_000);

test('the page plays a recording in progress live, says it is live, and ends with it', async () => {
  await e2e.stack.control(`/devices/${SECOND_CAMERA}/detection`, { kind: 'motion' });
  const detected = await waitForEvent(e2e.receiver, e2e.stack, 'motion_detected', SECOND_CAMERA);
  const moving = keepMoving(e2e.stack, SECOND_CAMERA, 700, () => performance.now() - detected.at > 8_000);
  const page = await chromium.context.newPage();
  await page.goto(`${e2e.stack.apiUrl}/`);
  const badge = page.locator(`li.camera[data-serial="${SECOND_CAMERA}"] a.badge.recording`);
  await badge.click();
  expect(await page.locator('#live').isVisible()).toBe(true);
  const player = () =>
    page.evaluate(() => {
      const v = document.getElementById('player') as HTMLVideoElement;
      return { src: v.currentSrc, time: v.currentTime, ended: v.ended };
    });
  await page.waitForFunction(
    () => (document.getElementById('player') as HTMLVideoElement).currentTime > 3,
    undefined,
    {
      timeout: 20_000,
    },
  );
  const playing = await player();
  expect(playing.src).toContain(`/recordings/${SECOND_CAMERA}_`);
  expect(playing.ended).toBe(false);
  await moving;
  await waitForEvent(e2e.receiver, e2e.stack, 'motion_stopped', SECOND_CAMERA);
  await page.waitForFunction(() => (document.getElementById('player') as HTMLVideoElement).ended, undefined, {
    timeout: 30_000,
  });
  expect((await player()).time).toBeGreaterThan(6);
  expect(await page.locator('#live').isVisible()).toBe(false);
  await page.close();
}, 90_000);
