// The functions passed to page.waitForFunction / page.evaluate run in the browser.
/// <reference lib="dom" />
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromiumMissing, launchChromium } from '@eufy-relay/testing/chromium';
import { promtoolCheck, unansweredQueries } from '../../apps/api/test/scrape-check';
import { deliveries, waitForEvent } from './deliveries';
import { API_TOKEN, CAMERA, SECOND_CAMERA, useStack, waitFor } from './harness';

// The statistics dashboard and /metrics after a real run: every role as its own process against the
// simulator records two cameras, sends webhooks to a receiver, sees a camera go offline and a battery
// drop, and the janitor samples the disk. Chromium then opens the page and draws the charts.

/** Where the screenshot goes (kept for a person to look at); default: the system's temp directory. */
const SCREENSHOT = process.env.DASHBOARD_SCREENSHOT ?? path.join(tmpdir(), 'eufy-relay-dashboard.png');
const auth = { authorization: `Bearer ${API_TOKEN}` };

// Motion timeout long enough for the first video to arrive on a loaded machine.
const e2e = useStack({ env: { MOTION_TIMEOUT_SECONDS: '5' } });

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each test asserts the shape it reads
async function api(route: string): Promise<any> {
  const res = await e2e.stack.api(route, { headers: auth });
  if (!res.ok) throw new Error(`${route}: ${res.status} ${await res.text()}`);
  return route === '/metrics' ? res.text() : res.json();
}

