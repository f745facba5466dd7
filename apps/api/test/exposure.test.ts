import { mkdtempSync, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { loadConfig } from '@eufy-relay/config';
import { parseRecordingId, recordingUrl } from '@eufy-relay/contracts';
import { createLogger, logCapture } from '@eufy-relay/logger';
import { RecordingStore } from '@eufy-relay/recordings';
import { start } from '../src';
import { errorHandler } from '@eufy-relay/playback';
import {
  TOKEN,
  basic,
  bearer,
  makeThumbnail,
  makeVideo,
  request,
  startApi,
  testEnv,
  type TestApi,
} from './helpers';

// Access and exposure of the api on the public internet (issue 17): what a stranger can learn.

const CAMERA = 'T8113P0223000002';
const DONE = `${CAMERA}_20250130_143022`;
const LIVE = `${CAMERA}_20250130_150000`;
const UNKNOWN = `${CAMERA}_20250130_160000`;
const SECRET = 'url-signing-secret-0123456789';

describe('NODE_ENV=production', () => {
  it('refuses to start without URL_SIGNING_SECRET, saying why', async () => {
    const env = {
      ...testEnv('prod-nosig', tmpdir()),
      HOST: '127.0.0.1',
      NODE_ENV: 'production',
      API_TOKEN: TOKEN,
    };
    await expect(start(loadConfig({ env }), { port: 0 })).rejects.toThrow(
      'URL_SIGNING_SECRET is not set: under NODE_ENV=production the api does not start without it ' +
        '(video and thumbnail URLs are always signed in production)',
    );
  });

  describe('with its secrets set', () => {
    let t: TestApi;
    const signing = { secret: SECRET, ttlSeconds: 3600 };
    beforeAll(async () => {
      t = await startApi('prod', { NODE_ENV: 'production', API_TOKEN: TOKEN, URL_SIGNING_SECRET: SECRET });
      // Indexed as the recorder leaves them: one finished, one still being recorded (no bytes yet).
      const store = new RecordingStore(t.redis, t.config);
      for (const id of [DONE, LIVE]) {
        await store.create({ device_sn: CAMERA, started_at: parseRecordingId(id)!.startedAt.getTime() });
      }
      await store.finish(DONE, {
        status: 'completed',
        video_status: 'completed',
        ended_at: parseRecordingId(DONE)!.startedAt.getTime() + 2000,
        duration_seconds: 2,
        stop_reason: 'motion_timeout',
      });
      makeVideo(path.join(t.config.RECORDINGS_DIR, `${DONE}.mp4`), 1);
      makeThumbnail(path.join(t.config.RECORDINGS_DIR, `${DONE}.jpg`));
    });
    afterAll(() => t.close());

    it('answers an unsigned or badly signed request alike whether the recording is finished, in progress or unknown', async () => {
      expect((await new RecordingStore(t.redis, t.config).get(LIVE))?.status).toBe('recording');
      const answers = async (query: string) => {
        const seen = new Set<string>();
        for (const id of [DONE, LIVE, UNKNOWN]) {
          for (const ext of ['mp4', 'jpg', 'm3u8']) {
            const r = await request(t.api.url, `/recordings/${id}.${ext}${query}`);
            const { date: _date, ...headers } = r.headers;
            seen.add(JSON.stringify({ status: r.status, headers, body: r.text }));
          }
        }
        return [...seen].map((a) => JSON.parse(a) as { status: number });
      };
      for (const query of ['', '?expires=9999999999', '?expires=9999999999&sig=AAAA', '?sig=x&expires=1']) {
        const distinct = await answers(query);
        expect({ query, distinct: distinct.length }).toEqual({ query, distinct: 1 });
        expect(distinct[0]!.status).toBe(403);
      }
      // The signed URL still works, and only for the recording it was made for.
      const signed = new URL(recordingUrl(t.config.PUBLIC_BASE_URL, DONE, { signing }));
      expect((await request(t.api.url, signed.pathname + signed.search)).status).toBe(200);
    });

    it('marks a finished recording behind a signed URL private, so a shared cache keeps it to its user', async () => {
      const signed = new URL(recordingUrl(t.config.PUBLIC_BASE_URL, DONE, { signing }));
      const video = await request(t.api.url, signed.pathname + signed.search);
      expect(video.status).toBe(200);
      expect(video.headers['cache-control']).toMatch(/^private, max-age=\d+, immutable$/);
      const thumb = await request(t.api.url, signed.pathname.replace('.mp4', '.jpg') + signed.search);
      expect(thumb.headers['cache-control']).toMatch(/^private, max-age=\d+, immutable$/);
    });
  });
});

describe('GET /health with API_TOKEN set', () => {
  let api: Awaited<ReturnType<typeof start>>;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'eufy-relay-api-health-'));
    api = await start(
      loadConfig({
        env: {
          ...testEnv('health-open', tmpdir()),
          // Unreachable Redis and a missing recordings directory: both problems carry details.
          REDIS_URL: 'redis://127.0.0.1:1',
          RECORDINGS_DIR: path.join(dir, 'gone'),
          HOST: '127.0.0.1',
          API_TOKEN: TOKEN,
        },
      }),
      { port: 0 },
    );
  });
  afterAll(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tells anyone the status and the problem names only', async () => {
    const r = await request(api.url, '/health');
    expect(r.status).toBe(503);
    expect(r.json()).toEqual({ status: 'unhealthy', problems: ['redis_unreachable', 'disk_unavailable'] });
    expect(r.text).not.toContain(dir);
    expect(r.text).not.toContain('127.0.0.1');
  });

  it('gives the details to a request carrying the token', async () => {
    for (const auth of [bearer(), basic()]) {
      const r = await request(api.url, '/health', { headers: auth });
      expect(r.status).toBe(503);
      const body = r.json();
      expect(body.problems).toEqual(['redis_unreachable', 'disk_unavailable']);
      expect(body.details).toEqual([expect.stringMatching(/^redis: /), expect.stringContaining(dir)]);
      expect(body.checks.disk.path).toBe(path.join(dir, 'gone'));
    }
    const wrong = await request(api.url, '/health', { headers: bearer('not-the-token-at-all') });
    expect(Object.keys(wrong.json()).sort()).toEqual(['problems', 'status']);
  });
});

