import { randomBytes } from 'node:crypto';
import { BULL_BOARD_PATH } from './bullBoard';
import type { ApiContext } from './context';
import { DASHBOARD_HTML, DASHBOARD_SCRIPT, DASHBOARD_STYLE, UPLOT_SCRIPT, UPLOT_STYLE } from './dashboard';
import { toDeviceView, type DeviceView } from './devices';
import { toRecordingView, type RecordingView } from './recordings';
import type { ApiRoutes } from './routes';

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

function duration(seconds: number | null): string {
  if (seconds === null) return '';
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m > 0 ? `${m} min ${s} s` : `${s} s`;
}

/** 2026-03-01T12:00:00.000Z → 2026-03-01 12:00:00 UTC */
const humanTime = (iso: string) => iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');

function cameraCard(d: DeviceView): string {
  const online = d.online === null ? 'unknown' : d.online ? 'online' : 'offline';
  const battery =
    d.battery === null
      ? ''
      : `<span class="battery">battery ${d.battery}%${d.charging ? ' (charging)' : ''}</span>`;
  const recording = d.recording_url
    ? `<a class="badge recording" href="${escapeHtml(d.recording_url)}" data-video="${escapeHtml(d.recording_url)}" data-live="true">recording</a>`
    : '';
  const snoozed =
    d.snoozed && d.snoozed_until
      ? `<span class="badge snoozed">snoozed until <time datetime="${d.snoozed_until}">${escapeHtml(humanTime(d.snoozed_until))}</time></span>`
      : '';
  return `<li class="camera" data-serial="${escapeHtml(d.serial)}">
  <strong>${escapeHtml(d.name ?? d.serial)}</strong> <small>${escapeHtml(d.serial)}</small>
  <span class="badge ${online}">${online}</span> ${battery} ${recording} ${snoozed}
</li>`;
}

function recordingTile(r: RecordingView, cameraName: string): string {
  return `<li class="tile" data-id="${escapeHtml(r.id)}">
  <a href="${escapeHtml(r.url)}" data-video="${escapeHtml(r.url)}"${r.status === 'recording' ? ' data-live="true"' : ''}>
    <img src="${escapeHtml(r.thumbnail_url)}" alt="${escapeHtml(`${cameraName}, ${r.started_at}`)}" loading="lazy" width="320" height="180">
    <span class="caption">${escapeHtml(cameraName)} · <time datetime="${r.started_at}">${escapeHtml(humanTime(r.started_at))}</time>
    ${r.duration_seconds !== null ? `· ${duration(r.duration_seconds)}` : ''} · ${escapeHtml(r.status)}</span>
  </a>
</li>`;
}

const STYLE = `
body{font:15px/1.4 system-ui,sans-serif;margin:0;background:#111;color:#eee}
header,main{max-width:1100px;margin:auto;padding:0 16px}
header{display:flex;gap:16px;align-items:baseline}
a{color:#8cf}
ul{list-style:none;padding:0}
.camera{padding:6px 0;border-bottom:1px solid #333}
.badge{display:inline-block;padding:0 6px;border-radius:4px;font-size:13px;background:#333}
.online{background:#164}.offline{background:#822}.recording{background:#c22}.snoozed{background:#652}
.recordings{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:12px}
.tile img{width:100%;height:auto;aspect-ratio:16/9;object-fit:cover;background:#222;display:block}
.tile a{text-decoration:none;color:inherit}
.caption{font-size:13px}
#player{width:100%;max-height:70vh;background:#000;display:none}
#player.active{display:block}
#live{display:inline-block;margin:6px 0;padding:0 6px;border-radius:4px;background:#c22;font-weight:600}
#live[hidden]{display:none}
`;

/**
 * The script only swaps the player's source on a click; the links still work without it. A recording
 * in progress plays live from its .mp4 URL (the api streams it until it ends); browsers without
 * MediaSource (iOS) or with native HLS but no MediaSource-based progressive streaming (Safari) get
 * the .m3u8 playlist of the same file, which carries the same signature.
 */
