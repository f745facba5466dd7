import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import path from 'node:path';
import { parseRecordingId, recordingUrl } from '@eufy-relay/contracts';
import { Fmp4Indexer } from '@eufy-relay/media';
import { RecordingStore } from '@eufy-relay/recordings';
import { READ_CHUNK_BYTES } from '@eufy-relay/playback';
import { makeThumbnail, makeVideo, request, startApi, type TestApi } from './helpers';

const CAMERA = 'T8113P0223000002';
const DONE = `${CAMERA}_20250130_143022`;
const LIVE = `${CAMERA}_20250130_150000`;

let t: TestApi;
let video: Buffer;

const startOf = (id: string) => parseRecordingId(id)!.startedAt.getTime();

/** Indexes a recording the way the recorder does: created at motion start, finished when it stops. */
async function index(api: TestApi, id: string, end?: 'completed' | 'failed' | 'missing') {
  const store = new RecordingStore(api.redis, api.config);
  await store.create({ device_sn: CAMERA, started_at: startOf(id) });
  if (!end) return;
  await store.finish(id, {
    status: end === 'failed' ? 'failed' : 'completed',
    video_status: end === 'failed' ? 'failed' : 'completed',
    ended_at: startOf(id) + 2000,
    duration_seconds: 2,
    stop_reason: 'motion_timeout',
  });
  if (end === 'missing') await store.markMissing(id);
}

beforeAll(async () => {
  t = await startApi('media');
  await index(t, DONE, 'completed');
  makeVideo(path.join(t.config.RECORDINGS_DIR, `${DONE}.mp4`));
  makeThumbnail(path.join(t.config.RECORDINGS_DIR, `${DONE}.jpg`));
  video = readFileSync(path.join(t.config.RECORDINGS_DIR, `${DONE}.mp4`));
});
afterAll(() => t.close());

const get = (p: string, headers: Record<string, string> = {}, method = 'GET') =>
  request(t.api.url, p, { headers, method });

