import { loadConfig } from '@eufy-relay/config';
import { addJob, cleanupJob, openQueue, QUEUES } from '@eufy-relay/contracts';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { start } from '../src';
import { MAX_BODY_BYTES } from '../src/app';
import {
  TOKEN,
  basic,
  bearer,
  holdDownload,
  makeVideo,
  readRest,
  request,
  startApi,
  type TestApi,
} from './helpers';

const DONE = 'T8113P0223000002_20250130_143022';

describe('with API_TOKEN set', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startApi('access', { API_TOKEN: TOKEN });
    makeVideo(path.join(t.config.RECORDINGS_DIR, `${DONE}.mp4`), 1);
  });
  afterAll(() => t.close());
  const get = (p: string, headers: Record<string, string> = {}) => request(t.api.url, p, { headers });

  it('leaves /health, recording files and the docs open', async () => {
    expect((await get('/health')).status).not.toBe(401);
    expect((await get('/health/live')).status).toBe(200);
    expect((await get(`/recordings/${DONE}.mp4`)).status).toBe(200);
    expect((await get('/docs/')).status).toBe(200);
    expect((await get('/openapi.json')).status).toBe(200);
  });

  it.each(['/devices', '/metrics', '/'])('%s needs the token: none or a wrong one is 401', async (p) => {
    const none = await get(p);
    expect(none.status).toBe(401);
    expect(none.json().error).toMatchObject({ status: 401, code: 'unauthorized' });
    const wrong = await get(p, bearer('not-the-token-at-all'));
    expect(wrong.status).toBe(401);
    expect(wrong.json().error.code).toBe('invalid_token');
    expect((await get(p, basic('wrong-password'))).status).toBe(401);
    expect((await get(p, { Authorization: 'Digest abc' })).status).toBe(401);
    expect((await get(p, { Authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
    expect((await get(p, bearer())).status).toBe(200);
    expect((await get(p, basic())).status).toBe(200);
  });

  it('challenges browsers with Basic on pages and API clients with Bearer', async () => {
    expect((await get('/')).headers['www-authenticate']).toMatch(/^Basic realm="eufy-relay"/);
    expect((await get('/admin/queues')).headers['www-authenticate']).toMatch(/^Basic /);
    expect((await get('/devices')).headers['www-authenticate']).toMatch(/^Bearer realm="eufy-relay"/);
  });

  it('puts Bull Board behind the token and lists every queue', async () => {
    expect((await get('/admin/queues')).status).toBe(401);
    const page = await get('/admin/queues', basic());
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const queues = await get('/admin/queues/api/queues', bearer());
    expect(queues.status).toBe(200);
    const names = (queues.json().queues as { name: string }[]).map((q) => q.name).sort();
    expect(names).toEqual(Object.values(QUEUES).sort());
    expect((await get('/admin/queues/api/queues')).status).toBe(401);
  });

  it('refuses Bull Board actions sent cross-site with cached Basic credentials (CSRF)', async () => {
    const queue = openQueue(cleanupJob, { connection: t.redis, prefix: t.config.REDIS_PREFIX });
    await addJob(queue, cleanupJob, { trigger: 'manual' });
    const pause = (headers: Record<string, string>) =>
      request(t.api.url, `/admin/queues/api/queues/${QUEUES.janitor}/pause`, { method: 'PUT', headers });
    const crossSite = await pause({
      ...basic(),
      Origin: 'https://evil.example',
      'Sec-Fetch-Site': 'cross-site',
    });
    expect(crossSite.status).toBe(403);
    expect(crossSite.json().error.code).toBe('cross_site_request');
    expect((await pause({ ...basic(), Origin: 'https://evil.example' })).status).toBe(403);
    expect(await queue.isPaused()).toBe(false);
    // The board's own page (same origin) and a Bearer client may act.
    const host = new URL(t.api.url).host;
    expect(
      (await pause({ ...basic(), Origin: `http://${host}`, 'Sec-Fetch-Site': 'same-origin' })).status,
    ).toBe(200);
    expect(await queue.isPaused()).toBe(true);
    expect(
      (
        await request(t.api.url, `/admin/queues/api/queues/${QUEUES.janitor}/resume`, {
          method: 'PUT',
          headers: bearer(),
        })
      ).status,
    ).toBe(200);
    expect(await queue.isPaused()).toBe(false);
    await queue.obliterate({ force: true });
    await queue.close();
  });
});

describe('without API_TOKEN (development)', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startApi('access-open');
  });
  afterAll(() => t.close());

  it('serves read routes openly and refuses admin routes', async () => {
    expect((await request(t.api.url, '/devices')).status).toBe(200);
    expect((await request(t.api.url, '/')).status).toBe(200);
    const board = await request(t.api.url, '/admin/queues');
    expect(board.status).toBe(403);
    expect(board.json().error.code).toBe('admin_disabled');
    expect((await request(t.api.url, '/admin/queues/api/queues')).status).toBe(403);
  });

  it('answers every error as JSON of one shape', async () => {
    const missing = await request(t.api.url, '/nope');
    expect(missing.status).toBe(404);
    expect(missing.json()).toEqual({
      error: { status: 404, code: 'not_found', message: 'no route for GET /nope' },
    });

    const big = await request(t.api.url, '/devices', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(MAX_BODY_BYTES) }),
    });
    expect(big.status).toBe(413);
    expect(big.json().error.code).toBe('payload_too_large');

    // Without a Content-Length (chunked) the JSON parser enforces the same limit while reading.
    const chunked = await request(t.api.url, '/devices', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
      body: JSON.stringify({ pad: 'x'.repeat(MAX_BODY_BYTES) }),
    });
    expect(chunked.status).toBe(413);

    const bad = await request(t.api.url, '/devices', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"not json',
    });
    expect(bad.status).toBe(400);
    expect(bad.json().error.code).toBe('invalid_json');
  });
});

describe('start', () => {
  it('refuses to start under NODE_ENV=production without API_TOKEN, and starts with it', async () => {
    const env = {
      REDIS_URL: process.env.REDIS_URL ?? '',
      REDIS_PREFIX: `eufy-relay-test-api-prod-${process.pid}`,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      NODE_ENV: 'production',
      URL_SIGNING_SECRET: 'url-signing-secret-0123456789',
    };
    await expect(start(loadConfig({ env }), { port: 0 })).rejects.toThrow(
      /^API_TOKEN is not set: under NODE_ENV=production the api does not start without it \(it guards/,
    );
    const api = await start(loadConfig({ env: { ...env, API_TOKEN: TOKEN } }), { port: 0 });
    expect((await request(api.url, '/devices')).status).toBe(401);
    await api.stop();
  });

  it('fails to start when its port is taken, and releases everything it opened', async () => {
    const t = await startApi('access-port');
    const port = Number(new URL(t.api.url).port);
    await expect(start(t.config, { port })).rejects.toThrow(/EADDRINUSE/);
    await t.close();
  });

  it('stops promptly even while a client holds a video download open', async () => {
    const t = await startApi('access-stop');
    // Larger than the socket buffers, so the download is really in flight when the api stops.
    const size = 32 * 1024 * 1024;
    writeFileSync(path.join(t.config.RECORDINGS_DIR, `${DONE}.mp4`), Buffer.alloc(size));
    const held = await holdDownload(t.api.url, `/recordings/${DONE}.mp4`);
    await t.close();
    const rest = await readRest(held);
    expect(rest.complete).toBe(false);
    expect(rest.received).toBeLessThan(size);
    await expect(request(t.api.url, '/health')).rejects.toThrow(/ECONNREFUSED/);
  });
});
