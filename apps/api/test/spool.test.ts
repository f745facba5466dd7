import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request as undiciRequest } from 'undici';
import { loadConfig } from '@eufy-relay/config';
import {
  SPOOL_CREDENTIAL_HEADER,
  parseRecordingId,
  recordingUrl,
  spoolCredential,
} from '@eufy-relay/contracts';
import { createLogger } from '@eufy-relay/logger';
import { Fmp4Indexer, type Fmp4Layout } from '@eufy-relay/media';
import { RecordingFiles, RecordingStore } from '@eufy-relay/recordings';
import { finishRecording } from '@eufy-relay/recordings/testing';
import { start as startRecorder, startSpoolServer, type RunningSpoolServer } from '@eufy-relay/recorder';
import { SpoolOwners } from '@eufy-relay/storage';
import { s3TestSettings, startS3TestServer, type S3TestServer } from '@eufy-relay/storage/testing';
import { waitFor } from '@eufy-relay/testing';
import { start as startApiRole } from '../src';
import { TOKEN, makeThumbnail, makeVideo, request, startApi, testEnv, type TestApi } from './helpers';

// The api and a recorder on "two hosts": each its own RECORDINGS_DIR, the recordings not yet in the
// bucket reach the api only through the recorder's spool endpoint.
const CAMERA = 'T8113P0223000002';
const BUCKET = 'spool-test';
const SPOOL_SECRET = 'spool-secret-0123456789abcdef';
const signing = { secret: 'url-signing-secret-0123456789', ttlSeconds: 3600 };

let s3: S3TestServer;
let t: TestApi;
let spool: RunningSpoolServer;
let spoolDir: string;
let store: RecordingStore;
let owners: SpoolOwners;
let video: Buffer;
let layout: Fmp4Layout;
let thumbnail: Buffer;
let seq = 0;

beforeAll(async () => {
  s3 = await startS3TestServer({ buckets: [BUCKET] });
  t = await startApi('spool', {
    ...s3TestSettings({ endpoint: s3.endpoint, bucket: BUCKET }),
    URL_SIGNING_SECRET: signing.secret,
    SPOOL_SECRET,
    SPOOL_TIMEOUT_MS: '300',
    LIVE_CHECK_INTERVAL_SECONDS: '0.1',
  });
  store = new RecordingStore(t.redis, t.config);
  owners = new SpoolOwners(t.redis, t.config);
  spoolDir = mkdtempSync(path.join(tmpdir(), 'eufy-relay-spool-'));
  const recorderConfig = loadConfig({
    env: {
      REDIS_PREFIX: t.config.REDIS_PREFIX,
      RECORDINGS_DIR: spoolDir,
      SPOOL_SECRET,
      SPOOL_HOST: '127.0.0.1',
      SPOOL_PORT: '0',
      HEARTBEAT_INTERVAL_SECONDS: '0.2',
      LIVE_CHECK_INTERVAL_SECONDS: '0.1',
    },
  });
  spool = await startSpoolServer({
    config: recorderConfig,
    store,
    files: new RecordingFiles(spoolDir),
    owners,
    logger: createLogger({ level: 'silent' }),
  });
  const sample = path.join(t.dir, 'sample.mp4');
  makeVideo(sample, 3);
  video = readFileSync(sample);
  layout = await new Fmp4Indexer(sample).refresh();
  makeThumbnail(path.join(t.dir, 'sample.jpg'));
  thumbnail = readFileSync(path.join(t.dir, 'sample.jpg'));
}, 60_000);

afterAll(async () => {
  await spool?.close();
  await t?.close();
  await s3?.stop();
  rmSync(spoolDir, { recursive: true, force: true });
});

/** A new recording in progress in the index; its files are the test's to write into the spool. */
async function newRecording(): Promise<{ id: string; file: string }> {
  seq++;
  const id = `${CAMERA}_20260302_10${String(seq).padStart(2, '0')}00`;
  await store.create({ device_sn: CAMERA, started_at: parseRecordingId(id)!.startedAt.getTime() });
  return { id, file: path.join(spoolDir, `${id}.mp4`) };
}

const finish = (id: string) => finishRecording(store, id, { seconds: 3, fields: { bytes: video.length } });

const url = (id: string, ext: 'mp4' | 'm3u8' | 'jpg') => recordingUrl('', id, { ext, signing });
/** The spool endpoint's own path for a recording, as the api asks it. */
const spoolPath = (id: string, ext = 'mp4') => `/spool/${id}.${ext}`;
const claimed = (id: string) => waitFor(`the spool's claim on ${id}`, async () => owners.owner(id));