describe('serving a video', () => {
  it('answers the whole file with type, length, validators and Accept-Ranges', async () => {
    const r = await get(`/recordings/${DONE}.mp4`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('video/mp4');
    expect(Number(r.headers['content-length'])).toBe(video.length);
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers.etag).toMatch(/^W\/"/);
    expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(r.headers['x-recording-status']).toBe('completed');
    expect(new Date(String(r.headers['last-modified'])).getTime()).toBeGreaterThan(0);
    expect(r.body.equals(video)).toBe(true);
  });

  it('HEAD gives the headers without a body', async () => {
    const r = await get(`/recordings/${DONE}.mp4`, {}, 'HEAD');
    expect(r.status).toBe(200);
    expect(Number(r.headers['content-length'])).toBe(video.length);
    expect(r.body.length).toBe(0);
  });

  it('serves ranges: a prefix, several seeks as a player does, open-ended and suffix ranges', async () => {
    const size = video.length;
    const cases: [string, number, number][] = [
      ['bytes=0-99', 0, 99],
      [
        `bytes=${Math.floor(size / 2)}-${Math.floor(size / 2) + 4095}`,
        Math.floor(size / 2),
        Math.floor(size / 2) + 4095,
      ],
      ['bytes=1000-1999', 1000, 1999],
      [`bytes=${size - 10}-`, size - 10, size - 1],
      ['bytes=-500', size - 500, size - 1],
      [`bytes=100-${size * 10}`, 100, size - 1],
      [`bytes=${size - 1}-${size - 1}`, size - 1, size - 1],
    ];
    for (const [range, first, last] of cases) {
      const r = await get(`/recordings/${DONE}.mp4`, { Range: range });
      expect({ range, status: r.status }).toEqual({ range, status: 206 });
      expect(r.headers['content-range']).toBe(`bytes ${first}-${last}/${size}`);
      expect(Number(r.headers['content-length'])).toBe(last - first + 1);
      expect(r.body.equals(video.subarray(first, last + 1))).toBe(true);
    }
  });

  it('answers 416 with the size for a range past the end, and the whole file for unusable ranges', async () => {
    const size = video.length;
    for (const range of [`bytes=${size}-`, `bytes=${size + 100}-${size + 200}`]) {
      const r = await get(`/recordings/${DONE}.mp4`, { Range: range });
      expect(r.status).toBe(416);
      expect(r.headers['content-range']).toBe(`bytes */${size}`);
      expect(r.json().error).toMatchObject({ status: 416, code: 'range_not_satisfiable' });
    }
    // Malformed and multi-part ranges may be ignored (RFC 9110 §14.2): the whole file, never an error.
    for (const range of ['bytes=abc', 'items=0-10', 'bytes=0-9,20-29']) {
      const r = await get(`/recordings/${DONE}.mp4`, { Range: range });
      expect({ range, status: r.status }).toEqual({ range, status: 200 });
      expect(r.body.equals(video)).toBe(true);
    }
  });

  it('revalidates with ETag and Last-Modified (304), and If-Range with a stale tag gives the whole file', async () => {
    const first = await get(`/recordings/${DONE}.mp4`, {}, 'HEAD');
    const etag = String(first.headers.etag);
    expect((await get(`/recordings/${DONE}.mp4`, { 'If-None-Match': etag })).status).toBe(304);
    const since = String(first.headers['last-modified']);
    expect((await get(`/recordings/${DONE}.mp4`, { 'If-Modified-Since': since })).status).toBe(304);
    const fresh = await get(`/recordings/${DONE}.mp4`, { Range: 'bytes=0-9', 'If-Range': etag });
    expect(fresh.status).toBe(206);
    const stale = await get(`/recordings/${DONE}.mp4`, { Range: 'bytes=0-9', 'If-Range': 'W/"stale"' });
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(video.length);
  });

  it('serves a file of many read chunks whole and in ranges across chunk boundaries', async () => {
    const big = `${CAMERA}_20250130_143500`;
    const bytes = randomBytes(3 * READ_CHUNK_BYTES + 12_345);
    await index(t, big, 'completed');
    writeFileSync(path.join(t.config.RECORDINGS_DIR, `${big}.mp4`), bytes);
    const whole = await get(`/recordings/${big}.mp4`);
    expect(whole.status).toBe(200);
    expect(whole.body.equals(bytes)).toBe(true);
    const [first, last] = [READ_CHUNK_BYTES - 100, 2 * READ_CHUNK_BYTES + 100];
    const r = await get(`/recordings/${big}.mp4`, { Range: `bytes=${first}-${last}` });
    expect(r.status).toBe(206);
    expect(r.body.equals(bytes.subarray(first, last + 1))).toBe(true);
  });

  it('serves the JPEG thumbnail', async () => {
    const r = await get(`/recordings/${DONE}.jpg`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('image/jpeg');
    expect(r.body.subarray(0, 2).toString('hex')).toBe('ffd8');
  });
});

describe('a recording in progress', () => {
  const livePath = () => path.join(t.config.RECORDINGS_DIR, `${LIVE}.mp4`);

  it('answers 202 with Retry-After while its file does not exist or is empty, never 404', async () => {
    await index(t, LIVE);
    const before = await get(`/recordings/${LIVE}.mp4`);
    expect(before.status).toBe(202);
    expect(before.headers['retry-after']).toBe('2');
    expect(before.json()).toEqual({ id: LIVE, status: 'recording', retry_after_seconds: 2 });
    expect((await get(`/recordings/${LIVE}.jpg`)).status).toBe(202);

    writeFileSync(livePath(), '');
    expect((await get(`/recordings/${LIVE}.mp4`)).status).toBe(202);
  });

  it('serves a Range of a growing file up to its size at request time, with no-cache', async () => {
    // The header and the first fragment: playable. (A plain GET follows it live: see live.test.ts.)
    const { fragments } = await new Fmp4Indexer(path.join(t.config.RECORDINGS_DIR, `${DONE}.mp4`)).refresh();
    const firstEnd = fragments[0]!.offset + fragments[0]!.length;
    writeFileSync(livePath(), video.subarray(0, firstEnd));
    const url = new URL(t.api.url);
    // Read the headers, then let the file grow before reading the body.
    const { res, body } = await new Promise<{ res: http.IncomingMessage; body: Promise<Buffer> }>(
      (resolve, reject) => {
        const req = http.get(
          {
            host: url.hostname,
            port: url.port,
            path: `/recordings/${LIVE}.mp4`,
            headers: { Range: 'bytes=100-' },
            agent: false,
          },
          (res) => {
            res.pause();
            resolve({
              res,
              body: new Promise((done) => {
                const chunks: Buffer[] = [];
                res.on('data', (c: Buffer) => chunks.push(c));
                res.on('end', () => done(Buffer.concat(chunks)));
              }),
            });
          },
        );
        req.on('error', reject);
      },
    );
    expect(res.statusCode).toBe(206);
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['x-recording-status']).toBe('recording');
    expect(res.headers['content-range']).toBe(`bytes 100-${firstEnd - 1}/${firstEnd}`);
    appendFileSync(livePath(), video.subarray(firstEnd));
    expect(statSync(livePath()).size).toBe(video.length);
    res.resume();
    expect((await body).equals(video.subarray(100, firstEnd))).toBe(true);

    // The next request sees the file as it is now, and a player can seek into the new part.
    const again = await get(`/recordings/${LIVE}.mp4`, { Range: `bytes=${firstEnd}-` });
    expect(again.status).toBe(206);
    expect(again.headers['content-range']).toBe(`bytes ${firstEnd}-${video.length - 1}/${video.length}`);
    expect(again.body.equals(video.subarray(firstEnd))).toBe(true);
  });

  it('once finished, the same URL becomes cacheable and immutable', async () => {
    await new RecordingStore(t.redis, t.config).finish(LIVE, {
      status: 'completed',
      video_status: 'completed',
      ended_at: Date.now(),
      duration_seconds: 2,
      stop_reason: 'motion_timeout',
    });
    const r = await get(`/recordings/${LIVE}.mp4`);
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });
});

describe('recordings without their file', () => {
  it('404 for an id neither the index nor the disk knows', async () => {
    const r = await get(`/recordings/${CAMERA}_20250130_000001.mp4`);
    expect(r.status).toBe(404);
    expect(r.json().error).toMatchObject({ status: 404, code: 'recording_not_found' });
  });

  it('404 naming the reason for a finished recording whose file is gone or was never made', async () => {
    const gone = `${CAMERA}_20250130_000002`;
    await index(t, gone, 'missing');
    expect((await get(`/recordings/${gone}.mp4`)).json().error.code).toBe('recording_missing');
    const failed = `${CAMERA}_20250130_000003`;
    await index(t, failed, 'failed');
    const r = await get(`/recordings/${failed}.jpg`);
    expect(r.status).toBe(404);
    expect(r.json().error).toMatchObject({
      code: 'file_not_found',
      message: `recording ${failed} (failed) has no thumbnail`,
    });
  });

  it('sees at once that the file of a recording it just served is gone, and that it is back', async () => {
    const id = `${CAMERA}_20250130_000005`;
    const file = path.join(t.config.RECORDINGS_DIR, `${id}.mp4`);
    await index(t, id, 'completed');
    writeFileSync(file, video);
    expect((await get(`/recordings/${id}.mp4`, { Range: 'bytes=0-9' })).status).toBe(206);
    // What the janitor does when it finds the file gone, and again when a remounted disk brings it back.
    const store = new RecordingStore(t.redis, t.config);
    rmSync(file);
    await store.markMissing(id);
    expect((await get(`/recordings/${id}.mp4`)).json().error.code).toBe('recording_missing');
    writeFileSync(file, video);
    await store.markFound(id, video.length);
    const back = await get(`/recordings/${id}.mp4`);
    expect(back.status).toBe(200);
    expect(back.headers['x-recording-status']).toBe('completed');
    // Deleted from the index and the disk (retention): unknown again.
    await store.delete(id);
    rmSync(file);
    expect((await get(`/recordings/${id}.mp4`)).json().error.code).toBe('recording_not_found');
  });

  it('serves a file the index does not know (yet) without letting caches keep it', async () => {
    const orphan = `${CAMERA}_20250130_000004`;
    makeThumbnail(path.join(t.config.RECORDINGS_DIR, `${orphan}.jpg`));
    const r = await get(`/recordings/${orphan}.jpg`);
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.headers['x-recording-status']).toBe('unknown');
  });
});