describe('framing', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startApi('framing', { API_TOKEN: TOKEN });
    makeVideo(path.join(t.config.RECORDINGS_DIR, `${DONE}.mp4`), 1);
  });
  afterAll(() => t.close());

  it.each([
    ['/health', {}],
    ['/', {}],
    ['/', basic()],
    ['/docs/', {}],
    [`/recordings/${DONE}.mp4`, {}],
    ['/nope', {}],
    ['/admin/queues', {}],
    ['/admin/queues', basic()],
    ['/admin/queues/api/queues', bearer()],
  ] as [string, Record<string, string>][])('%s answers X-Frame-Options: DENY', async (p, headers) => {
    const r = await request(t.api.url, p, { headers });
    expect(r.headers['x-frame-options']).toBe('DENY');
  });
});

describe('error bodies', () => {
  it('never carry a library message: a file-system error with a client status answers its status text', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'eufy-relay-api-errors-'));
    const { lines, destination } = logCapture();
    const app = express();
    // What http-errors makes of a failed stat (send's shape): the fs message, naming the file, and a 404.
    app.get('/file', (_req, _res, next) => {
      stat(path.join(dir, 'gone.mp4')).catch((err: Error) => next(Object.assign(err, { status: 404 })));
    });
    app.use(errorHandler(createLogger({ level: 'info', destination })));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as net.AddressInfo;
      const r = await request(`http://127.0.0.1:${port}`, '/file');
      expect(r.status).toBe(404);
      expect(r.json()).toEqual({ error: { status: 404, code: 'client_error', message: 'not found' } });
      expect(r.text).not.toContain(dir);
      expect(lines).toEqual([]);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
