import path from 'node:path';
import express, { type Router } from 'express';

/**
 * The statistics dashboard on the page at `/`: charts drawn in the browser with uPlot (a small
 * charting library, MIT, no dependencies) served by the api itself, from the JSON of /stats/*.
 * The page reaches the JSON with the credentials it was opened with (same origin).
 */

export const ASSETS_PATH = '/assets';

/** The files of the uplot package the page loads, by the name they are served under. */
const UPLOT_FILES: Record<string, { file: string; type: string }> = {
  'uPlot.iife.min.js': { file: 'uPlot.iife.min.js', type: 'text/javascript' },
  'uPlot.min.css': { file: 'uPlot.min.css', type: 'text/css' },
};

export const UPLOT_SCRIPT = `${ASSETS_PATH}/uPlot.iife.min.js`;
export const UPLOT_STYLE = `${ASSETS_PATH}/uPlot.min.css`;

/** Serves uPlot from node_modules (no CDN: the page works offline and under a strict CSP). */
export function dashboardAssets(): Router {
  const dir = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  const router = express.Router({ caseSensitive: true, strict: true });
  router.get(`${ASSETS_PATH}/:name`, (req, res, next) => {
    const asset = Object.hasOwn(UPLOT_FILES, req.params.name) ? UPLOT_FILES[req.params.name] : undefined;
    if (!asset) return next();
    res.type(asset.type);
    // The version is pinned; a day of caching spares a reload per page view. pnpm's store path has a
    // dot directory (node_modules/.pnpm), which send() refuses unless told: the name is whitelisted.
    res.sendFile(path.join(dir, asset.file), { maxAge: '1d', dotfiles: 'allow' });
  });
  return router;
}

/** The charts' places; the script fills each `.chart` from the JSON and states what it drew. */
export const DASHBOARD_HTML = `
<h2>Statistics</h2>
<p id="stats-status" role="status">loading statistics…</p>
<div class="charts">
  <figure><figcaption>Recordings per day (last 30 days)</figcaption><div class="chart" id="chart-recordings"></div></figure>
  <figure><figcaption>Hours recorded per day</figcaption><div class="chart" id="chart-hours"></div></figure>
  <figure><figcaption>Storage used · <span id="storage-forecast"></span></figcaption><div class="chart" id="chart-storage"></div></figure>
  <figure><figcaption>Webhook deliveries per day by outcome</figcaption><div class="chart" id="chart-webhooks"></div></figure>
  <figure><figcaption>Webhook latency per day (ms)</figcaption><div class="chart" id="chart-latency"></div></figure>
  <figure><figcaption>Cameras online (1) / offline (0)</figcaption><div class="chart" id="chart-online"></div></figure>
  <figure><figcaption>Battery level (%)</figcaption><div class="chart" id="chart-battery"></div></figure>
</div>
<p id="stats-totals"></p>
`;

export const DASHBOARD_STYLE = `
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:16px}
.charts figure{margin:0;background:#1a1a1a;padding:8px;border-radius:6px}
.charts figcaption{font-size:13px;margin-bottom:4px}
.chart{min-height:240px}
.chart .empty{color:#999;font-size:13px}
.uplot .u-legend{font-size:12px}
`;

/**
 * Runs in the browser. Each chart records what it drew on its element (`data-points`: values drawn,
 * `data-sums`: each series' sum), the totals line repeats the API's numbers, and `#stats-status`
 * ends as `ready` or says what failed: what a person sees and what a test compares with the API.
 */