describe('names that are not recordings never reach the file system', () => {
  const SECRET = 'T9_20250101_000000';
  beforeAll(() => {
    // A file with a valid recording name just outside RECORDINGS_DIR: what a traversal would aim at.
    writeFileSync(path.join(t.dir, `${SECRET}.mp4`), 'outside the recordings directory');
  });

  it.each([
    [`/recordings/..%2f${SECRET}.mp4`, 400],
    [`/recordings/..%2F${SECRET}.mp4`, 400],
    [`/recordings/%2e%2e%2f${SECRET}.mp4`, 400],
    [`/recordings/..%5c${SECRET}.mp4`, 400],
    ['/recordings/..%2f..%2f..%2fetc%2fpasswd.mp4', 400],
    [`/recordings/%2F${SECRET.replace('_', '%2F')}.mp4`, 400],
    ['/recordings/%2Fetc%2Fpasswd.mp4', 400],
    [`/recordings/${DONE}%00.mp4`, 400],
    [`/recordings/${DONE}.mp4%00`, 400],
    [`/recordings/${DONE}%00.jpg.mp4`, 400],
    ['/recordings/%zz.mp4', 400],
    [`/recordings/../${SECRET}.mp4`, 404],
    [`/recordings/%2e%2e/${SECRET}.mp4`, 404],
    ['/recordings//etc/passwd', 404],
    ['/recordings/etc/passwd.mp4', 404],
    [`/recordings/${DONE}.MP4`, 400],
    [`/recordings/${DONE}.mp4.txt`, 400],
    [`/recordings/${DONE}.txt`, 400],
    [`/recordings/..%2f${SECRET}`, 400],
    ['/recordings/.mp4', 400],
    [`/recordings/${CAMERA}_20251399_000000.mp4`, 400],
    [`/recordings/${CAMERA.toLowerCase()}-20250130_143022.mp4`, 400],
    [`/recordings/${'A'.repeat(41)}_20250130_143022.mp4`, 400],
  ])('%s → %d', async (p, status) => {
    const r = await get(p);
    expect(r.status).toBe(status);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.json().error.status).toBe(status);
    expect(r.text).not.toContain('outside the recordings directory');
  });
});