const SCRIPT = `
const player = document.getElementById('player');
const live = document.getElementById('live');
const nativeHls = player.canPlayType('application/vnd.apple.mpegurl') !== '';
const appleBrowser = /^((?!chrome|chromium|android|crios|fxios).)*safari/i.test(navigator.userAgent);
const useHls = nativeHls && (!('MediaSource' in window) || appleBrowser);
player.addEventListener('ended', () => { live.hidden = true; });
// A recording clicked before its first second of video answers 202: ask again, as Retry-After says.
let retries = 0;
player.addEventListener('error', () => {
  if (live.hidden || retries++ >= 30) return;
  setTimeout(() => { player.src = player.currentSrc || player.src; player.play().catch(() => {}); }, 1000);
});
document.querySelectorAll('a[data-video]').forEach((a) => {
  a.addEventListener('click', (event) => {
    event.preventDefault();
    retries = 0;
    player.src = useHls ? a.dataset.video.replace(/\\.mp4(\\?|$)/, '.m3u8$1') : a.dataset.video;
    live.hidden = a.dataset.live !== 'true';
    player.classList.add('active');
    player.scrollIntoView({ block: 'nearest' });
    player.play().catch(() => {});
  });
});
`;

export interface PageModel {
  devices: DeviceView[];
  recordings: RecordingView[];
  links: { docs: string; queues: string };
}

/** The page and the Content-Security-Policy that lets only its own inline script run. */
export function renderPage(model: PageModel): { html: string; csp: string } {
  const nonce = randomBytes(16).toString('base64');
  const names = new Map(model.devices.map((d) => [d.serial, d.name ?? d.serial]));
  const cameras = model.devices.filter((d) => d.is_camera);
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>eufy-relay</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLE}${DASHBOARD_STYLE}</style>
<link rel="stylesheet" href="${UPLOT_STYLE}" nonce="${nonce}">
</head>
<body>
<header><h1>eufy-relay</h1><a href="${model.links.docs}">API docs</a><a href="${model.links.queues}">queues</a></header>
<main>
<span id="live" hidden>● LIVE</span>
<video id="player" controls playsinline preload="metadata"></video>
<h2>Cameras</h2>
${cameras.length ? `<ul class="cameras">${cameras.map(cameraCard).join('\n')}</ul>` : '<p>No cameras known yet: ingest fills this list once it is connected to eufy-security-ws.</p>'}
<h2>Latest recordings</h2>
${model.recordings.length ? `<ul class="recordings">${model.recordings.map((r) => recordingTile(r, names.get(r.device_sn) ?? r.device_sn)).join('\n')}</ul>` : '<p>No recordings yet.</p>'}
${DASHBOARD_HTML}
</main>
<script nonce="${nonce}">${SCRIPT}</script>
<script src="${UPLOT_SCRIPT}" nonce="${nonce}"></script>
<script nonce="${nonce}">${DASHBOARD_SCRIPT}</script>
</body>
</html>`;
  const csp = [
    "default-src 'self'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self' data:",
    "media-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  return { html, csp };
}

/** How many recordings the page shows. */
export const PAGE_RECORDINGS = 24;

export function pageRoutes(routes: ApiRoutes, ctx: ApiContext): void {
  routes.raw(
    {
      method: 'get',
      path: '/',
      tag: 'page',
      access: 'token',
      browserPage: true,
      summary: 'A page with the cameras and the latest recordings; a click plays one',
      responses: { 200: { description: 'HTML', contentType: 'text/html' } },
    },
    async (_input, _req, res) => {
      const now = Date.now();
      // Relative links: the page works whatever host name it was reached by.
      const devices = (await ctx.devices.listDevices()).map((d) => toDeviceView(ctx, d, now, ''));
      const latest = await ctx.store.list({ limit: PAGE_RECORDINGS });
      const recordings = await Promise.all(latest.items.map((r) => toRecordingView(ctx, r, now, '')));
      const { html, csp } = renderPage({
        devices,
        recordings,
        links: { docs: '/docs/', queues: BULL_BOARD_PATH },
      });
      res.setHeader('Content-Security-Policy', csp);
      res.setHeader('Cache-Control', 'no-store');
      res.type('html').send(html);
    },
  );
}