describe('the api plays a recording that lives in another host’s spool', () => {
  it('answers 202 before the first fragment, then forwards Range, HLS and the thumbnail', async () => {
    const { id, file } = await newRecording();
    // No file anywhere yet: the api says 202, as on a local disk.
    expect((await request(t.api.url, url(id, 'mp4'))).status).toBe(202);
    writeFileSync(file, video.subarray(0, layout.initLength!));
    expect(await claimed(id)).toBe(spool.url);
    const early = await request(t.api.url, url(id, 'mp4'));
    expect(early.status).toBe(202);
    expect(early.headers['retry-after']).toBe('2');
    expect(early.json()).toMatchObject({ id, status: 'recording' });
    expect((await request(t.api.url, url(id, 'm3u8'))).status).toBe(202);

    const firstTwo = layout.fragments[1]!.offset + layout.fragments[1]!.length;
    appendFileSync(file, video.subarray(layout.initLength!, firstTwo));
    const part = await request(t.api.url, url(id, 'mp4'), { headers: { Range: 'bytes=100-1099' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-1099/${firstTwo}`);
    expect(part.headers['cache-control']).toBe('no-cache');
    expect(part.headers['x-recording-status']).toBe('recording');
    expect(part.body.equals(video.subarray(100, 1100))).toBe(true);

    const playlist = await request(t.api.url, url(id, 'm3u8'));
    expect(playlist.status).toBe(200);
    expect(playlist.headers['content-type']).toMatch(/^application\/vnd\.apple\.mpegurl/);
    expect(playlist.text).toContain('#EXT-X-PLAYLIST-TYPE:EVENT');
    // The fragments' URI carries the public URL's signature, not the spool's credential.
    const signedQuery = url(id, 'mp4').split('?')[1]!;
    expect(playlist.text).toContain(
      `#EXT-X-MAP:URI="${id}.mp4?${signedQuery}",BYTERANGE="${layout.initLength}@0"`,
    );
    expect(playlist.text.match(/#EXT-X-BYTERANGE:/g)).toHaveLength(2);

    writeFileSync(path.join(spoolDir, `${id}.jpg`), thumbnail);
    const jpg = await request(t.api.url, url(id, 'jpg'));
    expect(jpg.status).toBe(200);
    expect(jpg.body.equals(thumbnail)).toBe(true);
    await finish(id);
  });

  it('follows the growing file live through the proxy, to its last byte once finished', async () => {
    const { id, file } = await newRecording();
    const firstEnd = layout.fragments[0]!.offset + layout.fragments[0]!.length;
    writeFileSync(file, video.subarray(0, firstEnd));
    await claimed(id);
    const followed = await undiciRequest(`${t.api.url}${url(id, 'mp4')}`);
    expect(followed.statusCode).toBe(200);
    expect(followed.headers['transfer-encoding']).toBe('chunked');
    expect(followed.headers['cache-control']).toBe('no-store');
    const chunks: Buffer[] = [];
    const body = (async () => {
      for await (const c of followed.body) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    })();
    const received = () => chunks.reduce((n, c) => n + c.length, 0);
    await waitFor('the first fragment', () => received() >= firstEnd);
    // The rest arrives as it is written, one fragment at a time.
    for (const fragment of layout.fragments.slice(1)) {
      appendFileSync(file, video.subarray(fragment.offset, fragment.offset + fragment.length));
      await waitFor('the next fragment', () => received() >= fragment.offset + fragment.length);
    }
    appendFileSync(file, video.subarray(received()));
    await finish(id);
    expect((await body).equals(video)).toBe(true);

    // Finished and waiting for its upload: an ordinary, cacheable file, still from the spool.
    const after = await request(t.api.url, url(id, 'mp4'));
    expect(after.status).toBe(200);
    expect(after.headers['content-length']).toBe(String(video.length));
    expect(after.headers['cache-control']).toMatch(/^private, max-age=\d+, immutable$/);
    expect(after.body.equals(video)).toBe(true);
  });

  it('cancels the read from the recorder when the client leaves', async () => {
    const { id, file } = await newRecording();
    writeFileSync(file, video.subarray(0, layout.fragments[0]!.offset + layout.fragments[0]!.length));
    await claimed(id);
    const followed = await undiciRequest(`${t.api.url}${url(id, 'mp4')}`);
    expect(followed.statusCode).toBe(200);
    await waitFor('the recorder serving one live follower', () => spool.followers === 1);
    followed.body.destroy();
    await waitFor('the recorder’s follower gone', () => spool.followers === 0, { timeoutMs: 5000 });
    await finish(id);
  });
});

describe('the spool endpoint answers the api only', () => {
  it('refuses a missing, wrong or expired credential with the same 403 whether or not the recording exists', async () => {
    const { id, file } = await newRecording();
    writeFileSync(file, video);
    const unknown = `${CAMERA}_20200101_000000`;
    for (const target of [id, unknown]) {
      const cases: [string, Record<string, string>][] = [
        ['missing', {}],
        ['invalid', { [SPOOL_CREDENTIAL_HEADER]: spoolCredential(target, 'another-secret-0123456789') }],
        // A credential for another recording does not open this one.
        [
          'invalid',
          { [SPOOL_CREDENTIAL_HEADER]: spoolCredential(id === target ? unknown : id, SPOOL_SECRET) },
        ],
        [
          'expired',
          { [SPOOL_CREDENTIAL_HEADER]: spoolCredential(target, SPOOL_SECRET, Date.now() - 120_000) },
        ],
      ];
      for (const [verdict, headers] of cases) {
        const r = await request(spool.url, spoolPath(target), { headers });
        expect({ target, verdict, status: r.status }).toEqual({ target, verdict, status: 403 });
        expect(r.json()).toEqual({
          error: {
            status: 403,
            code: `spool_credential_${verdict}`,
            message: 'this endpoint answers the api only',
          },
        });
      }
    }
    // A public URL's signature (same id, a valid one) is no spool credential.
    const publicQuery = url(id, 'mp4').split('?')[1]!;
    const [expires, sig] = [...new URLSearchParams(publicQuery).values()];
    const asPublic = await request(spool.url, `${spoolPath(id)}?${publicQuery}`, {
      headers: { [SPOOL_CREDENTIAL_HEADER]: `${expires}.${sig}` },
    });
    expect(asPublic.status).toBe(403);
    const ok = await request(spool.url, spoolPath(id), {
      headers: { [SPOOL_CREDENTIAL_HEADER]: spoolCredential(id, SPOOL_SECRET), Range: 'bytes=0-9' },
    });
    expect(ok.status).toBe(206);
    await finish(id);
  });
});

describe('a recorder that cannot be reached', () => {
  let silent: Server;
  const held = new Set<Socket>();
  beforeAll(async () => {
    // Accepts connections and never answers: a hung recorder.
    silent = createServer((socket) => held.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  async function ownedBy(owner: string, state: 'recording' | 'completed'): Promise<string> {
    const { id } = await newRecording();
    if (state === 'completed') await finish(id);
    await t.redis.set(`${t.config.REDIS_PREFIX}:spool:${id}`, owner, 'PX', 60_000);
    return id;
  }

  it.each([
    ['gone (connection refused)', () => 'http://127.0.0.1:1'],
    [
      'hung (no answer within SPOOL_TIMEOUT_MS)',
      () => `http://127.0.0.1:${(silent.address() as { port: number }).port}`,
    ],
  ])('answers 503 with Retry-After at once when the recorder is %s', async (_what, owner) => {
    for (const state of ['recording', 'completed'] as const) {
      const id = await ownedBy(owner(), state);
      const started = Date.now();
      const r = await request(t.api.url, url(id, 'mp4'));
      expect({ state, status: r.status }).toEqual({ state, status: 503 });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(r.headers['retry-after']).toBe('2');
      expect(r.json().error.code).toBe('recording_unreachable');
      // The internal address stays internal.
      expect(r.text).not.toContain('127.0.0.1');
    }
  });

  it('says 503 for a finished recording no recorder holds, and 202 for one in progress', async () => {
    const { id } = await newRecording();
    expect((await request(t.api.url, url(id, 'mp4'))).status).toBe(202);
    await finish(id);
    const r = await request(t.api.url, url(id, 'mp4'));
    expect(r.status).toBe(503);
    expect(r.json().error.message).toContain('no recorder holds it');
  });
});

describe('NODE_ENV=production with STORAGE_BACKEND=s3', () => {
  const env = () => ({
    ...testEnv('spool-prod', tmpdir()),
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    API_TOKEN: TOKEN,
    URL_SIGNING_SECRET: signing.secret,
    STORAGE_BACKEND: 's3',
    S3_BUCKET: BUCKET,
  });

  it('the api refuses to start without SPOOL_SECRET, saying why', async () => {
    await expect(startApiRole(loadConfig({ env: env() }), { port: 0 })).rejects.toThrow(
      "SPOOL_SECRET is not set: under NODE_ENV=production the api does not start without it (it signs the api's requests to the recorders' spool endpoints)",
    );
  });

  it('a recorder refuses to start without SPOOL_SECRET, saying why', async () => {
    await expect(startRecorder(loadConfig({ env: env() }))).rejects.toThrow(
      'SPOOL_SECRET is not set: under NODE_ENV=production the recorder does not start without it (its spool endpoint, through which the api plays recordings in progress, must be signed)',
    );
  });
});