test('after a real run the page charts recordings, storage, webhooks and cameras with the API’s numbers, and /metrics serves the Grafana dashboard', async () => {
  const noChromium = chromiumMissing();
  if (noChromium) throw new Error(noChromium);
  const { stack, receiver } = e2e;

  // Two recordings (one per camera), a battery reading going down, an outage that alerts and ends.
  await stack.control(`/devices/${CAMERA}/detection`, { kind: 'person' });
  await stack.control(`/devices/${SECOND_CAMERA}/detection`, { kind: 'motion' });
  await stack.control(`/devices/${CAMERA}/battery`, { battery: 15 });
  await waitForEvent(receiver, stack, 'motion_stopped', CAMERA, { timeoutMs: 30_000 });
  await waitForEvent(receiver, stack, 'motion_stopped', SECOND_CAMERA, { timeoutMs: 30_000 });
  await waitForEvent(receiver, stack, 'low_battery', CAMERA);
  await stack.control(`/devices/${SECOND_CAMERA}/offline`);
  await waitForEvent(receiver, stack, 'camera_offline', SECOND_CAMERA);
  await stack.control(`/devices/${SECOND_CAMERA}/online`);
  await waitForEvent(receiver, stack, 'camera_online', SECOND_CAMERA);

  // Quiet now: every request the receiver got is an attempt the notifiers counted, and the janitor
  // (every second here) has sampled the disk since the recordings finished.
  const finishedAt = Date.now();
  const [recordings, webhooks, storage, cameras] = await waitFor(
    'the statistics to settle on the run',
    async () => {
      const body = await Promise.all([
        api('/stats/recordings'),
        api('/stats/webhooks'),
        api('/stats/storage'),
        api('/stats/cameras'),
      ]);
      const [r, w, s] = body;
      const recorded = r.cameras.reduce(
        (n: number, c: { total_recordings: number }) => n + c.total_recordings,
        0,
      );
      const sampled = s.samples.slice(0, -1).some((x: { at: string }) => Date.parse(x.at) >= finishedAt);
      return recorded === 2 && w.totals.delivered === receiver.received.length && sampled ? body : null;
    },
    30_000,
    () => stack.tails(),
  );

  // The API's numbers are the run's: one finished recording per camera (as GET /recordings has
  // them), every delivered webhook, the outage and the battery drop.
  const listed = await api('/recordings?limit=100');
  for (const sn of [CAMERA, SECOND_CAMERA]) {
    const own = listed.items.filter((i: { device_sn: string }) => i.device_sn === sn);
    expect(own).toHaveLength(1);
    expect(own[0].status).not.toBe('recording');
    const camera = recordings.cameras.find((c: { device_sn: string }) => c.device_sn === sn);
    expect(camera.recordings.at(-1)).toBe(1);
    expect(camera.hours.at(-1)).toBeCloseTo(own[0].duration_seconds / 3600, 3);
  }
  expect(webhooks.outcomes.delivered.at(-1)).toBe(deliveries(receiver).length);
  expect(webhooks.latency.count.at(-1)).toBeGreaterThanOrEqual(deliveries(receiver).length);
  const second = cameras.cameras.find((c: { device_sn: string }) => c.device_sn === SECOND_CAMERA);
  expect(second.online.map((s: { online: boolean }) => s.online)).toEqual([true, false, true]);
  const first = cameras.cameras.find((c: { device_sn: string }) => c.device_sn === CAMERA);
  expect(first.battery.map((s: { level: number }) => s.level)).toEqual([76, 15]);
  expect(storage.samples.at(-1).recordings_bytes).toBe(
    listed.items.reduce((n: number, i: { bytes: number }) => n + i.bytes, 0),
  );

  const chromium = await launchChromium({ password: API_TOKEN, viewport: { width: 1200, height: 900 } });
  const browser = chromium.context;
  try {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('response', (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
    await page.goto(`${stack.apiUrl}/`);
    await page.waitForFunction(() => document.getElementById('stats-status')?.dataset.state, undefined, {
      timeout: 20_000,
    });
    expect(await page.locator('#stats-status').textContent()).toBe('ready');
    await page.locator('#chart-battery').scrollIntoViewIfNeeded();
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(20_000);
    console.log(`dashboard screenshot: ${SCREENSHOT}`);

    // What the page drew: every chart has points and a canvas; each series sums to the API's numbers.
    const drawn = await page.evaluate(() =>
      Object.fromEntries(
        [...document.querySelectorAll<HTMLElement>('.chart')].map((el) => [
          el.id,
          {
            points: Number(el.dataset.points),
            canvas: el.querySelector('canvas') !== null,
            sums: JSON.parse(el.dataset.sums ?? '{}') as Record<string, number>,
          },
        ]),
      ),
    );
    expect(Object.keys(drawn).sort()).toEqual(
      ['battery', 'hours', 'latency', 'online', 'recordings', 'storage', 'webhooks'].map((c) => `chart-${c}`),
    );
    for (const [id, chart] of Object.entries(drawn)) {
      expect({ id, drawn: chart.points > 0 && chart.canvas }).toEqual({ id, drawn: true });
    }
    const label = (c: { device_sn: string; name: string | null }) =>
      c.name ? `${c.name} (${c.device_sn})` : c.device_sn;
    for (const c of recordings.cameras) {
      expect(drawn['chart-recordings']!.sums[label(c)]).toBe(c.total_recordings);
      expect(drawn['chart-hours']!.sums[label(c)]).toBeCloseTo(c.total_hours, 6);
    }
    for (const [outcome, count] of Object.entries(webhooks.totals))
      expect(drawn['chart-webhooks']!.sums[outcome]).toBe(count);
    const totals = await page.locator('#stats-totals').evaluate((el) => ({ ...(el as HTMLElement).dataset }));
    expect(Number(totals.recordings)).toBe(2);
    expect(Number(totals.delivered)).toBe(webhooks.totals.delivered);
    const forecast = await page
      .locator('#storage-forecast')
      .evaluate((el) => (el as HTMLElement).dataset.daysUntilFull);
    expect(forecast).toBe(String(storage.days_until_full));
    expect(problems).toEqual([]);
  } finally {
    await chromium.close();
  }

  // /metrics after the same run: accepted by promtool, and it answers every query of the Grafana dashboard.
  const scrape = (await api('/metrics')) as string;
  expect(promtoolCheck(scrape)).toEqual({ status: 0, output: '' });
  expect(unansweredQueries(scrape)).toEqual([]);
  expect(scrape).toMatch(
    new RegExp(`^eufy_relay_camera_battery_percent\\{device_sn="${CAMERA}"\\} 15$`, 'm'),
  );
}, 120_000);
