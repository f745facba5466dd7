// The functions passed to page.waitForFunction / page.evaluate run in the browser.
/// <reference lib="dom" />
import path from 'node:path';
import { DeviceRegistry } from '@eufy-relay/devices';
import { RecordingStore } from '@eufy-relay/recordings';
import { indexFinishedRecording } from '@eufy-relay/recordings/testing';
import {
  CHROMIUM,
  chromiumMissing,
  launchChromium,
  type BrowserContext,
  type LaunchedChromium,
} from '@eufy-relay/testing/chromium';
import { TOKEN, basic, makeThumbnail, makeVideo, request, startApi, type TestApi } from './helpers';

const CAMERA = 'T8113P0223000002';
const OTHER = 'T8400P1022000003';
const CLIP = `${CAMERA}_20260301_120000`;
const OLDER = `${OTHER}_20260228_090000`;

let t: TestApi;

beforeAll(async () => {
  t = await startApi('page', { API_TOKEN: TOKEN, URL_SIGNING_SECRET: 'url-signing-secret-0123456789' });
  const registry = new DeviceRegistry(t.redis, t.config);
  await registry.updateDevice(CAMERA, {
    name: 'Driveway <front>',
    is_camera: true,
    online: true,
    battery: 76,
    charging: true,
  });
  await registry.updateDevice(OTHER, {
    name: 'Garden',
    is_camera: true,
    online: false,
    battery: 12,
    recording_id: `${OTHER}_20260301_130000`,
    snoozed_until: Date.now() + 3600_000,
  });
  await registry.updateDevice('T8010P2321000001', { name: 'HomeBase', is_camera: false });
  const store = new RecordingStore(t.redis, t.config);
  for (const id of [CLIP, OLDER]) {
    await indexFinishedRecording(store, id, { seconds: 6 });
    makeVideo(path.join(t.config.RECORDINGS_DIR, `${id}.mp4`), 6);
    makeThumbnail(path.join(t.config.RECORDINGS_DIR, `${id}.jpg`));
  }
});
afterAll(() => t.close());

describe('GET / (HTML)', () => {
  it('shows the cameras with their state and the latest recordings, newest first, escaped', async () => {
    const r = await request(t.api.url, '/', { headers: basic() });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['content-security-policy']).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]+'/);
    const html = r.text;
    expect(html).toContain('Driveway &lt;front&gt;');
    expect(html).not.toContain('Driveway <front>');
    expect(html).toContain('battery 76% (charging)');
    expect(html).toMatch(/data-serial="T8400P1022000003"[\s\S]*?offline[\s\S]*?battery 12%/);
    // A camera recording right now links its recording in progress; snooze shows until when.
    expect(html).toMatch(
      new RegExp(
        `<a class="badge recording" href="/recordings/${OTHER}_20260301_130000\\.mp4\\?expires=\\d+&amp;sig=[\\w-]+"`,
      ),
    );
    expect(html).toMatch(/snoozed until <time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC<\/time>/);
    expect(html).not.toContain('data-serial="T8010P2321000001"');
    const tiles = [...html.matchAll(/<li class="tile" data-id="([^"]+)"/g)].map((m) => m[1]);
    expect(tiles).toEqual([CLIP, OLDER]);
    // Links are relative (they work whatever host the page was reached by) and signed.
    expect(html).toMatch(new RegExp(`data-video="/recordings/${CLIP}\\.mp4\\?expires=\\d+&amp;sig=[\\w-]+"`));
  });
});

const noChromium = chromiumMissing();
if (noChromium) console.warn(`page.test.ts: browser test skipped: ${noChromium}`);

(noChromium ? describe.skip : describe)(`the page in Chromium (${CHROMIUM})`, () => {
  let chromium: LaunchedChromium;
  let browser: BrowserContext;
  beforeAll(async () => {
    chromium = await launchChromium({ password: TOKEN });
    browser = chromium.context;
  });
  afterAll(async () => {
    await chromium?.close();
  });

  it('opens /, shows thumbnails, and a click plays the recording in the page', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('response', (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));

    await page.goto(`${t.api.url}/`);
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll<HTMLImageElement>('li.tile img')].every(
          (i) => i.complete && i.naturalWidth > 0,
        ),
      undefined,
      { timeout: 10_000 },
    );
    expect(await page.locator('li.camera').count()).toBe(2);
    expect(await page.locator('#player').isVisible()).toBe(false);

    await page.click(`li.tile[data-id="${CLIP}"] a`);
    expect(page.url()).toBe(`${t.api.url}/`); // played in the page, not navigated away
    // Hang guard only: playback normally advances within a second.
    await page.waitForFunction(
      () => (document.getElementById('player') as HTMLVideoElement).currentTime > 1,
      undefined,
      { timeout: 20_000 },
    );
    const state = await page.evaluate(() => {
      const v = document.getElementById('player') as HTMLVideoElement;
      return {
        src: v.currentSrc,
        paused: v.paused,
        error: v.error?.code ?? null,
        width: v.videoWidth,
        duration: v.duration,
      };
    });
    expect(state).toMatchObject({ paused: false, error: null, width: 320 });
    expect(state.src).toContain(`/recordings/${CLIP}.mp4?expires=`);
    expect(state.duration).toBeGreaterThan(5);
    expect(problems).toEqual([]);
  });
});