export const DASHBOARD_SCRIPT = `
(() => {
  const COLORS = ['#8cf', '#fc6', '#6d8', '#f77', '#c9f', '#fa8', '#7dd', '#ddd'];
  const status = document.getElementById('stats-status');
  const getJson = async (p) => {
    const r = await fetch(p, { credentials: 'same-origin', headers: { accept: 'application/json' } });
    if (!r.ok) throw new Error(p + ' answered ' + r.status);
    return r.json();
  };
  const seconds = (iso) => Date.parse(iso) / 1000;
  const gb = (bytes) => Math.round((bytes / 1e9) * 1000) / 1000;
  const sum = (values) => values.reduce((a, b) => a + (b ?? 0), 0);
  const label = (c) => c.name ? c.name + ' (' + c.device_sn + ')' : c.device_sn;

  /** x values and named series (arrays aligned with x) as a uPlot chart in #id. */
  function chart(id, x, series, options = {}) {
    const el = document.getElementById(id);
    const points = sum(series.map((s) => s.values.filter((v) => v !== null && v !== undefined).length));
    el.dataset.points = String(points);
    el.dataset.sums = JSON.stringify(Object.fromEntries(series.map((s) => [s.label, sum(s.values)])));
    if (points === 0) {
      el.innerHTML = '<p class="empty">no data yet</p>';
      return;
    }
    const paths = options.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;
    new uPlot(
      {
        width: Math.max(el.clientWidth, 300),
        height: 220,
        scales: { x: { time: true }, y: options.range ? { range: options.range } : {} },
        axes: [
          { stroke: '#aaa', grid: { stroke: '#333' } },
          // Small values (minutes as hours) keep two significant digits instead of rounding to 0.
          { stroke: '#aaa', grid: { stroke: '#333' }, size: 60, values: (_u, ticks) => ticks.map((v) => +v.toPrecision(2)) },
        ],
        series: [
          {},
          ...series.map((s, i) => ({
            label: s.label,
            stroke: COLORS[i % COLORS.length],
            width: 2,
            spanGaps: !!options.stepped,
            points: { show: !options.stepped },
            ...(paths ? { paths } : {}),
          })),
        ],
      },
      [x, ...series.map((s) => s.values)],
      el,
    );
  }

  /** Per-camera change lists on one time axis: each value holds until the next change, up to now. */
  function steps(lists, pick) {
    const now = Date.now() / 1000;
    const times = [...new Set(lists.flatMap((l) => l.map((s) => seconds(s.at))).concat([now]))].sort((a, b) => a - b);
    const values = lists.map((l) => {
      let i = -1;
      return times.map((t) => {
        while (i + 1 < l.length && seconds(l[i + 1].at) <= t) i++;
        return i < 0 ? null : pick(l[i]);
      });
    });
    return { times, values };
  }

  async function draw() {
    const [recordings, storage, webhooks, cameras] = await Promise.all([
      getJson('/stats/recordings?days=30'),
      getJson('/stats/storage?days=30'),
      getJson('/stats/webhooks?days=30'),
      getJson('/stats/cameras?days=30'),
    ]);
    const days = recordings.days.map((d) => seconds(d + 'T12:00:00Z'));
    chart('chart-recordings', days, recordings.cameras.map((c) => ({ label: label(c), values: c.recordings })));
    chart('chart-hours', days, recordings.cameras.map((c) => ({ label: label(c), values: c.hours })));

    chart('chart-storage', storage.samples.map((s) => seconds(s.at)), [
      { label: 'recordings (GB)', values: storage.samples.map((s) => gb(s.recordings_bytes)) },
      { label: 'disk used (GB)', values: storage.samples.map((s) => gb(s.disk_used_bytes)) },
    ]);
    document.getElementById('storage-forecast').textContent =
      (storage.days_until_full === null ? 'not filling up' : storage.days_until_full + ' days until full') +
      ' (' + storage.forecast + ')';
    document.getElementById('storage-forecast').dataset.daysUntilFull = String(storage.days_until_full);

    const webhookDays = webhooks.days.map((d) => seconds(d + 'T12:00:00Z'));
    chart('chart-webhooks', webhookDays, Object.entries(webhooks.outcomes).map(([o, values]) => ({ label: o, values })));
    chart('chart-latency', webhookDays, [
      { label: 'mean', values: webhooks.latency.mean_ms },
      { label: '95 % under', values: webhooks.latency.p95_upper_ms },
    ]);

    const online = steps(cameras.cameras.map((c) => c.online), (s) => (s.online ? 1 : 0));
    chart('chart-online', online.times,
      cameras.cameras.map((c, i) => ({ label: label(c), values: online.values[i] })), { stepped: true, range: [0, 1.1] });
    const battery = steps(cameras.cameras.map((c) => c.battery), (s) => s.level);
    chart('chart-battery', battery.times,
      cameras.cameras.map((c, i) => ({ label: label(c), values: battery.values[i] })), { stepped: true, range: [0, 100] });

    const totals = document.getElementById('stats-totals');
    totals.dataset.recordings = String(sum(recordings.cameras.map((c) => c.total_recordings)));
    totals.dataset.hours = String(sum(recordings.cameras.map((c) => c.total_hours)));
    totals.dataset.delivered = String(webhooks.totals.delivered);
    totals.textContent = 'Last 30 days: ' + totals.dataset.recordings + ' recordings, ' +
      Number(Number(totals.dataset.hours).toPrecision(2)) + ' hours recorded, ' + webhooks.totals.delivered +
      ' webhooks delivered, ' + webhooks.totals.failed + ' failed attempts.';
  }

  draw().then(
    () => { status.textContent = 'ready'; status.dataset.state = 'ready'; },
    (err) => { status.textContent = 'statistics unavailable: ' + err.message; status.dataset.state = 'failed'; },
  );
})();
`;