describe('a RECORDINGS_DIR below a dot-directory', () => {
  it('serves its files all the same', async () => {
    const parent = mkdtempSync(path.join(tmpdir(), 'eufy-relay-api-hidden-'));
    const dir = path.join(parent, '.local', 'recordings');
    const hidden = await startApi('media-hidden', { RECORDINGS_DIR: dir });
    makeThumbnail(path.join(dir, `${DONE}.jpg`));
    const r = await request(hidden.api.url, `/recordings/${DONE}.jpg`);
    await hidden.close();
    rmSync(parent, { recursive: true, force: true });
    expect(r.status).toBe(200);
  });
});

describe('signed URLs', () => {
  let s: TestApi;
  const secret = 'url-signing-secret-0123456789';
  const signing = { secret, ttlSeconds: 3600 };
  beforeAll(async () => {
    s = await startApi('media-signed', { URL_SIGNING_SECRET: secret });
    await index(s, DONE, 'completed');
    makeVideo(path.join(s.config.RECORDINGS_DIR, `${DONE}.mp4`), 1);
    makeThumbnail(path.join(s.config.RECORDINGS_DIR, `${DONE}.jpg`));
  });
  afterAll(() => s.close());
  const pathOf = (url: string) => {
    const u = new URL(url);
    return u.pathname + u.search;
  };

  it('serves a valid signature, and the same signature covers the thumbnail', async () => {
    const url = recordingUrl(s.config.PUBLIC_BASE_URL, DONE, { signing });
    const r = await request(s.api.url, pathOf(url));
    expect(r.status).toBe(200);
    // A cache may keep a finished recording, but never past the link's expiry.
    const maxAge = Number(/max-age=(\d+)/.exec(String(r.headers['cache-control']))![1]);
    expect(maxAge).toBeGreaterThan(3500);
    expect(maxAge).toBeLessThanOrEqual(3600);
    const thumb = pathOf(url).replace('.mp4?', '.jpg?');
    expect((await request(s.api.url, thumb)).status).toBe(200);
    const ranged = await request(s.api.url, pathOf(url), { headers: { Range: 'bytes=0-9' } });
    expect(ranged.status).toBe(206);
  });

  it('refuses a missing, tampered, foreign or expired signature with 403', async () => {
    const url = new URL(recordingUrl(s.config.PUBLIC_BASE_URL, DONE, { signing }));
    const sig = url.searchParams.get('sig')!;
    const expires = url.searchParams.get('expires')!;
    const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
    const other = new URL(recordingUrl(s.config.PUBLIC_BASE_URL, `${CAMERA}_20250130_143023`, { signing }));
    const expired = new URL(
      recordingUrl(s.config.PUBLIC_BASE_URL, DONE, { signing, now: Date.now() - 3601_000 - 5_000 }),
    );
    const cases: [string, string][] = [
      [`/recordings/${DONE}.mp4`, 'signature_missing'],
      [`/recordings/${DONE}.mp4?expires=${expires}`, 'signature_missing'],
      [`/recordings/${DONE}.mp4?expires=${expires}&sig=${flipped}`, 'signature_invalid'],
      [`/recordings/${DONE}.mp4?expires=${Number(expires) + 60}&sig=${sig}`, 'signature_invalid'],
      [
        `/recordings/${DONE}.mp4?expires=${expires}&sig=${other.searchParams.get('sig')}`,
        'signature_invalid',
      ],
      [`/recordings/${DONE}.mp4?expires=abc&sig=${sig}`, 'signature_invalid'],
      [`/recordings/${DONE}.mp4${expired.search}`, 'signature_expired'],
      [`/recordings/${DONE}.jpg${expired.search}`, 'signature_expired'],
    ];
    for (const [p, code] of cases) {
      const r = await request(s.api.url, p);
      expect({ p, status: r.status, code: r.json().error.code }).toEqual({ p, status: 403, code });
    }
  });

  it('checks the signature before anything else: a bad one is 403 even for an unknown recording', async () => {
    const r = await request(s.api.url, `/recordings/${CAMERA}_20200101_000000.mp4?expires=1&sig=x`);
    expect(r.status).toBe(403);
  });
});
