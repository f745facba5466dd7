import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { recordingUrl } from '@eufy-relay/contracts';
import { createLogger } from '@eufy-relay/logger';
import { RecordingFiles, RecordingStore } from '@eufy-relay/recordings';
import { indexFinishedRecording } from '@eufy-relay/recordings/testing';
import { StorageHealth, uploadRecording } from '@eufy-relay/storage';
import { RecordingObjects, createS3Client } from '@eufy-relay/storage/s3';
import { s3TestSettings, startS3TestServer, type S3TestServer } from '@eufy-relay/storage/testing';
import { TOKEN, bearer, makeThumbnail, makeVideo, request, startApi, type TestApi } from './helpers';

const CAMERA = 'T8113P0223000002';
const STORED = `${CAMERA}_20250130_143022`;
const GONE = `${CAMERA}_20250130_150000`;
const BUCKET = 'api-test';
const SECRET = 'url-signing-secret-0123456789';

const s3Env = (endpoint: string, extra: Record<string, string> = {}) => ({
  ...s3TestSettings({ endpoint, bucket: BUCKET }),
  ...extra,
});

describe('finished recordings served from an S3 bucket (real fauxqs)', () => {
  let s3: S3TestServer;
  let proxy: TestApi;
  let redirect: TestApi;
  let video: Buffer;
  let thumbnail: Buffer;
  let work: string;

  async function indexFinished(api: TestApi, id: string): Promise<RecordingStore> {
    const store = new RecordingStore(api.redis, api.config);
    await indexFinishedRecording(store, id, { fields: { bytes: video.length } });
    return store;
  }

  /** The recorder's upload job, from a spool on "another host": the api's RECORDINGS_DIR never holds these files. */
  async function recordAndUpload(api: TestApi): Promise<void> {
    const store = await indexFinished(api, STORED);
    const spool = mkdtempSync(path.join(tmpdir(), 'eufy-relay-api-spool-'));
    copyFileSync(path.join(work, `${STORED}.mp4`), path.join(spool, `${STORED}.mp4`));
    copyFileSync(path.join(work, `${STORED}.jpg`), path.join(spool, `${STORED}.jpg`));
    const client = createS3Client(api.config);
    try {
      const summary = await uploadRecording(
        {
          config: api.config,
          redis: api.redis,
          store,
          files: new RecordingFiles(spool),
          objects: new RecordingObjects(client, api.config),
          health: new StorageHealth(api.redis, api.config),
          logger: createLogger({ level: 'silent' }),
        },
        STORED,
      );
      expect(summary.outcome).toBe('stored');
    } finally {
      client.destroy();
      rmSync(spool, { recursive: true, force: true });
    }
    // Stored in the index, its object never uploaded (or deleted by hand since).
    await (await indexFinished(api, GONE)).update(GONE, { stored_at: Date.now() });
  }

  beforeAll(async () => {
    s3 = await startS3TestServer({ buckets: [BUCKET] });
    work = mkdtempSync(path.join(tmpdir(), 'eufy-relay-api-storage-'));
    makeVideo(path.join(work, `${STORED}.mp4`));
    makeThumbnail(path.join(work, `${STORED}.jpg`));
    video = readFileSync(path.join(work, `${STORED}.mp4`));
    thumbnail = readFileSync(path.join(work, `${STORED}.jpg`));
    proxy = await startApi('storage-proxy', s3Env(s3.endpoint, { API_TOKEN: TOKEN }));
    redirect = await startApi(
      'storage-redirect',
      s3Env(s3.endpoint, { S3_PLAYBACK: 'redirect', URL_SIGNING_SECRET: SECRET, URL_TTL_SECONDS: '600' }),
    );
    for (const api of [proxy, redirect]) await recordAndUpload(api);
  });
  afterAll(async () => {
    await proxy?.close();
    await redirect?.close();
    await s3?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('proxies the whole object with the caching of a finished recording', async () => {
    const reply = await request(proxy.api.url, `/recordings/${STORED}.mp4`);
    expect(reply.status).toBe(200);
    expect(reply.body.equals(video)).toBe(true);
    expect(reply.headers['content-type']).toBe('video/mp4');
    expect(reply.headers['accept-ranges']).toBe('bytes');
    expect(reply.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(reply.headers['x-recording-status']).toBe('completed');
    expect(reply.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
  });

  it('forwards Range (206, 416) and revalidation (304)', async () => {
    const part = await request(proxy.api.url, `/recordings/${STORED}.mp4`, {
      headers: { Range: 'bytes=100-1099' },
    });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-1099/${video.length}`);
    expect(part.body.equals(video.subarray(100, 1100))).toBe(true);
    const tail = await request(proxy.api.url, `/recordings/${STORED}.mp4`, {
      headers: { Range: 'bytes=-500' },
    });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(video.subarray(video.length - 500))).toBe(true);
    const outside = await request(proxy.api.url, `/recordings/${STORED}.mp4`, {
      headers: { Range: `bytes=${video.length + 10}-` },
    });
    expect(outside.status).toBe(416);
    expect(outside.headers['content-range']).toBe(`bytes */${video.length}`);
    const first = await request(proxy.api.url, `/recordings/${STORED}.mp4`, { method: 'HEAD' });
    expect(first.status).toBe(200);
    expect(first.headers['content-length']).toBe(String(video.length));
    expect(first.body.length).toBe(0);
    const again = await request(proxy.api.url, `/recordings/${STORED}.mp4`, {
      headers: { 'If-None-Match': String(first.headers.etag) },
    });
    expect(again.status).toBe(304);
  });

  it('serves the thumbnail from the bucket, and 404s a stored recording whose object is gone', async () => {
    const jpg = await request(proxy.api.url, `/recordings/${STORED}.jpg`);
    expect(jpg.status).toBe(200);
    expect(jpg.headers['content-type']).toBe('image/jpeg');
    expect(jpg.body.equals(thumbnail)).toBe(true);
    const gone = await request(proxy.api.url, `/recordings/${GONE}.mp4`);
    expect(gone.status).toBe(404);
    expect(gone.json().error.code).toBe('recording_missing');
  });

  it('S3_PLAYBACK=redirect: checks the signature first, then 302s to a presigned URL that expires with it', async () => {
    const now = Date.now();
    const unsigned = await request(redirect.api.url, `/recordings/${STORED}.mp4`);
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.location).toBeUndefined();
    const url = new URL(
      recordingUrl('http://x', STORED, { ext: 'mp4', signing: { secret: SECRET, ttlSeconds: 600 }, now }),
    );
    const reply = await request(redirect.api.url, `${url.pathname}${url.search}`);
    expect(reply.status).toBe(302);
    expect(reply.headers['cache-control']).toBe('no-store');
    const location = new URL(String(reply.headers.location));
    expect(`${location.origin}${location.pathname}`).toBe(
      `${s3.endpoint}/${BUCKET}/recordings/${STORED}.mp4`,
    );
    const signedUntil = Number(url.searchParams.get('expires'));
    const presignedFor = Number(location.searchParams.get('X-Amz-Expires'));
    expect(Math.abs(Math.floor(now / 1000) + presignedFor - signedUntil)).toBeLessThanOrEqual(2);
    const followed = await fetch(location);
    expect(followed.status).toBe(200);
    expect(Buffer.from(await followed.arrayBuffer()).equals(video)).toBe(true);
    const ranged = await fetch(location, { headers: { Range: 'bytes=0-99' } });
    expect(ranged.status).toBe(206);
  });

  it('answers the HLS playlist of a stored recording from the layout its upload kept; its byte ranges come from the object', async () => {
    const reply = await request(proxy.api.url, `/recordings/${STORED}.m3u8`);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toMatch(/^application\/vnd\.apple\.mpegurl/);
    const lines = reply.text.trim().split('\n');
    expect(lines).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(lines.at(-1)).toBe('#EXT-X-ENDLIST');
    const map = /^#EXT-X-MAP:URI="([^"]+)",BYTERANGE="(\d+)@0"$/.exec(
      lines.find((l) => l.startsWith('#EXT-X-MAP'))!,
    );
    expect(map![1]).toBe(`${STORED}.mp4`);
    const ranges = lines
      .filter((l) => l.startsWith('#EXT-X-BYTERANGE:'))
      .map((l) => l.slice('#EXT-X-BYTERANGE:'.length).split('@').map(Number) as [number, number]);
    expect(ranges.length).toBeGreaterThan(1);
    // The fragments tile the file from the end of the init section to ffmpeg's closing index (mfra).
    expect(ranges[0]![1]).toBe(Number(map![2]));
    const [length, offset] = ranges.at(-1)!;
    expect(video.subarray(offset + length + 4, offset + length + 8).toString('latin1')).toBe('mfra');
    const fragment = await request(proxy.api.url, `/recordings/${STORED}.mp4`, {
      headers: { Range: `bytes=${offset}-${offset + length - 1}` },
    });
    expect(fragment.status).toBe(206);
    expect(fragment.body.subarray(4, 8).toString('latin1')).toBe('moof');
    expect(fragment.body.equals(video.subarray(offset, offset + length))).toBe(true);
  });

  it('/storage, /metrics and /health report the backend, uploads and per-camera objects; a failing upload shows in /health', async () => {
    const storage = (await request(proxy.api.url, '/storage', { headers: bearer() })).json();
    expect(storage.backend).toEqual({
      kind: 's3',
      bucket: `s3://${BUCKET}/recordings/`,
      uploads: { pending: 0, failing: 0, failed: 0 },
      spool: proxy.config.RECORDINGS_DIR,
    });
    expect(storage.cameras).toEqual([
      expect.objectContaining({ device_sn: CAMERA, count: 2, bytes: 2 * video.length }),
    ]);
    const metrics = (await request(proxy.api.url, '/metrics', { headers: bearer() })).text;
    expect(metrics).toContain('eufy_relay_storage_backend{backend="s3"} 1');
    expect(metrics).toContain(
      `eufy_relay_recordings_camera_bytes{device_sn="${CAMERA}"} ${2 * video.length}`,
    );
    expect(metrics).toMatch(/eufy_relay_queue_jobs\{queue="uploads",state="waiting"\} 0/);

    const health = new StorageHealth(proxy.redis, proxy.config);
    await health.failed('TimeoutError: the S3 endpoint did not answer', Date.UTC(2026, 0, 1));
    const failing = (await request(proxy.api.url, '/health', { headers: bearer() })).json();
    expect(failing.checks.storage).toEqual({
      ok: false,
      error: 'TimeoutError: the S3 endpoint did not answer',
      backend: 's3',
      failing_since: '2026-01-01T00:00:00.000Z',
    });
    expect(failing.problems).toContain('storage_uploads_failing');
    expect(failing.details).toContain(
      'storage: uploads to S3 failing since 2026-01-01T00:00:00.000Z: TimeoutError: the S3 endpoint did not answer',
    );
    await health.succeeded();
    const healed = (await request(proxy.api.url, '/health', { headers: bearer() })).json();
    expect(healed.checks.storage).toEqual({ ok: true, backend: 's3', failing_since: null });
  });
});
